#!/usr/bin/env bash
# The README's first quick-start command: installs what maya needs, builds the Debian package
# (debian/, into build/deb/) and installs it, which writes /etc/maya.conf (once); then starts
# the daemon and creates a first volume. Run as root from a checkout; running it again builds
# and installs again, and the running daemon becomes the new binary.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "quickstart: run as root (maya manages loop devices and mounts)" >&2
  exit 1
fi
bash packaging/install-deps.sh

# The package builds in build/, with the flags packaging/test.sh configures there too (see
# debian/rules): run one after the other, the second compiles only the tests, never maya twice.
echo "quickstart: building the Debian package (log: build/deb/dpkg-buildpackage.log)"
deb=$(bash packaging/build-deb.sh)

# An earlier quick start installed maya with `cmake --install` into /usr/local, and where
# systemd is PID 1 wrote its units (maya.service, maya.socket) into /etc/systemd/system: remove
# them, so that the package's /usr/bin/maya and units are the ones found. Under systemd the
# package's units run the daemon, so one started by `maya load` or by those old units stops
# first (its targets keep serving; the package's daemon adopts them); elsewhere it keeps running
# and the package's postinst restarts it in place as /usr/bin/maya.
if [[ -d /run/systemd/system && -z ${MAYA_CONFIG:-} ]] && command -v maya >/dev/null &&
  maya status >/dev/null 2>&1 && ! systemctl is-active --quiet maya.service; then
  maya unload
fi
rm -f /usr/local/bin/maya /usr/local/share/man/man1/maya.1 \
  /usr/local/share/bash-completion/completions/maya
hash -r
if [[ -e /etc/systemd/system/maya.service || -e /etc/systemd/system/maya.socket ]]; then
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now maya.service maya.socket || true
  fi
  rm -f /etc/systemd/system/maya.service /etc/systemd/system/maya.socket
  if [[ -d /run/systemd/system ]]; then systemctl daemon-reload; fi
fi

# --reinstall: the same version built again is installed again (a developer's rebuild). The
# package runs `maya init` when /etc/maya.conf is absent; with systemd it enables and starts
# maya-plugin.socket + maya.service, and an upgrade restarts the daemon (targets keep serving).
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall "./$deb" >/dev/null
echo "installed $(command -v maya) from $deb: $(maya --version)"

config=${MAYA_CONFIG:-/etc/maya.conf}
if [[ -e $config ]]; then
  echo "using $config"
else
  maya init
fi
if [[ -d /run/systemd/system && -z ${MAYA_CONFIG:-} ]]; then
  # The package's units run maya; maya-plugin.socket holds the Docker plugin socket.
  systemctl start maya-plugin.socket maya.service
  for _ in $(seq 300); do maya status >/dev/null 2>&1 && break; sleep 0.1; done
elif maya status >/dev/null 2>&1; then
  # The postinst restarted the daemon of /etc/maya.conf; another config's daemon is restarted
  # here, as the new binary with its sockets handed over (no gap for Docker).
  if [[ -n ${MAYA_CONFIG:-} ]]; then maya load --restart || { maya unload && maya load; }; fi
else
  maya load  # no systemd (containers, CI): `maya load` detaches the daemon
fi
# A first volume (once): a 1 GiB thin volume, ready for `docker run -v demo:/data …`.
maya volume inspect demo >/dev/null 2>&1 || maya volume create demo --size 1GiB
maya volume list
