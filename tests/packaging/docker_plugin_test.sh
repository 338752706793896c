#!/usr/bin/env bash
# maya as a managed Docker plugin (issue 17), end to end, with a real private dockerd:
#
#   bash tests/packaging/docker_plugin_test.sh /path/to/maya_VERSION_amd64.deb
#
# builds the plugin directory (packaging/docker-plugin/build.sh: a minbase Debian 12 with the
# .deb installed), `docker plugin create maya/maya:VERSION`, points its state and store mounts at
# temp directories and its ports at free ones (a host install of maya may hold 3260, 5656, 9500),
# enables it, makes a 256 MiB volume, writes it from one container and reads it from a second;
# then `docker plugin disable -f` (a clean stop: the entrypoint stops maya and its targets) +
# `enable` keeps the volume and its data (a third container checks them), and restores a key of
# maya.conf the plugin owns that was deleted meanwhile. Needs root, loop devices, /dev/fuse and
# the packages of packaging/install-deps.sh (dockerd, ctr, jq, nsenter, unshare): else
# "SKIP: <why>" and exit 77, or, when CI is set, "FAIL (CI is set): <why>" and exit 1. The
# build needs the archive (apt-get in the rootfs): without it the build step fails. Every step
# prints "ok - <step>"; the first failure prints "not ok - <step>: <why>" and the logs, and
# exits 1.
# The dockerd is tests/e2e/dockerd.sh's: its own data root, exec root, socket and (in a mount
# namespace of its own) /run/docker/plugins; never the system's docker or its plugin sockets.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# A skip (exit 77) must not pass CI: with CI set it is a failure, saying why.
skip() {
  if [[ -n ${CI:-} ]]; then
    echo "FAIL (CI is set, so no skip): $*"
    exit 1
  fi
  echo "SKIP: $*"
  exit 77
}
if [[ $# -ne 1 ]]; then
  echo "usage: bash $0 /path/to/maya.deb" >&2
  exit 2
fi
DEB=$(readlink -f -- "$1")
[[ -f $DEB ]] || {
  echo "docker_plugin_test: $1: no such file" >&2
  exit 2
}
[[ $(id -u) -eq 0 ]] || skip "needs root (dockerd, chroot, loop devices, mounts)"
[[ -e /dev/loop-control ]] || skip "no /dev/loop-control: no loop devices here"
[[ -c /dev/fuse ]] || skip "no /dev/fuse: the plugin attaches jiva volumes through FUSE"
for tool in dockerd ctr jq nsenter unshare; do
  command -v "$tool" >/dev/null || skip "$tool not found; run packaging/install-deps.sh --with-tests"
done

# shellcheck source=../e2e/dockerd.sh
source "$REPO/tests/e2e/dockerd.sh"

STEP=setup
step() { STEP=$*; }
pass() { echo "ok - $STEP${1:+ ($1)}"; }
FAILED_REPORTED=0
fail() {
  echo "not ok - $STEP: $*"
  FAILED_REPORTED=1
  exit 1
}
on_err() {
  [[ $BASHPID == "$$" && $FAILED_REPORTED == 0 ]] || return 0
  FAILED_REPORTED=1
  echo "not ok - $STEP: command failed (exit $1, line $2): $3"
}
trap 'on_err $? $LINENO "$BASH_COMMAND"' ERR
e2e_on_failure() {
  [[ $FAILED_REPORTED == 1 ]] || echo "not ok - $STEP: interrupted (exit $1)"
  if [[ -n $E2E_DOCKER_DIR && -f $E2E_DOCKER_DIR/dockerd.log ]]; then
    echo "---- the plugin's and dockerd's last lines ($E2E_DOCKER_DIR/dockerd.log)" >&2
    grep -E 'plugin=|level=error' "$E2E_DOCKER_DIR/dockerd.log" | tail -n 40 >&2 || true
  fi
}

VOL=plugin-test-$$ # unique: its FUSE file names it in losetup's list
drun() { docker run --rm --pull never --network none "$@"; }
t_start=$(e2e_now_ms)

T=$(mktemp -d /tmp/maya-plugin-test.XXXXXX)
# Runs last: after dockerd is gone, nothing of ours may stay mounted or attached.
cleanup_tmp() {
  local m dev
  for dev in $(losetup -nO NAME,BACK-FILE 2>/dev/null | awk -v f="/$VOL.fuse/" -v l="/$VOL-local/" 'index($2, f) || index($2, l) {print $1}'); do
    e2e_log "leftover loop device $dev of $VOL; detaching"
    E2E_CLEANUP_FAILED=1
    losetup -d "$dev" || true
  done
  for m in $(e2e_mounts_under "$T"); do
    e2e_log "leftover mount $m; unmounting"
    E2E_CLEANUP_FAILED=1
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  if [[ -n $(e2e_mounts_under "$T") ]]; then
    e2e_log "mounts remain under $T; not deleting it"
    E2E_CLEANUP_FAILED=1
  else
    rm -rf --one-file-system "$T"
  fi
  e2e_log "total run time $((($(e2e_now_ms) - t_start) / 1000)) s"
}
e2e_cleanup_push cleanup_tmp

step "build the plugin directory from $(basename "$DEB")"
t0=$(e2e_now_ms)
timeout -k 10 900 bash "$REPO/packaging/docker-plugin/build.sh" "$DEB" "$T/plugin" >"$T/build.log" 2>&1 || {
  tail -n 30 "$T/build.log"
  fail "build.sh failed (or took over 900 s)"
}
NAME=$(tail -n 1 "$T/build.log")
[[ $NAME =~ ^maya/maya:[A-Za-z0-9_.-]+$ ]] || fail "build.sh printed '$NAME' last, not maya/maya:VERSION"
[[ -x $T/plugin/rootfs/usr/bin/maya && -f $T/plugin/config.json ]] || fail "no rootfs/usr/bin/maya or config.json"
[[ ! -e $T/plugin/rootfs/etc/maya/credentials ]] || fail "the rootfs holds an API key pair"
[[ ! -e $T/plugin/rootfs/etc/iscsi/initiatorname.iscsi ]] || fail "the rootfs holds an iSCSI initiator name"
[[ -z $(ls -A "$T/plugin/rootfs/var/lib/maya") ]] || fail "the rootfs's /var/lib/maya is not empty"
pass "$NAME, $((($(e2e_now_ms) - t0) / 1000)) s, rootfs $(du -sh --apparent-size "$T/plugin/rootfs" | cut -f1)"

step "private dockerd and the test image"
# With an empty directory of its own as /run/docker/plugins: it asks no legacy plugin (a stale
# socket there costs every `docker volume ls` seconds of retries) and sees the system's none.
mkdir "$T/legacy-plugins"
e2e_dockerd_start plugin "$T/legacy-plugins"
e2e_docker_image
pass

step "docker plugin create $NAME"
t0=$(e2e_now_ms)
docker plugin create "$NAME" "$T/plugin" >/dev/null
rm -rf --one-file-system "$T/plugin" # dockerd has its own copy now
remove_plugin() {
  # Containers first (a container using a volume keeps it from being removed), then the volumes.
  e2e_docker_remove_all
  E2E_DOCKER_TIMEOUT=60 docker volume rm -f "$VOL" >/dev/null 2>&1
  E2E_DOCKER_TIMEOUT=60 docker volume rm -f "$VOL-local" >/dev/null 2>&1
  E2E_DOCKER_TIMEOUT=60 docker plugin disable -f "$NAME" >/dev/null 2>&1
  E2E_DOCKER_TIMEOUT=60 docker plugin rm -f "$NAME" >/dev/null 2>&1 || e2e_log "could not remove plugin $NAME"
}
e2e_cleanup_push remove_plugin
pass "$((($(e2e_now_ms) - t0) / 1000)) s"

step "docker plugin set: temp state and store, free ports"
mkdir -p "$T/state" "$T/store"
# Port ranges of this run's own; the discovery portal, the API and the metrics pick free ports.
base=$((40000 + ($$ % 200) * 64))
docker plugin set "$NAME" state.source="$T/state" store.source="$T/store" \
  MAYA_ISCSI_PORT=0 MAYA_API_LISTEN=127.0.0.1:0 MAYA_METRICS_LISTEN=127.0.0.1:0 \
  MAYA_ISCSI_TARGET_PORTS="$base-$((base + 31))" MAYA_ISCSI_SHARE_PORTS="$((base + 32))-$((base + 63))"
pass "target ports $base-$((base + 31))"

step "docker plugin enable"
t0=$(e2e_now_ms)
docker plugin enable "$NAME" >/dev/null
[[ $(docker plugin inspect -f '{{.Enabled}}' "$NAME") == true ]] || fail "the plugin is not enabled"
# The state is bound over the propagated mount, so dockerd's namespace sees it (and the volumes'
# mount points under it): the check for leftovers after the disable below looks at the same place.
plugin_id=$(docker plugin inspect -f '{{.Id}}' "$NAME")
nsenter -t "$E2E_DOCKERD_PID" -m test -f "$E2E_DOCKER_DIR/data/plugins/$plugin_id/propagated-mount/maya.conf" ||
  fail "dockerd's namespace does not see the state directory (maya.conf) at the plugin's propagated mount"
[[ -f $T/state/maya.conf ]] || fail "the plugin wrote no maya.conf into its state directory"
grep -q "^credentials = \"/var/lib/maya/credentials\"" "$T/state/maya.conf" || fail "[api] credentials is not in the state dir"
[[ -s $T/state/credentials ]] || fail "no API key pair in the state directory"
grep -qx 'discovery_port = 0' "$T/state/maya.conf" || fail "MAYA_ISCSI_PORT=0 did not reach the config"
grep -qx 'attach = "fuse"' "$T/state/maya.conf" || fail "MAYA_ATTACH's default (fuse) did not reach the config"
host_id=$(grep -m1 '^id = ' "$T/state/maya.conf")
pass "$((($(e2e_now_ms) - t0) / 1000)) s"

step "docker volume create -d $NAME -o size=256MiB $VOL"
out=$(docker volume create -d "$NAME" -o size=256MiB "$VOL")
[[ $out == "$VOL" ]] || fail "docker printed '$out'"
[[ -d $T/store/$VOL ]] || fail "no $T/store/$VOL: the store mount does not reach the host"
pass

step "a container writes 32 MiB, a second one reads them back"
sum_written=$(drun -v "$VOL:/data" "$E2E_IMAGE" sh -c '
  set -e
  dd if=/dev/urandom of=/data/payload bs=1M count=32 2>/dev/null
  sync
  sha256sum /data/payload' | awk '{print $1}')
[[ $sum_written =~ ^[0-9a-f]{64}$ ]] || fail "no checksum from the writer: '$sum_written'"
kblocks=$(drun -v "$VOL:/data" "$E2E_IMAGE" df -k /data | awk 'NR == 2 {print $2}')
((kblocks > 262144 * 7 / 10 && kblocks <= 262144)) || fail "/data has $kblocks KiB, expected about 262144"
sum_read=$(drun -v "$VOL:/data" "$E2E_IMAGE" sha256sum /data/payload | awk '{print $1}')
[[ $sum_read == "$sum_written" ]] || fail "read $sum_read, wrote $sum_written"
pass "$kblocks KiB file system"

step "a local volume (-o driver=local: a file on a loop device) too"
docker volume create -d "$NAME" -o size=64MiB -o driver=local "$VOL-local" >/dev/null
drun -v "$VOL-local:/data" "$E2E_IMAGE" sh -c 'echo local-data > /data/f && sync'
[[ $(drun -v "$VOL-local:/data" "$E2E_IMAGE" cat /data/f) == local-data ]] || fail "the second container read other data"
docker volume rm "$VOL-local" >/dev/null
pass

step "the maya CLI in the plugin's mount namespace: the mounted volume is attached by FUSE"
# Operators reach the plugin's daemon this way (README): nsenter into the plugin's process, found
# by containerd's task list. Not `ctr task exec`: dockerd 20.10 takes that exec's exit for the
# plugin's own and loses track of the plugin.
ctr_sock=$E2E_DOCKER_DIR/exec/containerd/containerd.sock
[[ -S $ctr_sock ]] || ctr_sock=/run/containerd/containerd.sock
plugin_pid=$(timeout 30 ctr -a "$ctr_sock" -n maya-e2e-plugins-plugin task ls |
  awk -v id="$plugin_id" '$1 == id {print $2}')
[[ $plugin_pid =~ ^[0-9]+$ ]] || fail "containerd lists no task $plugin_id"
plugin_maya() {
  timeout -k 5 60 nsenter -t "$plugin_pid" -m -r -w env MAYA_CONFIG=/var/lib/maya/maya.conf maya "$@"
}
docker run -d --name plugin-test-holder --pull never --network none -v "$VOL:/data" "$E2E_IMAGE" \
  sleep 600 >/dev/null
attached=$(plugin_maya volume inspect "$VOL" -o json | jq -r .attach)
docker rm -f plugin-test-holder >/dev/null
[[ $attached == fuse ]] || fail "attached by '$attached', not fuse"
pass

step "docker plugin disable refuses while the volume exists; -f disables"
# Docker counts each of the plugin's volumes as a use of the plugin and refuses a plain disable
# ("plugin ... is in use") for as long as the volume exists, mounted or not: -f is needed.
if out=$(docker plugin disable "$NAME" 2>&1); then fail "a plain disable succeeded with volume $VOL"; fi
[[ $out == *"in use"* ]] || fail "a plain disable failed for another reason: $out"
docker plugin disable -f "$NAME" >/dev/null
[[ $(docker plugin inspect -f '{{.Enabled}}' "$NAME") == false ]] || fail "the plugin is still enabled"
# Docker unmounts the plugin's propagated mount (the volumes' mount points and the state bound
# over it): nothing stays mounted in dockerd's mount namespace, where they were.
left=$(nsenter -t "$E2E_DOCKERD_PID" -m findmnt -rn -o TARGET |
  awk -v d="$E2E_DOCKER_DIR/data/plugins/" 'index($0, d) == 1') || fail "cannot read dockerd's mounts"
[[ -z $left ]] || fail "mounts stay under the plugin's directory: $left"
# The entrypoint (the plugin's process 1) stopped maya and the targets before exiting; its last
# line reaches dockerd's log through a pipe, so it is waited for (bounded).
clean_exit() { grep -F "plugin=$plugin_id" "$E2E_DOCKER_DIR/dockerd.log" | grep -qF 'maya exited (status 0)'; }
for ((i = 0; i < 100; i++)); do
  clean_exit && break
  sleep 0.1
done
clean_exit ||
  fail "the plugin's log has no clean exit of maya ('maya exited (status 0)')"
# A key the plugin owns, deleted while it is disabled, comes back at the next enable.
sed -i '/^attach = /d' "$T/state/maya.conf"
pass

step "docker plugin enable again: the volume and its data are there"
t0=$(e2e_now_ms)
docker plugin enable "$NAME" >/dev/null
[[ $(grep -m1 '^id = ' "$T/state/maya.conf") == "$host_id" ]] || fail "the host id changed"
grep -qx 'attach = "fuse"' "$T/state/maya.conf" || fail "the deleted [volume.defaults] attach was not added back"
docker volume ls -q | grep -qx "$VOL" || fail "docker volume ls does not list $VOL"
sum_read=$(drun -v "$VOL:/data" "$E2E_IMAGE" sha256sum /data/payload | awk '{print $1}')
[[ $sum_read == "$sum_written" ]] || fail "after disable/enable read $sum_read, wrote $sum_written"
pass "$((($(e2e_now_ms) - t0) / 1000)) s"

step "docker volume rm"
docker volume rm "$VOL" >/dev/null
[[ ! -e $T/store/$VOL ]] || fail "$T/store/$VOL is still there"
pass
