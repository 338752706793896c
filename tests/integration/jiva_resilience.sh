#!/usr/bin/env bash
# One damaged jiva volume never takes a healthy one down, and a restarted target never stalls
# I/O (issue 10, failures 4 and 5). In a temp root:
#   - five kill -9 of a volume's target within a minute while a client writes (iSCSI logins,
#     and a mounted file system through FUSE when root): each time, the
#     time until a write succeeds again is printed; the supervisor restarts a target that was
#     serving at once (its log says so), never "backing off";
#   - a volume's jiva.json edited to another volume's port: the volume that owns the port keeps
#     serving (through a reload and a kill of its target), the damaged one is broken with the
#     reason, discovery lists each portal once; the owner is decided by creation order, not by
#     name order (a stopped store loaded again);
#   - a garbage jiva.json and a garbage replica.json: broken (the latter after a few failed
#     starts), the cause in inspect and list; plain delete refuses, delete --force removes them;
#     a fixed volume runs again after `maya load`.
#
#   bash tests/integration/jiva_resilience.sh MAYA_BINARY
set -euo pipefail

# shellcheck source=jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/jiva_lib.sh" "$@"
command -v qemu-io >/dev/null || { echo "SKIP: qemu-io is not installed (qemu-utils)"; exit 77; }
jiva_setup
LOG=$T/var/lib/maya/maya.log
STORE=$T/opt/maya-store

field() { maya volume inspect "$1" -o json | jq -r ".$2"; }
# Waits (at most $3 s) until inspect shows field $2 of volume $1 equal to $4.
wait_field() {
  local v
  for _ in $(seq 1 $(($3 * 10))); do
    v=$(field "$1" "$2" 2>/dev/null || true)
    [[ $v == "$4" ]] && return 0
    sleep 0.1
  done
  fail "volume $1: $2 is '$v', not '$4', after $3 s: $(maya volume inspect "$1" -o json | jq -c '{state, error, target_state, target_event}')"
}
# Waits (at most $2 s) until the volume's target answers with a pid other than $3.
wait_new_target() {
  local pid
  for _ in $(seq 1 $(($2 * 10))); do
    pid=$(field "$1" target_pid 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ && $pid != "$3" && $(field "$1" target_state) == running ]] && return 0
    sleep 0.1
  done
  fail "volume $1 has no new running target after $2 s"
}
inq() { timeout 10 iscsi-inq "$(url_of "$1")" >/dev/null 2>&1; }

# --- failure 5: five kill -9 within a minute while a client writes ----------------------------
maya volume create k --driver jiva --size 64MiB >/dev/null || fail "create k"
url=$(url_of k)
# One 4 KiB write per qemu-io run (a new login each time, as an initiator reconnecting does):
# "START END ok|fail" per attempt, in ms.
io_loop() {
  local i=0 s
  while :; do
    s=$(ms)
    if timeout 10 qemu-io -f raw -c "write -P $((i % 250 + 1)) $(((i % 256) * 4096)) 4k" "$url" >/dev/null 2>&1; then
      echo "$s $(ms) ok"
    else
      echo "$s $(ms) fail"
      sleep 0.02
    fi
    i=$((i + 1))
  done
}
io_loop >"$T/io.log" 2>/dev/null &
writer=$!
for _ in $(seq 1 100); do grep -q ' ok$' "$T/io.log" && break; sleep 0.1; done
grep -q ' ok$' "$T/io.log" || fail "no write reached volume k"
sleep 2.5  # the target has served a while: its death is not a failed start
figures=()
inflight=()
first_kill=
for round in 1 2 3 4 5; do
  pid=$(field k target_pid)
  [[ $pid =~ ^[0-9]+$ ]] || fail "round $round: volume k has no target pid"
  t_kill=$(ms)
  [[ -n $first_kill ]] || first_kill=$t_kill
  kill -9 "$pid"
  # A new initiator's write, tried again at once until it succeeds (15 s at most).
  resumed=
  for _ in $(seq 1 300); do
    if timeout 5 qemu-io -f raw -c "write -P 0xee 2M 4k" "$url" >/dev/null 2>&1; then
      resumed=$(ms)
      break
    fi
    sleep 0.02
    (($(ms) - t_kill < 15000)) || break
  done
  [[ -n $resumed ]] || fail "round $round: no write succeeded within 15 s of kill -9 of pid $pid"
  figures+=($((resumed - t_kill)))
  # The writer's next write started after the kill (it waits for the one in flight, which
  # libiscsi retries after its own reconnect delay).
  done_at=
  for _ in $(seq 1 150); do
    done_at=$(awk -v t="$t_kill" '$1 >= t && $3 == "ok" { print $2; exit }' "$T/io.log")
    [[ -n $done_at ]] && break
    sleep 0.1
  done
  [[ -n $done_at ]] || fail "round $round: the writer's I/O did not resume within 15 s"
  inflight+=($((done_at - t_kill)))
  echo "jiva: kill -9 $round of the target (pid $pid): a new write succeeded after $((resumed - t_kill)) ms; the writer's next write completed after $((done_at - t_kill)) ms"
  wait_new_target k 10 "$pid"
  [[ $round == 5 ]] || sleep 3  # it serves a while before the next kill
