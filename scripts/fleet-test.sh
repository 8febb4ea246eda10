#!/usr/bin/env bash
# Fleet test: Redis + 3 Motion Server nodes + HAProxy (deploy/haproxy.cfg) on loopback.
# Kills one node mid-stream, replays a token across nodes, rolls a restart with drain; prints
# the figures (docs/deploy.md "Fleet test"). Needs a build (build/bin), node >= 20.10,
# redis-server and haproxy. Exits 77 (skip) when one is missing.
#   bash scripts/fleet-test.sh [BUILD_DIR]       env FLEET_SESSIONS (default 12), FLEET_SDK_SESSIONS (6), FLEET_SDK_PAUSE_MS (500)
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
bin="$build/bin/avatarkit-motion-server"
for t in node redis-server haproxy; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x "$bin" ] || { echo "SKIP: no $bin (build first)"; exit 77; }
client="$build/bin/fleet_client"
[ -x "$client" ] || { echo "SKIP: no $client (build first)"; exit 77; }
"$bin" --redis 127.0.0.1:1 --version >/dev/null 2>&1 || { echo "SKIP: $bin built without hiredis (no --redis)"; exit 77; }
hp=$(command -v haproxy || echo /usr/sbin/haproxy)
AK_SERVER_BIN=$(realpath "$bin") AK_FLEET_CLIENT=$(realpath "$client") AK_HAPROXY=$hp exec node --experimental-websocket --no-warnings scripts/fleet-test.mjs
