"""RESULT_MAX_PER_ADDR through ui/result/nginx.conf: a second result
process on the stack's Postgres, with 2 viewers at most per client address
and nginx (127.0.0.1) as its trusted proxy (RESULT_TRUSTED_PROXIES), and
nginx in front of it. Clients take distinct loopback addresses (127.0.0.2,
127.0.0.3...), as clients behind one proxy have distinct addresses.

- one address is capped (503, Retry-After, result's JSON reason, through
  nginx) while another still gets in; its own X-Forwarded-For changes
  nothing;
- on the port clients reach, even a trusted peer (127.0.0.1, as the
  bridge's gateway is for a client on the Docker host in compose) is
  counted as itself, whatever it names;
- on traefik's port, from a trusted peer, the forwarded address counts;
  from a peer that is not one, the peer;
- once the capped address's viewers leave, it gets in again.
"""
import base64
import json
import os
import socket
import time
from pathlib import Path

import pytest

from conftest import Nginx, Service
from support.http import complete, request, wait_until

PER_ADDR = 2
WS = b"/api/results/ws"


@pytest.fixture(scope="module")
def capped(stack):
    secrets = Path(stack.run_dir) / "secrets"
    r = Service(stack, "result", dict(
        POSTGRES_HOST="127.0.0.1",
        POSTGRES_PORT=str(stack.ports["PG_PORT"]),
        POSTGRES_DB="postgres", POSTGRES_USER="result",
        POSTGRES_PASSWORD_FILE=str(secrets / "postgres_result_password"),
        RESULT_MAX_PER_ADDR=str(PER_ADDR),
        RESULT_TRUSTED_PROXIES="127.0.0.1"))
    n = Nginx("result", "result", r.port)
    viewers = []
    yield r, n, viewers
    for s in viewers:
        s.close()
    n.stop()
    r.stop()


def viewer(port, source, viewers, xff=None):
    """An upgrade from source (with its own X-Forwarded-For when given):
    the status and the head; a 101's socket is kept in viewers."""
    headers = [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"),
               (b"Sec-WebSocket-Key", base64.b64encode(os.urandom(16))),
               (b"Sec-WebSocket-Version", b"13")]
    if xff:
        headers.append((b"X-Forwarded-For", xff.encode()))
    s = socket.create_connection(("127.0.0.1", port), timeout=10,
                                 source_address=(source, 0))
    s.sendall(request(b"GET", WS, tuple(headers)))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    status = int(buf.split(b" ", 2)[1]) if buf.startswith(b"HTTP/") else 0
    if status == 101:
        viewers.append(s)
    else:
        while not complete(buf):   # the refusal's body (keep-alive)
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        s.close()
    return status, buf


def assert_refused(answer):
    status, raw = answer
    assert status == 503, raw[:300]
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"retry-after: 1" in head.lower().split(b"\r\n"), head
    assert b"content-length:" in head.lower(), head
    assert json.loads(body)["error"] == \
        "too many clients from your address", body


def test_one_address_capped_another_not_spoof_ignored(capped):
    r, nginx, viewers = capped
    assert viewer(nginx.port, "127.0.0.2", viewers)[0] == 101
    assert viewer(nginx.port, "127.0.0.2", viewers)[0] == 101
    assert_refused(viewer(nginx.port, "127.0.0.2", viewers))
    assert_refused(viewer(nginx.port, "127.0.0.2", viewers, "198.51.100.9"))
    assert_refused(viewer(nginx.port, "127.0.0.2", viewers,
                          "198.51.100.9, 127.0.0.1"))
    assert viewer(nginx.port, "127.0.0.3", viewers)[0] == 101


def test_trusted_peer_counted_as_itself_on_the_direct_port(capped):
    r, nginx, viewers = capped
    got = [viewer(nginx.port, "127.0.0.1", viewers, f"203.0.113.{i}")[0]
           for i in range(PER_ADDR + 2)]
    print(f"{PER_ADDR + 2} viewers from 127.0.0.1, each naming a new "
          f"address: {got}")
    assert got == [101] * PER_ADDR + [503] * 2


def test_traefik_port_counts_the_forwarded_address(capped):
    r, nginx, viewers = capped
    port = nginx.trusted_port
    got = [viewer(port, "127.0.0.1", viewers, "198.51.100.70")[0]
           for _ in range(PER_ADDR + 1)]
    assert got == [101] * PER_ADDR + [503], got
    assert viewer(port, "127.0.0.1", viewers, "198.51.100.71")[0] == 101
    # 127.0.0.5 is no proxy: what it names does not count, it does
    assert viewer(port, "127.0.0.5", viewers, "198.51.100.70")[0] == 101
    # a forwarded 127.0.0.2 is 127.0.0.2, still at its cap
    assert_refused(viewer(port, "127.0.0.1", viewers, "127.0.0.2"))


def test_capped_address_gets_in_after_its_viewers_leave(capped):
    r, nginx, viewers = capped
    for s in viewers[:2]:               # 127.0.0.2's two viewers
        assert s.getsockname()[0] == "127.0.0.2"
        s.close()
    del viewers[:2]
    t0 = time.monotonic()
    wait_until("127.0.0.2 admitted again", lambda: viewer(
        nginx.port, "127.0.0.2", viewers)[0] == 101, 10)
    print(f"127.0.0.2 back in {time.monotonic() - t0:.2f} s after its "
          "viewers left")
    assert viewer(nginx.port, "127.0.0.2", viewers)[0] == 101
    assert_refused(viewer(nginx.port, "127.0.0.2", viewers))
