#!/usr/bin/env bash
# Replicas on other hosts (issue 15), on three network-namespace hosts made by
# tests/support/netns_hosts.sh, each running its own maya with its own root:
#   - B and C share a bare replica each (`maya replica share`): CHAP is required, a wrong secret
#     is refused; a share survives `maya unload`/`load` on its host;
#   - A makes a volume of three replicas: one local, B's and C's by URI; no secret lands in
#     jiva.json or in inspect; Docker on A writes 100 MiB and its checksum, and each replica's
#     data alone is the same;
#   - B partitioned while a writer writes: the writes go on (the longest stall is printed), B's
#     replica shows ERR; the link back: B resyncs by itself, only the regions written meanwhile
#     (inspect's last_rebuild), and the data verifies;
#   - B's share server killed (-9) while a writer writes: the same;
#   - 20 ms of delay on C's link (netem; a user-space relay where the kernel has no netem):
#     writes go on, the rate is printed;
#   - a stale replica: a volume on B and C only; C away, a write, the target stopped, then only
#     C reachable: the volume stays offline and says why instead of serving old data; with B
#     back it serves the newest data;
#   - fencing: host C cannot open a volume on B's replica of that volume while A's holds it
#     (persistent reservations kept by B's share); A's writes go on; once svol is deleted,
#     its replicas are given up and C may use B's;
#   - a remote disk that fills up (host D's store on a small tmpfs): the volume goes on with
#     its replica here, nothing written is lost.
#
#   bash tests/e2e/remote_replicas_e2e.sh /path/to/maya
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -e /dev/fuse ]] || { echo "SKIP: no /dev/fuse: jiva volumes attach through FUSE here"; exit 77; }
for tool in nsenter iscsi-inq python3 sha256sum fsfreeze; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
# shellcheck source=maya_e2e.sh
source "$HERE/maya_e2e.sh"
# shellcheck source=../support/netns_hosts.sh
source "$HERE/../support/netns_hosts.sh"
netns_hosts_require

VOL=rvol
IO_TIMEOUT=3

# Host H's maya: its own root and config; the CLI talks to its daemon over a Unix socket, so it
# runs from here; `load` runs in H's network namespace (the daemon, its targets and shares stay).
root_of() { echo "$T_HOSTS/hosts/$1"; }
conf_of() { echo "$(root_of "$1")/maya.conf"; }
on() {
  local h=$1
  shift
  timeout --foreground -k 5 60 "$MAYA" --config "$(conf_of "$h")" "$@" </dev/null
}
load_on() { netns_run "$1" timeout -k 5 60 "$MAYA" --config "$(conf_of "$1")" load >/dev/null; }
ip_of() { netns_host_ip "$1"; }
modes() { on a volume inspect "$1" -o json | jq -r '[.replicas[].mode] | join(",")'; }
mode_of() { on a volume inspect "$1" -o json | jq -r ".replicas[] | select(.id == \"$2\") | .mode"; }
# shellcheck source=../support/wait_for.sh
source "$HERE/../support/wait_for.sh"
is_modes() { [[ $(modes "$1") == "$2" ]]; }
is_mode() { [[ $(mode_of "$1" "$2") == "$3" ]]; }
thief_rw() { [[ $(on c volume inspect thief -o json | jq -r '.replicas[0].mode') == RW ]]; }
is_not_healthy() { [[ $(on a volume inspect "$1" -o json | jq -r .health) != healthy ]]; }

