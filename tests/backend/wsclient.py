"""Minimal RFC 6455 WebSocket client (Python stdlib only) for the backend's loopback tests:
text messages as JSON, binary messages (relayed Motion Server Messages), reassembly of
fragments, close handling, byte counters, and every read bounded by a timeout. Also a tiny protobuf reader to look inside relayed avatarkit payloads."""
import base64
import json
import os
import socket
import struct
import time


def stop_group(pid, sig):
    """Signals the process group a test started (demo.sh and its children); the group may
    have ended by itself already, which is not an error of the test's."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


class Closed(Exception):
    pass


class WS:
    def __init__(self, host, port, path="/ws/agent", timeout=10.0, rcvbuf=None):
        if rcvbuf:  # a slow reader: tiny kernel receive window, set before connecting
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(timeout)
            self.sock.connect((host, port))
        else:
            self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise Closed("closed during handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = head.split(b"\r\n")[0]
        if b" 101 " not in status:
            raise Closed("handshake refused: " + status.decode(errors="replace"))
        self.close_code = None
        self.rx_bytes = 0  # every byte read from the socket after the handshake (frames)
        self.rx_text = 0   # payload bytes of text messages returned by recv()
        self.rx_binary = 0  # payload bytes of binary messages returned by recv()

    def _send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if n < 4096 else \
            _mask_fast(payload, mask)
        self.sock.sendall(hdr + mask + masked)

    def send_json(self, obj):
        self._send_frame(1, json.dumps(obj).encode())

    def send_text(self, text, fragments=1):
        data = text.encode() if isinstance(text, str) else text
        if fragments <= 1:
            self._send_frame(1, data)
            return
        step = max(1, len(data) // fragments)
        parts = [data[i:i + step] for i in range(0, len(data), step)]
        for i, p in enumerate(parts):
            self._send_frame(1 if i == 0 else 0, p, fin=(i == len(parts) - 1))

    def send_binary(self, data):
        self._send_frame(2, data)

    def _read(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("websocket read timed out")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Closed("connection closed")
            self.rx_bytes += len(chunk)
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self, timeout=10.0):
        """Next complete message: a text one as its JSON dict, a binary one as
        {"type": "avatar_message", "bytes": payload} (raises Closed / TimeoutError)."""
        deadline = time.monotonic() + timeout
        parts = []
        first_op = None
        while True:
            b0, b1 = self._read(2, deadline)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2, deadline))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8, deadline))[0]
            payload = self._read(n, deadline)
            op = b0 & 0x0F
            if op == 8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                raise Closed(f"close {self.close_code}")
            if op == 9:
                self._send_frame(10, payload)
                continue
            if op == 10:
                continue
            if first_op is None:
                first_op = op
            parts.append(payload)
            if b0 & 0x80:
                data = b"".join(parts)
                if first_op == 2:
                    self.rx_binary += len(data)
                    return {"type": "avatar_message", "bytes": data}
                self.rx_text += len(data)
                return json.loads(data.decode())

    def close(self):
        try:
            self._send_frame(8, struct.pack("!H", 1000))
        except OSError:
            pass
        self.sock.close()

    def abort(self):
        """Drops the TCP connection without a close frame."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


def _mask_fast(payload, mask):
    m = int.from_bytes(mask * ((len(payload) + 3) // 4), "little")
    p = int.from_bytes(payload, "little")
    return (p ^ (m & ((1 << (8 * len(payload))) - 1))).to_bytes(len(payload), "little")


# ---- protobuf reading (just enough for Message / ServerResponseAnimation / payloads) -----

def pb_fields(buf):
    """Yields (field number, wire type, value) for one serialized message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        fno, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v = buf[i:i + n]
            i += n
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("bad wire type")
        yield fno, wt, v


def _varint(buf, i):
    shift = v = 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7


def pb_dict(buf):
    d = {}
    for f, _, v in pb_fields(buf):
        d.setdefault(f, []).append(v)
    return d


def audio_bytes_of(message_bytes):
    """The serialized AvatarAudio inside a SERVER_RESPONSE_ANIMATION, or None."""
    a = pb_dict(pb_dict(message_bytes)[6][0])
    return a[101][0] if 101 in a else None


def animation_of(message_bytes):
    """(req_id, end, motion dict or None, audio dict or None) of a SERVER_RESPONSE_ANIMATION."""
    m = pb_dict(message_bytes)
    assert m.get(1, [0])[0] == 5, "not a SERVER_RESPONSE_ANIMATION"
    a = pb_dict(m[6][0])
    req = a.get(2, [b""])[0].decode()
    end = bool(a.get(3, [0])[0])
    motion = pb_dict(a[100][0]) if 100 in a else None
    audio = pb_dict(a[101][0]) if 101 in a else None
    return req, end, motion, audio
