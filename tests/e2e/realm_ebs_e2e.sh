#!/usr/bin/env bash
# The EBS-compatible API in a realm (issue 16), with the real AWS CLI: etcd on host E, hosts A,
# B and C (zones maya-1a, maya-1b, maya-1c) each serving its own API in its own namespace.
#   - create-volume through A's API in B's zone: describe-volumes on A, B and C shows the same
#     volume id and that zone; a zone no host has is refused, naming the realm's zones;
#   - a request B cannot perform (written into etcd by hand): B records the error in it, and
#     describe-volumes ignores it;
#   - attach-volume through A's API to B's instance id (replacing that failed request): B
#     performs it (ec2 wait volume-in-use, then the attachment turns "attached"): B's `maya
#     volume inspect` shows the device, B's describe shows the Device asked for and B has the
#     /dev/maya/<vol-id> link, C's describe shows B's instance id, the request is gone;
#   - refused: an unknown instance id (InvalidInstanceID.NotFound), an instance in another zone
#     (InvalidVolume.ZoneMismatch), a host that is down (IncorrectInstanceState);
#   - detach-volume through C's API: B detaches it, the volume is available everywhere;
#   - C down: a request pending for it is not shown and the next attach-volume replaces it;
#   - describe-availability-zones lists the hosts' zones (a zone whose hosts are down:
#     unavailable).
#
#   bash tests/e2e/realm_ebs_e2e.sh /path/to/maya
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Debian's AWS CLI, not another copy earlier in PATH.
AWS=${MAYA_TEST_AWS:-/usr/bin/aws}
command -v "$AWS" >/dev/null ||
  { echo "SKIP: $AWS is not installed (packaging/install-deps.sh --with-tests)"; exit 77; }
# shellcheck source=realm_hosts.sh
source "$HERE/realm_hosts.sh" "$@"

