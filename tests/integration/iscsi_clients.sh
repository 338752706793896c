#!/usr/bin/env bash
# Real initiators against `maya target serve`: libiscsi's iscsi-ls and iscsi-inq, QEMU's iSCSI
# driver (qemu-img convert writes an image through the target and reads it back), CHAP refusal,
# and a target killed with SIGKILL mid-write and started again on the same file.
#
#   bash tests/integration/iscsi_clients.sh MAYA_BINARY
set -euo pipefail

maya=${1:?usage: iscsi_clients.sh MAYA_BINARY}
for tool in iscsi-ls iscsi-inq qemu-img; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (see packaging/install-deps.sh)"; exit 77; }
done

work=$(mktemp -d /tmp/maya-clients.XXXXXX)
target_pid=
stop_target() {
  if [[ -n $target_pid ]]; then
    kill "$target_pid" 2>/dev/null || true
    wait "$target_pid" 2>/dev/null || true
    target_pid=
  fi
}
trap 'stop_target; rm -rf "$work"' EXIT
fail() { echo "not ok - $*" >&2; tail -20 "$work/serve.log" >&2 2>/dev/null || true; exit 1; }
ok() { echo "ok - $*"; }

iqn=iqn.2026-11.io.maya:clients
user=maya-user secret=maya-secret-0123
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="127.0.0.1:$port"
url="iscsi://${user}%${secret}@$base/$iqn/0"

start_target() {  # serves $work/disk.img (256 MiB) with CHAP on $base
  "$maya" target serve --backing "$work/disk.img" --size 256MiB --iqn "$iqn" --listen "$base" \
    --chap-user "$user" --chap-secret "$secret" >"$work/serve.out" 2>>"$work/serve.log" &
  target_pid=$!
  for _ in $(seq 1 100); do
    grep -q "^serving $iqn on $base" "$work/serve.out" 2>/dev/null && return 0
    kill -0 "$target_pid" 2>/dev/null || fail "the target exited at start"
    sleep 0.05
  done
  fail "the target did not start listening on $base"
}

start_target
ok "maya target serve listens on $base"

iscsi-ls -s "iscsi://${user}%${secret}@$base" >"$work/ls.out" 2>&1 || fail "iscsi-ls: $(cat "$work/ls.out")"
grep -q "Target:$iqn Portal:$base" "$work/ls.out" || fail "iscsi-ls does not list the target: $(cat "$work/ls.out")"
# iscsi-ls prints (last LBA × block size), one block short of 256M.
grep -qE "Lun:0 *Type:DIRECT_ACCESS \(Size:25[56]M\)" "$work/ls.out" || fail "iscsi-ls: LUN 0 not a 256M disk: $(cat "$work/ls.out")"
ok "iscsi-ls lists the target and a 256M LUN 0"

iscsi-inq "$url" >"$work/inq.out" 2>&1 || fail "iscsi-inq: $(cat "$work/inq.out")"
grep -q "Vendor:MAYA" "$work/inq.out" || fail "iscsi-inq: no vendor MAYA: $(cat "$work/inq.out")"
iscsi-inq -e 1 -c 131 "$url" >"$work/vpd83.out" 2>&1 || fail "iscsi-inq VPD 83h: $(cat "$work/vpd83.out")"
grep -q "Designator Type:(3) NAA" "$work/vpd83.out" || fail "VPD 83h has no NAA designator: $(cat "$work/vpd83.out")"
ok "iscsi-inq reads the standard INQUIRY and VPD 83h"

if iscsi-inq "iscsi://${user}%wrong-secret-000@$base/$iqn/0" >"$work/bad.out" 2>&1; then
  fail "a wrong CHAP secret was accepted"
fi
if iscsi-inq "iscsi://$base/$iqn/0" >"$work/none.out" 2>&1; then
  fail "a login without CHAP was accepted"
fi
ok "a wrong CHAP secret and a login without CHAP are refused"

# qemu-img: write a 64 MiB image of random data through the target, read it back identical.
head -c 64M /dev/urandom >"$work/image.raw"
qemu-img convert -n -f raw -O raw "$work/image.raw" "$url" || fail "qemu-img convert to the target"
qemu-img convert -f raw -O raw "$url" "$work/back.raw" || fail "qemu-img convert from the target"
cmp -n $((64 << 20)) "$work/image.raw" "$work/back.raw" || fail "the image read back differs"
ok "qemu-img convert writes 64 MiB through the target and reads them back identical"

# SIGKILL while qemu-img writes; start again on the same file and port; the client reconnects
# and finishes, and everything it wrote reads back.
head -c 128M /dev/urandom >"$work/image2.raw"
# -r limits the rate (32 MiB/s) so the kill lands in the middle of the copy.
qemu-img convert -n -r 32M -f raw -O raw "$work/image2.raw" "$url" >"$work/convert2.log" 2>&1 &
writer=$!
sleep 1
kill -9 "$target_pid"
wait "$target_pid" 2>/dev/null || true
target_pid=
kill -0 "$writer" 2>/dev/null || fail "qemu-img finished before the kill; the test did not interrupt it"
sleep 0.5
start_target
if ! timeout 120 tail --pid="$writer" -f /dev/null; then fail "qemu-img did not finish after the restart"; fi
wait "$writer" || fail "qemu-img failed across the target restart: $(cat "$work/convert2.log")"
qemu-img convert -f raw -O raw "$url" "$work/back2.raw" || fail "qemu-img convert from the restarted target"
cmp -n $((128 << 20)) "$work/image2.raw" "$work/back2.raw" || fail "data written across the kill differs"
ok "a target killed with SIGKILL mid-write is restarted; qemu-img reconnects and all data reads back"

stop_target
echo "iscsi clients: all passed"
