#!/usr/bin/env bash
# Sets up, builds and runs every test: the README's second quick-start command, and what CI runs.
# Tests that need root, loop devices or a Docker engine run here when this is root (CI is);
# each one that skips says why at the end. Each phase prints when it starts and how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."

phase_start=$SECONDS
phase() { echo "== $(date -u +%H:%M:%S) $* (previous phase took $((SECONDS - phase_start)) s)"; phase_start=$SECONDS; }

phase "installing dependencies"
bash packaging/install-deps.sh --with-tests
phase "configuring and building (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON >/dev/null
cmake --build build
phase "running the tests"
status=0
ctest --test-dir build --output-on-failure -j2 || status=$?
phase "done, ctest exit status $status"

# ctest does not show the output of a skipped test; say why each one skipped.
if grep -q "SKIP" build/Testing/Temporary/LastTest.log 2>/dev/null; then
  echo "Skipped tests and why:"
  grep -hE "^(SKIP: |.*Skipped: )" build/Testing/Temporary/LastTest.log | sort -u | sed 's/^/  /' || true
fi
exit "$status"
