#!/usr/bin/env bash
# The README's first quick-start command: installs what maya needs, builds and installs it,
# writes /etc/maya.conf (once), starts the daemon and creates a first volume. Run as root from a checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "quickstart: run as root (maya manages loop devices and mounts)" >&2
  exit 1
fi
bash packaging/install-deps.sh
cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-release
cmake --install build-release --prefix /usr/local >/dev/null
echo "installed $(command -v maya): $(maya --version)"

config=${MAYA_CONFIG:-/etc/maya.conf}
if [[ -e $config ]]; then
  echo "keeping the existing $config"
else
  maya init
fi
maya load
# A first volume (once): a 1 GiB thin volume, ready for `docker run -v demo:/data …`.
maya volume inspect demo >/dev/null 2>&1 || maya volume create demo --size 1GiB
maya volume list
