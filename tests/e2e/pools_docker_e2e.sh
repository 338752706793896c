#!/usr/bin/env bash
# End to end with a real, private dockerd on pools (issue 14): three pools on three loop
# devices; a 3-replica volume lands on all three; a container writes 64 MiB and its checksum.
# Fault: an XFS shutdown of one pool while a container writes: its writes succeed, the pool shows
# faulted, and after replace_after (3 s here) a replacement replica is rebuilt on a fourth pool
# and the failed one dropped (60 s allowed); the checksums verify; the faulted pool is destroyed
# with --force. "Reboot": unload
# --stop-targets, unmount the pools, detach every loop device, attach the disk files again in
# another order (their device names change), load: the pools and the volume come back and the
# data verifies.
#
#   bash tests/e2e/pools_docker_e2e.sh /path/to/maya
#
# Needs root, loop devices, /dev/fuse, xfs_io and the packages of packaging/install-deps.sh
# --with-tests.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VOL=pvol
[[ -e /dev/fuse ]] || { echo "SKIP: no /dev/fuse: jiva volumes attach through FUSE here"; exit 77; }
command -v xfs_io >/dev/null || { echo "SKIP: xfs_io (xfsprogs) is not installed"; exit 77; }

# shellcheck source=maya_e2e.sh
source "$HERE/maya_e2e.sh"
maya_e2e_setup

pools_of() { maya volume inspect "$VOL" -o json | jq -r '[.replicas[].pool] | sort | join(",")'; }
modes_of() { maya volume inspect "$VOL" -o json | jq -r '[.replicas[].mode] | join(",")'; }
pool_state() { maya pool inspect "$1" -o json | jq -r .state; }
disk() { echo "$T/disks/$1.img"; }
loop_of() { losetup -j "$(disk "$1")" -O NAME -n | head -1; }

step "replace_after = 3s; maya load again"
sed -i 's/^replace_after = .*/replace_after = "3s"/' "$CONF"
grep -qx 'replace_after = "3s"' "$CONF" || fail "no replace_after line to edit in $CONF"
maya unload >/dev/null
maya load >/dev/null
wait_plugin_socket
pass

step "three pools on three loop devices"
mkdir -p "$T/disks"
for p in p1 p2 p3 p4 filler; do truncate -s 512M "$(disk "$p")"; done
for p in p1 p2 p3; do maya pool create "$p" "$(disk "$p")" >/dev/null || fail "pool create $p"; done
[[ $(maya pool list -o json | jq -r '[.[] | select(.state == "online") | .name] | join(",")') == default,p1,p2,p3 ]] ||
  fail "pools: $(maya pool list)"
pass

step "docker volume create -o replicas=3: one replica on each pool"
[[ $(docker volume create -d "$PLUGIN" -o size=256MiB -o replicas=3 "$VOL") == "$VOL" ]] || fail "create"
[[ $(pools_of) == p1,p2,p3 ]] || fail "replicas on pools $(pools_of)"
[[ $(maya replica list -o json | jq -r '[.[] | select(.volume == "'$VOL'")] | length') == 3 ]] ||
  fail "replica list: $(maya replica list)"
pass "$(pools_of)"

step "a container writes 64 MiB and its checksum"
# shellcheck disable=SC2016 # expanded in the container
drun -v "$VOL:/data" "$E2E_IMAGE" sh -c '
  set -e
  dd if=/dev/urandom of=/data/payload bs=1M count=64 2>/dev/null
  sha256sum /data/payload > /data/payload.sha256' || fail "the write"
for p in p1 p2 p3; do
  [[ $(maya replica list --pool "$p" -o json | jq '.[0].allocated_bytes') -ge $((64 << 20)) ]] ||
    fail "pool $p holds less than 64 MiB of the volume: $(maya replica list --pool "$p" -o json)"
done
pass

step "a fourth pool, for the replacement"
maya pool create p4 "$(disk p4)" >/dev/null || fail "pool create p4"
pass

step "an XFS shutdown of pool p2 while a container writes: the writes go on"
docker run -d --name pools-writer --pull never --network none -v "$VOL:/data" "$E2E_IMAGE" sh -c '
  set -e
  for i in 1 2 3 4 5 6 7 8; do dd if=/dev/urandom of=/data/w$i bs=1M count=4 conv=fsync 2>/dev/null; done
  cat /data/w1 /data/w2 /data/w3 /data/w4 /data/w5 /data/w6 /data/w7 /data/w8 | sha256sum > /data/w.sum' >/dev/null
faulted_at=$(e2e_now_ms)
xfs_io -x -c "shutdown -f" "$T/var/lib/maya/pools/p2"
[[ $(timeout 120 docker wait pools-writer) == 0 ]] ||
  fail "the writer failed: $(docker logs pools-writer 2>&1 | tail -5)"
