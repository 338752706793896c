# shellcheck shell=bash
# Sourced by the data-path benchmarks. With BENCH_TSV set, `record KEY MAYA REFERENCE UNIT`
# appends one figure there as tab-separated fields; tests/bench/datapath_bench.sh reads them
# and prints one table of ratios. Without it, record does nothing.
record() { [[ -z ${BENCH_TSV:-} ]] || printf '%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_TSV"; }
