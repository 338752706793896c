# shellcheck shell=bash
# Test "hosts" on one machine, one network namespace each, on a private switch (sourced).
# For tests of multi-host features (replicas on other hosts over iSCSI, a realm): each host has
# its own loopback and an eth0 on a Linux bridge, and nothing else; no route leaves the hosts.
#
#   source tests/support/netns_hosts.sh
#   netns_hosts_require                  root and network namespaces, else "SKIP: why", exit 77
#   trap netns_hosts_down EXIT           (or call netns_hosts_down from your own EXIT trap)
#   netns_hosts_up a b c                 one namespace per host plus the switch
#   netns_exec b python3 -m http.server --bind "$(netns_host_ip b)" 8080 &
#   netns_exec a curl -sf "http://$(netns_host_ip b):8080/"
#   netns_run a maya load                (its network only: mounts stay shared)
#   netns_partition b; ...; netns_heal b
#   netns_delay c 20ms; ...; netns_undelay c      (needs netem: sch_netem)
#
# Names. The namespaces are mayat<PID>-<host> and mayat<PID>-sw (the switch), PID being that of
# the process that sourced this file ($BASHPID: $$, or a subshell's own): concurrent runs never
# share a name, and namespaces left by a run that died (SIGKILL, a ctest timeout) are reaped by
# the next netns_hosts_up anywhere, since their PID is gone. One set of hosts per process.
# Host names are [a-z][a-z0-9_]{0,12}, not "sw": the switch side of a host's veth is h-<host>,
# and interface names have at most 15 characters.
#
# Addresses. Host number N (1 for the first name given, 2 for the next...) is 10.213.X.N/24,
# X = PID % 256. Each run's hosts sit on a bridge of their own, in the run's switch namespace,
# so two runs with the same X cannot meet; X from the PID only makes addresses in logs tell runs
# apart. The hosts' only IPv4 route is that on-link /24 (IPv6: link-local fe80::/64); there is
# no default route, and nothing connects the switch to the root namespace.
#
# The root namespace is never touched except to create and delete namespaces: no interface,
# route, iptables rule or sysctl of it changes. Note that netns_exec is `ip netns exec`, which
# also gives the command a mount namespace of its own (with /sys for the host's interfaces):
# mounts made inside it are not seen outside and go away with its processes.
#
# Cleanup: netns_hosts_down (idempotent, safe when nothing was made, safe after a failed test)
# unmounts what netns_track_mount registered, kills every process still in the run's namespaces
# (SIGTERM, a bounded wait, then SIGKILL), unmounts again (lazily if still busy), and deletes
# the namespaces, which removes their veths and the bridge.

NETNS_HOSTS_PREFIX=mayat$BASHPID
_netns_hosts=()         # host names, in the order given to netns_hosts_up
declare -gA _netns_ips=()
_netns_mounts=()        # netns_track_mount, in the order registered
_netns_subnet=10.213.$((BASHPID % 256))

_netns_err() { echo "netns_hosts: $*" >&2; }

# netns_hosts_require: returns when this machine can run netns hosts; otherwise prints
# "SKIP: why" and exits 77 (the caller is a test script).
netns_hosts_require() {
  local tool probe=${NETNS_HOSTS_PREFIX}-probe
  [[ $(id -u) -eq 0 ]] || { echo "SKIP: network namespaces need root"; exit 77; }
  for tool in ip tc; do
    command -v "$tool" >/dev/null ||
      { echo "SKIP: $tool is not installed (iproute2)"; exit 77; }
  done
  ip netns list >/dev/null 2>&1 || { echo "SKIP: ip netns is not supported here"; exit 77; }
  # A real probe: a namespace holding a bridge and a veth, as netns_hosts_up makes.
  if ! { ip netns add "$probe" &&
         ip -n "$probe" link add br0 type bridge &&
         ip -n "$probe" link add v0 type veth peer name v1; } >/dev/null 2>&1; then
    ip netns del "$probe" >/dev/null 2>&1 || true
    echo "SKIP: cannot make a network namespace with a bridge and a veth pair here"
    exit 77
  fi
  ip netns del "$probe"
}

