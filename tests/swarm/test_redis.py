"""Redis keeps `voters` on the volume redis-data: `docker service update
--force` of redis keeps a voter's choice."""
import time

import pytest

from conftest import S, ctr, d, wait_for


@pytest.fixture(scope="module")
def cast(app, votes_stream):
    """swarm-redis votes b: (status, what GET /api/vote answers within 30 s)"""
    code = app.vote("swarm-redis", "b")
    wait_for(30, lambda: app.voter_of("swarm-redis") == "b")
    return code, app.voter_of("swarm-redis")


@pytest.fixture(scope="module")
def updated(cast):
    old = ctr("redis")
    t = time.time()
    rc, out = d("service", "update", "--force", "--detach=false", f"{S}_redis",
                timeout=180)
    return {"old": old, "new": ctr("redis"), "seconds": int(time.time() - t),
            "rc": rc, "out": out}


def test_vote_answered(cast):
    assert cast[0] == 200, f"a vote of swarm-redis (b) answered 200: {cast[0]}"


def test_voter_in_redis(cast):
    assert cast[1] == "b", \
        f"GET /api/vote answers b for swarm-redis (from Redis): '{cast[1]}'"


def test_redis_update_new_task(updated):
    u = updated
    assert u["new"] and u["new"] != u["old"], \
        f"docker service update --force redis: a new task ({u['seconds']} " \
        f"s): before {u['old']}, after {u['new']} (exit {u['rc']})"


def test_voter_kept(app, updated):
    ok = wait_for(60, lambda: app.voter_of("swarm-redis") == "b")
    assert ok, "after the redis update, GET /api/vote still answers b for " \
        f"swarm-redis (voters on redis-data): '{app.voter_of('swarm-redis')}'"
