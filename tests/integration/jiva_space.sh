#!/usr/bin/env bash
# A full store is not a dead replica (issue 10, failure 2; SBC-4 thin provisioning), on a real
# 16 MiB tmpfs as the store (root: mount), through a real daemon and QEMU's iSCSI client:
#   - 1 MiB written, then 32 MiB: the write fails with SPACE ALLOCATION FAILED WRITE PROTECT
#     (07h/27h/07h; QEMU maps exactly that sense to ENOSPC, MEDIUM ERROR to EIO); the first
#     1 MiB still reads back; the replica stays RW; the low-space warning shows in inspect,
#     status and the target log
#   - space freed: a write succeeds with no restart (same target pid) and no rebuild
#   - the store full again and the target killed: the restarted target cannot write its
#     journal, yet serves reads and says why (inspect: read-only); once space is freed it
#     takes writes again
#   - through FUSE a full store is ENOSPC, not EIO (where /dev/fuse exists)
#   - `maya volume rebuild --wait` is bounded and prints what it waits for; with nothing to
#     rebuild from (the original hang) it says why and exits non-zero at once
#
#   bash tests/integration/jiva_space.sh MAYA_BINARY
set -euo pipefail
# shellcheck source=jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/jiva_lib.sh" "$@"
command -v qemu-io >/dev/null || { echo "SKIP: qemu-io is not installed (qemu-utils)"; exit 77; }
[[ $(id -u) -eq 0 ]] || { echo "SKIP: mounting a tmpfs store needs root"; exit 77; }

