#!/bin/bash
# The entrypoint of maya's managed Docker plugin (installed into its rootfs as
# /usr/local/sbin/maya-plugin-entrypoint by build.sh).
#
# maya's config lives in the state directory, which is bound in from the host, so that it (with
# the host id and the API key pair) outlives `docker plugin disable`/`enable` and upgrades. The
# first start writes it with `maya init`; every start then rewrites the keys the plugin's
# environment owns (ports, addresses, attach mode, log level, the API key pair's and the plugin
# socket's paths), so that `docker plugin set maya/maya:V MAYA_ISCSI_PORT=3300` takes effect at
# the next enable.
#
# This shell stays the plugin's process 1 and runs the daemon as its child: when process 1 of a
# PID namespace exits, the kernel SIGKILLs everything else in it, the volumes' targets too. On
# SIGTERM (`docker plugin disable`, which SIGKILLs after 10 s) it stops the daemon and the targets
# cleanly (`maya unload --stop-targets`), reaps what is left, and only then exits.
set -euo pipefail

state=/var/lib/maya # [paths] state of `maya init`'s defaults; config.json binds it in
conf=${MAYA_CONFIG:-$state/maya.conf}

log() { echo "maya-plugin: $*" >&2; }
die() {
  log "$*"
  exit 1
}

mountpoint -q "$state" || die "$state is not a mount: the plugin's 'state' mount is missing"
mountpoint -q /opt/maya-store || die "/opt/maya-store is not a mount: the plugin's 'store' mount is missing"

# /run is a directory of the plugin's rootfs, kept across disable/enable: empty maya's part of it
# as a boot would (a pidfile, sockets and FUSE mount points of the previous run).
rm -rf --one-file-system /run/maya

if [[ ! -s $conf ]]; then
  log "first start: writing $conf"
  maya init --config "$conf" >&2
  # init wrote the API key pair where its defaults say ([api] credentials, in the rootfs, which an
  # upgrade replaces); it moves to the state directory below and `maya load` makes a new pair there.
  rm -f /etc/maya/credentials
fi

# The keys this maya knows: those of a config `maya init` writes now, in a throwaway root. A key
# the plugin sets that this maya does not know (an older maya without [metrics]) is skipped, as
# maya refuses unknown keys.
reference=$(mktemp -d)
maya init --root "$reference" >/dev/null || die "maya init --root $reference failed"
known=$(<"$reference/etc/maya.conf")
rm -rf --one-file-system "$reference"

