#!/usr/bin/env bash
# `maya volume resize`: a volume grows online (issue 13), through a real daemon in a temp root,
# real loop devices and real file systems:
#   - local, ext4, mounted for a container (the plugin's Mount): the loop device, the file
#     system (df) and the data file grow; what was written before reads back; a file written
#     past the old end reads back
#   - local, xfs, mounted: xfs_growfs grows it
#   - shrinking is refused and changes nothing; the same size again changes nothing
#   - jiva, 2 replicas, ext4 mounted over FUSE + loop: every replica grows, the loop device and
#     the file system follow, the data stays; READ CAPACITY over iSCSI gives the new size
#   - jiva attached as a bare device (`maya volume attach`): the device grows
#   - a driver that cannot grow, a missing volume, a bad size: clear errors
#
#   bash tests/integration/volume_resize.sh MAYA_BINARY
set -euo pipefail
# shellcheck source=jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/jiva_lib.sh" "$@"
[[ $(id -u) -eq 0 ]] || { echo "SKIP: loop devices and mounts need root"; exit 77; }
[[ -e /dev/loop-control ]] || { echo "SKIP: no /dev/loop-control"; exit 77; }
for tool in resize2fs xfs_growfs mkfs.xfs iscsi-readcapacity16; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

resize_cleanup() {
  set +e
  for v in lx lxfs jx; do plugin_call Unmount "$v" resize-test >/dev/null 2>&1; done
  maya volume detach ja >/dev/null 2>&1
  jiva_cleanup
}
trap resize_cleanup EXIT

jiva_setup
plugin=$T/run/docker/plugins/maya.sock
MiB=$((1 << 20))

# The plugin's Mount / Unmount of volume $1 for container id $2; Mount prints the mountpoint.
plugin_call() {
  curl -s -m 120 --unix-socket "$plugin" -X POST -d "{\"Name\":\"$2\",\"ID\":\"$3\"}" "http://plugin/VolumeDriver.$1"
}
mount_volume() {
  local answer
  answer=$(plugin_call Mount "$1" resize-test) || fail "Mount $1: curl failed"
  jq -e '.Err == "" or .Err == null' >/dev/null <<<"$answer" || fail "Mount $1: $answer"
  jq -r .Mountpoint <<<"$answer"
}
unmount_volume() {
  local answer
  answer=$(plugin_call Unmount "$1" resize-test) || fail "Unmount $1: curl failed"
  jq -e '.Err == "" or .Err == null' >/dev/null <<<"$answer" || fail "Unmount $1: $answer"
}
fs_bytes() { df -B1 --output=size "$1" | tail -1 | tr -d ' '; }
device_of() { maya volume inspect "$1" -o json | jq -r .device; }
size_of() { maya volume inspect "$1" -o json | jq -r .size_bytes; }

