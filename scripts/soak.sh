#!/usr/bin/env bash
# Soak: the release server under mixed, realistic traffic for a bounded time,
# on one store. Reports throughput, answers by class (5xx and socket errors must
# be 0; 4xx from refused sign-ins and limits are counted apart) and resident
# memory after a warm-up and at the end (growth must stay within 10 %).
#
#   scripts/soak.sh                               # SQLite, 10 minutes
#   STORE=postgres DURATION=120 scripts/soak.sh   # PostgreSQL, 2 minutes
#
# Environment (all optional):
#   STORE=sqlite|postgres   (default sqlite)
#   DURATION=600            seconds of measured traffic (after the warm-up)
#   WARMUP=60               seconds of the same traffic before the first reading
#   CUSTOMERS=100000        demo customers (a filled store is kept and reused)
#   CONNECTIONS=16          concurrent connections of the load generator (wrk)
#   PG_URL=postgres://postgres@127.0.0.1:5432/postgres
#   WORK=target/soak        scratch folder; mail is written there as .eml files
#   BIN=target/release/shop-accounts   (built with cargo when it is this default)
# Exits non-zero when a 5xx or a socket error was seen or memory grew > 10 %.
set -euo pipefail

STORE=${STORE:-sqlite}
DURATION=${DURATION:-600}
WARMUP=${WARMUP:-60}
CUSTOMERS=${CUSTOMERS:-100000}
CONNECTIONS=${CONNECTIONS:-16}
PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${WORK:-$ROOT/target/soak}
DEFAULT_BIN=$ROOT/target/release/shop-accounts
BIN=${BIN:-$DEFAULT_BIN}
PORT=${PORT:-3911}
BASE=http://127.0.0.1:$PORT
ADMIN_EMAIL=soak-admin@example.com
ADMIN_PASSWORD=soak-admin-password-1
DEMO_PASSWORD=demo-password-2024
DIR=$WORK/$STORE-$CUSTOMERS
mkdir -p "$DIR"

say() { printf '== %s\n' "$*" >&2; }
command -v wrk >/dev/null || { say "installing wrk (Debian package)"; apt-get install -y wrk >/dev/null; }
if [ "$BIN" = "$DEFAULT_BIN" ]; then
  say "building the release binary"
  (cd "$ROOT" && cargo build --release --bin shop-accounts)
fi

if [ "$STORE" = sqlite ]; then
  SQLITE_FILE=$DIR/shop.db
  export DATABASE_URL=sqlite://$SQLITE_FILE
  sql() { sqlite3 "$SQLITE_FILE" "$1"; }
else
  db=shop_soak_$CUSTOMERS
  export DATABASE_URL=${PG_URL%/*}/$db
  sql() { psql -qAt "$DATABASE_URL" -c "$1"; }
  psql -qAt "$PG_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
    || psql -q "$PG_URL" -c "CREATE DATABASE $db"
fi

if [ ! -f "$DIR/filled" ]; then
  say "$STORE: filling with $CUSTOMERS demo customers"
  "$BIN" migrate
  "$BIN" demo-data --customers "$CUSTOMERS"
  printf '%s\n' "$ADMIN_PASSWORD" | "$BIN" admin create --email "$ADMIN_EMAIL" --name "Soak Admin" --password-stdin
  touch "$DIR/filled"
fi
# Admins sign in with a password alone for the run; the limits stay as shipped.
"$BIN" config set admin_two_factor optional >/dev/null 2>&1 || true
# Customers 1–2,000 (by id) are the ones the traffic names; one more signs in for "me".
sql "SELECT email_key FROM customers WHERE id > 1 AND id <= 2001 ORDER BY id" >"$DIR/emails.txt"
me=$(sql "SELECT email_key FROM customers WHERE id = 1")
sql "UPDATE customers SET locked_until = NULL, failed_sign_ins = 0 WHERE id = 1" 2>/dev/null || true
rm -rf "$DIR/mail"; mkdir -p "$DIR/mail"

if curl -s -o /dev/null "$BASE/healthz"; then
  echo "something already answers on $BASE; stop it first" >&2
  exit 1
fi
: >"$DIR/server.log"
# The allocator setting the Dockerfile and the systemd unit ship with.
MALLOC_MMAP_THRESHOLD_=1048576 LISTEN=127.0.0.1:$PORT METRICS_LISTEN=127.0.0.1:$((PORT + 1)) \
  BASE_URL=$BASE MAIL_DIR=$DIR/mail RUST_LOG=${SOAK_LOG:-warn} TRUSTED_PROXIES=127.0.0.1/32 \
  SECRET_KEY=soak-secret-key-soak-secret-key-0123456 \
  "$BIN" serve >>"$DIR/server.log" 2>&1 &
SERVER_PID=$!
SAMPLER_PID=
cleanup() {
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}
trap cleanup EXIT
until curl -sf -o /dev/null "$BASE/readyz"; do
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "server died; see $DIR/server.log" >&2; exit 1; }
  sleep 0.1
done
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
anon_kib() { awk '/^RssAnon/ {print $2}' "/proc/$SERVER_PID/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }
form_key_of() { sed -n 's/.*name="form_key" value="\([^"]*\)".*/\1/p' | head -1; }
cookie_header() {
  awk 'BEGIN {ORS=""} /^#HttpOnly_/ {sub(/^#HttpOnly_/, "")} /^#/ || NF < 7 {next} {printf "%s%s=%s", (n++ ? "; " : ""), $6, $7}' "$1"
}

# A visitor's cookie and form key, an admin's session, a REST token.
jar=$DIR/visitor.jar; rm -f "$jar"
FORM_KEY=$(curl -s -c "$jar" -b "$jar" "$BASE/customer/account/forgotpassword" | form_key_of)
COOKIE=$(cookie_header "$jar")
admin_jar=$DIR/admin.jar; rm -f "$admin_jar"
admin_key=$(curl -s -c "$admin_jar" -b "$admin_jar" "$BASE/admin/login" | form_key_of)
curl -s -o /dev/null -c "$admin_jar" -b "$admin_jar" --data-urlencode "form_key=$admin_key" \
  --data-urlencode "email=$ADMIN_EMAIL" --data-urlencode "password=$ADMIN_PASSWORD" "$BASE/admin/login"
ADMIN_COOKIE=$(cookie_header "$admin_jar")
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $ADMIN_COOKIE" "$BASE/admin/customers")" = 200 ] \
  || { echo "the admin did not sign in" >&2; exit 1; }
