#!/usr/bin/env bash
# Makes a minimal Debian 12 root (debootstrap --variant=minbase bookworm) at DIR, from the archive
# this host's apt is configured with. The first run downloads it and keeps a tarball in
# ${MAYA_DEBOOTSTRAP_CACHE:-/var/cache/maya} (~40 MB); later runs unpack that tarball in seconds.
# Used by the package test (the .deb installed into a clean root) and by the managed Docker
# plugin (its rootfs). Usage: minbase-root.sh DIR   (DIR must not exist or be empty)
set -euo pipefail
dir=${1:?usage: minbase-root.sh DIR}
cache=${MAYA_DEBOOTSTRAP_CACHE:-/var/cache/maya}
tarball=$cache/minbase-bookworm-$(dpkg --print-architecture).tgz

if [[ -d $dir && -n $(ls -A "$dir") ]]; then
  echo "minbase-root: $dir is not empty" >&2
  exit 1
fi
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null

# The first "URIs:" (deb822) or "deb" line naming bookworm, else Debian's own mirror.
mirror=$(grep -rhsE '^(URIs:|deb) ' /etc/apt/sources.list /etc/apt/sources.list.d/ |
  grep -m1 -E 'debian/?( |$)' | sed -E 's/^(URIs:|deb)( \[[^]]*\])? +//; s/ .*//') || true
mirror=${mirror:-http://deb.debian.org/debian}

mkdir -p "$cache" "$dir"
if [[ ! -s $tarball ]]; then
  echo "minbase-root: downloading a minbase bookworm from $mirror (once; cached in $tarball)"
  tmp=$(mktemp -d "$cache/tarball.XXXXXX")
  # --make-tarball needs an empty work directory; the tarball appears whole or not at all.
  debootstrap --variant=minbase --make-tarball="$tmp/root.tgz" bookworm "$tmp/work" "$mirror" \
    >"$tmp/log" 2>&1 || { tail -20 "$tmp/log" >&2; rm -rf "$tmp"; exit 1; }
  mv "$tmp/root.tgz" "$tarball"
  rm -rf "$tmp"
fi
echo "minbase-root: unpacking $tarball into $dir"
debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$dir" "$mirror" \
  >"$dir.debootstrap.log" 2>&1 || { tail -20 "$dir.debootstrap.log" >&2; exit 1; }
rm -f "$dir.debootstrap.log"
# The same archive as the host, so that apt-get inside finds maya's dependencies.
echo "deb $mirror bookworm main" >"$dir/etc/apt/sources.list"
