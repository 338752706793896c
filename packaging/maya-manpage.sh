#!/usr/bin/env bash
# Writes maya(1) with help2man from the binary's own help: `maya --help`, then one subsection per
# command from `maya help COMMAND` (its synopsis, options and example), so the man page never
# drifts from --help.   usage: maya-manpage.sh MAYA_BINARY OUTPUT
set -euo pipefail
maya=$1 out=$2
include=$(mktemp)
trap 'rm -f "$include"' EXIT

commands=(
  init load status unload
  "volume create" "volume list" "volume inspect" "volume stats" "volume delete" "volume attach" "volume detach"
  "volume replica add" "volume replica remove" "volume rebuild"
  "volume snapshot create" "volume snapshot list" "volume snapshot delete"
  "volume snapshot revert" "snapshot list" "snapshot delete" "target serve" "target run"
)
{
  echo "[COMMANDS]"
  for command in "${commands[@]}"; do
    echo ".SS \"maya $command\""
    echo ".nf"
    # roff: a backslash is \e, and a line must not start with . or '
    # shellcheck disable=SC2086 # the command's words are meant to split
    "$maya" help $command | sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"
    echo ".fi"
  done
  cat <<'ROFF'
[EXIT STATUS]
0 done, 1 failed, 2 usage error, 3 the daemon is not running.
[FILES]
.TP
.I /etc/maya.conf
the config (TOML, every key commented), written by \fBmaya init\fR
.TP
.I /run/docker/plugins/maya.sock
Docker's volume plugin socket
[SEE ALSO]
The README in maya's source tree: the quick start, the volume JSON keys, and the way out of
every error state.
ROFF
} >"$include"
help2man --no-info --section 1 --include "$include" --output "$out" \
  --name "host storage agent: persistent, replicated block volumes for containers" "$maya"