done
last_kill=$t_kill
pkill -P "$writer" 2>/dev/null || true  # its qemu-io in flight
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
writer=
echo "jiva: after each of 5 kill -9 in $(((last_kill - first_kill) / 1000)) s, a new write succeeded after ${figures[*]} ms (max $(printf '%s\n' "${figures[@]}" | sort -n | tail -1) ms); the writer's I/O resumed after ${inflight[*]} ms"
((last_kill - first_kill < 60000)) || fail "the five kills took more than a minute"
for f in "${figures[@]}" "${inflight[@]}"; do ((f < 10000)) || fail "a write took $f ms to succeed after a kill -9 (bound 10 s)"; done
# Each restart's log line was written before the new target answered (wait_new_target); the
# count is read until it is complete (10 s at most), never after a guessed pause.
for _ in $(seq 1 100); do
  at_once=$(grep -c "target of volume k: pid [0-9]* was killed by SIGKILL while serving; restarting it at once" "$LOG" || true)
  ((at_once >= 5)) && break
  sleep 0.1
done
((at_once == 5)) || fail "the daemon log shows $at_once restarts 'at once' of k, not 5: $(grep 'volume k' "$LOG" | tail -12)"
if grep "target of volume k:" "$LOG" | grep -q "backing off"; then
  fail "the supervisor backed off restarting k: $(grep 'volume k:' "$LOG" | grep 'backing off')"
fi
[[ $(field k target_restarts) == 5 ]] || fail "inspect shows $(field k target_restarts) restarts of k, not 5"
ok "5 kill -9 in a minute: each target restarted at once (no backoff), writes resumed each time"
# The writer's last qemu-io may still be logging out: delete refuses a volume with a session
# open, so it is asked again until the target has seen the session go (10 s at most).
for _ in $(seq 1 100); do
  out=$(maya volume delete k 2>&1) && break
  grep -q "iSCSI session(s) open" <<<"$out" || fail "delete k: $out"
  sleep 0.1
done
! maya volume inspect k >/dev/null 2>&1 || fail "delete k: $out"

