"""HTTP helpers of the test suites (standard library only).

Raw: requests built and sent over plain sockets, so that a request can
carry exactly the bytes a test wants (CR, LF and NUL included), which no
HTTP library sends; answers parsed into an Answer.

Plain: urllib for well-formed requests (status and body, JSON, a vote),
and wait_until, the poll every suite uses.
"""
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field


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
    """True when buf holds one whole answer (Content-Length or chunked)."""
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


# -- plain requests (urllib) --------------------------------------------------

def http_get(url, timeout=5):
    """(status, body); status 0 when nothing answered"""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (OSError, ValueError):
        return 0, ""


def http_json(url, timeout=5):
    """The JSON document at url (raises on an error status or no answer)."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.load(r)


def vote(base, voter, option, timeout=10):
    """POST base/api/vote; the HTTP status as a string ("000": no answer)"""
    body = json.dumps({"vote": option, "voter_id": voter}).encode()
    req = urllib.request.Request(base + "/api/vote", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
            return str(r.status)
    except urllib.error.HTTPError as e:
        return str(e.code)
    except OSError:
        return "000"


def wait_until(what, check, seconds=30):
    """Polls check() every 0.1 s (an OSError counts as not yet) until it is
    true; an AssertionError naming what after seconds."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not true after {seconds} s")
        time.sleep(0.1)
