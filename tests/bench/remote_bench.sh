#!/usr/bin/env bash
# Replicas on other hosts (issue 15) against replicas here, in one run on three network-namespace
# hosts a, b, c (tests/support/netns_hosts.sh: veths on one bridge, no netem), each running its
# own maya with its own root on tmpfs (a temp root on /dev/shm unless MAYA_BENCH_DIR names
# another directory), and two jiva volumes of REMOTE_BENCH_MIB (default 1024) MiB on host A:
#   local3   3 replicas in A's store                     (--replicas 3)
#   remote   1 replica in A's store, one shared by B, one shared by C  (--replica URI x 2)
# Each is written through its iSCSI target from A's namespace (qemu-img bench over libiscsi,
# on A's address), as tests/bench/pools_bench.sh does:
#   4k writes at depth 32, 100,000 of them, a 4k-aligned step of 257 x 4 KiB
#   1 MiB sequential writes at depth 32, twice the volume's size
# after a first pass of 1 MiB writes over the whole volume, so every run measures overwrites,
# and after a `sync`. The volumes take turns, ROUNDS (default 3) rounds; the medians are shown
# with the ratio remote/local3 (goals: >= 0.7 for 4k, >= 0.8 for 1 MiB) and the CPU time per
# write of the run's own processes (the hosts' and qemu-img's), and in brackets of the whole
# machine (busy jiffies of /proc/stat), which may be running other work meanwhile. For scale,
# one more share on B is written alone, directly from A (4k at depth 1 and 32, 1 MiB).
# Then the rebuild rate: one replica of each volume is removed and a fresh one added, which is
# rebuilt in full from the local replica: for local3 a new replica in A's store, for remote a
# new replica shared by C (the old share unshared and destroyed, so nothing is reused and the
# rebuild is full, not by regions). Shown: the wall time from `replica add` until every replica
# is RW, and inspect's last_rebuild (kind, bytes copied, rate).
# This is a benchmark, not a test: it prints figures and ratios and never fails on them. It
# exits 77, saying why, when it cannot run here (not root, no network namespaces, no qemu-img).
#
#   bash tests/bench/remote_bench.sh MAYA_BINARY
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
export TMPDIR=${MAYA_BENCH_DIR:-/dev/shm}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ $(id -u) -eq 0 ]] || { echo "SKIP: network namespaces need root"; exit 77; }
command -v nsenter >/dev/null || { echo "SKIP: nsenter is not installed"; exit 77; }
# qemu-img, jq, python3, the libiscsi tools; T, median, url_of, wait_healthy (with CONF: A's).
# shellcheck source=../integration/jiva_lib.sh
source "$HERE/../integration/jiva_lib.sh" "$@"
# shellcheck source=../support/netns_hosts.sh
source "$HERE/../support/netns_hosts.sh"
netns_hosts_require

ROUNDS=${ROUNDS:-3}
VOL_MIB=${REMOTE_BENCH_MIB:-1024}
MiB=$((1 << 20))
VOLUMES=(local3 remote)
HOSTS=(a b c)
WAIT=600 # the longest any one wait (a bench run, a rebuild) may take, in seconds

root_of() { echo "$T/hosts/$1"; }
conf_of() { echo "$(root_of "$1")/etc/maya.conf"; }
CONF=$(conf_of a) # jiva_lib's maya, url_of and wait_healthy talk to host A
# The CLI talks to a host's daemon over its Unix socket, so it runs from here; `load` runs in
# the host's network namespace (the daemon, its targets and shares stay there).
on() {
  local h=$1
  shift
  timeout --foreground -k 5 60 "$maya_bin" --config "$(conf_of "$h")" "$@" </dev/null
}
load_on() { netns_run "$1" timeout -k 5 60 "$maya_bin" --config "$(conf_of "$1")" load >/dev/null; }
fail() {
  echo "not ok - $*" >&2
  tail -n 20 "$(root_of a)/var/lib/maya/maya.log" >&2 2>/dev/null || true
  exit 1
}

