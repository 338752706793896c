#!/usr/bin/env bash
# Builds the Debian package from debian/ (dpkg-buildpackage -b -us -uc) in build/, the build
# directory packaging/test.sh shares (debian/rules keeps its flags, so maya compiles once), and
# moves what dpkg-buildpackage writes next to the checkout (..) into build/deb/. Prints the
# .deb's path; the log is build/deb/dpkg-buildpackage.log. MAYA_WERROR passes on to the build.
# No maya-dbgsym unless DEB_BUILD_OPTIONS is set: compressing its 190 MB of debug info costs
# about a minute of every quick start and CI run, and build/maya keeps the symbols anyway.
#   usage: bash packaging/build-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
mkdir -p build/deb
rm -f build/deb/maya*_"${arch}".*
log=build/deb/dpkg-buildpackage.log
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-noautodbgsym}
if ! MAYA_WERROR="${MAYA_WERROR:-OFF}" dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$log" 2>&1; then
  tail -40 "$log" >&2
  echo "build-deb: dpkg-buildpackage failed; the whole log: $log" >&2
  exit 1
fi
for f in "maya_${version}_${arch}.deb" "maya-dbgsym_${version}_${arch}.deb" \
  "maya_${version}_${arch}.buildinfo" "maya_${version}_${arch}.changes"; do
  if [[ -e ../$f ]]; then mv -f "../$f" build/deb/; fi
done
echo "build/deb/maya_${version}_${arch}.deb"
