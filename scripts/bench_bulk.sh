#!/usr/bin/env bash
# Bulk job throughput (issue 11): Unlock, Force Sign In and Reset Password over
# every customer of a fresh demo store, on SQLite and PostgreSQL, with the
# release binary's `customers bulk --yes --wait` (the job runs in that process;
# no server, so the reset mail stays queued: the figure is the time to queue it).
#
#   scripts/bench_bulk.sh                                   # 100,000 customers, both stores
#   scripts/bench_bulk.sh --customers 20000 --stores sqlite --actions unlock
#
# Options (all optional):
#   --customers N   demo customers in each fresh store (default 100000)
#   --stores LIST   sqlite,postgres (default both)
#   --actions LIST  unlock,force_sign_in,reset_password (default all three, in
#                   that order, one job each over all customers)
#   --pg-url URL    PostgreSQL server for the bench database
#                   (default postgres://postgres@127.0.0.1:5432/postgres)
#   --pg-db NAME    the bench database's name on it (default bench_bulk; give
#                   your own when others may run the bench on the same server)
#   --work DIR      scratch folder (default target/bench-bulk; removed at the end
#                   unless --keep)
#   --keep          keep the stores and logs
#   --bin PATH      use this shop-accounts binary instead of building the
#                   release one (e.g. target/debug/shop-accounts, for a quick look)
#
# Prints one line per job (seconds from queued to done, customers done/skipped/
# failed) with the load average before and after, and appends them to
# $WORK/results.tsv. Needs: cargo, sqlite3, psql.
set -euo pipefail

CUSTOMERS=100000
STORES=sqlite,postgres
ACTIONS=unlock,force_sign_in,reset_password
PG_URL=postgres://postgres@127.0.0.1:5432/postgres
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/target/bench-bulk
KEEP=
BIN=
PG_DB=bench_bulk
while [ $# -gt 0 ]; do
  case $1 in
    --customers) CUSTOMERS=$2; shift 2 ;;
    --stores) STORES=$2; shift 2 ;;
    --actions) ACTIONS=$2; shift 2 ;;
    --pg-url) PG_URL=$2; shift 2 ;;
    --pg-db) PG_DB=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --bin) BIN=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
say() { printf '\n== %s\n' "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

for tool in sqlite3 psql; do
  command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 2; }
done
if [ -z "$BIN" ]; then
  say "building the release binary"
  (cd "$ROOT" && cargo build --release --bin shop-accounts)
  BIN=$ROOT/target/release/shop-accounts
fi

cleanup() {
  if [ -z "$KEEP" ]; then
    rm -rf "$WORK/sqlite"
    psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for STORE in ${STORES//,/ }; do
  case $STORE in
    sqlite)
      rm -rf "$WORK/sqlite"; mkdir -p "$WORK/sqlite"
      DATABASE_URL="sqlite://$WORK/sqlite/shop.db" ;;
    postgres)
      psql -q "$PG_URL" -c "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
      psql -q "$PG_URL" -c "CREATE DATABASE $PG_DB" >/dev/null
      DATABASE_URL="${PG_URL%/*}/$PG_DB" ;;
    *) echo "unknown store $STORE" >&2; exit 2 ;;
  esac
  export DATABASE_URL MAIL_DIR=$WORK/mail RUST_LOG=${BENCH_LOG:-warn} \
    SECRET_KEY=bench-secret-key-bench-secret-key-0123
  say "$STORE: demo-data --customers $CUSTOMERS"
  "$BIN" demo-data --customers "$CUSTOMERS" >"$WORK/$STORE-demo.log" 2>&1
  for ACTION in ${ACTIONS//,/ }; do
    before=$(loadavg)
    log=$WORK/$STORE-$ACTION.log
    "$BIN" customers bulk --action "$ACTION" --yes --wait >"$log" 2>&1
    after=$(loadavg)
    # "job 3 done after 41.2 s", and the last progress line.
    seconds=$(awk '/^job [0-9]+ done after/ {print $(NF-1)}' "$log")
    counts=$(grep -E '^(done|running):' "$log" | tail -1)
    [ -n "$seconds" ] || { echo "the $ACTION job did not finish; see $log" >&2; exit 1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$STORE" "$CUSTOMERS" "$ACTION" \
      "$seconds" "$counts" "load $before -> $after" >>"$RESULTS"
    printf '  %-9s %-15s %8s s   %s   (load %s -> %s)\n' "$STORE" "$ACTION" "$seconds" "$counts" \
      "$before" "$after" >&2
  done
  if [ "$STORE" = sqlite ]; then
    queued=$(sqlite3 "$WORK/sqlite/shop.db" "SELECT COUNT(*) FROM mail_outbox WHERE status = 'pending'")
  else
    queued=$(psql -qAt "$DATABASE_URL" -c "SELECT COUNT(*) FROM mail_outbox WHERE status = 'pending'")
  fi
  printf '  %-9s mail queued: %s\n' "$STORE" "$queued" >&2
done
