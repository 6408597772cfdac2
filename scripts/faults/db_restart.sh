#!/usr/bin/env bash
# The database restarted under load (issue 14), from outside: the server binary
# on PostgreSQL, a mixed load (pages, forgot-password POSTs for real customers,
# REST tokens and `me`, the admin grid), and the PostgreSQL cluster stopped and
# started again in the middle of it. Reports status counts per request kind,
# requests slower than 2 s, when /readyz turned 503 and 200 again, and mails
# delivered (to a small SMTP sink in the script) against resets accepted.
#
#   scripts/faults/db_restart.sh                 # release build, 10 s outage
#   scripts/faults/db_restart.sh --debug --outage 8
#
# WARNING: this stops the machine's PostgreSQL cluster (every database on it)
# for --outage seconds. Other test runs on the same server will fail meanwhile.
#
# Options (all optional):
#   --outage S      seconds the cluster stays down (default 10, at most 10)
#   --before S      seconds of load before the stop (default 10)
#   --after S       seconds of load after the start (default 15)
#   --workers N     concurrent load workers (default 8)
#   --customers N   demo customers (default 500)
#   --cluster V/N   the cluster to restart (default 15/main)
#   --cut           do not restart the cluster: close this test database only
#                   (ALLOW_CONNECTIONS false and pg_terminate_backend, then
#                   true again), harmless to other users of the server
#   --pg-url URL    server to create the test database on
#                   (default postgres://postgres@127.0.0.1:5432/postgres)
#   --debug         use target/debug/shop-accounts (no release build)
#   --work DIR      scratch folder (default target/faults)
#
# Needs: cargo, curl, python3, psql, pg_ctlcluster (run as root or postgres).
set -euo pipefail

OUTAGE=10
BEFORE=10
AFTER=15
WORKERS=8
CUSTOMERS=500
CLUSTER=15/main
PG_URL=postgres://postgres@127.0.0.1:5432/postgres
PROFILE=release
MODE=restart
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$ROOT/target/faults
while [ $# -gt 0 ]; do
  case $1 in
    --outage) OUTAGE=$2; shift 2 ;;
    --before) BEFORE=$2; shift 2 ;;
    --after) AFTER=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --customers) CUSTOMERS=$2; shift 2 ;;
    --cluster) CLUSTER=$2; shift 2 ;;
    --pg-url) PG_URL=$2; shift 2 ;;
    --debug) PROFILE=debug; shift ;;
    --cut) MODE=cut; shift ;;
    --work) WORK=$2; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$OUTAGE" -le 10 ] || { echo "--outage is at most 10 s (the server is shared)" >&2; exit 2; }

