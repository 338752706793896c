#!/usr/bin/env bash
# The Maya Realm through Docker (issue 16), on network-namespace hosts (realm_hosts.sh): etcd on
# host E; hosts A, B and C in realm "e2e"; A and B each with a private dockerd of their own whose
# volume plugin is that host's maya (socket maya-e2e-PID-a / -b under /run/docker/plugins):
#   - `docker volume create -o replicas=3` on A (Docker → A's maya → the realm): the replicas
#     land on A, B and C; `docker volume ls` on B and `maya volume list` on every host show it;
#   - Docker on A writes 100 MiB and its checksum, the container exits; Docker on B mounts the
#     same volume and verifies the checksum;
#   - while B's container holds it, a container on A that mounts it fails, saying it is
#     attached on host-b; once B's container is gone, A mounts it again;
#   - failover: A's container writes 1 MiB pieces with fsync and logs each acknowledged piece;
#     every maya process in A's namespace is frozen (SIGSTOP) and A's link cut; within the lease
#     TTL + 30 s `docker run -v dvol:/data` on B succeeds and every acknowledged piece verifies
#     (MAYA_E2E_REALM_FAILOVER=0 skips this step, saying so).
# The dockerds run in the root network namespace (containers have --network none); only their
# plugin sockets, hence their mayas, differ.
#
#   bash tests/e2e/realm_docker_e2e.sh /path/to/maya
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T0=$(date +%s)
[[ -e /dev/fuse ]] || { echo "SKIP: no /dev/fuse: jiva volumes attach through FUSE here"; exit 77; }
# shellcheck source=realm_hosts.sh
source "$HERE/realm_hosts.sh" "$@"
for tool in curl sha256sum dockerd; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
# shellcheck source=dockerd.sh
source "$HERE/dockerd.sh"
# One EXIT trap, realm_hosts.sh's: dockerd.sh's cleanup steps join the realm's.
e2e_cleanup_push() { REALM_CLEANUPS+=("$1"); }

VOL=dvol
MIB=100
# This run's own plugin names. Each host's socket lies in a directory of its own, which that
# host's dockerd (only) sees as /run/docker/plugins: as on real hosts, each dockerd knows its
# own host's maya and no other (nor an installed maya's plugin `maya`).
plugin_of() { echo "maya-e2e-$$-$1"; }
plugins_of() { echo "$T/plugins-$1"; }
socket_of() { echo "$(plugins_of "$1")/$(plugin_of "$1").sock"; }
# The dockerds' mount namespaces are slaves of this one, but this machine's / is a private
# mount: maya's mounts of a host's volumes reach that host's dockerd only under a shared mount.
mounts_of() { echo "$(root_of "$1")/var/lib/maya/mounts"; }
realm_host_configure() {
  mkdir -p "$(plugins_of "$1")" "$(mounts_of "$1")"
  mount --bind "$(mounts_of "$1")" "$(mounts_of "$1")"
  mount --make-shared "$(mounts_of "$1")"
  sed -i '/^\[plugin\]/,/^\[/ s|^socket[[:space:]]*=.*|socket = "'"$(socket_of "$1")"'"|' "$(conf_of "$1")"
  grep -qx "socket = \"$(socket_of "$1")\"" "$(conf_of "$1")" || fail "no [plugin] socket to edit"
}
# dk HOST ARGS...: the docker CLI of HOST's dockerd.
dk() {
  e2e_dockerd_use "$1" || fail "no dockerd for host $1"
  shift
  docker "$@"
}
# run_on HOST ARGS...: a throw-away container of HOST's dockerd, the volume at /data.
run_on() {
  local h=$1
  shift
  dk "$h" run --rm --pull never --network none -v "$VOL:/data" "$E2E_IMAGE" "$@"
}
plugin_answers() {
  curl -s -m 2 --unix-socket "$(socket_of "$1")" -X POST http://plugin/Plugin.Activate |
    grep -q VolumeDriver
}
replica_shared_on() {
  on "$1" replica list -o json | jq -e --arg v "$VOL" \
    '.[] | select(.name == $v) | .share.running' >/dev/null
}
listed_on() { on "$1" volume list -o json | jq -e --arg v "$VOL" '.[] | select(.name == $v)' >/dev/null; }
attached_on() { on c volume inspect "$VOL" -o json | jq -r '.realm.attached_on // ""'; }
is_attached_on() { [[ $(attached_on) == "$1" ]]; }
dockerd_logs() {
  local h
  for h in a b; do
    e2e_dockerd_use "$h" 2>/dev/null || continue
    [[ -f $E2E_DOCKER_DIR/dockerd.log ]] || continue
    echo "---- host $h's dockerd: error/volume/plugin lines" >&2
    grep -E 'level=error|[Vv]olume|[Pp]lugin' "$E2E_DOCKER_DIR/dockerd.log" | tail -n 15 >&2 || true
  done
}

