#!/usr/bin/env python3
"""Waits for the mail a fault run owes, then reports (see kill_burst.sh).

    report.py burst ANSWERS MAILLOG KILLED_AT RESTARTED_AT WAIT
    report.py bulk  EMAILS  MAILLOG KILLED_AT RESTARTED_AT WAIT BULK_FROM
"""
import collections
import sys
import time


def mails(log, since=0.0):
    rows = []
    for line in open(log):
        parts = line.rstrip("\n").split("\t")
        if len(parts) == 3 and float(parts[0]) >= since:
            rows.append((float(parts[0]), parts[1], parts[2]))
    return rows


def main():
    mode, source, log = sys.argv[1:4]
    killed, restarted, wait = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
    since = float(sys.argv[7]) if mode == "bulk" else 0.0
    if mode == "burst":
        answers = [l.rstrip("\n").split("\t") for l in open(source) if l.strip()]
        codes = collections.Counter(a[2] for a in answers)
        errors = collections.Counter(a[2] for a in answers if a[2].startswith("error"))
        owed = {a[1] for a in answers if a[2] in ("200", "302", "303")}
        print(f"requests: {len(answers)}; answered: {dict(codes)}")
    else:
        owed = {l.strip() for l in open(source) if l.strip()}
    deadline = time.time() + wait
    while True:
        got = mails(log, since)
        delivered_to = {m[2] for m in got}
        if owed <= delivered_to or time.time() > deadline:
            break
        time.sleep(0.5)
    ids = collections.Counter(m[1] for m in got)
    repeats = sum(n - 1 for n in ids.values())
    per_recipient = collections.Counter(m[2] for m in got)
    twice = sum(1 for r in owed if per_recipient[r] > 1)
    missing = owed - delivered_to
    after = [m[0] - restarted for m in got if m[0] >= restarted]
    print(
        f"mail owed: {len(owed)}; delivered: {len(ids)} distinct Message-IDs in {len(got)} messages; "
        f"repeats by Message-ID: {repeats}; recipients with more than one message: {twice}; "
        f"missing: {len(missing)}"
    )
    if after:
        print(
            f"after the restart: {len(after)} delivered, the last {max(after):.1f} s after it "
            f"(restart {restarted - killed:.1f} s after the kill)"
        )
    if missing:
        print("missing:", " ".join(sorted(missing)[:10]))


if __name__ == "__main__":
    main()
