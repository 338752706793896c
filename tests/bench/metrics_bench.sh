#!/usr/bin/env bash
# The cost of one scrape of GET /metrics with N jiva volumes (default 100, 1 replica each, each
# its own target process): the daemon lists the volumes (each target's status) and asks each
# target for its I/O counters. Prints the median and worst of 10 scrapes, and the daemon's own
# maya_scrape_seconds. A benchmark, not a test.
#
#   bash tests/bench/metrics_bench.sh /path/to/maya [N]
set -euo pipefail

maya_bin=${1:?usage: $0 MAYA_BINARY [VOLUMES]}
n=${2:-100}
for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/maya-metrics-bench.XXXXXX")
CONF=$T/etc/maya.conf
maya() { "$maya_bin" --config "$CONF" "$@"; }
cleanup() {
  set +e
  maya unload --stop-targets >/dev/null 2>&1
  for f in "$T"/run/maya/targets/*.pid; do
    [[ -e $f ]] && pkill -9 -F "$f" 2>/dev/null
  done
  rm -rf "$T"
}
trap cleanup EXIT

"$maya_bin" init --root "$T" >/dev/null
first_port=$((30000 + (RANDOM % 100) * (n + 10)))
sed -i "s/^listen = .*/listen = \"127.0.0.1:0\"/; s/^discovery_port = .*/discovery_port = 0/; s/^target_ports = .*/target_ports = \"$first_port-$((first_port + n + 9))\"/" "$CONF"
maya load >/dev/null
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
