#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 60), one after
# another, and prints each target's executions and whether it crashed.
#   scripts/fuzz.sh            # 60 s per target
#   scripts/fuzz.sh 180        # 3 minutes per target
#   TARGETS="email grid_query" scripts/fuzz.sh 30
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# The committed seeds in fuzz/corpus/<target>/ are read, never written: what
# libFuzzer finds goes to a scratch corpus under $FUZZ_WORK (default
# /tmp/shop-accounts-fuzz), so the repository's corpus stays small. A crash is
# saved under fuzz/artifacts/<target>/ and makes the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-${FUZZ_SECONDS:-60}}"
work="${FUZZ_WORK:-/tmp/shop-accounts-fuzz}"
# SANITIZER=address for ASan; the default (none) runs the safe-Rust parsers
# several times faster, with debug assertions (overflow checks) on either way.
sanitizer="${SANITIZER:-none}"
targets="${TARGETS:-$(cargo +nightly fuzz list)}"

cargo +nightly fuzz build -s "$sanitizer"
failed=()
printf '%-14s %12s %10s %s\n' target executions exec/s result
for target in $targets; do
  mkdir -p "$work/$target" "corpus/$target"
  log="$work/$target.log"
  status=ok
  if ! cargo +nightly fuzz run -s "$sanitizer" "$target" "$work/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    status="CRASH (see $log and fuzz/artifacts/$target/)"
    failed+=("$target")
  fi
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  rate="$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
  printf '%-14s %12s %10s %s\n' "$target" "$runs" "$rate" "$status"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashed: ${failed[*]}" >&2
  exit 1
fi
