#!/usr/bin/env bash
# The one-command demo: installs dependencies (Debian 12), builds the C stack and the web SDK,
# starts the Motion Server and the reference backend on loopback with generated dev
# credentials, prints the URL to open, the dev credentials and the log files, and restarts a
# server that crashes (bounded, with backoff). Ctrl-C stops both.
#
#   bash scripts/demo.sh
#
# Environment: AVATARKIT_BUILD_DIR (default build), AVATARKIT_SKIP_DEPS=1 (skip apt),
# AVATARKIT_SKIP_WEB=1 (do not (re)build web/dist),
# AVATARKIT_DEMO_PORT / AVATARKIT_MOTION_PORT (defaults 8080 / 8081, free ports if taken),
# AVATARKIT_API_KEY / AVATARKIT_APP_ID (generated if unset), AVATARKIT_DEMO_MAX_RESTARTS
# (restarts in a row of a crashed server, default 5), plus every backend variable
# listed in docs/backend.md (AVATARKIT_LLM_API_KEY, AVATARKIT_TTS, ...).
# A local OpenAI-compatible LLM server is found by itself: AVATARKIT_LLM_URL (a base URL such
# as http://127.0.0.1:11434/v1) if set, else the usual ports on 127.0.0.1 (AVATARKIT_LLM_PORTS,
# default "11434 8080 8000 1234": Ollama, llama.cpp server, vLLM, LM Studio) are asked for
# GET /v1/models; the model is AVATARKIT_LLM_MODEL or the first one listed. AVATARKIT_LLM=none
# (or local) turns detection off and keeps the built-in agent; AVATARKIT_LLM=openai or an
# AVATARKIT_LLM_API_KEY uses the configured provider as it is.
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
# An existing build keeps its own configuration: re-typing it (say a Debug ASan tree that the
# tests point here) would rebuild and relink its binaries under programs already running them.
if [ -f "$BUILD/CMakeCache.txt" ]; then
  cmake "$BUILD" >/dev/null
else
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
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

# 4b. A local LLM server (Ollama, llama.cpp server, vLLM, LM Studio, or AVATARKIT_LLM_URL).
# Probed here, before the backend starts (llama.cpp's default port is also the demo's: step 4
# already moved the demo off a taken port). Each probe is one short GET /v1/models.
LLM_SAY="the built-in local agent (rule based)"
llm_models() { # base URL -> the model ids it lists, one a line (vLLM's modelperm- ids left out)
  curl -fsS --max-time "${AVATARKIT_LLM_PROBE_S:-2}" -H 'Accept: application/json' "$1/models" 2>/dev/null |
    grep -o '"id"[[:space:]]*:[[:space:]]*"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/' | grep -v '^modelperm-'
}
detect_llm() {
  case "${AVATARKIT_LLM:-}" in
    none | off | local)
      export AVATARKIT_LLM=local
      LLM_SAY="the built-in local agent (AVATARKIT_LLM=${AVATARKIT_LLM_WAS:-none}: detection off)"
      return ;;
    openai)
      LLM_SAY="${AVATARKIT_LLM_MODEL:-the configured model} at ${AVATARKIT_LLM_URL:-https://api.openai.com/v1} (AVATARKIT_LLM=openai)"
      return ;;
    "") ;;
    *) die "AVATARKIT_LLM must be none, local or openai (got '$AVATARKIT_LLM')" ;;
  esac
  if [ -n "${AVATARKIT_LLM_API_KEY:-}" ] && [ -z "${AVATARKIT_LLM_URL:-}" ]; then
    LLM_SAY="${AVATARKIT_LLM_MODEL:-gpt-4o-mini} at https://api.openai.com/v1 (AVATARKIT_LLM_API_KEY set)"
    return
  fi
  command -v curl >/dev/null || { say "curl not found: no LLM detection"; return; }
  local bases=() base port models model
  if [ -n "${AVATARKIT_LLM_URL:-}" ]; then
    bases=("${AVATARKIT_LLM_URL%/}")
  else
    for port in ${AVATARKIT_LLM_PORTS:-11434 8080 8000 1234}; do bases+=("http://127.0.0.1:$port/v1"); done
  fi
  for base in "${bases[@]}"; do
    models=$(llm_models "$base") || true
    [ -n "$models" ] || continue
    model=${AVATARKIT_LLM_MODEL:-$(printf '%s\n' "$models" | head -n1)}
    export AVATARKIT_LLM=openai AVATARKIT_LLM_URL="$base" AVATARKIT_LLM_MODEL="$model"
    LLM_SAY="$model at $base (found by GET /v1/models, $(printf '%s\n' "$models" | wc -l) listed; AVATARKIT_LLM=none turns it off)"
    # A model answers anything: the demo's domain language model (its 637 words) would mishear
    # open questions, so the recognizer gets the generic one unless AVATARKIT_SPHINX_LM says so.
    export AVATARKIT_SPHINX_LM="${AVATARKIT_SPHINX_LM:-generic}"
    return
  done
  if [ -n "${AVATARKIT_LLM_URL:-}" ]; then
    die "no OpenAI-compatible server answers GET ${AVATARKIT_LLM_URL%/}/models (unset AVATARKIT_LLM_URL or set AVATARKIT_LLM=none)"
  fi
  LLM_SAY="the built-in local agent: no LLM server answered on 127.0.0.1 ports ${AVATARKIT_LLM_PORTS:-11434 8080 8000 1234} (start Ollama, llama.cpp server, vLLM or LM Studio, or set AVATARKIT_LLM_URL)"
}
AVATARKIT_LLM_WAS=${AVATARKIT_LLM:-}
detect_llm
say "LLM: $LLM_SAY"

