#!/usr/bin/env python3
"""A minimal WebSocket client (RFC 6455, ws:// only, standard library only).

  wsclient.py URL [--timeout S] [--until-total N] [--frames K]

Connects, prints every text frame on its own line (flushed), answers pings,
and exits 0 when a frame is JSON with "total" >= N (--until-total), or after K
frames (--frames), or when the server closes after at least one frame; exit 1
on timeout, a failed handshake or no frame at all.
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import struct
import sys
import time
from urllib.parse import urlparse

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf


def send_frame(sock, opcode, payload=b""):
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    sock.sendall(head + mask + masked)


def read_frame(sock):
    b0, b1 = recv_exact(sock, 2)
    fin, opcode = b0 & 0x80, b0 & 0x0F
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", recv_exact(sock, 8))[0]
    mask = recv_exact(sock, 4) if b1 & 0x80 else None
    data = recv_exact(sock, n)
    if mask:
        data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    return fin, opcode, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--until-total", type=int, default=None)
    ap.add_argument("--frames", type=int, default=None)
    a = ap.parse_args()

    u = urlparse(a.url)
    host, port = u.hostname, u.port or 80
    path = (u.path or "/") + ("?" + u.query if u.query else "")
    deadline = time.time() + a.timeout
    sock = socket.create_connection((host, port), timeout=a.timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
           "Origin: http://%s:%d\r\n\r\n") % (path, host, port, key, host, port)
    sock.sendall(req.encode())
    resp = b""
    while b"\r\n\r\n" not in resp:
        chunk = sock.recv(4096)
        if not chunk:
            print("wsclient: closed during handshake: %r" % resp[:200], file=sys.stderr)
            return 1
        resp += chunk
    head, rest = resp.split(b"\r\n\r\n", 1)
    lines = head.decode(errors="replace").split("\r\n")
    if " 101 " not in lines[0] + " ":
        print("wsclient: handshake refused: %s" % lines[0], file=sys.stderr)
        return 1
    hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
    want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    if hdrs.get("sec-websocket-accept") != want:
        print("wsclient: bad Sec-WebSocket-Accept", file=sys.stderr)
        return 1

    # Bytes already read past the handshake: put them in front of the socket.
    class Buffered:
        def __init__(self, s, pre):
            self.s, self.pre = s, pre

        def recv(self, n):
            if self.pre:
                out, self.pre = self.pre[:n], self.pre[n:]
                return out
            return self.s.recv(n)

        def sendall(self, d):
            self.s.sendall(d)

        def settimeout(self, t):
            self.s.settimeout(t)

    bs = Buffered(sock, rest)
    frames, msg = 0, b""
    while True:
        left = deadline - time.time()
        if left <= 0:
            print("wsclient: timeout after %d frames" % frames, file=sys.stderr)
            return 1
        bs.settimeout(left)
        try:
            fin, opcode, data = read_frame(bs)
        except (socket.timeout, TimeoutError):
            print("wsclient: timeout after %d frames" % frames, file=sys.stderr)
            return 1
        except EOFError:
            return 0 if frames else 1
        if opcode == 0x9:
            send_frame(bs, 0xA, data)
            continue
        if opcode == 0x8:
            try:
                send_frame(bs, 0x8, data[:2])
            except OSError:
                pass
            return 0 if frames else 1
        if opcode in (0x1, 0x2, 0x0):
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
        print("wsclient: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        sys.exit(1)
