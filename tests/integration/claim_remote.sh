#!/usr/bin/env bash
# A volume that takes its remote replicas over, once (the realm's failover, issue 16), on one
# maya root over loopback: two bare replicas shared here (`maya replica share`) stand for
# another host's, and three volumes stand for three owners (the key is the host and the volume):
#   - X holds share s1; a plain create over s1 is refused, and claim_remote_replicas is no
#     option (the CLI's -o refuses it);
#   - Y, created through the control API with "claim_remote_replicas": true over s1 and s2,
#     preempts X: Y serves with both RW, its jiva.json no longer has claim_remote, and X's next
#     write is refused, s1 failed in X as fenced;
#   - Z claims s1 from Y the same way; Y's target killed (-9) and started again by the
#     supervisor is refused s1 as fenced instead of preempting it back: Z's writes go on.
# X has s1 alone, as r1, like Y: a new owner opens the replicas in the old one's order (their
# journals name the members by id, r1 … rN).
#
#   bash tests/integration/claim_remote.sh MAYA_BINARY
set -euo pipefail
# shellcheck source=jiva_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/jiva_lib.sh" "$@"
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }

# The shares outlive the daemon: once it is gone (it would start them again), they go by
# their pidfiles, then jiva's cleanup.
claim_cleanup() {
  local f
  set +e
  maya unload --stop-targets >/dev/null 2>&1
  for f in "$T"/opt/maya-store/.replicas/*/share.pid; do
    [[ -e $f ]] && pkill -F "$f" 2>/dev/null
  done
  jiva_cleanup
}
trap claim_cleanup EXIT

# jiva_setup's, with the shares' ports in the same random block (never the system's 3517-3580).
"$maya_bin" init --root "$T" >/dev/null
first_port=$((21000 + (RANDOM % 400) * 40))
sed -i "s/^listen = .*/listen = \"127.0.0.1:0\"/; s/^discovery_port = .*/discovery_port = 0/
        s/^target_ports = .*/target_ports = \"$first_port-$((first_port + 31))\"/
        s/^share_ports = .*/share_ports = \"$((first_port + 32))-$((first_port + 39))\"/" "$CONF"
grep -q "^share_ports = \"$((first_port + 32))-" "$CONF" || fail "no share_ports to edit"
maya load >/dev/null || fail "maya load"

STORE=$T/opt/maya-store
# shellcheck source=../support/wait_for.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/wait_for.sh"
modes() { maya volume inspect "$1" -o json | jq -r '[.replicas[].mode] | join(",")'; }
is_modes() { [[ $(modes "$1") == "$2" ]]; }
replica_error() { maya volume inspect "$1" -o json | jq -r ".replicas[] | select(.id == \"$2\") | .error"; }
# create_claiming NAME REPLICAS URI,...: POST /v1/volumes as the realm does.
create_claiming() {
  curl -s -o "$T/create.json" -w '%{http_code}' --unix-socket "$T/run/maya/maya.sock" \
    -X POST http://maya/v1/volumes \
    -d "{\"name\": \"$1\", \"opts\": {\"size\": \"32MiB\", \"replicas\": \"$2\", \"remote_replicas\": \"$3\"}, \"claim_remote_replicas\": true}"
}
write_1mib() {  # write_1mib VOLUME: 1 MiB at offset 0 through the volume's iSCSI target
  head -c $((1 << 20)) /dev/urandom >"$T/w.raw"
  timeout 60 qemu-img convert -n -f raw -O raw "$T/w.raw" "$(url_of "$1")" >"$T/w.log" 2>&1
}
has_claim() { jq -e 'has("claim_remote")' "$STORE/$1/jiva.json" >/dev/null; }

maya replica create default s1 --size 64 --thin >/dev/null || fail "replica create s1"
maya replica create default s2 --size 64 --thin >/dev/null || fail "replica create s2"
U1=$(maya replica share default s1) || fail "replica share s1"
U2=$(maya replica share default s2) || fail "replica share s2"

# --- X holds s1; without a claim nobody takes it ---------------------------------------------
maya volume create x --size 32MiB --replicas 1 --replica "$U1" >/dev/null || fail "create x"
wait_for 30 "x RW" is_modes x RW
write_1mib x || fail "x's write: $(cat "$T/w.log")"
if out=$(maya volume create w --size 32MiB --replicas 1 --replica "$U1" 2>&1); then
  fail "volume w took s1 from x without a claim: $out"
fi
grep -q "fenced" <<<"$out$(cat "$STORE/w/target.log" 2>/dev/null)" ||
  fail "the refusal of w does not say s1 is another owner's: $out"
if out=$(maya volume create q --size 32MiB -o claim_remote_replicas=true 2>&1); then
  fail "claim_remote_replicas is an option of the CLI: $out"
fi
[[ $(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$T/run/maya/maya.sock" \
  -X POST http://maya/v1/volumes -d '{"name": "q", "claim_remote_replicas": "yes"}') == 400 ]] ||
  fail "a claim_remote_replicas that is not a boolean is not refused"
write_1mib x || fail "x's write after w was refused: $(cat "$T/w.log")"
is_modes x RW || fail "x lost s1 to a refused create: $(modes x)"
ok "x holds s1; a create without a claim is refused (fenced); no CLI option claims"

# --- Y claims s1 (and s2, held by nobody) -------------------------------------------------------
code=$(create_claiming y 2 "$U1,$U2") || fail "POST /v1/volumes y"
[[ $code == 201 ]] || fail "create y with claim_remote_replicas: $code $(cat "$T/create.json")"
wait_for 30 "y RW,RW" is_modes y RW,RW
! has_claim y || fail "y's jiva.json still has claim_remote: $(cat "$STORE/y/jiva.json")"
grep -q "the claim is cleared" "$STORE/y/target.log" || fail "y's target does not say it claimed"
write_1mib y || fail "y's write: $(cat "$T/w.log")"
if write_1mib x; then fail "x wrote to s1 after y claimed it"; fi
wait_for 30 "x fails s1 (r1)" is_modes x ERR
[[ $(replica_error x r1) == *fenced* ]] || fail "x's r1 error does not say fenced: $(replica_error x r1)"
ok "y claimed s1 from x: y RW,RW, claim_remote gone from jiva.json, x's write refused (fenced)"

# --- Z claims s1 from Y; Y restarted stays fenced ------------------------------------------------
code=$(create_claiming z 1 "$U1") || fail "POST /v1/volumes z"
[[ $code == 201 ]] || fail "create z with claim_remote_replicas: $code $(cat "$T/create.json")"
wait_for 30 "z RW" is_modes z RW
! has_claim z || fail "z's jiva.json still has claim_remote"
fenced_before=$(grep -c "fenced" "$STORE/y/target.log" || true)
pid=$(maya volume inspect y -o json | jq -r .target_pid)
[[ $pid =~ ^[0-9]+$ ]] || fail "y has no target pid: $pid"
kill -9 "$pid"
# The supervisor starts y's target again; it must be refused s1 (not take it back).
y_fenced_again() { (($(grep -c "fenced" "$STORE/y/target.log" || true) > fenced_before)); }
wait_for 30 "y's restarted target refused s1" y_fenced_again
! has_claim y || fail "y's jiva.json has claim_remote again"
write_1mib z || fail "z's write after y's restart: $(cat "$T/w.log")"
is_modes z RW || fail "z lost s1 after y's restart: $(modes z): $(replica_error z r1)"
ok "z claimed s1 from y; y's target restarted is refused s1 (fenced), z writes on"
