#!/usr/bin/env bash
# End to end with a real, private dockerd on a replicated jiva volume (replicas=2), attached
# through the FUSE frontend where the kernel has no iSCSI initiator (issue 7):
#   a container writes 50 MiB and its checksum, a second verifies it; kill -9 of the target while
#   the volume is mounted and idle (the mounted file system keeps working); kill -9 of the daemon
#   during a write (the write completes) and `maya load`; `maya unload` while mounted (the file
#   system keeps working) and `maya load` again; a replica fails while mounted (the
#   container keeps writing), rebuild; a snapshot of the mounted volume and a clone of it in
#   another container (fsck-clean, holding the data of the snapshot point); removal.
#
#   bash tests/e2e/jiva_docker_e2e.sh /path/to/maya
#
# Needs root, loop devices, /dev/fuse and the packages of packaging/install-deps.sh --with-tests.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VOL=jvol
[[ -e /dev/fuse ]] || { echo "SKIP: no /dev/fuse: jiva volumes attach through FUSE here"; exit 77; }

# shellcheck source=maya_e2e.sh
source "$HERE/maya_e2e.sh"
maya_e2e_setup

target_pid() { maya volume inspect "$VOL" -o json | jq -r '.target_pid // empty'; }
target_socket() { echo "$T/run/maya/targets/$VOL.sock"; }

step "docker volume create -d $PLUGIN -o size=512MiB -o replicas=2 $VOL"
[[ $(docker volume create -d "$PLUGIN" -o size=512MiB -o replicas=2 "$VOL") == "$VOL" ]] || fail "create"
json=$(maya volume inspect "$VOL" -o json)
[[ $(jq -r .driver <<<"$json") == jiva && $(jq '.replicas | length' <<<"$json") == 2 ]] ||
  fail "not a 2-replica jiva volume: $(jq -c '{driver, replicas}' <<<"$json")"
pass

