"""Votes through vote-ui, seen on result-ui over HTTP and WebSocket;
nats-box (debug profile) shows the traffic."""
import contextlib
import os
import re
import subprocess
import time

import pytest

import conftest
from conftest import (P, PY, ROOT, RESULT_UI_PORT, RESULT_URL, VOTE_URL,
                      http_get, info, log_path, settled_counts, tail, vote,
                      wait_results)

pytestmark = pytest.mark.usefixtures("stack_up")


@pytest.mark.parametrize("url,what", [
    (VOTE_URL + "/", "vote-ui serves the page"),
    (RESULT_URL + "/", "result-ui serves the page")])
def test_ui_serves_page(url, what):
    st, body = http_get(url)
    assert st == 200 and "<html" in body.lower(), f"{what} ({st})"


def test_api_options():
    st, body = http_get(VOTE_URL + "/api/options")
    assert st == 200 and '"Cats"' in body, \
        f"GET /api/options through vote-ui ({st}: {body[:200]})"


@contextlib.contextmanager
def background(args, log, cwd=None):
    """ARGS running, their output in the log file LOG: (process, log path);
    killed at the end if still running"""
    path = log_path(log)
    with open(path, "w") as f:
        proc = subprocess.Popen(args, cwd=cwd, stdout=f,
                                stderr=subprocess.STDOUT)
        try:
            yield proc, path
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def nats_sub(stack_up):
    """nats-box (debug profile) waiting for the next vote's message"""
    sub = ["timeout", "60"] + conftest.COMPOSE + [
        "-p", P, "--profile", "debug", "run", "--rm", "-T", "nats-box",
        "nats", "sub", "votes.*", "--count", "1"]
    with background(sub, "nats-sub.log",
                    cwd=conftest.COMPOSE_DIR) as (proc, path):
        for _ in range(40):
            with open(path) as f:
                if "Subscribing" in f.read():
                    break
            time.sleep(0.5)
        yield proc, path


@pytest.fixture(scope="module")
def base(stack_up):
    """(total, a, b) of the results before this module's votes"""
    return settled_counts()


@pytest.fixture(scope="module")
def six_votes(base, nats_sub):
    """the answers to 6 votes of 5 new voters through vote-ui"""
    return [vote("e2e-1", "a"), vote("e2e-2", "a"), vote("e2e-3", "b"),
            vote("e2e-4", "a"), vote("e2e-5", "b"),
            vote("e2e-1", "b")]                     # e2e-1 changes to b


def test_six_votes(six_votes):
    assert six_votes == ["200"] * 6, \
        f"6 votes through vote-ui answered 200 ({' '.join(six_votes)})"


def test_results_show_five_votes(base, six_votes):
    # 5 voters: a = e2e-2 e2e-4, b = e2e-1 e2e-3 e2e-5
    total, a, b = base
    ok, seen = wait_results(total + 5, a + 2, b + 3, 30)
    assert ok, "result-ui /api/results shows 5 votes more than " \
        f"{base} (a 2, b 3; the last vote of a voter wins): {seen}"


@pytest.fixture(scope="module")
def websocket(base, six_votes):
    """support/ws.py on result-ui's WebSocket until the total reaches 6
    more than before the module, started before vote e2e-6"""
    total, a, b = base
    wait_results(total + 5, a + 2, b + 3, 30)    # its first frame shows them
    client = [PY, os.path.join(ROOT, "tests", "support", "ws.py"),
              f"ws://127.0.0.1:{RESULT_UI_PORT}/api/results/ws",
              "--until-total", str(base[0] + 6), "--timeout", "30"]
    with background(client, "ws.log") as (proc, path):
        time.sleep(1)
        yield proc, path


@pytest.fixture(scope="module")
def e2e_6(websocket):
    """the answer to vote e2e-6, cast while the WebSocket is open"""
    return vote("e2e-6", "a")


def test_vote_e2e_6(e2e_6):
    assert e2e_6 == "200", f"vote e2e-6 through vote-ui ({e2e_6})"


def ws_frames(path):
    with open(path) as f:
        return f.read().splitlines()


def test_websocket_pushes_the_vote(websocket, e2e_6):
    proc, path = websocket
    rc = proc.wait()
    assert rc == 0, "WebSocket through result-ui: " \
        f"{' '.join(ws_frames(path)[-3:])}"
    info("WebSocket through result-ui: snapshot on connect, then the new "
         f"vote pushed ({len(ws_frames(path))} frames)")


def test_websocket_first_frame_is_snapshot(base, websocket, e2e_6):
    proc, path = websocket
    proc.wait()
    frames = ws_frames(path)
    want = base[0] + 5
    assert frames and re.search(rf'"total": *{want}\b', frames[0]), \
        f"WebSocket first frame is a snapshot with total {want} " \
        f"({frames[:1]})"


def test_nats_box_shows_a_vote(nats_sub, six_votes):
    proc, path = nats_sub
    rc = proc.wait()
    with open(path) as f:
        out = f.read()
    assert rc == 0 and 'Received on "votes.' in out, \
        f"nats-box: nats sub 'votes.*': {tail(out, 5)}"
