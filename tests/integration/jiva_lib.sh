# shellcheck shell=bash
# Shared by the jiva integration tests (sourced): a daemon in a temp root with ports of its own,
# and helpers to reach a volume's target with its CHAP credentials.
#
#   source jiva_lib.sh MAYA_BINARY      then: jiva_setup; url_of VOLUME; ...

maya_bin=${1:?usage: $0 MAYA_BINARY}
for tool in iscsi-ls iscsi-inq qemu-img jq python3; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed (see packaging/install-deps.sh)"; exit 77; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/maya-jiva.XXXXXX")
CONF=$T/etc/maya.conf
writer=
load=
maya() { "$maya_bin" --config "$CONF" "$@"; }
jiva_cleanup() {
  set +e
  [[ -n $writer ]] && kill "$writer" 2>/dev/null
  [[ -n $load ]] && kill "$load" 2>/dev/null && wait "$load" 2>/dev/null
  maya unload --stop-targets >/dev/null 2>&1
  for f in "$T"/run/maya/targets/*.pid; do
    [[ -e $f ]] && pkill -9 -F "$f" 2>/dev/null
  done
  # A test that failed with a volume mounted: its FUSE file has no target now, and rm would wait
  # on it forever. Abort those connections (never stat them) and detach every mount under $T.
  local dev mp fstype
  while read -r dev mp fstype; do
    [[ $mp == "$T"/* ]] || continue
    if [[ $fstype == fuse* && $dev == 0:* && -e /sys/fs/fuse/connections/${dev#0:}/abort ]]; then
      echo 1 >"/sys/fs/fuse/connections/${dev#0:}/abort"
    fi
    umount -l "$mp"
  done < <(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $3, $5, $(i + 1); break } }' \
    /proc/self/mountinfo | sort -r -k2)
  rm -rf "$T"
}
trap jiva_cleanup EXIT
fail() {
  echo "not ok - $*" >&2
  tail -20 "$T/var/lib/maya/maya.log" >&2 2>/dev/null || true
  exit 1
}
ok() { echo "ok - $*"; }
ms() { date +%s%3N; }
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
count_procs() { { pgrep -f -- "$1" || true; } | wc -l; }  # pgrep fails when none match
targets_of() { count_procs "target run --volume $1 --store $T/"; }

# jiva_setup [PORTS]: maya init + load in $T, with any free discovery port and a random block
# of PORTS target ports (default 40).
# shellcheck disable=SC2120 # PORTS is optional: most tests want the default
jiva_setup() {
  local ports=${1:-40}
  "$maya_bin" init --root "$T" >/dev/null
  first_port=$((21000 + (RANDOM % (16000 / ports)) * ports))
  sed -i "s/^listen = .*/listen = \"127.0.0.1:0\"/; s/^discovery_port = .*/discovery_port = 0/; s/^target_ports = .*/target_ports = \"$first_port-$((first_port + ports - 1))\"/" "$CONF"
  maya load >/dev/null || fail "maya load"
}

# iscsi://USER%SECRET@PORTAL of the discovery portal ($discovery), with the host's discovery CHAP
# credentials ([iscsi] chap = true), which `maya status --show-secrets` shows.
discovery_url() {
  local json
  json=$(maya status --show-secrets -o json) || fail "maya status --show-secrets"
  if [[ $(jq -r .discovery_chap_credentials <<<"$json") == null ]]; then
    echo "iscsi://${discovery:?the caller sets discovery (HOST:PORT of the discovery portal)}"
  else
    echo "iscsi://$(jq -r .discovery_chap_credentials.user <<<"$json")%$(jq -r .discovery_chap_credentials.secret <<<"$json")@$discovery"
  fi
}

# iscsi://USER%SECRET@PORTAL/IQN/0 of a volume.
url_of() {
  local json
  json=$(maya volume inspect "$1" --show-secrets -o json) || fail "inspect $1"
  echo "iscsi://$(jq -r .chap_credentials.user <<<"$json")%$(jq -r .chap_credentials.secret <<<"$json")@$(jq -r .portal <<<"$json")/$(jq -r .iqn <<<"$json")/0"
}

# The volume's target control socket, for fault injection.
target_socket() { echo "$T/run/maya/targets/$1.sock"; }

# Waits (at most $2 s, default 60) until the volume is healthy with no rebuild running.
wait_healthy() {
  local json
  for _ in $(seq 1 $((${2:-60} * 10))); do
    json=$(maya volume inspect "$1" -o json 2>/dev/null) || { sleep 0.1; continue; }
    [[ $(jq -r .health <<<"$json") == healthy && $(jq -r .rebuild <<<"$json") == null ]] && return 0
    sleep 0.1
  done
  fail "volume $1 is not healthy after ${2:-60} s: $(jq -c '{health, replicas, rebuild}' <<<"$json")"
}

# Fails unless every replica of the volume holds the same bytes.
replicas_identical() {
  local first="" sum
  for f in "$T/opt/maya-store/$1"/r*/data.img; do
    sum=$(md5sum <"$f")
    [[ -z $first ]] && first=$sum
    [[ $sum == "$first" ]] || fail "replica $f of $1 differs from the others"
  done
}
