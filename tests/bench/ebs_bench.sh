#!/usr/bin/env bash
# The EBS-compatible API through boto3 (not the AWS CLI): creates 100 volumes, describes them,
# deletes them, against a daemon in a temp root. Prints the median and p90 of create →
# available (CreateVolume, then DescribeVolumes until the volume is available) and the time of
# one DescribeVolumes listing all 100. DRIVER (default local) is the maya:driver tag; COUNT
# (default 100) the number of volumes.
# This is a benchmark, not a test: it prints figures and never fails on them.
#
#   bash tests/bench/ebs_bench.sh MAYA_BINARY
set -euo pipefail
maya_bin=${1:?usage: $0 MAYA_BINARY}
PY=/usr/bin/python3
"$PY" -c 'import boto3' 2>/dev/null || { echo "SKIP: python3-boto3 is not installed"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/maya-ebs-bench.XXXXXX")
CONF=$T/etc/maya.conf
maya() { "$maya_bin" --config "$CONF" "$@"; }
trap 'maya unload --stop-targets >/dev/null 2>&1; rm -rf "$T"' EXIT
"$maya_bin" init --root "$T" >/dev/null
first_port=$((22000 + (RANDOM % 200) * 40))
sed -i "s/^listen = .*/listen = \"127.0.0.1:0\"/; s/^discovery_port = .*/discovery_port = 0/; s/^target_ports = .*/target_ports = \"$first_port-$((first_port + 39))\"/" "$CONF"
maya load >/dev/null
URL=$(maya status -o json | jq -r .api.endpoint)

AWS_SHARED_CREDENTIALS_FILE=$T/etc/maya/credentials AWS_CONFIG_FILE=/dev/null \
  "$PY" - "$URL" "${DRIVER:-local}" "${COUNT:-100}" <<'PY'
import statistics, sys, time
import boto3
url, driver, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
ec2 = boto3.Session(profile_name="maya", region_name="maya-1").client("ec2", endpoint_url=url)
latencies, ids = [], []
for i in range(count):
    t0 = time.monotonic()
    v = ec2.create_volume(Size=1, AvailabilityZone="maya-1a", TagSpecifications=[
        {"ResourceType": "volume", "Tags": [{"Key": "maya:driver", "Value": driver}]}])
    while ec2.describe_volumes(VolumeIds=[v["VolumeId"]])["Volumes"][0]["State"] != "available":
        time.sleep(0.05)
    latencies.append(time.monotonic() - t0)
    ids.append(v["VolumeId"])
t0 = time.monotonic()
listed = ec2.describe_volumes()["Volumes"]
describe = time.monotonic() - t0
assert len(listed) == count, len(listed)
t0 = time.monotonic()
for v in ids:
    ec2.delete_volume(VolumeId=v)
delete = time.monotonic() - t0
latencies.sort()
print(f"{count} {driver} volumes through boto3")
print(f"create -> available: median {statistics.median(latencies) * 1000:.0f} ms, "
      f"p90 {latencies[int(len(latencies) * 0.9) - 1] * 1000:.0f} ms")
print(f"DescribeVolumes of {count}: {describe * 1000:.0f} ms")
print(f"DeleteVolume: {delete / count * 1000:.0f} ms each")
PY
