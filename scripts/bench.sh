#!/usr/bin/env bash
# Benchmarks of the release server from outside, on SQLite and PostgreSQL, with
# wrk as the load generator on the same machine. One command:
#
#   scripts/bench.sh                       # 1,000,000 customers, both stores
#   scripts/bench.sh --customers 100000 --stores sqlite --duration 5
#
# Options (all optional):
#   --customers N      demo customers in each store (default 1000000); a filled
#                      store is kept under --work and reused by the next run
#   --stores LIST      sqlite,postgres (default both)
#   --duration S       seconds per wrk run (default 10)
#   --connections C    wrk connections for the throughput runs (default 64)
#   --pg-url URL       PostgreSQL server to create the bench database on
#                      (default postgres://postgres@127.0.0.1:5432/postgres)
#   --pg-tablespace T  create the bench database in tablespace T (e.g. one on a
#                      RAM disk when the machine's disk is short)
#   --work DIR         scratch folder (default target/bench)
#   --out FILE         report (default BENCHMARKS.md)
#   --only LIST        run only these groups (default all): pages, forgot,
#                      reset, token, me, grid, force, argon2 — a bounded quick
#                      check; start-to-ready and memory are always measured
#   --quick            --duration 5 --only pages,forgot,me,token,argon2
#   --port P           the server's port (default 3901; metrics on P+1)
#   --no-build         use target/release/shop-accounts as it is
#
# Needs: cargo, curl, python3, sqlite3, psql; wrk is installed with apt-get
# when missing. Mail goes to .eml files under --work (no relay in the way).
set -euo pipefail

CUSTOMERS=1000000
STORES=sqlite,postgres
DURATION=10
CONNECTIONS=64
ONLY=all
BUILD=yes
PORT=3901
PG_URL=postgres://postgres@127.0.0.1:5432/postgres
PG_TABLESPACE=
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/target/bench
OUT=$ROOT/BENCHMARKS.md
while [ $# -gt 0 ]; do
  case $1 in
    --customers) CUSTOMERS=$2; shift 2 ;;
    --stores) STORES=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --pg-url) PG_URL=$2; shift 2 ;;
    --pg-tablespace) PG_TABLESPACE=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    --quick) DURATION=5; ONLY=pages,forgot,me,token,argon2; shift ;;
    --port) PORT=$2; shift 2 ;;
    --no-build) BUILD=no; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

LUA=$ROOT/scripts/bench
BIN=$ROOT/target/release/shop-accounts
METRICS_PORT=$((PORT + 1))
BASE=http://127.0.0.1:$PORT
ADMIN_EMAIL=bench-admin@example.com
ADMIN_PASSWORD=bench-admin-password-1
NEW_PASSWORD=bench-new-password-1
DEMO_PASSWORD=demo-password-2024
RESULTS=$WORK/results.tsv
mkdir -p "$WORK"

say() { printf '\n== %s\n' "$*" >&2; }
# Whether a group of runs is wanted (--only).
want() { [ "$ONLY" = all ] || [[ ",$ONLY," == *",$1,"* ]]; }

# --- tools ---------------------------------------------------------------
if ! command -v wrk >/dev/null; then
  say "installing wrk (Debian package)"
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk; else sudo apt-get install -y wrk; fi
fi
for tool in curl python3 sqlite3 psql; do
  command -v $tool >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

if [ "$BUILD" = yes ] || [ ! -x "$BIN" ]; then
  say "building the release binary"
  (cd "$ROOT" && cargo build --release --bin shop-accounts)
fi

# --- helpers -------------------------------------------------------------
SERVER_PID=
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap stop_server EXIT

