#!/usr/bin/env bash
# Replicas on pools (issue 14), in one run: three pools p1, p2, p3, each XFS on a loop device
# over its own sparse file on tmpfs (a temp root on /dev/shm unless MAYA_BENCH_DIR names another
# directory), and three jiva volumes of POOLS_BENCH_MIB (default 1024) MiB:
#   one    1 replica on p1
#   three  3 replicas on p1, p2, p3                        (--pools p1,p2,p3)
#   same   3 replicas on p1                                (--pools p1,p1,p1 --allow-same-pool)
# Each is written through its iSCSI target (qemu-img bench, libiscsi):
#   4k writes at depth 32, 100,000 of them, a 4k-aligned step of 257 x 4 KiB (offsets wrap
#     over the whole volume, so successive writes land far apart)
#   1 MiB sequential writes at depth 32, twice the volume's size
# after a first pass of 1 MiB writes over the whole volume, so every run measures overwrites.
# Each run starts after a `sync`, so that it never pays for the writeback of the one before.
# The volumes take turns, ROUNDS (default 3) rounds, and the median of each is shown, with the
# ratios three/one (goal >= 0.9 for both) and same/three, and the CPU time the whole machine
# spent per write (busy jiffies of /proc/stat over the run): when the machine is saturated, the
# ratio of those is what bounds three/one.
# This is a benchmark, not a test: it prints figures and ratios and never fails on them.
#
#   bash tests/bench/pools_bench.sh MAYA_BINARY
set -euo pipefail
export TMPDIR=${MAYA_BENCH_DIR:-/dev/shm}
# shellcheck source=../integration/jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/jiva_lib.sh" "$@"
[[ $(id -u) -eq 0 ]] || { echo "SKIP: loop devices and mounts need root"; exit 77; }
[[ -e /dev/loop-control ]] || { echo "SKIP: no /dev/loop-control"; exit 77; }
for tool in mkfs.xfs losetup findmnt; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
ROUNDS=${ROUNDS:-3}
VOL_MIB=${POOLS_BENCH_MIB:-1024}
MiB=$((1 << 20))
D=$T/disks
POOLS=(p1 p2 p3)
VOLUMES=(one three same)

