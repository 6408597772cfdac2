#!/usr/bin/env python3
"""Floods a server on 127.0.0.1 for scripts/abuse_rss.sh (standard library only).

  abuse_flood.py PORT idle N SECONDS        N connections that never say a word
  abuse_flood.py PORT slowloris N SECONDS   N heads sent one header line a second
  abuse_flood.py PORT bodies N              N requests declaring 50 MB bodies

Prints one line: how many connected, and how each ended (closed by the server,
answered with a status, still open at the end).
"""
import asyncio
import collections
import sys


async def connect(port):
    try:
        return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
    except (OSError, asyncio.TimeoutError):
        return None


async def fate(reader, seconds):
    """'closed', 'status NNN' or 'open' after waiting `seconds` for the server."""
    try:
        data = await asyncio.wait_for(reader.read(64), seconds)
    except asyncio.TimeoutError:
        return "open"
    except OSError:
        return "closed"
    if data.startswith(b"HTTP/1.1 "):
        return "status " + data[9:12].decode()
    return "closed"


async def idle(port, seconds):
    conn = await connect(port)
    if conn is None:
        return "not connected"
    reader, writer = conn
    result = await fate(reader, seconds)
    writer.close()
    return result


async def slowloris(port, seconds):
    conn = await connect(port)
    if conn is None:
        return "not connected"
    reader, writer = conn

    async def drip():
        writer.write(b"GET / HTTP/1.1\r\nHost: flood\r\n")
        for i in range(10_000):
            await asyncio.sleep(1)
            writer.write(b"X-Drip-%d: %d\r\n" % (i, i))
            await writer.drain()

    dripping = asyncio.ensure_future(drip())
    result = await fate(reader, seconds)
    dripping.cancel()
    writer.close()
    return result


async def body(port):
    conn = await connect(port)
    if conn is None:
        return "not connected"
    reader, writer = conn
    writer.write(
        b"POST /rest/V1/integration/customer/token HTTP/1.1\r\nHost: flood\r\n"
        b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
    )
    try:
        for _ in range(8):
            writer.write(b"x" * 16384)
            await writer.drain()
    except OSError:
        pass
    result = await fate(reader, 30)
    writer.close()
    return result


async def main():
    port, mode, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 0
    if mode == "idle":
        jobs = [idle(port, seconds) for _ in range(n)]
    elif mode == "slowloris":
        jobs = [slowloris(port, seconds) for _ in range(n)]
    elif mode == "bodies":
        jobs = [body(port) for _ in range(n)]
    else:
        sys.exit(f"unknown mode {mode}")
    results = collections.Counter(await asyncio.gather(*jobs))
    print(f"{mode} x{n}: " + ", ".join(f"{k}: {v}" for k, v in sorted(results.items())))


asyncio.run(main())
