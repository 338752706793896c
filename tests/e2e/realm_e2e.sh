#!/usr/bin/env bash
# The Maya Realm's membership (issue 16), on network-namespace hosts: etcd (Debian etcd-server)
# on host E, and hosts A, B and C each running its own maya (own root, own config) that joins
# the realm with `maya init --realm --etcd`:
#   - every host registers: `maya realm status` on each shows all three up, with the zone and
#     address each was given, its pools with their free space;
#   - `maya unload` gives the lease up: the host shows down at once (well within the TTL);
#     `maya load` brings it back up;
#   - a daemon killed with -9 stops renewing: its host shows down once its lease expires; loaded
#     again, it takes its own lease back or registers anew;
#   - `maya load --restart` (exec into a new image): the host is up afterwards;
#   - etcd killed: `maya realm status` fails fast and says "realm store unreachable", `maya
#     status` still answers and shows the realm's error; etcd back (same data): every host is
#     up again without a manual step.
#
#   bash tests/e2e/realm_e2e.sh /path/to/maya
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=realm_hosts.sh
source "$HERE/realm_hosts.sh" "$@"

realm_hosts_up a b c

step "every host sees the three hosts up"
for h in a b c; do wait_for 30 "three hosts up on $h" all_up_on "$h"; done
json=$(on b realm status -o json)
for h in a b c; do
  host=$(jq -c --arg n "host-$h" '.hosts[] | select(.name == $n)' <<<"$json")
  [[ $(jq -r .zone <<<"$host") == "maya-1$h" ]] || fail "$h's zone: $host"
  [[ $(jq -r .address <<<"$host") == "$(ip_of "$h")" ]] || fail "$h's address: $host"
  [[ $(jq -r '.roles | join(",")' <<<"$host") == storage,orchestration ]] || fail "roles: $host"
  jq -e '.pools[] | select(.name == "default") | .free_bytes > 0' <<<"$host" >/dev/null ||
    fail "$h's pools: $host"
done
table=$(on c realm status)
grep -q "^realm e2e: 3 hosts" <<<"$table" || fail "realm status: $table"
grep -Eq "^host-a +[^ ]+ +maya-1a +$(ip_of a) +storage,orchestration +up +default " <<<"$table" ||
  fail "realm status table: $table"
on a status | grep -q "^realm *e2e: registered since" || fail "maya status: $(on a status)"
pass

step "maya unload gives the lease up: down at once; maya load: up again"
on c unload >/dev/null
# The lease is revoked by unload: down long before the TTL would have run out (a bound of 3 s
# for the CLI call itself, well under the 6 s TTL plus its renewal slack).
[[ $(state_on a c) == down ]] || fail "c is $(state_on a c) right after unload"
load_on c || fail "maya load on c"
wait_for 30 "c up again" is_state a c up
pass

step "kill -9 of B's daemon: down once its lease expires; load takes it back"
pid=$(daemon_pid b)
[[ -n $pid ]] || fail "no pid for b"
kill -9 "$pid"
wait_for $((TTL + 30)) "b down after kill -9" is_state a b down
is_state c a up || fail "a is not up on c"
load_on b || fail "maya load on b"
wait_for 30 "b up again" is_state a b up
pass

step "maya load --restart on A: up afterwards"
netns_run a timeout -k 5 60 "$MAYA" --config "$(conf_of a)" load --restart >/dev/null ||
  fail "load --restart"
wait_for 30 "a up after a restart" is_state b a up
pass

VOL=rvol
MIB=64
replica_shared_on() {
  on "$1" replica list -o json | jq -e --arg v "$VOL" \
    '.[] | select(.name == $v) | .share.running' >/dev/null
}
listed_on() { on "$1" volume list -o json | jq -e --arg v "$VOL" '.[] | select(.name == $v)' >/dev/null; }
step "a realm volume created on A lands on A, B and C, and every host lists it"
out=$(on a volume create "$VOL" --size 256MiB --replicas 3 -o json) || fail "volume create: $out"
jq -e '.warnings | length == 0' <<<"$out" >/dev/null || fail "create warned: $out"
for h in a b c; do
  replica_shared_on "$h" || fail "no shared replica $VOL on $h: $(on "$h" replica list)"
  listed_on "$h" || fail "$VOL is not listed on $h: $(on "$h" volume list)"