show_logs_remote() {
  local h
  for h in a b c; do
    [[ -f $(root_of "$h")/var/lib/maya/maya.log ]] || continue
    echo "---- last lines of host $h's maya.log" >&2
    tail -n 15 "$(root_of "$h")/var/lib/maya/maya.log" >&2
  done
  for log in "$(root_of a)"/opt/maya-store/*/target.log; do
    [[ -f $log ]] || continue
    echo "---- last lines of $log" >&2
    tail -n 25 "$log" >&2
  done
}
e2e_on_failure() {
  [[ $FAILED_REPORTED == 0 ]] && echo "not ok - $STEP: interrupted (exit $1)"
  show_logs_remote
}

# The writer: N MiB of random data in 1 MiB pieces into FILE, each fsynced; prints the longest
# write + fsync (the stall a partition costs) and the data's sha256. A bound of 10 min.
writer() { # writer FILE MIB OUT
  timeout 600 python3 - "$1" "$2" >"$3" <<'PY'
import hashlib, os, sys, time
path, mib = sys.argv[1], int(sys.argv[2])
h = hashlib.sha256()
longest = 0.0
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for i in range(mib):
    block = os.urandom(1 << 20)
    h.update(block)
    t = time.monotonic()
    os.write(fd, block)
    os.fsync(fd)
    longest = max(longest, time.monotonic() - t)
os.close(fd)
print(f"{longest:.3f} {h.hexdigest()}")
PY
}
file_size() { stat -c %s "$1" 2>/dev/null || echo 0; }
at_least() { (($(file_size "$1") >= $2)); }

cleanup_hosts() {
  local h
  for h in b c d; do
    [[ -f $(conf_of "$h") ]] || continue
    on "$h" unload --stop-targets >/dev/null 2>&1 || true
  done
  netns_hosts_down || E2E_CLEANUP_FAILED=1
}

step "four hosts, a b c d, on network namespaces"
T=$(mktemp -d /tmp/maya-e2e-remote.XXXXXX)
T_HOSTS=$T
mkdir -p "$T/hosts"
# Pushed first, run last: the hosts (and every share and target process in them) go after
# maya's own cleanup of host A.
# shellcheck disable=SC2016 # expanded when the cleanup runs
e2e_cleanup_push 'cleanup_hosts; rm -rf --one-file-system "$T_HOSTS"'
netns_hosts_up a b c d || fail "netns_hosts_up"
pass "a $(ip_of a), b $(ip_of b), c $(ip_of c), d $(ip_of d)"

step "maya on each host, its portals on the host's address"
e2e_note_dir /run/docker
e2e_note_dir /run/docker/plugins
for h in a b c; do
  mkdir -p "$(root_of "$h")"
  "$MAYA" init --root "$(root_of "$h")" --config "$(conf_of "$h")" >/dev/null
  sed -i "s/^discovery_port = .*/discovery_port = 0/; s/^listen = .*/listen = \"127.0.0.1:0\"/
          s/^address = \"127.0.0.1\"/address = \"$(ip_of "$h")\"/
          s/^io_timeout = .*/io_timeout = \"${IO_TIMEOUT}s\"/" "$(conf_of "$h")"
  grep -qx "address = \"$(ip_of "$h")\"" "$(conf_of "$h")" || fail "no [iscsi] address to edit"
  grep -qx "io_timeout = \"${IO_TIMEOUT}s\"" "$(conf_of "$h")" || fail "no io_timeout to edit"
done
# Host A serves the private dockerd's plugin (maya_e2e.sh's names).
CONF=$(conf_of a)
sed -i '/^\[plugin\]/,/^\[/ s|^socket[[:space:]]*=.*|socket = "'"$PLUGIN_SOCKET"'"|' "$CONF"
T=$(root_of a) # what maya_e2e.sh's helpers (maya, cleanup_maya_root) use: host A
e2e_cleanup_push 'cleanup_maya_root'
for h in a b c; do load_on "$h" || fail "maya load on $h"; done
wait_plugin_socket
pass

step "private dockerd starts"
e2e_dockerd_start
e2e_docker_image
pass

step "B and C share a bare replica each"
declare -A URI
for h in b c; do
  on "$h" replica create default rep --size 256 --thin >/dev/null || fail "replica create on $h"
  URI[$h]=$(on "$h" replica share default rep) || fail "replica share on $h"
  [[ ${URI[$h]} == iscsi://share-rep:*@$(ip_of "$h"):*/iqn.*/0 ]] || fail "share URI ${URI[$h]}"
  shared=$(on "$h" replica list -o json | jq -r '.[] | select(.name == "rep") | .share.uri')
  [[ $shared == iscsi://share-rep@$(ip_of "$h"):* ]] || fail "replica list's share: $shared"
  [[ $(stat -c %a "$T_HOSTS/hosts/$h/opt/maya-store/.replicas/rep/share.json") == 600 ]] ||
    fail "share.json is not 0600"
done
pass "${URI[b]%%:*}://…@$(ip_of b), …@$(ip_of c)"

# libiscsi's URL form: USER%SECRET.
libiscsi_url() { sed -E 's|^iscsi://([^:@]+):([^@]+)@|iscsi://\1%\2@|' <<<"$1"; }
no_creds_url() { sed -E 's|^iscsi://[^@]+@|iscsi://|' <<<"$1"; }
step "a share is never reachable without its credentials"
good=$(libiscsi_url "${URI[b]}")
netns_run a timeout 20 iscsi-inq "$good" >/dev/null || fail "iscsi-inq with the credentials"
if netns_run a timeout 20 iscsi-inq "$(no_creds_url "${URI[b]}")" >/dev/null 2>&1; then
  fail "a login without credentials succeeded"
fi
wrong=$(sed -E 's|^(iscsi://[^%]+%)[^@]+@|\1WrongSecret123456@|' <<<"$good")
out=$(netns_run a timeout 20 iscsi-inq "$wrong" 2>&1) && fail "a wrong secret logged in"
grep -qi "auth" <<<"$out" || fail "a wrong secret: $out"
pass

step "a share survives maya unload and load on its host"
pid_b=$(cat "$T_HOSTS/hosts/b/opt/maya-store/.replicas/rep/share.pid")
on b unload >/dev/null
netns_run a timeout 20 iscsi-inq "$good" >/dev/null || fail "the share stopped with the daemon"
load_on b || fail "maya load on b"
[[ $(cat "$T_HOSTS/hosts/b/opt/maya-store/.replicas/rep/share.pid") == "$pid_b" ]] ||
  fail "the share was restarted"
pass "pid $pid_b"

step "volume $VOL on A: a local replica, B's and C's"
on a volume create "$VOL" --size 256MiB --replica "${URI[b]}" --replica "${URI[c]}" >/dev/null ||
  fail "volume create"
wait_for 30 "three RW replicas" is_modes "$VOL" RW,RW,RW
json=$(on a volume inspect "$VOL" -o json)
for h in b c; do
  secret=$(sed -E 's|^iscsi://[^:]+:([^@]+)@.*|\1|' <<<"${URI[$h]}")
  grep -qF "$secret" "$T/opt/maya-store/$VOL/jiva.json" && fail "jiva.json holds $h's secret"
  grep -qF "$secret" <<<"$json" && fail "inspect shows $h's secret"
  grep -qF "$secret" "$T/opt/maya-store/$VOL/replica-chap.json" || fail "no secret kept for $h"
done
[[ $(stat -c %a "$T/opt/maya-store/$VOL/replica-chap.json") == 600 ]] || fail "replica-chap.json mode"
on a volume inspect "$VOL" | grep -q "replica r2 RW on host $(ip_of b):" || fail "inspect: $(on a volume inspect "$VOL")"
pass

step "Docker on A writes 100 MiB and its checksum"
docker volume ls -q | grep -qx "$VOL" || fail "docker volume ls does not show $VOL"
# shellcheck disable=SC2016 # expanded in the container
drun -v "$VOL:/data" "$E2E_IMAGE" sh -c '
  set -e
  dd if=/dev/urandom of=/data/payload bs=1M count=100 2>/dev/null
  sha256sum /data/payload > /data/payload.sha256' || fail "the write"
pass

replica_file() { # the data of replica r1 (A), r2 (B) or r3 (C) on its host
  case $1 in
    r1) echo "$T/opt/maya-store/$VOL/r1/data.img" ;;
    r2) echo "$T_HOSTS/hosts/b/opt/maya-store/.replicas/rep/data.img" ;;
    r3) echo "$T_HOSTS/hosts/c/opt/maya-store/.replicas/rep/data.img" ;;
  esac
}
same_data() {
  local sums
  sums=$(for r in r1 r2 r3; do sha256sum <"$(replica_file "$r")"; done | sort -u | wc -l)
  [[ $sums == 1 ]]
}
step "each replica alone holds the same data"
same_data || fail "the replicas differ: $(for r in r1 r2 r3; do sha256sum "$(replica_file "$r")"; done)"
pass

# A container holds the volume mounted; the writer writes into its mount point from here.
step "a container holds $VOL mounted"
docker run -d --name remote-holder --pull never --network none -v "$VOL:/data" "$E2E_IMAGE" \
  sleep 3600 >/dev/null
e2e_cleanup_push 'docker rm -f remote-holder >/dev/null 2>&1'
MP=$(on a volume inspect "$VOL" -o json | jq -r .mountpoint)
[[ -f $MP/payload ]] || fail "no payload at the mount point $MP"
pass "$MP"

# fault_while_writing NAME FAULT_CMD UNDO_CMD: a 48 MiB writer; FAULT_CMD once 8 MiB are written;
# B's replica leaves (ERR); UNDO_CMD; B comes back by itself, copying only regions.
fault_while_writing() {
  local name=$1 fault=$2 undo=$3 out=$T_HOSTS/$1.out stall sum copied kind
  rm -f "$MP/$name.bin"
  writer "$MP/$name.bin" 48 "$out" &
  local writer_pid=$!
  wait_for 120 "8 MiB written" at_least "$MP/$name.bin" $((8 << 20))
  eval "$fault"
  wait_for 60 "B's replica r2 leaves the I/O path" is_mode "$VOL" r2 ERR
  wait "$writer_pid" || fail "the writer failed while B was away: $(cat "$out")"
  read -r stall sum <"$out"
  [[ $(sha256sum <"$MP/$name.bin" | cut -d' ' -f1) == "$sum" ]] || fail "the data differs"
  eval "$undo"
  wait_for 120 "B's replica back RW" is_modes "$VOL" RW,RW,RW
  json=$(on a volume inspect "$VOL" -o json)
  [[ $(jq -r .last_rebuild.replica <<<"$json") == r2 ]] || fail "last_rebuild: $(jq -c .last_rebuild <<<"$json")"
  kind=$(jq -r .last_rebuild.kind <<<"$json")
  copied=$(jq -r .last_rebuild.done_bytes <<<"$json")
  [[ $kind == regions ]] || fail "B was rebuilt in full, not by regions: $(jq -c .last_rebuild <<<"$json")"
  ((copied < 256 << 20)) || fail "the resync copied $copied bytes, the whole volume"
  # The file system is mounted and writes on its own (its journal, lazy init): frozen, every
  # write it made is acknowledged, so on every RW replica, while the replicas are compared.
  fsfreeze -f "$MP"
  local same=0
  same_data || same=1
  fsfreeze -u "$MP"
  ((same == 0)) || fail "the replicas differ after the resync"
  STALL=$stall COPIED=$copied
}

step "B partitioned while a writer writes; the link back"
fault_while_writing partition "netns_partition b" "netns_heal b"
pass "longest write stall $STALL s (io_timeout ${IO_TIMEOUT}s); resync copied $((COPIED >> 20)) MiB of 256"

step "B's share server killed (-9) while a writer writes"
# shellcheck disable=SC2016 # evaluated by fault_while_writing
fault_while_writing killed \
  'kill -9 "$(cat "$T_HOSTS/hosts/b/opt/maya-store/.replicas/rep/share.pid")"' ':'
pass "longest write stall $STALL s; resync copied $((COPIED >> 20)) MiB of 256"

# A delay on a link: netem where the kernel has it, else (this kernel has no sch_netem) a
# user-space relay in C's namespace that holds every chunk 20 ms each way, a fault made by
# hand because the real one cannot be made here. Volume dvol: one replica here, one on C.
write_relay() { # the relay's program, run as: python3 FILE LISTEN_IP LISTEN_PORT TO_PORT
  cat >"$1" <<'PY'
import asyncio, sys, time
ip, port, to = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
DELAY = 0.020
async def pump(reader, writer):
    queue = asyncio.Queue()
    async def deliver():
        while True:
            at, data = await queue.get()
            if data is None:
                break
            await asyncio.sleep(max(0.0, at - time.monotonic()))
            writer.write(data)
            await writer.drain()
        writer.close()
    task = asyncio.create_task(deliver())
    while True:
        data = await reader.read(1 << 16)
        await queue.put((time.monotonic() + DELAY, data or None))
        if not data:
            break
    await task
async def handle(reader, writer):
    up_reader, up_writer = await asyncio.open_connection(ip, to)
    await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer), return_exceptions=True)
async def main():
    server = await asyncio.start_server(handle, ip, port)
    async with server:
        await server.serve_forever()
asyncio.run(main())
PY
}
step "20 ms of delay on C's link: writes go on"
on c replica create default rep3 --size 64 --thin >/dev/null
uri3=$(on c replica share default rep3)
port3=$(sed -E 's|^iscsi://[^@]+@[^:]+:([0-9]+)/.*|\1|' <<<"$uri3")
how="netem"
if netns_netem_available; then
  netns_delay c 20ms || fail "netns_delay"
  delayed=$uri3
