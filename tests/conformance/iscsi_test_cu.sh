#!/usr/bin/env bash
# libiscsi's conformance suite (iscsi-test-cu, Debian libiscsi-bin) against `maya target serve`.
#
#   bash tests/conformance/iscsi_test_cu.sh MAYA_BINARY [--multipath] [--chap] [-t TESTS]
#
# Serves a fresh sparse 512 MiB file, runs the whole suite with --dataloss and two initiator
# names (the reservation tests need both), and prints the CUnit summary and a final line
# "iscsi-test-cu: N passed, M failed". --multipath passes the URL twice so the MultipathIO tests
# run; --chap serves with CHAP credentials and puts them in the URL. Exit 0 only with 0 failures;
# 77 (skip) when iscsi-test-cu is missing.
set -euo pipefail

maya=${1:?usage: iscsi_test_cu.sh MAYA_BINARY [--multipath] [--chap] [-t TESTS]}
shift
multipath=0 chap=0 tests=()
while (($#)); do
  case $1 in
    --multipath) multipath=1 ;;
    --chap) chap=1 ;;
    -t) tests=(-t "$2"); shift ;;
    *) echo "iscsi_test_cu.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if ! command -v iscsi-test-cu >/dev/null; then
  echo "SKIP: iscsi-test-cu is not installed (Debian package libiscsi-bin)"
  exit 77
fi

work=$(mktemp -d /tmp/maya-cu.XXXXXX)
target_pid=
cleanup() {
  if [[ -n $target_pid ]]; then
    kill "$target_pid" 2>/dev/null || true
    wait "$target_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

iqn=iqn.2026-11.io.maya:conformance
serve=("$maya" target serve --backing "$work/disk.img" --size 512MiB --iqn "$iqn" --listen 127.0.0.1:0)
credentials=
if ((chap)); then
  serve+=(--chap-user maya-test --chap-secret maya-secret-1234)
  credentials="maya-test%maya-secret-1234@"
fi
"${serve[@]}" >"$work/serve.out" 2>"$work/serve.log" &
target_pid=$!

# The target prints "serving IQN on ADDR:PORT …" once it listens.
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^serving .* on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/serve.out")
  [[ -n $port ]] && break
  kill -0 "$target_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n $port ]] || { echo "the target did not start listening" >&2; exit 1; }

url="iscsi://${credentials}127.0.0.1:${port}/${iqn}/0"
urls=("$url")
((multipath)) && urls+=("$url")
echo "iscsi-test-cu against $url$( ((multipath)) && echo ' (multipath)')"
status=0
timeout 3000 iscsi-test-cu --dataloss -n \
  -i iqn.2026-11.io.maya:initiator-1 -I iqn.2026-11.io.maya:initiator-2 \
  "${tests[@]}" "${urls[@]}" >"$work/cu.log" 2>&1 || status=$?

# CUnit's summary:  "tests  <total> <ran> <passed> <failed> <inactive>"
summary=$(grep -E '^ +tests +[0-9]' "$work/cu.log" | tail -1)
if [[ -z $summary ]]; then
  tail -30 "$work/cu.log" >&2
  echo "iscsi-test-cu did not finish (exit $status)" >&2
  exit 1
fi
read -r _ _ _ passed failed _ <<<"$summary"
grep -E 'Run Summary|^ +(suites|tests|asserts) ' "$work/cu.log"
if ((failed > 0)); then
  echo "Failures:"
  grep -E 'had failures|\[FAILED\]' "$work/cu.log" | head -200
fi
echo "iscsi-test-cu: $passed passed, $failed failed"
((failed == 0))
