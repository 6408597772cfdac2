#!/usr/bin/env bash
# Peak resident memory of the release server under connection abuse: an idle
# flood, a header-by-header slowloris flood and a burst of 50 MB bodies, each
# followed by an ordinary request that must succeed. Reads VmRSS and VmHWM from
# /proc/PID/status (the in-process test server cannot be measured alone).
#
#   scripts/abuse_rss.sh                 # 2,000 connections per flood
#   FLOOD=5000 HOLD=20 scripts/abuse_rss.sh
#
# Environment: FLOOD (connections per flood, default 2000), HOLD (seconds each
# flood is held, default 15), BIN (default target/release/shop-accounts, built
# with cargo when missing), PORT (default 3921), and the server's own limits
# (MAX_CONNECTIONS, HEADER_READ_TIMEOUT, IDLE_TIMEOUT) if set. SQLite in a
# scratch folder; everything stays on 127.0.0.1.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
FLOOD=${FLOOD:-2000}
HOLD=${HOLD:-15}
BIN=${BIN:-$ROOT/target/release/shop-accounts}
PORT=${PORT:-3921}
BASE=http://127.0.0.1:$PORT
[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release --bin shop-accounts)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

WORK=$(mktemp -d /tmp/shop-abuse.XXXXXX)
export DATABASE_URL=sqlite://$WORK/shop.db
"$BIN" migrate >/dev/null
MALLOC_MMAP_THRESHOLD_=1048576 LISTEN=127.0.0.1:$PORT METRICS_LISTEN=127.0.0.1:$((PORT + 1)) \
  BASE_URL=$BASE MAIL_DIR=$WORK/mail RUST_LOG=warn SECRET_KEY=abuse-secret-key-abuse-secret-key-0123 \
  "$BIN" serve >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
until curl -sf -o /dev/null "$BASE/readyz"; do
  kill -0 $PID 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.1
done
kib() { awk -v k="$1:" '$1 == k {print $2}' /proc/$PID/status; }
mib() { awk -v v="$1" 'BEGIN {printf "%.1f MiB", v / 1024}'; }
fds() { ls /proc/$PID/fd | wc -l; }
normal() { curl -s -o /dev/null -m 60 -w '%{http_code} in %{time_total}s' "$BASE/customer/account/login"; }

curl -s -o /dev/null "$BASE/customer/account/login"
echo "idle: VmRSS $(mib "$(kib VmRSS)"), VmHWM $(mib "$(kib VmHWM)"), $(fds) fds, load $(cut -d' ' -f1-3 /proc/loadavg)"
for mode in idle slowloris bodies; do
  python3 "$ROOT/scripts/abuse_flood.py" "$PORT" "$mode" "$FLOOD" "$HOLD" >"$WORK/$mode.txt" &
  flood=$!
  peak_fds=0
  for _ in $(seq 1 $((HOLD * 2))); do
    n=$(fds); [ "$n" -gt "$peak_fds" ] && peak_fds=$n
    sleep 0.5
  done
  during=$(normal)
  wait $flood
  echo "$(cat "$WORK/$mode.txt")"
  echo "  server: peak $peak_fds fds; VmRSS now $(mib "$(kib VmRSS)"), VmHWM so far $(mib "$(kib VmHWM)"); ordinary request during: $during, after: $(normal)"
done
echo "peak resident memory over all floods (VmHWM): $(mib "$(kib VmHWM)"); load $(cut -d' ' -f1-3 /proc/loadavg)"
if grep -q ' 5[0-9][0-9] \|panicked' "$WORK/server.log"; then
  echo "FAIL: the server log shows a 5xx or a panic" >&2
  grep ' 5[0-9][0-9] \|panicked' "$WORK/server.log" | head >&2
  exit 1
fi
