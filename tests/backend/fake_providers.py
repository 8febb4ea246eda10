"""Fake OpenAI-compatible providers on loopback for the backend's tests: GET /v1/models,
streaming /v1/chat/completions (SSE), /v1/audio/speech (raw PCM, chunked) and
/v1/audio/transcriptions (multipart WAV in, JSON text out). Requests are recorded (with
monotonic times) so tests can assert on them and on their order.

Chat queries holding these words misbehave: FAIL (HTTP 500), MALFORMED (a broken event after
the first sentence), HANG (the stream stalls after the first sentence until the client
leaves), SLOW (stalls up to 8 s after the first sentence, recording an abort)."""
import json
import math
import select
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LLM_KEY = "test-llm-key"
TTS_RATE = 24000
ASR_TEXT = "what time is it"
MODELS = ["fake-local-7b", "fake-other"]


def llm_reply(user_text):
    return f"Fake model heard {len(user_text)} characters. This is the second sentence!"


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.chat = []   # request bodies
        self.speech = [] # input texts
        self.asr = []    # (wav bytes length, sample rate)
        self.auth = []
        self.aborted = []  # queries whose stream the client closed mid-way
        self.speech_t = []  # monotonic time each /audio/speech request arrived
        self.last_chunk_t = []  # monotonic time each chat stream sent its last content chunk
        self.models_gets = 0

    def add(self, kind, item):
        with self.lock:
            getattr(self, kind).append(item)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def _json(self, status, obj):
        b = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")
        self.wfile.flush()

    def _client_gone_within(self, seconds):
        """True when the client closes the connection within the given time."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([self.connection], [], [], 0.05)
            if r:
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        return True
                except OSError:
                    return True
        return False

    def do_GET(self):
        if self.path == "/v1/models":
            with self.server.rec.lock:
                self.server.rec.models_gets += 1
            return self._json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": "fake"} for m in MODELS]})
        self._json(404, {"error": {"message": "no such path"}})

    def _wait_for_speech(self, n_before, seconds):
        """Waits (bounded) until the backend asks for speech: with sentence-wise streaming it
        speaks the first sentence while this stream is still open."""
        end = time.monotonic() + seconds
        while time.monotonic() < end and len(self.server.rec.speech) <= n_before:
            time.sleep(0.01)

    def do_POST(self):
        rec = self.server.rec
        rec.add("auth", self.headers.get("Authorization", ""))
        if self.path == "/v1/chat/completions":
            req = json.loads(self._body())
            rec.add("chat", req)
            if self.server.require_key and self.headers.get("Authorization") != "Bearer " + LLM_KEY:
                return self._json(401, {"error": {"message": "bad key"}})
            user = req["messages"][-1]["content"]
            if "FAIL" in user:
                return self._json(500, {"error": {"message": "fake model is broken"}})
            reply = llm_reply(user)
            n_speech = len(rec.speech)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                words = reply.split(" ")
                self._chunk(b": hello\n\n" + b'data: {"choices":[{"delta":{"role":"assistant"}}]}\n\n')
                for i, w in enumerate(words):
                    piece = (w if i == 0 else " " + w)
                    ev = "data: " + json.dumps({"choices": [{"delta": {"content": piece}}]}) + "\n\n"
                    # split events across chunks at odd places to exercise the parser
                    b = ev.encode()
                    self._chunk(b[:7])
                    self._chunk(b[7:])
                    if piece.endswith("."):
                        # a slow model: the first sentence must not wait for the rest; "SLOW"
                        # queries stall long enough that only a cancelled request ends early
                        if "SLOW" in user or "HANG" in user:
                            if self._client_gone_within(8.0 if "SLOW" in user else 30.0):
                                rec.add("aborted", user)
                                return
                        elif "MALFORMED" in user:
                            self._chunk(b'data: {"choices": [{"delta": {"content": " bro\n\n')
                            self._chunk(b"")
                            return
                        elif self.server.gate_on_tts:
                            self._wait_for_speech(n_speech, 5.0)
                        else:
                            time.sleep(0.2)
                rec.add("last_chunk_t", time.monotonic())
                self._chunk(b"data: [DONE]\n\n")
                self._chunk(b"")
            except (BrokenPipeError, ConnectionResetError):
                rec.add("aborted", user)  # the client closed the stream mid-way
                self.close_connection = True
        elif self.path == "/v1/audio/speech":
            req = json.loads(self._body())
            rec.add("speech_t", time.monotonic())
            rec.add("speech", req["input"])
            if req.get("response_format") != "pcm":
                return self._json(400, {"error": {"message": "pcm only"}})
            n = min(TTS_RATE * 4, int(TTS_RATE * 0.06 * len(req["input"])))
            pcm = bytearray()
            for i in range(n):
                env = 0.5 + 0.5 * math.sin(2 * math.pi * 3 * i / TTS_RATE)  # syllable-like
                pcm += struct.pack("<h", int(9000 * env * math.sin(2 * math.pi * 180 * i / TTS_RATE)))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for off in range(0, len(pcm), 4801):  # odd sizes split samples across chunks
                self._chunk(bytes(pcm[off:off + 4801]))
            self._chunk(b"")
        elif self.path == "/v1/audio/transcriptions":
            body = self._body()
            ctype = self.headers.get("Content-Type", "")
            i = body.find(b"RIFF")
            ok = "multipart/form-data" in ctype and i >= 0 and body[i + 8:i + 12] == b"WAVE"
            if not ok:
                return self._json(400, {"error": {"message": "expected a WAV file part"}})
            rate = struct.unpack("<I", body[i + 24:i + 28])[0]
            size = struct.unpack("<I", body[i + 40:i + 44])[0]
            rec.add("asr", (size, rate))
            self._json(200, {"text": ASR_TEXT})
        else:
            self._json(404, {"error": {"message": "no such path"}})


def start(require_key=True, gate_on_tts=True, port=0):
    """Starts the fake providers on a loopback port (0: a free one); returns (server,
    base_url). require_key: chat needs LLM_KEY (local servers such as Ollama need none).
    gate_on_tts: after the first sentence the chat stream waits (up to 5 s) until the backend
    asks /audio/speech for it (else it pauses 0.2 s)."""
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.require_key = require_key
    srv.gate_on_tts = gate_on_tts
    srv.rec = Recorder()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}/v1"
