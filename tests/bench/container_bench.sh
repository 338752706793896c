#!/usr/bin/env bash
# Inside containers of a private dockerd, in one run: sequential 1 MiB writes and 4k random
# writes (fio, direct I/O) on a jiva volume (1 replica, attached through FUSE) and on a local
# volume (a loop device on a sparse file), both in the same store. Prints each figure and the
# jiva/local ratio (goal >= 0.6 for 1 MiB writes). A benchmark, not a test: it never fails on a
# ratio.
#
#   bash tests/bench/container_bench.sh /path/to/maya
#
# fio runs from the host's /usr, bind-mounted read-only into a busybox container, so the I/O is
# the container's: through its mount of the volume.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/../e2e" && pwd)
command -v fio >/dev/null || { echo "SKIP: fio is not installed (packaging/install-deps.sh --with-tests)"; exit 77; }
[[ -e /dev/fuse ]] || { echo "SKIP: no /dev/fuse"; exit 77; }

# shellcheck source=../e2e/maya_e2e.sh
source "$HERE/maya_e2e.sh"
maya_e2e_setup

# fio in a container: the busybox image with /lib and /lib64 pointing into the host's /usr.
run_fio() {  # volume fio-args...
  local vol=$1
  shift
  docker run --rm --pull never --network none -v "$vol:/data" -v /usr:/usr:ro \
    --entrypoint /usr/bin/fio "$E2E_IMAGE" --output-format=json "$@"
}
step "fio runs inside a container"
# The busybox image plus /lib and /lib64 links into /usr (docker import cannot extend an image).
root="$E2E_DOCKER_DIR/fio-rootfs"
mkdir -p "$root"
docker create --name maya-bench-export "$E2E_IMAGE" true >/dev/null
docker export maya-bench-export | tar -C "$root" -xf -
docker rm maya-bench-export >/dev/null
ln -sfn usr/lib "$root/lib"
ln -sfn usr/lib64 "$root/lib64"
tar --numeric-owner -C "$root" -cf - . | docker import --change 'ENV PATH=/bin:/usr/bin' - maya-bench-fio >/dev/null
rm -rf "$root"
E2E_IMAGE=maya-bench-fio
docker run --rm --pull never --network none -v /usr:/usr:ro --entrypoint /usr/bin/fio "$E2E_IMAGE" --version >/dev/null ||
  fail "fio does not start in the container"
pass

declare -A fig
for kind in jiva local; do
  step "fio on a $kind volume"
  vol=bench-$kind
  if [[ $kind == jiva ]]; then
    docker volume create -d "$PLUGIN" -o size=3GiB -o replicas=1 -o attach=fuse "$vol" >/dev/null
  else
    docker volume create -d "$PLUGIN" -o size=3GiB -o driver=local "$vol" >/dev/null
  fi
  sync  # earlier runs' dirty pages must not be written back during this one
  seq=$(run_fio "$vol" --name=seq --filename=/data/seq --rw=write --bs=1M --size=1G --direct=1 \
    --ioengine=libaio --iodepth=16 --end_fsync=1)
  fig[$kind,seq]=$(jq '.jobs[0].write.bw_bytes / 1048576 | floor' <<<"$seq")
  sync
  rand=$(run_fio "$vol" --name=rand --filename=/data/rand --rw=randwrite --bs=4k --size=512M \
    --direct=1 --ioengine=libaio --iodepth=32 --runtime=15 --time_based)
  fig[$kind,rand]=$(jq '.jobs[0].write.iops | floor' <<<"$rand")
  docker volume rm "$vol" >/dev/null
  pass "${fig[$kind,seq]} MiB/s, ${fig[$kind,rand]} IOPS"
done
maya unload --stop-targets >/dev/null

# shellcheck source=record.sh
source "$(dirname "${BASH_SOURCE[0]}")/record.sh"
record fuse_seq_write "${fig[jiva,seq]}" "${fig[local,seq]}" MiB/s
record fuse_rand_write "${fig[jiva,rand]}" "${fig[local,rand]}" IOPS
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
echo "store: $T/opt/maya-store on $(df -T "$T" | awk 'NR == 2 {print $2}')"
printf '%-52s %12s %12s %7s\n' "inside a container, fio, direct I/O" "jiva (fuse)" "local" "ratio"
printf '%-52s %7s MiB/s %6s MiB/s %7s\n' "sequential 1 MiB writes, depth 16" "${fig[jiva,seq]}" "${fig[local,seq]}" "$(ratio "${fig[jiva,seq]}" "${fig[local,seq]}")"
printf '%-52s %8s IOPS %7s IOPS %7s\n' "4k random writes, depth 32" "${fig[jiva,rand]}" "${fig[local,rand]}" "$(ratio "${fig[jiva,rand]}" "${fig[local,rand]}")"
