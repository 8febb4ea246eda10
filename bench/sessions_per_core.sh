#!/usr/bin/env bash
# Sessions per core with chosen server flags: starts avatarkit-motion-server from BUILD_DIR
# with the given extra flags (e.g. --opus-complexity 1) on a free loopback port and runs the
# `avatarkit bench` ramp against it (--server + --server-pid, so the server's CPU figures are
# reported as with --spawn).
# Usage: bench/sessions_per_core.sh BUILD_DIR [SERVER FLAGS...] -- [BENCH FLAGS...]
#   bench/sessions_per_core.sh build-bench --opus-complexity 1 -- --ramp --sessions 100 \
#     --max-sessions 400 --duration 10
set -eu
BUILD=${1:?usage: bench/sessions_per_core.sh BUILD_DIR [SERVER FLAGS...] -- [BENCH FLAGS...]}
shift
server_flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do server_flags+=("$1"); shift; done
[ $# -gt 0 ] && shift
tmp=$(mktemp -d)
"$BUILD/bin/avatarkit-motion-server" --listen 127.0.0.1:0 --port-file "$tmp/port" \
  --api-key bench-key --app-id bench-app --log-level error --max-sessions 2000 \
  "${server_flags[@]}" > /dev/null &
pid=$!
trap 'kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "server did not start"; exit 1; }
echo "server flags: ${server_flags[*]:-(defaults)}"
"$BUILD/bin/avatarkit" bench --server "http://127.0.0.1:$(cat "$tmp/port")" --server-pid "$pid" \
  --api-key bench-key --app-id bench-app "$@"
