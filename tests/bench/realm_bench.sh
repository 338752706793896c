#!/usr/bin/env bash
# The Maya Realm at scale (issue 16): etcd on network-namespace host E and hosts A, B, C (the
# setup of tests/e2e/realm_hosts.sh), then N thin realm volumes (REALM_BENCH_VOLUMES, default
# 200; REALM_BENCH_SIZE, default 64MiB; REALM_BENCH_REPLICAS, default 3) created one after the
# other with `maya volume create`, round-robin across the three hosts. It prints:
#   - the create rate and the p50/p90/max create latency, end to end (a create returns once
#     every replica is shared, or after its 30 s share wait with a warning: counted);
#   - the placement balance: replicas per host and per pool, from the records in etcd, and the
#     realm replicas each host's `maya replica list` shows;
#   - visibility: for ~20 of the creates, the time from starting the create on one host until
#     the next host's `maya volume list` shows the volume (polled as fast as the CLI answers;
#     the median poll is printed as the resolution), against that create's own latency;
#   - etcd: keys, value bytes and writes (revisions) per volume, the db size before and after;
#   - what one share per replica costs each host: `maya replica serve` processes, their RSS and
#     PSS sums, listening ports; the daemon's RSS, its CPU during the creates and over 10 s
#     with nothing happening (its realm thread re-reads every volume on every change and every
#     2 s), and etcd's writes over those 10 s (each wakes every host's realm thread);
#   - failures (a create that failed, warned or timed out) as counts, with the first messages.
# One share process and one port per replica: N volumes with 3 replicas on 3 hosts need N share
# ports on every host, so each host's [iscsi] share_ports is widened to 1000 ports (10000-10999).
# This is a benchmark, not a test: it reports and never fails on a figure; every wait is bounded.
#
#   bash tests/bench/realm_bench.sh MAYA_BINARY
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The setup's fail() exits; a benchmark counts instead, so only the setup may fail.
# shellcheck source=../e2e/realm_hosts.sh
source "$HERE/../e2e/realm_hosts.sh" "$@"
N=${REALM_BENCH_VOLUMES:-200}
SIZE=${REALM_BENCH_SIZE:-64MiB}
REPLICAS=${REALM_BENCH_REPLICAS:-3}
SAMPLES=20
SHARE_PORTS=10000-10999
HOSTS=(a b c)
if ! [[ $N =~ ^[0-9]+$ ]] || ((N == 0)); then fail "REALM_BENCH_VOLUMES=$N is not a positive number"; fi

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# etcdctl in host E's namespace, where etcd listens.
ectl() { netns_run e timeout -k 5 60 etcdctl --endpoints="$ETCD_ENDPOINT" "$@"; }
PREFIX=/maya/realms/e2e/
etcd_db_size() { ectl endpoint status -w json | jq '.[0].Status.dbSize'; }
etcd_revision() { ectl endpoint status -w json | jq '.[0].Status.header.revision'; }
# percentile P (0-100) of the numbers on stdin (nearest rank)
pct() { sort -n | awk -v p="$1" '{v[NR] = $1} END {if (!NR) {print "-"; exit}
  i = int((p * NR + 99) / 100); if (i < 1) i = 1; print v[i]}'; }
fmt_s() { awk -v ms="$1" 'BEGIN {if (ms == "-") print "-"; else printf "%.2f s", ms / 1000}'; }
# serve_pids H: the `maya replica serve` processes of host H (their command names H's config).
serve_pids() { pgrep -f -- "--config $(conf_of "$1") replica serve" || true; }
# rss_kib /proc/PID...: their resident memory, summed (KiB; a process gone counts 0).
rss_kib() {
  local s=0 d v
  for d; do
    v=$(awk '/^VmRSS:/ {print $2}' "$d/status" 2>/dev/null || true)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}
