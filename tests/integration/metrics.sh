#!/usr/bin/env bash
# Prometheus metrics (issue 17) scraped by Debian's real Prometheus server: a daemon in a temp
# root with [metrics] listen on a free port, a jiva volume with 2 replicas written through
# iSCSI (qemu-io, libiscsi: no kernel initiator), and a private `prometheus` (its own TSDB
# directory and port; scrape_interval and scrape_timeout 5s, as the README advises) that must
# see, through /api/v1/query:
#   - rate(maya_volume_written_bytes_total[30s]) > 0 for the volume under load;
#   - maya_volume_health{state="degraded"} == 1 once a replica fails (fault injected);
# and `promtool check metrics` is clean on a scrape; `maya volume stats` shows the writes; a
# target that is alive but does not answer (SIGSTOP) has no health series rather than offline.
#
#   bash tests/integration/metrics.sh MAYA_BINARY
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

# shellcheck source=jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/jiva_lib.sh" "$@"
for tool in prometheus promtool curl qemu-io; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (packaging/install-deps.sh --with-tests)"; exit 77; }
done

prom=
writer=
# Stops the write loop and the qemu-io it runs (timeout passes the TERM on): the loop is
# stopped first so that it starts no new one.
stop_writer() {
  [[ -n $writer ]] || return 0
  kill -STOP "$writer" 2>/dev/null || true
  pkill -P "$writer" 2>/dev/null || true
  kill "$writer" 2>/dev/null || true
  kill -CONT "$writer" 2>/dev/null || true
  wait "$writer" 2>/dev/null || true
  writer=
}
cleanup() {
  stop_writer
  [[ -n $prom ]] && kill "$prom" 2>/dev/null && wait "$prom" 2>/dev/null
  jiva_cleanup
}
trap cleanup EXIT