# The volumes first (their targets hold files in the pools), then the pools, then the daemon and
# any target left; then whatever the daemon could not undo: mounts of the pools, loop devices
# over our files. Only our own things: targets by their pidfiles, loop devices by their files.
pools_cleanup() {
  set +e
  for v in "${VOLUMES[@]}"; do maya volume delete "$v" --force >/dev/null 2>&1; done
  for p in "${POOLS[@]}"; do maya pool destroy "$p" --force >/dev/null 2>&1; done
  maya unload --stop-targets >/dev/null 2>&1
  for f in "$T"/run/maya/targets/*.pid; do
    [[ -e $f ]] && pkill -9 -F "$f" 2>/dev/null
  done
  for mp in "$T"/var/lib/maya/pools/*; do
    mountpoint -q "$mp" 2>/dev/null && umount "$mp"
  done
  for img in "$D"/*.img; do
    [[ -e $img ]] || continue
    for dev in $(losetup -j "$img" -O NAME -n 2>/dev/null); do losetup -d "$dev"; done
  done
  rm -rf "$T"
}
trap pools_cleanup EXIT

# Busy CPU time of the whole machine so far, in jiffies (user nice system irq softirq steal).
busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# qemu-img bench prints "Run completed in S seconds."; this prints "S BUSY_JIFFIES".
bench_secs() {  # url count size step
  local out secs before
  sync
  before=$(busy_jiffies)
  out=$(qemu-img bench -f raw -w -c "$2" -d 32 -s "$3" -S "$4" --pattern=120 "$1" 2>&1) ||
    fail "qemu-img bench $2 x $3 on $1: $out"
  secs=$(sed -n 's/^Run completed in \([0-9.]*\) seconds\./\1/p' <<<"$out")
  [[ -n $secs ]] || fail "qemu-img bench printed no time: $out"
  echo "$secs $(($(busy_jiffies) - before))"
}
IOPS_COUNT=100000
SEQ_COUNT=$((2 * VOL_MIB))
HZ=$(getconf CLK_TCK)
# "RATE CPU_US_PER_WRITE"
measure() {  # url count size step
  local run
  run=$(bench_secs "$@")
  python3 -c "s, j = map(float, '$run'.split()); print(round($2 / s), round(j / $HZ / $2 * 1e6))"
}
iops() { measure "$1" $IOPS_COUNT 4096 $((257 * 4096)); }
mibs() { measure "$1" "$SEQ_COUNT" $MiB $MiB; }

jiva_setup
mkdir -p "$D"
# p1 holds one replica of `one` and of `three` and all three of `same`: room for five volumes.
for p in "${POOLS[@]}"; do
  truncate -s $(((5 * VOL_MIB + 1024) * MiB)) "$D/$p.img"
  maya pool create "$p" "$D/$p.img" >/dev/null || fail "pool create $p"
done
maya volume create one --size "${VOL_MIB}MiB" --replicas 1 --pools p1 >/dev/null 2>&1 || fail "create one"
maya volume create three --size "${VOL_MIB}MiB" --replicas 3 --pools p1,p2,p3 >/dev/null 2>&1 ||
  fail "create three"
maya volume create same --size "${VOL_MIB}MiB" --replicas 3 --pools p1,p1,p1 --allow-same-pool \
  >/dev/null 2>&1 || fail "create same"
declare -A url placed
for v in "${VOLUMES[@]}"; do
  wait_healthy "$v"
  url[$v]=$(url_of "$v")
  placed[$v]=$(maya volume inspect "$v" -o json | jq -r '[.replicas[].pool] | join(",")')
done
[[ ${placed[one]} == p1 && ${placed[three]} == p1,p2,p3 && ${placed[same]} == p1,p1,p1 ]] ||
  fail "replicas placed otherwise: one ${placed[one]}, three ${placed[three]}, same ${placed[same]}"
for v in "${VOLUMES[@]}"; do  # allocate first, so every run measures overwrites
  bench_secs "${url[$v]}" "$VOL_MIB" $MiB $MiB >/dev/null
done

declare -A runs cpu
for r in $(seq 1 "$ROUNDS"); do
  for v in "${VOLUMES[@]}"; do
    for kind in iops mibs; do
      read -r rate us < <("$kind" "${url[$v]}")
      runs[$v,$kind]+=" $rate"
      cpu[$v,$kind]+=" $us"
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
  done
done

ratio() { python3 -c "print('%.2f' % ($1 / $2) if $2 else '-')"; }
echo "pools: ${POOLS[*]}, XFS on loop devices over sparse files on $(df -T "$D" | awk 'NR == 2 {print $2}');" \
  "volumes of $VOL_MIB MiB; median of $ROUNDS rounds"
printf '%-34s %14s %14s   %s\n' "volume (replicas on pools)" "4k w, depth 32" "1 MiB seq w" \
  "CPU per write (4k, 1 MiB)"
for v in "${VOLUMES[@]}"; do
  printf '%-34s %9s IOPS %8s MiB/s   %s us, %s us\n' "$v (${placed[$v]})" "${fig[$v,iops]}" \
    "${fig[$v,mibs]}" "${fig[$v,iops,cpu]}" "${fig[$v,mibs,cpu]}"
done
printf '%-34s %14s %14s\n' "three / one (goal >= 0.9)" "$(ratio "${fig[three,iops]}" "${fig[one,iops]}")" \
  "$(ratio "${fig[three,mibs]}" "${fig[one,mibs]}")"
printf '%-34s %14s %14s\n' "same / three" "$(ratio "${fig[same,iops]}" "${fig[three,iops]}")" \
  "$(ratio "${fig[same,mibs]}" "${fig[three,mibs]}")"
printf '%-34s %14s %14s\n' "CPU per write, one / three" \
  "$(ratio "${fig[one,iops,cpu]}" "${fig[three,iops,cpu]}")" \
  "$(ratio "${fig[one,mibs,cpu]}" "${fig[three,mibs,cpu]}")"
