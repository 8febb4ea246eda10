#!/usr/bin/env bash
# CLI tests: flag/file errors give a message and a non-zero exit; animate writes the motion
# JSON shape with the right frame count; send streams to a real motion server on loopback and
# records the replay format; bench runs a short bounded session. Usage: test_cli.sh BIN_DIR
set -u
BIN="$1"
CLI="$BIN/avatarkit"
SERVER="$BIN/avatarkit-motion-server"
PY=/usr/bin/python3
TMP=$(mktemp -d /tmp/avatarkit-cli-test.XXXXXX)
SRV_PID=""
TLS_PID=""
cleanup() {
  [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null && wait "$SRV_PID" 2>/dev/null
  [ -n "$TLS_PID" ] && kill "$TLS_PID" 2>/dev/null && wait "$TLS_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }

# expect_fail CODE_MIN PATTERN -- command...: exits >= 1 and prints PATTERN on stderr
expect_fail() {
  local pattern="$1"; shift
  local out rc
  out=$(timeout 60 "$@" 2>&1 >/dev/null); rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && echo "$out" | grep -q -- "$pattern"; then ok
  else bad "expected failure with '$pattern' from: $* (rc $rc, said: $out)"; fi
}

# ---- inputs: noise PCM (no python needed), WAV files built with printf ----------------------
head -c 32000 /dev/urandom > "$TMP/noise16k.pcm"        # 1.0 s at 16 kHz
head -c 88201 /dev/urandom > "$TMP/odd.pcm"             # odd byte count
head -c 132300 /dev/urandom > "$TMP/noise44k.pcm"       # 1.5 s at 44.1 kHz
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))\\x$(printf %02x $((($1 >> 16) & 255)))\\x$(printf %02x $((($1 >> 24) & 255)))"; }
le16() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $((($1 >> 8) & 255)))"; }
# make_wav OUT RATE CHANNELS BITS DATA_BYTES
make_wav() {
  local out=$1 rate=$2 ch=$3 bits=$4 n=$5
  { printf RIFF; le32 $((36 + n)); printf WAVEfmt' '; le32 16; le16 1; le16 "$ch"; le32 "$rate"
    le32 $((rate * ch * bits / 8)); le16 $((ch * bits / 8)); le16 "$bits"; printf data; le32 "$n"
    head -c "$n" /dev/urandom; } > "$out"
}
make_wav "$TMP/stereo22k.wav" 22050 2 16 88200           # 1.0 s stereo
make_wav "$TMP/eight.wav" 16000 1 8 16000                # 8-bit: refused

# ---- generic flag errors ---------------------------------------------------------------
expect_fail "usage" "$CLI"
expect_fail "unknown command" "$CLI" frobnicate
if "$CLI" --help | grep -q "avatarkit animate"; then ok; else bad "--help"; fi
expect_fail "needs --rate" "$CLI" animate "$TMP/noise16k.pcm" -o "$TMP/x.json"
expect_fail "bad or missing value for --fps" "$CLI" animate "$TMP/noise16k.pcm" --rate 16000 --fps 0 -o "$TMP/x.json"
expect_fail "bad or missing value for --fps" "$CLI" animate "$TMP/noise16k.pcm" --rate 16000 --fps abc -o "$TMP/x.json"
expect_fail "bad or missing value for --rate" "$CLI" animate "$TMP/noise16k.pcm" --rate 16k -o "$TMP/x.json"
expect_fail "bad or missing value for --expressiveness" "$CLI" animate "$TMP/noise16k.pcm" --rate 16000 --expressiveness 2 -o "$TMP/x.json"
expect_fail "usage" "$CLI" animate "$TMP/noise16k.pcm" --rate 16000
expect_fail "cannot open" "$CLI" animate "$TMP/missing.wav" -o "$TMP/x.json"
expect_fail "odd byte count" "$CLI" animate "$TMP/odd.pcm" --rate 44100 -o "$TMP/x.json"
expect_fail "16-bit PCM" "$CLI" animate "$TMP/eight.wav" -o "$TMP/x.json"
expect_fail "does not match the WAV header" "$CLI" animate "$TMP/stereo22k.wav" --rate 16000 -o "$TMP/x.json"
expect_fail "unknown flag" "$CLI" animate "$TMP/noise16k.pcm" --rate 16000 --bogus -o "$TMP/x.json"
expect_fail "cannot write" "$CLI" animate "$TMP/noise16k.pcm" --rate 16000 -o "$TMP/no/such/dir/x.json"
expect_fail "no input file" "$CLI" send
expect_fail "credentials missing" env -u AVATARKIT_API_KEY -u AVATARKIT_APP_ID "$CLI" send "$TMP/noise16k.pcm" --rate 16000
expect_fail "go together" "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --api-key k --app-id a --console http://x
expect_fail "must be an http" "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --api-key k --app-id a --server ftp://x
expect_fail "bad or missing value for --repeat" "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --repeat 0
expect_fail "bad or missing value for --sessions" "$CLI" bench --sessions -3
expect_fail "unknown argument" "$CLI" bench --what

