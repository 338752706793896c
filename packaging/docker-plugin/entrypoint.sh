#!/bin/bash
# The entrypoint of maya's managed Docker plugin (installed into its rootfs as
# /usr/local/sbin/maya-plugin-entrypoint by build.sh).
#
# maya's config lives in the state directory, which is bound in from the host, so that it (with
# the host id and the API key pair) outlives `docker plugin disable`/`enable` and upgrades. The
# first start writes it with `maya init`; every start then applies the plugin's settable
# environment (ports, addresses) to it, so that `docker plugin set maya/maya:V
# MAYA_ISCSI_PORT=3300` takes effect at the next enable, and runs the daemon in the foreground
# as the plugin's process 1 (its targets are its children and die with the plugin).
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

# set_key SECTION KEY TOML_VALUE: replace KEY's line in [SECTION] of the config. Returns 1 when
# the config has no such line (this maya does not know the key).
set_key() {
  local tmp
  tmp=$(mktemp "$conf.XXXXXX")
  if ! awk -v section="[$1]" -v key="$2" -v value="$3" '
      /^\[/ { here = ($0 == section) }
      here && $0 ~ ("^" key "[ \t]*=") { print key " = " value; found = 1; next }
      { print }
      END { exit !found }' "$conf" >"$tmp"; then
    rm -f "$tmp"
    return 1
  fi
  chmod --reference="$conf" "$tmp"
  mv "$tmp" "$conf"
}

# from_env VAR SECTION KEY string|integer: VAR's value (when VAR is set) as SECTION.KEY.
from_env() {
  local var=$1 section=$2 key=$3 type=$4 value toml
  [[ -n ${!var+set} ]] || return 0
  value=${!var}
  case $type in
    integer)
      [[ $value =~ ^[0-9]+$ ]] || die "$var=$value: want a number"
      toml=$value
      ;;
    string)
      [[ $value != *[\"\\]* && $value != *$'\n'* ]] || die "$var: quotes, backslashes and newlines are not allowed"
      toml="\"$value\""
      ;;
  esac
  if ! set_key "$section" "$key" "$toml"; then
    if [[ $section == metrics ]]; then
      # [metrics] comes with maya's metrics; a maya without them has no such key.
      log "this maya has no [$section] $key; $var is ignored"
      return 0
    fi
    die "$conf has no [$section] $key line to set from $var"
  fi
}

from_env MAYA_ISCSI_ADDRESS iscsi address string
from_env MAYA_ISCSI_PORT iscsi discovery_port integer
from_env MAYA_ISCSI_TARGET_PORTS iscsi target_ports string
from_env MAYA_ISCSI_SHARE_PORTS iscsi share_ports string
from_env MAYA_API_LISTEN api listen string
from_env MAYA_METRICS_LISTEN metrics listen string
from_env MAYA_LOG_LEVEL log level string
# Fixed by the plugin: the key pair in the state directory, the socket Docker expects.
set_key api credentials "\"$state/credentials\"" || die "$conf has no [api] credentials line"
set_key plugin socket '"/run/docker/plugins/maya.sock"' || die "$conf has no [plugin] socket line"

log "starting maya ($(maya --version)) with $conf"
exec maya --config "$conf" load --foreground
