"""Slow senders: clients that trickle a request, or stop halfway, must not
keep the others waiting, and are bounded (here: a few seconds each)."""
import socket
import time

import pytest

from conftest import KNOWN_VOTER
from support.http import request, send_raw

SLOW_CLIENTS = 16
SLOW_SECONDS = 3.0


def open_slow(port, head):
    socks = []
    for _ in range(SLOW_CLIENTS):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(head)
        socks.append(s)
    return socks


def trickle_while_checking(port, socks, check_port, check_path):
    """Sends one header byte a socket every 0.25 s for SLOW_SECONDS while
    asking check_port for check_path; returns the slowest answer (s)."""
    worst = 0.0
    end = time.monotonic() + SLOW_SECONDS
    while time.monotonic() < end:
        for s in socks:
            try:
                s.sendall(b"x")
            except OSError:
                pass                    # the server gave up on it: fine
        t = time.monotonic()
        a = send_raw(check_port, request(b"GET", check_path), timeout=5)
        worst = max(worst, time.monotonic() - t)
        assert a.status == 200, a.raw[:200]
        time.sleep(0.25)
    return worst


@pytest.mark.parametrize("target,check", [
    ("vote", "/readyz"), ("vote-nginx", "/api/options"),
    ("result", "/readyz"), ("result-nginx", "/api/results")])
def test_slow_headers(before, ports, target, check):
    socks = open_slow(ports[target],
                      b"GET /api/options HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    try:
        worst = trickle_while_checking(ports[target], socks, ports[target],
                                       check.encode())
    finally:
        for s in socks:
            s.close()
    assert worst < 2.0, f"an answer took {worst:.2f} s behind slow senders"


@pytest.mark.parametrize("target", ["vote", "vote-nginx"])
def test_slow_body_stopped_halfway(before, ports, target):
    """A vote whose body stops halfway (then the client leaves) counts
    for nothing, and others are served meanwhile."""
    body = ('{"vote":"b","voter_id":"%s"}' % KNOWN_VOTER).encode()
    head = request(b"POST", b"/api/vote", (
        (b"Content-Type", b"application/json"),
        (b"Content-Length", b"%d" % len(body))))
    head = head[:head.index(b"\r\n\r\n") + 4]
    socks = open_slow(ports[target], head + body[:len(body) // 2])
    try:
        t = time.monotonic()
        a = send_raw(ports[target], request(b"GET", b"/api/options"))
        assert a.status == 200
        assert time.monotonic() - t < 2.0
        time.sleep(SLOW_SECONDS)
    finally:
        for s in socks:
            s.close()
