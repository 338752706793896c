#!/usr/bin/env bash
# The one place that knows maya's package list: build, runtime and test dependencies, all from
# Debian 12's archive. Idempotent: packages already present are skipped without touching apt.
#
#   bash packaging/install-deps.sh               build + runtime (what the quick start needs)
#   bash packaging/install-deps.sh --with-tests  also what the tests and benchmarks need
#
# The test packages stay off hosts that only run maya: tgt, for one, starts a tgtd that takes
# the iSCSI port 3260 maya's discovery portal wants.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config ccache
  libboost-program-options-dev libboost-dev libboost-system-dev
  nlohmann-json3-dev libtomlplusplus-dev libmount-dev libblkid-dev libssl-dev
  # GET /metrics: Prometheus' registry and text serializer (lib/daemon/metrics_text.cpp)
  prometheus-cpp-dev
  # iscsi:// replica children (lib/replica/iscsi_lun.cpp): the initiator is libiscsi's
  libiscsi-dev
  # FUSE over io_uring for the attach path (lib/jiva/fuse_uring.cpp)
  liburing-dev
  # the man page, maya(1), made from the help texts at build time
  help2man
  # the Debian package (debian/, built by quickstart.sh): dpkg-buildpackage comes with
  # build-essential's dpkg-dev
  debhelper
  # runtime: mkfs, loop devices and mounts; open-iscsi for hosts with a kernel initiator
  util-linux e2fsprogs xfsprogs open-iscsi
  # where the completion installed with maya is loaded
  bash-completion
)
test_packages=(
  libgtest-dev libgmock-dev googletest curl
  # e2e (tests/e2e): a private dockerd (pulls containerd, runc, tini, iptables), busybox-static for
  # the locally imported test image, jq for JSON
  docker.io busybox-static jq
  # iSCSI: conformance (iscsi-test-cu), real initiators (iscsi-ls/-inq, qemu-img over iscsi://)
  # and the reference target tgtd for the benchmark
  libiscsi-bin qemu-utils qemu-block-extra tgt
  # benchmarks: fio inside containers (tests/bench/container_bench.sh)
  fio
  # the EBS-compatible API against real clients: the AWS CLI and boto3/botocore
  # (tests/integration/ebs_api.sh)
  awscli python3-boto3
  # fuzzing (tests/fuzz, build-fuzz): libFuzzer and the sanitizer runtimes. Clang 16, not 14:
  # libstdc++ 12's <expected>, which Result<T> is, needs conditionally trivial destructors
  # (P0848), which clang 14 lacks and clang 16 has.
  clang-16 libfuzzer-16-dev libclang-rt-16-dev
  # the EC2-compatible API's protocol checked against botocore's own signer and parser
  # (tests/ebs/botocore_test.py)
  python3-botocore
  # the style gates of packaging/lint.sh (run first by .ci/run)
  clang-format shellcheck
  # systemd-socket-activate: the plugin socket handed over as systemd's maya-plugin.socket does
  # (tests/integration/handover_test.cpp); systemd need not be PID 1 for it
  systemd
  # ping between the test hosts of tests/support/netns_hosts.sh (network namespaces); ip and tc
  # come with iproute2
  iputils-ping iproute2
  # the package's checks (tests/packaging/deb_test.sh): lintian, and a clean Debian 12 root
  # (packaging/minbase-root.sh), also the managed Docker plugin's rootfs
  # made by packaging/minbase-root.sh
  lintian debootstrap
  # the realm's store: a private etcd per test (tests/support/etcd.sh, tests/realm) and etcdctl
  etcd-server etcd-client
  # a real Prometheus server and promtool scraping a daemon (tests/integration/metrics.sh)
  prometheus
)

case "${1:-}" in
  "") ;;
  --with-tests) packages+=("${test_packages[@]}") ;;
  *) echo "usage: bash $0 [--with-tests]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run as root or install them" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
