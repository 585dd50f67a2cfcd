#!/usr/bin/env python3
"""One WebSocket client (RFC 6455, ws:// only, standard library only), for
well-behaved clients and hostile ones alike: the handshake, any frame
(masked or not, reserved bits and opcodes, a lying length), reading the
server's frames, and whether the server closed a socket.

As a command, a client that prints what a socket receives:

  ws.py URL [--timeout S] [--until-total N] [--frames K]

connects, prints every text frame on its own line (flushed), answers pings,
and exits 0 when a frame is JSON with "total" >= N (--until-total), or after
K frames (--frames), or when the server closes after at least one frame;
exit 1 on timeout, a failed handshake or no frame at all.
"""
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time

if __name__ == "__main__" and not __package__:
    # run as a file: import the package from tests/, not support/http.py as
    # the standard library's http
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from support.http import request  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 0xA


def ws_connect(port, path=b"/api/results/ws", timeout=10.0, host="127.0.0.1",
               headers=()):
    """A socket past a successful handshake with host:port, and the bytes
    read after it; headers are more (name, value) byte pairs (Host, Origin).
    Raises EOFError when the server closes during the handshake,
    AssertionError when it answers anything but a valid 101."""
    key = base64.b64encode(os.urandom(16))
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(request(b"GET", path, (
            (b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"),
            (b"Sec-WebSocket-Key", key), (b"Sec-WebSocket-Version", b"13"))
            + tuple(headers)))
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
    except BaseException:
        s.close()
        raise
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


def read_frame(s, pending=b""):
    """(fin, opcode, payload, rest) of the next frame on s, after the bytes
    already read (pending); rest is what was read past it. EOFError when
    the connection closes first."""
    buf = pending

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("closed")
            buf += chunk

    need(2)
    masked, n = buf[1] & 0x80, buf[1] & 0x7F
    off = 2
    if n == 126:
        need(4)
        n = struct.unpack(">H", buf[2:4])[0]
        off = 4
    elif n == 127:
        need(10)
        n = struct.unpack(">Q", buf[2:10])[0]
        off = 10
    key = b""
    if masked:                  # servers don't mask; unmasked when they do
        need(off + 4)
        key, off = buf[off:off + 4], off + 4
    need(off + n)
    data = buf[off:off + n]
    if key:
        data = bytes(c ^ key[i % 4] for i, c in enumerate(data))
    return bool(buf[0] & 0x80), buf[0] & 0x0F, data, buf[off + n:]


def ws_read_frame(s, pending=b""):
    """(opcode, payload, rest) of the next server frame."""
    _, op, data, rest = read_frame(s, pending)
    return op, data, rest


def ws_first_text(port, timeout=10.0):
    """The first text frame a new client gets (a results snapshot)."""
    s, rest = ws_connect(port, timeout=timeout)
    try:
        while True:
            op, payload, rest = ws_read_frame(s, rest)
            if op == OP_TEXT:
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
            if buf[0] & 0x0F == OP_CLOSE:
                return True
            if len(buf) < off + n:
                break
            buf = buf[off + n:]
    return False


def main():
    import argparse
    from urllib.parse import urlparse

    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--until-total", type=int, default=None)
    ap.add_argument("--frames", type=int, default=None)
    a = ap.parse_args()

    u = urlparse(a.url)
    host, port = u.hostname, u.port or 80
    path = (u.path or "/") + ("?" + u.query if u.query else "")
    hostport = f"{host}:{port}".encode()
    deadline = time.time() + a.timeout
    try:
        s, rest = ws_connect(port, path.encode(), a.timeout, host, (
            (b"Host", hostport), (b"Origin", b"http://" + hostport)))
    except (EOFError, AssertionError) as e:
        print(f"ws.py: handshake refused: {e}", file=sys.stderr)
        return 1
    frames, msg = 0, b""
    while True:
        left = deadline - time.time()
        if left <= 0:
            print("ws.py: timeout after %d frames" % frames, file=sys.stderr)
            return 1
        s.settimeout(left)
        try:
            fin, opcode, data, rest = read_frame(s, rest)
        except (socket.timeout, TimeoutError):
            print("ws.py: timeout after %d frames" % frames, file=sys.stderr)
            return 1
        except EOFError:
            return 0 if frames else 1
        if opcode == OP_PING:
            s.sendall(ws_frame(OP_PONG, data))
            continue
        if opcode == OP_CLOSE:
            try:
                s.sendall(ws_frame(OP_CLOSE, data[:2]))
            except OSError:
                pass
            return 0 if frames else 1
        if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
            msg += data
            if not fin:
                continue
            text, msg = msg.decode(errors="replace"), b""
            frames += 1
            print(text, flush=True)
            if a.frames and frames >= a.frames:
                return 0
            if a.until_total is not None:
                try:
                    if int(json.loads(text).get("total", -1)) >= a.until_total:
                        return 0
                except (ValueError, AttributeError):
                    pass


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (OSError, EOFError) as e:
        print("ws.py: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
