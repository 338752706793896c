#!/usr/bin/env bash
# Runs every end-to-end test in tests/e2e (each *_e2e.sh, in name order) against one maya binary
# and prints a summary; the last line is exactly "N passed, M failed" (", K skipped" when some
# skipped). Exit status: 0 when nothing failed, 1 otherwise.
#
#   bash tests/e2e/run_all.sh /path/to/maya
#
# A test passes with exit 0 and skips with exit 77 (printing "SKIP: <reason>"); anything else
# fails. MAYA_E2E_NO_SKIP=1 counts skips as failures (for CI, which has every feature the tests
# need). MAYA_E2E_TEST_TIMEOUT (seconds, default 900) bounds each test.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -ne 1 ]]; then
  echo "usage: bash $0 /path/to/maya" >&2
  exit 2
fi
MAYA=$1
TEST_TIMEOUT=${MAYA_E2E_TEST_TIMEOUT:-900}

passed=0
failed=0
skipped=0
failures=()

shopt -s nullglob
tests=("$HERE"/*_e2e.sh)
if ((${#tests[@]} == 0)); then
  echo "run_all: no *_e2e.sh tests in $HERE" >&2
  exit 1
fi

for t in "${tests[@]}"; do
  name=$(basename "$t" .sh)
  echo "=== $name"
  start=$SECONDS
  rc=0
  # SIGTERM on timeout lets the test's trap clean up; SIGKILL 60 s later if it does not.
  timeout -k 60 "$TEST_TIMEOUT" bash "$t" "$MAYA" || rc=$?
  took=$((SECONDS - start))
  if ((rc == 0)); then
    echo "=== PASS $name (${took}s)"
    passed=$((passed + 1))
  elif ((rc == 77)) && [[ ${MAYA_E2E_NO_SKIP:-0} != 1 ]]; then
    echo "=== SKIP $name (${took}s)"
    skipped=$((skipped + 1))
  else
    why="exit $rc"
    ((rc != 124)) || why="timed out after ${TEST_TIMEOUT}s"
    ((rc != 77)) || why="skipped, and MAYA_E2E_NO_SKIP=1"
    echo "=== FAIL $name ($why, ${took}s)"
    failed=$((failed + 1))
    failures+=("$name")
  fi
done

((failed == 0)) || echo "failed: ${failures[*]}"
summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