else
  how="a 20 ms relay (this kernel has no netem)"
  write_relay "$T_HOSTS/relay.py"
  netns_run c python3 "$T_HOSTS/relay.py" "$(ip_of c)" 4999 "$port3" &
  relay_pid=$!
  e2e_cleanup_push "kill $relay_pid 2>/dev/null"
  delayed=$(sed -E "s|:$port3/|:4999/|" <<<"$uri3")
  relay_up() { netns_run a bash -c "exec 3<>/dev/tcp/$(ip_of c)/4999" 2>/dev/null; }
  wait_for 20 "the relay listens" relay_up
fi
on a volume create dvol --size 64MiB --replica "$delayed" >/dev/null || fail "volume create dvol"
wait_for 60 "dvol RW,RW" is_modes dvol RW,RW
dev=$(on a volume attach dvol | awk '{print $NF}')
[[ -b $dev ]] || fail "dvol attached as '$dev'"
started=$(e2e_now_ms)
dd if=/dev/urandom of="$dev" bs=1M count=32 oflag=direct 2>/dev/null || fail "the write under delay"
took=$(($(e2e_now_ms) - started))
is_modes dvol RW,RW || fail "a replica left under delay: $(modes dvol)"
on a volume detach dvol >/dev/null
[[ $how == netem ]] && netns_undelay c
pass "$how: 32 MiB of 1 MiB direct writes in $took ms ($((32 * 1000 / (took > 0 ? took : 1))) MiB/s)"

