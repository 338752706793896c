#!/usr/bin/env bash
# End to end: a real, private dockerd uses maya as its volume plugin (issue 3).
#
#   bash tests/e2e/docker_volume_e2e.sh /path/to/maya
#
# Needs root and loop devices (else it prints "SKIP: <reason>" and exits 77), plus the packages
# of packaging/install-deps.sh (docker.io, busybox-static, jq). Every step prints "ok - <step>";
# the first failure prints "not ok - <step>: <why>", logs of maya and dockerd, and exits 1.
#
# maya runs from a temp root ($T) made by `maya init --root $T`; only its Docker plugin socket
# lives where dockerd looks for plugins, /run/docker/plugins, under a name of this run's own
# ($PLUGIN, see maya_e2e.sh), so an installed maya serving plugin `maya` is left untouched.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E # the ERR trap also fires inside functions

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VOL=e2evol
SIZE=256MiB
SIZE_BYTES=$((256 * 1024 * 1024))

# shellcheck source=maya_e2e.sh
source "$HERE/maya_e2e.sh"
maya_e2e_setup

# ---------------------------------------------------------------------------------------------
# The volume's life, as a user lives it.
# ---------------------------------------------------------------------------------------------
step "docker volume create -d $PLUGIN -o size=$SIZE $VOL"
out=$(docker volume create -d "$PLUGIN" -o size=$SIZE "$VOL")
[[ $out == "$VOL" ]] || fail "docker printed '$out'"
[[ -d $T/opt/maya-store/$VOL ]] || fail "no backing directory $T/opt/maya-store/$VOL"
pass

