#!/usr/bin/env bash
# Snapshots and clones on a store that shares blocks (XFS with reflink, on a loop device):
# the snapshot and the clone are made by FICLONE, hold the point-in-time data, and stay
# independent of their source.
#
#   bash tests/integration/jiva_reflink.sh MAYA_BINARY
set -euo pipefail
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root to mount an XFS file system"; exit 77; }
command -v mkfs.xfs >/dev/null || { echo "SKIP: mkfs.xfs is not installed (xfsprogs)"; exit 77; }
[[ -e /dev/loop-control ]] || { echo "SKIP: no loop devices"; exit 77; }

# The temp root of jiva_lib.sh lives on an XFS file system of its own.
XFS_IMG=$(mktemp /tmp/maya-xfs.XXXXXX)
XFS_DIR=$(mktemp -d /tmp/maya-xfs-mnt.XXXXXX)
truncate -s 1G "$XFS_IMG"
mkfs.xfs -q -m reflink=1 "$XFS_IMG"
mount -o loop "$XFS_IMG" "$XFS_DIR"
export TMPDIR=$XFS_DIR
# shellcheck source=jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/jiva_lib.sh" "$@"
trap 'jiva_cleanup; umount "$XFS_DIR"; rmdir "$XFS_DIR"; rm -f "$XFS_IMG"' EXIT
jiva_setup

maya volume create v --size 256MiB --replicas 2 >/dev/null || fail "create"
url=$(url_of v)
head -c $((64 << 20)) /dev/urandom >"$T/a.raw"
qemu-img convert -n -f raw -O raw "$T/a.raw" "$url" || fail "write A"
maya volume snapshot create v s1 -o json >"$T/snap.json" || fail "snapshot"
[[ $(jq -r .method "$T/snap.json") == reflink ]] || fail "the snapshot was not a reflink: $(cat "$T/snap.json")"
head -c $((64 << 20)) /dev/urandom >"$T/b.raw"
qemu-img convert -n -f raw -O raw "$T/b.raw" "$url" || fail "write B"
cmp -n $((64 << 20)) "$T/a.raw" "$T/opt/maya-store/v/snapshots/s1.img" || fail "the snapshot changed with its volume"
ok "snapshot by reflink: it keeps A while the volume now holds B"

maya volume create c --from v@s1 >/dev/null || fail "clone"
grep -q "cloned from .* by reflink" "$T/var/lib/maya/maya.log" || fail "the clone was not made by reflink"
curl_=$(url_of c)
qemu-img convert -f raw -O raw "$curl_" "$T/c.raw" || fail "read the clone"
cmp -n $((64 << 20)) "$T/a.raw" "$T/c.raw" || fail "the clone does not hold the snapshot"
qemu-img convert -n -f raw -O raw "$T/b.raw" "$curl_" || fail "write the clone"
cmp -n $((64 << 20)) "$T/a.raw" "$T/opt/maya-store/v/snapshots/s1.img" || fail "writing the clone changed the snapshot"
ok "clone by reflink: holds the snapshot, and writing it leaves the snapshot alone"

maya volume snapshot revert v s1 >/dev/null || fail "revert"
qemu-img convert -f raw -O raw "$url" "$T/v.raw" || fail "read v"
cmp -n $((64 << 20)) "$T/a.raw" "$T/v.raw" || fail "revert did not bring back A"
replicas_identical v
ok "revert by reflink on every replica"
echo "jiva reflink: all passed"
