#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time: run.sh SECONDS BUILD_DIR.
# New corpus entries go to BUILD_DIR/corpus/<target> (the committed seeds stay
# untouched); a crashing input is saved as BUILD_DIR/artifacts/<target>-crash-*.
set -uo pipefail
seconds=$1
build=$2
here=$(cd "$(dirname "$0")" && pwd)
status=0
mkdir -p "$build/artifacts"
# Every target with a source here (a missing binary is a failure, not a skip).
for source in "$here"/fuzz_*.cpp; do
  target=$(basename "$source" .cpp)
  corpus="$build/corpus/$target"
  log="$build/$target.log"
  mkdir -p "$corpus"
  if "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
      -artifact_prefix="$build/artifacts/$target-" "$corpus" "$here/seeds/$target" >"$log" 2>&1; then
    runs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "$target: ok, ${runs:-?} runs in ${seconds}s"
  else
    echo "$target: FAILED (log: $log)" >&2
    grep -E -A30 'invariant failed|ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error' "$log" | head -60 >&2
    status=1
  fi
done
exit $status