# --- the same through a mounted file system (FUSE + loop device, root): the stall a program sees
if [[ $(id -u) == 0 && -c /dev/fuse && -e /dev/loop-control ]] && command -v curl >/dev/null; then
  maya volume create f --driver jiva --size 64MiB >/dev/null || fail "create f"
  plugin=$T/run/docker/plugins/maya.sock
  mnt=$(curl -s -m 60 --unix-socket "$plugin" -X POST -d '{"Name":"f","ID":"resilience"}' http://plugin/VolumeDriver.Mount | jq -r .Mountpoint)
  [[ -n $mnt && -d $mnt ]] || fail "Mount of f through the plugin socket: '$mnt'"
  # tests/fuse_uring.sh runs this on FUSE over io_uring: inspect says which path serves.
  want_transport=${MAYA_FUSE_TRANSPORT:-}
  transport=$(field f fuse.transport)
  [[ -z $want_transport || $transport == "$want_transport" ]] ||
    fail "f is attached through FUSE over '$transport', not $want_transport"
  # One 4 KiB O_DIRECT|O_DSYNC write every 10 ms: "START END" in ms per completed write.
  python3 - "$mnt/stall.dat" >"$T/fio.log" <<'PY' &
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_DIRECT | os.O_DSYNC, 0o644)
buf = mmap.mmap(-1, 4096)
i = 0
while True:
    start = time.time()
    os.pwrite(fd, buf, (i % 1024) * 4096)
    print(int(start * 1000), int(time.time() * 1000), flush=True)
    i += 1
    time.sleep(0.01)
