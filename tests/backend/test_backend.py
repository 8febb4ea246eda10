#!/usr/bin/env python3
"""Integration tests of avatarkit-backend with real processes on loopback: the Motion Server,
the backend, fake HTTP providers, and scripted WebSocket clients standing in for browsers.

  test_backend.py relay|robustness|idle|backpressure|providers|asr --bin BUILD/bin [--data ../shared/data]

Exit 0 = pass, 1 = fail, 77 = skipped (binaries missing). Every wait is bounded."""
import argparse
import base64
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fake_providers  # noqa: E402
import wsclient  # noqa: E402

SKIP = 77
failures = []
tmp_dirs = []  # removed at exit when every check passed (kept with the logs otherwise)


def check(cond, what):
    if cond:
        print("  ok   " + what)
    else:
        print("  FAIL " + what)
        failures.append(what)


class Proc:
    def __init__(self, args, env, name, tmp):
        self.name = name
        self.port_file = os.path.join(tmp, name + ".port")
        self.log_path = os.path.join(tmp, name + ".log")
        self.log = open(self.log_path, "w")
        self.p = subprocess.Popen(args + ["--port-file", self.port_file], env=env,
                                  stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.p.poll() is not None:
                raise RuntimeError(f"{name} exited early: {self.tail()}")
            try:
                with open(self.port_file) as f:
                    self.port = int(f.read().strip())
                return
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError(f"{name} did not start: {self.tail()}")

    def alive(self):
        return self.p.poll() is None

    def tail(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()[-3000:]

    def stop(self):
        """SIGINT and a bounded wait: the process must exit cleanly by itself."""
        if self.p.poll() is None:
            self.p.send_signal(2)
            try:
                self.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return -999
        return self.p.returncode


class Stack:
    """Motion Server + backend with generated dev credentials."""

    def __init__(self, bindir, backend_args=(), env_extra=None, motion_args=()):
        self.tmp = tempfile.mkdtemp(prefix="ak-backend-test-")
        tmp_dirs.append(self.tmp)
        self.env = dict(os.environ)
        self.env["AVATARKIT_API_KEY"] = "key-" + os.urandom(8).hex()
        self.env["AVATARKIT_APP_ID"] = "app-test"
        for k in list(self.env):
            if k.startswith("AVATARKIT_") and k not in ("AVATARKIT_API_KEY", "AVATARKIT_APP_ID"):
                del self.env[k]
        self.env.update(env_extra or {})
        self.motion = Proc([os.path.join(bindir, "avatarkit-motion-server"),
                            "--listen", "127.0.0.1:0", "--log-level", "warn",
                            # test avatars (second-avatar) besides the built-in default
                            "--avatars-dir", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                          "..", "avatars")] + list(motion_args),
                           self.env, "motion", self.tmp)
        self.backend = Proc([os.path.join(bindir, "avatarkit-backend"), "--listen", "127.0.0.1:0",
                             "--motion-url", f"http://127.0.0.1:{self.motion.port}"]
                            + list(backend_args), self.env, "backend", self.tmp)

    def connect(self):
        ws = wsclient.WS("127.0.0.1", self.backend.port)
        ready = ws.recv(10)
        assert ready["type"] == "ready", ready
        return ws, ready

    def stop(self):
        rb = self.backend.stop()
        rm = self.motion.stop()
        check(rb == 0, f"backend exits 0 on SIGINT (got {rb})")
        if rb != 0:
            print(self.backend.tail())
        return rm


def read_turn(ws, timeout=30.0, until_last=True):
    """Reads messages until the turn's last Message (end set) and llm_done arrived. Relayed
    Messages come as binary frames: "frames" holds each one, "audio" the AvatarAudio inside
    it, "turn_ids" their req_ids."""
    t = {"events": [], "audio": [], "frames": [], "other": [], "turn_ids": set(),
         "audio_last": False, "frames_last": False, "done": None, "t0": time.monotonic()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if t["audio_last"] and t["frames_last"] and t["done"] is not None:
            break
        if not until_last and t["done"] is not None:
            break
        m = ws.recv(max(0.1, deadline - time.monotonic()))
        now = time.monotonic() - t["t0"]
        if m["type"] == "agent_event":
            t["events"].append(m)
            if m["event"] == "llm_done":
                t["done"] = m["text"]
                t["done_at"] = now
        elif m["type"] == "avatar_message":
            req, end, motion, audio = wsclient.animation_of(m["bytes"])
            t["turn_ids"].add(req)
            t["frames"].append(m["bytes"])
            if audio is not None:
                t.setdefault("first_audio", now)
                t["audio"].append(wsclient.audio_bytes_of(m["bytes"]))
            if motion is not None:
                t.setdefault("first_frames", now)
            t["audio_last"] |= end
            t["frames_last"] |= end
        else:
            t["other"].append(m)
    return t


def check_payloads(t, label):
    """Audio and motion of one turn: well formed, one request, frames match audio length."""
    check(len(t["turn_ids"]) == 1, f"{label}: one req_id for all relayed Messages ({t['turn_ids']})")
    check(t["audio_last"] and t["frames_last"], f"{label}: the last Message has end set")
    check(not [o for o in t["other"] if o["type"] in ("avatar_audio", "avatar_frames")],
          f"{label}: no payload travels as JSON")
    total = None
    rate = None
    packets = 0
    seen = set()
    for a in t["audio"]:
        d = wsclient.pb_dict(a)
        first = d.get(7, [0])[0]
        idx = set(range(first, first + len(d.get(8, []))))
        check(not (idx & seen), f"{label}: audio packets {sorted(idx & seen)[:3]} relayed twice") \
            if idx & seen else None
        seen |= idx
    for a in t["audio"]:
        d = wsclient.pb_dict(a)
        check(d.get(1) == [b"AKA1"], f"{label}: the audio in a Message is a serialized AvatarAudio") \
            if a is t["audio"][0] else None
        rate = d.get(3, [rate])[0]
        packets += len(d.get(8, []))
        if d.get(10, [0])[0]:
            total = d.get(9, [0])[0]
    reqs = set()
    nframes = 0
    fps = None
    next_first = 0
    contiguous = True
    for f in t["frames"]:
        req, end, motion, _ = wsclient.animation_of(f)
        reqs.add(req)
        if motion:
            fps = motion.get(3, [fps])[0]
            first = motion.get(4, [0])[0]
            contiguous &= first == next_first
            count = motion.get(5, [0])[0]
            next_first = first + count
            nframes += count
    check(len(reqs) == 1, f"{label}: every frame message belongs to one req_id")
    check(contiguous, f"{label}: motion frames are contiguous from frame 0")
    check(total is not None and total > 0 and packets > 0, f"{label}: audio has packets and a total length ({total} samples)")
    if total and fps and rate:
        expect = total * fps / rate
        check(abs(nframes - expect) <= 2,
              f"{label}: {nframes} motion frames match {total / rate:.2f} s of audio at {fps} fps ({expect:.1f})")
    return nframes, total, rate


def turn_with_bytes(ws, text):
    """Asks one question; returns the turn and the bytes its answer took on the socket."""
    b0 = ws.rx_bytes - len(ws.buf)
    ws.send_json({"type": "text_query", "text": text})
    t = read_turn(ws)
    return t, ws.rx_bytes - len(ws.buf) - b0


def report_rate(label, wire, payload_check):
    """Prints bytes per second of speech on the browser socket (README's relay figure)."""
    _, total, rate = payload_check
    if total and rate:
        print(f"  info {label}: browser socket {wire} bytes for {total / rate:.2f} s of speech = "
              f"{wire * rate / total:.0f} bytes/s")
    return wire * rate / total if total and rate else None


def text_of(t, event="llm_text"):
    return "".join(e["text"] for e in t["events"] if e["event"] == event)


# ---- scenarios ---------------------------------------------------------------------------

def scenario_relay(args):
    st = Stack(args.bin)
    try:
        ws, ready = st.connect()
        check(ready["avatar"]["appId"] == "app-test" and ready["avatar"]["outputSampleRate"] > 0,
              "ready carries appId, avatarId and outputSampleRate")
        check("local" in ready["agent"]["label"].lower(), "built-in agent is labelled as local")
        t, wire = turn_with_bytes(ws, "What time is it?")
        check(text_of(t) == t["done"] and t["done"].startswith("It is "),
              f"llm_text deltas add up to llm_done ({t['done']!r})")
        report_rate("turn 1", wire, check_payloads(t, "turn 1"))
        print(f"  info first audio after {t.get('first_audio', -1) * 1000:.0f} ms, "
              f"first motion after {t.get('first_frames', -1) * 1000:.0f} ms")
        text0, bin0 = ws.rx_text, ws.rx_binary
        t2, wire = turn_with_bytes(ws, "Who are you?")
        check(len(t2["turn_ids"]) == 1 and t2["turn_ids"] != t["turn_ids"],
              f"the second turn has its own req_id ({t2['turn_ids']})")
        report_rate("turn 2", wire, check_payloads(t2, "turn 2"))
        text, binary = ws.rx_text - text0, ws.rx_binary - bin0
        check(binary > 0 and text < binary / 4,
              f"payloads travel as binary frames, JSON only for control ({binary} binary, {text} text bytes)")
        # switching the avatar reconnects to the Motion Server for that avatar
        ws.send_json({"type": "set_avatar", "avatarId": "second-avatar"})
        m = ws.recv(10)
        while m["type"] != "ready":
            m = ws.recv(10)
        check(m["avatar"]["avatarId"] == "second-avatar", "set_avatar answers with a new ready")
        ws.send_json({"type": "text_query", "text": "hello"})
        t3 = read_turn(ws)
        check_payloads(t3, "turn 3 (second avatar)")
        ws.close()

        # many browsers at once, each with its own turn state
        conns = [st.connect()[0] for _ in range(4)]
        words = ["banana", "cherry", "mango", "papaya"]
        for w, c in zip(words, conns):
            c.send_json({"type": "text_query", "text": f"repeat {w} {w}"})
        for w, c in zip(words, conns):
            t = read_turn(c)
            check(t["done"] == f"{w} {w}", f"session '{w}' gets its own reply")
            check_payloads(t, f"session '{w}'")
            c.close()
    finally:
        st.stop()


def scenario_robustness(args):
    st = Stack(args.bin, ["--max-sessions", "3"])
    try:
        a, _ = st.connect()
        b, _ = st.connect()
        long_text = "echo this please " + " ".join(f"word{i}" for i in range(60))
        a.send_json({"type": "text_query", "text": long_text})

        def expect_error(ws, code, what):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                m = ws.recv(10)
                if m["type"] == "error":
                    check(m["code"] == code, f"{what} -> error {code} (got {m['code']}: {m['message']})")
                    return
            check(False, f"{what} -> error {code} (none)")

        b.send_text("{not json")
        expect_error(b, "bad_json", "malformed JSON")
        b.send_json({"type": "launch_rockets"})
        expect_error(b, "unknown_type", "unknown type")
        b.send_json({"text": "no type"})
        expect_error(b, "bad_request", "missing type")
        b.send_json({"type": "text_query", "text": 42})
        expect_error(b, "bad_request", "text_query with a number")
        b.send_json({"type": "mic_audio", "audio": "%%%not base64"})
        expect_error(b, "bad_request", "mic_audio with bad base64")
        b.send_json({"type": "set_avatar", "avatarId": "../../etc"})
        expect_error(b, "bad_request", "set_avatar with a bad id")
        b.send_text('{"type":"text_query","text":"' + "x" * (600 * 1024) + '"}', fragments=20)
        expect_error(b, "too_large", "600 KB message")
        b.send_binary(b"\x00\x01\x02")
        expect_error(b, "bad_request", "binary message")
        b.send_text('{"type":"ping"}', fragments=5)
        m = b.recv(10)
        check(m["type"] == "pong", "fragmented ping still answered after all that")

        # the other session's turn was not disturbed; interrupt it mid-turn
        got_audio = 0
        deadline = time.monotonic() + 20
        while got_audio < 3 and time.monotonic() < deadline:
            m = a.recv(20)
            got_audio += m["type"] == "avatar_message"
        check(got_audio >= 3, "session A streams avatar audio while B misbehaves")
        a.send_json({"type": "interrupt"})
        after = 0
        seen_interrupt = None
        try:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                m = a.recv(max(0.05, deadline - time.monotonic()))
                if m["type"] == "interrupt":
                    seen_interrupt = m
                elif m["type"] == "avatar_message" and seen_interrupt:
                    after += 1
        except TimeoutError:
            pass
        check(seen_interrupt is not None and seen_interrupt.get("reason") == "user",
              f"interrupt is acknowledged ({seen_interrupt})")
        check(after == 0, f"no avatar payloads after the interrupt ({after})")
        a.send_json({"type": "text_query", "text": "hello"})
        t = read_turn(a)
        check(t["done"] and t["done"].startswith("Hello"), "a new turn after the interrupt completes")
        check_payloads(t, "turn after interrupt")

        # a new query while speaking interrupts the old turn (barge-in by text)
        a.send_json({"type": "text_query", "text": long_text})
        m = a.recv(10)
        while m["type"] != "avatar_message":
            m = a.recv(10)
        a.send_json({"type": "text_query", "text": "what time is it"})
        t = read_turn(a)
        reasons = [o.get("reason") for o in t["other"] if o["type"] == "interrupt"]
        check("new_turn" in reasons, f"a new query interrupts the playing turn ({reasons})")
        check(t["done"].startswith("It is"), "and is answered")

        # abrupt disconnect mid-turn does not disturb others
        c, _ = st.connect()
        c.send_json({"type": "text_query", "text": long_text})
        c.recv(10)
        c.abort()
        # server full: limit 3 (a, b, and the aborted c may still be closing)
        time.sleep(0.3)
        d, _ = st.connect()
        try:
            e = wsclient.WS("127.0.0.1", st.backend.port)
            m = e.recv(5)
            check(m["type"] == "error" and m["code"] == "server_full", "a 4th browser is refused with server_full")
            try:
                e.recv(5)
            except wsclient.Closed:
                pass
            check(e.close_code == 1013, f"... and closed with 1013 ({e.close_code})")
        except wsclient.Closed as ex:
            check(False, f"4th browser gets an error first ({ex})")
        b.send_json({"type": "text_query", "text": "who are you"})
        t = read_turn(b)
        check(t["done"] and "demo agent" in t["done"], "session B works after C vanished")
        check_payloads(t, "session B")
        check(st.backend.alive(), "backend still running")
        for w in (a, b, d):
            w.close()
    finally:
        st.stop()


def scenario_idle(args):
    st = Stack(args.bin, motion_args=["--idle-timeout", "1"])
    try:
        ws, _ = st.connect()
        seen = []
        try:
            deadline = time.monotonic() + 2.5  # the Motion Server drops the idle session
            while time.monotonic() < deadline:
                seen.append(ws.recv(max(0.05, deadline - time.monotonic())))
        except TimeoutError:
            pass
        check("no audio input" in st.backend.tail(), "the Motion Server closed the idle session")
        check(not [m for m in seen if m["type"] == "error"], f"an idle Motion Server timeout is not an error for the user ({seen})")
        ws.send_json({"type": "text_query", "text": "hello"})
        t = read_turn(ws)
        check(t["done"] and t["done"].startswith("Hello"), "the next turn reconnects and is answered")
        check_payloads(t, "turn after the idle timeout")
        ws.close()
    finally:
        st.stop()


def scenario_backpressure(args):
    # 48 KiB: more than a whole short answer (~10 KiB of binary Messages for "hello"), so the
    # normal browser never hits it; the slow reader asks for long answers (~190 KiB each)
    # until the backend gives up on it (socket buffers absorb a few hundred KiB first).
    st = Stack(args.bin, ["--out-queue-kb", "48"])
    try:
        good, _ = st.connect()
        slow = wsclient.WS("127.0.0.1", st.backend.port, rcvbuf=4096)
        check(slow.recv(10)["type"] == "ready", "slow reader connected")
        long_text = "echo " + " ".join(f"number{i}" for i in range(90))
        sent = 0
        for _ in range(16):
            try:
                slow.send_json({"type": "text_query", "text": long_text})
                sent += 1
            except OSError:
                break  # the backend already closed it
            if "outbound queue over its limit" in st.backend.tail():
                break
            time.sleep(1)
        good.send_json({"type": "text_query", "text": "hello"})
        t = read_turn(good)
        check(t["done"] and t["done"].startswith("Hello"), "a normal browser is served while another does not read")
        check_payloads(t, "normal browser")
        deadline = time.monotonic() + 10
        while "outbound queue over its limit" not in st.backend.tail() and time.monotonic() < deadline:
            time.sleep(0.1)
        check("outbound queue over its limit" in st.backend.tail(),
              f"the backend closes the slow reader once its queue is over the limit ({sent} long answers asked)")
        closed = None
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                slow.recv(max(0.1, deadline - time.monotonic()))
        except wsclient.Closed:
            closed = slow.close_code
        except (TimeoutError, OSError) as e:
            closed = type(e).__name__
        check(closed in (1008, "ConnectionResetError"), f"the slow reader's connection ends ({closed})")
        good.send_json({"type": "text_query", "text": "hello"})
        t = read_turn(good)
        check(t["done"] and t["done"].startswith("Hello"), "the normal browser keeps working")
        check(st.backend.alive(), "backend still running")
        good.close()
    finally:
        st.stop()


def scenario_providers(args):
    srv, url = fake_providers.start()
    st = Stack(args.bin, ["--llm", "openai", "--llm-url", url, "--llm-model", "fake-1",
                          "--system-prompt", "Be brief.", "--tts", "http", "--tts-url", url,
                          "--tts-sample-rate", str(fake_providers.TTS_RATE), "--asr", "http",
                          "--asr-url", url],
               {"AVATARKIT_LLM_API_KEY": fake_providers.LLM_KEY})
    rec = srv.rec
    try:
        ws, ready = st.connect()
        check(ready["agent"]["llm"] == "openai", "ready names the openai LLM")
        q = "hello model, how are you"
        ws.send_json({"type": "text_query", "text": q})
        t = read_turn(ws)
        want = fake_providers.llm_reply(q)
        check(text_of(t) == want and t["done"] == want, f"streamed LLM text arrives intact ({t['done']!r})")
        req = rec.chat[-1]
        check(req["stream"] is True and req["model"] == "fake-1", "LLM request streams with the model")
        check(req["messages"][0] == {"role": "system", "content": "Be brief."}, "system prompt from config")
        check([x.strip() for x in rec.speech] == ["Fake model heard 24 characters.", "This is the second sentence!"],
              f"TTS called sentence by sentence ({rec.speech})")
        check(len(rec.speech_t) >= 2 and len(rec.last_chunk_t) == 1 and rec.speech_t[0] < rec.last_chunk_t[0],
              "TTS of sentence 1 starts before the LLM stream sends its last chunk (the fake holds "
              "the rest until the first sentence is spoken)")
        # reported, not asserted: arrival order at the browser is a race between the Motion
        # Server round trip of sentence 1 and the LLM's last chunks (both ~50 ms here); the
        # streaming itself is asserted just above (TTS of sentence 1 before the last chunk)
        print(f"  info first avatar audio at {t.get('first_audio', -1):.2f} s, llm_done at "
              f"{t.get('done_at', -1):.2f} s")
        check_payloads(t, "HTTP TTS turn")
        ws.send_json({"type": "text_query", "text": "second question"})
        t2 = read_turn(ws)
        roles = [m["role"] for m in rec.chat[-1]["messages"]]
        check(roles == ["system", "user", "assistant", "user"], f"history is kept per session ({roles})")
        check(rec.chat[-1]["messages"][2]["content"] == want, "history holds the assistant reply")
        other, _ = st.connect()
        other.send_json({"type": "text_query", "text": "fresh"})
        read_turn(other)
        check([m["role"] for m in rec.chat[-1]["messages"]] == ["system", "user"],
              "another browser starts with an empty history")
        other.close()

        # interrupting a stalled LLM stream aborts the HTTP request at once
        ws.send_json({"type": "text_query", "text": "be SLOW please"})
        m = ws.recv(10)
        while not (m["type"] == "agent_event" and m["event"] == "llm_text"):
            m = ws.recv(10)
        ws.send_json({"type": "interrupt"})
        ws.send_json({"type": "text_query", "text": "quick one"})
        t = read_turn(ws, timeout=20)
        check(t["done"] == fake_providers.llm_reply("quick one"), "the next query is answered")
        deadline = time.monotonic() + 10
        while not rec.aborted and time.monotonic() < deadline:
            time.sleep(0.05)
        check(rec.aborted == ["be SLOW please"], f"an interrupt closes the stalled LLM stream ({rec.aborted})")

        ws.send_json({"type": "text_query", "text": "please FAIL now"})
        # the failed turn goes on with a spoken apology after the error: read all of it (error,
        # llm_done, the last Message), or its end would be taken for the next turn's
        deadline = time.monotonic() + 20
        err, done, last = None, False, False
        while time.monotonic() < deadline and not (err and done and last):
            try:
                m = ws.recv(max(0.1, deadline - time.monotonic()))
            except TimeoutError:
                break
            if m["type"] == "error":
                err = m
            elif m["type"] == "agent_event" and m["event"] == "llm_done":
                done = True
            elif m["type"] == "avatar_message" and wsclient.animation_of(m["bytes"])[1]:
                last = True
        check(err is not None and err["code"] == "llm_failed" and "broken" in err["message"],
              f"LLM HTTP errors reach the browser ({err})")
        check(done and last, f"the failed turn ends (llm_done {done}, last Message {last})")

        # HTTP ASR: tone as speech, then mic_end
        pcm = b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 200 * i / 16000)))
                       for i in range(16000))
        for off in range(0, len(pcm), 3200):
            ws.send_json({"type": "mic_audio", "audio": base64.b64encode(pcm[off:off + 3200]).decode()})
        ws.send_json({"type": "mic_end"})
        t = read_turn(ws)
        finals = [e["text"] for e in t["events"] if e["event"] == "asr_final"]
        check(finals == [fake_providers.ASR_TEXT], f"HTTP ASR transcript arrives ({finals})")
        check(rec.asr and rec.asr[-1] == (32000, 16000), f"ASR got a 16 kHz WAV of 1 s ({rec.asr})")
        check(t["done"] == fake_providers.llm_reply(fake_providers.ASR_TEXT), "the transcript is answered")
        ws.close()
    finally:
        st.stop()
        srv.shutdown()


