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
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (network namespaces)"; exit 77; }
[[ $# -eq 1 ]] || { echo "usage: bash $0 /path/to/maya" >&2; exit 2; }
MAYA=$(readlink -f -- "$1")
for tool in jq etcd etcdctl; do
  command -v "$tool" >/dev/null ||
    { echo "SKIP: $tool is not installed (packaging/install-deps.sh --with-tests)"; exit 77; }
done
# shellcheck source=../support/netns_hosts.sh
source "$HERE/../support/netns_hosts.sh"
# shellcheck source=../support/etcd.sh
source "$HERE/../support/etcd.sh"
netns_hosts_require

TTL=6
STEP=setup
FAILED=0
step() { STEP=$*; }
pass() { echo "ok - $STEP${1:+ ($1)}"; }
fail() {
  echo "not ok - $STEP: $*"
  FAILED=1
  exit 1
}

T=$(mktemp -d /tmp/maya-realm.XXXXXX)
root_of() { echo "$T/hosts/$1"; }
conf_of() { echo "$(root_of "$1")/maya.conf"; }
# The CLI runs in the host's network namespace: `maya realm status` reaches etcd from there.
on() {
  local h=$1
  shift
  netns_run "$h" timeout -k 5 60 "$MAYA" --config "$(conf_of "$h")" "$@" </dev/null
}
load_on() { netns_run "$1" timeout -k 5 60 "$MAYA" --config "$(conf_of "$1")" load >/dev/null; }
ip_of() { netns_host_ip "$1"; }
# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_for() {
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 5; i++)); do
    "$@" && return 0
    sleep 0.2
  done
  fail "$what: not within $limit s"
}
# state_on H OF: OF's state as host H's `maya realm status` shows it ("" when not listed).
state_on() {
  on "$1" realm status -o json 2>/dev/null |
    jq -r --arg n "host-$2" '.hosts[] | select(.name == $n) | .state'
}
is_state() { [[ $(state_on "$1" "$2") == "$3" ]]; }
all_up_on() {
  [[ $(on "$1" realm status -o json 2>/dev/null | jq -r '[.hosts[] | .state] | join(",")') == up,up,up ]]
}
daemon_pid() { cat "$(root_of "$1")/run/maya/maya.pid" 2>/dev/null; }

show_logs() {
  local h
  for h in a b c; do
    [[ -f $(root_of "$h")/var/lib/maya/maya.log ]] || continue
    echo "---- last lines of host $h's maya.log" >&2
    tail -n 15 "$(root_of "$h")/var/lib/maya/maya.log" >&2
  done
  [[ -n ${ETCD_LOG:-} && -f $ETCD_LOG ]] && { echo "---- etcd log" >&2; tail -n 10 "$ETCD_LOG" >&2; }
}
cleanup() {
  local rc=$?
  set +e
  trap - ERR
  ((rc != 0)) && { [[ $FAILED == 1 ]] || echo "not ok - $STEP: exit $rc"; show_logs; }
  for h in a b c; do [[ -f $(conf_of "$h") ]] && on "$h" unload --stop-targets >/dev/null 2>&1; done
  etcd_stop >/dev/null 2>&1
  netns_hosts_down
  rm -rf --one-file-system "$T"
  exit "$rc"
}
trap cleanup EXIT
trap 'fail "command failed (line $LINENO): $BASH_COMMAND"' ERR

step "etcd on host e; hosts a, b, c"
netns_hosts_up e a b c || fail "netns_hosts_up"
# etcd runs in host e's namespace, a restart too.
ETCD_EXEC="ip netns exec $(netns_host_ns e)"
etcd_start "$T/etcd" "$(ip_of e)" || fail "etcd did not start"
pass "etcd at $ETCD_ENDPOINT"

step "maya init --realm --etcd on each host, then maya load"
for h in a b c; do
  mkdir -p "$(root_of "$h")"
  "$MAYA" init --root "$(root_of "$h")" --config "$(conf_of "$h")" --realm e2e \
    --etcd "$ETCD_ENDPOINT" --zone "maya-1$h" --address "$(ip_of "$h")" >/dev/null
  # Names the test can find, the host's own address, free ports, a short lease.
  sed -i "/^\[host\]/,/^\[/ s/^name = .*/name = \"host-$h\"/
          s/^discovery_port = .*/discovery_port = 0/; s/^listen = .*/listen = \"127.0.0.1:0\"/
          s/^address = \"127.0.0.1\"/address = \"$(ip_of "$h")\"/
          s/^lease_ttl = .*/lease_ttl = \"${TTL}s\"/" "$(conf_of "$h")"
  grep -qx "lease_ttl = \"${TTL}s\"" "$(conf_of "$h")" || fail "no [realm] lease_ttl to edit"
  grep -qx "name = \"host-$h\"" "$(conf_of "$h")" || fail "no [host] name to edit"
  load_on "$h" || fail "maya load on $h"
done
pass

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
on a volume detach "$VOL" >/dev/null
dev=$(on b volume attach "$VOL") || fail "attach on b: $dev"
got=$(dd if="$dev" bs=1M count=$MIB iflag=direct status=none | sha256sum | cut -d' ' -f1)
[[ $got == "$want" ]] || fail "b reads $got, a wrote $want"
gen=$(on a volume inspect "$VOL" -o json | jq -r .realm.generation)
((gen >= 3)) || fail "generation $gen after two attachments"
on b volume detach "$VOL" >/dev/null
pass "generation $gen"

step "etcd killed: realm status fails fast and clearly; maya status answers"
etcd_kill 2>/dev/null
start=$(date +%s%N)
if out=$(on a realm status 2>&1); then fail "realm status succeeded without etcd: $out"; fi
took=$((($(date +%s%N) - start) / 1000000))
grep -q "realm store unreachable" <<<"$out" || fail "realm status: $out"
((took < 15000)) || fail "realm status took $took ms without etcd"
status_err() { on a status -o json | jq -e '.realm.error // "" | test("unreachable")' >/dev/null; }
wait_for 30 "maya status shows the store unreachable" status_err
pass "failed in $took ms: ${out:0:100}"

step "etcd back: every host is up again without a manual step"
etcd_restart "$T/etcd" || fail "etcd did not restart"
for h in a b c; do wait_for $((TTL + 30)) "three hosts up on $h" all_up_on "$h"; done
no_err() { on a status -o json | jq -e '.realm.registered and (.realm.error == null)' >/dev/null; }
wait_for 30 "a registered without error" no_err
pass
