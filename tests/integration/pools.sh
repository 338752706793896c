#!/usr/bin/env bash
# `maya pool` on real loop devices over files in a temp dir (issue 14, first slice: pools):
#   - create on a file (maya binds a loop device): XFS with reflink, the pool's UUID and label,
#     mounted at <state>/pools/NAME; list shows it online with its capacity; inspect -o json
#   - refusals, each with a clear error and nothing touched: a disk with a file system, a
#     mounted disk (even with --force), two disks, a name that exists, the disk of a known
#     pool (even with --force), destroying `default`, destroying a pool that holds a file
#   - "reboot": unload, unmount, detach, the file on another loop device, load: online again
#     at the new device; a pool whose disk is gone is `missing`
#   - an XFS shutdown (xfs_io -x -c 'shutdown -f') shows the pool `faulted`
#   - destroy --force names what it deletes, unmounts, detaches the loop device, forgets it
#
#   bash tests/integration/pools.sh MAYA_BINARY
set -euo pipefail
maya_bin=${1:?usage: $0 MAYA_BINARY}
[[ $(id -u) -eq 0 ]] || { echo "SKIP: loop devices and mounts need root"; exit 77; }
[[ -e /dev/loop-control ]] || { echo "SKIP: no /dev/loop-control"; exit 77; }
for tool in mkfs.xfs mkfs.ext4 losetup blkid findmnt jq; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/maya-pools.XXXXXX")
CONF=$T/etc/maya.conf
STATE=$T/var/lib/maya
D=$T/disks
maya() { "$maya_bin" --config "$CONF" "$@"; }
cleanup() {
  set +e
  maya unload >/dev/null 2>&1
  for mp in "$STATE"/pools/* "$T/mnt"; do
    mountpoint -q "$mp" 2>/dev/null && umount "$mp"
  done
  for img in "$D"/*; do
    for dev in $(losetup -j "$img" -O NAME -n 2>/dev/null); do losetup -d "$dev"; done
  done
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "not ok - $*" >&2
  tail -20 "$STATE/maya.log" >&2 2>/dev/null || true
  exit 1
}
ok() { echo "ok - $*"; }
loop_of() { losetup -j "$1" -O NAME -n | head -1; }
# Detaches a loop device and waits (10 s at most) until the kernel has let its file go: a
# device still open elsewhere (a probe, a file system being released) is cleared on last close.
detach() {
  losetup -d "$1"
  for _ in $(seq 100); do
    [[ -e /sys/block/${1#/dev/}/loop/backing_file ]] || return 0
    sleep 0.1
  done
  fail "$1 is still bound 10 s after losetup -d"
}
# Runs maya with the arguments after $1 and expects it to fail with $1 in its message.
refused() {
  local want=$1 out
  shift
  if out=$(maya "$@" 2>&1); then fail "maya $* succeeded: $out"; fi
  grep -q -- "$want" <<<"$out" || fail "maya $*: expected \"$want\", got: $out"
}
pool_json() { maya pool inspect "$1" -o json; }

"$maya_bin" init --root "$T" >/dev/null
sed -i 's/^listen = .*/listen = "127.0.0.1:0"/; s/^discovery_port = .*/discovery_port = 0/' "$CONF"
maya load >/dev/null || fail "maya load"
mkdir -p "$D" "$T/mnt"
for img in a b c d e m filler; do truncate -s 512M "$D/$img.img"; done

# --- create, list, inspect -------------------------------------------------------------------
maya pool create tpool "$D/a.img" | grep -q "pool tpool created" || fail "pool create"
dev=$(loop_of "$D/a.img")
[[ -n $dev ]] || fail "no loop device bound to a.img"
mp=$STATE/pools/tpool
[[ $(findmnt -n -o SOURCE,FSTYPE "$mp") == "$dev xfs" ]] || fail "tpool is not XFS on $dev at $mp"
maya pool list | grep -Eq "^tpool +online +[0-9.]+ ?MiB .*$dev" || fail "list: $(maya pool list)"
maya pool list | grep -Eq "^default +online" || fail "list has no default pool"
json=$(pool_json tpool)
[[ $(jq -r .name <<<"$json") == tpool && $(jq -r .state <<<"$json") == online ]] || fail "$json"
[[ $(jq -r .disk <<<"$json") == "$dev" ]] || fail "disk is not $dev: $json"
[[ $(jq -r .mountpoint <<<"$json") == "$mp" ]] || fail "mountpoint: $json"
uuid=$(blkid -p -s UUID -o value "$dev")
[[ $(jq -r .uuid <<<"$json") == "$uuid" ]] || fail "uuid $uuid: $json"
[[ $(blkid -p -s LABEL -o value "$dev") == tpool ]] || fail "label of $dev"
(($(jq .capacity_bytes <<<"$json") > 400 << 20)) || fail "capacity: $json"
(($(jq .used_bytes <<<"$json") > 0)) || fail "used: $json"
[[ $(jq .committed_bytes <<<"$json") == 0 ]] || fail "committed: $json"
grep -q "\"$uuid\"" "$STATE/pools.json" || fail "pools.json has no $uuid"
ok "create on a file: XFS on $dev, mounted, online; list and inspect -o json"

# --- refusals: nothing touched ---------------------------------------------------------------
cp "$STATE/pools.json" "$T/pools.before"
mkfs.ext4 -q -F "$D/b.img"
refused "holds ext4" pool create p2 "$D/b.img"
[[ $(blkid -p -s TYPE -o value "$D/b.img") == ext4 && -z $(loop_of "$D/b.img") ]] || fail "b.img touched"
cdev=$(losetup -f --show "$D/c.img")
mkfs.ext4 -q -F "$cdev"
mount "$cdev" "$T/mnt"
refused "is mounted at $T/mnt" pool create p3 "$cdev" --force
[[ $(findmnt -n -o SOURCE "$T/mnt") == "$cdev" && $(blkid -p -s TYPE -o value "$cdev") == ext4 ]] ||
  fail "the mounted disk was touched"
umount "$T/mnt"
detach "$cdev"
refused "one disk, one pool" pool create p4 "$D/d.img" "$D/e.img"
maya pool create --help | grep -q "one disk, one pool" || fail "create --help"
refused "pool tpool exists" pool create tpool "$D/d.img"
refused "belongs to pool tpool" pool create p5 "$dev" --force
refused "belongs to pool tpool" pool create p5 "$D/a.img" --force
refused "invalid pool name" pool create "../x" "$D/d.img"
refused "cannot be destroyed" pool destroy default
echo hello >"$mp/keep"
refused "not empty (keep)" pool destroy tpool
[[ -e $mp/keep ]] || fail "destroy touched the pool"
for img in d e; do [[ -z $(loop_of "$D/$img.img") && -z $(blkid -p "$D/$img.img") ]] || fail "$img.img touched"; done
cmp -s "$T/pools.before" "$STATE/pools.json" || fail "pools.json changed"
[[ $(maya pool list -o json | jq length) == 2 ]] || fail "list: $(maya pool list)"
ok "refusals: a file system, a mounted disk, two disks, a name, a pool's disk, default, not empty"

# --- a pool whose disk is gone: missing -------------------------------------------------------
maya pool create m "$D/m.img" >/dev/null || fail "pool create m"

# --- "reboot": the disk comes back on another loop device -------------------------------------
maya unload >/dev/null || fail "unload"
umount "$mp"
umount "$STATE/pools/m"
mdev=$(loop_of "$D/m.img")
detach "$dev"
detach "$mdev"
mv "$D/m.img" "$D/m.away"
# Another file takes $dev (unless a test beside this one took it first), so the disk comes back
# on another device.
losetup "$dev" "$D/filler.img" 2>/dev/null || true
newdev=$(losetup -f --show "$D/a.img")
[[ $newdev != "$dev" ]] || fail "the disk came back on $dev: the test needs another device"
maya load >/dev/null || fail "load after the reboot"
json=$(pool_json tpool)
[[ $(jq -r .state <<<"$json") == online && $(jq -r .disk <<<"$json") == "$newdev" ]] ||
  fail "tpool after the reboot: $json"
[[ $(findmnt -n -o SOURCE "$mp") == "$newdev" && $(cat "$mp/keep") == hello ]] || fail "not mounted from $newdev"
[[ $(pool_json m | jq -r .state) == missing ]] || fail "m: $(pool_json m)"
maya pool list | grep -Eq "^m +missing" || fail "list: $(maya pool list)"
grep -q "pool tpool imported from $newdev (its disk moved)" "$STATE/maya.log" || fail "no import in the log"
[[ $(loop_of "$D/filler.img") != "$dev" ]] || detach "$dev"
ok "reboot: tpool online again at $newdev (was $dev); m missing"

# --- faulted: the XFS file system shut down -----------------------------------------------------
if command -v xfs_io >/dev/null; then
  maya pool create f "$D/d.img" >/dev/null || fail "pool create f"
  xfs_io -x -c "shutdown -f" "$STATE/pools/f"
  json=$(pool_json f)
  [[ $(jq -r .state <<<"$json") == faulted ]] || fail "f after an XFS shutdown: $json"
  maya pool list | grep -Eq "^f +faulted" || fail "list: $(maya pool list)"
  refused "--force destroys it" pool destroy f
  maya pool destroy f --force >/dev/null || fail "destroy --force of the faulted pool f"
  [[ -z $(loop_of "$D/d.img") ]] || fail "the loop device of d.img is still bound"
  ok "faulted: an XFS shutdown shows as faulted; destroy --force takes it away"
else
  echo "# SKIP faulted: xfs_io is not installed"
fi

# --- destroy --------------------------------------------------------------------------------
out=$(maya pool destroy tpool --force) || fail "destroy --force: $out"
grep -q "deleted keep" <<<"$out" || fail "destroy did not say what it deleted: $out"
! findmnt -n "$mp" >/dev/null || fail "$mp still mounted"
[[ -z $(loop_of "$D/a.img") ]] || fail "the loop device of a.img is still bound"
maya pool destroy m >/dev/null || fail "destroy the missing pool m"
[[ $(maya pool list -o json | jq -r '[.[].name] | join(",")') == default ]] || fail "list: $(maya pool list)"
! grep -q "$uuid" "$STATE/pools.json" || fail "pools.json still knows $uuid"
ok "destroy --force: says what it deletes, unmounts, detaches, forgets; a missing pool too"