done
json=$(on b volume inspect "$VOL" -o json)
[[ $(jq -r '.realm.generation' <<<"$json") == 1 ]] || fail "inspect on b: $json"
pass

step "attached on A, written; detached; attached on B: the same data"
head -c $((MIB << 20)) /dev/urandom >"$T/data"
want=$(sha256sum <"$T/data" | cut -d' ' -f1)
dev=$(on a volume attach "$VOL") || fail "attach on a: $dev"
[[ -b $dev ]] || fail "attach on a gave $dev"
dd if="$T/data" of="$dev" bs=1M oflag=direct conv=fsync status=none
[[ $(on c volume inspect "$VOL" -o json | jq -r .realm.attached_on) == host-a ]] ||
  fail "c does not see $VOL attached on host-a: $(on c volume inspect "$VOL" -o json)"
out=$(on b volume attach "$VOL" 2>&1) && fail "b attached $VOL while a holds it: $out"
grep -q "attached on host host-a" <<<"$out" || fail "b's attach: $out"
# Metrics: only the host it is attached on exports the volume; another says where it is.
out=$(on c volume stats "$VOL" --interval 10ms 2>&1) && fail "c showed stats of $VOL, attached on a: $out"
grep -q "attached on host host-a" <<<"$out" || fail "c's volume stats: $out"
scrape_on() { netns_run "$1" curl -sf -m 30 "$(on "$1" status -o json | jq -r .metrics.endpoint)"; }
out=$(scrape_on c) || fail "no scrape on c"
! grep -q "volume=\"$VOL\"" <<<"$out" || fail "c exports $VOL, attached on a: $(grep "$VOL" <<<"$out")"
out=$(scrape_on a) || fail "no scrape on a"
grep -q "^maya_volume_size_bytes{driver=\"jiva\",volume=\"$VOL\"}" <<<"$out" ||
  fail "a does not export $VOL: $(grep maya_volume_size <<<"$out")"
