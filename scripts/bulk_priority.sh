#!/usr/bin/env bash
# Single requests go first (issue 11): the release server on a fresh demo store,
# a bulk Reset Password job over every customer queuing and sending, and in the
# middle of it one storefront forgot-password request. Reports
#   - the sign-in page's latency (wrk: p50/p99, req/s) before the job and while
#     it runs, at the same fixed load;
#   - how long after its 2xx answer the storefront reset's mail reached the
#     SMTP sink (target: within 5 s);
#   - how long the job took to queue every mail, and how many job mails the
#     relay got meanwhile (BULK_MAIL_PER_MINUTE, default 300).
#
#   scripts/bulk_priority.sh                                  # SQLite, 100,000 customers
#   scripts/bulk_priority.sh --store postgres --customers 20000
#
# Options: --store sqlite|postgres (default sqlite), --customers N (100000),
# --connections C (wrk connections, default 8), --seconds S (each wrk run, 10),
# --pg-url URL (server for the database bulk_priority, dropped and recreated),
# --bin PATH (default target/release/shop-accounts, built when missing),
# --work DIR (default target/bulk-priority). Needs wrk, python3, curl, sqlite3/psql.
# Loopback only.
set -euo pipefail

STORE=sqlite
CUSTOMERS=100000
CONNECTIONS=8
SECONDS_EACH=10
PG_URL=postgres://postgres@127.0.0.1:5432/postgres
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/target/release/shop-accounts
WORK=$ROOT/target/bulk-priority
while [ $# -gt 0 ]; do
  case $1 in
    --store) STORE=$2; shift 2 ;;
    --customers) CUSTOMERS=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --seconds) SECONDS_EACH=$2; shift 2 ;;
    --pg-url) PG_URL=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

say() { printf '== %s\n' "$*" >&2; }
command -v wrk >/dev/null || { say "installing wrk (Debian package)"; apt-get install -y -qq wrk >/dev/null; }
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release --bin shop-accounts)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { python3 -c 'import time; print(f"{time.time():.3f}")'; }
PORT=$(free_port)
SMTP_PORT=$(free_port)
BASE=http://127.0.0.1:$PORT
rm -rf "$WORK"; mkdir -p "$WORK"
MAILLOG=$WORK/mail.tsv
: >"$MAILLOG"

case $STORE in
  sqlite)
    export DATABASE_URL=sqlite://$WORK/shop.db
    sql() { sqlite3 "$WORK/shop.db" "$1"; } ;;
  postgres)
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS bulk_priority WITH (FORCE)" -c "CREATE DATABASE bulk_priority" >/dev/null
    export DATABASE_URL=${PG_URL%/*}/bulk_priority
    sql() { psql -qAt "$DATABASE_URL" -c "$1"; } ;;
  *) echo "--store is sqlite or postgres" >&2; exit 2 ;;
esac
export LISTEN=127.0.0.1:$PORT BASE_URL=$BASE SMTP_URL=smtp://127.0.0.1:$SMTP_PORT
export METRICS_LISTEN= TRUSTED_PROXIES=127.0.0.1/32 RUST_LOG=warn
export SECRET_KEY=bulk-priority-secret-key-of-32-chars-at-least

SINK_PID=
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  [ "$STORE" = postgres ] && psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS bulk_priority WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

say "$STORE: demo-data --customers $CUSTOMERS"
"$BIN" migrate >/dev/null
"$BIN" demo-data --customers "$CUSTOMERS" >"$WORK/demo.log" 2>&1
"$BIN" config set protection_type none >/dev/null
# The storefront request is for the customer the job reaches last.
sql "SELECT email FROM customers ORDER BY id DESC LIMIT 1" >"$WORK/single.txt"

python3 "$ROOT/scripts/faults/smtp_sink.py" "$SMTP_PORT" "$MAILLOG" &
SINK_PID=$!
"$BIN" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
until curl -fs -o /dev/null "$BASE/readyz"; do
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done

signin_latency() {
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency "$BASE/customer/account/login" >"$WORK/wrk-$1.txt"
  local rps p50 p99
  rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/wrk-$1.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk-$1.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk-$1.txt")
  printf '  sign-in page %-12s %10s req/s   p50 %-8s p99 %s\n' "$1:" "$rps" "$p50" "$p99"
}

say "sign-in page alone ($CONNECTIONS connections, ${SECONDS_EACH}s; load $(cut -d' ' -f1 /proc/loadavg))"
signin_latency before

say "bulk Reset Password of every customer"
JOB_FROM=$(now)
"$BIN" customers bulk --action reset_password --yes >"$WORK/bulk.txt" 2>&1
JOB_ID=$(sql "SELECT max(id) FROM jobs")
until [ "$(sql "SELECT state FROM jobs WHERE id = $JOB_ID")" = running ]; do sleep 0.2; done

signin_latency during &
WRK_PID=$!
sleep $((SECONDS_EACH / 2))
python3 "$ROOT/scripts/faults/burst.py" "$BASE" "$WORK/single.txt" 1 1 "$WORK/single-answer.tsv"
ANSWERED=$(cut -f1 "$WORK/single-answer.tsv")
STATUS=$(cut -f3 "$WORK/single-answer.tsv")
EMAIL=$(cat "$WORK/single.txt")
DELIVERED=
for _ in $(seq 1 300); do
  DELIVERED=$(awk -F'\t' -v e="$EMAIL" 'index($3, e) {print $1; exit}' "$MAILLOG")
  [ -n "$DELIVERED" ] && break
  sleep 0.1
done
STATE_AT_SINGLE=$(sql "SELECT state || ' ' || done || '/' || total FROM jobs WHERE id = $JOB_ID")
wait "$WRK_PID"

until [ "$(sql "SELECT state FROM jobs WHERE id = $JOB_ID")" = done ]; do sleep 0.5; done
JOB_TO=$(now)
JOB_MAILS=$(grep -vc "$EMAIL" "$MAILLOG" || true)

say "results ($STORE, $CUSTOMERS customers; load $(cut -d' ' -f1-3 /proc/loadavg))"
if [ -n "$DELIVERED" ]; then
  python3 -c "print(f'  storefront reset: answered {\"$STATUS\"}, mail delivered {$DELIVERED - $ANSWERED:.2f} s after the answer (job at $STATE_AT_SINGLE)')"
else
  echo "  storefront reset: answered $STATUS, mail NOT delivered within 30 s (job at $STATE_AT_SINGLE)"
fi
python3 -c "print(f'  job: every mail queued {$JOB_TO - $JOB_FROM:.1f} s after the job was started; {$JOB_MAILS} job mails sent meanwhile')"
[ -n "$DELIVERED" ]
