#!/usr/bin/env python3
"""scripts/demo.sh end to end: it starts the Motion Server and the backend on free loopback
ports, prints the URL, the page and the WebSocket answer there, and Ctrl-C (SIGINT to the
whole process group, as a terminal sends it) stops both. Exit 0 pass, 1 fail, 77 skip."""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
import wsclient  # noqa: E402

build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
for exe in ("avatarkit-backend", "avatarkit-motion-server"):
    if not os.path.exists(os.path.join(build, "bin", exe)):
        print(f"SKIP: {exe} not built in {build}")
        sys.exit(77)

env = dict(os.environ, AVATARKIT_SKIP_DEPS="1", AVATARKIT_SKIP_WEB="1", AVATARKIT_BUILD_DIR=build,
           AVATARKIT_JOBS="2", AVATARKIT_DEMO_PORT="0", AVATARKIT_MOTION_PORT="0")
env.pop("AVATARKIT_API_KEY", None)
p = subprocess.Popen(["bash", os.path.join(ROOT, "scripts", "demo.sh")], env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                     start_new_session=True)
fails = []


def check(c, what):
    print(("  ok   " if c else "  FAIL ") + what)
    if not c:
        fails.append(what)


out = []
url = motion = None
deadline = time.monotonic() + 240  # may have to build
os.set_blocking(p.stdout.fileno(), False)
while time.monotonic() < deadline and p.poll() is None and not (url and motion):
    line = p.stdout.readline()
    if not line:
        time.sleep(0.05)
        continue
    out.append(line)
    m = re.search(r"open\s+(http://127\.0\.0\.1:(\d+))", line)
    if m:
        url = m.group(1)
    m = re.search(r"Motion Server\s+http://127\.0\.0\.1:(\d+)", line)
    if m:
        motion = int(m.group(1))
check(url is not None and motion is not None, f"the URL is printed ({url}, motion {motion})")
try:
    if url:
        with urllib.request.urlopen(url + "/", timeout=10) as r:
            check(r.status == 200 and b"avatarkit" in r.read(), "the demo page is served")
        port = int(url.rsplit(":", 1)[1])
        ws = wsclient.WS("127.0.0.1", port)
        ready = ws.recv(10)
        check(ready["type"] == "ready" and ready["avatar"]["appId"], "the backend answers with generated credentials")
        ws.send_json({"type": "text_query", "text": "hello"})
        got = set()  # "audio", "motion", "end" seen in the relayed Messages
        t_end = time.monotonic() + 20
        while time.monotonic() < t_end and not {"audio", "motion", "end"} <= got:
            m = ws.recv(20)
            if m["type"] == "avatar_message":
                _, end, mo, au = wsclient.animation_of(m["bytes"])
                got |= {k for k, v in (("audio", au), ("motion", mo), ("end", end)) if v}
        check({"audio", "motion", "end"} <= got, f"a turn reaches the Motion Server and back ({sorted(got)})")
        ws.close()
finally:
    os.killpg(p.pid, signal.SIGINT)  # Ctrl-C
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        check(False, "demo.sh stops within 30 s of Ctrl-C")
    try:
        rest = p.stdout.read() or ""
    except (OSError, TypeError):
        rest = ""
    out.append(rest)
text = "".join(out)
check("stopped" in text, "demo.sh reports that it stopped")
for name, port in (("backend", url and int(url.rsplit(":", 1)[1])), ("motion server", motion)):
    if port:
        s = socket.socket()
        s.settimeout(2)
        closed = s.connect_ex(("127.0.0.1", port)) != 0
        s.close()
        check(closed, f"the {name} is gone after Ctrl-C")
if fails:
    print(text[-3000:])
    sys.exit(1)
print("all checks passed")
