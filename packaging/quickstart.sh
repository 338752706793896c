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
# The same build directory and flags as packaging/test.sh: run one after the other, the second
# compiles only what the first did not (the tests), never maya twice.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
  -DMAYA_WERROR="${MAYA_WERROR:-OFF}" >/dev/null
cmake --build build --target maya maya_manpage
cmake --install build --prefix /usr/local >/dev/null
echo "installed $(command -v maya): $(maya --version)"

config=${MAYA_CONFIG:-/etc/maya.conf}
if [[ -e $config ]]; then
  echo "keeping the existing $config"
else
  maya init
fi
# Where systemd is PID 1, the units run maya: maya.socket holds the Docker plugin socket across
# restarts. Elsewhere (containers, CI) `maya load` detaches the daemon. Either way a daemon that
# already runs is restarted as the new binary with its sockets handed over (no gap for Docker).
if [[ $(cat /proc/1/comm 2>/dev/null) == systemd && -z ${MAYA_CONFIG:-} ]]; then
  install -m 0644 etc/systemd/maya.socket etc/systemd/maya.service /etc/systemd/system/
  systemctl daemon-reload
  if maya status >/dev/null 2>&1 && ! systemctl is-active --quiet maya.service; then
    maya unload  # a daemon from an earlier `maya load`: systemd takes over from here
  fi
  systemctl enable maya.socket maya.service
  if systemctl is-active --quiet maya.service; then
    maya load --restart || systemctl restart maya.service # a daemon too old to hand over
  else
    systemctl start maya.socket maya.service
  fi
  for _ in $(seq 300); do maya status >/dev/null 2>&1 && break; sleep 0.1; done
elif maya status >/dev/null 2>&1; then
  maya load --restart || { maya unload && maya load; } # a daemon too old to hand over
else
  maya load
fi
# A first volume (once): a 1 GiB thin volume, ready for `docker run -v demo:/data …`.
maya volume inspect demo >/dev/null 2>&1 || maya volume create demo --size 1GiB
maya volume list
