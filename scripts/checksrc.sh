#!/bin/sh
# Source checks CI runs as a ctest:
#  1. banned functions (unbounded copies, unchecked conversions, hidden global state): strcpy,
#     strcat, sprintf, vsprintf, gets, atoi, atol, atof, strtok;
#  2. formatting: every tracked C file is as clang-format (.clang-format) writes it.
#     Fix with: git ls-files '*.c' '*.h' | xargs clang-format -i
cd "$(dirname "$0")/.." || exit 2
fail=0
hits=$(grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atof|strtok)[[:space:]]*\(' \
  --include='*.c' --include='*.h' include util protocol codec engine stream server sdk cli backend \
  fuzz tests bench tools 2>/dev/null | grep -vE '\b(snprintf|vsnprintf)\b' | grep -v 'checksrc: allow')
if [ -n "$hits" ]; then
  echo "banned functions used (use snprintf/memcpy with sizes, strtol with checks):"
  echo "$hits"
  fail=1
fi
if ! command -v clang-format >/dev/null 2>&1; then
  echo "clang-format not installed (scripts/install-deps.sh installs it)"
  fail=1
elif [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
  files=$(git ls-files '*.c' '*.h')
  bad=$(for f in $files; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || echo "$f"
  done)
  if [ -n "$bad" ]; then
    echo "not formatted as .clang-format says (run clang-format -i on them):"
    echo "$bad"
    fail=1
  fi
fi
if [ "$fail" -ne 0 ]; then
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"
