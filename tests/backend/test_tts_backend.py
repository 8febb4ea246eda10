#!/usr/bin/env python3
"""The backend's voice through the real processes (Motion Server + backend on loopback):

  test_tts_backend.py --bin BUILD/bin --expect-voice rhvoice:slt

- default: the voice that answers is the natural one (ready.agent.ttsVoice and the start-up
  log line), and a turn's relayed audio is as long as its reply text needs;
- fallback: with the natural voice's data missing (--tts-data-dir on an empty directory)
  espeak-ng answers, the log says why, and the turn is still spoken;
- errors: an unknown voice name, family or language stops the backend at start-up with a
  message naming it.

Exit 0 = pass, 1 = fail, 77 = skipped (binaries missing). Every wait is bounded."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_backend as tb  # noqa: E402
import wsclient  # noqa: E402

check = tb.check


def log_of(st):
    return st.backend.tail()


def spoken_turn(st, question, label):
    """One text turn; checks the audio covers the reply: 0.12..0.9 s per word."""
    ws, ready = st.connect()
    ws.send_json({"type": "text_query", "text": question})
    t = tb.read_turn(ws, timeout=40)
    _, total, rate = tb.check_payloads(t, label)
    words = len((t["done"] or "").split())
    if total and rate and words:
        dur = total / rate
        print(f"  info {label}: {words} words spoken in {dur:.2f} s")
        check(0.12 * words <= dur <= 0.9 * words + 1.0,
              f"{label}: audio length {dur:.2f} s fits a reply of {words} words")
    else:
        check(False, f"{label}: a spoken reply ({words} words, {total} samples)")
    ws.close()
    return ready


def scenario_default(args):
    st = tb.Stack(args.bin)
    try:
        _, ready = st.connect()
        fam = args.expect_voice.split(":")[0]
        check(ready["agent"]["tts"] == fam and ready["agent"]["ttsVoice"] == args.expect_voice,
              f"ready names the voice that answers: {ready['agent'].get('ttsVoice')} "
              f"(expected {args.expect_voice})")
        check(f"tts: {args.expect_voice} (" in log_of(st),
              f"the start-up log names {args.expect_voice}")
        if args.expect_voice.startswith("espeak:"):
            check("falling back to espeak-ng" in log_of(st),
                  "built without the natural voice: the log says espeak-ng answers instead")
        else:
            check("falling back" not in log_of(st), "no fallback by default")
        spoken_turn(st, "Who are you?", "default voice")
    finally:
        st.stop()


def scenario_fallback(args):
    empty = tempfile.mkdtemp(prefix="ak-no-voices-")
    tb.tmp_dirs.append(empty)
    st = tb.Stack(args.bin, ["--tts-data-dir", empty])
    try:
        _, ready = st.connect()
        log = log_of(st)
        if args.expect_voice.startswith("espeak:"):
            check(ready["agent"]["ttsVoice"] == args.expect_voice,
                  f"built without a natural voice: {args.expect_voice} answers")
        else:
            check(ready["agent"]["ttsVoice"] == "espeak:en-us",
                  f"the natural voice's data missing: espeak:en-us answers "
                  f"({ready['agent'].get('ttsVoice')})")
            check(f"natural voice {args.expect_voice} unavailable" in log
                  and "falling back to espeak-ng voice en-us" in log,
                  "the log says which voice is missing and what answers instead")
        spoken_turn(st, "Who are you?", "fallback voice")
    finally:
        st.stop()


def scenario_errors(args):
    env = dict(os.environ, AVATARKIT_APP_ID="app-test", AVATARKIT_API_KEY="k")
    cases = [
        (["--tts-voice", "nosuch-voice"], "unknown tts voice 'nosuch-voice'"),
        (["--tts-voice", "bad:slt"], "unknown family 'bad'"),
        (["--tts-lang", "xx-nowhere"], "unknown tts language 'xx-nowhere'"),
        (["--tts", "festival"], "unknown tts provider 'festival'"),
    ]
    for extra, msg in cases:
        try:
            p = subprocess.run([os.path.join(args.bin, "avatarkit-backend"), "--listen",
                                "127.0.0.1:0"] + extra, env=env, capture_output=True, text=True,
                               timeout=30)
            check(p.returncode not in (0, None) and msg in p.stderr,
                  f"{' '.join(extra)}: exits {p.returncode} with '{msg}' ({p.stderr.strip()[:160]})")
        except subprocess.TimeoutExpired:
            check(False, f"{' '.join(extra)}: the backend exits at start-up")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--expect-voice", required=True)
    args = ap.parse_args()
    for exe in ("avatarkit-backend", "avatarkit-motion-server"):
        if not os.path.exists(os.path.join(args.bin, exe)):
            print(f"SKIP: {exe} not built in {args.bin}")
            return tb.SKIP
    for name in ("default", "fallback", "errors"):
        print(f"scenario {name}")
        try:
            globals()["scenario_" + name](args)
        except (wsclient.Closed, TimeoutError, AssertionError, RuntimeError) as e:
            tb.failures.append(f"{type(e).__name__}: {e}")
            print(f"  FAIL {type(e).__name__}: {e}")
    if tb.failures:
        print(f"{len(tb.failures)} checks failed (logs kept in {' '.join(tb.tmp_dirs)})")
        return 1
    for d in tb.tmp_dirs:
        shutil.rmtree(d, ignore_errors=True)
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