step "a container writes a file on the volume"
# 4 MiB of random data plus a line of text; the container prints the data's checksum.
sum_written=$(drun -v "$VOL:/data" "$E2E_IMAGE" sh -c '
  set -e
  echo "written by the first container" > /data/hello.txt
  dd if=/dev/urandom of=/data/payload bs=1M count=4 2>/dev/null
  sync
  sha256sum /data/payload' | awk '{print $1}')
[[ $sum_written =~ ^[0-9a-f]{64}$ ]] || fail "no checksum from the writer: '$sum_written'"
pass

step "the volume is a $SIZE filesystem of its own inside the container"
# df -k: total 1K-blocks of /data; ext4/xfs metadata take some, so accept 70–100 % of 256 MiB.
kblocks=$(drun -v "$VOL:/data" "$E2E_IMAGE" df -k /data | awk 'NR == 2 {print $2}')
((kblocks > 262144 * 7 / 10 && kblocks <= 262144)) || fail "/data has $kblocks KiB, expected about 262144"
pass "$kblocks KiB"

step "a second container reads the file back"
read_back=$(drun -v "$VOL:/data" "$E2E_IMAGE" sh -c 'cat /data/hello.txt; sha256sum /data/payload')
[[ $(sed -n 1p <<<"$read_back") == "written by the first container" ]] ||
  fail "hello.txt reads '$(sed -n 1p <<<"$read_back")'"
sum_read=$(sed -n 2p <<<"$read_back" | awk '{print $1}')
[[ $sum_read == "$sum_written" ]] || fail "payload checksum $sum_read, written $sum_written"
pass

step "two containers use the volume at once"
docker run -d --name maya-e2e-sleeper --pull never --network none -v "$VOL:/data" "$E2E_IMAGE" \
  sleep 3600 >/dev/null
running=false
for _ in $(seq 1 100); do # ≤ 10 s
  running=$(docker inspect -f '{{.State.Running}}' maya-e2e-sleeper)
  [[ $running == true ]] && break
  sleep 0.1
done
[[ $running == true ]] || fail "the long-running container did not start"
docker exec maya-e2e-sleeper sh -c 'echo from-sleeper > /data/from-sleeper && sync'
both=$(drun -v "$VOL:/data" "$E2E_IMAGE" sh -c '
  set -e
  cat /data/from-sleeper
  echo from-second > /data/from-second
  sync
  sha256sum /data/payload')
[[ $(sed -n 1p <<<"$both") == from-sleeper ]] || fail "second container read '$(sed -n 1p <<<"$both")' from the sleeper"
[[ $(sed -n 2p <<<"$both" | awk '{print $1}') == "$sum_written" ]] || fail "second container: payload checksum differs"
[[ $(docker exec maya-e2e-sleeper cat /data/from-second) == from-second ]] ||
  fail "the running container does not see the second container's write"
pass

step "kill -9 the maya daemon while a container has the volume mounted"
pid=$(maya status -o json | jq -r '.pid // empty') || true
[[ $pid =~ ^[0-9]+$ ]] || pid=$(cat "$T/run/maya/maya.pid" 2>/dev/null || true)
[[ $pid =~ ^[0-9]+$ ]] || fail "no pid from 'maya status -o json' nor $T/run/maya/maya.pid"
kill -9 "$pid"
e2e_wait_gone "$pid" 10 || fail "maya daemon $pid still alive 10 s after SIGKILL"
pass "pid $pid"

step "maya load after the kill"
maya load >/dev/null
wait_plugin_socket
newpid=$(maya status -o json | jq -r '.pid')
[[ $newpid =~ ^[0-9]+$ && $newpid != "$pid" ]] || fail "status reports pid '$newpid' after the restart"
pass "pid $newpid"

step "the running container still reads the volume after the restart"
[[ $(docker exec maya-e2e-sleeper sha256sum /data/payload | awk '{print $1}') == "$sum_written" ]] ||
  fail "payload checksum differs in the long-running container"
pass

step "a third container reads the file after the restart"
third=$(drun -v "$VOL:/data" "$E2E_IMAGE" sh -c 'cat /data/hello.txt; sha256sum /data/payload')
[[ $(sed -n 1p <<<"$third") == "written by the first container" ]] || fail "hello.txt reads '$(sed -n 1p <<<"$third")'"
[[ $(sed -n 2p <<<"$third" | awk '{print $1}') == "$sum_written" ]] || fail "payload checksum differs"
pass

# Issue 11: no window in which Docker meets a closed plugin socket. Docker, finding none,
# retries for 15 s and then makes an empty local volume of the same name: a look-alike.
step "maya load --restart while docker run -v $VOL starts: the container gets maya's volume"
before=$(maya status -o json | jq -r '.instance')
(drun -v "$VOL:/data" "$E2E_IMAGE" cat /data/hello.txt >"$T/during-restart.out" 2>&1
  echo $? >"$T/during-restart.rc") &
runner=$!
restarts=0
while kill -0 "$runner" 2>/dev/null && ((restarts < 20)); do
  maya load --restart >/dev/null || fail "maya load --restart failed"
  restarts=$((restarts + 1))
done
wait "$runner" || true
[[ $(cat "$T/during-restart.rc") == 0 ]] || fail "docker run failed: $(cat "$T/during-restart.out")"
[[ $(cat "$T/during-restart.out") == "written by the first container" ]] ||
  fail "the container read '$(cat "$T/during-restart.out")', not maya's volume"
[[ $(maya status -o json | jq -r '.instance') != "$before" ]] || fail "the daemon did not restart"
listed=$(docker volume ls --format '{{.Driver}} {{.Name}}')
! grep -qx "local $VOL" <<<"$listed" || fail "Docker made a local look-alike of $VOL"
[[ $(docker exec maya-e2e-sleeper cat /data/hello.txt) == "written by the first container" ]] ||
  fail "the running container lost the volume"
pass "$restarts restart(s) during the run"

step "docker volume inspect $VOL shows the plugin's Status while mounted"
# Counts survived the restarts: exactly the long-running container holds the volume, once
# Docker has sent the Unmount of the container that just exited (it may come after `docker run`
# returns, so the count is awaited, for at most 30 s).
for _ in $(seq 1 300); do
  status=$(docker volume inspect "$VOL" | jq -c '.[0].Status')
  [[ $(jq '.mount_count' <<<"$status") == 1 ]] && break
  sleep 0.1
done
jq_true 'type == "object" and has("state") and (has("size") or has("size_bytes"))' "$status" ||
  fail "Status lacks state/size: $status"
[[ $(jq '.mount_count' <<<"$status") == 1 ]] || fail "mount_count should be 1 (the sleeper), Status: $status"
pass "$status"

step "the last container goes away: the volume is unmounted and detached"
docker rm -f maya-e2e-sleeper >/dev/null
[[ -z $(mounts_of "$T") ]] || fail "still mounted: $(mounts_of "$T" | tr '\n' ' ')"
[[ -z $(loops_under "$T") ]] || fail "loop devices still attached: $(loops_under "$T" | tr '\n' ' ')"
pass

step "docker volume ls lists $VOL with driver $PLUGIN"
listed=$(docker volume ls --format '{{.Driver}} {{.Name}}')
grep -qx "$PLUGIN $VOL" <<<"$listed" || fail "not listed: $(tr '\n' ';' <<<"$listed")"
pass

step "docker volume inspect $VOL shows driver $PLUGIN and a Status"
inspect=$(docker volume inspect "$VOL")
[[ $(jq -r '.[0].Driver' <<<"$inspect") == "$PLUGIN" ]] || fail "Driver is $(jq -r '.[0].Driver' <<<"$inspect")"
status=$(jq -c '.[0].Status' <<<"$inspect")
jq_true 'type == "object" and has("state") and (has("size") or has("size_bytes"))' "$status" ||
  fail "Status lacks a state or size key: $status"
if jq_true 'has("size_bytes")' "$status"; then
  [[ $(jq -r '.size_bytes' <<<"$status") == "$SIZE_BYTES" ]] || fail "size_bytes is not $SIZE_BYTES: $status"
fi
[[ $(jq '.mount_count' <<<"$status") == 0 ]] || fail "mount_count should be 0 now, Status: $status"
pass "$status"

step "docker volume rm $VOL removes the backing file"
docker volume rm "$VOL" >/dev/null
[[ ! -e $T/opt/maya-store/$VOL ]] || fail "$T/opt/maya-store/$VOL still exists"
listed=$(docker volume ls -q)
! grep -qx "$VOL" <<<"$listed" || fail "docker still lists $VOL"
[[ -z $(mounts_of "$T") ]] || fail "still mounted: $(mounts_of "$T" | tr '\n' ' ')"
[[ -z $(loops_under "$T") ]] || fail "loop devices still attached: $(loops_under "$T" | tr '\n' ' ')"
pass

# ---------------------------------------------------------------------------------------------
# Time from `docker volume create` to a container's first completed (fsynced) write, on fresh
# volumes. The container stamps the moment with a file's mtime after the fsync (busybox date has
# no sub-second output); the host clock is the same clock. Median of 5.
# ---------------------------------------------------------------------------------------------
step "create-to-first-write timing (5 fresh volumes)"
write_ms=()
run_ms=()
for i in 1 2 3 4 5; do
  v=e2etime$i
  t0=$(date +%s%N)
  docker volume create -d "$PLUGIN" -o size=$SIZE "$v" >/dev/null
  stamp=$(drun -v "$v:/data" "$E2E_IMAGE" sh -c '
    set -e
    echo first > /data/first
    dd if=/data/first of=/data/first.synced conv=fsync 2>/dev/null
    touch /data/stamp
    stat -c %y /data/stamp')
  t_run=$(date +%s%N)
  t_write=$(date -d "$stamp" +%s%N 2>/dev/null) || t_write=$t_run
  ((t_write >= t0 && t_write <= t_run)) || t_write=$t_run # clock oddity: fall back to run end
  write_ms+=($(((t_write - t0) / 1000000)))
  run_ms+=($(((t_run - t0) / 1000000)))
  docker volume rm "$v" >/dev/null
  [[ ! -e $T/opt/maya-store/$v ]] || fail "$T/opt/maya-store/$v remains after docker volume rm"
done
median() { printf '%s\n' "$@" | sort -n | sed -n 3p; }
pass "runs: ${write_ms[*]} ms"
echo "e2e: create-to-first-write median $(median "${write_ms[@]}") ms"
echo "e2e: create-to-container-exit median $(median "${run_ms[@]}") ms (includes container teardown)"

# ---------------------------------------------------------------------------------------------
# Shut down maya explicitly, so its own clean-exit duties are checked, not just our cleanup.
# ---------------------------------------------------------------------------------------------
step "maya unload leaves no plugin socket, mount or loop device"
maya unload >/dev/null
[[ ! -e $PLUGIN_SOCKET ]] || fail "$PLUGIN_SOCKET still exists after a clean exit"
[[ -z $(mounts_of "$T") ]] || fail "still mounted: $(mounts_of "$T" | tr '\n' ' ')"
[[ -z $(loops_under "$T") ]] || fail "loop devices still attached: $(loops_under "$T" | tr '\n' ' ')"
pass

echo "e2e: docker volume plugin end to end passed"