# Cleanup order (last pushed runs first): the dockerds (containers, then dockerd), then the
# mayas unload and their shared mounts directories go, then /run/docker/plugins if we made it;
# realm_cleanup does the rest.
e2e_note_dir /run/docker
e2e_note_dir /run/docker/plugins # the dockerds' mount point for their own plugin directory
# shellcheck disable=SC2016 # expanded when the cleanup runs
REALM_CLEANUPS+=('for h in a b c; do
  on "$h" unload --stop-targets >/dev/null 2>&1; umount -l "$(mounts_of "$h")" 2>/dev/null
done')
# On failure: the tails of the dockerds' logs here; every maya and target log kept for reading.
keep_logs() {
  local keep=/tmp/maya-realm-docker-logs.$$ f rel
  mkdir -p "$keep"
  for f in "$T"/hosts/*/var/lib/maya/maya.log "$T"/hosts/*/opt/maya-store/*/target.log; do
    [[ -f $f ]] || continue
    rel=${f#"$T"/hosts/} # a/var/lib/maya/maya.log, a/opt/maya-store/dvol/target.log
    cp "$f" "$keep/${rel%%/*}-$(basename "$(dirname "$rel")")-${f##*/}"
  done
  echo "maya's logs kept in $keep" >&2
}
REALM_CLEANUPS+=('((rc != 0)) && { dockerd_logs; keep_logs; }')

realm_hosts_up a b c

step "every host sees three hosts up; A's and B's plugins answer; a dockerd each"
for h in a b c; do wait_for 30 "three hosts up on $h" all_up_on "$h"; done
for h in a b; do wait_for 10 "$(socket_of "$h") answers Plugin.Activate" plugin_answers "$h"; done
for h in a b; do
  e2e_dockerd_start "$h" "$(plugins_of "$h")"
  e2e_docker_image
done
pass "plugins $(plugin_of a), $(plugin_of b)"

step "docker volume create -o replicas=3 on A: replicas on A, B and C; listed everywhere"
dk a volume create -d "$(plugin_of a)" -o size=256MiB -o replicas=3 "$VOL" >/dev/null ||
  fail "docker volume create on a"
for h in a b c; do
  wait_for 30 "a shared replica $VOL on $h" replica_shared_on "$h"
  wait_for 30 "$VOL listed on $h" listed_on "$h"
done
ls_b() { dk b volume ls --format '{{.Driver}} {{.Name}}' | grep -qx "$(plugin_of b) $VOL"; }
wait_for 30 "docker volume ls on b shows $VOL (driver $(plugin_of b))" ls_b
on b volume inspect "$VOL" -o json >"$T/inspect.json"
pass