step "the checksums verify in a container"
docker rm -f remote-holder >/dev/null
# shellcheck disable=SC2016 # expanded in the container
drun -v "$VOL:/data" "$E2E_IMAGE" sh -c 'cd /data && sha256sum -c payload.sha256 >/dev/null' ||
  fail "the payload differs"
pass

step "a stale replica never serves: volume svol on B and C only"
declare -A URI2
for h in b c; do
  on "$h" replica create default rep2 --size 64 --thin >/dev/null
  URI2[$h]=$(on "$h" replica share default rep2)
done
on a volume create svol --size 64MiB --replicas 2 --replica "${URI2[b]}" --replica "${URI2[c]}" \
  >/dev/null || fail "volume create svol"
wait_for 30 "svol RW,RW" is_modes svol RW,RW
netns_partition c
dev=$(on a volume attach svol | awk '{print $NF}')
[[ -b $dev ]] || dev=$(on a volume inspect svol -o json | jq -r .device)
[[ -b $dev ]] || fail "svol attached as '$dev'"
dd if=/dev/urandom of="$T_HOSTS/newest" bs=1M count=4 2>/dev/null
dd if="$T_HOSTS/newest" of="$dev" bs=1M oflag=direct conv=fsync 2>/dev/null || fail "the write"
wait_for 60 "C's replica leaves" is_mode svol r2 ERR
on a volume detach svol >/dev/null || fail "detach"
on a unload --stop-targets >/dev/null || fail "unload"
netns_partition b
netns_heal c
load_on a || fail "maya load on a"
wait_for 60 "svol offline" is_not_healthy svol
said=$(on a volume inspect svol 2>&1 || true)
grep -q "holds the newest data" <<<"$said$(cat "$T/opt/maya-store/svol/target.log")" ||
  fail "svol does not say why it stays offline: $said"
