#!/usr/bin/env bash
# Sets up, builds and runs every test: the README's second quick-start command, and what CI runs.
# Tests that need root, loop devices or a Docker engine run here when this is root (CI is);
# each one that skips says why at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON >/dev/null
cmake --build build
status=0
ctest --test-dir build --output-on-failure -j2 || status=$?

# ctest does not show the output of a skipped test; say why each one skipped.
if grep -q "SKIP" build/Testing/Temporary/LastTest.log 2>/dev/null; then
  echo "Skipped tests and why:"
  grep -hE "^(SKIP: |.*Skipped: )" build/Testing/Temporary/LastTest.log | sort -u | sed 's/^/  /' || true
fi
exit "$status"
