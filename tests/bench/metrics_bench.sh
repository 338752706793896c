#!/usr/bin/env bash
# The cost of one scrape of GET /metrics with N jiva volumes (default 100, 1 replica each, each
# its own target process): the daemon lists the volumes (each target's status) and asks each
# target for its I/O counters. Prints the median and worst of 10 scrapes, and the daemon's own
# maya_scrape_seconds. A benchmark, not a test.
#
#   bash tests/bench/metrics_bench.sh /path/to/maya [N]
set -euo pipefail

n=${2:-100}
# A daemon in a temp root with ports of its own, and its cleanup (the jiva tests' setup).
# shellcheck source=tests/integration/jiva_lib.sh
source "$(dirname "$0")/../integration/jiva_lib.sh" "${1:?usage: $0 MAYA_BINARY [VOLUMES]}"
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
jiva_setup $((n + 10))
endpoint=$(maya status -o json | jq -r .metrics.endpoint)
start=$(date +%s)
for i in $(seq 1 "$n"); do
  maya volume create "b$i" --driver jiva --size 16MiB >/dev/null
done
echo "created $n jiva volumes in $(($(date +%s) - start)) s"
curl -sf -m 60 "$endpoint" >/dev/null  # warm
times=()
for _ in $(seq 1 10); do
  times+=("$(curl -sf -m 60 -o "$T/scrape.txt" -w '%{time_total}' "$endpoint")")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "scrape with $n volumes: median $(sed -n 5p <<<"$sorted") s, worst $(tail -1 <<<"$sorted") s (10 scrapes)"
echo "the daemon's own gathering time: $(grep '^maya_scrape_seconds ' "$T/scrape.txt" | cut -d' ' -f2) s"
echo "scrape size: $(wc -c <"$T/scrape.txt") bytes, $(grep -vc '^#' "$T/scrape.txt") series"