# pss_kib /proc/PID...: their proportional set size, summed (shared pages split among sharers).
pss_kib() {
  local s=0 d v
  for d; do
    v=$(awk '/^Pss:/ {print $2}' "$d/smaps_rollup" 2>/dev/null || true)
    s=$((s + ${v:-0}))
  done
  echo "$s"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

realm_hosts_up "${HOSTS[@]}"

step "[iscsi] share_ports = \"$SHARE_PORTS\" on each host (one port per shared replica)"
for h in "${HOSTS[@]}"; do
  on "$h" unload >/dev/null
  sed -i "s/^share_ports = .*/share_ports = \"$SHARE_PORTS\"/" "$(conf_of "$h")"
  grep -qx "share_ports = \"$SHARE_PORTS\"" "$(conf_of "$h")" || fail "no share_ports to edit"
  load_on "$h" || fail "maya load on $h"
done
for h in "${HOSTS[@]}"; do wait_for 30 "three hosts up on $h" all_up_on "$h"; done
pass

db_before=$(etcd_db_size)
rev_before=$(etcd_revision)
keys_before=$(ectl get --prefix "$PREFIX" --keys-only | grep -c . || true)

# create I HOST: one create, its latency (ms) appended to $T/latency; failures counted.
created=0 failed=0 warned=0 timed_out=0
: >"$T/latency"
: >"$T/errors"
note_error() { (($(wc -l <"$T/errors") < 5)) && echo "$1" >>"$T/errors"; return 0; }
create_result() {  # NAME RC OUTPUT-FILE
  if (($2 == 124 || $2 == 137)); then
    timed_out=$((timed_out + 1))
    note_error "$1: timed out (60 s)"
  elif (($2 != 0)); then
    failed=$((failed + 1))
    note_error "$1: $(tr '\n' ' ' <"$3" | cut -c1-200)"
  elif ! jq -e '.warnings | length == 0' "$3" >/dev/null 2>&1; then
    warned=$((warned + 1))
    note_error "$1: warned: $(jq -c .warnings "$3" 2>/dev/null | cut -c1-200)"
  else
    created=$((created + 1))
  fi
}
listed_on() { on "$1" volume list -o json 2>/dev/null | jq -e --arg v "$2" 'any(.[]; .name == $v)' >/dev/null; }

step "$N volumes of $SIZE, $REPLICAS replicas, created round-robin on ${HOSTS[*]}"
every=$(((N + SAMPLES - 1) / SAMPLES))
: >"$T/visible"
: >"$T/poll"
declare -A busy0
for h in "${HOSTS[@]}"; do busy0[$h]=$(cpu_ticks "$(daemon_pid "$h")"); done
etcd_busy0=$(cpu_ticks "$ETCD_PID")
t_start=$(now_ms)
for ((i = 1; i <= N; i++)); do
  name=$(printf 'bench%05d' "$i")
  h=${HOSTS[$(((i - 1) % 3))]}
  other=${HOSTS[$((i % 3))]}
  t0=$(now_ms)
  if ((i % every != 0)); then
    rc=0
    on "$h" volume create "$name" --size "$SIZE" --replicas "$REPLICAS" -o json >"$T/out" 2>&1 || rc=$?
    t1=$(now_ms)
  else
    # A visibility sample: the create runs in the background while the next host polls its list.
    on "$h" volume create "$name" --size "$SIZE" --replicas "$REPLICAS" -o json >"$T/out" 2>&1 &
    pid=$!
    vis_ms=-
    while (($(now_ms) - t0 < 60000)); do
      p0=$(now_ms)
      if listed_on "$other" "$name"; then
        vis_ms=$(($(now_ms) - t0))
        break
      fi
      echo $(($(now_ms) - p0)) >>"$T/poll"
    done
    rc=0
    wait "$pid" || rc=$?
    t1=$(now_ms)
    echo "$vis_ms $((t1 - t0))" >>"$T/visible"
  fi
  echo $((t1 - t0)) >>"$T/latency"
  create_result "$name" "$rc" "$T/out"
  if ((i % 50 == 0)); then echo "  ... $i volumes, $(((t1 - t_start) / 1000)) s" >&2; fi
done
t_total=$(($(now_ms) - t_start))
declare -A busy
for h in "${HOSTS[@]}"; do busy[$h]=$(($(cpu_ticks "$(daemon_pid "$h")") - busy0[$h])); done
etcd_busy=$(($(cpu_ticks "$ETCD_PID") - etcd_busy0))
pass "$created created, $warned warned, $failed failed, $timed_out timed out"

step "the realm settled: every host's replicas shared (up to 60 s)"
# A create that warned may still complete: the hosts' realm threads keep reconciling.
settled() {
  local h want got
  for h in "${HOSTS[@]}"; do
    want=$(ectl get --prefix "${PREFIX}volumes/" --print-value-only |
      jq -s --arg h "$(host_id_of "$h")" '[.[] | .replicas[] | select(.host == $h)] | length')
    got=$(ectl get --prefix "${PREFIX}shares/" --keys-only | grep -c "/$(host_id_of "$h")\$" || true)
    [[ $want == "$got" ]] || return 1
  done
}
declare -A HOST_ID
host_id_of() {
  [[ -n ${HOST_ID[$1]:-} ]] || HOST_ID[$1]=$(ectl get --prefix "${PREFIX}hosts/" --print-value-only |
    jq -rs --arg n "host-$1" '.[] | select(.name == $n) | .id')
  echo "${HOST_ID[$1]}"
}
for h in "${HOSTS[@]}"; do host_id_of "$h" >/dev/null; done
unsettled=0
for ((i = 0; i < 300; i++)); do
  settled && break
  sleep 0.2
done
settled || unsettled=1
pass "$([[ $unsettled == 0 ]] && echo settled || echo "NOT settled within 60 s")"

step "measures"
db_after=$(etcd_db_size)
rev_after=$(etcd_revision)
ectl get --prefix "$PREFIX" -w json >"$T/etcd.json"
keys_after=$(jq '.kvs | length' "$T/etcd.json")
key_bytes=$(jq '[.kvs[] | .key | @base64d | length] | add' "$T/etcd.json")
value_bytes=$(jq '[.kvs[] | .value | @base64d | length] | add' "$T/etcd.json")
jq -r '.kvs[] | .key | @base64d | sub("^/maya/realms/e2e/"; "") | split("/")[0]' "$T/etcd.json" |
  sort | uniq -c >"$T/kinds"
vol_value=$(jq '[.kvs[] | select(.key | @base64d | startswith("/maya/realms/e2e/volumes/")) |
  .value | @base64d | length] | (add / length)' "$T/etcd.json")
share_value=$(jq '[.kvs[] | select(.key | @base64d | startswith("/maya/realms/e2e/shares/")) |
  .value | @base64d | length] | if length > 0 then add / length else 0 end' "$T/etcd.json")
host_value=$(jq '[.kvs[] | select(.key | @base64d | startswith("/maya/realms/e2e/hosts/")) |
  .value | @base64d | length] | (add / length)' "$T/etcd.json")
records=$(jq -c '[.kvs[] | select(.key | @base64d | startswith("/maya/realms/e2e/volumes/")) |
  .value | @base64d | fromjson]' "$T/etcd.json")

# Per host: replicas placed (etcd), realm replicas listed by the host, shares, processes...
declare -A placed listed serves serve_rss serve_pss ports daemon_rss idle_cpu
for h in "${HOSTS[@]}"; do
  placed[$h]=$(jq --arg id "$(host_id_of "$h")" '[.[] | .replicas[] | select(.host == $id)] | length' <<<"$records")
  listed[$h]=$(on "$h" replica list -o json 2>/dev/null | jq '[.[] | select(.share.running)] | length' || echo "?")
  mapfile -t pids < <(serve_pids "$h")
  serves[$h]=${#pids[@]}
  serve_rss[$h]=0 serve_pss[$h]=0
  if ((${#pids[@]} > 0)); then
    serve_rss[$h]=$(rss_kib "${pids[@]/#//proc/}")
    serve_pss[$h]=$(pss_kib "${pids[@]/#//proc/}")
  fi
  ports[$h]=$(netns_exec "$h" ss -Htln | grep -c . || true)
  daemon_rss[$h]=$(rss_kib "/proc/$(daemon_pid "$h")")
done
# The daemons' CPU over 10 s with nothing happening: the realm threads' steady cost at N.
hz=$(getconf CLK_TCK)
declare -A c0
for h in "${HOSTS[@]}"; do c0[$h]=$(cpu_ticks "$(daemon_pid "$h")"); done
idle_rev0=$(etcd_revision)
sleep 10
idle_writes=$(($(etcd_revision) - idle_rev0))
for h in "${HOSTS[@]}"; do
  idle_cpu[$h]=$(awk -v d="$(($(cpu_ticks "$(daemon_pid "$h")") - c0[$h]))" -v hz="$hz" \
    'BEGIN {printf "%.1f", 100 * d / hz / 10}')
done
etcd_rss=$(rss_kib "/proc/$ETCD_PID")
pools=$(jq -r '[.[] | .replicas[] | "\(.host)/\(.pool)"] | group_by(.) | map(length) |
  "\(length) pools: min \(min) max \(max)"' <<<"$records")
pass

# ---- the table
lat=$(cat "$T/latency")
vis=$(awk '$1 != "-" {print $1}' "$T/visible")
vis_lat=$(awk '$1 != "-" {print $2}' "$T/visible")
nvis=$(grep -c . <<<"$vis" || true)
unseen=$(awk '$1 == "-"' "$T/visible" | grep -c . || true)
per() { awk -v a="$1" -v n="$N" 'BEGIN {printf "%.1f", a / n}'; }
kib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
row() { printf '%-66s %s\n' "$1" "$2"; }
echo
echo "realm bench: $N volumes of $SIZE (thin), $REPLICAS replicas, hosts ${HOSTS[*]}, etcd $(etcd --version | awk 'NR == 1 {print $3}'); $(nproc) CPUs"
row "measure" "value"
row "volumes created (ok / warned / failed / timed out)" "$created / $warned / $failed / $timed_out"
row "realm settled afterwards (every placed replica shared)" "$([[ $unsettled == 0 ]] && echo yes || echo NO)"
row "create rate, sequential, end to end" "$(awk -v n="$N" -v ms="$t_total" 'BEGIN {printf "%.2f volumes/s (%d s)", n * 1000 / ms, ms / 1000}')"
row "create latency p50 / p90 / max" "$(fmt_s "$(pct 50 <<<"$lat")") / $(fmt_s "$(pct 90 <<<"$lat")") / $(fmt_s "$(pct 100 <<<"$lat")")"
row "create latency, first 20 / last 20 (p50)" "$(fmt_s "$(head -20 <<<"$lat" | pct 50)") / $(fmt_s "$(tail -20 <<<"$lat" | pct 50)")"
row "visible on the next host, from create start: p50 / max" "$(fmt_s "$(pct 50 <<<"$vis")") / $(fmt_s "$(pct 100 <<<"$vis")") ($nvis samples, $unseen unseen in 60 s)"
row "  the same creates' own latency (p50)" "$(fmt_s "$(pct 50 <<<"$vis_lat")")"
row "  one \`maya volume list\` poll (p50 / max)" "$(fmt_s "$(pct 50 <"$T/poll")") / $(fmt_s "$(pct 100 <"$T/poll")")"
for h in "${HOSTS[@]}"; do
  row "host $h: replicas placed (etcd) / shared (replica list)" "${placed[$h]} / ${listed[$h]}"
done
row "placement balance, replicas per host: max / min" "$(printf '%s\n' "${placed[@]}" | pct 100) / $(printf '%s\n' "${placed[@]}" | pct 0)"
row "placement balance, replicas per pool" "$pools"
row "etcd keys under $PREFIX (before / after)" "$keys_before / $keys_after"
row "  by kind" "$(awk '{printf "%s %s, ", $2, $1}' "$T/kinds" | sed 's/, $//')"
row "etcd keys per volume" "$(per $((keys_after - keys_before)))"
row "etcd key + value bytes per volume (all keys / N)" "$(per "$key_bytes") + $(per "$value_bytes") B"
row "  value bytes: volume record / share / host record (mean)" "$(printf '%.0f / %.0f / %.0f B' "$vol_value" "$share_value" "$host_value")"
row "etcd writes (revisions) per volume" "$(per $((rev_after - rev_before)))"
row "etcd writes while idle (10 s)" "$idle_writes"
row "etcd db size before / after" "$((db_before / 1024)) KiB / $((db_after / 1024)) KiB"
row "etcd RSS / CPU during the creates" "$(kib "$etcd_rss") / $(awk -v t="$etcd_busy" -v hz="$hz" 'BEGIN {printf "%.1f s", t / hz}')"
for h in "${HOSTS[@]}"; do
  row "host $h: share processes / RSS sum / PSS sum / listening ports" "${serves[$h]} / $(kib "${serve_rss[$h]}") / $(kib "${serve_pss[$h]}") / ${ports[$h]}"
done
for h in "${HOSTS[@]}"; do
  row "host $h: daemon RSS / CPU during the creates / CPU idle (10 s)" "$(kib "${daemon_rss[$h]}") / $(awk -v t="${busy[$h]}" -v hz="$hz" 'BEGIN {printf "%.1f s", t / hz}') / ${idle_cpu[$h]} %"
done
if [[ -s $T/errors ]]; then
  echo "first failures:"
  sed 's/^/  /' "$T/errors"
fi
