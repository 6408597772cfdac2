#!/usr/bin/env python3
"""Probes a URL at a steady, modest rate (default 50 requests/s on one kept-alive
connection) for a number of seconds and writes wrk-like "Requests/sec", "50%"
and "99%" lines, so the latency of a cheap endpoint can be measured beside a
load without the probe itself becoming a load (wrk on one connection runs
flat out and takes a core).

    healthz_probe.py URL SECONDS [RATE]
"""
import http.client
import sys
import time
import urllib.parse

url, seconds = sys.argv[1], float(sys.argv[2])
rate = float(sys.argv[3]) if len(sys.argv) > 3 else 50.0
parts = urllib.parse.urlsplit(url)
conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
samples, errors = [], 0
start = time.monotonic()
next_at = start
while time.monotonic() - start < seconds:
    sent = time.monotonic()
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            errors += 1
        samples.append(time.monotonic() - sent)
    except (OSError, http.client.HTTPException):
        errors += 1
        conn.close()
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    next_at += 1.0 / rate
    pause = next_at - time.monotonic()
    if pause > 0:
        time.sleep(pause)
elapsed = time.monotonic() - start
samples.sort()
pick = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))] * 1000 if samples else 0.0
print(f"Requests/sec: {len(samples) / elapsed:.2f}")
print(f"     50%    {pick(0.50):.2f}ms")
print(f"     99%    {pick(0.99):.2f}ms")
print(f"errors: {errors}")