PY
  writer=$!
  # And a load that keeps requests in flight at every kill (32 at once, 4 KiB, direct): fio stops
  # at the first I/O error and says so in its summary.
  fio --name=load --filename="$mnt/load.dat" --size=16M --rw=randrw --bs=4k --iodepth=32 \
    --ioengine=libaio --direct=1 --time_based --runtime=300 --output="$T/fio-load.txt" \
    >/dev/null 2>&1 &
  load=$!
  for _ in $(seq 1 100); do [[ -s $T/fio.log ]] && break; sleep 0.1; done
  [[ -s $T/fio.log ]] || fail "no write reached the mounted volume f"
  sleep 2.5
  stalls=()
  for round in 1 2 3 4 5; do
    pid=$(field f target_pid)
    t_kill=$(ms)
    kill -9 "$pid"
    wait_new_target f 10 "$pid"
    # Until a write that began 2.5 s after the new target ran has completed (15 s at most): the
    # stall window below is complete, and the target served long enough for the next kill.
    t_new=$(ms)
    for _ in $(seq 1 150); do
      awk -v t="$((t_new + 2500))" '$1 >= t { found = 1 } END { exit !found }' "$T/fio.log" && break
      kill -0 "$writer" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$writer" 2>/dev/null || fail "round $round: the writer on the mounted volume died: I/O error"
    # The longest write around the kill is the stall the program saw.
    stall=$(awk -v t="$t_kill" '$2 > t && $1 < t + 2500 { d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$T/fio.log")
    stalls+=("$stall")
    [[ -z $want_transport || $(field f fuse.transport) == "$want_transport" ]] ||
      fail "round $round: the new target serves f through FUSE over '$(field f fuse.transport)', not $want_transport"
    echo "jiva: kill -9 $round of the target of a mounted volume: the longest write took $stall ms"
  done
  kill "$writer" 2>/dev/null || true
  wait "$writer" 2>/dev/null || true
  writer=
  kill -0 "$load" 2>/dev/null || fail "fio beside the writer stopped during the kills: $(grep -m1 -i 'err' "$T/fio-load.txt")"
  kill -INT "$load"
  for _ in $(seq 1 300); do kill -0 "$load" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$load" 2>/dev/null && fail "fio beside the writer did not stop within 30 s of SIGINT: a request hangs"
  wait "$load" || true
  load=
  grep -q "err= *0" "$T/fio-load.txt" || fail "fio beside the writer saw an I/O error: $(grep -m1 'err=' "$T/fio-load.txt")"
  ios=$(grep -o 'write: IOPS=[^,]*' "$T/fio-load.txt" | head -1)
  echo "jiva: fio beside the writer (32 requests in flight, 4 KiB random read/write) saw no error through the 5 kills ($ios)"
  if [[ $want_transport == io_uring ]]; then
    took=$(grep -c "taking over the io_urings the ring keeper" "$STORE/f/target.log" || true)
    ((took >= 5)) || fail "the new targets took over the ring keeper's io_urings $took times, not 5: $(grep -m3 -i 'ring' "$STORE/f/target.log")"
    ! grep -E "stay unanswered|a ring entry failed|io_urings are gone|ring keeper is gone" "$STORE/f/target.log" ||
      fail "a takeover of f's ring was not clean (target.log above)"
  fi
  echo "jiva: mounted volume (FUSE over $transport), 5 kill -9 in a minute: longest write per kill ${stalls[*]} ms"
  for s in "${stalls[@]}"; do ((s < 10000)) || fail "a write on the mounted volume stalled $s ms after a kill -9"; done
  curl -s -m 60 --unix-socket "$plugin" -X POST -d '{"Name":"f","ID":"resilience"}' http://plugin/VolumeDriver.Unmount | jq -e '.Err == "" or .Err == null' >/dev/null ||
    fail "Unmount of f"
  maya volume delete f >/dev/null || fail "delete f"
  ok "5 kill -9 in a minute under a mounted file system: every write completed, no stall over 10 s"
else
  echo "SKIP (part): the mounted-volume kills need root, /dev/fuse, loop devices and curl"
fi

# --- failure 4: a jiva.json edited to another volume's port -------------------------------------
maya volume create d1 --driver jiva --size 64MiB >/dev/null || fail "create d1"
sleep 1.1  # a later creation time (jiva.json "created" has seconds)
maya volume create d2 --driver jiva --size 64MiB >/dev/null || fail "create d2"
p1=$(field d1 portal)
p1=${p1##*:}
d1_pid=$(field d1 target_pid)
jq ".port = $p1" "$STORE/d2/jiva.json" >"$T/d2.json" && cp "$T/d2.json" "$STORE/d2/jiva.json"
maya load >"$T/reload.out" 2>&1 || fail "maya load (reload): $(cat "$T/reload.out")"
grep -q "volume d2 is broken" "$T/reload.out" || fail "maya load does not warn about d2: $(cat "$T/reload.out")"
[[ $(field d2 state) == broken ]] || fail "d2 is $(field d2 state), not broken"
field d2 error | grep -q "port $p1, which belongs to volume d1" || fail "d2's error does not name the clash: $(field d2 error)"
field d2 error | grep -q "maya volume delete --force d2" || fail "d2's error gives no remedy: $(field d2 error)"
maya volume inspect d2 | grep -q "^state *broken: .*port $p1" || fail "inspect (table) does not show d2 broken: $(maya volume inspect d2)"
maya volume list | grep -q "^d2 .* broken" || fail "list does not show d2 broken: $(maya volume list)"
# d2's target, still running on its old port when its jiva.json was edited, is stopped: a
# damaged volume stays down.
for _ in $(seq 1 100); do [[ $(targets_of d2) == 0 ]] && break; sleep 0.1; done
[[ $(targets_of d2) == 0 ]] || fail "the broken d2's target still runs 10 s after maya load"
[[ $(field d2 target_pid) =~ ^(0|null)?$ ]] || fail "inspect shows a target pid for the broken d2: $(field d2 target_pid)"
[[ $(field d1 state) == detached && $(field d1 target_pid) == "$d1_pid" ]] || fail "d1 changed: $(maya volume inspect d1 -o json | jq -c '{state, error, target_pid}')"
inq d1 || fail "d1 does not answer after the reload"
discovery=$(maya status -o json | jq -r '.sockets.iscsi_discovery' | sed 's/^0\.0\.0\.0:/127.0.0.1:/')
iscsi-ls "$(discovery_url)" >"$T/ls.out" 2>&1 || fail "iscsi-ls: $(cat "$T/ls.out")"
[[ -z $(grep -o 'Portal:[^ ]*' "$T/ls.out" | sort | uniq -d) ]] || fail "discovery lists a portal twice: $(cat "$T/ls.out")"
grep -q "Target:iqn.2026-11.io.maya:d1 Portal:127.0.0.1:$p1," "$T/ls.out" || fail "discovery does not list d1: $(cat "$T/ls.out")"
grep -q "io.maya:d2" "$T/ls.out" && fail "discovery lists the broken d2: $(cat "$T/ls.out")"
# d1's target dies: it comes back on its port; the broken d2 is not started in its place.
kill -9 "$d1_pid"
wait_new_target d1 10 "$d1_pid"
inq d1 || fail "d1 does not answer after its target was killed"
[[ $(field d2 state) == broken ]] || fail "d2 is $(field d2 state) after d1's restart"
ok "port clash: d1 keeps serving (reload, kill -9), d2 broken with the reason and the remedy, discovery lists each portal once"

# The damaged volume is the OLDER one (o-old, created first, edited to n-new's port): n-new
# serves, so it keeps the port at maya load, and again after kill -9 of its target, when nobody
# serves on the port (n-new's target served on it last: target.served).
maya volume create o-old --driver jiva --size 64MiB >/dev/null || fail "create o-old"
sleep 1.1  # a later creation time for n-new
maya volume create n-new --driver jiva --size 64MiB >/dev/null || fail "create n-new"
pn=$(field n-new portal)
pn=${pn##*:}
n_pid=$(field n-new target_pid)
jq ".port = $pn" "$STORE/o-old/jiva.json" >"$T/o.json" && cp "$T/o.json" "$STORE/o-old/jiva.json"
maya load >"$T/reload.out" 2>&1 || fail "maya load (older volume edited): $(cat "$T/reload.out")"
[[ $(field o-old state) == broken ]] || fail "o-old is $(field o-old state), not broken"
field o-old error | grep -q "port $pn, which belongs to volume n-new" || fail "o-old: $(field o-old error)"
[[ $(field n-new target_pid) == "$n_pid" ]] || fail "n-new's target changed at maya load"
kill -9 "$n_pid"
wait_new_target n-new 10 "$n_pid"
inq n-new || fail "n-new does not answer after its target was killed"
[[ $(field n-new state) == detached ]] || fail "n-new is $(field n-new state) after kill -9: $(field n-new error)"
[[ $(field o-old state) == broken ]] || fail "o-old is $(field o-old state) after n-new's restart"
field o-old error | grep -q "belongs to volume n-new" || fail "o-old after n-new's restart: $(field o-old error)"
# And once more through discovery: n-new listed on its portal, o-old not at all.
discovery=$(maya status -o json | jq -r '.sockets.iscsi_discovery' | sed 's/^0\.0\.0\.0:/127.0.0.1:/')
iscsi-ls "$(discovery_url)" >"$T/ls.out" 2>&1 || fail "iscsi-ls: $(cat "$T/ls.out")"
grep -q "Target:iqn.2026-11.io.maya:n-new Portal:127.0.0.1:$pn," "$T/ls.out" || fail "discovery does not list n-new: $(cat "$T/ls.out")"
grep -q "io.maya:o-old" "$T/ls.out" && fail "discovery lists the broken o-old: $(cat "$T/ls.out")"
maya volume delete --force o-old >/dev/null || fail "delete --force o-old"
maya volume delete --force n-new >/dev/null || fail "delete --force n-new"
ok "port clash, the older volume damaged: the newer one keeps serving through kill -9 of its target, the older one stays broken"

# The owner is the volume created first, not the first name: a-bad sorts before b-ok.
maya volume create b-ok --driver jiva --size 64MiB >/dev/null || fail "create b-ok"
sleep 1.1
maya volume create a-bad --driver jiva --size 64MiB >/dev/null || fail "create a-bad"
pb=$(field b-ok portal)
pb=${pb##*:}
jq ".port = $pb" "$STORE/a-bad/jiva.json" >"$T/a.json" && cp "$T/a.json" "$STORE/a-bad/jiva.json"
maya unload --stop-targets >/dev/null || fail "unload --stop-targets"
# A store where no target served yet (no target.served, as before this version): creation
# order alone decides.
rm -f "$STORE"/{a-bad,b-ok}/target.served
maya load >/dev/null || fail "maya load of a store with a port clash"
[[ $(field b-ok target_state) == running ]] || fail "b-ok is not running after load: $(field b-ok target_state)"
inq b-ok || fail "b-ok does not answer"
[[ $(field a-bad state) == broken ]] || fail "a-bad is $(field a-bad state), not broken"
field a-bad error | grep -q "belongs to volume b-ok (it was created first" || fail "a-bad: $(field a-bad error)"
ok "port clash at start: the volume created first (b-ok) serves, the later one (a-bad) is broken, whatever the names' order"
# Fixed by hand: maya load gives it another chance.
jq ".port = $((pb + 30))" "$STORE/a-bad/jiva.json" >"$T/a.json" && cp "$T/a.json" "$STORE/a-bad/jiva.json"
maya load >"$T/reload.out" 2>&1 || fail "maya load after the fix: $(cat "$T/reload.out")"
[[ $(field a-bad state) == detached && $(field a-bad target_state) == running ]] ||
  fail "a-bad does not run after its fix and maya load: $(maya volume inspect a-bad -o json | jq -c '{state, error, target_state}')"
inq a-bad || fail "a-bad does not answer after its fix"
ok "a fixed volume serves again after maya load"

# --- garbage jiva.json, garbage replica.json: broken, shown, deletable ------------------------
maya volume create g1 --driver jiva --size 64MiB >/dev/null || fail "create g1"
maya volume create g2 --driver jiva --size 64MiB >/dev/null || fail "create g2"
g1_pid=$(field g1 target_pid)
g2_pid=$(field g2 target_pid)
echo 'garbage {' >"$STORE/g1/jiva.json"
echo 'garbage {' >"$STORE/g2/r1/replica.json"
t0=$(ms)
kill -9 "$g1_pid" "$g2_pid"
wait_field g1 state 10 broken
field g1 error | grep -q "jiva.json" || fail "g1's error does not name jiva.json: $(field g1 error)"
wait_field g2 state 60 broken
echo "jiva: a target that cannot start is broken after $(($(ms) - t0)) ms"
field g2 error | grep -q "failed to start 5 times in a row" || fail "g2's error: $(field g2 error)"
field g2 error | grep -q "replica.json" || fail "g2's error does not name replica.json: $(field g2 error)"
maya volume list >"$T/list.out"
{ grep -q "^g1 .*broken" "$T/list.out" && grep -q "^g2: broken: .*replica.json" "$T/list.out"; } ||
  fail "list does not show g1 and g2 broken with the cause: $(cat "$T/list.out")"
# Broken is final: the 5th failed start is not followed by a restart, so the count is read now.
[[ $(field g2 target_restarts) == 4 ]] || fail "g2 was restarted $(field g2 target_restarts) times, not 4 (then left down)"
[[ $(targets_of g2) == 0 ]] || fail "a target of g2 runs although it is broken"
inq d1 || fail "d1 stopped answering while g1 and g2 broke"
ok "garbage jiva.json: broken at once; garbage replica.json: broken after 5 failed starts; the cause in inspect and list"
maya volume delete g1 >"$T/del.out" 2>&1 && fail "a plain delete removed the broken g1"
grep -q "delete --force g1" "$T/del.out" || fail "the refused delete gives no remedy: $(cat "$T/del.out")"
maya volume delete --force g1 >/dev/null || fail "delete --force g1"
maya volume delete --force g2 >/dev/null || fail "delete --force g2"
maya volume delete --force d2 >/dev/null || fail "delete --force d2"
[[ ! -e $STORE/g1 && ! -e $STORE/g2 && ! -e $STORE/d2 ]] || fail "a deleted broken volume left its directory"
[[ $(maya volume list -o json | jq -r '[.[].name] | sort | join(" ")') == "a-bad b-ok d1" ]] ||
  fail "volumes left: $(maya volume list -o json | jq -r '[.[].name] | join(" ")')"
inq d1 || fail "d1 stopped answering"
grep "volume g[12]" "$LOG" | tail -12
ok "delete --force removes broken volumes (one whose jiva.json does not parse too)"
