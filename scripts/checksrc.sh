#!/bin/sh
# Fails when C sources use functions we ban (unbounded copies, unchecked conversions, hidden
# global state): strcpy, strcat, sprintf, vsprintf, gets, atoi, atol, atof, strtok.
cd "$(dirname "$0")/.." || exit 2
hits=$(grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atof|strtok)[[:space:]]*\(' \
  --include='*.c' --include='*.h' include util protocol codec engine server sdk cli backend fuzz \
  tests bench tools 2>/dev/null | grep -vE '\b(snprintf|vsnprintf)\b' | grep -v 'checksrc: allow')
if [ -n "$hits" ]; then
  echo "banned functions used (use snprintf/memcpy with sizes, strtol with checks):"
  echo "$hits"
  echo "0 passed, 1 failed"
  exit 1
fi
echo "1 passed, 0 failed"