step "Docker on A writes $MIB MiB and its sha256; Docker on B verifies it"
# fsync of the file, never sync(2): that waits on every block device of the machine, another
# test's frozen ones too.
out=$(run_on a sh -c "dd if=/dev/urandom of=/data/blob bs=1M count=$MIB conv=fsync 2>/dev/null &&
  sha256sum /data/blob >/data/blob.sha256 && cat /data/blob.sha256") ||
  fail "the writer on a: $out"
want=${out%% *}
[[ $want =~ ^[0-9a-f]{64}$ ]] || fail "the writer on a printed '$out'"
wait_for 30 "$VOL detached after A's container" is_attached_on ""
out=$(run_on b sh -c 'sha256sum -c /data/blob.sha256 && sha256sum /data/blob') ||
  fail "verify on b: $out"
[[ $out == *"$want  /data/blob"* ]] || fail "b reads: $out; a wrote $want"
pass "sha256 ${want:0:16}…"

step "B's container holds $VOL: a container on A fails, attached on host-b; after it, A mounts"
dk b run -d --name holder-b --pull never --network none -v "$VOL:/data" "$E2E_IMAGE" \
  sleep 600 >/dev/null || fail "holder on b"
wait_for 30 "$VOL attached on host-b" is_attached_on host-b
if err=$(run_on a cat /data/blob.sha256 2>&1); then fail "a mounted $VOL while b holds it: $err"; fi
grep -q "attached on host host-b" <<<"$err" || fail "a's docker run says: $err"
dk b rm -f holder-b >/dev/null || fail "docker rm -f holder-b"
wait_for 30 "$VOL detached after B's container" is_attached_on ""
out=$(run_on a sh -c 'sha256sum -c /data/blob.sha256') || fail "a again: $out"
pass "a's docker run said: ${err:0:300}"


step "failover: A's writer frozen, A cut off; B mounts within TTL + 30 s, every acked piece there"
if [[ ${MAYA_E2E_REALM_FAILOVER:-1} == 0 ]]; then
  echo "# SKIP $STEP: MAYA_E2E_REALM_FAILOVER=0"
  echo "# runtime: $(($(date +%s) - T0)) s"
  exit 0
fi
# The writer: 1 MiB pieces of random data, each written at its own offset of /data/pieces and
# fsynced; only then is "INDEX SHA256" appended to the log, a host directory (not the volume).
# A pause between pieces keeps it writing long after the freeze below (150 pieces ≥ 75 s).
mkdir -p "$T/failover"
# shellcheck disable=SC2016 # expanded in the container
dk a run -d --name writer-a --pull never --network none -v "$VOL:/data" -v "$T/failover:/log" \
  "$E2E_IMAGE" sh -c 'rm -f /data/blob; i=0
    while [ $i -lt 150 ]; do
      dd if=/dev/urandom of=/tmp/piece bs=1M count=1 2>/dev/null || exit 1
      s=$(sha256sum /tmp/piece) || exit 1
      dd if=/tmp/piece of=/data/pieces bs=1M seek=$i count=1 conv=notrunc,fsync 2>/dev/null ||
        exit 1
      echo "$i ${s%% *}" >>/log/acked
      i=$((i + 1))
      sleep 0.5
    done' >/dev/null || fail "writer on a"
acked() { wc -l 2>/dev/null <"$T/failover/acked" || echo 0; }
acked_at_least() { (($(acked) >= $1)); }
wait_for 60 "5 pieces acknowledged on a" acked_at_least 5
# A's end: every process in its namespace (maya, its targets and shares) frozen, its link cut.
# Undone at exit: they are killed (a frozen FUSE server would hang the writer's removal).
a_down() {
  local pids
  pids=$(ip netns pids "$(netns_host_ns a)" 2>/dev/null) || true
  # shellcheck disable=SC2086 # one pid per word
  [[ -z $pids ]] || kill -KILL $pids 2>/dev/null
  netns_heal a >/dev/null 2>&1
  E2E_DOCKER_TIMEOUT=60 dk a rm -f writer-a >/dev/null 2>&1
}
REALM_CLEANUPS+=('a_down')
pids=$(ip netns pids "$(netns_host_ns a)")
[[ -n $pids ]] || fail "no process in a's namespace"
# shellcheck disable=SC2086 # one pid per word
kill -STOP $pids
netns_partition a
t_kill=$(e2e_now_ms)
running=$(dk a inspect -f '{{.State.Running}}' writer-a) || fail "docker inspect writer-a"
[[ $running == true ]] || fail "a's writer had stopped before the freeze: $(dk a logs writer-a 2>&1)"
cp "$T/failover/acked" "$T/acked" # what A had acknowledged: nothing on A acknowledges now
n=$(wc -l <"$T/acked")

# B: `docker run -v dvol:/data` until it mounts (A's attachment goes with A's lease); the
# container checks each acknowledged piece and exits 3 on a mismatch (not worth a retry).
deadline=$((t_kill + (TTL + 30) * 1000))
tries=0
while :; do
  left=$(((deadline - $(e2e_now_ms)) / 1000))
  ((left > 0)) || fail "b could not mount $VOL within $((TTL + 30)) s of the freeze: $out"
  tries=$((tries + 1))
  rc=0
  # shellcheck disable=SC2016 # expanded in the container
  out=$(E2E_DOCKER_TIMEOUT=$((left + 5)) dk b run --rm --pull never --network none \
    -v "$VOL:/data" -v "$T/acked:/acked:ro" "$E2E_IMAGE" sh -c 'n=0
      while read i s; do
        got=$(dd if=/data/pieces bs=1M skip=$i count=1 2>/dev/null | sha256sum)
        [ "${got%% *}" = "$s" ] || { echo "piece $i: reads ${got%% *}, acked $s"; exit 3; }
        n=$((n + 1))
      done </acked
      echo "verified $n"' 2>&1) || rc=$?
  ((rc == 0)) && break
  ((rc == 3)) && fail "after the failover: $out"
  sleep 1
done
took=$(($(e2e_now_ms) - t_kill))
[[ $out == "verified $n" ]] || fail "b's check: $out (want verified $n)"
is_attached_on host-b || [[ $(attached_on) == "" ]] || fail "$VOL attached on $(attached_on)"
pass "$n acknowledged pieces verified on b; freeze to b's first mount $took ms, $tries tries"

echo "# runtime: $(($(date +%s) - T0)) s"