jiva_setup  # [api] and [metrics] listen on port 0
endpoint=$(maya status -o json | jq -r .metrics.endpoint)
[[ $endpoint == http://127.0.0.1:*/metrics ]] || fail "maya status shows no metrics endpoint: $(maya status -o json | jq -c .metrics)"
hostport=${endpoint#http://}
hostport=${hostport%/metrics}
ok "metrics served on $endpoint ([metrics] listen port 0)"

started=$(date +%s)
maya volume create m --driver jiva --size 64MiB --replicas 2 >/dev/null || fail "create m"
wait_healthy m
url=$(url_of m)

# A scrape is valid exposition text by Prometheus' own linter.
check_scrape() {
  curl -sf -m 10 "$endpoint" >"$T/scrape.txt" || fail "GET $endpoint"
  promtool check metrics <"$T/scrape.txt" >"$T/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(cat "$T/promtool.out")"
  grep -q "^maya_build_info{version=" "$T/scrape.txt" || fail "no maya_build_info in the scrape"
  grep -q "^maya_volume_health{driver=\"jiva\",state=\"$1\",volume=\"m\"} 1$" "$T/scrape.txt" ||
    fail "the scrape does not show m $1: $(grep maya_volume_health "$T/scrape.txt")"
}
check_scrape healthy
ok "promtool check metrics: a scrape is clean"
# A local volume: what is knowable without a target (size, allocation, health), no I/O series.
maya volume create l --driver local --size 32MiB >/dev/null || fail "create l"
check_scrape healthy
grep -q '^maya_volume_size_bytes{driver="local",volume="l"} 33554432$' "$T/scrape.txt" ||
  fail "no size for local volume l: $(grep 'volume="l"' "$T/scrape.txt")"
grep -q '^maya_volume_health{driver="local",state="healthy",volume="l"} 1$' "$T/scrape.txt" ||
  fail "local volume l is not healthy: $(grep 'volume="l"' "$T/scrape.txt")"
! grep -q '^maya_volume_read_ops_total{driver="local"' "$T/scrape.txt" || fail "a local volume shows I/O counters maya does not have"
grep -q '^maya_pool_state{pool="default",state="online"} 1$' "$T/scrape.txt" ||
  fail "the default pool is not online: $(grep maya_pool_state "$T/scrape.txt")"
ok "a local volume has size and health only; the default pool is online"

# Prometheus on a free port of its own, its data in the temp root.
prom_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$T/prometheus.yml" <<YAML
global:
  scrape_interval: 5s
  evaluation_interval: 5s
scrape_configs:
  - job_name: maya
    scrape_timeout: 5s
    static_configs:
      - targets: ["$hostport"]
YAML
promtool check config "$T/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$T/prometheus.log" 2>&1 &
prom=$!
api=http://127.0.0.1:$prom_port/api/v1
for _ in $(seq 1 300); do curl -sf -m 2 "http://127.0.0.1:$prom_port/-/ready" >/dev/null && break; sleep 0.1; done
curl -sf -m 2 "http://127.0.0.1:$prom_port/-/ready" >/dev/null || fail "prometheus is not ready: $(tail -5 "$T/prometheus.log")"

# The number of series a PromQL query returns now.
query() { curl -sf -m 5 --get --data-urlencode "query=$1" "$api/query" | jq -r '.data.result | length'; }
# Waits (at most $2 s) until query $1 returns a series.
wait_query() {
  local n=0
  for _ in $(seq 1 $(($2 * 2))); do
    n=$(query "$1" || echo 0)
    [[ $n -ge 1 ]] && return 0
    sleep 0.5
  done
  fail "Prometheus never answered $1 with a series in $2 s: $(curl -s -m 5 "$api/targets" | jq -c '.data.activeTargets[] | {health, lastError}')"
}
wait_query 'up{job="maya"} == 1' 60
ok "prometheus scrapes the daemon (up == 1)"

# Writes of 64 KiB through iSCSI, in a loop, until the test ends.
io_loop() {
  local i=0
  while :; do
    timeout 10 qemu-io -f raw -c "write -P $((i % 250 + 1)) $(((i % 512) * 65536)) 64k" "$url" >/dev/null 2>&1 || sleep 0.05
    i=$((i + 1))
  done
}
io_loop &
writer=$!
wait_query 'rate(maya_volume_written_bytes_total{volume="m",driver="jiva"}[30s]) > 0' 90
ok "rate(maya_volume_written_bytes_total[30s]) > 0 for the volume under load"
wait_query 'histogram_quantile(0.99, rate(maya_volume_write_seconds_bucket{volume="m"}[30s])) > 0' 60
ok "the write latency histogram gives a p99"

stats=$(maya volume stats m --interval 2s -o json) || fail "maya volume stats m"
jq -e '.write.iops > 0 and .write.bytes_per_second > 0 and .write.latency_seconds.p99 > 0' <<<"$stats" >/dev/null ||
  fail "maya volume stats shows no writes: $stats"
maya volume stats m --interval 500ms | grep -q "^write " || fail "maya volume stats (table): $(maya volume stats m --interval 500ms)"
ok "maya volume stats: $(jq -r '"\(.write.iops | floor) write IOPS, p99 \(.write.latency_seconds.p99 * 1000 | floor) ms"' <<<"$stats")"

curl -sf -m 10 --unix-socket "$(target_socket m)" -X POST http://target/v1/replicas/r2/fault >/dev/null ||
  fail "cannot inject a fault into r2"
wait_query 'maya_volume_health{volume="m",state="degraded"} == 1' 60
wait_query 'maya_volume_replica_mode{volume="m",replica="r2",mode="ERR"} == 1' 30
ok "maya_volume_health{state=\"degraded\"} == 1 after replica r2 failed"
check_scrape degraded
stop_writer
grep -q '^maya_target_start_time_seconds{driver="jiva",volume="m"} [1-9]' "$T/scrape.txt" ||
  fail "no start time for m's target: $(grep maya_target_start_time "$T/scrape.txt")"
grep -q '^maya_volume_io_errors_total{driver="jiva",op="write",volume="m"} ' "$T/scrape.txt" ||
  fail "no I/O error counter for m: $(grep maya_volume_io_errors "$T/scrape.txt")"
ok "the scrape has m's target start time and I/O error counters"

# A target that is alive but does not answer (stopped: its pidfile is still held) holds no
# scrape, and is not called offline: its volume has no health series while it does not answer.
target_pid=$(cat "$T/run/maya/targets/m.pid")
kill -STOP "$target_pid"
s=$(ms)
curl -sf -m 20 "$endpoint" >"$T/scrape.txt" || { kill -CONT "$target_pid"; fail "no scrape while m's target is stopped"; }
took=$(($(ms) - s))
kill -CONT "$target_pid"
! grep -q '^maya_volume_health{driver="jiva",.*volume="m"}' "$T/scrape.txt" ||
  fail "m has a health while its target is stopped: $(grep 'maya_volume_health.*volume="m"' "$T/scrape.txt")"
grep -q '^maya_volume_size_bytes{driver="jiva",volume="m"} ' "$T/scrape.txt" ||
  fail "m is missing from the scrape while its target is stopped"
ok "a stopped (busy) target: the scrape answered in $took ms, m without a health series"

# HEAD /metrics: the headers only.
# (a raw exchange: curl -I would not read a body that came anyway)
head_bytes=$(python3 - "${hostport%:*}" "${hostport##*:}" <<'PY'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b"HEAD /metrics HTTP/1.1\r\nHost: maya\r\nConnection: close\r\n\r\n")
data = b""
while chunk := s.recv(65536):
    data += chunk
head, _, body = data.partition(b"\r\n\r\n")
print(len(body) if head.startswith(b"HTTP/1.1 200") else "no 200: " + head.decode(errors="replace"))
PY
) || fail "HEAD $endpoint"
[[ $head_bytes == 0 ]] || fail "HEAD $endpoint: $head_bytes (bytes of body sent)"
ok "HEAD /metrics answers without a body"

ok "metrics test took $(($(date +%s) - started)) s after the daemon started"