# 5. Dev credentials, generated per run unless given.
if [ -z "${AVATARKIT_API_KEY:-}" ]; then
  AVATARKIT_API_KEY="dev-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
fi
export AVATARKIT_API_KEY
export AVATARKIT_APP_ID=${AVATARKIT_APP_ID:-demo-app}

RUN=$(mktemp -d "${TMPDIR:-/tmp}/avatarkit-demo.XXXXXX")
MOTION_LOG="$RUN/motion-server.log"
BACKEND_LOG="$RUN/backend.log"
MAX_RESTARTS=${AVATARKIT_DEMO_MAX_RESTARTS:-5}
MOTION_PID=""
BACKEND_PID=""
KEEP_RUN=0
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
  if [ "$KEEP_RUN" = 1 ]; then
    say "logs kept in $RUN"
  else
    rm -rf "$RUN"
  fi
  say "stopped"
}
# Ctrl-C / TERM stop both and exit (the supervision loop below must not see them as crashes).
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT
fail() { KEEP_RUN=1; die "$@"; }

alive() { # pid: running (an exited child stays a zombie until waited for)
  local st
  st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  case $st in Z*) return 1 ;; esac
}
wait_port() { # file pid: prints the port; 1 when the process is gone, 2 after 15 s
  for _ in $(seq 1 150); do
    [ -s "$1" ] && { cat "$1"; return 0; }
    alive "$2" || return 1
    sleep 0.1
  done
  return 2
}

# 6. Start both, on loopback only. Each child's output goes to its log file (named on every
# failure) and to the terminal with a prefix, through tee and sed that ignore Ctrl-C, so the
# servers can log their shutdown.
start_motion() { # port: 0 the first time, then the same port again
  rm -f "$RUN/motion.port"
  echo "---- $(date '+%F %T') start (port $1)" >>"$MOTION_LOG"
  "$BUILD/bin/avatarkit-motion-server" --listen "127.0.0.1:$1" --port-file "$RUN/motion.port" \
    > >(trap '' INT; tee -a "$MOTION_LOG" | sed -u 's/^/[motion]  /') 2>&1 &
  MOTION_PID=$!
  MOTION_STARTED=$SECONDS
}
start_backend() {
  rm -f "$RUN/backend.port"
  echo "---- $(date '+%F %T') start (port $1)" >>"$BACKEND_LOG"
  "$BUILD/bin/avatarkit-backend" --listen "127.0.0.1:$1" --port-file "$RUN/backend.port" \
    --motion-url "http://127.0.0.1:$MOTION_PORT" \
    --web-root "$ROOT/backend/web" --sdk-dir "$ROOT/web/dist" \
    > >(trap '' INT; tee -a "$BACKEND_LOG" | sed -u 's/^/[backend] /') 2>&1 &
  BACKEND_PID=$!
  BACKEND_STARTED=$SECONDS
}

start_motion "$MOTION_PORT"
MOTION_PORT=$(wait_port "$RUN/motion.port" "$MOTION_PID") ||
  fail "the Motion Server did not start (log: $MOTION_LOG)"
