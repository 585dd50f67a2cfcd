"""Bad requests and WebSocket garbage to result, straight and through
ui/result/nginx.conf. HTTP answers must be 4xx with a JSON body; after
each piece of WebSocket garbage result must still serve a new client its
snapshot (and /readyz), whatever it did with the bad socket.
"""
import os

import pytest

from support.http import is_json_4xx, request, send_raw
from support.ws import closed_by_server, ws_connect, ws_first_text, ws_frame

UPGRADE = ((b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"))
KEY = (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ==")
V13 = (b"Sec-WebSocket-Version", b"13")
WS = b"/api/results/ws"

CASES = {
    "method_post": request(b"POST", b"/api/results",
                           ((b"Content-Type", b"application/json"),), b"{}"),
    "method_delete": request(b"DELETE", b"/api/results"),
    "method_trace": request(b"TRACE", b"/api/results"),
    "path_encoded_nul": request(b"GET", b"/api/results%00"),
    "path_encoded_nul_ws": request(b"GET", WS + b"%00", UPGRADE + (KEY, V13)),
    "path_raw_nul": request(b"GET", b"/api/res\x00ults"),
    "path_raw_cr": request(b"GET", b"/api/results\rX"),
    "path_invalid_utf8": request(b"GET", b"/api/results\xff"),
    "path_unknown": request(b"GET", b"/api/results/x"),
    "path_20k": request(b"GET", b"/api/" + b"r" * 20000),
    "query_raw_nul": request(b"GET", b"/api/results?x=\x00"),
    "query_raw_cr": request(b"GET", b"/api/results?x=\ry"),
    "header_raw_nul": request(b"GET", b"/api/results", ((b"X-A", b"\x00"),)),
    "header_20k": request(b"GET", b"/api/results", ((b"X-A", b"a" * 20000),)),
    "cookie_20k": request(b"GET", b"/api/results",
                          ((b"Cookie", b"c=" + b"c" * 20000),)),
    "two_content_lengths": request(b"POST", b"/api/results", (
        (b"Content-Length", b"2"), (b"Content-Length", b"3")), b"{}"),
    "request_line_garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "ws_no_upgrade": request(b"GET", WS),
    "ws_no_key": request(b"GET", WS, UPGRADE + (V13,)),
    "ws_bad_version": request(b"GET", WS, UPGRADE + (
        KEY, (b"Sec-WebSocket-Version", b"99"))),
    "ws_upgrade_garbage": request(b"GET", WS, (
        (b"Upgrade", b"g\x00rbage"), (b"Connection", b"Upgrade"), KEY, V13)),
    "ws_post": request(b"POST", WS, UPGRADE + (KEY, V13), b"x"),
}

# Garbage sent on an open WebSocket, after a correct handshake.
GARBAGE = {
    "random_bytes": os.urandom(4096),
    "unmasked_text": ws_frame(1, b'{"vote":"b"}', mask=False),
    "reserved_opcode": ws_frame(3, b"x"),
    "reserved_control_opcode": ws_frame(0xB, b"x"),
    "rsv_bits": ws_frame(1, b"x", rsv=7),
    "invalid_utf8_text": ws_frame(1, b"\xff\xfe\xfd"),
    "fragmented_ping": ws_frame(9, b"p", fin=False),
    "ping_too_long": ws_frame(9, b"p" * 200),
    "continuation_first": ws_frame(0, b"orphan"),
    "close_bad_code": ws_frame(8, b"\x03\xe7bad"),
    "close_one_byte": ws_frame(8, b"\x03"),
    "huge_length_claim": ws_frame(2, b"abc", length=(1 << 63) - 1),
    "text_1mb": ws_frame(1, b"x" * (1 << 20)),
    "text_votes": ws_frame(1, b'{"vote":"b","voter_id":"x"}') * 50,
}


@pytest.mark.parametrize("target", ["result", "result-nginx"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_refused_with_json(before, ports, target, case):
    answer = send_raw(ports[target], CASES[case])
    problem = is_json_4xx(answer)
    assert not problem, problem


@pytest.mark.parametrize("target", ["result", "result-nginx"])
@pytest.mark.parametrize("case", sorted(GARBAGE))
def test_websocket_garbage(before, stack, ports, target, case):
    s, _ = ws_connect(ports[target])
    try:
        try:
            s.sendall(GARBAGE[case])
        except (BrokenPipeError, ConnectionResetError):
            pass                        # closed on us already: fine
        closed_by_server(s, 1.0)        # give it time to react
    finally:
        s.close()
    snap = ws_first_text(ports[target])
    assert [o["id"] for o in snap["options"]] == ["a", "b"], snap
    assert send_raw(stack.result, request(b"GET", b"/readyz")).status == 200


def test_websocket_garbage_leaves_other_clients_alone(before, ports):
    """A healthy client connected through the garbage still gets its
    snapshot and stays open."""
    good, rest = ws_connect(ports["result"])
    try:
        for payload in GARBAGE.values():
            s, _ = ws_connect(ports["result"])
            try:
                s.sendall(payload)
            except OSError:
                pass
            s.close()
        good.settimeout(0.2)
        # the good socket is neither closed nor reset by the others' garbage
        assert not closed_by_server(good, 1.0)
    finally:
        good.close()
