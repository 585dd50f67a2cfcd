"""Votes through both vote-ui tasks reach result-ui (HTTP, then WebSocket),
as the probe sees them."""
import os
import subprocess
import time

import pytest

from conftest import PY, ROOT, wait_for

WS = os.path.join(ROOT, "tests", "support", "ws.py")


@pytest.fixture(scope="module")
def five(app, votes_stream):
    """swarm-1..5 (a, a, a, b, b), alternately through the two vote-ui
    tasks: their statuses"""
    return [app.vote(f"swarm-{i}", "a" if i <= 3 else "b",
                     app.vote_uis[i % len(app.vote_uis)])
            for i in range(1, 6)]


def test_five_votes_through_both_vote_uis(five):
    assert five == [200] * 5, \
        f"5 votes through both vote-ui replicas answered 200: {five}"


def test_result_ui_shows_six_votes(app, five):
    ok = wait_for(60, lambda: app.total() == 6, every=0.5)
    assert ok, f"result-ui: /api/results shows the 6 votes: total {app.total()}"


@pytest.fixture(scope="module")
def ws_vote(app, five, work):
    """a WebSocket on result-ui waiting for total 7, then swarm-6's vote:
    (its status, the client's exit code, its output)"""
    url = "ws://" + app.result_ui.split("://", 1)[1] + "/api/results/ws"
    p = subprocess.Popen(app.probe.cmd([PY, WS, url, "--until-total", "7",
                                        "--timeout", "30"]),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
    try:
        time.sleep(1)                        # the handshake first
        code = app.vote("swarm-6", "b")
        out, _ = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return code, p.returncode, out


def test_one_more_vote(ws_vote):
    assert ws_vote[0] == 200, f"one more vote: {ws_vote[0]}"


def test_websocket_pushes_the_new_vote(ws_vote):
    _, rc, out = ws_vote
    lines = out.strip().splitlines()
    assert rc == 0, "WebSocket through result-ui: the new vote pushed " \
        f"(total 7): exit {rc}, {len(lines)} lines, last {lines[-2:]}"
