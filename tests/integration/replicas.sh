#!/usr/bin/env bash
# `maya replica` on a real pool (issue 14, pools; the mayastor-client README's session):
#   - the session: pool create on a loop device, pool list, replica create (thick --size=10 and
#     thin --size=1000), replica list with its columns, replica destroy; pool destroy refused
#     while a replica is left, --force deletes it and says so
#   - thin is sparse, thick is allocated (allocated_bytes in -o json, and du); committed_bytes
#   - refusals with nothing touched: a name that exists, a thick replica larger than the pool's
#     free space, hostile names, a pool that does not exist; `--pool` filters the list
#   - a create cut short (a directory without pool-replica.json) is never listed, and the next create
#     of its name succeeds; replicas come back with their pool after unload and load
#   - volumes on pools: one replica per pool, --pools, --allow-same-pool, `default` by name,
#     refusals (too few pools, a pool twice, an unknown pool), a volume's replica cannot be
#     destroyed from `replica`, volume replica add --pool, delete takes its replicas away
#   - a snapshot of a volume on pools is a reflink beside a replica, kept after the volume goes;
#     no pool destroy takes it, `snapshot delete` does
#
#   bash tests/integration/replicas.sh MAYA_BINARY
set -euo pipefail
maya_bin=${1:?usage: $0 MAYA_BINARY}
[[ $(id -u) -eq 0 ]] || { echo "SKIP: loop devices and mounts need root"; exit 77; }
[[ -e /dev/loop-control ]] || { echo "SKIP: no /dev/loop-control"; exit 77; }
for tool in mkfs.xfs losetup jq du; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/maya-replicas.XXXXXX")
CONF=$T/etc/maya.conf
STATE=$T/var/lib/maya
maya() { "$maya_bin" --config "$CONF" "$@"; }
cleanup() {
  set +e
  maya unload >/dev/null 2>&1
  mountpoint -q "$STATE/pools/tpool" 2>/dev/null && umount "$STATE/pools/tpool"
  mountpoint -q "$STATE/pools/p2" 2>/dev/null && umount "$STATE/pools/p2"
  for img in "$T"/disk*.img; do
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
refused() {  # refused WANT ARGS...: maya ARGS fails, saying WANT
  local want=$1 out
  shift
  if out=$(maya "$@" 2>&1); then fail "maya $* succeeded: $out"; fi
  grep -qF -- "$want" <<<"$out" || fail "maya $*: expected \"$want\", got: $out"
}
replica_json() { maya replica list --pool "$1" -o json | jq -c ".[] | select(.name == \"$2\")"; }

"$maya_bin" init --root "$T" >/dev/null
sed -i 's/^listen = .*/listen = "127.0.0.1:0"/; s/^discovery_port = .*/discovery_port = 0/' "$CONF"
maya load >/dev/null || fail "maya load"
# XFS needs 300 MiB at least: the README's 96 MiB disk is 512 MiB here.
truncate -s 512M "$T/disk.img"

# --- the session ---------------------------------------------------------------------------
maya pool create tpool "$T/disk.img" >/dev/null || fail "pool create"
dev=$(losetup -j "$T/disk.img" -O NAME -n | head -1)
out=$(maya pool list)
head -1 <<<"$out" | grep -Eq "^NAME +STATE +CAPACITY +USED +DISKS$" || fail "pool list header: $out"
grep -Eq "^tpool +online +[0-9.]+ MiB +[0-9.]+ [KMG]?i?B +$dev$" <<<"$out" || fail "pool list: $out"
maya replica create tpool replica1 --size=10 >/dev/null || fail "replica create replica1"
maya replica create tpool replica2 --size=1000 --thin >/dev/null || fail "replica create replica2"
out=$(maya replica list)
head -1 <<<"$out" | grep -Eq "^POOL +NAME +THIN +SIZE +SHARE$" || fail "replica list header: $out"
grep -Eq "^tpool +replica1 +false +10.0 MiB +-$" <<<"$out" || fail "replica list: $out"
grep -Eq "^tpool +replica2 +true +1.0 GiB +-$" <<<"$out" || fail "replica list: $out"
ok "the session: pool create, pool list, replica create (thick and thin), replica list"

r1=$(replica_json tpool replica1)
r2=$(replica_json tpool replica2)
[[ $(jq .size_bytes <<<"$r1") == 10485760 && $(jq .allocated_bytes <<<"$r1") -ge 10485760 ]] ||
  fail "replica1 is not allocated: $r1"
[[ $(jq .size_bytes <<<"$r2") == 1048576000 && $(jq .allocated_bytes <<<"$r2") -lt 1048576 ]] ||
  fail "replica2 is not sparse: $r2"
(($(du -k "$(jq -r .path <<<"$r2")" | cut -f1) < 1024)) || fail "du says replica2 is not sparse"
[[ $(maya pool inspect tpool -o json | jq .committed_bytes) == $((10485760 + 1048576000)) ]] ||
  fail "committed: $(maya pool inspect tpool -o json)"
maya pool list | grep -q "^tpool: 1.0 GiB committed to replicas on" || fail "no overcommit note: $(maya pool list)"
ok "thin is sparse, thick allocated; committed_bytes and the overcommit note"

# --- refusals ------------------------------------------------------------------------------
before=$(maya replica list -o json)
refused "replica replica1 exists in pool tpool" replica create tpool replica1 --size=20
refused "a thick replica of 2.0GiB does not fit" replica create tpool big --size=2000
refused "invalid replica name" replica create tpool ../x --size=1
refused "invalid replica name" replica create tpool "$(printf 'a%.0s' {1..300})" --size=1
refused "no pool named nope" replica create nope r --size=1
refused "it needs --size" replica create tpool r
refused "no replica named ghost in pool tpool" replica destroy tpool ghost
[[ $(maya replica list -o json) == "$before" ]] || fail "a refusal changed the replicas"
[[ ! -e $STATE/pools/tpool/replicas/big && ! -e $STATE/pools/tpool/x ]] || fail "a refusal left files"
[[ $(maya replica list --pool default -o json | jq length) == 0 ]] || fail "--pool default"
refused "no pool named nope" replica list --pool nope
ok "refusals: a name that exists, no room for a thick replica, hostile names, no such pool"

# --- a create cut short; replicas come back with their pool --------------------------------
mkdir "$STATE/pools/tpool/replicas/half" && echo partial >"$STATE/pools/tpool/replicas/half/data.img"
[[ $(maya replica list -o json | jq length) == 2 ]] || fail "a half-made replica is listed"
maya replica create tpool half --size=4 --thin >/dev/null || fail "create over what a crash left"
maya replica destroy tpool half >/dev/null || fail "destroy half"
maya unload >/dev/null || fail "unload"
umount "$STATE/pools/tpool"
maya load >/dev/null || fail "load"
[[ $(maya replica list --pool tpool -o json | jq -r '[.[].name] | join(",")') == replica1,replica2 ]] ||
  fail "after unload and load: $(maya replica list)"
ok "a create cut short is not listed and is made again; replicas come back with the pool"

# --- volumes on pools: placement and its refusals --------------------------------------------
truncate -s 512M "$T/disk2.img"
maya pool create p2 "$T/disk2.img" >/dev/null || fail "pool create p2"
volume_pools() { maya volume inspect "$1" -o json | jq -r '[.replicas[].pool] | sort | join(",")'; }
refused "needs 3 replica(s) on pools of their own, and 2 online pool(s) have room" \
  volume create v3 --driver jiva --size 16MiB --replicas 3
refused "two replicas on pool tpool" volume create v3 --driver jiva --size 16MiB --pools tpool,tpool
refused "no pool named nope" volume create v3 --driver jiva --size 16MiB --pools tpool,nope
refused "names 2 pool(s) for 3 replica(s)" volume create v3 --driver jiva --size 16MiB --replicas 3 --pools tpool,p2
! maya volume inspect v3 >/dev/null 2>&1 || fail "a refused volume exists"
[[ -z $(find "$STATE/pools" -name 'v3@*') ]] || fail "a refused volume left replicas: $(find "$STATE/pools" -name 'v3@*')"
maya volume create v2 --driver jiva --size 16MiB --replicas 2 >/dev/null || fail "create v2"
[[ $(volume_pools v2) == p2,tpool ]] || fail "v2 on $(volume_pools v2)"
maya volume create vs --driver jiva --size 16MiB --pools p2,p2 --allow-same-pool >/dev/null ||
  fail "create vs --allow-same-pool"
[[ $(volume_pools vs) == p2,p2 ]] || fail "vs on $(volume_pools vs)"
maya volume create vd --driver jiva --size 16MiB --pools default >/dev/null || fail "create vd on default"
[[ $(volume_pools vd) == default && -d $T/opt/maya-store/vd/r1 ]] || fail "vd on $(volume_pools vd)"
[[ $(maya replica list --pool p2 -o json | jq -r '[.[] | select(.volume == "v2") | .name] | join(",")') == v2@r1 ]] ||
  fail "replica list: $(maya replica list --pool p2 -o json)"
refused "belongs to volume v2 (its replica r1)" replica destroy p2 v2@r1
refused "two replicas on pool p2" volume replica add v2 --pool p2
refused "not even --force deletes it" pool destroy p2 --force
[[ -d $STATE/pools/p2/replicas/v2@r1 ]] || fail "pool destroy --force touched a volume's replica"
refused "invalid replica name" replica create p2 "a@b" --size=1
# A snapshot of a volume on pools is a reflink in the pool of the replica it was taken from; its
# name in the store links to it.
maya volume snapshot create v2 s1 -o json >"$T/snap.json" || fail "snapshot v2 s1"
[[ $(jq -r .method "$T/snap.json") == reflink ]] || fail "v2@s1 is not a reflink: $(cat "$T/snap.json")"
image=$(readlink "$T/opt/maya-store/v2/snapshots/s1.img") ||
  fail "v2@s1 is not a link into a pool: $(ls -l "$T/opt/maya-store/v2/snapshots")"
# shellcheck disable=SC2053  # the right side is a pattern
[[ $image == "$STATE"/pools/*/snapshots/v2@r[12]/s1.img && -f $image ]] || fail "v2@s1's image is $image"
snap_pool=${image#"$STATE"/pools/}
snap_pool=${snap_pool%%/*}
# A clone with --pools alone: one replica per pool named (v2 has two), on the snapshot's pool.
maya volume create c2 --driver jiva --from v2@s1 --pools "$snap_pool" >/dev/null ||
  fail "clone v2@s1 --pools $snap_pool"
[[ $(volume_pools c2) == "$snap_pool" ]] || fail "c2 on $(volume_pools c2)"
maya volume delete c2 >/dev/null || fail "delete c2"
maya volume replica add v2 --pool default >/dev/null || fail "replica add --pool default"
[[ $(volume_pools v2) == default,p2,tpool ]] || fail "v2 on $(volume_pools v2) after replica add"
for v in v2 vs vd; do maya volume delete "$v" >/dev/null || fail "delete $v"; done
[[ -z $(find "$STATE/pools" -path '*/replicas/v?@*') ]] ||
  fail "deleted volumes left replicas: $(find "$STATE/pools" -path '*/replicas/v?@*')"
# The snapshot outlives v2 (kept), its image in the pool too; the pool is not destroyed under it.
cmp "$T/opt/maya-store/.snapshots/v2/s1.img" "$image" || fail "v2's kept snapshot does not read its image"
refused "holds snapshot s1 of volume v2; not even --force" pool destroy "$snap_pool" --force
[[ -f $image ]] || fail "a refused pool destroy touched v2@s1's image"
# Not mounted (its disk gone, say), the pool is not forgotten under the snapshot either.
umount "$STATE/pools/$snap_pool" || fail "umount $snap_pool"
refused "is not mounted, and snapshot s1 of volume v2 is on it" pool destroy "$snap_pool" --force
maya load >/dev/null || fail "maya load (the pool mounted again)"
[[ $(maya pool inspect "$snap_pool" -o json | jq -r .state) == online && -f $image ]] ||
  fail "$snap_pool did not come back with v2@s1's image: $(maya pool inspect "$snap_pool" -o json)"
maya snapshot delete v2@s1 >/dev/null || fail "snapshot delete v2@s1"
[[ ! -e $image ]] || fail "snapshot delete left the image $image"
maya pool destroy p2 >/dev/null || fail "pool destroy p2"
ok "volumes on pools: one replica per pool, --pools, --allow-same-pool, refusals, snapshots, delete"

# --- the end of the session ----------------------------------------------------------------
maya replica destroy tpool replica1 | grep -q "replica replica1 of pool tpool destroyed" || fail "destroy"
[[ ! -e $STATE/pools/tpool/replicas/replica1 ]] || fail "replica1's files are left"
refused "pool tpool is not empty (replica replica2)" pool destroy tpool
out=$(maya pool destroy tpool --force) || fail "pool destroy --force: $out"
grep -q "deleted replica replica2" <<<"$out" || fail "destroy did not name replica2: $out"
[[ $(maya replica list -o json | jq length) == 0 ]] || fail "replicas left: $(maya replica list)"
ok "replica destroy; pool destroy refused while a replica is left, --force names it"
