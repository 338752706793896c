#!/usr/bin/env bash
# Replicated jiva volumes through a real daemon and real clients (qemu-img over iSCSI):
#   - 3 replicas; a replica fails in the middle of a write stream; I/O goes on (degraded);
#     `maya volume rebuild --wait` brings it back; every replica is byte-identical to the
#     others and to what the client wrote
#   - rounds of SIGKILL of the target at random points of a write stream: qemu-img reconnects,
#     every acknowledged write reads back, the replicas converge
#   - replica remove and add (a full rebuild)
#   - a snapshot taken while a client writes in order is a point-in-time image; a clone of it is
#     independent of its source afterwards; revert
#
#   bash tests/integration/jiva_replicas.sh MAYA_BINARY
set -euo pipefail
# shellcheck source=jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/jiva_lib.sh" "$@"
jiva_setup

MiB=$((1 << 20))
maya volume create v --size 128MiB --replicas 3 >/dev/null || fail "create v with 3 replicas"
url=$(url_of v)
[[ $(maya volume inspect v -o json | jq '.replicas | length') -eq 3 ]] || fail "inspect does not list 3 replicas"
ok "volume v with 3 replicas"

# --- a replica fails mid-stream --------------------------------------------------------------
head -c $((96 * MiB)) /dev/urandom >"$T/a.raw"
qemu-img convert -n -r 32M -f raw -O raw "$T/a.raw" "$url" >"$T/w.log" 2>&1 &
writer=$!
sleep 1
curl -sf --unix-socket "$(target_socket v)" -X POST http://target/v1/replicas/r2/fault >/dev/null ||
  fail "cannot inject a fault into r2"
kill -0 "$writer" 2>/dev/null || fail "the stream ended before the fault; nothing was tested"
wait "$writer" || fail "the write stream failed when r2 failed: $(cat "$T/w.log")"
writer=
json=$(maya volume inspect v -o json)
[[ $(jq -r .health <<<"$json") == degraded ]] || fail "health is $(jq -r .health <<<"$json"), not degraded"
[[ $(jq -r '.replicas[] | select(.id == "r2") | .mode' <<<"$json") == ERR ]] || fail "r2 is not ERR"
ok "r2 failed mid-stream; the stream completed; the volume is degraded"
maya volume rebuild v --wait >"$T/rebuild.out" 2>&1 || fail "rebuild: $(cat "$T/rebuild.out")"
wait_healthy v
replicas_identical v
qemu-img convert -f raw -O raw "$url" "$T/back.raw" || fail "read back"
cmp -n $((96 * MiB)) "$T/a.raw" "$T/back.raw" || fail "what the volume holds is not what was written"
ok "rebuild: healthy again; replicas identical to each other and to what the client wrote"

# --- SIGKILL of the target at random points of a write stream ----------------------------------
for round in 1 2 3 4; do
  head -c $((64 * MiB)) /dev/urandom >"$T/k.raw"
  qemu-img convert -n -r 24M -f raw -O raw "$T/k.raw" "$url" >"$T/k.log" 2>&1 &
  writer=$!
  sleep "0.$((RANDOM % 9 + 1))"
  pid=$(maya volume inspect v -o json | jq -r .target_pid)
  kill -9 "$pid" || fail "round $round: no target to kill"
  timeout 120 tail --pid="$writer" -f /dev/null || fail "round $round: qemu-img hangs after the kill"
  wait "$writer" || fail "round $round: the stream failed across the kill: $(cat "$T/k.log")"
  writer=
  wait_healthy v
  qemu-img convert -f raw -O raw "$url" "$T/back.raw" || fail "round $round: read back"
  cmp -n $((64 * MiB)) "$T/k.raw" "$T/back.raw" || fail "round $round: acknowledged writes were lost"
  replicas_identical v
done
ok "4 rounds of SIGKILL mid-stream: every write reads back, the replicas converge"

# --- remove a replica, add one (full rebuild) --------------------------------------------------
maya volume replica remove v r3 >/dev/null || fail "replica remove v r3"
[[ ! -e $T/opt/maya-store/v/r3 ]] || fail "r3's files are still there"
maya volume replica add v >"$T/add.out" || fail "replica add v"
grep -q "replica r4 added" "$T/add.out" || fail "replica add said: $(cat "$T/add.out")"
maya volume rebuild v --wait >/dev/null 2>&1 || fail "rebuild after add"
wait_healthy v
replicas_identical v
[[ $(maya volume inspect v -o json | jq -r '[.replicas[].id] | join(",")') == r1,r2,r4 ]] || fail "replicas are not r1,r2,r4"
if maya volume replica remove v r9 2>/dev/null; then fail "removing a replica that does not exist worked"; fi
ok "replica remove and add: r4 rebuilt fully, identical"

