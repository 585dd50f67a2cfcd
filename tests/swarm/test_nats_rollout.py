"""A change of the NATS nodes' settings through compose/nats-rollout.sh
under steady voting: max_payload 2MB in nats/server.conf, a swarm config,
which cannot change: under a new name (nats_server_v2), as an operator
would. One node at a time, each current before the next: the quorum holds.
Only 200s and 503s with Retry-After, the longest pause printed and under
PAUSE_LIMIT, every acknowledged vote in Postgres, every node on the new
setting; a stack deploy of the same file afterwards restarts no NATS node."""
import os
import re
import shutil
import time

import pytest

from conftest import (COMPOSE_DIR, ENV, NATS, PAUSE_LIMIT, S, ctr, d, info,
                      max_payload, run, stream_info, tail)
from support import compose


@pytest.fixture(scope="module")
def changed(work):
    """a copy of compose/ whose stack.yaml gives nats-1..3 a server.conf
    with max_payload 2MB as the config nats_server_v2"""
    copy = os.path.join(work, "compose-nats")
    shutil.copytree(COMPOSE_DIR, copy, symlinks=True)
    with open(os.path.join(copy, "nats", "server.conf"), "a") as f:
        f.write("max_payload: 2MB\n")
    path = os.path.join(copy, "stack.yaml")
    with open(path) as f:
        text = f.read()
    text = re.sub(r"source: nats_server$", "source: nats_server_v2", text,
                  flags=re.M)
    text = re.sub(r"^  nats_server:$", "  nats_server_v2:", text, flags=re.M)
    with open(path, "w") as f:
        f.write(text)
    return path


@pytest.fixture(scope="module")
def rolled(changed, voting, votes_stream):
    v = voting("rollout", threads=4, interval=0.05)
    try:
        time.sleep(5)
        t = time.time()
        rc, out = run([os.path.join(COMPOSE_DIR, "nats-rollout.sh"), changed,
                       S, "--resolve-image", "never"], timeout=900)
        secs = int(time.time() - t)
        time.sleep(5)
    finally:
        v.stop()
    pause = v.longest_pause()
    info("compose/nats-rollout.sh:\n" + out.rstrip())
    info(f"longest pause in acknowledged votes during the NATS rollout "
         f"({secs} s): {pause} s")
    return {"rc": rc, "out": out, "seconds": secs, "v": v, "pause": pause}


def test_changed_stack_file(changed):
    c = compose.stack_config(changed, env=ENV)
    src = {n: [x["source"] for x in c["services"][n].get("configs") or []
               if x.get("target") == "/etc/nats/votingapp/server.conf"]
           for n in NATS}
    f = (c.get("configs") or {}).get("nats_server_v2", {}).get("file", "")
    text = open(f).read() if os.path.isfile(f) else ""
    assert all(s == ["nats_server_v2"] for s in src.values()) \
        and "max_payload: 2MB" in text, \
        "the changed stack file gives nats-1..3 nats/server.conf with " \
        f"max_payload 2MB as config nats_server_v2 (now " \
        f"{max_payload('nats-1')}): configs {src}, file {f}"


def test_rollout(rolled):
    assert rolled["rc"] == 0, "compose/nats-rollout.sh: nats-1, nats-2, " \
        f"nats-3 updated one at a time ({rolled['seconds']} s): exit " \
        f"{rolled['rc']}: {tail(rolled['out'], 5)}"


def test_only_200_or_503_with_retry_after(rolled):
    rolled["v"].assert_kept_the_rules("NATS rollout")


def test_voting_goes_on(rolled):
    assert rolled["pause"] < PAUSE_LIMIT, "NATS rollout: voting goes on, " \
        f"longest pause in acknowledged votes {rolled['pause']} s < " \
        f"{PAUSE_LIMIT} s"


def test_votes_acknowledged(rolled):
    n = len(rolled["v"].acked())
    assert n > 100, f"NATS rollout: more than 100 votes acknowledged: {n}"


def test_acknowledged_votes_in_postgres(rolled):
    rolled["v"].assert_acked_in_postgres("NATS rollout")


def test_every_node_on_the_new_setting(rolled):
    mp = [max_payload(n) for n in NATS]
    assert mp == [2097152] * 3, \
        f"NATS rollout: every node runs the new setting: max_payload {mp}"


def test_votes_stream_intact(rolled):
    _, reps, current = stream_info("VOTES")
    assert (reps, current) == (3, 2), "NATS rollout: VOTES has 3 " \
        f"replicas, 2 followers current: {reps}, {current}"


def test_redeploy_restarts_no_nats_node(rolled, changed):
    before = sorted(i for n in NATS for i in ctr(n))
    rc, out = d("stack", "deploy", "--resolve-image", "never", "-c",
                "stack.yaml", S, cwd=os.path.dirname(changed))
    time.sleep(10)
    after = sorted(i for n in NATS for i in ctr(n))
    assert rc == 0 and after == before, "docker stack deploy of the " \
        f"changed file afterwards restarts no NATS node: exit {rc} " \
        f"({tail(out, 2)}), before {before}, after {after}"
