# shellcheck shell=bash
# A private etcd for tests (sourced): one member, its data in a directory of the test's, its
# client and peer ports picked free at random (never etcd's own 2379/2380).
#
#   source tests/support/etcd.sh
#   etcd_start "$tmp/etcd" [ADDRESS]   starts it on ADDRESS (default 127.0.0.1), waits until it
#                                      is healthy (30 s at most; else the log's tail, return 1);
#                                      exports ETCD_ENDPOINT=http://ADDRESS:PORT and ETCD_PID
#   etcd_stop                          SIGTERM, a bounded wait, then SIGKILL
#   etcd_kill                          SIGKILL (a crash)
#   etcd_restart [DIR]                 again, with the same data and the same ports; with DIR,
#                                      from another shell than etcd_start's (DIR/etcd.ports)
#
# Inside a network namespace: set ETCD_EXEC to the command prefix that enters it, e.g.
#   ETCD_EXEC="ip netns exec $(netns_host_ns e)" etcd_start "$tmp/etcd" "$(netns_host_ip e)"
# etcd, and the health probe, then run through it (`ip netns exec` execs, so ETCD_PID is etcd's).
# The log is DIR/etcd.log. One etcd per shell.

_etcd_dir=
_etcd_address=
_etcd_client_port=
_etcd_peer_port=

_etcd_err() { echo "etcd.sh: $*" >&2; }

# _etcd_exec CMD...: becomes CMD run through ETCD_EXEC (exec: in `cmd &`, $! is CMD's PID).
_etcd_exec() {
  local prefix=()
  if [[ -n ${ETCD_EXEC:-} ]]; then read -ra prefix <<<"$ETCD_EXEC"; fi
  exec "${prefix[@]}" "$@"
}

# A port in 20000-59999 that nothing listens on where etcd will run (a race with another
# process remains: etcd_start retries when etcd finds the port taken).
_etcd_free_port() {
  local port taken
  taken=$( (_etcd_exec ss -Htln) 2>/dev/null | awk '{print $4}' | sed 's/.*://')
  while :; do
    port=$((20000 + RANDOM % 40000))
    [[ $port == "${1:-}" ]] && continue
    grep -qx "$port" <<<"$taken" || { echo "$port"; return; }
  done
}

_etcd_url() {
  local host=$_etcd_address
  [[ $host == *:* ]] && host="[$host]"
  echo "http://$host:$1"
}

# Starts etcd on the chosen ports and waits for its health; 1 when it died or never got healthy.
_etcd_launch() {
  local client peer i
  client=$(_etcd_url "$_etcd_client_port")
  peer=$(_etcd_url "$_etcd_peer_port")
  echo "--- etcd_start $(date -u +%FT%TZ): client $client, peer $peer" >>"$_etcd_dir/etcd.log"
  (_etcd_exec etcd --name maya-test --data-dir "$_etcd_dir/data" \
    --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "maya-test=$peer") >>"$_etcd_dir/etcd.log" 2>&1 &
  ETCD_PID=$!
  ETCD_ENDPOINT=$client
  export ETCD_PID ETCD_ENDPOINT
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$ETCD_PID" 2>/dev/null; then
      wait "$ETCD_PID" 2>/dev/null || true
      return 1
    fi
    (_etcd_exec curl -sf --max-time 2 "$client/health") 2>/dev/null | grep -q '"health":"true"' &&
      return 0
    sleep 0.1
  done
  kill -9 "$ETCD_PID" 2>/dev/null || true
  wait "$ETCD_PID" 2>/dev/null || true
  echo "(not healthy within 30 s)" >>"$_etcd_dir/etcd.log"
  return 1
}

_etcd_failed() {
  _etcd_err "etcd did not start ($1); the end of $_etcd_dir/etcd.log:"
  tail -n 20 "$_etcd_dir/etcd.log" >&2
  return 1
}

# etcd_start DIR [ADDRESS]
etcd_start() {
  local attempt
  [[ -n ${1:-} ]] || { _etcd_err "usage: etcd_start DIR [ADDRESS]"; return 2; }
  command -v etcd >/dev/null || { _etcd_err "etcd is not installed (Debian: etcd-server)"; return 1; }
  mkdir -p "$1" || return 1
  _etcd_dir=$(cd "$1" && pwd)
  _etcd_address=${2:-127.0.0.1}
  for attempt in 1 2 3 4 5; do
    _etcd_client_port=$(_etcd_free_port)
    _etcd_peer_port=$(_etcd_free_port "$_etcd_client_port")
    if _etcd_launch; then
      echo "$_etcd_address $_etcd_client_port $_etcd_peer_port" >"$_etcd_dir/etcd.ports"
      return 0
    fi
    # Another process took a port between the check and etcd's bind: pick others.
    grep -q "address already in use" "$_etcd_dir/etcd.log" || _etcd_failed "attempt $attempt" ||
      return 1
  done
  _etcd_failed "5 attempts"
}

# Waits (10 s at most) for ETCD_PID to be gone.
_etcd_reap() {
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$ETCD_PID" 2>/dev/null || break
    sleep 0.1
  done
  wait "$ETCD_PID" 2>/dev/null || true
  ! kill -0 "$ETCD_PID" 2>/dev/null
}

etcd_stop() {
  [[ -n ${ETCD_PID:-} ]] || return 0
  kill "$ETCD_PID" 2>/dev/null || true
  _etcd_reap || { kill -9 "$ETCD_PID" 2>/dev/null || true; _etcd_reap; }
}

etcd_kill() {
  [[ -n ${ETCD_PID:-} ]] || return 0
  kill -9 "$ETCD_PID" 2>/dev/null || true
  _etcd_reap
}

etcd_restart() {
  if [[ -n ${1:-} ]]; then
    if [[ ! -f $1/etcd.ports ]]; then
      _etcd_err "no etcd was started in $1"
      return 1
    fi
    _etcd_dir=$(cd "$1" && pwd)
    read -r _etcd_address _etcd_client_port _etcd_peer_port <"$_etcd_dir/etcd.ports"
  fi
  [[ -n $_etcd_dir ]] || { _etcd_err "etcd_restart before etcd_start"; return 1; }
  etcd_stop
  _etcd_launch || _etcd_failed "restart on the same ports"
}
