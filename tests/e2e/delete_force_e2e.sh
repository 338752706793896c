#!/usr/bin/env bash
# End to end (issue 11, trap 3): `maya volume delete --force` while a real container uses the
# volume refuses before it changes anything, naming the container's process and id; once the
# container is gone it completes.
#
#   bash tests/e2e/delete_force_e2e.sh /path/to/maya
#
# Same setup as docker_volume_e2e.sh: a temp maya root, a private dockerd, a plugin name of
# this run's own ($PLUGIN). Root and loop devices needed, else "SKIP: <reason>" and exit 77.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
set -E

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VOL=heldvol

# shellcheck source=maya_e2e.sh
source "$HERE/maya_e2e.sh"
maya_e2e_setup

step "a container keeps $VOL mounted"
docker volume create -d "$PLUGIN" -o size=64MiB "$VOL" >/dev/null
cid=$(docker run -d --pull never --network none -v "$VOL:/data" "$E2E_IMAGE" \
  sh -c 'echo kept > /data/marker && exec sleep 600')
e2e_cleanup_push "docker rm -f $cid >/dev/null 2>&1 || true"
for _ in $(seq 100); do
  [[ $(docker inspect -f '{{.State.Running}}' "$cid") == true ]] &&
    docker exec "$cid" cat /data/marker >/dev/null 2>&1 && break
  sleep 0.1
done
[[ $(docker exec "$cid" cat /data/marker) == kept ]] || fail "the container did not start"
pass "container ${cid:0:12}"

step "delete --force refuses, naming the container, and changes nothing"
if out=$(maya volume delete "$VOL" --force 2>&1); then fail "it deleted a volume in use: $out"; fi
grep -q "container ${cid:0:12}" <<<"$out" || fail "the container is not named: $out"
grep -q "Nothing was changed" <<<"$out" || fail "$out"
state=$(maya volume inspect "$VOL" -o json | jq -r .state)
[[ $state == mounted ]] || fail "state is $state after the refusal"
[[ $(docker exec "$cid" cat /data/marker) == kept ]] || fail "the container lost its data"
pass "$(head -c 160 <<<"$out")…"

step "after the container is gone, delete --force completes"
docker rm -f "$cid" >/dev/null
maya volume delete "$VOL" --force >/dev/null || fail "delete --force failed"
[[ ! -e $T/opt/maya-store/$VOL ]] || fail "its files are still there"
pass