# --- snapshot under load: a point-in-time image; clones are independent ------------------------
maya volume create s --size 32MiB --replicas 2 >/dev/null || fail "create s"
surl=$(url_of s)
pattern() {  # pattern LETTER FILE: 4 KiB blocks "<LETTER><block number>" padded
  python3 - "$1" "$2" <<'PY'
import sys
letter, path = sys.argv[1], sys.argv[2]
with open(path, "wb") as f:
    for i in range(32 * 256):
        f.write(("%s%07d" % (letter, i)).encode().ljust(4096, b"."))
PY
}
pattern A "$T/A.raw"
pattern B "$T/B.raw"
qemu-img convert -n -f raw -O raw "$T/A.raw" "$surl" || fail "write A"
# -m 1: one request at a time, in order, so the point in time splits the volume into B then A.
qemu-img convert -n -m 1 -r 8M -f raw -O raw "$T/B.raw" "$surl" >"$T/b.log" 2>&1 &
writer=$!
sleep 1.5
maya volume snapshot create s s1 >/dev/null || fail "snapshot create under load"
kill -0 "$writer" 2>/dev/null || fail "the stream ended before the snapshot; nothing was tested"
wait "$writer" || fail "the stream failed: $(cat "$T/b.log")"
writer=
python3 - "$T/opt/maya-store/s/snapshots/s1.img" <<'PY' || fail "the snapshot is not a point in time"
import sys
data = open(sys.argv[1], "rb").read()
blocks = [data[i:i + 8] for i in range(0, 32 << 20, 4096)]
letters = "".join(b[:1].decode() for b in blocks)
for i, b in enumerate(blocks):
    assert b[1:8] == b"%07d" % i, "block %d holds %r" % (i, b)
k = letters.find("A")
assert k > 0, "no B block: the snapshot missed the writes before it"
assert letters[k:] == "A" * (len(letters) - k), "B after A: not a point in time"
print("snapshot point: %d of %d blocks written" % (k, len(blocks)))
PY
ok "a snapshot taken mid-stream holds every write before its point and none after"
maya volume create c --from s@s1 >/dev/null || fail "clone c from s@s1"
curl_=$(url_of c)
[[ $(maya volume inspect c -o json | jq -r .size_bytes) -eq $((32 * MiB)) ]] || fail "the clone is not the snapshot's size"
qemu-img convert -f raw -O raw "$curl_" "$T/c.raw" || fail "read the clone"
cmp "$T/c.raw" "$T/opt/maya-store/s/snapshots/s1.img" || fail "the clone differs from its snapshot"
qemu-img convert -n -f raw -O raw "$T/A.raw" "$curl_" || fail "write the clone"
qemu-img convert -f raw -O raw "$surl" "$T/s.raw" || fail "read s"
cmp "$T/s.raw" "$T/B.raw" || fail "writing the clone changed its source"
qemu-img convert -n -f raw -O raw "$T/B.raw" "$curl_" || fail "write the clone again"
qemu-img convert -n -f raw -O raw "$T/A.raw" "$surl" || fail "write s"
qemu-img convert -f raw -O raw "$curl_" "$T/c.raw" || fail "read the clone"
cmp "$T/c.raw" "$T/B.raw" || fail "writing the source changed its clone"
ok "a clone of the snapshot holds it, and clone and source are independent afterwards"
maya volume snapshot revert s s1 >/dev/null || fail "revert s to s1"
qemu-img convert -f raw -O raw "$surl" "$T/s.raw" || fail "read s after revert"
cmp "$T/s.raw" "$T/opt/maya-store/s/snapshots/s1.img" || fail "revert did not restore the snapshot"
replicas_identical s
maya volume snapshot delete s s1 >/dev/null || fail "snapshot delete"
[[ $(maya volume snapshot list s -o json | jq length) -eq 0 ]] || fail "the snapshot is still listed"
ok "revert restores the snapshot on every replica; delete removes it"
echo "jiva replicas: all passed"