start_backend "$WEB_PORT"
WEB_PORT=$(wait_port "$RUN/backend.port" "$BACKEND_PID") ||
  fail "the backend did not start (log: $BACKEND_LOG)"

# Dev credentials for the other pages and the CLI (removed with the run directory on exit).
CREDS="$RUN/credentials.env"
printf 'export AVATARKIT_API_KEY=%s AVATARKIT_APP_ID=%s AVATARKIT_SERVER=http://127.0.0.1:%s\n' \
  "$AVATARKIT_API_KEY" "$AVATARKIT_APP_ID" "$MOTION_PORT" >"$CREDS"
chmod 600 "$CREDS"

cat <<MSG

  avatarkit demo is running:

      open  http://127.0.0.1:$WEB_PORT

  Motion Server  http://127.0.0.1:$MOTION_PORT  (pid $MOTION_PID; backend pid $BACKEND_PID)
  dev app id     $AVATARKIT_APP_ID
  dev API key    $AVATARKIT_API_KEY
                 (also in $CREDS: source it for the CLI, e.g.
                  avatarkit send hello.wav --server http://127.0.0.1:$MOTION_PORT)
  other pages    http://127.0.0.1:$WEB_PORT/sdk/player.html  http://127.0.0.1:$WEB_PORT/sdk/inspector.html
                 http://127.0.0.1:$WEB_PORT/sdk/live.html?server=http://127.0.0.1:$MOTION_PORT&app=$AVATARKIT_APP_ID
  agent          $LLM_SAY
  logs           $MOTION_LOG  $BACKEND_LOG
  Type a message or hold the mic button to talk. Ctrl-C stops both.

MSG

# 7. Supervise: a server that exits on its own is restarted on the same port with backoff
# (0.5, 1, 2, 4, 8 s), at most MAX_RESTARTS times in a row; a server that then ran for 60 s
# has its count reset. The backend's Motion Server sessions reconnect by themselves.
MOTION_RESTARTS=0
BACKEND_RESTARTS=0
backoff() { # n -> seconds
  local d=0.5 i
  for ((i = 1; i < $1 && i < 5; i++)); do d=$(awk "BEGIN{print $d*2}"); done
  echo "$d"
}
restart() { # name
  local name=$1 n rc=0 up delay
  if [ "$name" = motion ]; then
    wait "$MOTION_PID" || rc=$?
    up=$((SECONDS - MOTION_STARTED)); [ "$up" -ge 60 ] && MOTION_RESTARTS=0
    n=$((MOTION_RESTARTS += 1))
  else
    wait "$BACKEND_PID" || rc=$?
    up=$((SECONDS - BACKEND_STARTED)); [ "$up" -ge 60 ] && BACKEND_RESTARTS=0
    n=$((BACKEND_RESTARTS += 1))
  fi
  if [ "$n" -gt "$MAX_RESTARTS" ]; then
    KEEP_RUN=1
    say "the $name server exited (status $rc) after $MAX_RESTARTS restarts in a row; giving up (log: $RUN/$name*.log)"
    return 1
  fi
  delay=$(backoff "$n")
  say "the $name server exited (status $rc, up ${up} s); restart $n of $MAX_RESTARTS in $delay s"
  sleep "$delay"
  if [ "$name" = motion ]; then
    start_motion "$MOTION_PORT"
    if wait_port "$RUN/motion.port" "$MOTION_PID" >/dev/null; then
      say "the Motion Server is back on port $MOTION_PORT (pid $MOTION_PID)"
    else
      say "the Motion Server did not come back (log: $MOTION_LOG)"
    fi
  else
    start_backend "$WEB_PORT"
    if wait_port "$RUN/backend.port" "$BACKEND_PID" >/dev/null; then
      say "the backend is back on port $WEB_PORT (pid $BACKEND_PID)"
    else
      say "the backend did not come back (log: $BACKEND_LOG)"
    fi
  fi
  return 0
}
# wait -n returns when either server ends (or on Ctrl-C, through the trap).
while :; do
  wait -n "$MOTION_PID" "$BACKEND_PID" 2>/dev/null || true
  if ! kill -0 "$MOTION_PID" 2>/dev/null; then restart motion || break; fi
  if ! kill -0 "$BACKEND_PID" 2>/dev/null; then restart backend || break; fi
done
# Only a server that keeps crashing gets here: the trap stops the other one and keeps the logs.
exit 1
