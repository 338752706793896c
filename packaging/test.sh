#!/usr/bin/env bash
# Sets up, builds and runs every test: the README's second quick-start command, and what CI runs.
# Tests that need root, loop devices or a Docker engine run here when this is root (CI is);
# each one that skips says why at the end. Each phase prints when it starts and how long it took.
#
# After the main build and tests come two instrumented builds, each in its own directory and
# each building only what it runs:
#   build-fuzz  (clang; libFuzzer coverage + ASan + UBSan on every library) every fuzzer in
#               tests/fuzz for FUZZ_SECONDS (default 25), two at a time; then, from the same
#               objects, the unit, SCSI, iSCSI, block, replica, integration and EBS protocol
#               tests under ASan + UBSan. One build serves both: a second ASan build would cost
#               as much as the main one.
#   build-tsan  (g++, TSan) the block backends (tests/block), the replicator (tests/replica)
#               and the iSCSI target tests (loopback, concurrency); not the iscsi:// child's
#               tests (maya_replica_iscsi_tests), whose libiscsi TSan cannot see into.
# A failure in any phase fails the script, but every phase runs and the statuses are combined.
# MAYA_TEST_QUICK=1 skips the instrumented builds (a developer's quick run).
set -euo pipefail
cd "$(dirname "$0")/.."

phase_start=$SECONDS
phase() { echo "== $(date -u +%H:%M:%S) $* (previous phase took $((SECONDS - phase_start)) s)"; phase_start=$SECONDS; }
status=0
failed=()
failed_dirs=()  # the build directories whose ctest failed
record() {  # record NAME STATUS [BUILD_DIR]
  if (($2 != 0)); then
    failed+=("$1 (exit $2)")
    status=1
    [[ -z ${3:-} ]] || failed_dirs+=("$3")
  fi
}
# A packaging test exits 77 when it skips (not root, no Docker), after saying why. A developer's
# run goes on; in CI (CI set, as .ci/run's caller does) every test must run: a skip fails.
skip_status() {
  if (($1 == 77)) && [[ -z ${CI:-} ]]; then echo 0; else echo "$1"; fi
}
# Sanitizer reports end the process with a failure; UBSan's included.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

phase "installing dependencies"
bash packaging/install-deps.sh --with-tests
# The package test's clean Debian root: its first download (debootstrap, cached in
# /var/cache/maya) overlaps the build; the packaging phase waits for it.
minbase_cache=${MAYA_DEBOOTSTRAP_CACHE:-/var/cache/maya}/minbase-bookworm-$(dpkg --print-architecture).tgz
minbase_warm=
if [[ $(id -u) -eq 0 && ! -s $minbase_cache ]]; then
  minbase_dir=$(mktemp -d "${TMPDIR:-/tmp}/maya-minbase-warm.XXXXXX")
  bash packaging/minbase-root.sh "$minbase_dir/root" >"$minbase_dir.log" 2>&1 &
  minbase_warm=$!
fi
phase "configuring and building (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
  -DMAYA_WERROR="${MAYA_WERROR:-OFF}" >/dev/null
cmake --build build
phase "running the tests"
rc=0
ctest --test-dir build --output-on-failure -j2 || rc=$?
record "ctest (build/)" "$rc" build
phase "done, ctest exit status $rc"

# ctest does not show the output of a skipped test; say why each one skipped.
if grep -q "SKIP" build/Testing/Temporary/LastTest.log 2>/dev/null; then
  echo "Skipped tests and why:"
  grep -hE "^(SKIP: |.*Skipped: )" build/Testing/Temporary/LastTest.log | sort -u | sed 's/^/  /' || true
fi

# The Debian package the quick start built into build/deb/ (built here when it is missing or
# older than build/maya): lintian, then installed into a clean Debian 12 root and upgraded
# and removed there (tests/packaging/deb_test.sh).
phase "packaging: lintian and the .deb in a clean Debian 12 root"
if [[ -n $minbase_warm ]]; then
  wait "$minbase_warm" || { echo "the background debootstrap failed:"; tail -20 "$minbase_dir.log"; }
  rm -rf "$minbase_dir" "$minbase_dir.log"
fi
rc=0
deb_version=$(dpkg-parsechangelog -S Version)
deb=build/deb/maya_${deb_version}_amd64.deb
if [[ ! $deb -nt build/maya ]]; then
  bash packaging/build-deb.sh >/dev/null || rc=$?
  record "building the .deb" "$rc"