step "a container writes 50 MiB and its checksum"
sum=$(drun -v "$VOL:/data" "$E2E_IMAGE" sh -c '
  set -e
  dd if=/dev/urandom of=/data/payload bs=1M count=50 2>/dev/null
  sync
  sha256sum /data/payload | tee /data/payload.sha256' | awk '{print $1}')
[[ $sum =~ ^[0-9a-f]{64}$ ]] || fail "no checksum: '$sum'"
pass

step "a second container verifies it"
drun -v "$VOL:/data" "$E2E_IMAGE" sh -c 'cd /data && sha256sum -c payload.sha256' >/dev/null ||
  fail "the second container reads different data"
pass

step "a long-running container keeps the volume mounted"
docker run -d --name jiva-sleeper --pull never --network none -v "$VOL:/data" "$E2E_IMAGE" sleep 3600 >/dev/null
for _ in $(seq 1 100); do
  [[ $(docker inspect -f '{{.State.Running}}' jiva-sleeper) == true ]] && break
  sleep 0.1
done
[[ $(maya volume inspect "$VOL" -o json | jq -r .attach) == fuse ]] ||
  fail "inspect does not say the volume is attached through fuse"
pass "attach: fuse"

step "kill -9 the target while the volume is mounted and idle"
old=$(target_pid)
[[ $old =~ ^[0-9]+$ ]] || fail "no target pid"
kill -9 "$old"
new=
for _ in $(seq 1 100); do
  new=$(target_pid)
  [[ -n $new && $new != "$old" ]] && break
  sleep 0.1
done
[[ -n $new && $new != "$old" ]] || fail "the daemon did not restart the target within 10 s"
docker exec jiva-sleeper sh -c 'cd /data && sha256sum -c payload.sha256 >/dev/null && echo after-kill > after-kill && sync' ||
  fail "the mounted file system broke when the target died"
pass "pid $old -> $new"

step "kill -9 the daemon during a write: the write completes"
docker exec jiva-sleeper sh -c 'dd if=/dev/urandom of=/data/during bs=1M count=100 conv=fsync 2>/dev/null && sha256sum /data/during > /data/during.sha256 && echo ok' >"$T/write.out" 2>&1 &
writer=$!
sleep 0.5
daemon=$(maya status -o json | jq -r .pid)
kill -9 "$daemon"
wait "$writer" || fail "the write failed when the daemon died: $(cat "$T/write.out")"
[[ $(cat "$T/write.out") == ok ]] || fail "the writer said: $(cat "$T/write.out")"
maya load >/dev/null
wait_plugin_socket
[[ $(target_pid) == "$new" ]] || fail "maya load did not adopt the running target"
docker exec jiva-sleeper sh -c 'cd /data && sha256sum -c during.sha256' >/dev/null || fail "the data written while the daemon died differs"
pass "daemon $daemon killed; target $new adopted"

step "maya unload with the volume mounted: the file system keeps working; maya load adopts"
maya unload >/dev/null || fail "maya unload"
docker exec jiva-sleeper sh -c 'echo while-unloaded > /data/unloaded && sync && cd /data && sha256sum -c payload.sha256 >/dev/null' ||
  fail "the mounted file system broke when the daemon stopped"
maya load >/dev/null
wait_plugin_socket
[[ $(target_pid) == "$new" ]] || fail "maya load did not adopt the running target"
[[ $(docker exec jiva-sleeper cat /data/unloaded) == while-unloaded ]] || fail "lost a write"
pass

step "a replica fails while mounted: the container keeps writing"
curl -sf --unix-socket "$(target_socket)" -X POST http://target/v1/replicas/r2/fault >/dev/null || fail "fault injection"
docker exec jiva-sleeper sh -c 'dd if=/dev/urandom of=/data/degraded bs=1M count=20 conv=fsync 2>/dev/null && sha256sum /data/degraded > /data/degraded.sha256' ||
  fail "writes failed with one replica left"
[[ $(maya volume inspect "$VOL" -o json | jq -r .health) == degraded ]] || fail "health is not degraded"
pass

step "maya volume rebuild --wait: healthy again"
maya volume rebuild "$VOL" --wait >/dev/null || fail "rebuild"
[[ $(maya volume inspect "$VOL" -o json | jq -r .health) == healthy ]] || fail "not healthy after the rebuild"
docker exec jiva-sleeper sh -c 'cd /data && sha256sum -c degraded.sha256' >/dev/null || fail "data differs after the rebuild"
pass

step "a snapshot of the mounted volume"
docker exec jiva-sleeper sh -c 'echo at-snapshot > /data/marker && sync'
maya volume snapshot create "$VOL" s1 >/dev/null || fail "snapshot create"
docker exec jiva-sleeper sh -c 'echo after-snapshot > /data/marker && echo new > /data/after && sync'
pass

step "a clone of it: fsck-clean, with the data of the snapshot point, in another container"
e2fsck -fn "$T/opt/maya-store/$VOL/snapshots/s1.img" >"$T/fsck.out" 2>&1 || fail "the snapshot is not fsck-clean: $(tail -5 "$T/fsck.out")"
[[ $(docker volume create -d "$PLUGIN" -o from="$VOL@s1" clone) == clone ]] || fail "clone create"
seen=$(drun -v clone:/data "$E2E_IMAGE" sh -c 'cat /data/marker; ls /data/after 2>/dev/null || echo none; cd /data && sha256sum -c payload.sha256 during.sha256 degraded.sha256 >/dev/null && echo sums-ok')
[[ $seen == "at-snapshot"$'\n'"none"$'\n'"sums-ok" ]] || fail "the clone holds: $(tr '\n' ' ' <<<"$seen")"
[[ $(docker exec jiva-sleeper cat /data/marker) == after-snapshot ]] || fail "the source changed"
pass

step "remove: the containers go, then both volumes"
docker rm -f jiva-sleeper >/dev/null
docker volume rm clone "$VOL" >/dev/null || fail "docker volume rm"
[[ ! -e $T/opt/maya-store/$VOL && ! -e $T/opt/maya-store/clone ]] || fail "files remain in the store"
[[ -z $(mounts_of "$T") ]] || fail "still mounted: $(mounts_of "$T" | tr '\n' ' ')"
[[ -z $(loops_under "$T") ]] || fail "loop devices remain: $(loops_under "$T" | tr '\n' ' ')"
[[ $(pgrep -fc "target run --volume ($VOL|clone) --store $T/" || true) == 0 ]] || fail "a target outlived its volume"
pass

step "maya unload"
maya unload --stop-targets >/dev/null
pass
echo "e2e: jiva volumes in Docker passed"
