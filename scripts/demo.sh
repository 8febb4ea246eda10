#!/usr/bin/env bash
# The one-command demo: installs dependencies (Debian 12), builds the C stack and the web SDK,
# starts the Motion Server and the reference backend on loopback with generated dev
# credentials, and prints the URL to open. Ctrl-C stops both.
#
#   bash scripts/demo.sh
#
# Environment: AVATARKIT_BUILD_DIR (default build), AVATARKIT_SKIP_DEPS=1 (skip apt),
# AVATARKIT_SKIP_WEB=1 (do not (re)build web/dist),
# AVATARKIT_DEMO_PORT / AVATARKIT_MOTION_PORT (defaults 8080 / 8081, free ports if taken),
# AVATARKIT_API_KEY / AVATARKIT_APP_ID (generated if unset), plus every backend variable
# listed in docs/backend.md (AVATARKIT_LLM_API_KEY, AVATARKIT_TTS, ...).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${AVATARKIT_BUILD_DIR:-$ROOT/build}
JOBS=${AVATARKIT_JOBS:-$(nproc 2>/dev/null || echo 2)}
WEB_PORT=${AVATARKIT_DEMO_PORT:-8080}
MOTION_PORT=${AVATARKIT_MOTION_PORT:-8081}

say() { printf '\033[1;34mdemo:\033[0m %s\n' "$*"; }
die() { printf '\033[1;31mdemo:\033[0m %s\n' "$*" >&2; exit 1; }

# 1. System packages (idempotent; the lead's script knows the list).
if [ "${AVATARKIT_SKIP_DEPS:-0}" != 1 ]; then
  say "checking system packages"
  bash "$ROOT/scripts/install-deps.sh"
fi

# 2. The C stack.
say "building the Motion Server and the backend in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$JOBS" --target avatarkit-motion-server avatarkit-backend >/dev/null \
  || cmake --build "$BUILD" -j1 --target avatarkit-motion-server avatarkit-backend
for exe in avatarkit-motion-server avatarkit-backend; do
  [ -x "$BUILD/bin/$exe" ] || die "$BUILD/bin/$exe was not built"
done

# 3. The web SDK (the page shows "SDK not built" without it; text and voice still work).
if [ -f "$ROOT/web/package.json" ] && [ "${AVATARKIT_SKIP_WEB:-0}" != 1 ]; then
  if [ ! -f "$ROOT/web/dist/avatarkit.js" ] || [ ! -f "$ROOT/web/dist/avatars/default/avatar.json" ] || \
     [ -n "$(find "$ROOT/web/src" "$ROOT/avatars" -newer "$ROOT/web/dist/avatarkit.js" -print -quit 2>/dev/null)" ]; then
    say "building the web SDK (web/dist)"
    if ( cd "$ROOT/web" && { [ -d node_modules ] || npm ci --no-audit --no-fund; } && npm run build ); then
      :
    else
      say "warning: the web SDK did not build; the page will say so"
    fi
  fi
fi

# 4. Free loopback ports (the defaults when free).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free "$WEB_PORT" || { say "port $WEB_PORT is taken, using a free one"; WEB_PORT=0; }
port_free "$MOTION_PORT" || { say "port $MOTION_PORT is taken, using a free one"; MOTION_PORT=0; }

# 5. Dev credentials, generated per run unless given.
if [ -z "${AVATARKIT_API_KEY:-}" ]; then
  AVATARKIT_API_KEY="dev-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
fi
export AVATARKIT_API_KEY
export AVATARKIT_APP_ID=${AVATARKIT_APP_ID:-demo-app}

RUN=$(mktemp -d "${TMPDIR:-/tmp}/avatarkit-demo.XXXXXX")
MOTION_PID=""
BACKEND_PID=""
cleanup() {
  trap - INT TERM EXIT
  echo
  say "stopping"
  for pid in $BACKEND_PID $MOTION_PID; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in $BACKEND_PID $MOTION_PID; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$RUN"
  say "stopped"
}
trap cleanup INT TERM EXIT

wait_port() { # file pid name
  for _ in $(seq 1 150); do
    [ -s "$1" ] && { cat "$1"; return 0; }
    kill -0 "$2" 2>/dev/null || die "$3 exited during start-up (log: $RUN/$3.log)"
    sleep 0.1
  done
  die "$3 did not start within 15 s"
}

# 6. Start both, on loopback only.
# Log prefixes through sed that ignores Ctrl-C, so the servers can log their shutdown.
"$BUILD/bin/avatarkit-motion-server" --listen "127.0.0.1:$MOTION_PORT" \
  --port-file "$RUN/motion.port" > >(trap '' INT; exec sed -u 's/^/[motion]  /') 2>&1 &
MOTION_PID=$!
MOTION_PORT=$(wait_port "$RUN/motion.port" "$MOTION_PID" motion-server)

"$BUILD/bin/avatarkit-backend" --listen "127.0.0.1:$WEB_PORT" --port-file "$RUN/backend.port" \
  --motion-url "http://127.0.0.1:$MOTION_PORT" \
  --web-root "$ROOT/backend/web" --sdk-dir "$ROOT/web/dist" \
  > >(trap '' INT; exec sed -u 's/^/[backend] /') 2>&1 &
BACKEND_PID=$!
WEB_PORT=$(wait_port "$RUN/backend.port" "$BACKEND_PID" backend)

cat <<MSG

  avatarkit demo is running:

      open  http://127.0.0.1:$WEB_PORT

  Motion Server  http://127.0.0.1:$MOTION_PORT  (app id $AVATARKIT_APP_ID, dev key generated)
  Type a message or hold the mic button to talk. Ctrl-C stops both.

MSG
# Returns when either process ends (or on Ctrl-C, through the trap).
wait -n "$MOTION_PID" "$BACKEND_PID" || true
if kill -0 "$MOTION_PID" 2>/dev/null || kill -0 "$BACKEND_PID" 2>/dev/null; then
  say "a server exited on its own (see the log above)"
fi
