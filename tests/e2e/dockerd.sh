# shellcheck shell=bash
# tests/e2e/dockerd.sh — a private, throw-away Docker engine for maya's end-to-end tests.
#
# Source it from an e2e script (which runs as root, `set -euo pipefail`):
#
#   source "$(dirname "${BASH_SOURCE[0]}")/dockerd.sh"
#   e2e_dockerd_start        # private dockerd in a temp dir; exports DOCKER_HOST
#   e2e_docker_image         # imports the local image maya-e2e-busybox
#   docker run --rm --pull never --network none maya-e2e-busybox sh -c 'echo hi'
#
# Several at once (one per test host): `e2e_dockerd_start NAME` starts one more, named, and makes
# it current; `e2e_dockerd_use NAME` makes another one current again. The current one is what
# DOCKER_HOST, the docker CLI and every other function here (e2e_docker_image too) act on.
#
# Everything it starts is undone by one EXIT trap (e2e_cleanup_push adds your own undo steps;
# they run last-pushed-first): containers, volumes, dockerd, its containerd and shims, mounts
# under the temp dir, the temp dir, and the system directories it had to create.
#
# What running dockerd on this machine type needs (Debian 12, docker.io 20.10.24, containerd
# 1.6.20, runc 1.1.5, kernel 6.x in a VM whose PID 1 is not systemd), found by trying:
#   * Flags: --iptables=false --ip6tables=false --bridge=none (no netfilter or bridge setup; so
#     containers must run with --network none), plus a private --data-root, --exec-root,
#     --pidfile and -H unix://<tmp>/docker.sock so it never touches a system dockerd.
#   * --config-file <tmp>/daemon.json: ignore any /etc/docker/daemon.json. It also sets
#     "deprecated-key-path" (there is no such CLI flag in 20.10), else dockerd writes
#     /etc/docker/key.json.
#   * containerd: dockerd starts and supervises its own (state under <exec-root>/containerd)
#     unless a system containerd answers on /run/containerd/containerd.sock, in which case it
#     uses that one. Private --containerd-namespace/--containerd-plugins-namespace keep our
#     containers apart in either case. Shim sockets always live in /run/containerd/s/ (fixed
#     path); the shims remove them when their container goes.
#   * cgroups: the host has cgroup v1 (hybrid, no systemd) → Cgroup Driver cgroupfs, the
#     default; nothing to configure. --cgroup-parent puts our containers under a private
#     parent that is removed at the end.
#   * Storage driver: overlay2 works on the ext4 /tmp (d_type supported); vfs is not needed.
#     Set MAYA_E2E_STORAGE_DRIVER=vfs to force another one.
#   * Timing measured here: dockerd answers `docker info` ~0.2 s after start; `docker import`
#     of the busybox tarball ~0.15 s; `docker run --rm … echo hi` ~0.3 s; dockerd stops in ~2.5 s.
#   * Legacy volume plugins: dockerd looks for sockets in /run/docker/plugins/<name>.sock and
#     spec files in /etc/docker/plugins/<name>.spec at fixed paths, whatever --exec-root is;
#     both work with this private dockerd (plugin `maya-e2e-PID` ← /run/docker/plugins/maya-e2e-PID.sock).
#   * The docker CLI: this machine also has /usr/local/bin/docker (a newer CLI, not from a
#     package); we use the CLI shipped with the engine (/usr/bin/docker) when it exists.
#   * Images: no registry is reachable, so every `docker run` needs --pull never and the local
#     image built by e2e_docker_image.

# Image built by e2e_docker_image.
E2E_IMAGE=maya-e2e-busybox
# Upper bounds, in seconds.
: "${E2E_DOCKERD_START_TIMEOUT:=60}"   # dockerd start until `docker info` answers
: "${E2E_DOCKERD_STOP_TIMEOUT:=30}"    # SIGTERM until dockerd is gone (then SIGKILL)
: "${E2E_DOCKER_TIMEOUT:=120}"         # any single docker CLI call (legacy plugins have none)

e2e_log() { echo "e2e: $*" >&2; }
e2e_die() {
  echo "e2e: FATAL: $*" >&2
  exit 1
}
# Milliseconds since the epoch.
e2e_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---------------------------------------------------------------------------------------------
# Cleanup stack: one EXIT trap runs every pushed command, last pushed first, with errexit off.
# Before them, on a non-zero exit, it calls e2e_on_failure RC if the script defines it.
# A command that wants the run to fail anyway (say, it found a leftover mount) sets
# E2E_CLEANUP_FAILED=1; the script then exits 1 even if everything before passed.
# ---------------------------------------------------------------------------------------------
_E2E_CLEANUPS=()
E2E_CLEANUP_FAILED=0

