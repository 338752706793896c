# The common part of maya's Docker end-to-end tests (sourced after HERE and the usage check):
# step bookkeeping, bounded `maya` calls in a temp root, a private dockerd with a local busybox
# image, and cleanup that leaves no mount, loop device or process behind.
#
#   source "$HERE/maya_e2e.sh" MAYA_BINARY; maya_e2e_setup
# shellcheck shell=bash source-path=SCRIPTDIR

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

# The plugin's name is this run's own, so an installed maya serving plugin `maya` on
# /run/docker/plugins/maya.sock goes on untouched beside the test (dockerd finds plugins by
# socket name there: `docker volume create -d "$PLUGIN"`).
PLUGIN=maya-e2e-$$
PLUGIN_SOCKET=/run/docker/plugins/$PLUGIN.sock

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
maya_e2e_setup() {
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
  sed -i 's/^discovery_port = .*/discovery_port = 0/; s/^listen = .*/listen = "127.0.0.1:0"/' "$CONF"
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
}