# ---- animate ---------------------------------------------------------------------------
# check_motion FILE FPS FRAMES: the documented shape, weights 0..1, t = i/fps
check_motion() {
  if [ ! -x "$PY" ]; then echo "SKIP: $PY missing, JSON shape of $1 not checked"; return; fi
  if "$PY" - "$1" "$2" "$3" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1])); fps = int(sys.argv[2]); n = int(sys.argv[3])
assert d["fps"] == fps, d["fps"]
fr = d["frames"]; assert len(fr) == n, (len(fr), n)
for i, f in enumerate(fr):
    assert abs(f["t"] - i / fps) < 1e-3, (i, f["t"])
    bs = f["blendshapes"]; assert len(bs) == 52 and "jawOpen" in bs and "eyeBlinkLeft" in bs
    assert all(0.0 <= v <= 1.0 for v in bs.values())
    assert len(f["head"]) == 3 and all(abs(x) < 3.2 for x in f["head"])
PYEOF
  then ok; else bad "motion JSON $1 (fps $2, frames $3)"; fi
}
if timeout 60 "$CLI" animate "$TMP/noise16k.pcm" --rate 16000 -o "$TMP/a.json" 2>/dev/null; then ok; else bad "animate 16k"; fi
check_motion "$TMP/a.json" 25 25
if timeout 60 "$CLI" animate "$TMP/noise44k.pcm" --rate 44100 --fps 30 --lookahead-ms 0 --seed 3 -o "$TMP/b.json" 2>/dev/null; then ok; else bad "animate 44.1k"; fi
check_motion "$TMP/b.json" 30 45
if timeout 60 "$CLI" animate "$TMP/stereo22k.wav" --expressiveness 0.2 -o "$TMP/c.json" 2>/dev/null; then ok; else bad "animate wav"; fi
check_motion "$TMP/c.json" 25 25
# same seed + same audio = same frames
timeout 60 "$CLI" animate "$TMP/noise44k.pcm" --rate 44100 --fps 30 --lookahead-ms 0 --seed 3 -o "$TMP/b2.json" 2>/dev/null
if cmp -s "$TMP/b.json" "$TMP/b2.json"; then ok; else bad "animate not deterministic for a fixed seed"; fi
# --model: the repository's default blob given as a file gives the built-in model's frames; a
# blob without a network (the DSP mouth) gives other frames; a corrupt blob and a missing file
# are refused with the loader's reason
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
timeout 60 "$CLI" animate "$TMP/noise44k.pcm" --rate 44100 --fps 30 --lookahead-ms 0 --seed 3 \
  --model "$ROOT/models/default.akmw" -o "$TMP/b3.json" 2>/dev/null
if cmp -s "$TMP/b.json" "$TMP/b3.json"; then ok; else bad "animate --model default.akmw differs from the built-in model"; fi
if timeout 60 "$CLI" animate "$TMP/noise44k.pcm" --rate 44100 --fps 30 --lookahead-ms 0 --seed 3 \
  --model "$ROOT/tests/engine/data/fuzz_model/dsp_only.akmw" -o "$TMP/b4.json" 2>/dev/null &&
  ! cmp -s "$TMP/b.json" "$TMP/b4.json"; then ok; else bad "animate --model (DSP-only blob) not used"; fi
check_motion "$TMP/b4.json" 30 45
head -c 1000 "$ROOT/models/default.akmw" > "$TMP/cut.akmw"
expect_fail "cannot load model" "$CLI" animate "$TMP/noise16k.pcm" --rate 16000 --model "$TMP/cut.akmw" -o "$TMP/x.json"
expect_fail "cannot load model" "$CLI" animate "$TMP/noise16k.pcm" --rate 16000 --model "$TMP/none.akmw" -o "$TMP/x.json"
expect_fail "bad or missing value for --model" "$CLI" animate "$TMP/noise16k.pcm" --rate 16000 -o "$TMP/x.json" --model

# ---- send against the real server ------------------------------------------------------
if [ ! -x "$SERVER" ]; then
  echo "SKIP: $SERVER not built, send/bench not tested"