# Starts the server on $DATABASE_URL; sets READY_MS, milliseconds from exec to /readyz = 200.
start_server() {
  local started now
  if curl -s -o /dev/null "$BASE/healthz"; then
    echo "something already answers on $BASE; stop it first" >&2
    exit 1
  fi
  started=$(date +%s%N)
  DATABASE_URL=$DATABASE_URL LISTEN=127.0.0.1:$PORT METRICS_LISTEN=127.0.0.1:$METRICS_PORT \
    BASE_URL=$BASE MAIL_DIR=$STORE_DIR/mail RUST_LOG=${BENCH_LOG:-warn} \
    SECRET_KEY=bench-secret-key-bench-secret-key-0123 \
    "$BIN" serve >>"$STORE_DIR/server.log" 2>&1 &
  SERVER_PID=$!
  until curl -sf -o /dev/null "$BASE/readyz"; do
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "server died; see $STORE_DIR/server.log" >&2; exit 1; }
    sleep 0.005
  done
  now=$(date +%s%N)
  READY_MS=$(((now - started) / 1000000))
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status"; }
# Anonymous memory only: SQLite's memory-mapped database pages count in VmRSS too.
anon_kib() { awk '/^RssAnon/ {print $2}' "/proc/$SERVER_PID/status"; }
hwm_kib() { awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status"; }

# Samples the server's anonymous memory every 0.2 s while it runs; the peak
# lands in $STORE_DIR/anon-peak.txt (VmHWM counts SQLite's mapped file pages too).
SAMPLER_PID=
start_sampler() {
  echo 0 >"$STORE_DIR/anon-peak.txt"
  (
    peak=0
    while kill -0 "$SERVER_PID" 2>/dev/null; do
      now=$(awk '/^RssAnon/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0)
      if [ "${now:-0}" -gt "$peak" ]; then peak=$now; echo "$peak" >"$STORE_DIR/anon-peak.txt"; fi
      sleep 0.2
    done
  ) &
  SAMPLER_PID=$!
}
stop_sampler() {
  if [ -n "$SAMPLER_PID" ]; then
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
  fi
  SAMPLER_PID=
}

# The server's own hashing time (src/accounts/hashing.rs): "<sum seconds> <count>"
# of shop_password_hash_seconds{kind="verify"}.
hash_metric() {
  curl -s "http://127.0.0.1:$METRICS_PORT/metrics" | awk '
    /^shop_password_hash_seconds_sum\{kind="verify"\}/ {sum = $2}
    /^shop_password_hash_seconds_count\{kind="verify"\}/ {count = $2}
    END {printf "%s %s\n", sum + 0, count + 0}'
}

sql() {
  if [ "$STORE" = sqlite ]; then sqlite3 "$SQLITE_FILE" "$1"; else psql -qAt "$DATABASE_URL" -c "$1"; fi
}

record() { # scenario req/s p50 p99 note
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$STORE" "$1" "$2" "$3" "$4" "${5:-}" >>"$RESULTS"
  printf '  %-44s %10s req/s  p50 %-9s p99 %-9s %s\n' "$1" "$2" "$3" "$4" "${5:-}" >&2
}

# wrk at fixed concurrency: record NAME [wrk args…] URL
run_wrk() {
  local name=$1; shift
  local out
  local c=${WRK_CONNECTIONS:-$CONNECTIONS} threads=2
  [ "$c" -lt 2 ] && threads=1
  # A sign-in lasts at least the time floor (seconds on a busy machine): past
  # wrk's default 2 s timeout no answer would be counted.
  out=$(wrk -t$threads -c"$c" -d"${DURATION}s" --timeout 30s --latency "$@")
  echo "$out" >"$STORE_DIR/wrk-$(echo "$name" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9' '_').txt"
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  bad=$(awk '/Non-2xx or 3xx/ {print $NF}' <<<"$out")
  record "$name" "$rps" "$p50" "$p99" "${bad:+$bad non-2xx/3xx answers}"
}

# A browser: a cookie jar, and the form key of a page. Prints the Cookie header.
cookie_header() {
  awk 'BEGIN {ORS=""} /^#HttpOnly_/ {sub(/^#HttpOnly_/, "")} /^#/ || NF < 7 {next} {printf "%s%s=%s", (n++ ? "; " : ""), $6, $7}' "$1"
}
form_key_of() { sed -n 's/.*name="form_key" value="\([^"]*\)".*/\1/p' | head -1; }

# Latencies of many one-off requests (curl, $2 in parallel): the commands in file $1
# each print time_total; records req/s and p50/p99.
run_parallel() {
  local name=$1 commands=$2 parallel=$3 started ended times
  times=$STORE_DIR/times-$(echo "$name" | tr -c 'a-z0-9' '_').txt
  started=$(date +%s%N)
  xargs -d '\n' -n 1 -P "$parallel" bash -c <"$commands" >"$times"
  ended=$(date +%s%N)
  python3 - "$name" "$times" "$started" "$ended" "$parallel" <<'EOF' >>"$STORE_DIR/parallel.txt"
import sys
name, path, started, ended, parallel = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
times = sorted(float(t) * 1000 for t in open(path).read().split())
n = len(times)
pick = lambda q: times[min(n - 1, int(q * n))]
print(f"{n / ((ended - started) / 1e9):.0f}\t{pick(0.5):.1f}ms\t{pick(0.99):.1f}ms\t{n} requests, {parallel} at a time")
EOF
  local line
  line=$(tail -1 "$STORE_DIR/parallel.txt")
  IFS=$'\t' read -r rps p50 p99 note <<<"$line"
  record "$name" "$rps" "$p50" "$p99" "$note"
}

# The reset links in the .eml files of $1 (quoted-printable decoded).
links_in_mail() {
  python3 - "$1" <<'EOF'
import email, pathlib, re, sys
from email import policy
for path in sorted(pathlib.Path(sys.argv[1]).glob("*reset*.eml")):
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    match = re.search(r"token=([A-Za-z0-9_-]+)", text)
    if match:
        print(match.group(1))
EOF
}

# --- one store -----------------------------------------------------------
bench_store() {
  STORE=$1
  STORE_DIR=$WORK/$STORE-$CUSTOMERS
  mkdir -p "$STORE_DIR"
  : >"$STORE_DIR/server.log"
  if [ "$STORE" = sqlite ]; then
    SQLITE_FILE=$STORE_DIR/shop.db
    DATABASE_URL=sqlite://$SQLITE_FILE
  else
    local db=shop_bench_$CUSTOMERS
    DATABASE_URL=${PG_URL%/*}/$db
    psql -qAt "$PG_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$db'" | grep -q 1 \
      || psql -q "$PG_URL" -c "CREATE DATABASE $db${PG_TABLESPACE:+ TABLESPACE $PG_TABLESPACE}"
  fi
  export DATABASE_URL

  if [ ! -f "$STORE_DIR/filled" ]; then
    say "$STORE: filling with $CUSTOMERS demo customers"
    "$BIN" migrate
    local t0 t1
    t0=$(date +%s%N)
    "$BIN" demo-data --customers "$CUSTOMERS"
    t1=$(date +%s%N)
    echo "$(((t1 - t0) / 1000000))" >"$STORE_DIR/filled"
    printf '%s\n' "$ADMIN_PASSWORD" | "$BIN" admin create --email "$ADMIN_EMAIL" --name "Bench Admin" --password-stdin
  fi
  # Limits off for the run (the Password Options "none"), as the README says.
  sql "INSERT INTO settings (name, value) VALUES ('options.protection_type', 'none') ON CONFLICT (name) DO UPDATE SET value = excluded.value"
  # The per-address sign-in limit counts sign-ins in flight (and those a client
  # cut off): 64 connections from one address would meet it, so it is off for the
  # run, like the reset limits. The administrator signs in without a second
  # factor (the default asks every administrator to set one up first).
  "$BIN" config set ip_sign_in_failures 0 >/dev/null
  "$BIN" config set admin_two_factor optional >/dev/null
  # Sign-in with an imported Magento hash: customers 6,001–6,200 get Magento 2's
  # SHA-256 hash (version 1) of the demo password; each first sign-in checks it
  # and stores this server's own hash in its place, so each is used once.
  local magento_hash
  magento_hash=$(python3 -c "import hashlib; s='benchsaltbenchsaltbenchsaltbench'; print(hashlib.sha256((s + '$DEMO_PASSWORD').encode()).hexdigest() + ':' + s + ':1')")
  sql "UPDATE customers SET password_hash = '$magento_hash' WHERE id > 6000 AND id <= 6200"
  sql "SELECT email_key FROM customers WHERE id > 6000 AND id <= 6200 AND locked_until IS NULL ORDER BY id" >"$STORE_DIR/magento.txt"
  sql "SELECT email_key FROM customers ORDER BY id LIMIT 20000" >"$STORE_DIR/emails.txt"
  # Token calls sign in as unlocked customers 1–5,000 (resets below use 10,001 on).
  sql "SELECT email_key FROM customers WHERE id <= 5000 AND locked_until IS NULL ORDER BY id" >"$STORE_DIR/sign-in.txt"
  local total
  total=$(sql "SELECT COUNT(*) FROM customers")
  local known
  known=$(sql "SELECT email_key FROM customers WHERE id > 5000 AND id < 10000 AND locked_until IS NULL ORDER BY id LIMIT 1")
  rm -rf "$STORE_DIR/mail"; mkdir -p "$STORE_DIR/mail"

  say "$STORE: start to ready on $total customers"
  local starts=()
  for _ in 1 2 3; do
    start_server
    starts+=("$READY_MS")
    stop_server
  done
  local start_ms
  start_ms=$(printf '%s\n' "${starts[@]}" | sort -n | sed -n 2p)
  record "start to ready (median of 3)" "-" "${start_ms}ms" "-" "runs: ${starts[*]} ms"
  start_server
  sleep 2
  local idle_rss idle_anon
  idle_rss=$(rss_kib)
  idle_anon=$(anon_kib)
  start_sampler
  record "load average at the start of the runs" "-" "$(cut -d' ' -f1-3 /proc/loadavg)" "-"

  say "$STORE: pages and REST at $CONNECTIONS connections, ${DURATION}s each"
  if want pages; then
    run_wrk "GET sign-in page" "$BASE/customer/account/login"
  fi

  local jar=$STORE_DIR/visitor.jar page key cookie
  rm -f "$jar"
  page=$(curl -s -c "$jar" -b "$jar" "$BASE/customer/account/forgotpassword")
  key=$(form_key_of <<<"$page")
  cookie=$(cookie_header "$jar")
  # Visitors for the form posts: 64 browsers, each with its own session.
  : >"$STORE_DIR/sessions.txt"
  local v vjar vkey
  for v in $(seq 1 64); do
    vjar=$STORE_DIR/visitor-$v.jar
    rm -f "$vjar"
    vkey=$(curl -s -c "$vjar" -b "$vjar" "$BASE/customer/account/forgotpassword" | form_key_of)
    printf '%s\t%s\n' "$(cookie_header "$vjar")" "$vkey" >>"$STORE_DIR/sessions.txt"
    rm -f "$vjar"
  done
  export SESSIONS_FILE=$STORE_DIR/sessions.txt
  if want forgot; then
  FORM_KEY=$key COOKIE=$cookie EMAILS_FILE= \
    run_wrk "POST forgot-password, unknown emails" -s "$LUA/post_form.lua" "$BASE/customer/account/forgotpassword"
  # With the limits on, counted by email (by IP every request from here would
  # be refused after five): each request writes its row and counts the window.
  sql "UPDATE settings SET value = 'email' WHERE name = 'options.protection_type'"
  FORM_KEY=$key COOKIE=$cookie EMAILS_FILE= \
    run_wrk "POST forgot-password, unknown emails, limits on (by email)" -s "$LUA/post_form.lua" "$BASE/customer/account/forgotpassword"
  sql "UPDATE settings SET value = 'none' WHERE name = 'options.protection_type'"
  # Mail for known addresses goes to .eml files; let the queue drain before the next run.
  FORM_KEY=$key COOKIE=$cookie EMAILS_FILE=$STORE_DIR/emails.txt \
    run_wrk "POST forgot-password, known emails" -s "$LUA/post_form.lua" "$BASE/customer/account/forgotpassword"
  # The mail worker writes what that queued; whatever is left after 30 s is
  # dropped so that the next runs are measured alone.
  local pending=1
  for _ in $(seq 1 30); do
    pending=$(sql "SELECT COUNT(*) FROM mail_outbox WHERE status = 'pending'")
    [ "$pending" = 0 ] && break
    sleep 1
  done
  sql "DELETE FROM mail_outbox WHERE status = 'pending'"
  record "  (mail left queued 30 s after that run)" "-" "-" "-" "$pending messages dropped"
  fi
  rm -rf "$STORE_DIR/mail"; mkdir -p "$STORE_DIR/mail"

  if want reset; then
  # Reset links: one per customer, read from the mail the server writes.
  local resets=200
  : >"$STORE_DIR/reset-requests.txt"
  # Customers 10,001 on (the token calls below sign in as an earlier one).
  sed -n "10001,$((10000 + resets))p" "$STORE_DIR/emails.txt" | while read -r address; do
    curl -s -o /dev/null -b "$jar" --data-urlencode "form_key=$key" --data-urlencode "email=$address" \
      "$BASE/customer/account/forgotpassword"
  done
  for _ in $(seq 1 100); do
    [ "$(links_in_mail "$STORE_DIR/mail" | wc -l)" -ge $resets ] && break
    sleep 0.2
  done
  links_in_mail "$STORE_DIR/mail" >"$STORE_DIR/reset-tokens.txt"
  local one_token
  one_token=$(head -1 "$STORE_DIR/reset-tokens.txt")
  run_wrk "GET reset link (valid, opened, not used)" "$BASE/customer/account/createPassword?token=$one_token"

  # Setting the new password: each link works once, so one browser per link.
  : >"$STORE_DIR/set-password.sh"
  local n=0
  while read -r token; do
    n=$((n + 1))
    cat >>"$STORE_DIR/set-password.sh" <<EOF
j=$STORE_DIR/set-$n.jar; curl -s -o /dev/null -c \$j -b \$j "$BASE/customer/account/createPassword?token=$token"; k=\$(curl -s -c \$j -b \$j "$BASE/customer/account/createPassword" | sed -n 's/.*name="form_key" value="\\([^"]*\\)".*/\\1/p' | head -1); curl -s -o /dev/null -w '%{time_total}\\n' -c \$j -b \$j --data-urlencode "form_key=\$k" -d "password=$NEW_PASSWORD&password_confirmation=$NEW_PASSWORD" "$BASE/customer/account/createPassword"; rm -f \$j
EOF
  done <"$STORE_DIR/reset-tokens.txt"
  if [ "$n" -gt 0 ]; then
    run_parallel "POST new password (argon2)" "$STORE_DIR/set-password.sh" 8
  fi
  fi

  local body token status
  body=$(printf '{"username":"%s","password":"%s"}' "$known" "$DEMO_PASSWORD")
  # A run of refusals would be timed as if it were the work: check one first.
  status=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "$body" \
    "$BASE/rest/V1/integration/customer/token")
  [ "$status" = 200 ] || { echo "the REST token call answered $status, not 200; see $STORE_DIR/server.log" >&2; exit 1; }
  if want token; then
    EMAILS_FILE=$STORE_DIR/sign-in.txt PASSWORD=$DEMO_PASSWORD \
      run_wrk "POST REST token (argon2)" -s "$LUA/post_json.lua" "$BASE/rest/V1/integration/customer/token"
  fi
  if want me; then
    token=$(curl -s -H 'Content-Type: application/json' -d "$body" "$BASE/rest/V1/integration/customer/token" | tr -d '"')
    run_wrk "GET REST customers/me" -H "Authorization: Bearer $token" "$BASE/rest/V1/customers/me"
  fi

  if want grid || want force; then
  say "$STORE: admin grid"
  local admin_jar=$STORE_DIR/admin.jar admin_key admin_cookie
  rm -f "$admin_jar"
  admin_key=$(curl -s -c "$admin_jar" -b "$admin_jar" "$BASE/admin/login" | form_key_of)
  curl -s -o /dev/null -c "$admin_jar" -b "$admin_jar" --data-urlencode "form_key=$admin_key" \
    --data-urlencode "email=$ADMIN_EMAIL" --data-urlencode "password=$ADMIN_PASSWORD" "$BASE/admin/login"
  # Hook: when administrators must use two-factor sign-in, set admin_two_factor
  # to optional for the run (shop-accounts config set admin_two_factor optional).
  admin_cookie=$(cookie_header "$admin_jar")
  status=$(curl -s -o /dev/null -w '%{http_code}' -b "$admin_jar" "$BASE/admin/customers")
  [ "$status" = 200 ] || { echo "the grid answered $status, not 200: the administrator is not signed in" >&2; exit 1; }
  admin_key=$(curl -s -b "$admin_jar" "$BASE/admin/customers" | form_key_of)
  fi
  if want grid; then
  # wrk counts a redirect as an answer: each view is checked for a 200 first.
  grid_view() {
    local name=$1 url=$BASE/admin/customers$2 code
    code=$(curl -s -o /dev/null -w '%{http_code}' -b "$admin_jar" "$url")
    if [ "$code" = 200 ]; then
      run_wrk "$name" -H "Cookie: $admin_cookie" "$url"
    else
      record "$name" "-" "-" "-" "answered $code, not run"
    fi
  }
  grid_view "GET grid, first page" ""
  grid_view "GET grid, keyword \"smith\"" "?q=smith"
  grid_view "GET grid, keyword \"j\"" "?q=j"
  grid_view "GET grid, sorted by email" "?sort=email&dir=asc"
  grid_view "GET grid, filter locked=yes" "?locked=yes"
  grid_view "GET grid, last page" "?page=last"

  local export_times=() t status
  status=$(curl -s -o /dev/null -w '%{http_code}' -b "$admin_jar" "$BASE/admin/customers/export.csv?q=zzzz")
  if [ "$status" = 200 ]; then
    for _ in 1 2 3; do
      t=$(curl -s -o "$STORE_DIR/export.csv" -w '%{time_total}' -b "$admin_jar" "$BASE/admin/customers/export.csv")
      export_times+=("$t")
    done
    record "GET export.csv, all customers (median of 3)" "-" "$(printf '%s\n' "${export_times[@]}" | sort -n | sed -n 2p)s" "-" \
      "$(wc -l <"$STORE_DIR/export.csv") lines, $(du -h "$STORE_DIR/export.csv" | cut -f1)"
    rm -f "$STORE_DIR/export.csv"
  else
    record "GET export.csv, all customers" "-" "-" "-" "not in this build (answered $status)"
  fi
  fi

  if want force; then
  # Force Sign In for a customer holding 1,000 live API tokens.
  local victim stamp times=()
  victim=$(sql "SELECT id FROM customers ORDER BY id DESC LIMIT 1")
  for _ in 1 2 3 4 5; do
    stamp=$(sql "SELECT security_stamp FROM customers WHERE id = $victim")
    if [ "$STORE" = sqlite ]; then
      sql "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
           INSERT INTO api_tokens (token_hash, customer_id, security_stamp, created_at, expires_at)
           SELECT lower(hex(randomblob(32))), $victim, '$stamp', unixepoch(), unixepoch() + 86400 FROM n;
           UPDATE customers SET api_token_count = api_token_count + 1000 WHERE id = $victim;"
    else
      sql "INSERT INTO api_tokens (token_hash, customer_id, security_stamp, created_at, expires_at)
           SELECT md5(random()::text || g::text) || md5(g::text || random()::text), $victim, '$stamp',
                  extract(epoch from now())::bigint, extract(epoch from now())::bigint + 86400
           FROM generate_series(1, 1000) g;
           UPDATE customers SET api_token_count = api_token_count + 1000 WHERE id = $victim;"
    fi
    t=$(curl -s -o /dev/null -w '%{time_total}' -b "$admin_jar" --data-urlencode "form_key=$admin_key" \
      "$BASE/admin/customers/$victim/force-sign-in")
    times+=("$t")
  done
  record "POST Force Sign In, 1,000 tokens (5 runs)" "-" "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 3p)s" \
    "$(printf '%s\n' "${times[@]}" | sort -n | tail -1)s" "p99 column: slowest run"
  fi

  if want token; then
  # Each imported hash is checked once (the sign-in replaces it), so each
  # customer signs in once, 8 at a time.
  : >"$STORE_DIR/magento-sign-in.sh"
  while read -r address; do
    printf '%s\n' "curl -s -o /dev/null -w '%{time_total}\\n' -H 'Content-Type: application/json' -d '{\"username\":\"$address\",\"password\":\"$DEMO_PASSWORD\"}' $BASE/rest/V1/integration/customer/token" \
      >>"$STORE_DIR/magento-sign-in.sh"
  done <"$STORE_DIR/magento.txt"
  run_parallel "POST REST token, imported Magento hash" "$STORE_DIR/magento-sign-in.sh" 8
  local left
  left=$(sql "SELECT COUNT(*) FROM customers WHERE id > 6000 AND id <= 6200 AND locked_until IS NULL AND password_hash LIKE '%:1'")
  record "  (Magento hashes left after that run)" "-" "-" "-" "$left of $(wc -l <"$STORE_DIR/magento.txt") not replaced by a native hash"
  fi
  # Bulk jobs have their own script (scripts/bench_bulk.sh, 100,000 customers);
  # BENCHMARKS.md carries its figures beside these.

  if want argon2; then
  say "$STORE: argon2 saturation, /healthz measured alongside"
  local c before after
  for c in 1 2 4 8 16 32 64; do
    before=$(hash_metric)
    # /healthz at a steady 50 requests/s: wrk would run it flat out and take a core.
    python3 "$LUA/healthz_probe.py" "$BASE/healthz" "$DURATION" 50 >"$STORE_DIR/healthz-$c.txt" &
    local hz=$!
    WRK_CONNECTIONS=$c EMAILS_FILE=$STORE_DIR/sign-in.txt PASSWORD=$DEMO_PASSWORD \
      run_wrk "REST token at $c connections" -s "$LUA/post_json.lua" \
      "$BASE/rest/V1/integration/customer/token"
    wait $hz
    after=$(hash_metric)
    record "  /healthz beside the token run at $c connections (50 requests/s)" \
      "$(awk '/^Requests\/sec/ {printf "%.0f", $2}' "$STORE_DIR/healthz-$c.txt")" \
      "$(awk '$1 == "50%" {print $2}' "$STORE_DIR/healthz-$c.txt")" \
      "$(awk '$1 == "99%" {print $2}' "$STORE_DIR/healthz-$c.txt")"
    # The server's own time per hash in that run (its work only: no queueing,
    # no time floor), from shop_password_hash_seconds.
    read -r s0 n0 <<<"$before"
    read -r s1 n1 <<<"$after"
    record "  time per hash in that run (server's own measure)" "-" \
      "$(python3 -c "n = $n1 - $n0; print(f'{1000 * ($s1 - $s0) / n:.1f}ms' if n else '-')")" "-" "$((${n1%.*} - ${n0%.*})) hashes"
  done
  fi

  stop_sampler
  local load_rss
  load_rss=$(hwm_kib)
  record "resident memory, idle after start" "-" "$((idle_rss / 1024)) MiB" "-" "of which anonymous $((idle_anon / 1024)) MiB"
  record "resident memory, peak under the runs above" "-" "$((load_rss / 1024)) MiB" "-" \
    "VmHWM, with SQLite's mapped file pages; anonymous (heap) peak $(($(cat "$STORE_DIR/anon-peak.txt") / 1024)) MiB, now $(($(anon_kib) / 1024)) MiB"
  record "load average at the end of the runs" "-" "$(cut -d' ' -f1-3 /proc/loadavg)" "-"
  stop_server
}

: >"$RESULTS"
{
  echo "date=$(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit=$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet || echo ' (with changes)')"
  echo "cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "cores=$(nproc)"
  echo "memory=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "postgres=$(psql -qAt "$PG_URL" -c 'SHOW server_version' 2>/dev/null || echo '-')"
  echo "sqlite=$(sqlite3 --version | cut -d' ' -f1)"
  echo "wrk=$(wrk --version 2>&1 | head -1 | cut -d' ' -f2)"
  echo "load_before=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$WORK/machine.txt"
IFS=, read -ra store_list <<<"$STORES"
for store in "${store_list[@]}"; do
  bench_store "$store"
done
echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$WORK/machine.txt"
python3 "$ROOT/scripts/bench/report.py" "$WORK" "$CUSTOMERS" "$DURATION" "$CONNECTIONS" >"$OUT"
say "wrote $OUT"
