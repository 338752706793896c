#!/usr/bin/env bash
# Every data-path benchmark in one run, and one table of ratios against each one's reference:
#   - iscsi_bench.sh: 4k reads and writes at depth 32 through maya's iSCSI target vs tgtd (tmpfs);
#   - replica_bench.sh --iops-only: 4k random writes, a 3-replica jiva volume vs a 1-replica one;
#   - container_bench.sh: fio in containers, a jiva volume attached through FUSE vs a local
#     volume (a loop device), 1 MiB sequential and 4k random writes.
# The table says which goal (issue 18) each ratio meets. This is a regression guard to run by
# hand after a change to the data path, not a CI test: it never fails on a ratio. It takes about
# five minutes; each benchmark's own output is kept in the directory it names.
#
#   bash tests/bench/datapath_bench.sh MAYA_BINARY
set -euo pipefail

maya=$(realpath "${1:?usage: datapath_bench.sh MAYA_BINARY}")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/maya-datapath.XXXXXX")
export BENCH_TSV=$out/figures.tsv
: >"$BENCH_TSV"

run() {  # name script args...
  local name=$1 rc=0
  shift
  echo "== $name ($(date +%T))" >&2
  bash "$here/$1" "${@:2}" >"$out/$name.log" 2>&1 || rc=$?
  if ((rc == 77)); then
    echo "   skipped: $(grep -m1 '^SKIP' "$out/$name.log" || echo "exit 77")" >&2
  elif ((rc != 0)); then
    echo "   failed (exit $rc), see $out/$name.log" >&2
  fi
}
run iscsi iscsi_bench.sh "$maya"
run replicas replica_bench.sh "$maya" --iops-only
run container container_bench.sh "$maya"

cores=$(nproc)
echo "data path, one run: $(uname -r), $cores cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(date -u +%F)"
python3 - "$BENCH_TSV" <<'PY'
import sys
goals = {  # key: (label, reference, goal)
    "iscsi_write4k": ("4k write, depth 32, iSCSI (tmpfs)", "tgtd", 3.0),
    "iscsi_read4k": ("4k read, depth 32, iSCSI (tmpfs)", "tgtd", 3.0),
    "fuse_rand_write": ("4k random write in a container, FUSE", "loop", 0.9),
    "fuse_seq_write": ("1 MiB sequential write in a container, FUSE", "loop", 0.9),
    "replicas_3v1": ("4k random write, 3 replicas (tmpfs)", "1 replica", 0.95),
}
seen = {}
for line in open(sys.argv[1]):
    key, maya, ref, unit = line.rstrip("\n").split("\t")
    seen[key] = (float(maya or 0), float(ref or 0), unit)
print(f"{'figure':<46} {'maya':>13} {'reference':>22} {'ratio':>6} {'goal':>6}")
for key, (label, refname, goal) in goals.items():
    if key not in seen:
        print(f"{label:<46} {'(not measured: see the log)':>38}")
        continue
    maya, ref, unit = seen[key]
    ratio = maya / ref if ref else 0.0
    mark = "met" if ratio >= goal else "MISSED"
    print(f"{label:<46} {maya:>8.0f} {unit:<5}"
          f"{ref:>9.0f} {unit:<5} {refname:<7} {ratio:>5.2f} {'>= ' + str(goal):>6} {mark}")
PY
echo "each benchmark's output: $out"