# Every maya started here stops with its targets and shares; then anything left in the hosts'
# namespaces (netns_hosts_down kills what runs there), A's targets by their pidfiles, the files.
remote_cleanup() {
  set +e
  local h f
  for h in "${HOSTS[@]}"; do
    [[ -f $(conf_of "$h") ]] && on "$h" unload --stop-targets >/dev/null 2>&1
  done
  netns_hosts_down
  for h in "${HOSTS[@]}"; do
    for f in "$(root_of "$h")"/run/maya/targets/*.pid; do
      [[ -e $f ]] && pkill -9 -F "$f" 2>/dev/null
    done
  done
  rm -rf --one-file-system "$T"
}
trap remote_cleanup EXIT

# CPU time, in jiffies: busy_jiffies of the whole machine so far (user nice system irq softirq
# steal); ours_jiffies of the processes in the hosts' namespaces (every maya daemon, target and
# share of the run), as "PID JIFFIES" lines: the machine may be running other work meanwhile.
busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
ours_jiffies() {
  local h pid
  for h in "${HOSTS[@]}"; do
    for pid in $(ip netns pids "$(netns_host_ns "$h")" 2>/dev/null); do
      # utime and stime, fields 14 and 15 (12 and 13 after "PID (COMM) ", which may hold spaces)
      awk -v pid="$pid" '{sub(/^.*\) /, ""); print pid, $12 + $13}' "/proc/$pid/stat" 2>/dev/null
    done
  done
  return 0
}
# Runs a command and prints its output, then "cpu SECONDS": the user + system time of it and of
# every process it waited for (qemu-img's own CPU, after it exited).
RUSAGE_PY='import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(p.stdout, end="")
print("cpu %.6f" % (r.ru_utime + r.ru_stime))
sys.exit(p.returncode)'
# qemu-img bench from A's namespace at depth DEPTH (default 32); prints "SECONDS MACHINE_JIFFIES
# OUR_JIFFIES" (ours: the hosts' processes and qemu-img).
bench_secs() { # url count size step [depth]
  local out secs before ours_before qemu_cpu machine
  sync
  ours_before=$(ours_jiffies)
  before=$(busy_jiffies)
  out=$(python3 -c "$RUSAGE_PY" nsenter --net="/run/netns/$(netns_host_ns a)" -- \
    timeout -k 5 "$WAIT" qemu-img bench -f raw -w -c "$2" -d "${5:-32}" -s "$3" -S "$4" \
    --pattern=120 "$1" 2>&1) || fail "qemu-img bench $2 x $3: $out"
  machine=$(($(busy_jiffies) - before))
  secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds\./\1/p' <<<"$out")
  [[ -n $secs ]] || fail "qemu-img bench printed no time: $out"
  qemu_cpu=$(sed -n 's/^cpu //p' <<<"$out")
  python3 -c "
import sys
before = dict(map(int, l.split()) for l in sys.argv[1].splitlines() if l)
after = dict(map(int, l.split()) for l in sys.argv[2].splitlines() if l)
ours = sum(j - before.get(p, 0) for p, j in after.items()) + $qemu_cpu * $HZ
print($secs, $machine, round(ours))" "$ours_before" "$(ours_jiffies)"
}
IOPS_COUNT=100000
SEQ_COUNT=$((2 * VOL_MIB))
HZ=$(getconf CLK_TCK)
# "RATE OUR_CPU_US_PER_WRITE MACHINE_CPU_US_PER_WRITE"
measure() { # url count size step [depth]
  local run
  run=$(bench_secs "$@")
  python3 -c "s, m, o = map(float, '$run'.split()); print(round($2 / s), round(o / $HZ / $2 * 1e6), round(m / $HZ / $2 * 1e6))"
}
iops() { measure "$1" $IOPS_COUNT 4096 $((257 * 4096)) "${2:-32}"; }
mibs() { measure "$1" "$SEQ_COUNT" $MiB $MiB "${2:-32}"; }
now() { date +%s.%N; }
ratio() { python3 -c "print('%.2f' % ($1 / $2) if $2 else '-')"; }

# Waits (at most WAIT s) until every replica of VOLUME is RW and no rebuild runs.
wait_all_rw() {
  local json
  for ((i = 0; i < WAIT * 5; i++)); do
    json=$(on a volume inspect "$1" -o json 2>/dev/null) || { sleep 0.2; continue; }
    if [[ $(jq -r '[.replicas[].mode] | all(. == "RW")' <<<"$json") == true &&
      $(jq -r '.replicas | length' <<<"$json") == 3 && $(jq -r .rebuild <<<"$json") == null ]]; then
      return 0
    fi
    sleep 0.2
  done
  fail "$1: not every replica RW after $WAIT s: $(jq -c '{replicas: [.replicas[] | .id + " " + .mode], rebuild}' <<<"$json")"
}

mkdir -p "$T/hosts"
netns_hosts_up "${HOSTS[@]}" || fail "netns_hosts_up"
for h in "${HOSTS[@]}"; do
  mkdir -p "$(root_of "$h")"
  "$maya_bin" init --root "$(root_of "$h")" >/dev/null || fail "maya init on $h"
  sed -i "s/^discovery_port = .*/discovery_port = 0/; s/^listen = .*/listen = \"127.0.0.1:0\"/
          s/^address = \"127.0.0.1\"/address = \"$(netns_host_ip "$h")\"/" "$(conf_of "$h")"
  grep -qx "address = \"$(netns_host_ip "$h")\"" "$(conf_of "$h")" || fail "no [iscsi] address to edit"
  load_on "$h" || fail "maya load on $h"
done

# The shares: B and C one each for `remote`, the size of the volume.
declare -A URI
for h in b c; do
  on "$h" replica create default rep --size "$VOL_MIB" --thin >/dev/null || fail "replica create on $h"
  URI[$h]=$(on "$h" replica share default rep) || fail "replica share on $h"
done
on a volume create local3 --size "${VOL_MIB}MiB" --replicas 3 >/dev/null || fail "create local3"
on a volume create remote --size "${VOL_MIB}MiB" --replica "${URI[b]}" --replica "${URI[c]}" \
  >/dev/null || fail "create remote"
declare -A url placed
for v in "${VOLUMES[@]}"; do
  wait_all_rw "$v"
  wait_healthy "$v"
  url[$v]=$(url_of "$v")
  # Where each replica is: "A" for a file here, the host's letter for a share.
  placed[$v]=$(on a volume inspect "$v" -o json | jq -r --arg b "@$(netns_host_ip b):" \
    --arg c "@$(netns_host_ip c):" \
    '[.replicas[].uri | if contains($b) then "B" elif contains($c) then "C"
       elif startswith("file:") then "A" else . end] | join(",")')
done
[[ ${placed[local3]} == A,A,A && ${placed[remote]} == A,B,C ]] ||
  fail "replicas placed otherwise: local3 ${placed[local3]}, remote ${placed[remote]}"
for v in "${VOLUMES[@]}"; do # allocate first, so every run measures overwrites
  bench_secs "${url[$v]}" "$VOL_MIB" $MiB $MiB >/dev/null
done

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A runs cpu mcpu
for r in $(seq 1 "$ROUNDS"); do
  for v in "${VOLUMES[@]}"; do
    for kind in iops mibs; do
      read -r rate us mus < <("$kind" "${url[$v]}")
      runs[$v,$kind]+=" $rate"
      cpu[$v,$kind]+=" $us"
      mcpu[$v,$kind]+=" $mus"
    done
  done
  echo "round $r of $ROUNDS: 4k IOPS$(for v in "${VOLUMES[@]}"; do printf ' %s=%s' "$v" "${runs[$v,iops]##* }"; done);" \
    "1 MiB MiB/s$(for v in "${VOLUMES[@]}"; do printf ' %s=%s' "$v" "${runs[$v,mibs]##* }"; done)"
done
declare -A fig
for v in "${VOLUMES[@]}"; do
  for kind in iops mibs; do
    # shellcheck disable=SC2086  # the runs are words
    fig[$v,$kind]=$(median ${runs[$v,$kind]})
    # shellcheck disable=SC2086
    fig[$v,$kind,cpu]=$(median ${cpu[$v,$kind]})
    # shellcheck disable=SC2086
    fig[$v,$kind,mcpu]=$(median ${mcpu[$v,$kind]})
  done
done

# One share alone, written from A through its own target (no volume, no replication): what one
# remote replica serves at depth 1 and at depth 32. A write smaller than 64 KiB goes to a
# volume's replicas one after another, one command at a time (docs/pools_profile.md), so the
# depth-1 figure is the one that bounds `remote`'s 4k writes.
on b replica create default probe --size "$VOL_MIB" --thin >/dev/null || fail "replica create probe on b"
probe=$(on b replica share default probe) || fail "replica share probe on b"
probe=$(sed -E 's|^iscsi://([^:@]+):([^@]+)@|iscsi://\1%\2@|' <<<"$probe") # libiscsi's USER%SECRET
bench_secs "$probe" "$VOL_MIB" $MiB $MiB >/dev/null
for kind in iops1 iops mibs; do
  read -r rate us _ < <(if [[ $kind == iops1 ]]; then iops "$probe" 1; else "$kind" "$probe"; fi)
  fig[probe,$kind]=$rate
  fig[probe,$kind,cpu]=$us
done
on b replica unshare default probe >/dev/null || fail "replica unshare probe on b"
on b replica destroy default probe >/dev/null || fail "replica destroy probe on b"

# Rebuilds: each volume has been written over in full, so a full rebuild copies all of it.
# rebuild VOLUME [URI]: adds a fresh replica (in A's store, or URI's share) in place of one just
# removed, and times it until every replica is RW; sets fig[VOLUME,rb_*].
rebuild() {
  local v=$1 t0 t1 json
  local -a add=(volume replica add "$v")
  [[ -n ${2:-} ]] && add+=("$2")
  sync
  t0=$(now)
  on a "${add[@]}" >/dev/null || fail "replica add to $v"
  wait_all_rw "$v"
  t1=$(now)
  json=$(on a volume inspect "$v" -o json)
  fig[$v,rb_kind]=$(jq -r .last_rebuild.kind <<<"$json")
  fig[$v,rb_mib]=$(jq -r '.last_rebuild.done_bytes / 1048576 | round' <<<"$json")
  fig[$v,rb_rate]=$(jq -r '.last_rebuild.rate_bytes_per_s / 1048576' <<<"$json" | xargs printf '%.1f')
  fig[$v,rb_wall]=$(python3 -c "print('%.2f' % ($t1 - $t0))")
  fig[$v,rb_wall_rate]=$(python3 -c "print('%.1f' % (${fig[$v,rb_mib]} / ($t1 - $t0)))")
}
on a volume replica remove local3 r3 >/dev/null || fail "replica remove local3 r3"
rebuild local3
# C's replica of `remote` leaves the volume; C's share goes and a fresh one takes its place, so
# that nothing of the old replica (data, journal) is reused: the rebuild is full.
c_id=$(on a volume inspect remote -o json |
  jq -r --arg c "@$(netns_host_ip c):" '.replicas[] | select(.uri | contains($c)) | .id')
[[ -n $c_id ]] || fail "no replica of remote on C"
on a volume replica remove remote "$c_id" >/dev/null || fail "replica remove remote $c_id"
on c replica unshare default rep >/dev/null || fail "replica unshare on c"
on c replica destroy default rep >/dev/null || fail "replica destroy on c"
on c replica create default rep2 --size "$VOL_MIB" --thin >/dev/null || fail "replica create rep2 on c"
fresh=$(on c replica share default rep2) || fail "replica share rep2 on c"
rebuild remote "$fresh"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "hosts a b c: network namespaces on one bridge (veth, no netem), stores on" \
  "$(df -T "$T" | awk 'NR == 2 {print $2}'); volumes of $VOL_MIB MiB on A; median of $ROUNDS rounds"
echo "machine: $(nproc) CPUs, load average $load_before before the runs, $load_after after" \
  "(it may be shared with other work)"
printf '%-34s %14s %14s   %s\n' "volume (replicas on hosts)" "4k w, depth 32" "1 MiB seq w" \
  "CPU per write (4k, 1 MiB): ours [machine]"
for v in "${VOLUMES[@]}"; do
  printf '%-34s %9s IOPS %8s MiB/s   %s us, %s us [%s us, %s us]\n' "$v (${placed[$v]})" \
    "${fig[$v,iops]}" "${fig[$v,mibs]}" "${fig[$v,iops,cpu]}" "${fig[$v,mibs,cpu]}" \
    "${fig[$v,iops,mcpu]}" "${fig[$v,mibs,mcpu]}"
done
printf '%-34s %14s %14s\n' "remote / local3" "$(ratio "${fig[remote,iops]}" "${fig[local3,iops]}")" \
  "$(ratio "${fig[remote,mibs]}" "${fig[local3,mibs]}")"
printf '%-34s %14s %14s\n' "  goal" ">= 0.7" ">= 0.8"
printf '%-34s %14s %14s\n' "CPU per write (ours), remote / local3" \
  "$(ratio "${fig[remote,iops,cpu]}" "${fig[local3,iops,cpu]}")" \
  "$(ratio "${fig[remote,mibs,cpu]}" "${fig[local3,mibs,cpu]}")"
printf '%-34s %9s IOPS %8s MiB/s   %s us, %s us; 4k at depth 1: %s IOPS (%s us)\n' \
  "one share alone (B's, from A)" "${fig[probe,iops]}" "${fig[probe,mibs]}" \
  "${fig[probe,iops,cpu]}" "${fig[probe,mibs,cpu]}" "${fig[probe,iops1]}" "${fig[probe,iops1,cpu]}"
echo
printf '%-34s %8s %10s %12s %14s\n' "rebuild of one replica (from A's)" "kind" "copied" "wall" \
  "rate (inspect)"
printf '%-34s %8s %6s MiB %8s s %8s MiB/s   (%s MiB/s by the wall time)\n' \
  "local3: a new replica in A's store" "${fig[local3,rb_kind]}" "${fig[local3,rb_mib]}" \
  "${fig[local3,rb_wall]}" "${fig[local3,rb_rate]}" "${fig[local3,rb_wall_rate]}"
printf '%-34s %8s %6s MiB %8s s %8s MiB/s   (%s MiB/s by the wall time)\n' \
  "remote: a fresh share on C" "${fig[remote,rb_kind]}" "${fig[remote,rb_mib]}" \
  "${fig[remote,rb_wall]}" "${fig[remote,rb_rate]}" "${fig[remote,rb_wall_rate]}"
printf '%-34s %8s %10s %12s %8s\n' "remote / local3 (rates)" "" "" \
  "$(ratio "${fig[local3,rb_wall]}" "${fig[remote,rb_wall]}")" \
  "$(ratio "${fig[remote,rb_rate]}" "${fig[local3,rb_rate]}")"