else
  "$SERVER" --listen 127.0.0.1:0 --port-file "$TMP/port" --api-key clikey --app-id cliapp \
    --log-level error > /dev/null 2>&1 &
  SRV_PID=$!
  for _ in $(seq 100); do [ -s "$TMP/port" ] && break; sleep 0.1; done
  PORT=$(cat "$TMP/port" 2>/dev/null)
  URL="http://127.0.0.1:$PORT"
  export AVATARKIT_API_KEY=clikey AVATARKIT_APP_ID=cliapp
  out=$(timeout 60 "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --server "$URL" --fast --repeat 2 --record "$TMP/rec.json" 2>&1); rc=$?
  if [ $rc -eq 0 ] && [ "$(echo "$out" | grep -c '25 frames (expected 25 at 25 fps)')" -eq 2 ]; then ok; else bad "send: rc $rc: $out"; fi
  if [ -x "$PY" ]; then
    if "$PY" - "$TMP/rec.json" <<'PYEOF'
import base64, json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "avatarkit-recording" and d["version"] == 1
assert d["appId"] == "cliapp" and d["avatarId"] == "default" and d["inputSampleRate"] == 16000
assert d["fps"] == 25 and len(d["requests"]) == 2
for r in d["requests"]:
    assert len(r["reqId"]) == 27 and len(r["messages"]) >= 2
    for m in r["messages"]:
        b = base64.b64decode(m)
        assert b[0] == 0x08 and b[1] == 5  # field 1 varint: SERVER_RESPONSE_ANIMATION
PYEOF
    then ok; else bad "recording format"; fi
  else
    echo "SKIP: $PY missing, recording JSON not checked"
  fi
  out=$(timeout 60 "$CLI" send "$TMP/stereo22k.wav" --server "$URL" --fast --opus --query-auth --chunk-ms 100 2>&1); rc=$?
  if [ $rc -eq 0 ] && echo "$out" | grep -q "25 frames (expected 25"; then ok; else bad "send wav/opus/query: rc $rc: $out"; fi
  # A wrong API key is 401 at the token API, which the official SDK rules (and ours) read as
  # sessionTokenExpired (PROTOCOL.md section 6, rule 6).
  expect_fail "sessionTokenExpired" "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --server "$URL" --api-key wrong
  expect_fail "appIDUnrecognized" "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --server "$URL" --app-id nobody
  expect_fail "sample rate must be" "$CLI" send "$TMP/noise16k.pcm" --rate 11025 --server "$URL"
  expect_fail "connectionFailed" "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --server http://127.0.0.1:1
  # TLS: a self-signed server is trusted through --ca-file only (certificate made now)
  if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=cli-test \
      -addext "subjectAltName=IP:127.0.0.1" -keyout "$TMP/tls.key" -out "$TMP/tls.pem" >/dev/null 2>&1; then
    "$SERVER" --listen 127.0.0.1:0 --port-file "$TMP/tlsport" --api-key clikey --app-id cliapp \
      --tls-cert "$TMP/tls.pem" --tls-key "$TMP/tls.key" --log-level error > /dev/null 2>&1 &
    TLS_PID=$!
    for _ in $(seq 100); do [ -s "$TMP/tlsport" ] && break; sleep 0.1; done
    TLS_URL="https://127.0.0.1:$(cat "$TMP/tlsport" 2>/dev/null)"
    out=$(timeout 60 "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --server "$TLS_URL" --fast --ca-file "$TMP/tls.pem" 2>&1); rc=$?
    if [ $rc -eq 0 ] && echo "$out" | grep -q "25 frames (expected 25"; then ok; else bad "send over TLS: rc $rc: $out"; fi
    expect_fail "connectionFailed" "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --server "$TLS_URL" --fast
    expect_fail "ca-file must be readable" "$CLI" send "$TMP/noise16k.pcm" --rate 16000 --server "$TLS_URL" --ca-file "$TMP/none.pem"
    kill "$TLS_PID" 2>/dev/null; wait "$TLS_PID" 2>/dev/null
  else
    bad "openssl could not make a test certificate"
  fi
  # bench: bounded, against the running server and with its own spawned server
  out=$(timeout 120 "$CLI" bench --sessions 3 --duration 2 --server "$URL" --server-pid "$SRV_PID" 2>&1); rc=$?
  if [ $rc -eq 0 ] && echo "$out" | grep -q "first-frame latency p50" && echo "$out" | grep -q "server CPU"; then ok; else bad "bench: rc $rc: $out"; fi
  out=$(timeout 120 "$CLI" bench --spawn --sessions 2 --duration 2 --clip "$TMP/noise44k.pcm" --rate 44100 2>&1); rc=$?
  if [ $rc -eq 0 ] && echo "$out" | grep -q "sessions 2 (connected 2)"; then ok; else bad "bench --spawn: rc $rc: $out"; fi
fi
echo "cli: $checks checks, $fails failed"
[ $fails -eq 0 ]
