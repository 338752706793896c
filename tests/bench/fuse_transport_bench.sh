#!/usr/bin/env bash
# FUSE over io_uring (with its ring keeper) against /dev/fuse, in one run: fio on a file system
# on one FUSE-attached jiva volume (the Docker plugin's Mount), 10 s per job, the same jobs on
# each transport. Prints IOPS per job and the ratio io_uring / dev_fuse. Root, /dev/fuse, loop
# devices, fio; io_uring needs Linux 6.14+ (tests/fuse_uring.sh sets enable_uring for its half).
# About 90 s. Not a CI test.
#
#   bash tests/bench/fuse_transport_bench.sh MAYA_BINARY
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
maya=$(realpath "${1:?usage: $0 MAYA_BINARY}")
jobs=("randwrite 4k 32" "write 1M 16" "randread 4k 32")

# One transport (the caller's environment picks it): "JOB IOPS" lines.
if [[ ${2:-} == --one ]]; then
  # shellcheck source=../integration/jiva_lib.sh
  source "$here/../integration/jiva_lib.sh" "$maya"
  command -v fio >/dev/null || { echo "SKIP: fio is not installed"; exit 77; }
  jiva_setup
  maya volume create b --driver jiva --size 512MiB >/dev/null || fail "create b"
  plugin=$T/run/docker/plugins/maya.sock
  mnt=$(curl -s -m 60 --unix-socket "$plugin" -X POST -d '{"Name":"b","ID":"bench"}' \
    http://plugin/VolumeDriver.Mount | jq -r .Mountpoint)
  [[ -n $mnt && -d $mnt ]] || fail "Mount of b"
  echo "transport $(maya volume inspect b -o json | jq -r .fuse.transport)"
  for job in "${jobs[@]}"; do
    read -r rw bs depth <<<"$job"
    fio --name=b --filename="$mnt/b.dat" --size=256M --rw="$rw" --bs="$bs" --iodepth="$depth" \
      --ioengine=libaio --direct=1 --time_based --runtime=10 --output-format=json >"$T/fio.json" ||
      fail "fio $job"
    echo "$rw-$bs-qd$depth $(jq -r '.jobs[0] | (.read.iops + .write.iops) | floor' "$T/fio.json")"
  done
  curl -s -m 60 --unix-socket "$plugin" -X POST -d '{"Name":"b","ID":"bench"}' \
    http://plugin/VolumeDriver.Unmount >/dev/null
  exit 0
fi

[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (FUSE mounts, loop devices)"; exit 77; }
out=$(mktemp -d "${TMPDIR:-/tmp}/maya-fuse-bench.XXXXXX")
trap 'rm -rf "$out"' EXIT
echo "== /dev/fuse"
MAYA_FUSE_IO_URING='' bash "$0" "$maya" --one | tee "$out/dev_fuse"
echo "== FUSE over io_uring"
bash "$here/../fuse_uring.sh" bash "$0" "$maya" --one | tee "$out/io_uring"
grep -q "^transport io_uring" "$out/io_uring" || { echo "io_uring did not serve the volume"; exit 1; }
echo
printf '%-20s %12s %12s %8s\n' job dev_fuse io_uring ratio
join <(grep -v '^transport' "$out/dev_fuse" | sort) <(grep -v '^transport' "$out/io_uring" | sort) |
  while read -r job a b; do
    printf '%-20s %12s %12s %8s\n' "$job" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", b / a }')"
  done
