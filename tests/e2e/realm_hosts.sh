# shellcheck shell=bash
# The realm's test hosts (sourced by the realm's e2e scripts and benchmark): etcd on network-
# namespace host e, and maya hosts (a, b, c...) each with its own root and config, joined to
# realm "e2e" with `maya init --realm --etcd`.
#
#   HERE=...; source "$HERE/realm_hosts.sh" "$@"     checks root, tools; sets MAYA, T, TTL
#   realm_hosts_up a b c                               etcd, then maya init + load on each
#   on a volume list                                    the CLI of host a, in a's namespace
#
# The script defines step/pass/fail before or after sourcing; cleanup (EXIT) unloads every
# host, stops etcd, removes the namespaces, unmounts what is left under $T, detaches loop
# devices backed by files under $T, and removes $T. A script may push more cleanup onto
# REALM_CLEANUPS (run first, last pushed first). A script may define realm_host_configure HOST:
# realm_hosts_up calls it after editing HOST's config, before `maya load` (say, for [plugin]).
# shellcheck source-path=SCRIPTDIR

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

: "${TTL:=6}"
STEP=setup
FAILED=0
REALM_HOSTS=()
REALM_CLEANUPS=()
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
# shellcheck source=../support/wait_for.sh
source "$HERE/../support/wait_for.sh"
# state_on H OF: OF's state as host H's `maya realm status` shows it ("" when not listed).
state_on() {
  on "$1" realm status -o json 2>/dev/null |
    jq -r --arg n "host-$2" '.hosts[] | select(.name == $n) | .state'
}
is_state() { [[ $(state_on "$1" "$2") == "$3" ]]; }
# all_up_on H: every host of the realm is up as H sees it.
all_up_on() {
  local want
  want=$(printf 'up,%.0s' "${REALM_HOSTS[@]}")
  [[ $(on "$1" realm status -o json 2>/dev/null | jq -r '[.hosts[] | .state] | join(",")') == "${want%,}" ]]
}
daemon_pid() { cat "$(root_of "$1")/run/maya/maya.pid" 2>/dev/null; }

show_logs() {
  local h log
  for h in "${REALM_HOSTS[@]}"; do
    [[ -f $(root_of "$h")/var/lib/maya/maya.log ]] || continue
    echo "---- last lines of host $h's maya.log" >&2
    tail -n 15 "$(root_of "$h")/var/lib/maya/maya.log" >&2
    for log in "$(root_of "$h")"/opt/maya-store/*/target.log; do
      [[ -f $log ]] || continue
      echo "---- last lines of $log" >&2
      tail -n 10 "$log" >&2
    done
  done
}
realm_cleanup() {
  local rc=$? h i v
  set +e
  trap - ERR
  ((rc != 0)) && { [[ $FAILED == 1 ]] || echo "not ok - $STEP: exit $rc"; show_logs; }
  for ((i = ${#REALM_CLEANUPS[@]} - 1; i >= 0; i--)); do eval "${REALM_CLEANUPS[i]}"; done
  for h in "${REALM_HOSTS[@]}"; do
    [[ -f $(conf_of "$h") ]] || continue
    # Volumes attached here (a loop device over the target's FUSE file) are detached first.
    for v in $(on "$h" volume list -o json 2>/dev/null | jq -r '.[] | select(.device) | .name'); do
      on "$h" volume detach "$v" >/dev/null 2>&1
    done
    on "$h" unload --stop-targets >/dev/null 2>&1
  done
  etcd_stop >/dev/null 2>&1
  netns_hosts_down
  # What a test's kills left behind (a target killed under its FUSE mount and loop device).
  realm_leftovers
  rm -rf --one-file-system "$T"
  ((rc == 0 && ${E2E_CLEANUP_FAILED:-0})) && rc=1
  exit "$rc"
}
# Mounts under $T (a host whose daemon died leaves its volumes' mounts) and loop devices backed
# by files under $T: undone, and named, since after an orderly unload there should be none.
realm_leftovers() {
  local m dev file
  for m in $(findmnt -rn -o TARGET | awk -v d="$T" 'index($0, d "/") == 1' | sort -r); do
    echo "realm: leftover mount $m; unmounting" >&2
    umount -l "$m" # lazily: a mount over a dead FUSE server may not answer
  done
  while read -r dev file; do
    [[ $file == "$T"/* ]] || continue
    echo "realm: leftover loop device $dev ($file); detaching" >&2
    losetup -d "$dev"
  done < <(losetup -l -n -O NAME,BACK-FILE 2>/dev/null)
}
trap realm_cleanup EXIT
trap 'fail "command failed (line $LINENO): $BASH_COMMAND"' ERR

# realm_hosts_up HOST...: etcd on host e, then each HOST (one letter: its zone is maya-1HOST)
# with maya initialised into the realm and loaded.
realm_hosts_up() {
  local h
  REALM_HOSTS=("$@")
  step "etcd on host e; hosts $*"
  netns_hosts_up e "$@" || fail "netns_hosts_up"
  # etcd runs in host e's namespace, a restart too.
  ETCD_EXEC="ip netns exec $(netns_host_ns e)"
  etcd_start "$T/etcd" "$(ip_of e)" || fail "etcd did not start"
  pass "etcd at $ETCD_ENDPOINT"

  step "maya init --realm --etcd on each host, then maya load"
  for h in "$@"; do
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
    if declare -F realm_host_configure >/dev/null; then realm_host_configure "$h"; fi
    load_on "$h" || fail "maya load on $h"
  done
  pass
}
