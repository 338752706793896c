#!/usr/bin/env bash
# The Debian package in a clean Debian 12 root (packaging/minbase-root.sh), chrooted:
#   1. apt-get installs the .deb and its dependencies from the archive; `maya --version`,
#      `man -w maya`, and `systemd-analyze verify` on the installed units (a unit broken on
#      purpose must fail it, so the check is real); the postinst wrote /etc/maya.conf and,
#      without systemd, started no daemon.
#   2. In a network namespace of its own (the root's ports 3260/5656/9500, /etc/maya.conf, /run
#      and /var/lib/maya are its own, never the host's maya): `maya load`, a jiva volume
#      attached (FUSE + loop, no kernel initiator) and written; `dpkg -i` of the same .deb (an
#      upgrade): the daemon is restarted as the new binary (same pid, new instance), the target
#      keeps serving, and the data reads back the same; `apt-get remove` while attached: the
#      daemon stops, the target keeps serving the data, and a reinstall's daemon adopts it;
#      detached, `apt-get remove`: no daemon and no target left, data and config kept;
#      `apt-get purge`: it names what it leaves. The network namespace is entered with nsenter
#      (not `ip netns exec`, which would add a mount namespace per call).
# Also: each of debian/control's Build-Depends is in packaging/install-deps.sh.
# usage: deb_test.sh DEB      (root; needs debootstrap, iproute2, jq; the root gets its own systemd)
set -euo pipefail
deb=$(realpath "${1:?usage: $0 DEB}")
repo=$(cd "$(dirname "$0")/../.." && pwd)
fail() { echo "not ok - $*" >&2; exit 1; }
ok() { echo "ok - $*"; }
# A process runs: it exists and is not a zombie (a detached daemon's parent may not reap it).
running() { [[ -e /proc/$1/stat && $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
[[ $(id -u) -eq 0 ]] || { echo "SKIP: needs root (chroot, network namespace)"; exit 77; }
for tool in debootstrap ip nsenter chroot jq sha256sum losetup; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
[[ -f $deb ]] || fail "no package at $deb"

# Build-Depends (debian/control) ⊆ the packages install-deps.sh installs.
build_deps=$(awk '/^Build-Depends:/ {on = 1; sub(/^Build-Depends:/, ""); print; next}
  on && /^[ \t]/ {print; next} {on = 0}' "$repo/debian/control" | sed -E 's/\([^)]*\)//g' | tr -d ' ,')
[[ -n $build_deps ]] || fail "no Build-Depends in debian/control"
for p in $build_deps; do
  [[ $p == debhelper-compat ]] && p=debhelper
  grep -qE "(^|[[:space:]])$p([[:space:]]|$)" "$repo/packaging/install-deps.sh" ||
    fail "Build-Depends names $p, which packaging/install-deps.sh does not install"
done
ok "debian/control's Build-Depends are all in packaging/install-deps.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/maya-deb-test.XXXXXX")
root=$T/root
ns=maya-deb-$$
binds=()
cleanup() {
  set +e
  if [[ -x $root/usr/bin/maya ]] && ip netns list | grep -qw "$ns"; then
    in_ns maya volume detach v >/dev/null 2>&1
    in_ns maya unload --stop-targets >/dev/null 2>&1
  fi
  # Whatever still runs in the root (a daemon, a target): only processes whose root it is.
  local p
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]] && kill -9 "${p#/proc/}" 2>/dev/null
  done
  sleep 0.2
  # Loop devices over files in the root, then what maya mounted below it, deepest first.
  local loop file
  while read -r loop file; do
    [[ $file == "$root"/* ]] && losetup -d "$loop"
  done < <(losetup -nO NAME,BACK-FILE 2>/dev/null)
  local m
  while read -r m; do
    [[ " ${binds[*]} " == *" $m "* ]] || umount "$m" 2>/dev/null || umount -l "$m"
  done < <(awk -v r="$root/" 'index($2, r) == 1 {print $2}' /proc/self/mounts | sort -r)
  for ((i = ${#binds[@]} - 1; i >= 0; i--)); do
    umount "${binds[i]}" 2>/dev/null || umount -l "${binds[i]}"
  done
  ip netns del "$ns" 2>/dev/null
  # Nothing may stay mounted below the root before it is removed.
  if ! grep -q " $root" /proc/self/mounts; then rm -rf "$T"; else echo "left $T (mounted)" >&2; fi
}
trap cleanup EXIT

started=$SECONDS
bash "$repo/packaging/minbase-root.sh" "$root" >/dev/null
for d in proc sys dev dev/pts; do
  mount --bind "/$d" "$root/$d"
  binds+=("$root/$d")
done
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$root/maya.deb"
in_root() {  # the root's own environment: nothing of the caller's (MAYA_CONFIG, PATH)
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
# The network namespace only: `ip netns exec` would also give every call a mount namespace of
# its own, and a FUSE mount one daemon made would be out of the next one's sight. Here, as on
# a host, maya's mounts are in the one mount namespace (below $root; the cleanup unmounts them).
in_ns() { nsenter --net="/run/netns/$ns" chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
echo "# a minbase root in $((SECONDS - started)) s"

# 1. Install from the archive, as a user would.
started=$SECONDS
in_root apt-get update -qq >"$T/apt.log" 2>&1 || { tail -20 "$T/apt.log"; fail "apt-get update"; }
in_root apt-get install -y -q --no-install-recommends /maya.deb man-db >"$T/install.log" 2>&1 ||
  { tail -30 "$T/install.log"; fail "apt-get install ./maya.deb"; }
# systemd itself, for `systemd-analyze verify` to check the units against what they name
# (sysinit.target, the socket's service, the programs they run). It is not running: the
# root stays a system without systemd for the maintainer scripts.
in_root apt-get install -y -q --no-install-recommends systemd >>"$T/install.log" 2>&1 ||
  { tail -30 "$T/install.log"; fail "apt-get install systemd"; }
echo "# apt-get install in $((SECONDS - started)) s"
version=$(dpkg-deb -f "$deb" Version)
[[ $(in_root maya --version) == *"$version"* ]] || fail "maya --version: $(in_root maya --version)"
[[ $(in_root man -w maya) == /usr/share/man/man1/maya.1* ]] || fail "man -w maya: $(in_root man -w maya)"
[[ -f $root/usr/share/bash-completion/completions/maya ]] || fail "no bash completion"
ok "installed: $(in_root maya --version), $(in_root man -w maya), the bash completion"
grep -q "no daemon was started; run: maya load" "$T/install.log" ||
  fail "a first install without systemd did not say to run maya load"
[[ -f $root/etc/maya.conf ]] || fail "the postinst wrote no /etc/maya.conf"
ok "the postinst wrote /etc/maya.conf and, without systemd, started nothing"

units=(/lib/systemd/system/maya.service /lib/systemd/system/maya-plugin.socket)
in_root systemd-analyze verify "${units[@]}" >"$T/verify.log" 2>&1 ||
  { cat "$T/verify.log"; fail "systemd-analyze verify on the installed units"; }
if [[ -s $T/verify.log ]]; then cat "$T/verify.log"; fail "systemd-analyze verify has remarks"; fi
grep -q '^KillMode=process' "$root${units[0]}" || fail "maya.service lacks KillMode=process"
sed 's|^ExecStart=/usr/bin/maya|ExecStart=/usr/bin/maya-missing|' "$root${units[0]}" \
  >"$root/lib/systemd/system/maya-broken.service"
if in_root systemd-analyze verify /lib/systemd/system/maya-broken.service >/dev/null 2>&1; then
  fail "systemd-analyze verify passes a unit whose ExecStart is missing: it checks nothing"
fi
rm "$root/lib/systemd/system/maya-broken.service"
ok "systemd-analyze verify passes maya.service and maya-plugin.socket (and fails a broken one)"

# 2. A daemon, a volume, an upgrade, a removal: in a network namespace of the test's own.
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
in_ns maya load >/dev/null || fail "maya load in the root"
in_ns maya volume create v --size 64MiB --driver jiva >/dev/null || fail "maya volume create v"
dev=$(in_ns maya volume attach v) || fail "maya volume attach v"
[[ -b $dev ]] || fail "maya volume attach v printed no block device: $dev"
head -c 16M /dev/urandom >"$T/data"
dd if="$T/data" of="$dev" bs=1M oflag=direct status=none || fail "writing to $dev"
sum=$(sha256sum <"$T/data")
status_json() { in_ns maya status -o json; }
before=$(status_json) || fail "maya status"
target_pid=$(cat "$root/run/maya/targets/v.pid" 2>/dev/null || true)
ok "maya load, jiva volume v attached at $dev, 16 MiB written"

in_ns dpkg -i /maya.deb >"$T/upgrade.log" 2>&1 || { cat "$T/upgrade.log"; fail "dpkg -i (upgrade)"; }
grep -q "restarting the running daemon" "$T/upgrade.log" || { cat "$T/upgrade.log"; fail "no restart"; }
after=$(status_json) || fail "no daemon after the upgrade"
[[ $(jq .pid <<<"$before") == $(jq .pid <<<"$after") ]] ||
  fail "the daemon's pid changed: it was not restarted in place"
[[ $(jq .instance <<<"$before") != $(jq .instance <<<"$after") ]] ||
  fail "the daemon was not restarted by the upgrade (same instance)"
if [[ -n $target_pid ]]; then
  running "$target_pid" || fail "the volume's target (pid $target_pid) did not survive"
fi
[[ $(head -c 16M "$dev" | sha256sum) == "$sum" ]] || fail "the data changed across the upgrade"
ok "dpkg -i again (upgrade): the daemon restarted in place, target ${target_pid:-?} kept, data intact"

# Removed while v is attached: the daemon stops, v's target keeps serving its data; maya
# installed again adopts it.
daemon_pid=$(jq .pid <<<"$after")
in_ns apt-get remove -y -q maya >"$T/remove.log" 2>&1 || { cat "$T/remove.log"; fail "apt-get remove"; }
grep -q "targets keep serving" "$T/remove.log" || { cat "$T/remove.log"; fail "no word of the targets"; }
! running "$daemon_pid" || { cat "$T/remove.log"; fail "the daemon (pid $daemon_pid) survived apt-get remove"; }
if [[ -n $target_pid ]]; then
  running "$target_pid" || fail "the attached volume's target stopped with the removal"
fi
[[ $(head -c 16M "$dev" | sha256sum) == "$sum" ]] || fail "the attached volume's data changed"
in_ns dpkg -i /maya.deb >"$T/reinstall.log" 2>&1 || { cat "$T/reinstall.log"; fail "dpkg -i again"; }
in_ns maya load >/dev/null || fail "maya load after the reinstall"
if [[ -n $target_pid ]]; then
  adopted=
  for _ in $(seq 100); do  # the daemon adopts running targets at start; 10 s at most
    adopted=$(in_ns maya volume inspect v -o json | jq -r .target_pid) || true
    [[ $adopted == "$target_pid" ]] && break
    sleep 0.1
  done
  [[ $adopted == "$target_pid" ]] || fail "the new daemon did not adopt target $target_pid: $adopted"
fi
ok "apt-get remove with v attached: daemon stopped, its target kept serving; reinstalled, adopted"

in_ns maya volume detach v >/dev/null || fail "maya volume detach v"
in_ns apt-get remove -y -q maya >"$T/remove.log" 2>&1 || { cat "$T/remove.log"; fail "apt-get remove"; }
for p in /proc/[0-9]*; do
  if [[ $(readlink "$p/root" 2>/dev/null) == "$root" ]]; then
    fail "after the removal, $(tr '\0' ' ' <"$p/cmdline") still runs"
  fi
done
[[ -f $root/etc/maya.conf && -d $root/opt/maya-store/v && -d $root/var/lib/maya ]] ||
  fail "the removal deleted the config or the data"
ok "apt-get remove: daemon and target stopped; /etc/maya.conf, the store and the state kept"

in_ns apt-get purge -y -q maya >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; fail "apt-get purge"; }
for path in /etc/maya.conf /opt/maya-store /var/lib/maya; do
  grep -q "$path" "$T/purge.log" || { cat "$T/purge.log"; fail "purge does not name $path"; }
  [[ -e $root$path ]] || fail "purge removed $path"
done
ok "apt-get purge keeps and names: $(grep -E '^  [a-z]+: ' "$T/purge.log" | tr -s ' \n' ' ')"
