#!/usr/bin/env bash
# [volume.defaults] fuse_transport picks how a jiva target takes its FUSE attachment's requests,
# through a real daemon in a temp root, with no MAYA_FUSE_IO_URING in the environment (the key
# alone decides), on a kernel whose fuse module offers io_uring (run it through
# tests/fuse_uring.sh, which sets enable_uring = Y for the run):
#   - fuse_transport = "io_uring": `maya volume attach` serves over io_uring (inspect says so),
#     and data written through the device reads back
#   - changed by a reload: kept, with a warning (the targets' command line is built at start)
#   - fuse_transport = "dev_fuse" after `maya load --restart`: a new volume is served through
#     /dev/fuse although the kernel offers io_uring
#
#   bash tests/fuse_uring.sh bash tests/integration/jiva_fuse_transport.sh MAYA_BINARY
set -euo pipefail
# shellcheck source=jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/jiva_lib.sh" "$@"
[[ $(id -u) -eq 0 ]] || { echo "SKIP: FUSE mounts and loop devices need root"; exit 77; }
[[ -c /dev/fuse && -e /dev/loop-control ]] || { echo "SKIP: no /dev/fuse or /dev/loop-control"; exit 77; }
[[ $(cat /sys/module/fuse/parameters/enable_uring 2>/dev/null) == Y ]] ||
  { echo "SKIP: the fuse module does not offer io_uring (run through tests/fuse_uring.sh)"; exit 77; }
unset MAYA_FUSE_IO_URING
transport_cleanup() {
  set +e
  for v in tu td; do maya volume detach "$v" >/dev/null 2>&1; done
  jiva_cleanup
}
trap transport_cleanup EXIT

# set_key KEY VALUE: one [volume.defaults] key of the config, checked.
set_key() {
  sed -i "s/^$1 = .*/$1 = \"$2\"/" "$CONF"
  grep -q "^$1 = \"$2\"\$" "$CONF" || fail "maya.conf has no $1 key"
}
# attach_checked VOLUME TRANSPORT: attaches, checks inspect's fuse.transport and the data path.
attach_checked() {
  local dev json
  maya volume create "$1" --size 32MiB --replicas 1 >/dev/null || fail "create $1"
  dev=$(maya volume attach "$1") || fail "attach $1: $dev"
  json=$(maya volume inspect "$1" -o json) || fail "inspect $1"
  [[ $(jq -r .attach <<<"$json") == fuse ]] || fail "$1 is not attached through FUSE: $(jq -c '{attach, fuse}' <<<"$json")"
  [[ $(jq -r .fuse.transport <<<"$json") == "$2" ]] ||
    fail "$1 is served over $(jq -r .fuse.transport <<<"$json"), not $2"
  head -c $((1 << 20)) /dev/urandom >"$T/data"
  dd if="$T/data" of="$dev" bs=64k oflag=direct status=none || fail "write through $dev"
  cmp -n $((1 << 20)) "$T/data" "$dev" || fail "$dev does not read back what was written"
  maya volume detach "$1" >/dev/null || fail "detach $1"
}

jiva_setup
# Both keys before the targets exist: fuse_transport is read when the daemon starts.
set_key attach fuse
set_key fuse_transport io_uring
maya unload >/dev/null || fail "maya unload"
maya load >/dev/null || fail "maya load with fuse_transport = io_uring"
attach_checked tu io_uring
ok "fuse_transport = \"io_uring\": the attach is served over io_uring, data reads back"

set_key fuse_transport dev_fuse
out=$(maya load 2>&1) || fail "maya load (reload): $out"
grep -q "fuse_transport changed" <<<"$out" || fail "a reload changing fuse_transport does not warn: $out"
ok "a reload keeps fuse_transport and says so"

out=$(maya load --restart 2>&1) || fail "maya load --restart with fuse_transport = dev_fuse: $out"
attach_checked td dev_fuse
ok "fuse_transport = \"dev_fuse\": served through /dev/fuse although the kernel offers io_uring"