# --- local, ext4, mounted ---------------------------------------------------------------------
maya volume create lx --driver local --size 64MiB --fstype ext4 >/dev/null || fail "create lx"
mnt=$(mount_volume lx)
head -c $((8 * MiB)) /dev/urandom >"$T/before"
cp "$T/before" "$mnt/before" && sync
fs_before=$(fs_bytes "$mnt")
out=$(maya volume resize lx 256MiB 2>"$T/err") || fail "resize lx: $out $(cat "$T/err")"
grep -q "grew from 64MiB to 256MiB" <<<"$out" || fail "resize lx said: $out"
dev=$(device_of lx)
[[ $(blockdev --getsize64 "$dev") -eq $((256 * MiB)) ]] || fail "$dev is $(blockdev --getsize64 "$dev") bytes after resize"
[[ $(size_of lx) -eq $((256 * MiB)) ]] || fail "inspect says $(size_of lx) bytes"
# Growing a mounted ext4 takes CAP_SYS_RESOURCE (EXT4_IOC_RESIZE_FS). Without it, maya says so
# and grows the file system before the next mount.
capeff=$(awk '/^CapEff/ {print $2}' /proc/self/status)
if (((16#$capeff >> 24) & 1)); then
  grep -q "ext4" <<<"$out" || fail "resize lx did not name the file system it grew: $out"
  ok "local ext4: grown online (CAP_SYS_RESOURCE)"
else
  echo "# this machine runs without CAP_SYS_RESOURCE: checking the deferred ext4 grow"
  grep -q "CAP_SYS_RESOURCE" "$T/err" || fail "resize lx did not say why ext4 did not grow: $(cat "$T/err")"
  unmount_volume lx
  mnt=$(mount_volume lx)
  dev=$(findmnt -n -o SOURCE "$mnt")  # mounted again: maybe another loop device
fi
fs_after=$(fs_bytes "$mnt")
((fs_after > fs_before * 3)) || fail "the ext4 file system did not grow: $fs_before -> $fs_after bytes"
# Past the old end: 150 MiB of new data fits only in the grown file system.
head -c $((150 * MiB)) /dev/zero >"$mnt/big" || fail "cannot write 150 MiB to the grown file system"
sync
cmp "$T/before" "$mnt/before" || fail "data written before the resize changed"
ok "local ext4: loop device, file system and record grow to 256 MiB (mounted)"

out=$(maya volume resize lx 128MiB 2>&1) && fail "shrinking succeeded: $out"
grep -q "cannot shrink" <<<"$out" || fail "shrink refused without saying why: $out"
[[ $(blockdev --getsize64 "$dev") -eq $((256 * MiB)) ]] || fail "a refused shrink changed the device"
out=$(maya volume resize lx 256MiB) || fail "resize to the same size: $out"
grep -q "already 256MiB" <<<"$out" || fail "same size said: $out"
ok "shrinking is refused; the same size changes nothing"

out=$(maya volume resize lx 1Q 2>&1) && fail "a bad size was accepted: $out"
out=$(maya volume resize lx 100TiB 2>&1) && fail "100 TiB was accepted: $out"
grep -q "largest volume is 64TiB" <<<"$out" || fail "100 TiB refused without the limit: $out"
out=$(maya volume resize nosuch 1GiB 2>&1) && fail "resizing a missing volume succeeded: $out"
grep -q "nosuch" <<<"$out" || fail "missing volume error does not name it: $out"
ok "bad size and missing volume get errors"
unmount_volume lx

# --- local, xfs, mounted ----------------------------------------------------------------------
maya volume create lxfs --driver local --size 320MiB --fstype xfs >/dev/null || fail "create lxfs"
mnt=$(mount_volume lxfs)
fs_before=$(fs_bytes "$mnt")
out=$(maya volume resize lxfs 640MiB) || fail "resize lxfs: $out"
fs_after=$(fs_bytes "$mnt")
((fs_after > fs_before * 3 / 2)) || fail "xfs did not grow: $fs_before -> $fs_after bytes"
ok "local xfs: xfs_growfs grows the mounted file system"
unmount_volume lxfs

# --- jiva, 2 replicas, ext4 mounted over FUSE + loop ------------------------------------------
if [[ ! -e /dev/fuse ]]; then
  echo "SKIP: jiva's FUSE attach needs /dev/fuse"
else
  maya volume create jx --size 64MiB --replicas 2 --fstype ext4 >/dev/null || fail "create jx"
  mnt=$(mount_volume jx)
  cp "$T/before" "$mnt/before" && sync
  fs_before=$(fs_bytes "$mnt")
  pid=$(maya volume inspect jx -o json | jq -r .target_pid)
  out=$(maya volume resize jx 256MiB 2>&1) || fail "resize jx: $out"
  dev=$(device_of jx)
  [[ $(blockdev --getsize64 "$dev") -eq $((256 * MiB)) ]] || fail "$dev is $(blockdev --getsize64 "$dev") bytes after resize"
  if ! grep -q "ext4 at" <<<"$out"; then
    grep -q "CAP_SYS_RESOURCE" <<<"$out" || fail "resize jx: ext4 neither grown nor deferred: $out"
    unmount_volume jx
    mnt=$(mount_volume jx)
    dev=$(device_of jx)
    pid=$(maya volume inspect jx -o json | jq -r .target_pid)
  fi
  fs_after=$(fs_bytes "$mnt")
  ((fs_after > fs_before * 3)) || fail "jiva ext4 did not grow: $fs_before -> $fs_after bytes"
  [[ $(maya volume inspect jx -o json | jq -r .target_pid) == "$pid" ]] || fail "the target restarted"
  replicas=0
  for f in "$T"/opt/maya-store/jx/r*/data.img; do
    [[ $(stat -c %s "$f") -eq $((256 * MiB)) ]] || fail "replica file $f is $(stat -c %s "$f") bytes"
    replicas=$((replicas + 1))
  done
  ((replicas == 2)) || fail "found $replicas replica files of jx, not 2"
  head -c $((150 * MiB)) /dev/zero >"$mnt/big" || fail "cannot write past the old end of jx"
  sync
  cmp "$T/before" "$mnt/before" || fail "jx: data written before the resize changed"
  wait_healthy jx 120
  unmount_volume jx
  # Attached to this host, the target takes no other initiator (one writer): ask it now.
  bytes=$(iscsi-readcapacity16 -s "$(url_of jx)") || fail "iscsi-readcapacity16: $bytes"
  [[ $bytes -eq $((256 * MiB)) ]] || fail "READ CAPACITY(16) says $bytes bytes"
  ok "jiva ext4 over FUSE: replicas, device, file system and READ CAPACITY grow, target kept"

  maya volume create ja --size 32MiB --replicas 1 >/dev/null || fail "create ja"
  maya volume snapshot create ja small >/dev/null || fail "snapshot ja"
  dev=$(maya volume attach ja) || fail "attach ja"
  out=$(maya volume resize ja 96MiB) || fail "resize attached ja: $out"
  [[ $(blockdev --getsize64 "$dev") -eq $((96 * MiB)) ]] || fail "attached $dev is $(blockdev --getsize64 "$dev") bytes"
  maya volume detach ja >/dev/null || fail "detach ja"
  out=$(maya volume snapshot revert ja small 2>&1) && fail "reverting to a snapshot from before the grow succeeded: $out"
  grep -q "grew since" <<<"$out" || fail "revert across a grow refused without saying why: $out"
  maya volume create ja-small --from ja@small >/dev/null || fail "a clone of the smaller snapshot"
  [[ $(size_of ja-small) -eq $((32 * MiB)) ]] || fail "the clone is $(size_of ja-small) bytes"
  ok "jiva attached as a device: the device grows; a snapshot from before is cloned, not reverted to"
fi