pass "C alone is refused"

step "with B back, svol serves the newest data"
netns_heal b
# `maya load` gives a volume whose target gave up another chance.
on a unload >/dev/null || fail "unload"
load_on a || fail "maya load on a"
wait_for 90 "svol back" is_modes svol RW,RW
dev=$(on a volume attach svol | awk '{print $NF}')
[[ -b $dev ]] || dev=$(on a volume inspect svol -o json | jq -r .device)
cmp -n $((4 << 20)) "$T_HOSTS/newest" "$dev" || fail "svol does not hold the newest write"
on a volume detach svol >/dev/null
pass

step "fencing: host C cannot take B's replica of svol, which A's volume holds"
out=$(on c volume create thief --size 64MiB --replicas 1 --replica "${URI2[b]}" 2>&1) &&
  fail "host C took over B's replica of svol: $out"
grep -q "fenced" <<<"$out$(cat "$T_HOSTS/hosts/c/opt/maya-store/thief/target.log" 2>/dev/null)" ||
  fail "the refusal does not say the replica is another owner's: $out"
dev=$(on a volume attach svol | awk '{print $NF}')
[[ -b $dev ]] || fail "svol attached as '$dev'"
dd if=/dev/urandom of="$dev" bs=1M count=2 oflag=direct conv=fsync 2>/dev/null || fail "svol's write"
is_modes svol RW,RW || fail "svol lost a replica: $(modes svol)"
on a volume detach svol >/dev/null
pass

