#!/usr/bin/env bash
# Fuzzes what BlockTrainer reads from files and peers with libFuzzer (clang, -fsanitize=fuzzer,address,undefined):
# the safetensors reader, the IDX reader, the YAML config and scenario loaders, and the wire validators (probe
# reports planned as the cloud would, push headers, heartbeats, plans with race alternatives). Each target runs for
# FUZZ_SECONDS (default 60) from its committed corpus (tests/fuzz/corpus/<target>, copied: the committed one is not
# changed); findings go to var/fuzz/artifacts/<target>/. Prints executions and findings per target and writes them
# to var/fuzz/summary.md. CTest replays the committed corpora in the normal build (fuzz.replay.*).
#
# Usage: scripts/fuzz.sh [target...]     (default: all four)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${FUZZ_SECONDS:-60}"
BUILD_DIR=build-fuzz
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(fuzz_safetensors fuzz_idx fuzz_config fuzz_wire)
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ -DBT_FUZZ=ON \
    -DBT_TORCH_PCH=OFF > /dev/null
fi
cmake --build "$BUILD_DIR" --target "${TARGETS[@]}" --parallel "$(nproc)"
mkdir -p var/fuzz
summary="var/fuzz/summary.md"
{
  echo "| target | seconds | executions | exec/s | corpus (start → end) | findings |"
  echo "| --- | --- | --- | --- | --- | --- |"
} > "$summary"
for t in "${TARGETS[@]}"; do
  work="var/fuzz/corpus/$t"; artifacts="var/fuzz/artifacts/$t"
  mkdir -p "$work" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
  start_files=$(ls "$work" | wc -l)
  echo "== $t: ${SECONDS_EACH}s"
  set +e
  "$BUILD_DIR/tests/$t" "$work" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" > "var/fuzz/$t.log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "var/fuzz/$t.log" | grep -o '[0-9]*$' || echo 0)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "var/fuzz/$t.log" | grep -o '[0-9]*$' || echo 0)
  findings=$(ls "$artifacts" | wc -l)
  end_files=$(ls "$work" | wc -l)
  echo "$t: $execs executions ($rate/s), corpus $start_files → $end_files, findings $findings (exit $rc; log var/fuzz/$t.log)"
  echo "| $t | $SECONDS_EACH | $execs | $rate | $start_files → $end_files | $findings |" >> "$summary"
done
cat "$summary"
