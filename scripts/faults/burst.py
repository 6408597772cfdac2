#!/usr/bin/env python3
"""Fires one forgot-password POST per address, RATE a second at most and
CONCURRENCY at a time (so the burst spans the kill and the restart), each from
its own client address (X-Forwarded-For) with its own form key, and records
<unix time> TAB <address> TAB <HTTP status or 'error'> per request.

    python3 burst.py BASE EMAILS_FILE CONCURRENCY RATE OUT
"""
import http.cookiejar
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def client(base, ip):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), NoRedirect
    )
    opener.addheaders = [("X-Forwarded-For", ip)]
    page = opener.open(base + "/customer/account/forgotpassword", timeout=10).read()
    key = re.search(rb'name="form_key" value="([^"]*)"', page).group(1).decode()
    return opener, key


def main():
    base, emails_file, concurrency, rate, out = sys.argv[1:6]
    rate = float(rate)
    start = time.time()
    emails = [e.strip() for e in open(emails_file) if e.strip()]
    lock = threading.Lock()
    results = []
    queue = list(enumerate(emails))

    def work():
        while True:
            with lock:
                if not queue:
                    return
                i, email = queue.pop(0)
            time.sleep(max(0.0, start + i / rate - time.time()))
            ip = f"10.77.{i // 250}.{i % 250 + 1}"
            status = "error"
            try:
                opener, key = client(base, ip)
                body = urllib.parse.urlencode({"email": email, "form_key": key}).encode()
                try:
                    status = opener.open(
                        base + "/customer/account/forgotpassword", body, timeout=10
                    ).status
                except urllib.error.HTTPError as e:
                    status = e.code
            except Exception as e:
                reason = getattr(e, "reason", e)
                status = f"error:{type(e).__name__}:{type(reason).__name__}"
            with lock:
                results.append(f"{time.time():.3f}\t{email}\t{status}")

    threads = [threading.Thread(target=work) for _ in range(int(concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        f.write("\n".join(results) + "\n")


if __name__ == "__main__":
    main()