realm_hosts_up a b c
step "every host is up and serves its API"
for h in a b c; do wait_for 30 "three hosts up on $h" all_up_on "$h"; done
declare -A URL ID CREDS
for h in a b c; do
  json=$(on "$h" status -o json)
  URL[$h]=$(jq -r .api.endpoint <<<"$json")
  CREDS[$h]=$(jq -r .api.credentials <<<"$json")
  ID[$h]=$(jq -r .host.id <<<"$json")
  [[ ${URL[$h]} == http://127.0.0.1:* ]] || fail "$h serves no API: $json"
  [[ $(jq -r .api.zone <<<"$json") == "maya-1$h" ]] || fail "$h's API zone: $json"
done
pass

# ec2 H ARGS...: the AWS CLI against host H's API, in H's namespace, with H's credentials.
ec2() {
  local h=$1
  shift
  netns_run "$h" timeout -k 5 60 env AWS_SHARED_CREDENTIALS_FILE="${CREDS[$h]}" \
    AWS_CONFIG_FILE=/dev/null AWS_PAGER="" "$AWS" --profile maya --region maya-1 \
    --endpoint-url "${URL[$h]}" ec2 "$@" </dev/null
}
# expect_error CODE H ARGS...: the call through H's API fails with error CODE.
expect_error() {
  local code=$1 out
  shift
  if out=$(ec2 "$@" 2>&1); then fail "ec2 $*: succeeded; $code expected"; fi
  grep -q "$code" <<<"$out" || fail "ec2 $*: $code expected, got: $out"
}
# wait_aws SECONDS WHAT COMMAND...: wait_for by the clock (wait_for counts 0.2 s polls, and
# each AWS CLI call takes most of a second).
wait_aws() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    ((SECONDS < deadline)) || fail "$what: not within $limit s"
    sleep 0.5
  done
}
# volume_on H: the volume as H's describe-volumes shows it (JSON).
volume_on() { ec2 "$1" describe-volumes --volume-ids "$VID" --output json | jq -c '.Volumes[0]'; }

step "create-volume through A's API in B's zone; the same id and zone on A, B and C"
out=$(ec2 a create-volume --size 1 --availability-zone maya-1z 2>&1) && fail "zone maya-1z: $out"
grep -q "InvalidParameterValue.*maya-1a, maya-1b, maya-1c" <<<"$out" || fail "zone maya-1z: $out"
VID=$(ec2 a create-volume --size 1 --availability-zone maya-1b \
  --tag-specifications 'ResourceType=volume,Tags=[{Key=Name,Value=evol},{Key=maya:driver,Value=jiva},{Key=maya:replicas,Value=3}]' \
  --query VolumeId --output text) || fail "create-volume: $VID"
[[ $VID =~ ^vol-[0-9a-f]{17}$ ]] || fail "volume id $VID"
for h in a b c; do
  v=$(volume_on "$h") || fail "describe on $h: $v"
  jq -e '.State == "available" and .AvailabilityZone == "maya-1b" and .Size == 1' <<<"$v" >/dev/null ||
    fail "describe on $h: $v"
  [[ $(on "$h" volume inspect evol -o json | jq -r .ebs_id) == "$VID" ]] ||
    fail "maya volume inspect on $h shows another id"
done
pass "$VID"

step "describe-availability-zones: the realm's zones"
zones=$(ec2 c describe-availability-zones --output json |
  jq -r '[.AvailabilityZones[] | select(.State == "available") | .ZoneName] | join(",")')
[[ $zones == maya-1a,maya-1b,maya-1c ]] || fail "describe-availability-zones on c: $zones"
pass

step "refused: an unknown instance id, an instance in another zone"
expect_error InvalidInstanceID.NotFound a attach-volume --volume-id "$VID" --instance-id i-nowhere --device /dev/sdf
expect_error InvalidVolume.ZoneMismatch a attach-volume --volume-id "$VID" --instance-id "${ID[a]}" --device /dev/sdf
expect_error InvalidVolume.ZoneMismatch c attach-volume --volume-id "$VID" --instance-id "${ID[c]}" --device /dev/sdf
pass

step "a request B cannot perform: B keeps its error in it; describe ignores it"
# Written as another host's API would, but naming a volume id B does not know.
REQ=/maya/realms/e2e/ebs-requests/evol
etcd_ctl() { netns_run e timeout -k 5 30 etcdctl --endpoints "$ETCD_ENDPOINT" "$@" </dev/null; }
now_utc() { date -u -d "${1:-now}" +%Y-%m-%dT%H:%M:%SZ; }
etcd_ctl put "$REQ" "$(jq -cn --arg h "${ID[b]}" --arg at "$(now_utc)" '{action: "attach",
  volume: "evol", volume_id: "vol-00000000000000000", host: $h, device: "/dev/sdz",
  requested_by: "test", at: $at}')" >/dev/null
request_failed() { etcd_ctl get "$REQ" --print-value-only | jq -e ".error | test(\"$1\")" >/dev/null; }
wait_aws 30 "B records the failure in $REQ" request_failed NotFound
# One asked long ago (its host away since) is not performed late: the volume may have been
# attached and detached elsewhere meanwhile.
etcd_ctl put "$REQ" "$(jq -cn --arg h "${ID[b]}" --arg v "$VID" --arg at "$(now_utc '-5 min')" \
  '{action: "attach", volume: "evol", volume_id: $v, host: $h, device: "/dev/sdz",
  requested_by: "test", at: $at}')" >/dev/null
wait_aws 30 "B lets the old request expire" request_failed "not performed within"
volume_on a | jq -e '.State == "available" and (.Attachments | length) == 0' >/dev/null ||
  fail "A's describe with a failed request: $(volume_on a)"
pass "$(etcd_ctl get "$REQ" --print-value-only | jq -r .error)"

step "attach-volume through A's API to B's instance (replacing the failed request): B attaches it"
t0=$(date +%s%N)
out=$(ec2 a attach-volume --volume-id "$VID" --instance-id "${ID[b]}" --device /dev/sdf --output json) ||
  fail "attach-volume: $out"
jq -e --arg i "${ID[b]}" '.State == "attaching" and .InstanceId == $i and .Device == "/dev/sdf"' \
  <<<"$out" >/dev/null || fail "attach-volume answered $out"