BEARER=$(curl -s -H 'Content-Type: application/json' -H 'X-Forwarded-For: 192.0.2.20' \
  -d "{\"username\":\"$me\",\"password\":\"$DEMO_PASSWORD\"}" "$BASE/rest/V1/integration/customer/token" | tr -d '"')
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BEARER" "$BASE/rest/V1/customers/me")" = 200 ] \
  || { echo "no REST token for $me" >&2; exit 1; }
export FORM_KEY COOKIE ADMIN_COOKIE BEARER DEMO_PASSWORD EMAILS_FILE=$DIR/emails.txt

idle_rss=$(rss_kib)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
(while sleep 10; do printf '%s %s %s\n' "$(date +%s)" "$(rss_kib)" "$(anon_kib)"; done >"$DIR/rss.txt") &
SAMPLER_PID=$!
run() { wrk -t2 -c"$CONNECTIONS" -d"${1}s" --timeout 10s -s "$ROOT/scripts/soak/mix.lua" "$BASE" | tee -a "$DIR/wrk.txt" | grep '^soak:'; }
: >"$DIR/wrk.txt"
say "$STORE: warm-up ${WARMUP}s at $CONNECTIONS connections"
warm=$(run "$WARMUP")
start_rss=$(rss_kib); start_anon=$(anon_kib)
say "$STORE: soak ${DURATION}s at $CONNECTIONS connections"
main=$(run "$DURATION")
end_rss=$(rss_kib); end_anon=$(anon_kib); peak=$(hwm_kib)
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
alive=$(curl -s -o /dev/null -w '%{http_code}' "$BASE/readyz")
mails=$(find "$DIR/mail" -name '*.eml' | wc -l)

field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
requests=$(field requests "$main"); seconds=$(field seconds "$main")
s5=$(field 5xx "$main"); errors=$(( $(field connect_errors "$main") + $(field read_errors "$main") + $(field write_errors "$main") + $(field timeouts "$main") ))
growth=$(awk -v a="$start_rss" -v b="$end_rss" 'BEGIN {printf "%.1f", (b - a) * 100 / a}')
cat <<REPORT
store            $STORE, $CUSTOMERS customers, $CONNECTIONS connections
measured         ${seconds}s after a ${WARMUP}s warm-up
requests         $requests ($(awk -v r="$requests" -v s="$seconds" 'BEGIN {printf "%.0f", r / s}') req/s)
answers          2xx $(field 2xx "$main"), 3xx $(field 3xx "$main"), 4xx $(field 4xx "$main") + 429 $(field 429 "$main") (refusals and limits, expected), 5xx $s5
socket errors    $errors (connect/read/write/timeout)
latency          p50 $(field p50_ms "$main") ms, p99 $(field p99_ms "$main") ms, max $(field max_ms "$main") ms
memory (VmRSS)   idle $((idle_rss / 1024)) MiB; after warm-up $((start_rss / 1024)) MiB; end $((end_rss / 1024)) MiB (growth $growth %); peak $((peak / 1024)) MiB
anonymous        after warm-up $((start_anon / 1024)) MiB; end $((end_anon / 1024)) MiB
mail written     $mails .eml files
readyz at end    $alive
load average     before $load_before; after $load_after
warm-up          ${warm#soak: }
REPORT
ok=1
[ "$s5" = 0 ] || { echo "FAIL: $s5 answers were 5xx (see $DIR/server.log)" >&2; ok=0; }
[ "$errors" = 0 ] || { echo "FAIL: $errors socket errors" >&2; ok=0; }
awk -v g="$growth" 'BEGIN {exit !(g <= 10)}' || { echo "FAIL: resident memory grew $growth %" >&2; ok=0; }
[ "$alive" = 200 ] || { echo "FAIL: /readyz answered $alive at the end" >&2; ok=0; }
[ "$ok" = 1 ]