# netns_host_ns HOST: the namespace's name.
netns_host_ns() {
  [[ ${1:-} =~ ^[a-z][a-z0-9_]{0,12}$ && -n ${_netns_ips[$1]:-} ]] ||
    { _netns_err "no host '${1:-}' (hosts: ${_netns_hosts[*]:-none})"; return 1; }
  echo "$NETNS_HOSTS_PREFIX-$1"
}

# netns_host_ip HOST: its address, without the prefix length (the subnet is a /24).
netns_host_ip() {
  netns_host_ns "${1:-}" >/dev/null || return 1
  echo "${_netns_ips[$1]}"
}

# netns_exec HOST CMD...: runs CMD in HOST's namespace (ip netns exec; see mounts above).
netns_exec() {
  local ns
  ns=$(netns_host_ns "${1:-}") || return 1
  shift
  ip netns exec "$ns" "$@"
}

# netns_run HOST CMD...: runs CMD in HOST's network namespace only (nsenter --net), in this
# mount namespace: what it mounts (a daemon's volumes, FUSE files) is seen by everyone, and
# `ip netns pids` still finds it, so netns_hosts_down kills it.
netns_run() {
  local ns
  ns=$(netns_host_ns "${1:-}") || return 1
  shift
  nsenter --net="/run/netns/$ns" -- "$@"
}