step "a volume deleted gives its remote replicas up: host C may use B's now"
on a volume delete svol >/dev/null || fail "volume delete svol"
on c volume create thief --size 64MiB --replicas 1 --replica "${URI2[b]}" >/dev/null ||
  fail "host C is still refused B's replica after svol was deleted"
wait_for 30 "thief RW on c" thief_rw
on c volume delete thief >/dev/null
pass

step "a remote disk that fills up: the volume goes on with its other replicas"
# Host D's store is a 48 MiB tmpfs: its shared replica of 96 MiB (thin) runs out of room.
mkdir -p "$(root_of d)"
"$MAYA" init --root "$(root_of d)" --config "$(conf_of d)" >/dev/null
sed -i "s/^discovery_port = .*/discovery_port = 0/; s/^listen = .*/listen = \"127.0.0.1:0\"/
        s/^address = \"127.0.0.1\"/address = \"$(ip_of d)\"/
        s/^io_timeout = .*/io_timeout = \"${IO_TIMEOUT}s\"/" "$(conf_of d)"
store_d=$(root_of d)/opt/maya-store
mkdir -p "$store_d"
mount -t tmpfs -o size=48m maya-e2e-full "$store_d"
e2e_cleanup_push "umount -l '$store_d' 2>/dev/null"
load_on d || fail "maya load on d"
on d replica create default small --size 96 --thin >/dev/null || fail "replica create on d"
uri_d=$(on d replica share default small) || fail "replica share on d"
on a volume create fvol --size 96MiB --replica "$uri_d" >/dev/null || fail "volume create fvol"
wait_for 60 "fvol RW,RW" is_modes fvol RW,RW
dev=$(on a volume attach fvol | awk '{print $NF}')
[[ -b $dev ]] || fail "fvol attached as '$dev'"
dd if=/dev/urandom of="$T_HOSTS/full.bin" bs=1M count=80 2>/dev/null
dd if="$T_HOSTS/full.bin" of="$dev" bs=1M oflag=direct conv=fsync 2>/dev/null ||
  fail "a write failed: the replica here has room, so every write must succeed"
wait_for 60 "D's replica leaves, out of space" is_mode fvol r2 ERR
cmp -n $((80 << 20)) "$T_HOSTS/full.bin" "$dev" || fail "fvol does not hold what was written"
error=$(on a volume inspect fvol -o json | jq -r '.replicas[] | select(.id == "r2") | .error')
on a volume detach fvol >/dev/null
on d unload --stop-targets >/dev/null 2>&1 || true
pass "$error"
