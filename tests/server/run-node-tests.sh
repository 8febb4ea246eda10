#!/bin/sh
# Runs a node:test file with the WebSocket global; exits 77 (skip) on a Node without one.
node="$1"; shift
if ! "$node" --experimental-websocket -e 'if (typeof WebSocket !== "function") process.exit(1)' 2>/dev/null; then
  echo "SKIP: this Node ($("$node" --version)) has no WebSocket client (need Node >= 20.10)"
  exit 77
fi
exec "$node" --experimental-websocket --no-warnings --test --test-concurrency=1 "$@"