# netns_hosts_up HOST...: makes the hosts and their switch. Reaps what dead runs left first.
# On failure, undoes what it made and returns 1.
netns_hosts_up() {
  local h n=0 ns sw=$NETNS_HOSTS_PREFIX-sw
  (($# > 0)) || { _netns_err "usage: netns_hosts_up HOST..."; return 1; }
  ((${#_netns_hosts[@]} == 0)) || { _netns_err "hosts are up: netns_hosts_down first"; return 1; }
  (($# <= 250)) || { _netns_err "at most 250 hosts"; return 1; }
  declare -A seen=()
  for h in "$@"; do
    [[ $h =~ ^[a-z][a-z0-9_]{0,12}$ && $h != sw ]] ||
      { _netns_err "bad host name '$h': [a-z][a-z0-9_]{0,12}, not 'sw'"; return 1; }
    [[ -z ${seen[$h]:-} ]] || { _netns_err "host '$h' given twice"; return 1; }
    seen[$h]=1
  done
  _netns_reap_stale

  if ! { ip netns add "$sw" &&
         ip -n "$sw" link set lo up &&
         ip -n "$sw" link add br0 type bridge &&
         ip -n "$sw" link set br0 up; }; then
    _netns_err "cannot make the switch namespace $sw"
    netns_hosts_down || true
    return 1
  fi
  for h in "$@"; do
    n=$((n + 1))
    ns=$NETNS_HOSTS_PREFIX-$h
    _netns_hosts+=("$h")
    _netns_ips[$h]=$_netns_subnet.$n
    if ! { ip netns add "$ns" &&
           ip -n "$sw" link add "h-$h" type veth peer name eth0 netns "$ns" &&
           ip -n "$sw" link set "h-$h" master br0 up &&
           ip -n "$ns" link set lo up &&
           ip -n "$ns" addr add "$_netns_subnet.$n/24" dev eth0 &&
           ip -n "$ns" link set eth0 up; }; then
      _netns_err "cannot make host $h ($ns)"
      netns_hosts_down || true
      return 1
    fi
  done
  for h in "$@"; do
    _netns_wait_carrier "$h" || { netns_hosts_down || true; return 1; }
  done
}

# netns_partition HOST: cuts HOST off the switch (its veth's switch side down): nothing gets in
# or out, in both directions, until netns_heal HOST.
netns_partition() {
  netns_host_ns "${1:-}" >/dev/null || return 1
  ip -n "$NETNS_HOSTS_PREFIX-sw" link set "h-$1" down
}

# netns_heal HOST: puts HOST back on the switch, and waits (bounded) until its eth0 has carrier.
netns_heal() {
  netns_host_ns "${1:-}" >/dev/null || return 1
  ip -n "$NETNS_HOSTS_PREFIX-sw" link set "h-$1" up && _netns_wait_carrier "$1"
}

# netns_delay HOST DELAY [NETEM ARGS...]: every packet HOST sends waits DELAY (tc netem on its
# eth0, e.g. `netns_delay c 20ms` or `netns_delay c 20ms 5ms` for jitter). Replaces an earlier
# delay. Returns 1, saying why, when netem is missing (CONFIG_NET_SCH_NETEM / sch_netem).
netns_delay() {
  local ns err
  ns=$(netns_host_ns "${1:-}") || return 1
  [[ -n ${2:-} ]] || { _netns_err "usage: netns_delay HOST DELAY (e.g. 20ms)"; return 1; }
  shift
  command -v tc >/dev/null || { _netns_err "netns_delay: tc is not installed (iproute2)"; return 1; }
  tc -n "$ns" qdisc replace dev eth0 root netem delay "$@" 2>/dev/null && return 0
  # The module may only need loading (a kernel-wide change, but no namespace's settings).
  if command -v modprobe >/dev/null; then modprobe -q sch_netem 2>/dev/null || true; fi
  if ! err=$(tc -n "$ns" qdisc replace dev eth0 root netem delay "$@" 2>&1); then
    _netns_err "netns_delay: no netem qdisc (tc: ${err:-failed}); this kernel needs" \
      "CONFIG_NET_SCH_NETEM (module sch_netem: modprobe sch_netem)"
    return 1
  fi
}

# netns_undelay HOST: takes HOST's delay away (nothing to do if it has none).
netns_undelay() {
  local ns qdiscs
  ns=$(netns_host_ns "${1:-}") || return 1
  qdiscs=$(tc -n "$ns" qdisc show dev eth0) || return 1
  [[ $qdiscs == *"qdisc netem "* ]] || return 0
  tc -n "$ns" qdisc del dev eth0 root
}

# netns_netem_available: true when netns_delay can work (probed on the switch's loopback, so
# only after netns_hosts_up). Tests use it to tell "no netem here" from netns_delay failing.
netns_netem_available() {
  local sw=$NETNS_HOSTS_PREFIX-sw
  ((${#_netns_hosts[@]} > 0)) || { _netns_err "netns_netem_available: no hosts up"; return 1; }
  if ! tc -n "$sw" qdisc add dev lo root netem delay 1ms >/dev/null 2>&1; then
    if command -v modprobe >/dev/null; then modprobe -q sch_netem 2>/dev/null || true; fi
    tc -n "$sw" qdisc add dev lo root netem delay 1ms >/dev/null 2>&1 || return 1
  fi
  tc -n "$sw" qdisc del dev lo root
}

# netns_track_mount PATH: netns_hosts_down unmounts PATH (e.g. a file system on a device that a
# host serves over iSCSI, mounted outside the hosts); lazily if it stays busy.
netns_track_mount() {
  [[ -n ${1:-} ]] || { _netns_err "usage: netns_track_mount PATH"; return 1; }
  _netns_mounts+=("$1")
}

# netns_hosts_down: undoes everything netns_hosts_up and netns_track_mount did. Idempotent;
# does nothing when nothing was made. Returns 1 (after doing all it can) if a process or a
# namespace survived.
netns_hosts_down() {
  local - ns status=0 i
  local -a ours=()
  set +e  # from an EXIT trap under set -e too: do all that can be done
  # Partitions healed first, so that what is mounted from a host can flush as it unmounts.
  for ns in "${_netns_hosts[@]}"; do
    ip -n "$NETNS_HOSTS_PREFIX-sw" link set "h-$ns" up 2>/dev/null
  done
  # First while the hosts still serve what may be mounted (an unmount then flushes cleanly)...
  for ((i = ${#_netns_mounts[@]} - 1; i >= 0; i--)); do
    if mountpoint -q "${_netns_mounts[i]}" 2>/dev/null; then
      umount "${_netns_mounts[i]}" 2>/dev/null
    fi
  done
  mapfile -t ours < <(_netns_list "$NETNS_HOSTS_PREFIX-")
  _netns_kill_in "${ours[@]}" || status=1
  # ...then once nothing holds them; lazily if something outside the hosts still does.
  for ((i = ${#_netns_mounts[@]} - 1; i >= 0; i--)); do
    if mountpoint -q "${_netns_mounts[i]}" 2>/dev/null; then
      umount "${_netns_mounts[i]}" 2>/dev/null || umount -l "${_netns_mounts[i]}" || status=1
    fi
  done
  for ns in "${ours[@]}"; do
    ip netns del "$ns" 2>/dev/null || { _netns_err "cannot delete namespace $ns"; status=1; }
  done
  _netns_hosts=()
  _netns_ips=()
  _netns_mounts=()
  return "$status"
}

# --- internals --------------------------------------------------------------------------------

# _netns_list PREFIX: the namespaces whose names start with PREFIX.
_netns_list() {
  local ns
  command -v ip >/dev/null || return 0
  ip netns list 2>/dev/null | while read -r ns _; do
    if [[ $ns == "$1"* ]]; then echo "$ns"; fi
  done
  return 0
}

# _netns_kill_in NS...: kills every process in the namespaces: SIGTERM, up to 3 s for them to
# go, then SIGKILL and up to 2 s more. Returns 1 if any is left.
_netns_kill_in() {
  local - sig tenths ns
  local -a pids
  set +e
  (($# > 0)) || return 0
  for sig in TERM KILL; do
    for tenths in {1..30}; do
      pids=()
      for ns in "$@"; do
        mapfile -t -O "${#pids[@]}" pids < <(ip netns pids "$ns" 2>/dev/null)
      done
      ((${#pids[@]} > 0)) || return 0
      # Signalled again every round: a child forked meanwhile gets it too.
      if ((tenths == 1 || tenths % 5 == 0)); then kill -"$sig" "${pids[@]}" 2>/dev/null; fi
      if [[ $sig == KILL ]] && ((tenths > 20)); then break; fi
      sleep 0.1
    done
  done
  _netns_err "processes left in $* after SIGKILL: ${pids[*]}"
  return 1
}

# _netns_reap_stale: deletes namespaces that a run now dead left (mayat<PID>-*, PID gone).
# PID reuse can keep a leftover until that PID ends too; nothing worse. (Runs in containers with
# PID namespaces of their own that share /run/netns would see each other's PIDs as dead: give
# each such container its own /run/netns.)
_netns_reap_stale() {
  local - ns pid
  local -a leftovers=()
  set +e
  while read -r ns; do
    [[ $ns =~ ^mayat([0-9]+)- ]] || continue
    pid=${BASH_REMATCH[1]}
    [[ -e /proc/$pid ]] && continue
    leftovers+=("$ns")
  done < <(_netns_list mayat)  # mayat<PID>-<host>, mayat<PID>-sw
  ((${#leftovers[@]} > 0)) || return 0
  _netns_err "reaping namespaces left by dead runs: ${leftovers[*]}"
  _netns_kill_in "${leftovers[@]}"
  for ns in "${leftovers[@]}"; do
    ip netns del "$ns" 2>/dev/null  # a concurrent run may have reaped it first
  done
  return 0
}

# _netns_wait_carrier HOST: waits up to 5 s for HOST's eth0 to have carrier (LOWER_UP).
_netns_wait_carrier() {
  local tenths link
  for tenths in {1..50}; do
    link=$(ip -n "$NETNS_HOSTS_PREFIX-$1" link show eth0 2>/dev/null)
    [[ $link == *LOWER_UP* ]] && return 0
    sleep 0.1
  done
  _netns_err "host $1: eth0 has no carrier after 5 s"
  return 1
}
