#!/usr/bin/env bash
# Replicated jiva volumes, in one run on one store (a temp root on /dev/shm unless
# MAYA_BENCH_DIR names another directory):
#   1. 4k random write IOPS (qemu-img bench, depth 32) of a 3-replica volume against a
#      1-replica volume                                              goal: ratio >= 0.7
#   2. rebuild of a thin 10 GiB volume holding 1 GiB (replica add, rebuild --wait) against
#      copying that 1 GiB with dd + fdatasync                       goal: ratio <= 1.5
#   3. a replica away for AWAY_SECONDS (default 60) while 1 MiB is written every second: its
#      resync (regions written meanwhile) against a full rebuild of the same volume
# This is a benchmark, not a test: it prints figures and ratios and never fails on them.
#
#   bash tests/bench/replica_bench.sh MAYA_BINARY [--iops-only]
#
# --iops-only runs measure 1 alone (about 30 s; tests/bench/datapath_bench.sh uses it).
set -euo pipefail
export TMPDIR=${MAYA_BENCH_DIR:-/dev/shm}
# shellcheck source=../integration/jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/jiva_lib.sh" "$1"
iops_only=
if [[ ${2:-} == --iops-only ]]; then iops_only=1; fi
command -v qemu-io >/dev/null || { echo "SKIP: qemu-io is not installed"; exit 77; }
AWAY=${AWAY_SECONDS:-60}
jiva_setup
MiB=$((1 << 20))
declare -A fig

secs() { python3 -c "import time; print('%.3f' % time.time())"; }
elapsed() { python3 -c "print('%.2f' % ($2 - $1))"; }
iops() {  # url: 4k random writes at depth 32
  local out
  out=$(qemu-img bench -f raw -w -c 100000 -d 32 -s 4096 -S 1048576 "$1" 2>&1)
  python3 -c "import re,sys; t=float(re.search(r'Run completed in ([0-9.]+) seconds', sys.argv[1]).group(1)); print(round(100000/t))" "$out"
}
rebuild_time() {  # volume: seconds until healthy after the rebuild started
  local t0
  t0=$(secs)
  maya volume rebuild "$1" --wait >/dev/null 2>&1 || fail "rebuild $1"
  wait_healthy "$1" 600
  elapsed "$t0" "$(secs)"
}

# 1. IOPS, 3 replicas against 1
maya volume create one --size 1GiB --replicas 1 >/dev/null
maya volume create three --size 1GiB --replicas 3 >/dev/null
head -c $((1024 * MiB)) /dev/zero | tr '\0' 'x' >"$T/fill.raw"
for v in one three; do  # allocate first, so both measure overwrites
  qemu-img convert -n -f raw -O raw "$T/fill.raw" "$(url_of $v)"
done
fig[iops1]=$(iops "$(url_of one)")
fig[iops3]=$(iops "$(url_of three)")
rm -f "$T/fill.raw"
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
line_iops() {
  printf '%-62s %8s IOPS %8s IOPS %7s\n' "4k random writes, depth 32: 3 replicas vs 1 replica" "${fig[iops3]}" "${fig[iops1]}" "$(ratio "${fig[iops3]}" "${fig[iops1]}")"
}
# shellcheck source=record.sh
source "$(dirname "${BASH_SOURCE[0]}")/record.sh"
record replicas_3v1 "${fig[iops3]}" "${fig[iops1]}" IOPS
if [[ -n $iops_only ]]; then
  echo "store: $T/opt/maya-store on $(df -T "$T" | awk 'NR == 2 {print $2}')"
  line_iops
  exit 0
fi

# 2. Rebuild of 1 GiB in a thin 10 GiB volume, against copying 1 GiB
maya volume create big --size 10GiB --replicas 1 >/dev/null
head -c $((1024 * MiB)) /dev/urandom >"$T/gig.raw"
qemu-img convert -n -f raw -O raw "$T/gig.raw" "$(url_of big)"
t0=$(secs)
dd if="$T/opt/maya-store/big/r1/data.img" of="$T/copy.raw" bs=1M count=1024 conv=fdatasync status=none
fig[copy]=$(elapsed "$t0" "$(secs)")
rm -f "$T/copy.raw" "$T/gig.raw"
maya volume replica add big >/dev/null
fig[rebuild]=$(rebuild_time big)
fig[rebuild_alloc]=$(du -B1 "$T/opt/maya-store/big/r2/data.img" | cut -f1)

# 3. A replica away for a while: resync of what was written meanwhile, against a full rebuild
curl -sf --unix-socket "$(target_socket big)" -X POST http://target/v1/replicas/r2/fault >/dev/null
url=$(url_of big)
for i in $(seq 1 "$AWAY"); do
  qemu-io -f raw -c "write -P $((i % 250)) $(((RANDOM % 10240) * MiB)) 1M" "$url" >/dev/null 2>&1 || true
  sleep 1
done
fig[resync]=$(rebuild_time big)
maya volume replica remove big r2 >/dev/null
maya volume replica add big >/dev/null
fig[full]=$(rebuild_time big)

echo "store: $T/opt/maya-store on $(df -T "$T" | awk 'NR == 2 {print $2}')"
printf '%-62s %12s %12s %7s\n' "measure" "maya" "reference" "ratio"
line_iops
printf '%-62s %10s s %10s s %7s\n' "rebuild 1 GiB of a thin 10 GiB volume vs dd of 1 GiB" "${fig[rebuild]}" "${fig[copy]}" "$(ratio "${fig[rebuild]}" "${fig[copy]}")"
printf '%-62s %10s s %10s s %7s\n' "resync after ${AWAY} s away (1 MiB/s written) vs full rebuild" "${fig[resync]}" "${fig[full]}" "$(ratio "${fig[resync]}" "${fig[full]}")"
echo "the rebuilt replica of the 10 GiB volume allocates $((fig[rebuild_alloc] / MiB)) MiB (thin stays thin)"
