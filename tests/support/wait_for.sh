# shellcheck shell=bash
# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds; otherwise calls
# the sourcing script's `fail "WHAT: not within SECONDS s"` (sourced by test scripts).
wait_for() {
  local limit=$1 what=$2 i
  shift 2
  for ((i = 0; i < limit * 5; i++)); do
    "$@" && return 0
    sleep 0.2
  done
  fail "$what: not within $limit s"
}
