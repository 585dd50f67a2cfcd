"""Moving from one NATS node to the 3-node cluster (README, NATS cluster):
the new cluster's VOTES stream starts again at sequence 1 while Postgres
keeps the rows written from the old one. Every vote must be kept, and a
voter's vote cast after the move must win over their vote from before it."""
import time

import pytest

from conftest import Voter

VOTERS = 40


def cast_all(stack, votes, deadline_s=60):
    """Casts each (voter, option) until it is answered 200 (a 503 is
    retried: the stack may still be settling)."""
    v = Voter(stack.ports["VOTE_PORT"])
    end = time.monotonic() + deadline_s
    for voter, option in votes:
        while True:
            a = v.vote(voter, option)
            if a[3] == 200:
                break
            assert a[3] == 503 and a[4], f"vote {voter}: {a}"
            assert time.monotonic() < end, f"vote {voter}: still {a}"
            time.sleep(0.2)


@pytest.fixture(scope="module")
def moved(stack):
    tag = f"mv{int(time.time())}"
    old = [(f"{tag}-v{i}", "a") for i in range(1, VOTERS + 1)]
    new = [(f"{tag}-v{i}", "b") for i in range(1, VOTERS + 1)]
    fresh = [(f"{tag}-n{i}", "a") for i in range(1, VOTERS // 2 + 1)]
    stack.up(nodes=1)
    cast_all(stack, old)
    refused = stack.try_run("up", nodes=3, timeout=120)
    out = stack.run("reset-nats", timeout=300)
    stack.up(nodes=3)
    cast_all(stack, new + fresh)
    stack.wait_drained()
    return {"tag": tag, "old": old, "new": new, "fresh": fresh,
            "refused": refused, "reset_out": out, "rows": stack.rows(tag)}


def test_up_refuses_to_leave_one_nodes_data_behind(moved):
    rc, out = moved["refused"]
    assert rc != 0 and "reset-nats" in out, (rc, out)


def test_reset_nats_drains_before_moving(moved):
    assert "drained" in moved["reset_out"], moved["reset_out"]
    assert "moved to" in moved["reset_out"], moved["reset_out"]


def test_new_votes_win_over_rows_from_before_the_move(moved):
    rows = moved["rows"]
    lost = [(v, o, rows.get(v)) for v, o in moved["new"] if rows.get(v) != o]
    assert not lost, (f"{len(lost)} of {len(moved['new'])} votes cast after "
                      f"the move lost to older rows, e.g. {lost[:5]}")


def test_every_voter_kept_and_tallies_right(stack, moved):
    rows = moved["rows"]
    want = dict(moved["new"] + moved["fresh"])
    assert rows == want
    counts = dict(stack.psql_rows("SELECT vote, count(*) FROM votes "
                             "GROUP BY vote ORDER BY vote"))
    tallies = dict(stack.psql_rows("SELECT vote, count FROM tallies "
                              "WHERE count > 0 ORDER BY vote"))
    assert tallies == counts
    assert counts == {"a": str(len(moved["fresh"])),
                      "b": str(len(moved["new"]))}