docker rm pools-writer >/dev/null
[[ $(pool_state p2) == faulted ]] || fail "p2 is $(pool_state p2)"
maya pool list | grep -Eq "^p2 +faulted" || fail "pool list: $(maya pool list)"
pass

step "within replace_after a replica on p4 replaces it, rebuilt: healthy again"
healthy=""
for _ in $(seq 600); do # 60 s at most
  if [[ $(pools_of) == p1,p3,p4 && $(modes_of) == RW,RW,RW ]]; then
    healthy=$(($(e2e_now_ms) - faulted_at))
    break
  fi
  sleep 0.1
done
[[ -n $healthy ]] || fail "not healthy on p1,p3,p4 within 60 s: pools $(pools_of), modes $(modes_of)"
[[ $(maya volume inspect "$VOL" -o json | jq -r .health) == healthy ]] || fail "health"
# The log line follows the removal it reports: read until it is there (10 s at most).
for _ in $(seq 100); do
  grep -q "replica r2 (its pool p2 is faulted.*) removed; its replacement is rebuilt" \
    "$T/var/lib/maya/maya.log" && break
  sleep 0.1
done
for said in "added in place of replica r2 (its pool p2 is faulted" \
  "replica r2 (its pool p2 is faulted.*) removed; its replacement is rebuilt"; do
  grep -q "$said" "$T/var/lib/maya/maya.log" || fail "the log does not say \"$said\""
  maya volume inspect "$VOL" -o json | jq -r '.events[].note' | grep -q "$said" ||
    fail "inspect's events do not say \"$said\": $(maya volume inspect "$VOL" -o json | jq -c .events)"
done
maya volume inspect "$VOL" | grep -q "^events .*added in place of replica r2 (its pool p2 is faulted" ||
  fail "inspect does not show the events: $(maya volume inspect "$VOL")"
pass "fault to healthy in $healthy ms"

step "the checksums verify"
# shellcheck disable=SC2016 # expanded in the container
drun -v "$VOL:/data" "$E2E_IMAGE" sh -c '
  cd /data && sha256sum -c payload.sha256 >/dev/null &&
  [ "$(cat w1 w2 w3 w4 w5 w6 w7 w8 | sha256sum)" = "$(cat w.sum)" ]' || fail "the data differs"
pass

step "the faulted pool is destroyed with --force"
maya pool destroy p2 --force >/dev/null || fail "pool destroy p2 --force"
[[ -z $(loop_of p2) ]] || fail "p2's loop device is still bound"
pass

step "reboot: unload --stop-targets, unmount, detach, attach in another order, load"
maya unload --stop-targets >/dev/null || fail "unload"
before=""
for p in p1 p3 p4; do
  before+="$p=$(loop_of "$p") "
  umount "$T/var/lib/maya/pools/$p" || fail "umount $p"
done
for p in p1 p3 p4; do losetup -d "$(loop_of "$p")"; done
for _ in $(seq 100); do [[ -z $(loop_of p1)$(loop_of p3)$(loop_of p4) ]] && break; sleep 0.1; done
filler=$(losetup -f --show "$(disk filler)")
e2e_cleanup_push "losetup -d $filler"
for p in p4 p3 p1; do losetup -f "$(disk "$p")"; done
after=""
for p in p1 p3 p4; do after+="$p=$(loop_of "$p") "; done
[[ $after != "$before" ]] || fail "the devices did not change: $before"
maya load >/dev/null
wait_plugin_socket
for p in p1 p3 p4; do [[ $(pool_state "$p") == online ]] || fail "$p is $(pool_state "$p")"; done
[[ $(pools_of) == p1,p3,p4 ]] || fail "replicas on pools $(pools_of)"
pass "$before-> $after"

step "after the reboot: healthy, and the data verifies"
for _ in $(seq 300); do [[ $(modes_of) == RW,RW,RW ]] && break; sleep 0.1; done
[[ $(modes_of) == RW,RW,RW ]] || fail "modes $(modes_of)"
drun -v "$VOL:/data" "$E2E_IMAGE" sh -c 'cd /data && sha256sum -c payload.sha256 >/dev/null' ||
  fail "the data differs after the reboot"
pass

step "docker volume rm: its replicas leave the pools"
docker volume rm "$VOL" >/dev/null || fail "docker volume rm"
[[ $(maya replica list -o json | jq length) == 0 ]] || fail "replicas left: $(maya replica list)"
for p in p1 p3 p4; do maya pool destroy "$p" >/dev/null || fail "pool destroy $p"; done
pass
