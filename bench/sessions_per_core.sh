#!/usr/bin/env bash
# Sessions per server core with chosen server flags: starts avatarkit-motion-server from
# BUILD_DIR with the given extra flags on a free loopback port and runs the `avatarkit bench`
# load generator against it (--server + --server-pid, so the server's CPU figures are reported
# as with --spawn).
#
# Honest on a small box: with AK_SERVER_CPUS set (a taskset CPU list, e.g. 1) the server is
# pinned to those cores with one media worker per core (--workers = their count, unless the
# flags give --workers), and the load generator to AK_CLIENT_CPUS (default: the other cores).
# The figure is then sessions per SERVER core; the client's CPU no longer competes with it.
# Without AK_SERVER_CPUS both run unpinned (the old measurement: divide by all cores).
#
# Usage: [AK_SERVER_CPUS=1 [AK_CLIENT_CPUS=0]] bench/sessions_per_core.sh BUILD_DIR [SERVER FLAGS...] -- [BENCH FLAGS...]
#   AK_SERVER_CPUS=1 bench/sessions_per_core.sh build -- --sessions 200 --duration 10
#   AK_SERVER_CPUS=1 bench/sessions_per_core.sh build --opus-complexity 5 --opus-bitrate 24000 -- \
#     --ramp --sessions 100 --max-sessions 400 --duration 10
set -eu
BUILD=${1:?usage: bench/sessions_per_core.sh BUILD_DIR [SERVER FLAGS...] -- [BENCH FLAGS...]}
shift
server_flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do server_flags+=("$1"); shift; done
[ $# -gt 0 ] && shift
server_pin=() client_pin=()
if [ -n "${AK_SERVER_CPUS:-}" ]; then
  command -v taskset > /dev/null || { echo "taskset not found (util-linux)"; exit 1; }
  server_pin=(taskset -c "$AK_SERVER_CPUS")
  # one worker per pinned core unless the flags choose
  ncpu=$(taskset -c "$AK_SERVER_CPUS" nproc)
  case " ${server_flags[*]:-} " in *" --workers "*) ;; *) server_flags+=(--workers "$ncpu") ;; esac
  if [ -z "${AK_CLIENT_CPUS:-}" ]; then
    AK_CLIENT_CPUS=$(python3 -c "
import os, sys
s = set()
for part in sys.argv[1].split(','):
    a, _, b = part.partition('-')
    s.update(range(int(a), int(b or a) + 1))
rest = sorted(set(os.sched_getaffinity(0)) - s)
print(','.join(map(str, rest)))" "$AK_SERVER_CPUS")
  fi
  [ -n "$AK_CLIENT_CPUS" ] && client_pin=(taskset -c "$AK_CLIENT_CPUS")
fi
tmp=$(mktemp -d)
"${server_pin[@]}" "$BUILD/bin/avatarkit-motion-server" --listen 127.0.0.1:0 --port-file "$tmp/port" \
  --api-key bench-key --app-id bench-app --log-level error --max-sessions 2000 \
  "${server_flags[@]}" > /dev/null &
pid=$!
trap 'kill "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "server did not start"; exit 1; }
echo "server flags: ${server_flags[*]:-(defaults)}; server cores: ${AK_SERVER_CPUS:-any}; client cores: ${AK_CLIENT_CPUS:-any}"
"${client_pin[@]}" "$BUILD/bin/avatarkit" bench --server "http://127.0.0.1:$(cat "$tmp/port")" --server-pid "$pid" \
  --api-key bench-key --app-id bench-app "$@"
