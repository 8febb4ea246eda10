#!/usr/bin/env bash
# Server cost of a fixed workload as an instruction count (valgrind callgrind), which unlike
# CPU seconds does not move with the load of a shared machine: one session sends a clip with
# `avatarkit send --fast` in 40 ms chunks, the spawned server is stopped, and the instructions
# it executed are printed. Compare builds: run it for each and diff the counts (the engine's
# per-session seed comes from the random connection id, so runs differ by ~0.01 %).
# Usage: bench/server_instructions.sh BUILD_DIR [CLIP.s16le] [RATE]
# AK_CALLGRIND_OUT=FILE keeps the callgrind profile (callgrind_annotate --inclusive=yes FILE).
set -eu
BUILD=${1:?usage: bench/server_instructions.sh BUILD_DIR [CLIP.s16le] [RATE]}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CLIP=${2:-$ROOT/../shared/data/speech/long_58s_16k.pcm}
RATE=${3:-16000}
command -v valgrind >/dev/null || { echo "valgrind is needed"; exit 2; }
[ -r "$CLIP" ] || { echo "no clip $CLIP (give one: raw s16le mono)"; exit 2; }
tmp=$(mktemp -d)
KEEP=${AK_CALLGRIND_OUT:-}
trap 'if [ -n "$KEEP" ]; then cp "$tmp/cg.out" "$KEEP"; fi; rm -rf "$tmp"' EXIT
export AVATARKIT_API_KEY=bench-key AVATARKIT_APP_ID=bench-app
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" "$BUILD/bin/avatarkit-motion-server" \
  --listen 127.0.0.1:0 --port-file "$tmp/port" --log-level error 2> "$tmp/vg.log" &
pid=$!
for _ in $(seq 600); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { kill "$pid"; echo "server did not start"; cat "$tmp/vg.log"; exit 1; }
"$BUILD/bin/avatarkit" send "$CLIP" --rate "$RATE" --fast --chunk-ms 40 \
  --server "http://127.0.0.1:$(cat "$tmp/port")" > /dev/null
kill -TERM "$pid"
wait "$pid" || true
ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/vg.log")
secs=$(awk -v b=$(stat -c %s "$CLIP") -v r="$RATE" 'BEGIN { printf "%.1f", b / 2 / r }')
echo "server instructions: $ir for $secs s of $RATE Hz audio ($BUILD)"
