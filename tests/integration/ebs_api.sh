#!/usr/bin/env bash
# The EBS-compatible API (issue 13) with the real AWS CLI against a daemon in a temp root, on
# real loop devices: instance metadata (IMDSv1 and v2), create-volume → wait volume-available →
# describe (filters, tags, pagination) → attach to the instance id from the metadata → wait
# volume-in-use → dd through <dev>/<vol-id> → snapshot → a volume from it reads the same →
# detach → delete → wait volume-deleted; a volume made by `maya volume create` has a stable id.
# Refusals: a wrong secret, a request 20 minutes old, an unknown action, a missing parameter, a
# 10 MB body, garbage bytes: each a clear 4xx that changes nothing, and the daemon keeps serving.
#
#   bash tests/integration/ebs_api.sh MAYA_BINARY
set -euo pipefail

maya_bin=${1:?usage: $0 MAYA_BINARY}
[[ $(id -u) == 0 ]] || { echo "SKIP: needs root (loop devices)"; exit 77; }
# Debian's AWS CLI and botocore (awscli, python3-boto3), not another copy earlier in PATH.
AWS=${MAYA_TEST_AWS:-/usr/bin/aws}
PY=/usr/bin/python3
for tool in "$AWS" curl jq "$PY"; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (packaging/install-deps.sh --with-tests)"; exit 77; }
done
"$PY" -c 'import botocore' 2>/dev/null || { echo "SKIP: python3-botocore is not installed"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/maya-ebs.XXXXXX")
CONF=$T/etc/maya.conf
maya() { "$maya_bin" --config "$CONF" "$@"; }
cleanup() {
  set +e
  maya unload --stop-targets >/dev/null 2>&1
  for f in "$T"/run/maya/targets/*.pid; do [[ -e $f ]] && pkill -9 -F "$f" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "not ok - $*" >&2
  tail -20 "$T/var/lib/maya/maya.log" >&2 2>/dev/null || true
  exit 1
}
ok() { echo "ok - $*"; }

"$maya_bin" init --root "$T" >/dev/null
first_port=$((21000 + (RANDOM % 400) * 40))
# [api] listen on port 0: a free port, which `maya status` shows (never the system's 5656).
sed -i "s/^listen = .*/listen = \"127.0.0.1:0\"/; s/^discovery_port = .*/discovery_port = 0/; s/^target_ports = .*/target_ports = \"$first_port-$((first_port + 39))\"/" "$CONF"
maya load >/dev/null || fail "maya load"
api_url() { URL=$(maya status -o json | jq -r .api.endpoint); [[ $URL == http://127.0.0.1:* ]] || fail "maya status shows no API endpoint: $URL"; PORT=${URL##*:}; }
api_url
CREDS=$T/etc/maya/credentials
export AWS_SHARED_CREDENTIALS_FILE=$CREDS AWS_CONFIG_FILE=/dev/null AWS_PAGER=""
unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_PROFILE AWS_DEFAULT_REGION
ec2() { "$AWS" --profile maya --region maya-1 --endpoint-url "$URL" ec2 "$@"; }
# Runs an ec2 command that must fail with error CODE.
expect_error() {
  local code=$1 out
  shift
  if out=$(ec2 "$@" 2>&1); then fail "ec2 $* succeeded; $code expected"; fi
  grep -q "$code" <<<"$out" || fail "ec2 $*: $code expected, got: $out"
}
# (--query applies to each page in text output: lengths go through JSON.)
count_volumes() { ec2 describe-volumes --output json | jq '.Volumes | length'; }

# --- status and instance metadata ---------------------------------------------------------------
grep -q "ebs api .*$URL" <<<"$(maya status)" || fail "the status table shows no API"
host_id=$(maya status -o json | jq -r .host.id)
IID=$(curl -sf "$URL/latest/meta-data/instance-id") || fail "GET instance-id"
[[ $IID == "$host_id" ]] || fail "instance-id is $IID, the host id is $host_id"
[[ $(curl -sf "$URL/latest/meta-data/placement/availability-zone") == maya-1a ]] || fail "availability-zone"
[[ $(curl -sf "$URL/latest/meta-data/placement/region") == maya-1 ]] || fail "region"
grep -qx instance-id <<<"$(curl -sf "$URL/latest/meta-data/")" || fail "the metadata index"
token=$(curl -sf -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "$URL/latest/api/token") || fail "IMDSv2 token"
[[ $(curl -sf -H "X-aws-ec2-metadata-token: $token" "$URL/latest/meta-data/instance-id") == "$IID" ]] || fail "IMDSv2 read"
[[ $(curl -s -o /dev/null -w '%{http_code}' -H 'X-aws-ec2-metadata-token: forged' "$URL/latest/meta-data/instance-id") == 401 ]] || fail "a forged token is not refused"
[[ $(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 0' "$URL/latest/api/token") == 400 ]] || fail "TTL 0 is not refused"
# botocore's own metadata fetcher finds the zone through AWS_EC2_METADATA_SERVICE_ENDPOINT.
zone=$(AWS_EC2_METADATA_SERVICE_ENDPOINT=$URL/ "$PY" -c '
import botocore.session
from botocore.utils import InstanceMetadataRegionFetcher
endpoint = botocore.session.get_session().get_config_variable("ec2_metadata_service_endpoint")
print(InstanceMetadataRegionFetcher(timeout=5, num_attempts=2,
    config={"ec2_metadata_service_endpoint": endpoint}).retrieve_region())') || fail "botocore IMDS"
[[ $zone == maya-1 ]] || fail "botocore read the region as $zone"
ok "instance metadata: instance-id = host id, zone, region, IMDSv2 tokens, botocore's fetcher"

# --- create, wait, describe ---------------------------------------------------------------------
V1=$(ec2 create-volume --size 1 --availability-zone maya-1a --volume-type gp3 --client-token tok-1 \
  --tag-specifications 'ResourceType=volume,Tags=[{Key=Name,Value=web},{Key=team,Value=blue},{Key=maya:driver,Value=local}]' \
  --query VolumeId --output text) || fail "create-volume"
[[ $V1 =~ ^vol-[0-9a-f]{17}$ ]] || fail "volume id $V1"
ec2 wait volume-available --volume-ids "$V1" || fail "wait volume-available"
again=$(ec2 create-volume --size 1 --availability-zone maya-1a --client-token tok-1 --query VolumeId --output text)
[[ $again == "$V1" ]] || fail "the same ClientToken made another volume ($again)"
expect_error IdempotentParameterMismatch create-volume --size 2 --availability-zone maya-1a --client-token tok-1
maya volume inspect web -o json | jq -e '.size_bytes == 1073741824' >/dev/null || fail "maya volume inspect web"
d=$(ec2 describe-volumes --volume-ids "$V1" --output json)
jq -e '.Volumes[0] | .Size == 1 and .State == "available" and .AvailabilityZone == "maya-1a" and .VolumeType == "gp3"
  and .Iops == 3000 and .Throughput == 125
  and (.Tags | map({(.Key): .Value}) | add) == {"Name": "web", "team": "blue", "maya:driver": "local"}' <<<"$d" >/dev/null ||
  fail "describe-volumes of $V1: $d"
ok "create-volume $V1 (Name tag → maya volume web), wait volume-available, ClientToken idempotency"

# A volume from the CLI gets an id on first sight, kept across a daemon restart; `maya volume
# inspect` gives it first (before the API has listed it), and describe-volumes shows the same.
maya volume create cli1 --driver local --size 64MiB >/dev/null || fail "maya volume create"
V_CLI=$(maya volume inspect cli1 -o json | jq -r .ebs_id)
[[ $V_CLI =~ ^vol-[0-9a-f]{17}$ ]] || fail "maya volume inspect cli1 shows no EBS id: $V_CLI"
grep -qx "ebs id *$V_CLI" <<<"$(maya volume inspect cli1)" || fail "the inspect table shows no EBS id"
[[ $(maya volume list -o json | jq -r '.[] | select(.name == "cli1") | .ebs_id') == "$V_CLI" ]] || fail "maya volume list -o json: another id"
[[ $(maya volume inspect web -o json | jq -r .ebs_id) == "$V1" ]] || fail "maya volume inspect web does not show $V1"
cli_id() { ec2 describe-volumes --output json | jq -r '.Volumes[] | select((.Tags // []) | length == 0) | select(.Size == 1) | .VolumeId'; }
[[ $(cli_id) == "$V_CLI" ]] || fail "describe-volumes shows $(cli_id) for cli1, maya volume inspect $V_CLI"
maya unload >/dev/null || fail "unload"
maya load >/dev/null || fail "load after unload"
api_url
[[ $(cli_id) == "$V_CLI" ]] || fail "the CLI volume's id changed across a restart"
# A restart by exec (handover) binds [api] listen again in the new image.
maya load --restart >/dev/null || fail "maya load --restart"
api_url
[[ $(cli_id) == "$V_CLI" ]] || fail "no API, or another id, after maya load --restart"
[[ $(maya volume inspect cli1 -o json | jq -r .ebs_id) == "$V_CLI" ]] || fail "inspect shows another id after restarts"
ok "maya volume create cli1: maya volume inspect and describe-volumes show the same $V_CLI, also after unload/load and load --restart"

for i in 3 4 5; do
  ec2 create-volume --size 1 --availability-zone maya-1a --volume-type gp3 --iops $((4000 + i)) --throughput $((200 + i)) \
    --tag-specifications "ResourceType=volume,Tags=[{Key=team,Value=t$((i % 2))},{Key=maya:driver,Value=local},{Key=i,Value=$i}]" >/dev/null ||
    fail "create-volume $i"
done
# Iops and Throughput: kept and echoed; a value the type does not take is refused as EC2 does.
[[ $(ec2 describe-volumes --filters Name=tag:i,Values=4 --query 'Volumes[0].[Iops,Throughput]' --output text) == $'4004\t204' ]] || fail "iops/throughput not echoed"
expect_error InvalidParameterCombination create-volume --size 1 --availability-zone maya-1a --volume-type gp2 --iops 3000
expect_error InvalidParameterValue create-volume --size 1 --availability-zone maya-1a --volume-type gp3 --throughput 2000
expect_error MissingParameter create-volume --size 4 --availability-zone maya-1a --volume-type io2
[[ $(count_volumes) == 5 ]] || fail "5 volumes expected, got $(count_volumes)"
[[ $(ec2 describe-volumes --page-size 2 --output json | jq '.Volumes | length') == 5 ]] || fail "--page-size 2 over 5 volumes"
page=$(ec2 describe-volumes --max-results 2 --no-paginate --output json)
[[ $(jq '.Volumes | length' <<<"$page") == 2 && $(jq -r .NextToken <<<"$page") != null ]] || fail "one page of 2: $page"
next=$(ec2 describe-volumes --max-results 2 --next-token "$(jq -r .NextToken <<<"$page")" --no-paginate --output json)
[[ $(jq -r '.Volumes[0].VolumeId' <<<"$next") > $(jq -r '.Volumes[1].VolumeId' <<<"$page") ]] || fail "the second page repeats the first"
[[ $(ec2 describe-volumes --filters Name=tag:team,Values=t1 --query 'length(Volumes)' --output text) == 2 ]] || fail "tag:team=t1"
[[ $(ec2 describe-volumes --filters Name=tag-key,Values=Name --query 'Volumes[0].VolumeId' --output text) == "$V1" ]] || fail "tag-key"
[[ $(ec2 describe-volumes --filters Name=size,Values=1 Name=status,Values=available Name=availability-zone,Values='maya-1*' --query 'length(Volumes)' --output text) == 5 ]] || fail "size+status+zone filters"
[[ $(ec2 describe-volumes --filters Name=volume-id,Values="$V1" --query 'length(Volumes)' --output text) == 1 ]] || fail "volume-id filter"
expect_error InvalidVolume.NotFound describe-volumes --volume-ids vol-0123456789abcdef0
ok "describe-volumes: 5 volumes over --page-size 2, MaxResults/NextToken, filters tag:, tag-key, size, status, zone, volume-id"

# --- tags ---------------------------------------------------------------------------------------
ec2 create-tags --resources "$V1" "$V_CLI" --tags Key=env,Value=prod || fail "create-tags"
[[ $(ec2 describe-tags --filters Name=key,Values=env --query 'length(Tags)' --output text) == 2 ]] || fail "describe-tags key=env"
ec2 delete-tags --resources "$V_CLI" --tags Key=env || fail "delete-tags"
[[ $(ec2 describe-tags --filters Name=key,Values=env --query 'Tags[0].ResourceId' --output text) == "$V1" ]] || fail "delete-tags left env on $V_CLI"
expect_error InvalidVolume.NotFound create-tags --resources vol-0123456789abcdef0 --tags Key=a,Value=b
ok "create-tags, describe-tags (filter key), delete-tags"

# --- attach, dd through the link, detach --------------------------------------------------------
expect_error InvalidInstanceID.NotFound attach-volume --volume-id "$V1" --instance-id i-0123456789abcdef0 --device /dev/sdf
state=$(ec2 attach-volume --volume-id "$V1" --instance-id "$IID" --device /dev/sdf --query State --output text) || fail "attach-volume"
[[ $state == attaching ]] || fail "attach-volume answered $state"
ec2 wait volume-in-use --volume-ids "$V1" || fail "wait volume-in-use"
ec2 describe-volumes --volume-ids "$V1" --output json |
  jq -e --arg i "$IID" '.Volumes[0].Attachments[0] | .InstanceId == $i and .Device == "/dev/sdf" and .State == "attached"' >/dev/null ||
  fail "the attachment is not described"
dev=$T/dev/maya/$V1
[[ -b $(readlink -f "$dev") && $(readlink -f "$T/dev/maya/by-name/web") == $(readlink -f "$dev") ]] || fail "links $dev and by-name/web"
head -c 4M /dev/urandom >"$T/pattern"
dd if="$T/pattern" of="$dev" bs=1M oflag=direct conv=fsync status=none || fail "dd to $dev"
cmp <(head -c 4M "$dev") "$T/pattern" || fail "the pattern does not read back"
expect_error VolumeInUse delete-volume --volume-id "$V1"
expect_error VolumeInUse attach-volume --volume-id "$V1" --instance-id "$IID" --device /dev/sdg
ok "attach-volume $V1 → in-use, $dev and by-name/web link the device, 4 MiB written and read back"

# One writer: Docker cannot mount a volume attached through the API (its plugin socket, no
# dockerd needed), and the API cannot attach a volume Docker has mounted.
PLUGIN=$(maya status -o json | jq -r .sockets.plugin)
[[ -S $PLUGIN ]] || fail "no plugin socket: $PLUGIN"
docker_call() { curl -s -m 60 --unix-socket "$PLUGIN" -X POST -d "$2" "http://plugin/VolumeDriver.$1"; }
out=$(docker_call Mount '{"Name":"web","ID":"c1"}')
jq -e '.Err | test("web is attached to this host as a block device.*AttachVolume.*DetachVolume")' <<<"$out" >/dev/null ||
  fail "Docker's Mount of an API-attached volume: $out"
[[ $(maya volume inspect web -o json | jq -r '.state + " " + (.mount_count | tostring)') == "attached 0" ]] || fail "a refused Mount left a reference"
[[ $(docker_call Create '{"Name":"dk","Opts":{"size":"64MiB","driver":"local"}}' | jq -r .Err) == "" ]] || fail "Docker Create dk"
mnt=$(docker_call Mount '{"Name":"dk","ID":"c1"}' | jq -r .Mountpoint)
mountpoint -q "$mnt" || fail "Docker's Mount of dk: $mnt"
V_DK=$(maya volume inspect dk -o json | jq -r .ebs_id)
[[ $(ec2 describe-volumes --volume-ids "$V_DK" --query 'Volumes[0].State' --output text) == in-use ]] || fail "a Docker-mounted volume is not in-use"
expect_error VolumeInUse attach-volume --volume-id "$V_DK" --instance-id "$IID" --device /dev/sdj
[[ ! -e $T/dev/maya/$V_DK ]] || fail "a refused attach linked dk"
mountpoint -q "$mnt" || fail "a refused attach unmounted dk"
[[ $(docker_call Unmount '{"Name":"dk","ID":"c1"}' | jq -r .Err) == "" ]] || fail "Docker Unmount dk"
ec2 wait volume-available --volume-ids "$V_DK" || fail "dk is not available once Docker unmounted it"
ok "one writer: Docker's Mount of API-attached web is refused (clear Err), attach-volume of Docker-mounted dk is VolumeInUse"

exec 7<"$dev"  # a holder: detach must refuse it
expect_error VolumeInUse detach-volume --volume-id "$V1"
exec 7<&-
[[ $(ec2 detach-volume --volume-id "$V1" --query State --output text) == detaching ]] || fail "detach-volume"
ec2 wait volume-available --volume-ids "$V1" || fail "wait volume-available after detach"
[[ ! -e $dev && ! -e $T/dev/maya/by-name/web ]] || fail "the links outlive the attachment"
# Detached by the CLI instead: the API sees it available and its links go.
ec2 attach-volume --volume-id "$V1" --instance-id "$IID" --device /dev/sdf >/dev/null || fail "attach again"
ec2 wait volume-in-use --volume-ids "$V1" || fail "wait in-use again"
maya volume detach web >/dev/null || fail "maya volume detach web"
ec2 wait volume-available --volume-ids "$V1" || fail "wait available after maya volume detach"
[[ ! -e $dev ]] || fail "the link outlives a detach by the CLI"
ok "detach-volume refuses an open device (VolumeInUse), then detaches; links removed (also after maya volume detach)"

# --force with a holder: the device is left to it until it closes it (never pulled from under a
# writer: its last write lands), then the volume is available, its data intact.
ec2 attach-volume --volume-id "$V1" --instance-id "$IID" --device /dev/sdf >/dev/null || fail "attach for --force"
ec2 wait volume-in-use --volume-ids "$V1" || fail "wait in-use for --force"
exec 7<>"$dev"
expect_error VolumeInUse detach-volume --volume-id "$V1"
[[ $(ec2 detach-volume --volume-id "$V1" --force --query State --output text) == detaching ]] || fail "detach-volume --force"
[[ ! -e $dev ]] || fail "the link outlives a forced detach"
d=$(ec2 describe-volumes --volume-ids "$V1" --output json)
jq -e '.Volumes[0] | .State == "in-use" and .Attachments[0].State == "detaching"' <<<"$d" >/dev/null || fail "held after --force: $d"
grep -q "detached by force.*process bash (pid $$) has it, or a file on it, open" "$T/var/lib/maya/maya.log" || fail "the log does not name the holder"
printf 'held-write' >&7 # the holder still writes to the volume
exec 7>&-
ec2 wait volume-available --volume-ids "$V1" || fail "not available once the holder closed the device"
ec2 attach-volume --volume-id "$V1" --instance-id "$IID" --device /dev/sdf >/dev/null || fail "attach after --force"
ec2 wait volume-in-use --volume-ids "$V1" || fail "wait in-use after --force"
cmp <(head -c 4M "$dev") <(printf 'held-write'; tail -c +11 "$T/pattern") || fail "the data after a forced detach"
ec2 detach-volume --volume-id "$V1" >/dev/null || fail "detach after the check"
ec2 wait volume-available --volume-ids "$V1" || fail "wait available after the check"
# --force on a mounted file system: unmounted lazily, the open file still written, then released.
ec2 attach-volume --volume-id "$V_CLI" --instance-id "$IID" --device /dev/sdk >/dev/null || fail "attach cli1"
ec2 wait volume-in-use --volume-ids "$V_CLI" || fail "wait cli1 in-use"
mkfs.ext4 -q "$T/dev/maya/$V_CLI" || fail "mkfs cli1"
mkdir -p "$T/m"
mount "$T/dev/maya/$V_CLI" "$T/m" || fail "mount cli1"
exec 8>"$T/m/file"
printf before >&8
expect_error VolumeInUse detach-volume --volume-id "$V_CLI"
ec2 detach-volume --volume-id "$V_CLI" --force >/dev/null || fail "detach-volume --force of a mounted volume"
! mountpoint -q "$T/m" || fail "the mount outlives --force"
printf ' after' >&8
exec 8>&-
ec2 wait volume-available --volume-ids "$V_CLI" || fail "cli1 not available once its last file closed"
ec2 attach-volume --volume-id "$V_CLI" --instance-id "$IID" --device /dev/sdk >/dev/null || fail "attach cli1 again"
ec2 wait volume-in-use --volume-ids "$V_CLI" || fail "wait cli1 in-use again"
mount "$T/dev/maya/$V_CLI" "$T/m" || fail "mount cli1 again"
[[ $(cat "$T/m/file") == "before after" ]] || fail "cli1's file after a forced detach: $(cat "$T/m/file")"
umount "$T/m"
ec2 detach-volume --volume-id "$V_CLI" >/dev/null || fail "detach cli1"
ec2 wait volume-available --volume-ids "$V_CLI" || fail "wait cli1 available"
ok "detach-volume --force: an open device and a mounted file system are left to their holders (lazy unmount), released when they close, data intact"

# --- refusals: nothing changes, the daemon keeps serving ---------------------------------------
before=$(count_volumes)
key_id=$(awk -F' = ' '/aws_access_key_id/ {print $2}' "$CREDS")
out=$(AWS_ACCESS_KEY_ID=$key_id AWS_SECRET_ACCESS_KEY=0123456789012345678901234567890123456789 \
  "$AWS" --region maya-1 --endpoint-url "$URL" ec2 create-volume --size 1 --availability-zone maya-1a 2>&1) && fail "a wrong secret was accepted"
grep -Eq 'AuthFailure|SignatureDoesNotMatch' <<<"$out" || fail "wrong secret: $out"
out=$(AWS_ACCESS_KEY_ID=AKIAAAAAAAAAAAAAAAAA AWS_SECRET_ACCESS_KEY=x "$AWS" --region maya-1 --endpoint-url "$URL" ec2 describe-volumes 2>&1) && fail "an unknown key was accepted"
grep -q AuthFailure <<<"$out" || fail "unknown key: $out"
# Raw requests signed by botocore's own SigV4 signer.
cat >"$T/raw.py" <<'PY'
import datetime, os, sys, urllib.request, urllib.error
from unittest import mock
import botocore.auth, botocore.awsrequest, botocore.credentials
url, key, secret, body, age = sys.argv[1], sys.argv[2], sys.argv[3], os.fsencode(sys.argv[4]), int(sys.argv[5])
req = botocore.awsrequest.AWSRequest(method="POST", url=url, data=body,
    headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
when = datetime.datetime.utcnow() - datetime.timedelta(seconds=age)
with mock.patch("botocore.auth.datetime") as dt:
    dt.datetime.utcnow.return_value = when
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "ec2", "maya-1").add_auth(req)
r = urllib.request.Request(url, data=body, headers=dict(req.headers.items()), method="POST")
try:
    resp = urllib.request.urlopen(r, timeout=30); print(resp.status); print(resp.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
PY
secret=$(awk -F' = ' '/aws_secret_access_key/ {print $2}' "$CREDS")
raw() { "$PY" "$T/raw.py" "$URL/" "$key_id" "$secret" "$1" "${2:-0}"; }
out=$(raw 'Action=DescribeVolumes&Version=2016-11-15'); [[ $(head -1 <<<"$out") == 200 ]] || fail "a raw signed request: $out"
out=$(raw 'Action=DescribeVolumes&Version=2016-11-15' 1200); grep -q RequestExpired <<<"$out" || fail "20 min old: $out"
out=$(raw 'Action=Frobnicate&Version=2016-11-15'); grep -q InvalidAction <<<"$out" || fail "unknown action: $out"
out=$(raw 'Action=CreateVolume&Version=2016-11-15&Size=1'); grep -q '<Code>MissingParameter</Code>' <<<"$out" || fail "missing AvailabilityZone: $out"
out=$(raw 'Action=AttachVolume&Version=2016-11-15&VolumeId=vol-0123456789abcdef0'); grep -q MissingParameter <<<"$out" || fail "attach without Device: $out"
out=$(raw $'\x01\x02%zz&&=garbage\xff'); [[ $(head -1 <<<"$out") == 4* ]] || fail "garbage form bytes: $out"
out=$(raw 'Action=CreateVolume&Version=2016-11-15&Size=1&AvailabilityZone=maya-1a&Bogus=1'); [[ $(head -1 <<<"$out") == 400 ]] || fail "unknown parameter: $out"
head -c 10M /dev/zero | tr '\0' 'a' >"$T/big"
code=$(curl -s -o "$T/big.out" -w '%{http_code}' -X POST --data-binary @"$T/big" "$URL/")
[[ $code == 413 ]] || fail "a 10 MB body got $code"
grep -q '<Code>' "$T/big.out" || fail "the 413 is not an EC2 error document: $(head -c 300 "$T/big.out")"
[[ $(curl -s -o /dev/null -w '%{http_code}' -X POST -d 'Action=DescribeVolumes&Version=2016-11-15' "$URL/") == 401 ]] || fail "an unsigned request is not 401"
# 200 idle connections hold no worker: requests are still answered while they wait.
"$PY" - "$PORT" <<'PY' &
import socket, sys, time
held = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(200)]
time.sleep(8)
PY
idle=$!
sleep 2
[[ $(count_volumes) == "$before" ]] || fail "a refused request changed the volumes, or 200 idle connections stalled the API"
wait "$idle" || fail "200 idle connections could not be opened"
ok "wrong secret, unknown key, 20 min old, unknown action, missing parameters, garbage, 10 MB, unsigned: refused, nothing changed; 200 idle connections do not stall it"

# --- snapshots (jiva), a volume from one --------------------------------------------------------
VJ=$(ec2 create-volume --size 1 --availability-zone maya-1a --tag-specifications 'ResourceType=volume,Tags=[{Key=Name,Value=jv},{Key=maya:driver,Value=jiva}]' --query VolumeId --output text) || fail "create a jiva volume"
ec2 wait volume-available --volume-ids "$VJ" || fail "wait jv"
ec2 attach-volume --volume-id "$VJ" --instance-id "$IID" --device /dev/sdh >/dev/null || fail "attach jv"
ec2 wait volume-in-use --volume-ids "$VJ" || fail "wait jv in-use"
dd if="$T/pattern" of="$T/dev/maya/$VJ" bs=1M oflag=direct conv=fsync status=none || fail "dd to jv"
# modify-volume: an online grow of the attached volume; the device follows.
expect_error InvalidParameterCombination modify-volume --volume-id "$VJ" --size 1
mod=$(ec2 modify-volume --volume-id "$VJ" --size 2 --output json) || fail "modify-volume --size 2"
jq -e --arg v "$VJ" '.VolumeModification | .VolumeId == $v and .ModificationState == "modifying" and .TargetSize == 2 and .OriginalSize == 1 and .TargetVolumeType == "gp2" and .OriginalVolumeType == "gp2" and .Progress == 0 and (.StartTime | length > 0)' >/dev/null <<<"$mod" ||
  fail "modify-volume answered $mod"
for _ in $(seq 1 600); do
  state=$(ec2 describe-volumes-modifications --volume-ids "$VJ" --query 'VolumesModifications[0].ModificationState' --output text) || fail "describe-volumes-modifications"
  [[ $state == completed || $state == failed ]] && break
  sleep 0.2
done
[[ $state == completed ]] || fail "the modification of $VJ is $state: $(ec2 describe-volumes-modifications --volume-ids "$VJ" --output json)"
ec2 describe-volumes-modifications --filters Name=modification-state,Values=completed --output json |
  jq -e --arg v "$VJ" '[.VolumesModifications[] | select(.VolumeId == $v)] | length == 1 and .[0].Progress == 100 and (.[0].EndTime | length > 0)' >/dev/null ||
  fail "describe-volumes-modifications with a filter"
[[ $(blockdev --getsize64 "$T/dev/maya/$VJ") -eq $((2 << 30)) ]] || fail "the device of $VJ is $(blockdev --getsize64 "$T/dev/maya/$VJ") bytes after modify-volume"
[[ $(ec2 describe-volumes --volume-ids "$VJ" --query 'Volumes[0].Size' --output text) == 2 ]] || fail "describe-volumes Size after modify-volume"
cmp <(head -c 4M "$T/dev/maya/$VJ") "$T/pattern" || fail "the data changed with modify-volume"
expect_error InvalidParameterValue modify-volume --volume-id "$VJ" --size 1
expect_error InvalidVolume.NotFound modify-volume --volume-id vol-0123456789abcdef0 --size 5
expect_error InvalidVolumeModification.NotFound describe-volumes-modifications --volume-ids "$V1"
# The type and its performance alone: recorded at once (gp3's defaults, then Iops given).
expect_error MissingParameter modify-volume --volume-id "$VJ" --volume-type io1
[[ $(ec2 modify-volume --volume-id "$VJ" --volume-type gp3 --query VolumeModification.ModificationState --output text) == completed ]] || fail "modify-volume --volume-type gp3"
ec2 describe-volumes --volume-ids "$VJ" --output json | jq -e '.Volumes[0] | .VolumeType == "gp3" and .Iops == 3000 and .Throughput == 125' >/dev/null || fail "gp3's defaults after modify-volume"
ec2 modify-volume --volume-id "$VJ" --iops 4000 --output json | jq -e '.VolumeModification | .OriginalIops == 3000 and .TargetIops == 4000 and .TargetThroughput == 125' >/dev/null || fail "modify-volume --iops 4000"
[[ $(ec2 describe-volumes --volume-ids "$VJ" --query 'Volumes[0].Iops' --output text) == 4000 ]] || fail "Iops after modify-volume --iops"
expect_error InvalidParameterCombination modify-volume --volume-id "$VJ" --iops 4000
ok "modify-volume --size 2 while attached: modifying → completed, the device is 2 GiB, data kept; shrink and no-op refused; type and Iops recorded"

S=$(ec2 create-snapshot --volume-id "$VJ" --description "first" --tag-specifications 'ResourceType=snapshot,Tags=[{Key=k,Value=v}]' --query SnapshotId --output text) || fail "create-snapshot"
[[ $S =~ ^snap-[0-9a-f]{17}$ ]] || fail "snapshot id $S"
ec2 wait snapshot-completed --snapshot-ids "$S" || fail "wait snapshot-completed"
ec2 describe-snapshots --snapshot-ids "$S" --output json | jq -e --arg v "$VJ" '.Snapshots[0] | .VolumeId == $v and .State == "completed" and .VolumeSize == 2 and .Description == "first"' >/dev/null || fail "describe-snapshots"
[[ $(ec2 describe-snapshots --filters Name=volume-id,Values="$VJ" --query 'length(Snapshots)' --output text) == 1 ]] || fail "snapshot filter volume-id"
# --force on jiva: through FUSE the loop device is left to its holder as for local volumes;
# an iSCSI disk cannot be, and is refused.
exec 9<"$T/dev/maya/$VJ"
if [[ $(maya volume inspect jv -o json | jq -r .attach) == fuse ]]; then
  [[ $(ec2 detach-volume --volume-id "$VJ" --force --query State --output text) == detaching ]] || fail "detach-volume --force of jv"
  exec 9<&-
else
  expect_error VolumeInUse detach-volume --volume-id "$VJ" --force
  exec 9<&-
  ec2 detach-volume --volume-id "$VJ" >/dev/null || fail "detach jv"
fi
ec2 wait volume-available --volume-ids "$VJ" || fail "jv not available after its detach"
VC=$(ec2 create-volume --availability-zone maya-1a --snapshot-id "$S" --query VolumeId --output text) || fail "create-volume --snapshot-id"
ec2 wait volume-available --volume-ids "$VC" || fail "wait clone"
[[ $(ec2 describe-volumes --volume-ids "$VC" --query 'Volumes[0].SnapshotId' --output text) == "$S" ]] || fail "the clone's SnapshotId"
ec2 attach-volume --volume-id "$VC" --instance-id "$IID" --device /dev/sdi >/dev/null || fail "attach the clone"
ec2 wait volume-in-use --volume-ids "$VC" || fail "wait clone in-use"
cmp <(head -c 4M "$T/dev/maya/$VC") "$T/pattern" || fail "the clone does not hold the snapshot's data"
ec2 detach-volume --volume-id "$VC" >/dev/null || fail "detach the clone"
ec2 wait volume-available --volume-ids "$VC" || fail "wait clone available"
ok "create-snapshot $S of an attached jiva volume → snapshot-completed; create-volume --snapshot-id reads the same bytes"

# --- delete everything --------------------------------------------------------------------------
ec2 delete-snapshot --snapshot-id "$S" || fail "delete-snapshot"
expect_error InvalidSnapshot.NotFound describe-snapshots --snapshot-ids "$S"
all=$(ec2 describe-volumes --query 'Volumes[].VolumeId' --output text)
for v in $all; do ec2 delete-volume --volume-id "$v" || fail "delete-volume $v"; done
# shellcheck disable=SC2086
ec2 wait volume-deleted --volume-ids $all || fail "wait volume-deleted"
[[ $(count_volumes) == 0 ]] || fail "volumes left"
[[ $(maya volume list -o json | jq length) == 0 ]] || fail "maya volume list still shows volumes"
ok "delete-snapshot, delete-volume ×$(wc -w <<<"$all"), wait volume-deleted; maya volume list is empty"

# --- a port another program holds: the daemon serves the rest and says why ---------------------
maya unload >/dev/null || fail "unload"
"$PY" - "$PORT" <<'PY' &
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(20)
PY
holder=$!
sleep 1
sed -i "s/^listen = .*/listen = \"127.0.0.1:$PORT\"/" "$CONF"
maya load >/dev/null || fail "maya load with [api] listen taken"
reason=$(maya status -o json | jq -r '.api | select(.served == false) | .reason')
[[ $reason == *"127.0.0.1:$PORT"*"in use"* ]] || fail "status does not say why the API is not served: $(maya status -o json | jq -c .api)"
grep -q "warning .*EBS-compatible API is not served" <<<"$(maya status)" || fail "the status table shows no warning"
maya volume list >/dev/null || fail "the daemon does not serve the CLI with its API port taken"
# Not served, yet the catalog is the daemon's: a volume still gets its stable EBS id.
maya volume create late --driver local --size 64MiB >/dev/null || fail "maya volume create late"
late=$(maya volume inspect late -o json | jq -r .ebs_id)
[[ $late =~ ^vol-[0-9a-f]{17}$ && $(maya volume inspect late -o json | jq -r .ebs_id) == "$late" ]] || fail "no stable EBS id while the API is not served: $late"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null || true
ok "[api] listen taken by another program: the daemon runs, maya status says why, ids are still given"
