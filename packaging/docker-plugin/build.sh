#!/usr/bin/env bash
# Builds maya's managed Docker plugin directory from a maya .deb:
#   OUTDIR/config.json   (this directory's config.json)
#   OUTDIR/rootfs/       a minbase Debian 12 (packaging/minbase-root.sh) with the .deb installed
#                        by apt-get in a chroot, and the entrypoint
# then: docker plugin create NAME OUTDIR   (the last line printed is NAME).
# Usage: build.sh DEB OUTDIR [NAME]   (as root; OUTDIR must not exist or be empty; needs the
# archive for the .deb's dependencies). NAME defaults to maya/maya:VERSION (the .deb's upstream
# version); give a stable one (maya/maya:stable) to keep one plugin name across upgrades.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 MAYA.deb OUTDIR [NAME]   (NAME: the plugin's, default maya/maya:VERSION)" >&2
  exit 2
fi
deb=$(readlink -f -- "$1")
out=$2
die() {
  echo "docker-plugin build: $*" >&2
  exit 1
}
[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot)"
[[ -f $deb ]] || die "$1: no such file"
package=$(dpkg-deb -f "$deb" Package 2>/dev/null) || die "$1 is not a .deb"
[[ $package == maya ]] || die "$1 is package '$package', not maya"
# The plugin's tag: the upstream version (no epoch, no Debian revision; a tag allows no ':').
version=$(dpkg-deb -f "$deb" Version)
version=${version#*:}
version=${version%-*}
[[ $version =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "version '$version' is no Docker tag"
name=${3:-maya/maya:$version}
# A Docker reference, kept simple: lower-case path components, an optional tag.
[[ $name =~ ^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$ ]] ||
  die "'$name' is no plugin name (lower-case NAME[/NAME...][:TAG])"
if [[ -d $out && -n $(ls -A "$out") ]]; then die "$out is not empty"; fi

t0=$SECONDS
mkdir -p "$out"
rootfs=$(readlink -f -- "$out")/rootfs
bash "$here/../minbase-root.sh" "$rootfs"

# The install, in a mount namespace of its own: /proc, /dev and /sys bound into the chroot vanish
# with it, whatever happens, and never propagate back to this host's /dev.
cp "$deb" "$rootfs/tmp/maya.deb"
cp /etc/resolv.conf "$rootfs/etc/resolv.conf"
# No service starts in the chroot (open-iscsi's, maya's own units).
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 755 "$rootfs/usr/sbin/policy-rc.d"
# The downloaded dependencies are kept beside minbase-root.sh's tarball for the next build.
archives=${MAYA_DEBOOTSTRAP_CACHE:-/var/cache/maya}/plugin-apt-archives
mkdir -p "$archives/partial"
echo "docker-plugin build: installing $(basename "$deb") and its dependencies into $rootfs"
# shellcheck disable=SC2016 # expanded by the inner shell
unshare --mount --propagation private -- sh -c '
  set -e
  r=$1
  mount -t proc proc "$r/proc"
  mount --bind /dev "$r/dev"
  mount --bind /sys "$r/sys"
  mount --bind "$2" "$r/var/cache/apt/archives"
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C
  chroot "$r" apt-get update -qq
  chroot "$r" apt-get install -y -qq --no-install-recommends /tmp/maya.deb
' sh "$rootfs" "$archives" >"$out/install.log" 2>&1 || {
  tail -n 30 "$out/install.log" >&2
  die "apt-get install in the chroot failed (log: $out/install.log)"
}
rm -f "$out/install.log"
chroot "$rootfs" maya --version >/dev/null || die "maya does not run in the rootfs"

# What the plugin does not need: apt's lists and caches, docs (copyright files kept), man pages,
# locales; what the install left: resolv.conf (Docker binds the host's in), policy-rc.d, the
# .deb, and any identity the packages' postinsts wrote: maya's config (with its host id) and key
# pair, open-iscsi's initiator name (the entrypoint makes the plugin's own), state a postinst
# left (the plugin writes its own in its state directory: anything baked into the image would be
# every plugin's).
rm -f "$rootfs/tmp/maya.deb" "$rootfs/etc/resolv.conf" "$rootfs/usr/sbin/policy-rc.d"
rm -f "$rootfs/etc/maya.conf" "$rootfs/etc/maya/credentials" "$rootfs/etc/iscsi/initiatorname.iscsi"
for d in var/lib/maya opt/maya-store run/maya; do
  if [[ -d $rootfs/$d ]]; then find "$rootfs/$d" -mindepth 1 -delete; fi
done
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/var/log/apt "$rootfs"/var/log/dpkg.log "$rootfs"/var/log/alternatives.log \
  "$rootfs"/usr/share/man "$rootfs"/usr/share/info "$rootfs"/usr/share/locale
find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
# The package's postinst made the host install's directories; the plugin binds its own over them.
mkdir -p "$rootfs/var/lib/maya" "$rootfs/opt/maya-store" "$rootfs/run/docker/plugins"

install -m 755 "$here/entrypoint.sh" "$rootfs/usr/local/sbin/maya-plugin-entrypoint"
cp "$here/config.json" "$out/config.json"

echo "docker-plugin build: $out ready in $((SECONDS - t0)) s, rootfs $(du -sh --apparent-size "$rootfs" | cut -f1)"
echo "docker-plugin build: docker plugin create $name $out"
echo "$name"
