#!/usr/bin/env bash
# maya's iSCSI target against tgtd (Debian tgt) on the same tmpfs-backed 1 GiB file, in one run.
#
#   bash tests/bench/iscsi_bench.sh MAYA_BINARY
#
# For each target: qemu-img bench 4k reads and 4k writes at depth 32 and 256k reads at depth 16,
# and iscsi-perf -m 32 -r (4k random reads, 10 s). Prints one line per measure with both figures
# and the maya/tgtd ratio, then the initiator's CPU time per 4k request against each target.
# This is a benchmark, not a test: it never fails on a ratio.
set -euo pipefail

maya=${1:?usage: iscsi_bench.sh MAYA_BINARY}
for tool in tgtd tgtadm qemu-img iscsi-perf; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (see packaging/install-deps.sh)"; exit 77; }
done
[[ $(id -u) -eq 0 ]] || { echo "SKIP: tgtd needs root"; exit 77; }

work=$(mktemp -d /dev/shm/maya-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do { kill -9 "$pid" && wait "$pid"; } 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

disk=$work/disk.img
dd if=/dev/zero of="$disk" bs=1M count=1024 status=none  # allocated, so reads touch real pages
iqn=iqn.2026-11.io.maya:bench

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# qemu-img bench prints "Run completed in S seconds."; report requests (or MiB) per second, and
# the client's own CPU time per request in microseconds (user + system, from getrusage): the
# initiator is one thread, and when it is busy all the time it, not the target, sets the rate.
qemu_bench() {  # url count depth size [-w]  ->  "RATE CLIENT_US_PER_REQUEST"
  local url=$1 count=$2 depth=$3 size=$4; shift 4
  python3 - "$url" "$count" "$depth" "$size" "$@" <<'PY'
import re, resource, subprocess, sys
url, count, depth, size, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
out = subprocess.run(["qemu-img", "bench", "-f", "raw", "-c", str(count), "-d", depth, "-s", size,
                      *rest, url], capture_output=True, text=True).stdout
m = re.search(r"Run completed in ([0-9.]+) seconds", out)
use = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu_us = (use.ru_utime + use.ru_stime) * 1e6 / count
print(f"{round(count / float(m.group(1))) if m else 0} {cpu_us:.1f}")
PY
}

iscsi_perf() {  # url: average IOPS of 10 s of 4k random reads at depth 32
  { timeout -s INT 11 iscsi-perf -m 32 -r "$1" 2>&1 || true; } | tr '\r' '\n' |
    sed -n 's/.*iops average \([0-9]*\).*/\1/p' | tail -1
}

declare -A result
run_all() {  # name url
  local name=$1 url=$2
  local r
  r=$(qemu_bench "$url" 200000 32 4096) && result[$name,read4k]=${r% *} result[$name,read4k_cpu]=${r#* }
  r=$(qemu_bench "$url" 200000 32 4096 -w) && result[$name,write4k]=${r% *} result[$name,write4k_cpu]=${r#* }
  r=$(qemu_bench "$url" 10000 16 262144) && result[$name,read256k]=${r% *}
  result[$name,perf]=$(iscsi_perf "$url")
}

# tgtd: its own control port so a system tgtd is left alone; LUN 0 is its controller.
tgt_port=$(free_port)
control=$((RANDOM % 900 + 100))
tgtd -f -C "$control" --iscsi portal=127.0.0.1:"$tgt_port" >"$work/tgtd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do tgtadm -C "$control" --lld iscsi --op show --mode target >/dev/null 2>&1 && break; sleep 0.1; done
tgtadm -C "$control" --lld iscsi --op new --mode target --tid 1 -T "$iqn"
tgtadm -C "$control" --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b "$disk"
tgtadm -C "$control" --lld iscsi --op bind --mode target --tid 1 -I ALL
run_all tgtd "iscsi://127.0.0.1:$tgt_port/$iqn/1"
# tgtd ignores SIGTERM while it has targets: ask it to exit, then make sure.
tgtadm -C "$control" --op delete --mode system >/dev/null 2>&1 || true
sleep 0.5
{ kill -9 "${pids[0]}" && wait "${pids[0]}"; } 2>/dev/null || true
pids=()

"$maya" target serve --backing "$disk" --iqn "$iqn" --listen 127.0.0.1:0 >"$work/maya.out" 2>"$work/maya.log" &
pids+=($!)
maya_port=
for _ in $(seq 1 100); do
  maya_port=$(sed -n 's/^serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/maya.out")
  [[ -n $maya_port ]] && break
  sleep 0.1
done
[[ -n $maya_port ]] || { cat "$work/maya.log" >&2; echo "maya target did not start" >&2; exit 1; }
run_all maya "iscsi://127.0.0.1:$maya_port/$iqn/0"

# shellcheck source=record.sh
source "$(dirname "${BASH_SOURCE[0]}")/record.sh"
record iscsi_read4k "${result[maya,read4k]:-0}" "${result[tgtd,read4k]:-0}" IOPS
record iscsi_write4k "${result[maya,write4k]:-0}" "${result[tgtd,write4k]:-0}" IOPS
printf '%-44s %12s %12s %7s\n' "measure (tmpfs, 1 GiB, one connection)" tgtd maya ratio
line() {  # key label unit scale
  local t=${result[tgtd,$1]:-0} m=${result[maya,$1]:-0}
  python3 - "$2" "$3" "$4" "$t" "$m" <<'PY'
import sys
label, unit, scale, t, m = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
ratio = m / t if t else 0.0
print(f"{label:<44} {t*scale:>9.0f} {unit:<2} {m*scale:>9.0f} {unit:<2} {ratio:>6.2f}")
PY
}
line read4k "qemu-img bench 4k read, depth 32" IOPS 1
line write4k "qemu-img bench 4k write, depth 32" IOPS 1
line read256k "qemu-img bench 256k read, depth 16" MB/s 0.262144
line perf "iscsi-perf -m 32 -r (4k random read)" IOPS 1
echo "the initiator's own CPU per request (qemu-img, one thread): 4k read tgtd ${result[tgtd,read4k_cpu]:-?} us, maya ${result[maya,read4k_cpu]:-?} us; 4k write tgtd ${result[tgtd,write4k_cpu]:-?} us, maya ${result[maya,write4k_cpu]:-?} us"