on a volume detach "$VOL" >/dev/null
dev=$(on b volume attach "$VOL") || fail "attach on b: $dev"
got=$(dd if="$dev" bs=1M count=$MIB iflag=direct status=none | sha256sum | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "b reads $got, a wrote $want"
gen=$(on a volume inspect "$VOL" -o json | jq -r .realm.generation)
((gen >= 3)) || fail "generation $gen after two attachments"
on b volume detach "$VOL" >/dev/null
pass "generation $gen"

# The writer: N pieces of 1 MiB of random data at offsets 0, 1 MiB, ... of DEV, each fsynced;
# after each acknowledged (fsynced) piece, "INDEX SHA256" goes to LOG. Stops at the first error.
writer() { # writer DEV N LOG
  timeout 600 python3 - "$1" "$2" "$3" <<'PY'
import hashlib, os, sys
dev, n, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fd = os.open(dev, os.O_WRONLY)
with open(log, "a", buffering=1) as out:
    for i in range(n):
        block = os.urandom(1 << 20)
        os.pwrite(fd, block, i << 20)
        os.fsync(fd)
        out.write(f"{i} {hashlib.sha256(block).hexdigest()}\n")
PY
}
lines() { { wc -l <"$1"; } 2>/dev/null || echo 0; }
has_lines() { (($(lines "$1") >= $2)); }
# verify_pieces DEV LOG: every acknowledged piece reads back from DEV as written.
verify_pieces() {
  local i sha got
  while read -r i sha; do
    got=$(dd if="$1" bs=1M skip="$i" count=1 iflag=direct status=none | sha256sum | cut -d' ' -f1)
    [[ $got == "$sha" ]] || fail "piece $i: read $got, acknowledged $sha"
  done <"$2"
}
a_pids() { ip netns pids "$(netns_host_ns a)"; }
target_pids_a() {
  local p
  for p in $(a_pids); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q " target run " && echo "$p"
  done
}
region_sha() { dd if="$1" bs=1M count=128 iflag=direct status=none | sha256sum | cut -d' ' -f1; }

step "failover: A frozen and cut off while writing; B attaches within the TTL + 30 s"
dev_a=$(on a volume attach "$VOL") || fail "attach on a: $dev_a"
writer "$dev_a" 128 "$T/acked" >"$T/writer.out" 2>&1 &
writer_pid=$!
# shellcheck disable=SC2016 # expanded when the cleanup runs
REALM_CLEANUPS+=('kill -9 $writer_pid 2>/dev/null')
wait_for 60 "20 pieces acknowledged on A" has_lines "$T/acked" 20
# A "dies": every maya process in its namespace stops at once, and its link goes down.
mapfile -t frozen < <(a_pids)
kill -STOP "${frozen[@]}"
# shellcheck disable=SC2016 # expanded when the cleanup runs
REALM_CLEANUPS+=('kill -9 ${frozen[*]} 2>/dev/null; kill -CONT ${frozen[*]} 2>/dev/null')
netns_partition a
t0=$(date +%s%N)
acked=$(lines "$T/acked")
take_b() { dev_b=$(on b volume attach "$VOL" 2>"$T/attach_b.err"); }
wait_for $((TTL + 30)) "attach on B after A died" take_b
failover_ms=$((($(date +%s%N) - t0) / 1000000))
[[ -b $dev_b ]] || fail "attach on b gave $dev_b"
verify_pieces "$dev_b" "$T/acked"
pass "B attached $failover_ms ms after A froze; all $acked acknowledged pieces verify"

step "fencing: A's old target comes back and writes; the replicas refuse it"
before=$(region_sha "$dev_b")
acked_before=$(lines "$T/acked")
netns_heal a
mapfile -t old_targets < <(target_pids_a)
((${#old_targets[@]} == 1)) || fail "A's target: ${old_targets[*]}"
# Only the target and the writer run again; A's daemon and share servers stay frozen.
kill -CONT "${old_targets[@]}"
writer_done() { ! kill -0 "$writer_pid" 2>/dev/null; }
wait_for 90 "A's writer stopped by errors" writer_done
writer_rc=0
wait "$writer_pid" || writer_rc=$?
((writer_rc != 0)) || fail "A's writer finished without an error: $(cat "$T/writer.out")"
(($(lines "$T/acked") == acked_before)) ||
  fail "A acknowledged $(($(lines "$T/acked") - acked_before)) pieces after B took over"
[[ $(region_sha "$dev_b") == "$before" ]] || fail "B's view changed under A's old target"
pass "A's writer stopped (exit $writer_rc): $(tail -n 1 "$T/writer.out")"

step "A back: its stale nexus goes, its replica rejoins B's volume"
kill -9 "${frozen[@]}" 2>/dev/null || true
for p in "${frozen[@]}"; do
  for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
done
load_on a || fail "maya load on a"
no_nexus_a() { ! on a volume inspect "$VOL" -o json | jq -e '.device != null' >/dev/null; }
wait_for 60 "A's stale nexus dropped" no_nexus_a
three_rw_b() {
  [[ $(on b volume inspect "$VOL" -o json | jq -r '[.replicas[].mode] | join(",")') == RW,RW,RW ]]
}
wait_for 120 "A's replica back in B's volume" three_rw_b
verify_pieces "$dev_b" "$T/acked"
pass

# The same writer, round and round over the first WRAP MiB until the file STOP exists:
# "INDEX SHA256" per acknowledged piece (a later line of an index supersedes an earlier one).
looping_writer() { # looping_writer DEV WRAP LOG STOP
  timeout 600 python3 - "$1" "$2" "$3" "$4" <<'PY'
import hashlib, os, sys
dev, wrap, log, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
fd = os.open(dev, os.O_WRONLY)
with open(log, "a", buffering=1) as out:
    i = 0
    while not os.path.exists(stop):
        block = os.urandom(1 << 20)
        os.pwrite(fd, block, (i % wrap) << 20)
        os.fsync(fd)
        out.write(f"{i % wrap} {hashlib.sha256(block).hexdigest()}\n")
        i += 1
PY
}
last_pieces() { awk '{last[$1] = $2} END {for (i in last) print i, last[i]}' "$1"; }

step "etcd killed for 30 s while B writes: the I/O goes on, control fails fast and clearly"
looping_writer "$dev_b" 64 "$T/acked_b" "$T/stop_b" >"$T/writer_b.out" 2>&1 &
writer_b=$!
# shellcheck disable=SC2016 # expanded when the cleanup runs
REALM_CLEANUPS+=('kill -9 $writer_b 2>/dev/null')
wait_for 60 "B's writer going" has_lines "$T/acked_b" 5
etcd_kill 2>/dev/null
killed_at=$(date +%s)
during=$(lines "$T/acked_b")
start=$(date +%s%N)
if out=$(on a realm status 2>&1); then fail "realm status succeeded without etcd: $out"; fi
took=$((($(date +%s%N) - start) / 1000000))
grep -q "realm store unreachable" <<<"$out" || fail "realm status: $out"
((took < 15000)) || fail "realm status took $took ms without etcd"
if out=$(on a volume create rvol2 --size 64MiB --replicas 2 2>&1); then
  fail "volume create succeeded without etcd: $out"
fi
grep -q "realm store unreachable" <<<"$out" || fail "volume create without etcd: $out"
status_err() { on a status -o json | jq -e '.realm.error // "" | test("unreachable")' >/dev/null; }
wait_for 30 "maya status shows the store unreachable" status_err
# etcd stays away 30 s in all.
now=$(date +%s)
left=$((killed_at + 30 - now))
((left <= 0)) || sleep "$left"
kill -0 "$writer_b" || fail "B's writer stopped while etcd was away: $(cat "$T/writer_b.out")"
written=$(($(lines "$T/acked_b") - during))
((written > 0)) || fail "no write was acknowledged on B while etcd was away"
pass "$written MiB acknowledged on B in the 30 s without etcd; create failed: ${out:0:80}"

step "etcd back: every host is up again, B's volume still attached there, create works"
etcd_restart "$T/etcd" || fail "etcd did not restart"
for h in a b c; do wait_for $((TTL + 30)) "three hosts up on $h" all_up_on "$h"; done
no_err() { on a status -o json | jq -e '.realm.registered and (.realm.error == null)' >/dev/null; }
wait_for 30 "a registered without error" no_err
attached_on_b() { [[ $(on c volume inspect "$VOL" -o json | jq -r .realm.attached_on) == host-b ]]; }
wait_for 30 "$VOL attached on host-b again" attached_on_b
out=$(on a volume create rvol2 --size 64MiB --replicas 2 -o json) || fail "create after etcd: $out"
touch "$T/stop_b"
wait "$writer_b" || fail "B's writer failed: $(cat "$T/writer_b.out")"
last_pieces "$T/acked_b" >"$T/last_b"
verify_pieces "$dev_b" "$T/last_b"
pass "$(lines "$T/acked_b") pieces acknowledged on B in all; the last of each verifies"

# ---- maya realm drain -------------------------------------------------------------------------
drain_on_a() { netns_run a timeout -k 5 300 "$MAYA" --config "$(conf_of a)" realm drain "$@" </dev/null; }
step "drain refused while a volume has nowhere to go (3 replicas on the only 3 hosts)"
if out=$(drain_on_a host-c 2>&1); then fail "drain of host-c succeeded: $out"; fi
grep -q "cannot drain host-c" <<<"$out" || fail "drain: $out"
grep -q "$VOL" <<<"$out" || fail "the refused drain does not name $VOL: $out"
[[ $(on a realm status -o json | jq -r '.hosts[] | select(.name == "host-c") | .draining') == null ]] ||
  fail "host-c marked draining after a refused drain"
on b volume detach "$VOL" >/dev/null
on b volume delete "$VOL" >/dev/null
pass "${out:0:100}"

# dr1 on C and A, attached on B (its owner moves it) with a writer running through the drain;
# dr2 on B and C, detached: A, which asks for the drain, attaches it for the move and gives it
# up after.
step "drain C: its replicas move to A and B; the volumes stay healthy and keep their data"
on a volume create dr1 --size 512MiB --hosts host-c,host-a >/dev/null
on a volume create dr2 --size 64MiB --hosts host-b,host-c >/dev/null
head -c $((16 << 20)) /dev/urandom >"$T/dr2"
want2=$(sha256sum <"$T/dr2" | cut -d' ' -f1)
dev2=$(on b volume attach dr2) || fail "attach dr2 on b: $dev2"
dd if="$T/dr2" of="$dev2" bs=1M oflag=direct conv=fsync status=none
on b volume detach dr2 >/dev/null
dev1=$(on b volume attach dr1) || fail "attach dr1 on b: $dev1"
# 384 MiB written first: the new replicas' rebuild takes a while, under the watch below.
dd if=/dev/urandom of="$dev1" bs=1M count=384 oflag=direct conv=fsync status=none
looping_writer "$dev1" 32 "$T/acked_dr1" "$T/stop_dr1" >"$T/writer_dr1.out" 2>&1 &
writer_dr1=$!
# shellcheck disable=SC2016 # expanded when the cleanup runs
REALM_CLEANUPS+=('kill -9 $writer_dr1 2>/dev/null')
wait_for 60 "dr1's writer going" has_lines "$T/acked_dr1" 5
# The watch: dr1's replicas as its owner sees them, twice a second, until the drain is done.
( while [[ ! -e $T/stop_watch ]]; do
  on b volume inspect dr1 -o json 2>&1 | jq -c '{health, modes: [.replicas[].mode]}' 2>&1
  sleep 0.5
done ) >"$T/dr1_health" &
watch_pid=$!
# shellcheck disable=SC2016 # expanded when the cleanup runs
REALM_CLEANUPS+=('kill -9 $watch_pid 2>/dev/null')
drain_started=$(date +%s)
drain_on_a host-c >"$T/drain.out" 2>&1 || fail "drain of host-c: $(cat "$T/drain.out")"
drain_took=$(($(date +%s) - drain_started))
touch "$T/stop_watch"
wait "$watch_pid" || true
kill -0 "$writer_dr1" || fail "dr1's writer stopped during the drain: $(cat "$T/writer_dr1.out")"
touch "$T/stop_dr1"
wait "$writer_dr1" || fail "dr1's writer failed: $(cat "$T/writer_dr1.out")"
# Healthy throughout: never fewer than its 2 replicas in sync, never offline.
samples=$(wc -l <"$T/dr1_health")
((samples >= 2)) || fail "the watch took $samples samples"
bad=$(jq -c 'select(([.modes[] | select(. == "RW")] | length) < 2 or .health == "offline")' \
  "$T/dr1_health" 2>&1) || fail "unreadable watch: $(head -3 "$T/dr1_health")"
[[ -z $bad ]] || fail "dr1 fell below 2 replicas in sync during the drain: $bad"
last_pieces "$T/acked_dr1" >"$T/last_dr1"
verify_pieces "$dev1" "$T/last_dr1"
grep -q "is drained" "$T/drain.out" || fail "drain output: $(cat "$T/drain.out")"
# Where the replicas are now: etcd's records (hosts by name through realm status).
id_of() { on a realm status -o json | jq -r --arg n "host-$1" '.hosts[] | select(.name == $n) | .id'; }
hosts_of() {
  netns_run a etcdctl --endpoints "$ETCD_ENDPOINT" get --print-value-only "/maya/realms/e2e/volumes/$1" |
    jq -r '[.replicas[] | .host + (if .joining then "+" else "" end)] | sort | join(",")'
}
ids_ab=$(printf '%s\n' "$(id_of a)" "$(id_of b)" | sort | paste -sd,)
[[ $(hosts_of dr1) == "$ids_ab" ]] || fail "dr1 is on $(hosts_of dr1), not A and B ($ids_ab)"
[[ $(hosts_of dr2) == "$ids_ab" ]] || fail "dr2 is on $(hosts_of dr2), not A and B ($ids_ab)"
two_rw() { [[ $(on b volume inspect dr1 -o json | jq '[.replicas[] | select(.mode == "RW")] | length') == 2 ]]; }
wait_for 30 "dr1 with its 2 replicas RW" two_rw
pass "drained in ${drain_took} s; $samples samples, never below 2 in sync; $(lines "$T/acked_dr1") pieces written through it"

# A new owner's nexus names the replicas by the ids in the record (r2 and the moved one's r3),
# as their journals do: it opens with both in sync and every piece there.
step "dr1 detached on B and attached on A after its move: the replicas' ids, the same data"
on b volume detach dr1 >/dev/null
dev1=$(on a volume attach dr1) || fail "attach dr1 on a: $dev1"
record_ids=$(netns_run a etcdctl --endpoints "$ETCD_ENDPOINT" get --print-value-only \
  /maya/realms/e2e/volumes/dr1 | jq -r '[.replicas[].id] | sort | join(",")')
nexus_ids() { on a volume inspect dr1 -o json | jq -r '[.replicas[] | select(.mode == "RW") | .id] | sort | join(",")'; }
same_ids() { [[ $(nexus_ids) == "$record_ids" ]]; }
wait_for 30 "A's nexus with the record's replicas ($record_ids) in sync" same_ids
verify_pieces "$dev1" "$T/last_dr1"
on a volume detach dr1 >/dev/null
pass "replicas $record_ids"

step "after the drain: dr2 given up by A and intact; C's replicas destroyed; C takes none"
not_on_a() { [[ $(on b volume inspect dr2 -o json | jq -r '.realm.attached_on // ""') == "" ]]; }
wait_for 60 "A gives dr2 up after its move" not_on_a
dev2=$(on b volume attach dr2) || fail "attach dr2 on b after the drain: $dev2"
got=$(dd if="$dev2" bs=1M count=16 iflag=direct status=none | sha256sum | cut -d' ' -f1)
[[ $got == "$want2" ]] || fail "dr2 reads $got after its move, was $want2"
on b volume detach dr2 >/dev/null
c_replicas() { on c replica list -o json | jq -r '[.[] | select(.name == "dr1" or .name == "dr2")] | length'; }
no_c_replicas() { [[ $(c_replicas) == 0 ]]; }
wait_for 60 "C destroys its moved replicas" no_c_replicas
on a realm status | grep -q "draining" || fail "realm status: $(on a realm status)"
if out=$(on a volume create dr3 --size 64MiB --hosts host-c 2>&1); then
  fail "a volume was placed on draining host-c: $out"
fi
grep -q "host-c: draining" <<<"$out" || fail "create on draining C: $out"
on a realm undrain host-c >/dev/null
on a volume create dr3 --size 64MiB --hosts host-c >/dev/null || fail "create on host-c after undrain"
pass

# A host that misses a volume's deletion (frozen here) still holds its replica when a volume of
# the same name is created again: it must make a new one, not serve the old data.
step "a name deleted and created again while a replica's host is frozen: the new volume is new"
on a volume create rc1 --size 64MiB --hosts host-c,host-a >/dev/null
dev=$(on a volume attach rc1) || fail "attach rc1 on a: $dev"
dd if=/dev/urandom of="$dev" bs=1M count=8 oflag=direct conv=fsync status=none
on a volume detach rc1 >/dev/null
c_pid=$(daemon_pid c)
kill -STOP "$c_pid"
# shellcheck disable=SC2016 # expanded when the cleanup runs
REALM_CLEANUPS+=('kill -CONT $c_pid 2>/dev/null')
on a volume delete rc1 >/dev/null
on a volume create rc1 --size 64MiB --hosts host-c,host-a >"$T/rc1.out" 2>&1 &
create_pid=$!
recorded() { netns_run a etcdctl --endpoints "$ETCD_ENDPOINT" get --print-value-only \
  /maya/realms/e2e/volumes/rc1 | grep -q uid; }
wait_for 30 "rc1 recorded again" recorded
kill -CONT "$c_pid"
wait "$create_pid" || fail "create rc1 again: $(cat "$T/rc1.out")"
dev=$(on a volume attach rc1) || fail "attach the new rc1 on a: $dev"
zeros=$(head -c $((8 << 20)) /dev/zero | sha256sum | cut -d' ' -f1)
got=$(dd if="$dev" bs=1M count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)
[[ $got == "$zeros" ]] || fail "the new rc1 reads the old volume's data"
on a volume detach rc1 >/dev/null
grep -q "earlier volume of that name" "$(root_of c)/var/lib/maya/maya.log" ||
  fail "host c never replaced its old replica: $(tail -5 "$(root_of c)/var/lib/maya/maya.log")"
pass
