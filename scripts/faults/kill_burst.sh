#!/usr/bin/env bash
# kill -9 of the release server during a burst of forgot-password requests, and
# again during a bulk Reset Password job; then a restart. Reports how many
# requests were answered, how many mails arrived, repeats (by Message-ID), mail
# missing for an answered request, and how long after the restart mail arrived.
#
#   scripts/faults/kill_burst.sh                      # SQLite, in a scratch file
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432/sa_kill_burst scripts/faults/kill_burst.sh
#
# A PostgreSQL database named in DATABASE_URL must be called sa_kill*: the script
# drops and recreates it. Options (all optional, bounded defaults):
#   --requests N      forgot-password POSTs in the burst, one per customer (default 200)
#   --concurrency C   parallel clients (default 8)
#   --rate R          POSTs a second at most (default 40: 200 take 5 s)
#   --kill-after S    seconds into the burst for the kill -9 (default 1.5)
#   --bulk-kill S     seconds into the bulk job for the second kill -9 (default 1)
#   --wait S          how long to wait for the mail after each restart (default 60)
#   --work DIR        scratch folder (default target/faults)
# Needs: target/release/shop-accounts (built when missing), python3, curl,
# sqlite3 or psql. Loopback only.
set -euo pipefail

REQUESTS=200
CONCURRENCY=8
RATE=40
KILL_AFTER=1.5
BULK_KILL=1
WAIT=60
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$ROOT/target/faults
while [ $# -gt 0 ]; do
  case $1 in
    --requests) REQUESTS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --kill-after) KILL_AFTER=$2; shift 2 ;;
    --bulk-kill) BULK_KILL=$2; shift 2 ;;
    --wait) WAIT=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

BIN=${BIN:-$ROOT/target/release/shop-accounts}
HERE=$ROOT/scripts/faults
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=${PORT:-$(free_port)}
SMTP_PORT=${SMTP_PORT:-$(free_port)}
BASE=http://127.0.0.1:$PORT
mkdir -p "$WORK"
RUN=$WORK/kill-$$
mkdir -p "$RUN"
MAILLOG=$RUN/mail.tsv
: >"$MAILLOG"

if [ ! -x "$BIN" ]; then
  echo "building the release binary…" >&2
  (cd "$ROOT" && cargo build --release --quiet)
fi

export DATABASE_URL=${DATABASE_URL:-sqlite://$RUN/shop.db}
case $DATABASE_URL in
  postgres://*|postgresql://*)
    STORE=postgres
    DBNAME=${DATABASE_URL##*/}; DBNAME=${DBNAME%%\?*}
    case $DBNAME in sa_kill*) ;; *) echo "the PostgreSQL database must be named sa_kill*; it is dropped and recreated" >&2; exit 2 ;; esac
    ADMIN_URL=${DATABASE_URL%/*}/postgres
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" -c "CREATE DATABASE $DBNAME" >/dev/null
    sql() { psql -qAt "$DATABASE_URL" -c "$1"; }
    ;;
  *)
    STORE=sqlite
    DBFILE=${DATABASE_URL#sqlite://}; DBFILE=${DBFILE%%\?*}
    sql() { sqlite3 "$DBFILE" "$1"; }
    ;;
esac
export LISTEN=127.0.0.1:$PORT BASE_URL=$BASE SMTP_URL=smtp://127.0.0.1:$SMTP_PORT
export METRICS_LISTEN= TRUSTED_PROXIES=127.0.0.1/32 RUST_LOG=warn
export SECRET_KEY=kill-burst-secret-key-of-at-least-32-chars
export BULK_MAIL_PER_MINUTE=1200 JOB_BATCH_SIZE=10

SINK_PID=
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

python3 "$HERE/smtp_sink.py" "$SMTP_PORT" "$MAILLOG" &
SINK_PID=$!

start_server() {
  "$BIN" serve >>"$RUN/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 200); do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server died; see $RUN/server.log" >&2; exit 1; }
    curl -fs "$BASE/readyz" >/dev/null 2>&1 && kill -0 "$SERVER_PID" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "server not ready; see $RUN/server.log" >&2
  exit 1
}
now() { python3 -c 'import time; print(f"{time.time():.3f}")'; }

"$BIN" migrate >/dev/null
"$BIN" demo-data --customers "$REQUESTS" >/dev/null 2>&1
"$BIN" config set protection_type none >/dev/null
sql "SELECT email FROM customers ORDER BY id" >"$RUN/emails.txt"
CUSTOMERS=$(wc -l <"$RUN/emails.txt")

echo "== $STORE: burst of $REQUESTS forgot-password POSTs, kill -9 after ${KILL_AFTER}s"
start_server
python3 "$HERE/burst.py" "$BASE" "$RUN/emails.txt" "$CONCURRENCY" "$RATE" "$RUN/answers.tsv" &
BURST_PID=$!
sleep "$KILL_AFTER"
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
KILLED_AT=$(now)
start_server
RESTARTED_AT=$(now)
wait "$BURST_PID"
python3 "$HERE/report.py" burst "$RUN/answers.tsv" "$MAILLOG" "$KILLED_AT" "$RESTARTED_AT" "$WAIT"

echo "== $STORE: bulk Reset Password of $CUSTOMERS customers, kill -9 after ${BULK_KILL}s"
BULK_FROM=$(now)
"$BIN" customers bulk --action reset_password --yes >"$RUN/bulk.txt" 2>&1
sleep "$BULK_KILL"
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
KILLED_AT=$(now)
echo "at the kill: job $(sql "SELECT state || ' ' || done || '/' || total FROM jobs ORDER BY id DESC LIMIT 1"), mail $(sql "SELECT status || '=' || COUNT(*) FROM mail_outbox GROUP BY status" | tr '\n' ' ')"
start_server
RESTARTED_AT=$(now)
DEADLINE=$(( $(date +%s) + WAIT ))
while [ "$(sql "SELECT state FROM jobs ORDER BY id DESC LIMIT 1")" != done ] && [ "$(date +%s)" -lt "$DEADLINE" ]; do sleep 0.5; done
echo "job: $(sql "SELECT state || ', done ' || done || ', skipped ' || skipped || ', failed ' || failed || ' of ' || total FROM jobs ORDER BY id DESC LIMIT 1")"
python3 "$HERE/report.py" bulk "$RUN/emails.txt" "$MAILLOG" "$KILLED_AT" "$RESTARTED_AT" "$WAIT" "$BULK_FROM"
echo "mail queue: $(sql "SELECT status || '=' || COUNT(*) FROM mail_outbox GROUP BY status" | tr '\n' ' ')"
echo "(load average: $(cut -d' ' -f1-3 /proc/loadavg); files in $RUN)"
