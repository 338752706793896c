#!/usr/bin/env bash
# Runs every fuzzer in BIN_DIR for SECONDS each, JOBS at a time, from its seed corpus in
# tests/fuzz/corpus/<name>/ (new inputs go to BIN_DIR/corpus/<name>/, never into the source
# tree). Exit status 1 if any fuzzer crashed, leaked, timed out or ran out of memory; its
# reproducer is BIN_DIR/artifacts/<name>/, its log BIN_DIR/logs/<name>.log. Prints one line per
# target: executions, corpus size, result.
#   bash tests/fuzz/run.sh build-fuzz/tests/fuzz 30 2
set -uo pipefail
bin=${1:?usage: run.sh BIN_DIR [SECONDS] [JOBS]}
seconds=${2:-30}
jobs=${3:-2}
seeds=$(cd "$(dirname "$0")" && pwd)/corpus
bin=$(cd "$bin" && pwd)
mkdir -p "$bin/logs"
# Symbolized stacks in the logs.
export ASAN_SYMBOLIZER_PATH=${ASAN_SYMBOLIZER_PATH:-$(command -v llvm-symbolizer-16 || echo /usr/lib/llvm-16/bin/llvm-symbolizer)}

run_one() {
  local bin=$1 seconds=$2 seeds=$3 name=$4
  mkdir -p "$bin/corpus/$name" "$bin/artifacts/$name"
  # -rss_limit_mb: the engine may buffer up to 512 MiB of write data by design.
  "$bin/fuzz_$name" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=3072 \
    -print_final_stats=1 -artifact_prefix="$bin/artifacts/$name/" \
    "$bin/corpus/$name" "$seeds/$name" >"$bin/logs/$name.log" 2>&1
  local rc=$?
  local runs
  runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$bin/logs/$name.log" | grep -oE "[0-9]+$")
  if ((rc == 0)); then
    printf '  %-18s %10s runs  ok\n' "$name" "${runs:-?}"
  else
    printf '  %-18s %10s runs  FAILED (exit %d), see %s\n' "$name" "${runs:-?}" "$rc" \
      "$bin/logs/$name.log"
    grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error)" "$bin/logs/$name.log" | head -3 | sed 's/^/      /'
  fi
  return "$rc"
}
export -f run_one

names=()
for f in "$bin"/fuzz_*; do
  [[ -x $f ]] && names+=("${f##*/fuzz_}")
done
if ((${#names[@]} == 0)); then
  echo "run.sh: no fuzz_* executables in $bin" >&2
  exit 1
fi
# xargs exits 123 when any command failed.
if ! printf '%s\n' "${names[@]}" |
  xargs -P "$jobs" -I{} bash -c 'run_one "$@"' _ "$bin" "$seconds" "$seeds" {}; then
  exit 1
fi