e2e_cleanup_push() {
  if ((${#_E2E_CLEANUPS[@]} == 0)); then
    trap '_e2e_run_cleanups' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
  fi
  _E2E_CLEANUPS+=("$1")
}

# shellcheck disable=SC2034 # read by the sourcing script's cleanups
E2E_EXIT_RC=0 # the script's exit status as the cleanups begin (cleanups may look at it)
_e2e_run_cleanups() {
  local rc=$? i
  # shellcheck disable=SC2034 # read by the sourcing script's cleanups
  E2E_EXIT_RC=$rc
  set +e
  trap - EXIT ERR
  trap '' INT TERM # cleanup runs to its end; every step in it is bounded
  # A failed or interrupted run may want to report before anything is torn down.
  if ((rc != 0)) && declare -F e2e_on_failure >/dev/null; then
    e2e_on_failure "$rc"
  fi
  for ((i = ${#_E2E_CLEANUPS[@]} - 1; i >= 0; i--)); do
    eval "${_E2E_CLEANUPS[i]}"
  done
  _E2E_CLEANUPS=()
  if ((rc == 0 && E2E_CLEANUP_FAILED)); then
    echo "e2e: cleanup found problems (see above); failing the run" >&2
    rc=1
  fi
  exit "$rc"
}

# e2e_note_dir PATH: call before something may create PATH (a directory outside our temp dirs,
# e.g. /run/docker/plugins); if PATH does not exist yet, it is removed again at exit when empty.
e2e_note_dir() {
  [[ -e $1 ]] && return 0
  e2e_cleanup_push "rmdir -- '$1' 2>/dev/null"
}

# e2e_wait_gone PID SECONDS: wait until PID has exited (a zombie counts as gone: PID 1 on this
# machine reaps orphans late). Returns 1 on timeout.
e2e_wait_gone() {
  local pid=$1 deadline=$(($(e2e_now_ms) + $2 * 1000)) state
  while (($(e2e_now_ms) < deadline)); do
    state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 0
    [[ -z $state || $state == Z ]] && return 0
    sleep 0.1
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# The docker CLI, always bounded: a hung plugin call would otherwise hang the test for good.
# ---------------------------------------------------------------------------------------------
if [[ -x /usr/bin/docker ]]; then
  E2E_DOCKER_CLI=/usr/bin/docker
else
  E2E_DOCKER_CLI=$(command -v docker || true)
fi

docker() {
  local rc=0
  timeout --foreground -k 5 "$E2E_DOCKER_TIMEOUT" "$E2E_DOCKER_CLI" "$@" || rc=$?
  if ((rc == 124 || rc == 137)); then
    echo "e2e: 'docker $*' did not finish within ${E2E_DOCKER_TIMEOUT}s" >&2
  fi
  return "$rc"
}

# ---------------------------------------------------------------------------------------------
# dockerd
# ---------------------------------------------------------------------------------------------
E2E_DOCKER_DIR=""     # temp dir holding data-root, exec-root, socket, logs
E2E_DOCKERD_PID=""
E2E_DOCKERD_START_MS="" # how long dockerd took to answer `docker info`
# Named dockerds (e2e_dockerd_start NAME): their dirs and pids, by name.
declare -gA _E2E_DOCKERD_DIRS=() _E2E_DOCKERD_PIDS=()

# e2e_dockerd_use NAME: the named dockerd becomes the current one (DOCKER_HOST and the globals
# above). Returns 1 when there is no such dockerd (never started, or stopped).
e2e_dockerd_use() {
  [[ -n ${_E2E_DOCKERD_DIRS[${1:-}]:-} ]] || return 1
  E2E_DOCKER_DIR=${_E2E_DOCKERD_DIRS[$1]}
  E2E_DOCKERD_PID=${_E2E_DOCKERD_PIDS[$1]:-}
  export DOCKER_HOST="unix://$E2E_DOCKER_DIR/docker.sock"
  export DOCKER_CONFIG="$E2E_DOCKER_DIR/cli"
}

# e2e_dockerd_stop_named NAME: stops the named dockerd (a cleanup step; idempotent).
e2e_dockerd_stop_named() {
  e2e_dockerd_use "$1" || return 0
  e2e_dockerd_stop
  unset "_E2E_DOCKERD_DIRS[$1]" "_E2E_DOCKERD_PIDS[$1]"
}

# e2e_dockerd_start [NAME [PLUGIN_DIR]]: start a private dockerd and wait (bounded) until it
# answers. With a NAME ([a-z0-9]+), one more beside those already running, which
# e2e_dockerd_use NAME selects. With a PLUGIN_DIR, that dockerd sees PLUGIN_DIR's sockets as
# /run/docker/plugins and no others: every dockerd scans that fixed directory for volume
# plugins (`docker volume ls` asks them all), so two "hosts" on one machine would otherwise
# each use the other's plugin too. It runs in a mount namespace of its own (unshare -m), a
# slave of this one: the volumes its plugin mounts here still reach its containers.
# shellcheck disable=SC2120 # NAME is optional: most scripts run one dockerd
e2e_dockerd_start() {
  local name=${1:-} plugins=${2:-}
  [[ -z $plugins || -d $plugins ]] || e2e_die "plugin directory $plugins does not exist"
  [[ -z $name || $name =~ ^[a-z0-9]+$ ]] || e2e_die "dockerd name '$name': want [a-z0-9]+"
  [[ -z $name || -z ${_E2E_DOCKERD_DIRS[$name]:-} ]] || e2e_die "dockerd '$name' runs already"
  [[ $(id -u) -eq 0 ]] || e2e_die "a private dockerd needs root"
  local tool
  for tool in dockerd containerd runc timeout; do
    command -v "$tool" >/dev/null || e2e_die "$tool not found; run packaging/install-deps.sh"
  done
  [[ -n $E2E_DOCKER_CLI ]] || e2e_die "docker CLI not found; run packaging/install-deps.sh"

  # Under /tmp, not $TMPDIR: unix socket paths (containerd's among them) must stay < 108 bytes.
  E2E_DOCKER_DIR=$(mktemp -d /tmp/maya-e2e-docker.XXXXXX)
  local d=$E2E_DOCKER_DIR
  # Directories dockerd/containerd create at fixed paths; removed at exit if we made them.
  e2e_note_dir /run/docker
  e2e_note_dir /run/docker/plugins
  e2e_note_dir /run/containerd
  e2e_note_dir /run/containerd/s
  if [[ -n $name ]]; then
    _E2E_DOCKERD_DIRS[$name]=$d
    e2e_cleanup_push "e2e_dockerd_stop_named $name"
  else
    e2e_cleanup_push "e2e_dockerd_stop"
  fi

  printf '{ "deprecated-key-path": "%s/key.json" }\n' "$d" >"$d/daemon.json"
  local args=(
    --config-file "$d/daemon.json"
    --data-root "$d/data"
    --exec-root "$d/exec"
    --pidfile "$d/dockerd.pid"
    -H "unix://$d/docker.sock"
    --iptables=false --ip6tables=false --bridge=none
    --containerd-namespace "maya-e2e${name:+-$name}"
    --containerd-plugins-namespace "maya-e2e-plugins${name:+-$name}"
    --cgroup-parent "/${d##*/}"
    --exec-opt native.cgroupdriver=cgroupfs
  )
  [[ -n ${MAYA_E2E_STORAGE_DRIVER:-} ]] && args+=(--storage-driver "$MAYA_E2E_STORAGE_DRIVER")

  # The CLI talks only to our daemon and keeps its config (if any) in the temp dir.
  export DOCKER_HOST="unix://$d/docker.sock"
  export DOCKER_CONFIG="$d/cli"
  unset DOCKER_CONTEXT DOCKER_TLS_VERIFY DOCKER_CERT_PATH

  local t0
  t0=$(e2e_now_ms)
  # Own session: a Ctrl-C aimed at the test must not stop dockerd before our orderly cleanup.
  if [[ -n $plugins ]]; then
    mkdir -p /run/docker/plugins
    # shellcheck disable=SC2016 # expanded by that sh
    setsid unshare --mount --propagation slave -- sh -c \
      'mount --bind "$0" /run/docker/plugins && exec dockerd "$@"' "$plugins" "${args[@]}" \
      </dev/null >"$d/dockerd.log" 2>&1 &
  else
    setsid dockerd "${args[@]}" </dev/null >"$d/dockerd.log" 2>&1 &
  fi
  E2E_DOCKERD_PID=$!
  [[ -z $name ]] || _E2E_DOCKERD_PIDS[$name]=$E2E_DOCKERD_PID

  local deadline=$((t0 + E2E_DOCKERD_START_TIMEOUT * 1000))
  until timeout 5 "$E2E_DOCKER_CLI" info >/dev/null 2>&1; do
    if ! kill -0 "$E2E_DOCKERD_PID" 2>/dev/null; then
      tail -n 30 "$d/dockerd.log" >&2
      e2e_die "dockerd exited during start (log: $d/dockerd.log)"
    fi
    if (($(e2e_now_ms) > deadline)); then
      tail -n 30 "$d/dockerd.log" >&2
      e2e_die "dockerd did not answer within ${E2E_DOCKERD_START_TIMEOUT}s (log: $d/dockerd.log)"
    fi
    sleep 0.1
  done
  E2E_DOCKERD_START_MS=$(($(e2e_now_ms) - t0))
  e2e_log "dockerd (pid $E2E_DOCKERD_PID) answers after ${E2E_DOCKERD_START_MS} ms;" \
    "storage driver $("$E2E_DOCKER_CLI" info -f '{{.Driver}}'), DOCKER_HOST=$DOCKER_HOST"
}

# e2e_docker_image: build the local image maya-e2e-busybox with `docker import` of a tarball
# holding the static busybox and a symlink per applet (sh, cat, dd, sha256sum, ls, sleep, …).
e2e_docker_image() {
  local busybox=/bin/busybox root="$E2E_DOCKER_DIR/image-rootfs" applet t0 t1 t2
  [[ -x $busybox ]] || e2e_die "$busybox not found; run packaging/install-deps.sh (busybox-static)"
  # The image has no libc: only a static busybox runs in it (Debian's `busybox` is dynamic).
  if ldd "$busybox" >/dev/null 2>&1; then
    e2e_die "$busybox is dynamically linked; install busybox-static"
  fi
  t0=$(e2e_now_ms)
  rm -rf "$root"
  mkdir -p "$root"/{bin,etc,dev,proc,sys,root,data}
  install -d -m 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  for applet in sh cat dd sha256sum ls echo sleep mkdir sync df stat touch rm; do
    [[ -L $root/bin/$applet ]] || e2e_die "busybox has no '$applet' applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

  t1=$(e2e_now_ms)
  tar --numeric-owner --owner=0 --group=0 -C "$root" -cf - . |
    docker import --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' - "$E2E_IMAGE" >/dev/null
  rm -rf "$root"
  t2=$(e2e_now_ms)
  local out
  out=$(docker run --rm --pull never --network none "$E2E_IMAGE" sh -c 'echo hi')
  [[ $out == hi ]] || e2e_die "smoke container printed '$out', not 'hi'"
  e2e_log "image $E2E_IMAGE: rootfs $((t1 - t0)) ms, docker import $((t2 - t1)) ms," \
    "first container (echo hi) $(($(e2e_now_ms) - t2)) ms"
}

# e2e_docker_remove_all: remove every container, then every volume the test made, of our dockerd
# (bounded). Call it while volume plugins still run: removing a plugin's volume calls the plugin.
# A private dockerd without a plugin directory of its own also sees the host's legacy plugins in
# /run/docker/plugins (an installed maya's maya.sock): their volumes are the host's, never
# removed. The test's are those of `local`, of its maya-e2e-* plugins and of managed plugins
# (NAME:TAG), which live in this dockerd alone.
e2e_docker_remove_all() {
  [[ -S $E2E_DOCKER_DIR/docker.sock ]] || return 0
  local ids driver vol
  ids=$(E2E_DOCKER_TIMEOUT=20 docker ps -aq 2>/dev/null) || true
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    E2E_DOCKER_TIMEOUT=60 docker rm -f $ids >/dev/null || e2e_log "could not remove containers"
  fi
  while read -r driver vol; do
    case $driver in
      local | maya-e2e-* | *:*) ;;
      *) continue ;; # the host's plugin (e.g. an installed maya): not the test's volume
    esac
    E2E_DOCKER_TIMEOUT=30 docker volume rm -f "$vol" >/dev/null || e2e_log "could not remove volume $vol"
  done < <(E2E_DOCKER_TIMEOUT=20 docker volume ls --format '{{.Driver}} {{.Name}}' 2>/dev/null || true)
}

# Processes whose command line names our temp dir: dockerd, its containerd, containerd shims.
_e2e_our_pids() {
  local f pid
  [[ -n $E2E_DOCKER_DIR ]] || return 0
  for f in /proc/[0-9]*/cmdline; do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
    if tr '\0' ' ' 2>/dev/null <"$f" | grep -qF -- "$E2E_DOCKER_DIR/"; then echo "$pid"; fi
  done
}

# Processes in our private cgroup parent (containers whose shim died), one pid per line.
_e2e_cgroup_pids() {
  local parent=$1
  find /sys/fs/cgroup/*/"$parent" /sys/fs/cgroup/"$parent" -name cgroup.procs \
    -exec cat {} + 2>/dev/null | sort -u
}

# A shim that was killed leaves its socket in /run/containerd/s/: containerd 1.6 names it
# sha256("<containerd address>/<namespace>/<id>"), all three on the shim's command line.
_e2e_shim_socket() {
  local -a argv
  local i ns="" id="" addr=""
  mapfile -d '' -t argv <"/proc/$1/cmdline" 2>/dev/null || return 0
  for ((i = 0; i + 1 < ${#argv[@]}; i++)); do
    case ${argv[i]} in
      -namespace) ns=${argv[i + 1]} ;;
      -id) id=${argv[i + 1]} ;;
      -address) addr=${argv[i + 1]} ;;
    esac
  done
  [[ -n $ns && -n $id && -n $addr ]] || return 0
  echo "/run/containerd/s/$(printf '%s' "$addr/$ns/$id" | sha256sum | cut -d' ' -f1)"
}

# Mount points at or under DIR, deepest first.
e2e_mounts_under() {
  findmnt -rn -o TARGET | awk -v d="$1" '$0 == d || index($0, d "/") == 1' | sort -r
}

# e2e_dockerd_stop: stop dockerd and everything it started, unmount what it left, delete the
# temp dir. Idempotent; pushed on the cleanup stack by e2e_dockerd_start.
e2e_dockerd_stop() {
  local d=$E2E_DOCKER_DIR pid m cg sock
  [[ -n $d && -d $d ]] || return 0
  e2e_docker_remove_all

  pid=$E2E_DOCKERD_PID
  [[ -s $d/dockerd.pid ]] && pid=$(<"$d/dockerd.pid")
  if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
    local t0
    t0=$(e2e_now_ms)
    kill -TERM "$pid" 2>/dev/null
    if e2e_wait_gone "$pid" "$E2E_DOCKERD_STOP_TIMEOUT"; then
      e2e_log "dockerd stopped in $(($(e2e_now_ms) - t0)) ms"
    else
      e2e_log "dockerd (pid $pid) ignored SIGTERM for ${E2E_DOCKERD_STOP_TIMEOUT}s; killing it"
      kill -KILL "$pid" 2>/dev/null
      e2e_wait_gone "$pid" 10 || true
    fi
  fi
  # A killed dockerd leaves its containerd and shims behind (ours by their arguments), and the
  # shims' containers (ours by their cgroup). Normally there are none of either.
  local sockets=()
  for pid in $(_e2e_our_pids); do
    e2e_log "killing leftover process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    sock=$(_e2e_shim_socket "$pid")
    [[ -z $sock ]] || sockets+=("$sock")
    kill -KILL "$pid" 2>/dev/null
    e2e_wait_gone "$pid" 10 || true
  done
  for pid in $(_e2e_cgroup_pids "${d##*/}"); do
    e2e_log "killing leftover container process $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    kill -KILL "$pid" 2>/dev/null
    e2e_wait_gone "$pid" 10 || true
  done
  ((${#sockets[@]} == 0)) || rm -f -- "${sockets[@]}"

  # dockerd unmounts its overlays, shm and netns on a clean stop; anything left is a bug we
  # report, after unmounting it so that nothing stays behind.
  for m in $(e2e_mounts_under "$d"); do
    e2e_log "leftover mount $m; unmounting"
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  if [[ -n $(e2e_mounts_under "$d") ]]; then
    e2e_log "mounts remain under $d; not deleting it"
    E2E_CLEANUP_FAILED=1
  else
    rm -rf --one-file-system "$d"
  fi
  # Our private cgroup parent, in every hierarchy (v1 controllers and the unified one), with
  # any container cgroups a hard kill left in it (children first).
  for cg in /sys/fs/cgroup/*/"${d##*/}" /sys/fs/cgroup/"${d##*/}"; do
    [[ -d $cg ]] || continue
    find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
    [[ ! -d $cg ]] || e2e_log "could not remove cgroup $cg"
  done
  E2E_DOCKER_DIR=""
  E2E_DOCKERD_PID=""
  return 0
}