store=$T/opt/maya-store
mkdir -p "$store"
mount -t tmpfs -o size=16m tmpfs "$store" || { echo "SKIP: cannot mount a tmpfs"; exit 77; }
space_cleanup() {
  set +e
  maya unload --stop-targets >/dev/null 2>&1
  for f in "$T"/run/maya/targets/*.pid; do
    [[ -e $f ]] && pkill -9 -F "$f" 2>/dev/null
  done
  umount -l "$store" 2>/dev/null
  jiva_cleanup
}
trap space_cleanup EXIT

jiva_setup
sed -i 's/^space_warn_percent = .*/space_warn_percent = 50/' "$CONF"
grep -q '^space_warn_percent = 50' "$CONF" || fail "maya.conf has no space_warn_percent key"
maya load >/dev/null || fail "maya load (reload with space_warn_percent)"
maya volume create rb --size 64MiB --replicas 1 >/dev/null || fail "create rb"
# The target reads the config at start: restart it so that it warns at 50 %.
pid=$(maya volume inspect rb -o json | jq -r .target_pid)
url=$(url_of rb)

# Waits (at most 20 s) for the target to run with a pid other than $1; prints the new pid.
wait_new_target() {
  local new=
  for _ in $(seq 1 200); do
    new=$(maya volume inspect rb -o json 2>/dev/null | jq -r 'select(.target_state == "running") | .target_pid')
    [[ -n $new && $new != null && $new != "$1" ]] && { echo "$new"; return 0; }
    sleep 0.1
  done
  fail "the target of rb did not come back within 20 s (was pid $1)"
}
kill -9 "$pid"
pid=$(wait_new_target "$pid")

qio() { qemu-io -f raw "$@" "$url" 2>&1; }

# --- 1 MiB, then past the warning, then 32 MiB on a 16 MiB store ------------------------------
out=$(qio -c 'write -P 0x11 0 1M') || fail "the first 1 MiB: $out"
# Something else takes 8 MiB of the store: past space_warn_percent (50), not yet full.
head -c $((8 << 20)) /dev/zero >"$store/filler" || fail "cannot make room to free later"
# The low-space warning (the target checks every 2 s): inspect, status, the target's log.
for _ in $(seq 1 100); do
  json=$(maya volume inspect rb -o json)
  [[ $(jq -r .space_warning <<<"$json") != null ]] && break
  sleep 0.1
done
[[ $(jq -r .space_warning <<<"$json") != null ]] || fail "inspect shows no space warning: $(jq -c . <<<"$json")"
[[ $(jq -r .store_used_percent <<<"$json") -ge 50 ]] || fail "inspect: store_used_percent $(jq -r .store_used_percent <<<"$json")"
maya volume inspect rb | grep -q "^warning" || fail "inspect (table) shows no warning line"
maya status -o json | jq -e '.store.used_percent >= 50 and (.warnings | length) >= 1' >/dev/null ||
  fail "maya status -o json shows no store warning: $(maya status -o json | jq -c '{store, warnings}')"
maya status | grep -q "^store .*% used" || fail "maya status (table) shows no store line"
grep -q "full (warning at 50%)" "$store/rb/target.log" || fail "no low-space warning in the target's log"
ok "low space: a warning in inspect, status (table and json) and the target's log"

out=$(qio -c 'write -P 0x22 1M 32M' || true)
grep -q "No space left on device" <<<"$out" ||
  fail "a write to a full store did not fail with SPACE ALLOCATION FAILED WRITE PROTECT (QEMU: ENOSPC): $out"
grep -q "Input/output error" <<<"$out" && fail "a full store answered MEDIUM ERROR (EIO): $out"
out=$(qio -c 'read -P 0x11 0 1M') || fail "reads of the first 1 MiB fail on a full store: $out"
json=$(maya volume inspect rb -o json)
[[ $(jq -r .health <<<"$json") == healthy ]] || fail "health $(jq -r .health <<<"$json") on a full store, not healthy"
[[ $(jq -r '.replicas[0].mode' <<<"$json") == RW ]] || fail "r1 left the volume: $(jq -c .replicas <<<"$json")"
[[ $(jq -r .target_pid <<<"$json") == "$pid" ]] || fail "the target restarted"
ok "a full store: 07h/27h/07h on the wire (ENOSPC in QEMU), reads go on, r1 stays RW"

# --- space freed: a write succeeds, no restart, no rebuild ----------------------------------
rm -f "$store/filler"
# 48 MiB is past what the failed write stored: this write needs new space.
out=$(qio -c 'write -P 0x33 48M 1M') || fail "a write after space was freed: $out"
out=$(qio -c 'read -P 0x33 48M 1M' -c 'read -P 0x11 0 1M') || fail "read back after space was freed: $out"
json=$(maya volume inspect rb -o json)
[[ $(jq -r .target_pid <<<"$json") == "$pid" ]] || fail "the target was restarted to recover"
[[ $(jq -r .health <<<"$json") == healthy && $(jq -r .rebuild <<<"$json") == null ]] ||
  fail "not healthy without a rebuild: $(jq -c '{health, replicas, rebuild}' <<<"$json")"
timeout 60 "$maya_bin" --config "$CONF" volume rebuild rb --wait --timeout 30s >"$T/rebuild.out" 2>&1 ||
  fail "rebuild --wait on a healthy volume: $(cat "$T/rebuild.out")"
grep -q "volume rb is healthy" "$T/rebuild.out" || fail "rebuild --wait: $(cat "$T/rebuild.out")"
ok "space freed: writes succeed with no restart and no rebuild; rebuild --wait returns at once"

# --- a target restarted while the store is full serves reads and says why --------------------
head -c $((16 << 20)) /dev/zero >"$store/filler2" 2>/dev/null || true  # fills what is left
kill -9 "$pid"
pid=$(wait_new_target "$pid")
out=$(qio -c 'read -P 0x11 0 1M') || fail "the restarted target does not serve reads: $out"
json=$(maya volume inspect rb -o json)
[[ $(jq -r .read_only <<<"$json") == *"No space left"* ]] ||
  fail "inspect does not say why writes are refused: $(jq -c '{health, read_only, replicas}' <<<"$json")"
maya volume inspect rb | grep -q "^read-only" || fail "inspect (table) has no read-only line"
out=$(qio -c 'write -P 0x44 56M 64k' || true)
grep -q "No space left on device" <<<"$out" || fail "a write to the read-only volume: $out"
sleep 1
[[ $(maya volume inspect rb -o json | jq -r .target_pid) == "$pid" ]] || fail "the target restarts in a loop on a full store"
rm -f "$store/filler2"
out=$(qio -c 'write -P 0x44 56M 64k') || fail "a write once space is back: $out"
[[ $(maya volume inspect rb -o json | jq -r .read_only) == null ]] || fail "still read-only once space is back"
out=$(qio -c 'read -P 0x11 0 1M' -c 'read -P 0x33 48M 1M' -c 'read -P 0x44 56M 64k') || fail "read back: $out"
ok "a target started on a full store serves reads, says why, and takes writes once space is freed"

# --- through FUSE: a full store is ENOSPC, not EIO --------------------------------------------
if [[ -e /dev/fuse ]]; then
  head -c $((16 << 20)) /dev/zero >"$store/filler3" 2>/dev/null || true
  curl -sf --unix-socket "$(target_socket rb)" -X POST http://target/v1/frontend/fuse >"$T/fuse.json" ||
    fail "cannot expose rb through FUSE"
  file=$(jq -r .file "$T/fuse.json")
  if [[ -n ${MAYA_FUSE_TRANSPORT:-} ]]; then
    [[ $(jq -r .transport "$T/fuse.json") == "$MAYA_FUSE_TRANSPORT" ]] ||
      fail "FUSE serves through $(jq -r .transport "$T/fuse.json"), not $MAYA_FUSE_TRANSPORT"
  fi
  [[ -e $file ]] || fail "the FUSE file is missing: $(cat "$T/fuse.json")"
  if dd if=/dev/zero of="$file" bs=64k seek=640 count=4 conv=notrunc oflag=direct >"$T/dd.out" 2>&1; then
    fail "a write through FUSE to a full store succeeded"
  fi
  grep -q "No space left on device" "$T/dd.out" || fail "FUSE answered a full store with: $(cat "$T/dd.out")"
  dd if="$file" of=/dev/null bs=1M count=1 iflag=direct 2>"$T/dd.out" || fail "FUSE reads on a full store: $(cat "$T/dd.out")"
  rm -f "$store/filler3"
  dd if=/dev/zero of="$file" bs=64k seek=640 count=4 conv=notrunc oflag=direct 2>"$T/dd.out" ||
    fail "a write through FUSE once space is back: $(cat "$T/dd.out")"
  curl -sf --unix-socket "$(target_socket rb)" -X DELETE http://target/v1/frontend/fuse >/dev/null ||
    fail "cannot withdraw the FUSE file"
  ok "through FUSE a full store is ENOSPC (not EIO); reads go on; writes resume once space is freed"
else
  echo "# no /dev/fuse: the FUSE part is not run"
fi

# --- rebuild --wait when nothing can progress: it says why and exits non-zero, at once ---------
maya volume create dead --size 16MiB --replicas 2 >/dev/null || fail "create dead"
for r in r1 r2; do
  curl -sf --unix-socket "$(target_socket dead)" -X POST "http://target/v1/replicas/$r/fault" >/dev/null ||
    fail "cannot fail replica $r of dead"
done
[[ $(maya volume inspect dead -o json | jq -r .health) == failed ]] || fail "dead is not failed"
rc=0
timeout 60 "$maya_bin" --config "$CONF" volume rebuild dead --wait --timeout 30s >"$T/dead.out" 2>&1 || rc=$?
[[ $rc -ne 124 ]] || fail "rebuild --wait hung: $(cat "$T/dead.out")"
[[ $rc -ne 0 ]] || fail "rebuild --wait of a volume with no data left succeeded: $(cat "$T/dead.out")"
sed 's/^/# /' "$T/dead.out"
grep -q "no replica holds the data" "$T/dead.out" || fail "rebuild --wait does not say why: $(cat "$T/dead.out")"
ok "rebuild --wait with nothing to rebuild from says why and exits non-zero"
