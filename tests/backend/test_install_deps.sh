#!/usr/bin/env bash
# scripts/install-deps.sh and the natural TTS voices: it enables only the Debian components the
# voice packages need and that no source (one-line or deb822) lists yet, says so, and keeps
# the server image's set free of them. Dry runs on scratch apt directories: no root, no apt.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ok() { echo "  ok   $1"; }
bad() { echo "  FAIL $1"; fail=1; }

run() { # name, sources.list content, .sources content ('' = none), env...
  local d=$tmp/$1
  mkdir -p "$d/sources.list.d"
  printf '%b' "$2" > "$d/sources.list"
  [ -z "$3" ] || printf '%b' "$3" > "$d/sources.list.d/debian.sources"
  shift 3
  env "$@" AVATARKIT_DEPS_DRY_RUN=1 AVATARKIT_APT_DIR="$d" bash "$root/scripts/install-deps.sh" \
    > "$d/out" 2>&1 || echo "exit $?" >> "$d/out"
  added=$(sed -n 's/^Components: //p' "$d/sources.list.d/avatarkit-voices.sources" 2>/dev/null)
  out=$(cat "$d/out")
}

run oneline 'deb http://ftp.de.debian.org/debian bookworm main\n' ''
[ "$added" = "non-free contrib" ] && ok "main only: adds non-free and contrib" || bad "main only: added '$added'"
grep -q "URIs: http://ftp.de.debian.org/debian" "$tmp/oneline/sources.list.d/avatarkit-voices.sources" &&
  ok "on the system's own mirror" || bad "mirror not reused"
echo "$out" | grep -q "enabling Debian component(s) non-free contrib" && ok "says so" || bad "silent: $out"
echo "$out" | grep -q "librhvoice-dev rhvoice-english libttspico-dev libttspico-data libttspico-utils mbrola mbrola-us1 mbrola-us2" &&
  ok "installs the voice packages" || bad "voice packages missing: $out"

run nonfree 'deb [signed-by=/k.gpg] http://deb.debian.org/debian bookworm main non-free\n' ''
[ "$added" = "contrib" ] && ok "main non-free (one-line): adds contrib only" || bad "one-line non-free: added '$added'"

run deb822 '' 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main contrib non-free\n'
[ -z "$added" ] && ok "deb822 main contrib non-free: adds nothing" || bad "deb822: added '$added'"
echo "$out" | grep -q "component 'non-free' already enabled" && ok "says non-free is already there" || bad "$out"

run server 'deb http://deb.debian.org/debian bookworm main\n' '' AVATARKIT_DEPS=server
[ -z "$added" ] && ! echo "$out" | grep -Eq "rhvoice|ttspico|mbrola" &&
  ok "AVATARKIT_DEPS=server: no voices, no component" || bad "server: '$added' $out"

run novoices 'deb http://deb.debian.org/debian bookworm main\n' '' AVATARKIT_VOICES=0
[ -z "$added" ] && ! echo "$out" | grep -Eq "rhvoice|ttspico|mbrola" &&
  ok "AVATARKIT_VOICES=0: no voices, no component" || bad "novoices: '$added' $out"

[ $fail = 0 ] && echo "all checks passed"
exit $fail
