#!/usr/bin/env bash
# Server-SDK/motion-server load benchmark through `avatarkit bench` (Release build, loopback).
# Runs: 1 session, 100 concurrent real-time sessions, then a ramp doubling N until a run is
# not real time. Prints the machine load next to every figure (2-core shared machines are
# noisy: compare runs only at similar load). Usage: bench/cli_bench.sh [BUILD_DIR] [SECONDS]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-bench}
DUR=${2:-20}
if [ ! -x "$BUILD/bin/avatarkit" ] || [ ! -x "$BUILD/bin/avatarkit-motion-server" ]; then
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
  nice make -C "$BUILD" -j2 avatarkit avatarkit-motion-server >/dev/null
fi
cd "$ROOT"   # the default clip is ../shared/data/speech/clip_16000.pcm when present
echo "# $(date -u +%FT%TZ) $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
set +e   # a run that is not real time exits 1: keep going
set -x
"$BUILD/bin/avatarkit" bench --spawn --sessions 1 --duration "$DUR"
"$BUILD/bin/avatarkit" bench --spawn --sessions 100 --duration "$DUR"
"$BUILD/bin/avatarkit" bench --spawn --ramp --sessions 25 --max-sessions 400 --duration "$DUR"
set +x
echo "# done, load: $(cut -d' ' -f1-3 /proc/loadavg)"