def scenario_llm_errors(args):
    """A failing model (HTTP 500, a malformed stream, a stream that stalls past the reply
    timeout) ends the turn with a spoken apology and a visible llm_failed error, never a
    hang; the session answers the next query."""
    srv, url = fake_providers.start(require_key=False, gate_on_tts=False)
    st = Stack(args.bin, ["--llm", "openai", "--llm-url", url, "--llm-model", "fake-local-7b",
                          "--llm-timeout-s", "3"])
    try:
        ws, ready = st.connect()
        check(ready["agent"]["label"] == "fake-local-7b", f"ready names the model ({ready['agent']})")
        for q, what in (("please FAIL", "LLM HTTP 500"), ("be MALFORMED", "not valid JSON"),
                        ("HANG on", "Timeout")):
            ws.send_json({"type": "text_query", "text": q})
            err, texts, audio, done = None, [], False, False
            deadline = time.monotonic() + 30  # bounded: a hang fails the check below
            while time.monotonic() < deadline and not (err and done and audio):
                try:
                    m = ws.recv(max(0.1, deadline - time.monotonic()))
                except TimeoutError:
                    break
                if m["type"] == "error":
                    err = m
                elif m["type"] == "agent_event" and m["event"] == "llm_text":
                    texts.append(m["text"])
                elif m["type"] == "agent_event" and m["event"] == "llm_done":
                    done = True
                elif m["type"] == "avatar_message" and wsclient.animation_of(m["bytes"])[3]:
                    audio = True
            said = "".join(texts)
            check(err is not None and err["code"] == "llm_failed" and what in err["message"],
                  f"{q!r}: a visible llm_failed error naming the cause ({err})")
            check("Sorry, my language model" in said and audio,
                  f"{q!r}: the avatar says it (spoken apology, text {said!r})")
            check(done, f"{q!r}: the turn ends (llm_done)")
        ws.send_json({"type": "text_query", "text": "and now?"})
        t = read_turn(ws)
        check(t["done"] == fake_providers.llm_reply("and now?"), "the next query is answered")
        deadline = time.monotonic() + 10
        while "HANG on" not in srv.rec.aborted and time.monotonic() < deadline:
            time.sleep(0.05)
        check("HANG on" in srv.rec.aborted, f"the stalled stream is closed by the timeout ({srv.rec.aborted})")
        ws.close()
    finally:
        st.stop()
        srv.shutdown()


