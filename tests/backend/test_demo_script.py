#!/usr/bin/env python3
"""scripts/demo.sh end to end: it starts the Motion Server and the backend on free loopback
ports, prints the URL, the dev credentials (accepted by the Motion Server) and the log files
(written), the page and the WebSocket answer there; the Motion Server is killed with SIGKILL
mid-answer: the cut turn ends with an error relayed to the browser, demo.sh restarts the
server on the same port, and the next turn of the same browser session gets avatar speech;
Ctrl-C (SIGINT to the whole process group, as a terminal sends it) stops both. Exit 0 pass,
1 fail, 77 skip."""
import json
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
statuses = []  # "status" messages the backend sent the browser


def check(c, what):
    print(("  ok   " if c else "  FAIL ") + what)
    if not c:
        fails.append(what)


out = []
url = motion = motion_pid = key = app = logs = None
os.set_blocking(p.stdout.fileno(), False)


def read_until(pred, seconds):
    """Reads demo.sh output lines until pred(line) is true or the time is up (bounded)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and p.poll() is None:
        line = p.stdout.readline()
        if not line:
            time.sleep(0.05)
            continue
        out.append(line)
        if pred(line):
            return line
    return None


def banner(line):
    global url, motion, motion_pid, key, app, logs
    m = re.search(r"open\s+(http://127\.0\.0\.1:(\d+))", line)
    if m:
        url = m.group(1)
    m = re.search(r"Motion Server\s+http://127\.0\.0\.1:(\d+)\s+\(pid (\d+)", line)
    if m:
        motion, motion_pid = int(m.group(1)), int(m.group(2))
    m = re.search(r"dev app id\s+(\S+)", line)
    if m:
        app = m.group(1)
    m = re.search(r"dev API key\s+(\S+)", line)
    if m:
        key = m.group(1)
    m = re.search(r"logs\s+(\S+)\s+(\S+)", line)
    if m:
        logs = (m.group(1), m.group(2))
    return "Ctrl-C stops both" in line


def turn(ws, text, seconds=30):
    """One text turn: which of audio / motion / end arrived, and the error codes relayed."""
    ws.send_json({"type": "text_query", "text": text})
    got, errors = set(), []
    t_end = time.monotonic() + seconds
    while time.monotonic() < t_end and not {"audio", "motion", "end"} <= got:
        try:
            m = ws.recv(max(0.1, t_end - time.monotonic()))
        except (TimeoutError, OSError):
            break
        if m["type"] == "avatar_message":
            _, end, mo, au = wsclient.animation_of(m["bytes"])
            got |= {k for k, v in (("audio", au), ("motion", mo), ("end", end)) if v}
        elif m["type"] == "status":
            statuses.append(m.get("message", ""))
        elif m["type"] == "error":
            errors.append(m.get("code"))
            if "audio" in got:  # the cut: the answer's stream ended with an error
                break
    return got, errors


read_until(banner, 240)  # may have to build
check(url is not None and motion is not None, f"the URL is printed ({url}, motion {motion} pid {motion_pid})")
check(bool(key and app and key.startswith("dev-") and len(key) > 20), f"the dev credentials are printed (app {app})")
try:
    if url and key and app:
        req = urllib.request.Request(f"http://127.0.0.1:{motion}/v1/console/session-tokens",
                                     data=json.dumps({"expireAt": int(time.time()) + 600}).encode(),
                                     headers={"X-Api-Key": key, "X-App-ID": app,
                                              "Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            check(r.status == 200 and "sessionToken" in json.loads(r.read()),
                  "the printed dev key is accepted by the Motion Server")
    if url:
        with urllib.request.urlopen(url + "/", timeout=10) as r:
            page = r.read()
            check(r.status == 200 and b"avatarkit" in page, "the demo page is served")
            check(b"/sdk/player.html" in page and b"/sdk/inspector.html" in page,
                  "the demo page links the player and inspector pages")
        port = int(url.rsplit(":", 1)[1])
        ws = wsclient.WS("127.0.0.1", port)
        ready = ws.recv(10)
        check(ready["type"] == "ready" and ready["avatar"]["appId"], "the backend answers with generated credentials")
        got, _ = turn(ws, "hello")
        check({"audio", "motion", "end"} <= got, f"a turn reaches the Motion Server and back ({sorted(got)})")
        for path in logs or ():
            check(os.path.exists(path) and os.path.getsize(path) > 0, f"the named log file is written ({path})")

        # Kill the Motion Server mid-answer: a long answer, SIGKILL once its first audio is in.
        if motion_pid:
            ws.send_json({"type": "text_query", "text": "who are you"})
            first = None
            t_end = time.monotonic() + 20
            while time.monotonic() < t_end and first is None:
                m = ws.recv(20)
                if m["type"] == "avatar_message" and wsclient.animation_of(m["bytes"])[3]:
                    first = m
            check(first is not None, "the long answer starts")
            os.kill(motion_pid, signal.SIGKILL)
            cut = None
            t_end = time.monotonic() + 20
            while time.monotonic() < t_end and cut is None:
                try:
                    m = ws.recv(max(0.1, t_end - time.monotonic()))
                except (TimeoutError, OSError):
                    break
                if m["type"] == "error":
                    cut = m
                elif m["type"] == "status":
                    statuses.append(m.get("message", ""))
            check(cut is not None, f"the cut answer ends with an error relayed to the browser ({cut and cut.get('code')})")
            back = read_until(lambda line: "Motion Server is back" in line or "giving up" in line, 40)
            check(back is not None and "is back" in back, f"demo.sh restarts the Motion Server ({back and back.strip()})")
            check(any("restart 1 of" in line for line in out), "the restart is logged with its count")
            # the next turn of the same browser session is answered with speech (a turn sent
            # while the SDK is still reconnecting waits for the connection; bounded retries)
            got = set()
            for _ in range(3):
                got, errs = turn(ws, "hello", 30)
                if {"audio", "motion", "end"} <= got:
                    break
            check({"audio", "motion", "end"} <= got, f"the next turn after the restart gets avatar speech ({sorted(got)})")
            check(any("reconnected" in x for x in statuses),
                  f"the backend's Motion Server session reconnected by itself and said so ({statuses})")
        ws.close()
finally:
    wsclient.stop_group(p.pid, signal.SIGINT)  # Ctrl-C
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        wsclient.stop_group(p.pid, signal.SIGKILL)
        check(False, "demo.sh stops within 30 s of Ctrl-C")
    try:
        rest = p.stdout.read() or ""
    except (OSError, TypeError):
        rest = ""
    out.append(rest)
text = "".join(out)
check("stopped" in text, "demo.sh reports that it stopped")
after = text[text.rfind("stopping"):] if "stopping" in text else ""
check("restart" not in after and "is back" not in after, "Ctrl-C is not taken for a crash (no restart after it)")
check(p.returncode in (0, 130), f"demo.sh exits after Ctrl-C (status {p.returncode})")
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