# The awk part of set_key: the TOML text with KEY of [SECTION] set to VALUE: its line replaced,
# else a line added at the end of the section (before the next header), else the section added at
# the end of the file. Headers are compared without comments and blanks, keys without leading
# blanks. With `only_replace` set (the test against the reference config) nothing is added, and
# it exits 3 when the key is absent.
# shellcheck disable=SC2016 # awk's own $0
set_key_awk='
  function header(line) {
    sub(/#.*/, "", line)
    gsub(/[ \t]/, "", line)
    return line
  }
  /^[ \t]*\[/ {
    if (here && !found && !only_replace) { print key " = " value; found = 1 }
    here = (header($0) == section)
    print
    if (here) seen = 1
    next
  }
  here && !found && $0 ~ ("^[ \t]*" key "[ \t]*=") { print key " = " value; found = 1; next }
  { print }
  END {
    if (found) exit 0
    if (only_replace) exit 3
    if (here) { print key " = " value; exit 0 }
    print ""
    print section
    print key " = " value
  }'

# set_key SECTION KEY TOML_VALUE: set KEY of [SECTION] in the config (replacing, or adding it).
# Returns 3 (changing nothing) when this maya does not know the key.
set_key() {
  local tmp
  if ! awk -v section="[$1]" -v key="$2" -v value="" -v only_replace=1 "$set_key_awk" \
    <<<"$known" >/dev/null; then
    return 3
  fi
  tmp=$(mktemp "$conf.XXXXXX")
  awk -v section="[$1]" -v key="$2" -v value="$3" -v only_replace=0 "$set_key_awk" "$conf" >"$tmp" || {
    rm -f "$tmp"
    die "could not edit $conf"
  }
  chmod --reference="$conf" "$tmp"
  mv "$tmp" "$conf"
}

# from_env VAR SECTION KEY string|integer|attach: VAR's value (when VAR is set) as SECTION.KEY.
from_env() {
  local var=$1 section=$2 key=$3 type=$4 value toml
  [[ -n ${!var+set} ]] || return 0
  value=${!var}
  case $type in
    integer)
      [[ $value =~ ^[0-9]+$ ]] || die "$var=$value: want a number"
      toml=$value
      ;;
    attach)
      [[ $value =~ ^(fuse|iscsi|auto)$ ]] || die "$var=$value: want fuse, iscsi or auto"
      toml="\"$value\""
      ;;
    string)
      [[ $value != *[\"\\]* && $value != *$'\n'* ]] || die "$var: quotes, backslashes and newlines are not allowed"
      toml="\"$value\""
      ;;
  esac
  set_key "$section" "$key" "$toml" || log "this maya has no [$section] $key; $var is ignored"
}

from_env MAYA_ISCSI_ADDRESS iscsi address string
from_env MAYA_ISCSI_PORT iscsi discovery_port integer
from_env MAYA_ISCSI_TARGET_PORTS iscsi target_ports string
from_env MAYA_ISCSI_SHARE_PORTS iscsi share_ports string
from_env MAYA_API_LISTEN api listen string
from_env MAYA_METRICS_LISTEN metrics listen string
from_env MAYA_ATTACH volume.defaults attach attach
from_env MAYA_LOG_LEVEL log level string
# Fixed by the plugin: the key pair in the state directory, the socket Docker expects.
set_key api credentials "\"$state/credentials\"" || die "this maya has no [api] credentials"
set_key plugin socket '"/run/docker/plugins/maya.sock"' || die "this maya has no [plugin] socket"

# open-iscsi's initiator name, this plugin's own (build.sh leaves none in the rootfs): iscsiadm
# reads it; maya's FUSE attach does not need it.
if [[ ! -s /etc/iscsi/initiatorname.iscsi ]] && command -v iscsi-iname >/dev/null; then
  mkdir -p /etc/iscsi
  echo "InitiatorName=$(iscsi-iname)" >/etc/iscsi/initiatorname.iscsi
fi

daemon_pid=
# A clean stop: the daemon stops its targets and exits. It refuses while volumes are attached to
# this host (or has not written its pidfile yet): then SIGTERM stops it alone, and its targets
# are stopped below, each by SIGTERM.
# shellcheck disable=SC2317 # run by the trap below
clean_stop() {
  log "stopping maya and its volumes' targets"
  local i
  if timeout -k 1 6 maya --config "$conf" unload --stop-targets >&2; then
    # Stopped (its pidfile is gone; the process may still be exiting), or not yet started.
    for ((i = 0; i < 30; i++)); do
      [[ -n $daemon_pid ]] && kill -0 "$daemon_pid" 2>/dev/null || return 0
      sleep 0.1
    done
  fi
  [[ -z $daemon_pid ]] || kill -TERM "$daemon_pid" 2>/dev/null || true
}
trap clean_stop TERM INT

log "starting maya ($(maya --version)) with $conf"
maya --config "$conf" load --foreground &
daemon_pid=$!
status=0
# `wait` returns early when a trapped signal arrives: wait again until the daemon has exited.
for ((i = 0; i < 100000; i++)); do
  wait "$daemon_pid" && status=0 || status=$?
  kill -0 "$daemon_pid" 2>/dev/null || break
done
# A wait the trap interrupted says 128+signal, not the daemon's status: bash kept that one.
if ((status > 128)); then wait "$daemon_pid" && status=0 || status=$?; fi
log "maya exited (status $status)"

# Targets the daemon left (it died, or refused to stop them): stopped by SIGTERM, each waited for.
timeout -k 1 5 maya --config "$conf" unload --stop-targets >/dev/null 2>&1 || true
# Whatever else remains (this is process 1: orphans are ours), a bounded while; bash reaps them.
for ((i = 0; i < 40; i++)); do
  others=0
  for p in /proc/[0-9]*; do
    [[ ${p#/proc/} == 1 ]] || others=1
  done
  ((others)) || break
  sleep 0.1
done
exit "$status"
