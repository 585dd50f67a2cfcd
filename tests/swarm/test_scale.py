"""`docker service scale` of worker to 3 and back to 2 under steady voting:
every answer 200 or 503 with Retry-After, every acknowledged vote in
Postgres."""
import time

import pytest

from conftest import S, ctr, d


@pytest.fixture(scope="module")
def scaled(voting, votes_stream):
    v = voting("scale", threads=4, interval=0.1)
    try:
        time.sleep(3)
        d("service", "scale", "--detach=false", f"{S}_worker=3", timeout=300)
        up = len(ctr("worker"))
        time.sleep(3)
        d("service", "scale", "--detach=false", f"{S}_worker=2", timeout=300)
        down = len(ctr("worker"))
        time.sleep(2)
    finally:
        v.stop()
    return {"up": up, "down": down, "v": v}


def test_scale_to_three(scaled):
    assert scaled["up"] == 3, \
        f"docker service scale worker=3: 3 running: {scaled['up']}"


def test_scale_to_two(scaled):
    assert scaled["down"] == 2, \
        f"docker service scale worker=2: 2 running: {scaled['down']}"


def test_only_200_or_503_with_retry_after(scaled):
    scaled["v"].assert_kept_the_rules("scale")


def test_acknowledged_votes_in_postgres(scaled):
    scaled["v"].assert_acked_in_postgres("scale")
