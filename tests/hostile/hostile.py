"""Raw HTTP and WebSocket helpers for the hostile-input suite.

Everything goes over plain sockets, so a request can carry exactly the
bytes a test wants (CR, LF and NUL included), which no HTTP library sends.
Standard library only.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import time
from dataclasses import dataclass, field

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class Answer:
    status: int
    headers: dict = field(default_factory=dict)   # lower-case name -> value
    body: bytes = b""
    raw: bytes = b""

    def json(self):
        return json.loads(self.body)


def parse_answer(raw):
    """The first HTTP answer in raw bytes (status 0 when there is none)."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        return Answer(0, {}, b"", raw)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = \
            value.strip().decode("latin-1")
    if "content-length" in headers:
        rest = rest[:int(headers["content-length"])]
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        rest = dechunk(rest)
    return Answer(int(parts[1]), headers, rest, raw)


def dechunk(data):
    out = b""
    while data:
        size, _, data = data.partition(b"\r\n")
        n = int(size.split(b";")[0] or b"0", 16)
        if n == 0:
            break
        out, data = out + data[:n], data[n + 2:]
    return out


def send_raw(port, data, timeout=10.0, source=None):
    """Sends data on a new connection (from the local address source, e.g.
    "127.0.0.2", when given), half-closes nothing, and reads until the
    server closes or one whole answer is in. Returns an Answer."""
    with socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0) if source else None) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass            # the server may answer and close early
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                break
            if not chunk:
                break
            buf += chunk
            if complete(buf):
                break
        return parse_answer(buf)


def complete(buf):
    a = parse_answer(buf)
    if a.status == 0:
        return False
    if "content-length" in a.headers:
        head_len = buf.index(b"\r\n\r\n") + 4
        return len(buf) - head_len >= int(a.headers["content-length"])
    return buf.endswith(b"0\r\n\r\n")


def request(method, path, headers=(), body=b"", version=b"HTTP/1.1"):
    """Builds a request; headers are (name, value) byte pairs sent as is,
    Host and Connection: close are added unless given, Content-Length when
    there is a body and none was given."""
    names = {n.lower() for n, _ in headers}
    lines = [method + b" " + path + b" " + version]
    if b"host" not in names:
        lines.append(b"Host: hostile.test")
    for n, v in headers:
        lines.append(n + b": " + v)
    if body and b"content-length" not in names and \
            b"transfer-encoding" not in names:
        lines.append(b"Content-Length: %d" % len(body))
    if b"connection" not in names:
        lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def get(port, path, timeout=10.0):
    return send_raw(port, request(b"GET", path), timeout)


def post_json(port, path, obj, headers=()):
    body = json.dumps(obj).encode()
    return send_raw(port, request(
        b"POST", path, ((b"Content-Type", b"application/json"),) +
        tuple(headers), body))


def is_json_4xx(a, also=()):
    """'' when a is a 4xx (or a status in also) with a JSON object body
    carrying an "error" string, else what is wrong with it."""
    if not (400 <= a.status < 500 or a.status in also):
        return f"status {a.status}, not 4xx: {a.raw[:300]!r}"
    ctype = a.headers.get("content-type", "")
    if not ctype.startswith("application/json"):
        return f"Content-Type {ctype!r}, not application/json: {a.raw[:300]!r}"
    try:
        doc = json.loads(a.body)
    except ValueError:
        return f"body is not JSON: {a.body[:200]!r}"
    if not isinstance(doc, dict) or not isinstance(doc.get("error"), str):
        return f'body has no "error" string: {a.body[:200]!r}'
    return ""


# -- WebSocket (RFC 6455), client side ---------------------------------------

def ws_connect(port, path=b"/api/results/ws", timeout=10.0):
    """A socket past a successful handshake, and the bytes read after it."""
    key = base64.b64encode(os.urandom(16))
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(request(b"GET", path, (
        (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Key", key), (b"Sec-WebSocket-Version", b"13"))))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise EOFError(f"closed during the handshake: {buf!r}")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise AssertionError(f"no 101: {head!r}")
    want = base64.b64encode(hashlib.sha1(key + GUID).digest())
    if want not in head:
        raise AssertionError(f"bad Sec-WebSocket-Accept: {head!r}")
    return s, rest


def ws_frame(opcode, payload=b"", mask=True, fin=True, rsv=0, length=None):
    """One frame; length overrides the length field (to lie about it)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    m = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, m | n])
    elif n < 65536:
        head = bytes([b0, m | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, m | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def ws_read_frame(s, pending=b""):
    """(opcode, payload, rest) of the next server frame."""
    buf = pending

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("closed")
            buf += chunk

    need(2)
    n = buf[1] & 0x7F
    off = 2
    if n == 126:
        need(4)
        n = struct.unpack(">H", buf[2:4])[0]
        off = 4
    elif n == 127:
        need(10)
        n = struct.unpack(">Q", buf[2:10])[0]
        off = 10
    need(off + n)
    return buf[0] & 0x0F, buf[off:off + n], buf[off + n:]


def ws_first_text(port, timeout=10.0):
    """The first text frame a new client gets (a results snapshot)."""
    s, rest = ws_connect(port, timeout=timeout)
    try:
        while True:
            op, payload, rest = ws_read_frame(s, rest)
            if op == 1:
                return json.loads(payload)
    finally:
        s.close()


def closed_by_server(s, within):
    """True when the server closes s (EOF, reset, or a close frame) within
    `within` seconds, whatever else it sends first."""
    s.settimeout(0.5)
    deadline = time.monotonic() + within
    buf = b""
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return True
        if not chunk:
            return True
        buf += chunk
        # a close frame (opcode 8) from the server counts as closing
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            off = 2 + (2 if n == 126 else 8 if n == 127 else 0)
            if len(buf) < off:
                break
            if n >= 126:
                n = int.from_bytes(buf[2:off], "big")
            if buf[0] & 0x0F == 8:
                return True
            if len(buf) < off + n:
                break
            buf = buf[off + n:]
    return False
