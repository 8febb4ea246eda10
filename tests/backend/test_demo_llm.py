#!/usr/bin/env python3
"""scripts/demo.sh finds a local OpenAI-compatible LLM server by itself: a fake one (GET
/v1/models, streaming /v1/chat/completions) listens on a port of AVATARKIT_LLM_PORTS that is
also the demo's own port (as llama.cpp's 8080 is): demo.sh moves the demo to a free port,
prints the model it chose (the first listed), and the backend answers with it. With
AVATARKIT_LLM=none detection is off, and with no server answering the built-in agent says
what it can do instead of echoing. Exit 0 pass, 1 fail, 77 skip."""
import os
import re
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import fake_providers  # noqa: E402
import wsclient  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
for exe in ("avatarkit-backend", "avatarkit-motion-server"):
    if not os.path.exists(os.path.join(build, "bin", exe)):
        print(f"SKIP: {exe} not built in {build}")
        sys.exit(77)
fails = []


def check(c, what):
    print(("  ok   " if c else "  FAIL ") + what)
    if not c:
        fails.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_demo(env_extra, question):
    """Runs demo.sh until its banner, asks one question over the WebSocket, stops it with
    Ctrl-C. Returns (output, ready message, reply text, audio seen)."""
    env = dict(os.environ, AVATARKIT_SKIP_DEPS="1", AVATARKIT_SKIP_WEB="1", AVATARKIT_BUILD_DIR=build,
               AVATARKIT_JOBS="2", AVATARKIT_DEMO_PORT="0", AVATARKIT_MOTION_PORT="0")
    for k in list(env):
        if k.startswith("AVATARKIT_LLM") or k == "AVATARKIT_API_KEY":
            del env[k]
    env.update(env_extra)
    p = subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "demo.sh")], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    os.set_blocking(p.stdout.fileno(), False)
    out, url, ready, reply, audio = [], None, None, None, False
    try:
        deadline = time.monotonic() + 240  # may have to build
        while time.monotonic() < deadline and p.poll() is None:
            line = p.stdout.readline()
            if not line:
                time.sleep(0.05)
                continue
            out.append(line)
            m = re.search(r"open\s+http://127\.0\.0\.1:(\d+)", line)
            if m:
                url = int(m.group(1))
            if "Ctrl-C stops both" in line:
                break
        if url:
            ws = wsclient.WS("127.0.0.1", url)
            ready = ws.recv(10)
            ws.send_json({"type": "text_query", "text": question})
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (reply is not None and audio):
                try:
                    m = ws.recv(max(0.1, deadline - time.monotonic()))
                except TimeoutError:
                    break
                if m["type"] == "agent_event" and m["event"] == "llm_done":
                    reply = m["text"]
                elif m["type"] == "avatar_message" and wsclient.animation_of(m["bytes"])[3]:
                    audio = True
            ws.close()
    finally:
        wsclient.stop_group(p.pid, signal.SIGINT)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            wsclient.stop_group(p.pid, signal.SIGKILL)
            p.wait()
        try:
            out.append(p.stdout.read() or "")
        except (OSError, TypeError):
            pass
    if not url:  # the demo ended (or hung) before its banner: say how, not only that checks failed
        print("demo.sh exited with %s before its banner; its output:\n%s" % (p.returncode, "".join(out)))
    return "".join(out), ready, reply, audio, url


srv, _ = fake_providers.start(require_key=False, gate_on_tts=False)
fake_port = srv.server_address[1]
closed_port = free_port()
try:
    # 1. Found on the usual ports; the fake also sits on the demo's own port.
    q = "What is the capital of France?"
    text, ready, reply, audio, web = run_demo(
        {"AVATARKIT_LLM_PORTS": f"{closed_port} {fake_port}", "AVATARKIT_DEMO_PORT": str(fake_port)}, q)
    base = f"http://127.0.0.1:{fake_port}/v1"
    check(f"port {fake_port} is taken" in text and web and web != fake_port,
          f"the demo moves off the port the LLM server holds (demo on {web})")
    check(re.search(r"LLM: fake-local-7b at " + re.escape(base), text) is not None,
          "demo.sh prints the model it chose (the first listed) and where")
    check(srv.rec.models_gets >= 1, f"it asked GET /v1/models ({srv.rec.models_gets})")
    check(ready is not None and ready["agent"]["llm"] == "openai" and ready["agent"]["label"] == "fake-local-7b",
          f"the backend uses the found model ({ready and ready['agent']})")
    check(ready is not None and ready["agent"].get("asrModel") == "generic",
          f"with a model found the recognizer uses the generic English LM ({ready and ready['agent']})")
    check(reply == fake_providers.llm_reply(q) and audio, f"the model's streamed answer is spoken ({reply!r})")
    check(srv.rec.chat and srv.rec.chat[-1]["model"] == "fake-local-7b" and srv.rec.chat[-1]["stream"] is True,
          "the chat request streams with that model")
    gets = srv.rec.models_gets

    # 2. Detection off: the built-in agent, and nobody is asked.
    text, ready, reply, audio, _ = run_demo(
        {"AVATARKIT_LLM": "none", "AVATARKIT_LLM_PORTS": str(fake_port)}, q)
    check("detection off" in text and srv.rec.models_gets == gets, "AVATARKIT_LLM=none turns detection off")
    check(ready is not None and ready["agent"]["llm"] == "local", "the built-in agent answers")
    check(ready is not None and ready["agent"].get("asrModel") == "demo.lm",
          f"the built-in agent keeps the demo's domain LM ({ready and ready['agent']})")

    # 3. Nothing answers: the built-in agent says what it can do, not "You said".
    text, ready, reply, audio, _ = run_demo({"AVATARKIT_LLM_PORTS": str(closed_port)}, q)
    check("no LLM server answered" in text, "demo.sh says no LLM server answered and how to add one")
    check(reply is not None and "You said" not in reply and "France" not in reply and "Ollama" in reply and audio,
          f"the built-in agent says what it can do and how to plug a model in ({reply!r})")
finally:
    srv.shutdown()
if fails:
    print(text[-3000:])
    sys.exit(1)
print("all checks passed")