# In-use at once (EC2 too shows in-use while attaching): the waiter's first look succeeds.
ec2 a wait volume-in-use --volume-ids "$VID" || fail "wait volume-in-use"
# attached_to_b_on H: H's describe shows the volume attached to B.
attached_to_b_on() {
  volume_on "$1" | jq -e --arg i "${ID[b]}" \
    '.State == "in-use" and .Attachments[0].InstanceId == $i and .Attachments[0].State == "attached"' >/dev/null
}
wait_aws 60 "C sees $VID attached to B" attached_to_b_on c
attach_ms=$((($(date +%s%N) - t0) / 1000000))
dev=$(on b volume inspect evol -o json | jq -r '.device // empty')
[[ -b $dev ]] || fail "B's maya volume inspect shows no device: $(on b volume inspect evol -o json)"
volume_on b | jq -e '.Attachments[0].Device == "/dev/sdf"' >/dev/null || fail "B's describe: $(volume_on b)"
# B's API made the links, as for an attach asked of it: <dev>/<vol-id> → the device.
[[ $(readlink "$(root_of b)/dev/maya/$VID") == "$dev" ]] || fail "B has no link $VID → $dev"
volume_on a | jq -e --arg i "${ID[b]}" '.Attachments[0].InstanceId == $i' >/dev/null ||
  fail "A's describe: $(volume_on a)"
[[ -z $(etcd_ctl get "$REQ" --print-value-only) ]] || fail "B left the request: $(etcd_ctl get "$REQ")"
expect_error VolumeInUse c attach-volume --volume-id "$VID" --instance-id "${ID[b]}" --device /dev/sdg
pass "$dev on B; attached as C saw it $attach_ms ms after attach-volume was called"

step "detach-volume through C's API: B detaches it; available everywhere"
t0=$(date +%s%N)
out=$(ec2 c detach-volume --volume-id "$VID" --output json) || fail "detach-volume: $out"
jq -e --arg i "${ID[b]}" '.State == "detaching" and .InstanceId == $i' <<<"$out" >/dev/null ||
  fail "detach-volume answered $out"
available_on() { volume_on "$1" | jq -e '.State == "available" and (.Attachments | length) == 0' >/dev/null; }
wait_aws 60 "$VID available on A" available_on a
detach_ms=$((($(date +%s%N) - t0) / 1000000))
available_on c || fail "C's describe: $(volume_on c)"
[[ -z $(on b volume inspect evol -o json | jq -r '.device // empty') ]] ||
  fail "B still has a device: $(on b volume inspect evol -o json)"
[[ ! -e $(root_of b)/dev/maya/$VID ]] || fail "B kept the link $VID"
pass "available as A saw it $detach_ms ms after detach-volume was called"

step "a host that is down: IncorrectInstanceState; a request pending for it is replaced"
on c unload >/dev/null
wait_for 30 "c down on a" is_state a c down
expect_error IncorrectInstanceState a attach-volume --volume-id "$VID" --instance-id "${ID[c]}" --device /dev/sdf
# A request pending for C, now down, would wait forever: not shown, and replaced by the next.
etcd_ctl put "$REQ" "$(jq -cn --arg h "${ID[c]}" --arg v "$VID" --arg at "$(now_utc)" \
  '{action: "attach", volume: "evol", volume_id: $v, host: $h, device: "/dev/sdy",
  requested_by: "test", at: $at}')" >/dev/null
volume_on a | jq -e '.State == "available"' >/dev/null || fail "A shows the request for C: $(volume_on a)"
ec2 a attach-volume --volume-id "$VID" --instance-id "${ID[b]}" --device /dev/sdf >/dev/null ||
  fail "attach-volume over a request for a down host"
wait_aws 60 "A sees $VID attached to B again" attached_to_b_on a
zones=$(ec2 a describe-availability-zones --output json |
  jq -r '[.AvailabilityZones[] | .ZoneName + ":" + .State] | join(",")')
[[ $zones == maya-1a:available,maya-1b:available,maya-1c:unavailable ]] ||
  fail "describe-availability-zones on a with c down: $zones"
pass

echo "realm EBS e2e: all passed"
