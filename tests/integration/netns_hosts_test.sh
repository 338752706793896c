#!/usr/bin/env bash
# tests/support/netns_hosts.sh, the test hosts as network namespaces (root):
#   - three hosts ping each other; each has only its on-link route (no way out, IPv4 or IPv6)
#   - a partition cuts a host off both ways and leaves the others be; heal brings it back
#   - a delay (netem) shows in the RTT, as a lower bound only; without netem, netns_delay
#     refuses with a reason (and the RTT check is reported skipped)
#   - a TCP server in one host serves another
#   - a second run at the same time gets its own names and reaps a dead run's leftovers
#   - netns_hosts_down: no namespace of ours left, no process started in them alive (a daemon
#     that left its parent too), tracked mounts gone (a busy one lazily); idempotent, and
#     harmless when no hosts were made; the root namespace's links, addresses and routes as
#     they were
#
#   bash tests/integration/netns_hosts_test.sh MAYA_BINARY    (the binary is not used)
set -euo pipefail
: "${1:?usage: $0 MAYA_BINARY}"
lib=$(cd "$(dirname "$0")/../support" && pwd)/netns_hosts.sh
# shellcheck source=../support/netns_hosts.sh
source "$lib"
netns_hosts_require
for tool in ping python3 curl mountpoint; do
  command -v "$tool" >/dev/null ||
    { echo "SKIP: $tool is not installed (see packaging/install-deps.sh)"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/maya-netns.XXXXXX")
holder=
stale_ns=
cleanup() {
  set +e
  netns_hosts_down
  [[ -n $holder ]] && kill "$holder" 2>/dev/null
  if [[ -n $stale_ns ]] && ip netns list | grep -q "^$stale_ns\b"; then
    mapfile -t pids < <(ip netns pids "$stale_ns")
    ((${#pids[@]} == 0)) || kill -9 "${pids[@]}" 2>/dev/null
    ip netns del "$stale_ns"
  fi
  for m in "$T"/mnt*; do mountpoint -q "$m" && umount -l "$m"; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "not ok - $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
# alive PID: the process exists and is not a zombie.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}
reaches() { netns_exec "$1" ping -c1 -W1 -q "$(netns_host_ip "$2")" >/dev/null 2>&1; }
# Links, IPv4 addresses and routes of the root namespace (IPv6 routes carry expiry timers).
root_state() { ip -o link show | cut -d: -f2; ip -o -4 addr show; ip -4 route show table all; }
root_before=$(root_state)

netns_hosts_up a b c || fail "netns_hosts_up a b c"
prefix=mayat$$
subnet=10.213.$(($$ % 256))
for h in a b c; do
  [[ $(netns_host_ns "$h") == "$prefix-$h" ]] || fail "netns_host_ns $h: $(netns_host_ns "$h")"
  ip netns list | grep -q "^$prefix-$h\b" || fail "no namespace $prefix-$h"
done
[[ $(netns_host_ip a) == "$subnet.1" && $(netns_host_ip b) == "$subnet.2" &&
   $(netns_host_ip c) == "$subnet.3" ]] ||
  fail "addresses: $(netns_host_ip a) $(netns_host_ip b) $(netns_host_ip c)"
[[ $(netns_exec b ip -o link show | wc -l) -eq 2 ]] ||
  fail "b has other interfaces than lo and eth0: $(netns_exec b ip -o link)"
ok "hosts a b c: namespaces $prefix-{a,b,c}, addresses $subnet.{1,2,3}/24"

for h in a b c; do
  ip=$(netns_host_ip "$h")
  routes=$(netns_exec "$h" ip route)
  [[ $routes == "$subnet.0/24 dev eth0 proto kernel scope link src $ip " ||
     $routes == "$subnet.0/24 dev eth0 proto kernel scope link src $ip" ]] ||
    fail "$h's routes are not just its subnet: $routes"
  ! netns_exec "$h" ip route get 1.1.1.1 >/dev/null 2>&1 || fail "$h has a route to 1.1.1.1"
  ! netns_exec "$h" ip -6 route get 2606:4700::1111 >/dev/null 2>&1 ||
    fail "$h has an IPv6 route out: $(netns_exec "$h" ip -6 route)"
done
ok "each host's only route is its subnet; ip route get 1.1.1.1 (and IPv6) fails"

for from in a b c; do
  for to in a b c; do
    [[ $from == "$to" ]] || reaches "$from" "$to" || fail "$from cannot ping $to"
  done
done
ok "a, b and c ping each other"

netns_partition b
! reaches a b || fail "a reaches b while b is partitioned"
! reaches b a || fail "b reaches a while b is partitioned"
if ! { reaches a c && reaches c a; }; then fail "a and c lost each other while b was partitioned"; fi
ok "partition b: a cannot reach b nor b a; a and c still can"
netns_heal b
for try in 1 2 3; do
  reaches a b && reaches b c && break
  ((try < 3)) || fail "a cannot reach b after heal"
done
ok "heal b: b reachable again"

if netns_netem_available; then
  netns_delay c 20ms || fail "netns_delay c 20ms"
  out=$(netns_exec a ping -c3 -i0.2 -W2 "$(netns_host_ip c)") || fail "a cannot ping c delayed: $out"
  rtt=$(sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/.*|\1|p' <<<"$out")
  if ! { [[ -n $rtt ]] && awk -v r="$rtt" 'BEGIN { exit !(r >= 20) }'; }; then
    fail "delay c 20ms: a->c minimum RTT ${rtt:-?} ms < 20 ms"
  fi
  netns_undelay c || fail "netns_undelay c"
  [[ $(netns_exec c tc qdisc show dev eth0) != *netem* ]] || fail "netem still on c after undelay"
  ok "delay c 20ms: a->c minimum RTT $rtt ms >= 20 ms; undelay takes it away"
else
  ! out=$(netns_delay c 20ms 2>&1) || fail "netns_delay succeeded without netem"
  [[ $out == *netem* ]] || fail "netns_delay without netem does not say why: $out"
  ok "delay # SKIP no netem in this kernel; netns_delay refuses: $out"
fi

mkdir "$T/www"
echo "hello from b" >"$T/www/hello.txt"
netns_exec b python3 -m http.server --bind "$(netns_host_ip b)" 8080 --directory "$T/www" \
  >"$T/http.log" 2>&1 &
server=$!  # the subshell running netns_exec; it ends with the server
url=http://$(netns_host_ip b):8080/hello.txt
for ((i = 0; i < 50; i++)); do
  got=$(netns_exec a curl -sf --max-time 1 "$url" 2>/dev/null) && break
  alive "$server" || fail "http.server in b died: $(cat "$T/http.log")"
  sleep 0.1
done
[[ ${got:-} == "hello from b" ]] || fail "a got '${got:-}' from $url"
ok "a TCP server in b (python3 http.server) answers a"

# A daemon that left its parent: only `ip netns pids` still knows it belongs to c.
orphan=$(netns_exec c bash -c 'sleep 300 >/dev/null 2>&1 & echo $!')
alive "$orphan" || fail "the daemon in c did not start"

# Another run at the same time, with the same host names; before it, leftovers of a dead run
# (a namespace mayat<dead PID>-x with a process in it) for its netns_hosts_up to reap.
dead=$(bash -c 'echo $$')
stale_ns=mayat$dead-x
ip netns add "$stale_ns"
ip netns exec "$stale_ns" sleep 300 &
stale_proc=$!
other=$(LIB=$lib OURS=$prefix bash -euo pipefail -c '
  source "$LIB"
  netns_hosts_down || { echo "netns_hosts_down failed with no hosts made"; exit 1; }
  netns_hosts_up a b
  echo "prefix $NETNS_HOSTS_PREFIX"
  netns_exec a ping -c1 -W1 -q "$(netns_host_ip b)" >/dev/null && echo "pinged"
  ip netns list | grep -q "^$OURS-a\b" && echo "ours intact"
  netns_hosts_down
' 2>"$T/other.err") || fail "the second run failed: $other $(cat "$T/other.err")"
other_prefix=$(sed -n 's/^prefix //p' <<<"$other")
[[ -n $other_prefix && $other_prefix != "$prefix" ]] || fail "the second run's names: $other"
grep -q '^pinged$' <<<"$other" || fail "the second run's a cannot ping its b: $other"
grep -q '^ours intact$' <<<"$other" || fail "the second run disturbed ours: $other"
! ip netns list | grep -q "^$other_prefix-" || fail "the second run left: $(ip netns list)"
! ip netns list | grep -q "^$stale_ns\b" || fail "the dead run's $stale_ns was not reaped"
alive "$stale_proc" && fail "the process in the dead run's namespace survived"
wait "$stale_proc" 2>/dev/null || true
if ! { reaches a b && reaches b a; }; then fail "our hosts lost each other after the second run"; fi
ok "a second run ($other_prefix-*) beside ours ($prefix-*): own names, reaped $stale_ns, ours intact"

mkdir "$T/mnt1" "$T/mnt2"
mount -t tmpfs -o size=1m maya-netns "$T/mnt1"
mount -t tmpfs -o size=1m maya-netns "$T/mnt2"
(cd "$T/mnt2" && exec sleep 300) &  # keeps mnt2 busy: only a lazy unmount takes it
holder=$!
netns_track_mount "$T/mnt1"
netns_track_mount "$T/mnt2"

# Every process in our namespaces now: the server, the daemon (and ip netns exec's own).
procs=()
for h in a b c; do mapfile -t -O "${#procs[@]}" procs < <(ip netns pids "$(netns_host_ns "$h")"); done
((${#procs[@]} >= 2)) || fail "ip netns pids lists ${#procs[@]} processes in a, b, c, expected 2 or more"
netns_hosts_down || fail "netns_hosts_down"
! ip netns list | grep -q "^$prefix-" || fail "namespaces left: $(ip netns list)"
for p in "${procs[@]}"; do
  alive "$p" && fail "process $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) survived netns_hosts_down"
done
alive "$server" && fail "the http.server in b survived netns_hosts_down"
alive "$orphan" && fail "the daemon in c survived netns_hosts_down"
mountpoint -q "$T/mnt1" && fail "$T/mnt1 still mounted"
mountpoint -q "$T/mnt2" && fail "$T/mnt2 (busy) still mounted"
wait "$server" 2>/dev/null || true
ok "netns_hosts_down: no namespace $prefix-*, no process of them alive, tracked mounts gone"
netns_hosts_down || fail "netns_hosts_down, twice"
! netns_host_ns a 2>/dev/null || fail "netns_host_ns a after netns_hosts_down"
[[ $(root_state) == "$root_before" ]] ||
  fail "the root namespace changed: $(diff <(echo "$root_before") <(root_state))"
ok "netns_hosts_down again: nothing to do; the root namespace's links, addresses, routes unchanged"
