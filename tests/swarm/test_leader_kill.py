"""Under steady voting, `docker kill` of the NATS container that leads
VOTES: only 200s and 503s with Retry-After, voting goes on (the longest
pause between two acknowledged votes is printed and must stay under
PAUSE_LIMIT), every acknowledged vote in Postgres, and the killed node comes
back as a current replica."""
import time

import pytest

from conftest import PAUSE_LIMIT, ctr, d, info, stream_info, wait_for


@pytest.fixture(scope="module")
def killed(voting, votes_stream):
    """the leader of VOTES killed 5 s into the voting; voting goes on until
    the swarm restarted the node (60 s at most), then 10 s more"""
    leader = stream_info("VOTES")[0]
    v = voting("kill", threads=4, interval=0.05)
    try:
        time.sleep(5)
        ids = ctr(leader) if leader != "-" else []
        rc, out = d("kill", ids[0]) if ids else (1, "no container")
        if rc == 0:
            wait_for(60, lambda: ctr(leader))
        time.sleep(10)
    finally:
        v.stop()
    if rc != 0:
        pytest.fail(f"kill the VOTES leader ({leader}, containers {ids}): "
                    f"{out.strip()}")
    info(f"new VOTES leader: {stream_info('VOTES')[0]}")
    pause = v.longest_pause()
    info(f"longest pause in acknowledged votes when the VOTES leader "
         f"({leader}) died: {pause} s")
    return {"leader": leader, "v": v, "pause": pause}


def test_killed_the_leader(killed):
    assert killed["leader"] in ("nats-1", "nats-2", "nats-3"), \
        f"killed the NATS container leading VOTES: {killed['leader']}"


def test_only_200_or_503_with_retry_after(killed):
    killed["v"].assert_kept_the_rules("leader kill")


def test_voting_goes_on(killed):
    assert killed["pause"] < PAUSE_LIMIT, "leader kill: voting goes on, " \
        f"longest pause in acknowledged votes {killed['pause']} s < " \
        f"{PAUSE_LIMIT} s"


def test_votes_acknowledged(killed):
    n = len(killed["v"].acked())
    assert n > 100, f"leader kill: more than 100 votes acknowledged: {n}"


def test_acknowledged_votes_in_postgres(killed):
    killed["v"].assert_acked_in_postgres("leader kill")


def test_killed_node_back_and_current(killed):
    ok = wait_for(60, lambda: stream_info("VOTES")[2] == 2)
    assert ok, "the killed node is back: VOTES has 3 current replicas " \
        f"again: (leader, replicas, followers current) {stream_info('VOTES')}"