fi
if ((rc == 0)); then
  echo "$deb: $(du -k "$deb" | cut -f1) KiB"
  rc=0
  lintian --fail-on warning --info "build/deb/maya_${deb_version}_amd64.changes" || rc=$?
  record "lintian" "$rc"
  rc=0
  bash tests/packaging/deb_test.sh "$deb" || rc=$?
  record "tests/packaging/deb_test.sh" "$(skip_status "$rc")"
  phase "packaging: the managed Docker plugin (tests/packaging/docker_plugin_test.sh)"
  rc=0
  bash tests/packaging/docker_plugin_test.sh "$deb" || rc=$?
  record "tests/packaging/docker_plugin_test.sh" "$(skip_status "$rc")"
fi
phase "packaging finished"

if [[ ${MAYA_TEST_QUICK:-0} == 1 ]]; then
  echo "MAYA_TEST_QUICK=1: no fuzzing and no sanitizer builds"
  exit "$status"
fi

# The suites under ASan + UBSan: the gtest ones and the integration scripts; not the 3 × 1200 s
# conformance runs nor the Docker e2e, which drive the same code through slower clients.
asan_targets=(maya maya_unit_tests maya_scsi_tests maya_iscsi_tests maya_block_tests
  maya_replica_tests maya_replica_iscsi_tests maya_integration_tests maya_ebs_tests maya_ebs_tool
  maya_realm_tests maya_realm_placement_tests)
asan_labels='^(unit|scsi|iscsi|block|replica|integration|ebs|realm)$'

phase "building the fuzzers and the ASan+UBSan tests (build-fuzz/, clang)"
rc=0
{ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
    -DMAYA_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-16 >/dev/null &&
  cmake --build build-fuzz --target fuzz "${asan_targets[@]}"; } || rc=$?
record "building build-fuzz" "$rc"
if ((rc == 0)); then
  phase "fuzzing each target for ${FUZZ_SECONDS:-25} s, two at a time"
  rc=0
  bash tests/fuzz/run.sh build-fuzz/tests/fuzz "${FUZZ_SECONDS:-25}" 2 || rc=$?
  record "fuzzing" "$rc"
  phase "running the unit, SCSI, iSCSI, block, replica, integration, EBS and realm tests under ASan + UBSan"
  rc=0
  ctest --test-dir build-fuzz --output-on-failure -j2 -L "$asan_labels" || rc=$?
  record "ctest under ASan + UBSan (build-fuzz/)" "$rc" build-fuzz
fi

# TSan: the threaded parts, the replicator's fan-out and the target's connection threads.
phase "building the block, replica, iSCSI and realm-store tests with -fsanitize=thread (build-tsan/)"
rc=0
{ cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON \
    -DMAYA_SANITIZE=thread >/dev/null &&
  cmake --build build-tsan --target maya_block_tests maya_replica_tests maya_iscsi_tests \
    maya_realm_tests
} || rc=$?
record "building build-tsan" "$rc"
if ((rc == 0)); then
  phase "running the block, replica, iSCSI and realm-store tests under TSan"
  rc=0
  ctest --test-dir build-tsan --output-on-failure -j2 -L '^(block|replica|iscsi|realm)$' || rc=$?
  record "ctest under TSan (build-tsan/)" "$rc" build-tsan
fi

# A CI log is often read from its end: repeat the last lines of each failed test there.
recap_failures() {  # recap_failures BUILD_DIR
  local log=$1/Testing/Temporary/LastTest.log name
  [[ -s $1/Testing/Temporary/LastTestsFailed.log && -f $log ]] || return 0
  while IFS=: read -r _ name; do
    echo "---- $1: the last lines of $name"
    awk -v n="$name" '$0 ~ ("Testing: " n "$") {on = 1; next}
      on && $0 ~ ("^\"" n "\" end time") {on = 0} on' "$log" | grep -v '^ *$' | tail -25
  done <"$1/Testing/Temporary/LastTestsFailed.log"
}

phase "finished"
if ((status != 0)); then
  for dir in "${failed_dirs[@]}"; do recap_failures "$dir"; done
  echo "FAILED: ${failed[*]}"
fi
exit "$status"
