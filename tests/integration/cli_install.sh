#!/usr/bin/env bash
# What `cmake --install` puts beside the binary for people (issue 11): the man page maya(1),
# made from the help texts, with a section for every command, and a bash completion that
# completes commands, subcommands, options and volume names.   usage: cli_install.sh MAYA_BINARY
set -euo pipefail
maya_bin=$(realpath "${1:?usage: $0 MAYA_BINARY}")
build=$(dirname "$maya_bin")
for tool in man bash; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
[[ -f /usr/share/bash-completion/bash_completion ]] ||
  { echo "SKIP: bash-completion is not installed (see packaging/install-deps.sh)"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/maya-install.XXXXXX")
cleanup() {
  "$T/bin/maya" --config "$T/root/etc/maya.conf" unload >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "not ok - $*" >&2; exit 1; }
ok() { echo "ok - $*"; }

cmake --build "$build" --target maya_manpage >/dev/null
cmake --install "$build" --prefix "$T" >/dev/null
for f in bin/maya share/man/man1/maya.1 share/bash-completion/completions/maya; do
  [[ -f $T/$f ]] || fail "cmake --install did not install $f"
done
ok "installed bin/maya, maya(1) and the bash completion"

page=$(MANWIDTH=100 man -l "$T/share/man/man1/maya.1" 2>&1)
for command in init load status unload "volume create" "volume delete" "volume attach" \
  "volume snapshot revert" "snapshot list" "target serve"; do
  grep -q "^   maya $command\$" <<<"$page" || fail "maya(1) has no section for maya $command"
done
grep -q "EXIT STATUS" <<<"$page" || fail "maya(1) says nothing of exit statuses"
grep -q -- "--with-snapshots" <<<"$page" || fail "maya(1) lacks the options of volume delete"
ok "maya(1) renders, with a section for each command"

# Completion as a user's shell does it: bash-completion loads the file, then COMPREPLY for the
# words typed so far.
"$T/bin/maya" init --root "$T/root" >/dev/null
export MAYA_CONFIG=$T/root/etc/maya.conf PATH=$T/bin:$PATH
sed -i 's/^discovery_port = .*/discovery_port = 0/; s/^listen = .*/listen = "127.0.0.1:0"/' "$MAYA_CONFIG"
maya load >/dev/null
maya volume create completed-volume --size 16MiB --driver local >/dev/null
complete_words() {  # complete_words WORD... : what TAB offers after them (the last is partial)
  bash -c 'source /usr/share/bash-completion/bash_completion
    source "$0"
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _maya
    printf "%s\n" "${COMPREPLY[@]}"' "$T/share/bash-completion/completions/maya" maya "$@"
}
[[ $(complete_words vol) == volume ]] || fail "maya vol<TAB> gave: $(complete_words vol)"
[[ $(complete_words volume sn) == snapshot ]] || fail "maya volume sn<TAB>: $(complete_words volume sn)"
[[ $(complete_words volume snapshot re) == revert ]] || fail "maya volume snapshot re<TAB>"
[[ $(complete_words realm dr) == drain ]] || fail "maya realm dr<TAB> gave: $(complete_words realm dr)"
[[ $(complete_words volume inspect comp) == completed-volume ]] ||
  fail "maya volume inspect comp<TAB> gave: $(complete_words volume inspect comp)"
grep -qx -- --with-snapshots <<<"$(complete_words volume delete --with)" ||
  fail "maya volume delete --with<TAB> gave: $(complete_words volume delete --with)"
ok "bash completes commands, subcommands, volume names and options"
