#!/usr/bin/env bash
# Runs a test command with FUSE over io_uring: the fuse module's enable_uring set to Y for the
# run and restored afterwards (on any exit); MAYA_FUSE_IO_URING=1 in the command's environment
# (targets then ask for it, lib/jiva/fuse_uring.h) and MAYA_FUSE_TRANSPORT=io_uring, so that the
# FUSE tests check that the target really serves over io_uring.
# Exits 77 (skipped), saying why, where the parameter cannot be set: Linux before 6.14 or
# without CONFIG_FUSE_IO_URING, or not root.
#
#   bash tests/fuse_uring.sh COMMAND [ARGS...]
set -uo pipefail
param=/sys/module/fuse/parameters/enable_uring
if [[ ! -e $param ]]; then
  echo "SKIP: $param does not exist (FUSE over io_uring needs Linux 6.14+ with CONFIG_FUSE_IO_URING)"
  exit 77
fi
# One run at a time on this host (two ctest processes, two checkouts): each sets the parameter
# and puts back what it found, so overlapping runs would restore it under each other.
lock=/run/lock/maya-fuse-uring.lock
[[ -d /run/lock ]] || lock=/tmp/maya-fuse-uring.lock
exec 9>"$lock"
flock 9
was=$(cat "$param")
if ! { echo Y >"$param"; } 2>/dev/null; then
  echo "SKIP: cannot set $param to Y (root only)"
  exit 77
fi
child=
# shellcheck disable=SC2317 # run by the EXIT trap
restore() {
  [[ -n $child ]] && kill "$child" 2>/dev/null
  echo "$was" >"$param" 2>/dev/null || echo "warning: cannot restore $param to $was" >&2
}
trap restore EXIT
trap 'exit 143' TERM INT
# Without the lock's descriptor: a daemon the test leaves behind must not hold the lock.
MAYA_FUSE_IO_URING=1 MAYA_FUSE_TRANSPORT=io_uring "$@" 9>&- &
child=$!
wait "$child"
rc=$?
child=
exit "$rc"