BIN=$ROOT/target/$PROFILE/shop-accounts
PORT=3911
SMTP_PORT=3913
BASE=http://127.0.0.1:$PORT
DB=shop_faults_db_restart
DATABASE_URL=${PG_URL%/*}/$DB
ADMIN_EMAIL=faults-admin@example.com
ADMIN_PASSWORD=faults-admin-password-1
mkdir -p "$WORK"
LOG=$WORK/db_restart-server.log
: >"$LOG"
say() { printf '== %s\n' "$*" >&2; }

if [ "$PROFILE" = release ]; then
  say "building the release binary"
  (cd "$ROOT" && cargo build --release --bin shop-accounts)
fi
[ -x "$BIN" ] || { echo "no $BIN; build it first" >&2; exit 2; }

SERVER_PID= SINK_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null
  # Whatever happened, the cluster must be running again.
  pg_ctlcluster ${CLUSTER/\// } status >/dev/null 2>&1 || pg_ctlcluster ${CLUSTER/\// } start || true
  return 0
}
trap cleanup EXIT

say "a fresh database $DB with $CUSTOMERS demo customers"
psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
export DATABASE_URL
"$BIN" migrate >/dev/null
"$BIN" demo-data --customers "$CUSTOMERS" >/dev/null
printf '%s\n' "$ADMIN_PASSWORD" | "$BIN" admin create --email "$ADMIN_EMAIL" --name "Faults Admin" --password-stdin >/dev/null
# No reset limits: every accepted request for a known address queues one mail.
# The load's administrator signs in with a password alone.
psql -qAt "$DATABASE_URL" -c "INSERT INTO settings (name, value) VALUES ('options.protection_type', 'none'), ('options.min_minutes_between_requests', '0'), ('options.max_requests_per_hour', '1000'), ('options.admin_two_factor', 'optional') ON CONFLICT (name) DO UPDATE SET value = excluded.value"
psql -qAt "$DATABASE_URL" -c "SELECT email_key FROM customers WHERE locked_until IS NULL ORDER BY id" >"$WORK/emails.txt"

say "an SMTP sink on 127.0.0.1:$SMTP_PORT"
python3 - "$SMTP_PORT" "$WORK/received.txt" <<'EOF' &
# Keeps one line per message: its Message-ID.
import socketserver, sys
port, out = int(sys.argv[1]), sys.argv[2]
open(out, "w").close()
class Session(socketserver.StreamRequestHandler):
    def handle(self):
        self.wfile.write(b"220 sink\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"EHLO" or verb == b"HELO":
                self.wfile.write(b"250 sink\r\n")
            elif verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                message_id = "-"
                while (body := self.rfile.readline()) not in (b".\r\n", b""):
                    if body.lower().startswith(b"message-id:"):
                        message_id = body.split(b":", 1)[1].strip().decode()
                with open(out, "a") as f:
                    f.write(message_id + "\n")
                self.wfile.write(b"250 kept\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
Server(("127.0.0.1", port), Session).serve_forever()
EOF
SINK_PID=$!

say "starting $BIN on $BASE"
LISTEN=127.0.0.1:$PORT METRICS_LISTEN= BASE_URL=$BASE SMTP_URL=smtp://127.0.0.1:$SMTP_PORT \
  SECRET_KEY=faults-secret-key-faults-secret-key-0123 RUST_LOG=${FAULTS_LOG:-warn} \
  "$BIN" serve >>"$LOG" 2>&1 &
SERVER_PID=$!
until curl -sf -o /dev/null "$BASE/readyz"; do
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "server died; see $LOG" >&2; exit 1; }
  sleep 0.05
done

if [ "$MODE" = restart ]; then
  say "load: ${BEFORE}s, then PostgreSQL $CLUSTER down for ${OUTAGE}s, then ${AFTER}s; $WORKERS workers"
else
  say "load: ${BEFORE}s, then database $DB closed for ${OUTAGE}s, then ${AFTER}s; $WORKERS workers"
fi
python3 - "$BASE" "$WORK" "$WORKERS" "$BEFORE" "$OUTAGE" "$AFTER" "$CLUSTER" "$ADMIN_EMAIL" "$ADMIN_PASSWORD" "$MODE" "$PG_URL" "$DB" <<'EOF'
import collections, http.cookiejar, json, os, random, re, subprocess, sys, threading, time
import urllib.error, urllib.parse, urllib.request

base, work, workers, before, outage, after, cluster, admin_email, admin_password, mode, pg_url, db = sys.argv[1:]
workers, before, outage, after = int(workers), float(before), float(outage), float(after)
version, name = cluster.split("/")
emails = open(os.path.join(work, "emails.txt")).read().split()
DEMO_PASSWORD = "demo-password-2024"

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None

def browser():
    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())

def call(opener, path, data=None, headers=None, timeout=30):
    """(status, body, seconds, location)."""
    request = urllib.request.Request(base + path, data=data, headers=headers or {})
    started = time.monotonic()
    try:
        with opener.open(request, timeout=timeout) as response:
            body = response.read()
            return response.status, body, time.monotonic() - started, response.headers.get("Location", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read(), time.monotonic() - started, e.headers.get("Location", "")
    except Exception as e:
        return f"error:{type(e).__name__}", b"", time.monotonic() - started, ""

def form_key(opener, path):
    status, body, _, _ = call(opener, path)
    match = re.search(rb'name="form_key" value="([^"]+)"', body)
    return match.group(1).decode() if match else ""

admin = browser()
key = form_key(admin, "/admin/login")
call(admin, "/admin/login", urllib.parse.urlencode({"form_key": key, "email": admin_email, "password": admin_password}).encode())
token = json.loads(call(browser(), "/rest/V1/integration/customer/token",
    json.dumps({"username": emails[0], "password": DEMO_PASSWORD}).encode(),
    {"Content-Type": "application/json"})[1])

results = []  # (kind, status, seconds, started)
accepted = []  # addresses whose reset was accepted
lock = threading.Lock()
stop = threading.Event()
t0 = time.monotonic()

def worker(n):
    visitor = browser()
    key = form_key(visitor, "/customer/account/forgotpassword")
    i = n
    while not stop.is_set():
        i += workers
        kind = random.choice(["page", "forgot", "forgot", "token", "me", "grid"])
        started = time.monotonic() - t0
        if kind == "page":
            status, _, took, _ = call(visitor, "/customer/account/login")
        elif kind == "forgot":
            email = emails[i % len(emails)]
            status, _, took, location = call(visitor, "/customer/account/forgotpassword",
                urllib.parse.urlencode({"form_key": key, "email": email}).encode())
            if status == 303 and location.endswith("/customer/account/login"):
                with lock:
                    accepted.append(email)
        elif kind == "token":
            status, _, took, _ = call(browser(), "/rest/V1/integration/customer/token",
                json.dumps({"username": emails[(i * 7) % len(emails)], "password": DEMO_PASSWORD}).encode(),
                {"Content-Type": "application/json"})
        elif kind == "me":
            status, _, took, _ = call(browser(), "/rest/V1/customers/me", headers={"Authorization": f"Bearer {token}"})
        else:
            status, _, took, _ = call(admin, "/admin/customers")
        with lock:
            results.append((kind, status, took, started))

ready_log = []  # (t, status)
def watch_ready():
    plain = urllib.request.build_opener()
    while not stop.is_set():
        status, _, _, _ = call(plain, "/readyz", timeout=10)
        ready_log.append((time.monotonic() - t0, status))
        time.sleep(0.1)

threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
threads.append(threading.Thread(target=watch_ready))
for t in threads:
    t.start()
time.sleep(before)
stopped_at = time.monotonic() - t0
def psql(sql):
    subprocess.run(["psql", "-qAt", pg_url, "-c", sql], check=True, stdout=subprocess.DEVNULL)
if mode == "restart":
    subprocess.run(["pg_ctlcluster", version, name, "stop", "-m", "fast"], check=True)
    time.sleep(outage)
    subprocess.run(["pg_ctlcluster", version, name, "start"], check=True)
else:
    psql(f"ALTER DATABASE {db} ALLOW_CONNECTIONS false")
    psql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'")
    time.sleep(outage)
    psql(f"ALTER DATABASE {db} ALLOW_CONNECTIONS true")
started_at = time.monotonic() - t0
time.sleep(after)
stop.set()
for t in threads:
    t.join()

not_ready = next((t for t, s in ready_log if t >= stopped_at and s == 503), None)
ready_again = next((t for t, s in ready_log if t >= started_at and s == 200), None)
def phase(started):
    return "before" if started < stopped_at else "outage" if started < started_at else "after"
with open(os.path.join(work, "db_restart-requests.tsv"), "w") as f:
    for kind, status, took, started in results:
        f.write(f"{started:.3f}\t{phase(started)}\t{kind}\t{status}\t{took:.3f}\n")
counts = collections.Counter((phase(t), kind, status) for kind, status, _, t in results)
slow = collections.Counter(f"{phase(t)} {kind}" for kind, _, took, t in results if took > 2.0)
report = {
    "mode": mode,
    "requests": len(results),
    "by_phase_kind_status": {f"{p} {k} {s}": n for (p, k, s), n in sorted(counts.items(), key=str)},
    "over_2s": sum(slow.values()),
    "over_2s_by_phase_and_kind": dict(sorted(slow.items())),
    "slowest_s": round(max(r[2] for r in results), 2),
    "slowest_during_outage_s": round(max([r[2] for r in results if stopped_at <= r[3] <= started_at] or [0]), 2),
    "server_errors_500": sum(n for (p, k, s), n in counts.items() if s == 500),
    "outage_s": round(started_at - stopped_at, 1),
    "readyz_503_after_stop_s": None if not_ready is None else round(not_ready - stopped_at, 2),
    "readyz_200_after_start_s": None if ready_again is None else round(ready_again - started_at, 2),
    "resets_accepted": len(accepted),
}
json.dump(report, open(os.path.join(work, "db_restart-load.json"), "w"), indent=1)
EOF

say "waiting up to 60 s for the outbox to drain"
for _ in $(seq 1 60); do
  pending=$(psql -qAt "$DATABASE_URL" -c "SELECT COUNT(*) FROM mail_outbox WHERE status <> 'sent'")
  [ "$pending" = 0 ] && break
  sleep 1
done
python3 - "$WORK" "$pending" "$(grep -c panicked "$LOG" || true)" <<'EOF'
import collections, json, os, sys
work, pending, panics = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
report = json.load(open(os.path.join(work, "db_restart-load.json")))
ids = open(os.path.join(work, "received.txt")).read().split()
report["mails_delivered"] = len(ids)
report["mails_delivered_twice"] = sum(n - 1 for n in collections.Counter(ids).values() if n > 1)
report["mails_not_sent_after_60s"] = pending
report["server_panics"] = panics
report["load_average"] = open("/proc/loadavg").read().split()[:3]
print(json.dumps(report, indent=1))
EOF
psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