def scenario_shutdown(args):
    """SIGINT/SIGTERM: every browser gets a close frame with 1001 (going away), one idle and
    one in the middle of an answer, and the backend exits 0."""
    for sig in (2, 15):
        st = Stack(args.bin)
        try:
            idle, _ = st.connect()
            busy, _ = st.connect()
            busy.send_json({"type": "text_query", "text": "echo " + " ".join(["talking"] * 60)})
            m = busy.recv(10)
            while m["type"] != "avatar_message":
                m = busy.recv(10)
            st.backend.p.send_signal(sig)
            for name, ws in (("idle", idle), ("busy", busy)):
                code = None
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and code is None:
                    try:
                        ws.recv(max(0.1, deadline - time.monotonic()))
                    except wsclient.Closed:
                        code = ws.close_code
                    except TimeoutError:
                        break
                check(code == 1001, f"signal {sig}: the {name} browser sees close code 1001 ({code})")
                ws.close()  # answers the close, as a browser does
            try:
                rc = st.backend.p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                rc = None
            check(rc == 0, f"signal {sig}: the backend exits 0 ({rc})")
        finally:
            st.backend.stop()
            st.motion.stop()


def wav_pcm16k(path):
    """A 16-bit mono WAV file as 16 kHz s16le (linear interpolation when resampling)."""
    data = open(path, "rb").read()
    rate = struct.unpack("<I", data[24:28])[0]
    i = data.find(b"data") + 8
    x = struct.unpack("<%dh" % ((len(data) - i) // 2), data[i:i + (len(data) - i) // 2 * 2])
    if rate == 16000:
        return struct.pack("<%dh" % len(x), *x)
    n = int(len(x) * 16000 / rate)
    out = []
    for k in range(n):
        p = k * rate / 16000
        j = int(p)
        f2 = p - j
        b = x[j + 1] if j + 1 < len(x) else x[j]
        out.append(int(x[j] + (b - x[j]) * f2))
    return struct.pack("<%dh" % len(out), *out)


def espeak_pcm16k(text):
    """Speech synthesized by the espeak-ng CLI, resampled to 16 kHz s16le."""
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", f.name, text], check=True,
                       timeout=30)
        return wav_pcm16k(f.name)


def natural_voice():
    """The first natural-sounding voice installed (SVOX pico, RHVoice, MBROLA), or None."""
    if shutil.which("pico2wave"):
        return "pico2wave en-US"
    if shutil.which("RHVoice-test") and os.path.isdir("/usr/share/RHVoice/voices/slt"):
        return "RHVoice slt"
    if shutil.which("espeak-ng") and os.path.exists("/usr/share/mbrola/us1"):
        return "MBROLA us1"
    return None


def natural_pcm16k(voice, text):
    """text spoken by natural_voice(), as 16 kHz s16le."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "speech.wav")
        if voice.startswith("pico2wave"):
            subprocess.run(["pico2wave", "-l", "en-US", "-w", path, text], check=True, timeout=30,
                           capture_output=True)
        elif voice.startswith("RHVoice"):
            subprocess.run(["RHVoice-test", "-p", "slt", "-o", path], input=text.encode(),
                           check=True, timeout=30, capture_output=True)
        else:
            subprocess.run(["espeak-ng", "-v", "mb-us1", "-w", path, text], check=True, timeout=30,
                           capture_output=True)
        return wav_pcm16k(path)


def words_of(text):
    """Lower-case words without punctuation, what's = what is (as bench/asr/wer.py scores)."""
    w = "".join(c if c.isalnum() or c in "' " else " " for c in text.lower()).split()
    out = []
    for x in w:
        out += {"what's": ["what", "is"], "it's": ["it", "is"], "i'm": ["i", "am"]}.get(x, [x])
    return out


def send_pcm(ws, pcm, chunk=3200):
    for off in range(0, len(pcm), chunk):
        ws.send_json({"type": "mic_audio", "audio": base64.b64encode(pcm[off:off + chunk]).decode()})


def scenario_asr(args):
    if subprocess.run(["which", "espeak-ng"], capture_output=True).returncode:
        print("SKIP: espeak-ng CLI not installed")
        sys.exit(SKIP)
    st = Stack(args.bin)
    try:
        ws, ready = st.connect()
        if ready["agent"]["asr"] != "sphinx":
            print("SKIP: backend built without pocketsphinx")
            sys.exit(SKIP)
        silence = b"\x00\x00" * 16000
        speech = espeak_pcm16k("what time is it")
        voice = natural_voice()
        if voice is None:
            print("  SKIP transcript assertions: no natural voice installed (pico2wave from "
                  "libttspico-utils, RHVoice-test from rhvoice-english, or mbrola-us1); "
                  "scripts/install-deps.sh installs them")
            questions = []
        else:
            # known audio, known transcript: questions a demo visitor asks, spoken by a natural
            # voice, through the browser path (VAD end-pointing, the default domain LM)
            questions = ["What time is it?", "Who are you?", "What is the capital of France?"]
        for i, q in enumerate(questions):
            # no mic_end: the energy VAD must find the end of the utterance by itself
            send_pcm(ws, silence[:8000] + natural_pcm16k(voice, q) + silence, chunk=8192)
            t = read_turn(ws, timeout=60)
            finals = [e["text"] for e in t["events"] if e["event"] == "asr_final"]
            print(f"  info {voice} said {q!r}, pocketsphinx heard {finals}")
            check(len(finals) == 1 and words_of(finals[0]) == words_of(q),
                  f"the VAD ends the utterance and the transcript is {q!r}")
            check(t["done"] is not None, "the transcript starts a turn")
            if i == 0:
                check(t["done"].startswith("It is"), "the agent answers the time question")
        # espeak-ng's formant voice: the VAD ends it; the transcript may be wrong or empty
        # (README's WER table), so it only has to arrive
        send_pcm(ws, silence[:16000] + speech + silence)
        deadline = time.monotonic() + 30
        final = None
        while time.monotonic() < deadline and final is None:
            m = ws.recv(30)
            if m["type"] == "agent_event" and m["event"] == "asr_final":
                final = m["text"]
        print(f"  info espeak-ng said 'what time is it', pocketsphinx heard {final!r}")
        check(final is not None, "the VAD ends an espeak-ng utterance too")
        if final and any(c.isalnum() for c in final):
            read_turn(ws, timeout=40)
        if voice is not None:
            speech = natural_pcm16k(voice, "what time is it")

        # barge-in: speaking over a long answer interrupts it
        ws.send_json({"type": "text_query", "text": "echo " + " ".join(["barge"] * 80)})
        m = ws.recv(10)
        while m["type"] != "avatar_message":
            m = ws.recv(10)
        send_pcm(ws, speech)
        deadline = time.monotonic() + 10
        reason = None
        while time.monotonic() < deadline and reason is None:
            m = ws.recv(10)
            if m["type"] == "interrupt":
                reason = m["reason"]
        check(reason == "barge_in", f"speech over the avatar barges in ({reason})")
        ws.send_json({"type": "mic_end"})
        read_turn(ws, timeout=40, until_last=False)

        clip = os.path.join(args.data, "speech", "short_4s_16k.pcm")
        if os.path.exists(clip):
            ws.send_json({"type": "interrupt"})
            send_pcm(ws, open(clip, "rb").read())
            ws.send_json({"type": "mic_end"})
            deadline = time.monotonic() + 30
            final = None
            while time.monotonic() < deadline and final is None:
                m = ws.recv(30)
                if m["type"] == "agent_event" and m["event"] == "asr_final":
                    final = m["text"]
            print(f"  info real clip transcript: {final!r}")
            check(final is not None and len(final) > 0, "a real speech clip is transcribed")
        else:
            print(f"  SKIP real speech clip: {clip} absent (shared data not available)")
        ws.close()
    finally:
        st.stop()

    # recognizers are a bounded pool shared by all browsers
    st = Stack(args.bin, ["--max-recognizers", "1"])
    try:
        a, _ = st.connect()
        b, _ = st.connect()
        send_pcm(a, silence[:3200])       # a holds the only recognizer (utterance open)
        time.sleep(1.5)                   # loading it takes ~0.4 s
        send_pcm(b, speech[:3200])
        m = b.recv(10)
        while m["type"] != "error":
            m = b.recv(10)
        check(m["code"] == "asr_unavailable" and "busy" in m["message"],
              f"a second speaker is refused while the only recognizer is in use ({m})")
        b.send_json({"type": "mic_end"})
        a.send_json({"type": "mic_end"})  # a gives it back
        # (its recognizer may still be loading: ~1 s of CPU, far longer on a loaded machine)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = a.recv(60)
            if m["type"] in ("status", "agent_event"):
                break
        send_pcm(b, silence[:8000] + speech + silence)
        t = read_turn(b, timeout=40, until_last=False)
        finals = [e["text"] for e in t["events"] if e["event"] == "asr_final"]
        check(len(finals) == 1 and finals[0], f"the recognizer is reused by the other browser ({finals})")
        a.close()
        b.close()
    finally:
        st.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=["relay", "robustness", "idle", "backpressure", "providers", "asr",
                                        "llm_errors", "shutdown"])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    args = ap.parse_args()
    for exe in ("avatarkit-backend", "avatarkit-motion-server"):
        if not os.path.exists(os.path.join(args.bin, exe)):
            print(f"SKIP: {exe} not built in {args.bin}")
            return SKIP
    random.seed()
    print(f"scenario {args.scenario}")
    try:
        globals()["scenario_" + args.scenario](args)
    except (wsclient.Closed, TimeoutError, AssertionError, RuntimeError) as e:
        failures.append(f"{type(e).__name__}: {e}")
        print(f"  FAIL {type(e).__name__}: {e}")
    if failures:
        print(f"{len(failures)} checks failed (logs kept in {' '.join(tmp_dirs)})")
        return 1
    for d in tmp_dirs:
        shutil.rmtree(d, ignore_errors=True)
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
