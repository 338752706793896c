#!/usr/bin/env bash
# The style gates, run first by .ci/run: every C++ file as clang-format (.clang-format) leaves
# it, and every shell script clean under shellcheck (.shellcheckrc). Prints what to fix.
#   bash packaging/lint.sh          check (exit 1 on any finding)
#   bash packaging/lint.sh --fix    reformat the C++ files in place (scripts are fixed by hand)
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t sources < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.h')
mapfile -t scripts < <(git ls-files --cached --others --exclude-standard '*.sh' .ci/run \
  'debian/*.postinst' 'debian/*.prerm' 'debian/*.postrm')
status=0

if [[ ${1:-} == --fix ]]; then
  clang-format -i "${sources[@]}"
  exit 0
fi

drift=()
for f in "${sources[@]}"; do
  clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || drift+=("$f")
done
if ((${#drift[@]} > 0)); then
  echo "lint: clang-format would change ${#drift[@]} file(s); run: bash packaging/lint.sh --fix" >&2
  printf '  %s\n' "${drift[@]}" >&2
  status=1
fi

if ! shellcheck -f gcc "${scripts[@]}" >&2; then
  echo "lint: shellcheck found the problems above" >&2
  status=1
fi

((status == 0)) && echo "lint: ${#sources[@]} C++ files formatted, ${#scripts[@]} scripts clean under shellcheck"
exit "$status"
