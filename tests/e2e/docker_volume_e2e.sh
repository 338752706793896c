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
# is the real /run/docker/plugins/maya.sock, because that is where dockerd looks for plugin
# `maya`. So this test refuses to run while another maya serves that socket.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E # the ERR trap also fires inside functions

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PLUGIN_SOCKET=/run/docker/plugins/maya.sock
VOL=e2evol
SIZE=256MiB
SIZE_BYTES=$((256 * 1024 * 1024))

skip() {
  echo "SKIP: $*"
  exit 77
}
[[ $(id -u) -eq 0 ]] || skip "needs root (dockerd, loop devices and mounts)"
[[ -e /dev/loop-control ]] || skip "no /dev/loop-control: this kernel or container has no loop devices"

if [[ $# -ne 1 ]]; then
  echo "usage: bash $0 /path/to/maya" >&2
  exit 2
fi
MAYA=$(readlink -f -- "$1")
[[ -x $MAYA && -f $MAYA ]] || {
  echo "e2e: $1 is not an executable maya binary" >&2
  exit 2
}

# shellcheck source=dockerd.sh
source "$HERE/dockerd.sh"

# ---------------------------------------------------------------------------------------------
# Step bookkeeping: `step NAME` opens a step, `pass` closes it with "ok - NAME". A failing command
# (errexit) or `fail MSG` ends the run with "not ok - NAME".
# ---------------------------------------------------------------------------------------------
STEP="setup"
step() { STEP=$*; }
pass() { echo "ok - $STEP${1:+ ($1)}"; }
fail() {
  echo "not ok - $STEP: $*"
  FAILED_REPORTED=1
  exit 1
}
FAILED_REPORTED=0
on_err() {
  # Report once, from the main shell (command substitutions run the trap too).
  [[ $BASHPID == "$$" && $FAILED_REPORTED == 0 ]] || return 0
  FAILED_REPORTED=1
  echo "not ok - $STEP: command failed (exit $1, line $2): $3"
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR

command -v jq >/dev/null || {
  step "prerequisites"
  fail "jq not found; run packaging/install-deps.sh"
}

# All maya calls are bounded and read the test's config. Their output goes to files first: a
# daemon started by `maya load` must not inherit (and hold open) our stdout/stderr pipes.
T=""
CONF=""
maya() {
  local rc=0
  timeout --foreground -k 5 60 "$MAYA" --config "$CONF" "$@" </dev/null \
    >"$T/maya-cli.out" 2>"$T/maya-cli.err" || rc=$?
  cat "$T/maya-cli.out"
  cat "$T/maya-cli.err" >&2
  ((rc != 124)) || echo "e2e: 'maya $*' did not finish within 60s" >&2
  return "$rc"
}

# Wait (≤ 10 s) until maya answers /Plugin.Activate on its plugin socket with VolumeDriver
# (`maya load` may return just before the socket is bound; a killed daemon leaves a dead one).
wait_plugin_socket() {
  local _ answer=""
  for _ in $(seq 1 100); do
    answer=$(curl -s -m 2 --unix-socket "$PLUGIN_SOCKET" -X POST http://plugin/Plugin.Activate) || true
    jq_true 'any(.Implements[]?; . == "VolumeDriver")' "$answer" && return 0
    sleep 0.1
  done
  fail "maya runs, but $PLUGIN_SOCKET gives no {\"Implements\":[\"VolumeDriver\"]} within 10 s (last answer: '$answer')"
}

# `docker run` of the test image: no network, never pull, volume e2e-style.
drun() { docker run --rm --pull never --network none "$@"; }

# jq_true FILTER JSON: FILTER holds for JSON. (Bare `jq -e` succeeds on empty input.)
jq_true() { [[ -n $2 ]] && jq -e "$1" <<<"$2" >/dev/null 2>&1; }

# Loop devices whose backing file is under DIR ("/dev/loopN" per line).
loops_under() {
  losetup -nO NAME,BACK-FILE 2>/dev/null | awk -v d="$1/" 'index($2, d) == 1 {print $1}'
}
# Mounts of DIR's contents: mount points under DIR or sources that are loop devices over DIR.
mounts_of() {
  local dev
  e2e_mounts_under "$1"
  for dev in $(loops_under "$1"); do
    findmnt -rn -o TARGET -S "$dev" || true
  done
}

# Called by the EXIT trap before any cleanup when the run fails or is interrupted: name the step
# (if nothing did yet) and show the logs of both daemons while they still exist.
e2e_on_failure() {
  if [[ $FAILED_REPORTED == 0 ]]; then
    echo "not ok - $STEP: interrupted (exit $1)"
  fi
  show_logs
}
show_logs() {
  local log="$T/var/lib/maya/maya.log"
  if [[ -n $T && -f $log ]]; then
    echo "---- last lines of $log" >&2
    tail -n 40 "$log" >&2
  fi
  if [[ -n $E2E_DOCKER_DIR && -f $E2E_DOCKER_DIR/dockerd.log ]]; then
    echo "---- last error/volume/plugin lines of $E2E_DOCKER_DIR/dockerd.log" >&2
    grep -E 'level=error|[Vv]olume|[Pp]lugin' "$E2E_DOCKER_DIR/dockerd.log" | tail -n 30 >&2 || true
  fi
}

# The temp root: stop maya, then make sure nothing of $T stays mounted or attached. A leftover
# is a failure of the run, but is cleaned up anyway so the machine stays usable.
cleanup_maya_root() {
  local m dev
  [[ -n $T && -d $T ]] || return 0
  if timeout 5 "$MAYA" --config "$CONF" status >/dev/null 2>&1; then
    maya unload --stop-targets >/dev/null 2>&1 || e2e_log "maya unload failed"
  fi
  for m in $(mounts_of "$T"); do
    e2e_log "leftover mount $m of $T; unmounting"
    E2E_CLEANUP_FAILED=1
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  for dev in $(loops_under "$T"); do
    e2e_log "leftover loop device $dev over $T; detaching"
    E2E_CLEANUP_FAILED=1
    losetup -d "$dev" || true
  done
  # A socket left by a killed daemon; after our unload nobody else may serve it.
  if [[ -S $PLUGIN_SOCKET ]] &&
    ! curl -s -m 3 --unix-socket "$PLUGIN_SOCKET" -X POST http://plugin/Plugin.Activate >/dev/null; then
    rm -f "$PLUGIN_SOCKET"
  fi
  if [[ -n $(mounts_of "$T") ]]; then
    e2e_log "mounts remain in $T; not deleting it"
    E2E_CLEANUP_FAILED=1
  else
    rm -rf --one-file-system "$T"
  fi
}

# ---------------------------------------------------------------------------------------------
# Setup: maya first (its plugin socket should exist before dockerd starts), then dockerd.
# ---------------------------------------------------------------------------------------------
step "plugin socket $PLUGIN_SOCKET is free"
if [[ -S $PLUGIN_SOCKET ]]; then
  if curl -s -m 3 --unix-socket "$PLUGIN_SOCKET" -X POST http://plugin/Plugin.Activate >/dev/null; then
    fail "another process serves $PLUGIN_SOCKET (a running maya?); stop it first"
  fi
  rm -f "$PLUGIN_SOCKET" # stale: left by a daemon that was killed
fi
pass

step "maya init"
T=$(mktemp -d /tmp/maya-e2e-root.XXXXXX)
CONF=$T/maya.conf
e2e_note_dir /run/docker
e2e_note_dir /run/docker/plugins
# Runs after dockerd's cleanup (pushed before it): maya stops after dockerd, as it started first.
e2e_cleanup_push 'cleanup_maya_root'
"$MAYA" init --root "$T" --config "$CONF" >/dev/null
[[ -f $CONF ]] || fail "maya init wrote no $CONF"
# The iSCSI discovery portal on any free port: 3260 may be taken on a test machine.
sed -i 's/^discovery_port = .*/discovery_port = 0/' "$CONF"
pass "root $T"

step "set [plugin] socket = \"$PLUGIN_SOCKET\" in the config"
sed -i '/^\[plugin\]/,/^\[/ s|^socket[[:space:]]*=.*|socket = "'"$PLUGIN_SOCKET"'"|' "$CONF"
grep -qx "socket = \"$PLUGIN_SOCKET\"" "$CONF" || fail "no [plugin] socket line to edit in $CONF"
pass

step "maya load"
maya load >/dev/null
wait_plugin_socket
pass

step "private dockerd starts"
e2e_dockerd_start
pass "${E2E_DOCKERD_START_MS} ms"

step "image $E2E_IMAGE imported"
e2e_docker_image
pass

# ---------------------------------------------------------------------------------------------
# The volume's life, as a user lives it.
# ---------------------------------------------------------------------------------------------
step "docker volume create -d maya -o size=$SIZE $VOL"
out=$(docker volume create -d maya -o size=$SIZE "$VOL")
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

step "docker volume inspect $VOL shows the plugin's Status while mounted"
status=$(docker volume inspect "$VOL" | jq -c '.[0].Status')
jq_true 'type == "object" and has("state") and (has("size") or has("size_bytes"))' "$status" ||
  fail "Status lacks state/size: $status"
# Counts survived the kill: exactly the long-running container holds the volume.
if jq_true '.mounts | type == "number"' "$status"; then
  [[ $(jq '.mounts' <<<"$status") == 1 ]] || fail "mounts should be 1 (the sleeper), Status: $status"
fi
pass "$status"

step "the last container goes away: the volume is unmounted and detached"
docker rm -f maya-e2e-sleeper >/dev/null
[[ -z $(mounts_of "$T") ]] || fail "still mounted: $(mounts_of "$T" | tr '\n' ' ')"
[[ -z $(loops_under "$T") ]] || fail "loop devices still attached: $(loops_under "$T" | tr '\n' ' ')"
pass

step "docker volume ls lists $VOL with driver maya"
listed=$(docker volume ls --format '{{.Driver}} {{.Name}}')
grep -qx "maya $VOL" <<<"$listed" || fail "not listed: $(tr '\n' ';' <<<"$listed")"
pass

step "docker volume inspect $VOL shows driver maya and a Status"
inspect=$(docker volume inspect "$VOL")
[[ $(jq -r '.[0].Driver' <<<"$inspect") == maya ]] || fail "Driver is $(jq -r '.[0].Driver' <<<"$inspect")"
status=$(jq -c '.[0].Status' <<<"$inspect")
jq_true 'type == "object" and has("state") and (has("size") or has("size_bytes"))' "$status" ||
  fail "Status lacks a state or size key: $status"
if jq_true 'has("size_bytes")' "$status"; then
  [[ $(jq -r '.size_bytes' <<<"$status") == "$SIZE_BYTES" ]] || fail "size_bytes is not $SIZE_BYTES: $status"
fi
if jq_true '.mounts | type == "number"' "$status"; then
  [[ $(jq '.mounts' <<<"$status") == 0 ]] || fail "mounts should be 0 now, Status: $status"
fi
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
  docker volume create -d maya -o size=$SIZE "$v" >/dev/null
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
