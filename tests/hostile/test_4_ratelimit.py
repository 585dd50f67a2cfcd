"""VOTE_RATE_PER_MIN through ui/vote/nginx.conf: a second vote process on
the same stack (NATS, Redis, worker, Postgres), with the limit on and
nginx as its trusted proxy, and nginx in front of it. Clients take
distinct loopback addresses (127.0.0.2, 127.0.0.3...: all of 127/8 is
this host's), as clients behind one proxy have distinct addresses.

- a flood from one address: the burst passes, then 429 with Retry-After
  and a JSON message, and none of those votes is published; another
  address votes freely meanwhile; after Retry-After the flooder votes
  again (nothing to reset);
- a client's own X-Forwarded-For (spoofed, or naming another client)
  changes nothing: on the port clients reach (8080 in the image) nginx
  replaces it with the peer's address, even when that peer is a trusted
  one (127.0.0.1 here; a client on the Docker host, from the bridge's
  gateway, in compose); on traefik's port (8081) nginx appends the peer,
  and a forwarded address counts only when that peer is trusted;
- every 200 is in Postgres, no 429 is; the counter of refused votes.

The votes cast here on purpose become the baseline of the session's end
(conftest.afterwards) once stored; everything else must still be as it was.
"""
import json
import time
from pathlib import Path

import pytest

from conftest import Nginx, Service, snapshot
from support.http import request, send_raw, wait_until

PER_MIN = 12          # a token every 5 s
BURST = 5
PREFIX = f"hostile-rl-{int(time.time())}-"   # new voters at each run
SENT = {"ok": [], "refused": []}      # voter ids by answer


@pytest.fixture(scope="module")
def limited(stack, before):
    secrets = Path(stack.run_dir) / "secrets"
    v = Service(stack, "vote", dict(
        VOTE_THREADS="8",
        NATS_URL=f"nats://127.0.0.1:{stack.ports['NATS_PORT']}",
        NATS_USER="vote",
        NATS_PASSWORD_FILE=str(secrets / "nats_vote_password"),
        REDIS_URL=f"redis://127.0.0.1:{stack.ports['REDIS_PORT']}",
        REDIS_USER="vote",
        REDIS_PASSWORD_FILE=str(secrets / "redis_vote_password"),
        VOTE_RATE_PER_MIN=str(PER_MIN), VOTE_RATE_BURST=str(BURST),
        VOTE_TRUSTED_PROXIES="127.0.0.1"))
    n = Nginx("vote", "vote", v.port)
    yield v, n
    n.stop()
    v.stop()
    # the votes it accepted were meant: once in Postgres and counted by
    # result, they are the baseline the session's end compares with (the
    # known voter untouched)
    wait_until("every accepted vote in Postgres", lambda: stack.psql(
        f"SELECT count(*) FROM votes WHERE id LIKE '{PREFIX}%'") ==
        str(len(SENT["ok"])))
    wait_until("result caught up with Postgres", lambda: sum(
        n for _, n in snapshot(stack)["result"]) ==
        int(stack.psql("SELECT count(*) FROM votes")))
    before.update(snapshot(stack))


def vote(port, source, n, headers=()):
    voter = f"{PREFIX}{source.replace('.', '_')}-{n}"
    a = send_raw(port, request(
        b"POST", b"/api/vote",
        ((b"Content-Type", b"application/json"),) + tuple(headers),
        json.dumps({"vote": "b", "voter_id": voter}).encode()),
        source=source)
    SENT["ok" if a.status == 200 else "refused"].append(voter)
    return a


def assert_limited(a, who):
    assert a.status == 429, a.raw[:300]
    retry = int(a.headers["retry-after"])
    assert 1 <= retry <= 60 // PER_MIN, a.headers
    assert a.headers["content-type"].startswith("application/json")
    msg = a.json()["error"]
    assert f"({who})" in msg, msg
    return retry


def test_flood_limited_others_free_then_recovers(stack, limited):
    v, nginx = limited
    seq = stack.stream_last_seq()
    codes, other, retry = [], [], 0
    for i in range(30):
        a = vote(nginx.port, "127.0.0.2", i)
        codes.append(a.status)
        if a.status != 200:
            retry = assert_limited(a, "127.0.0.2")
        if i % 10 == 0:
            other.append(vote(nginx.port, "127.0.0.3", i).status)
    print(f"flood of 30 from 127.0.0.2 through nginx: {codes.count(200)} "
          f"accepted, {codes.count(429)} refused, Retry-After {retry} s; "
          f"127.0.0.3: {other}")
    assert codes == [200] * BURST + [429] * (30 - BURST)
    assert other == [200, 200, 200]
    # none of the refused ones reached JetStream
    assert stack.stream_last_seq() == seq + BURST + 3
    time.sleep(retry + 0.1)
    assert vote(nginx.port, "127.0.0.2", 100).status == 200
    assert_limited(vote(nginx.port, "127.0.0.2", 101), "127.0.0.2")


def test_spoofed_forwarded_for_changes_nothing(stack, limited):
    v, nginx = limited
    for i in range(BURST):
        spoof = f"203.0.113.{i}".encode()
        a = vote(nginx.port, "127.0.0.4", i, (
            (b"X-Forwarded-For", spoof), (b"X-Real-IP", spoof),
            (b"Forwarded", b"for=" + spoof)))
        assert a.status == 200, a.raw[:300]
    # a new spoofed address, two headers, a trusted one: still 127.0.0.4
    for headers in (((b"X-Forwarded-For", b"198.51.100.77"),),
                    ((b"X-Forwarded-For", b"198.51.100.78"),
                     (b"X-Forwarded-For", b"198.51.100.79")),
                    ((b"X-Forwarded-For", b"127.0.0.1"),),
                    ((b"X-Forwarded-For", b"127.0.0.1, 127.0.0.1"),)):
        assert_limited(vote(nginx.port, "127.0.0.4", 50, headers),
                       "127.0.0.4")
    # blaming 127.0.0.4 costs 127.0.0.5 its own votes, not 127.0.0.4's
    a = vote(nginx.port, "127.0.0.5", 0, ((b"X-Forwarded-For", b"127.0.0.4"),))
    assert a.status == 200, a.raw[:300]



def test_spoof_from_a_trusted_peer_on_the_direct_port(stack, limited):
    """127.0.0.1 is a trusted proxy for this vote, as the bridge's gateway
    is in compose: on the port clients reach, its own X-Forwarded-For is
    replaced all the same, so every vote counts as 127.0.0.1."""
    v, nginx = limited
    codes = []
    for i in range(BURST + 3):
        spoof = f"203.0.113.{100 + i}".encode()
        a = vote(nginx.port, "127.0.0.1", i, ((b"X-Forwarded-For", spoof),))
        codes.append(a.status)
        if a.status != 200:
            assert_limited(a, "127.0.0.1")
    print(f"{BURST + 3} votes from 127.0.0.1, each naming a new address: "
          f"{codes}")
    assert codes == [200] * BURST + [429] * 3


def test_traefik_port_counts_the_forwarded_address(stack, limited):
    """On traefik's port, from a trusted peer (traefik, which writes the
    client's address), the forwarded address is what counts: its own
    bucket, limited after the burst, while another one still votes. From a
    peer that is not trusted, that port counts the peer all the same."""
    v, nginx = limited
    fwd = ((b"X-Forwarded-For", b"198.51.100.60"),)
    codes = [vote(nginx.trusted_port, "127.0.0.1", 200 + i, fwd).status
             for i in range(BURST + 1)]
    assert codes == [200] * BURST + [429], codes
    assert_limited(vote(nginx.trusted_port, "127.0.0.1", 300, fwd),
                   "198.51.100.60")
    a = vote(nginx.trusted_port, "127.0.0.1", 301,
             ((b"X-Forwarded-For", b"198.51.100.61"),))
    assert a.status == 200, a.raw[:300]
    # 127.0.0.6 is no proxy: naming the limited 198.51.100.60 on this
    # port, it is counted as itself (a full bucket)
    a = vote(nginx.trusted_port, "127.0.0.6", 302, fwd)
    assert a.status == 200, a.raw[:300]


def test_refused_counted_and_never_stored(stack, limited, before):
    v, _ = limited
    assert v.metric("vote_rate_limited_total") == len(SENT["refused"])
    assert v.metric('vote_votes_total{option="b"}') == len(SENT["ok"])
    wait_until("every accepted vote in Postgres", lambda: stack.psql(
        f"SELECT count(*) FROM votes WHERE id LIKE '{PREFIX}%'") ==
        str(len(SENT["ok"])))
    stored = set(stack.psql(
        f"SELECT id FROM votes WHERE id LIKE '{PREFIX}%'").split())
    assert stored == set(SENT["ok"])
    # once result has caught up with Postgres, these votes are all it
    # shows more; the known voter is untouched
    wait_until("result caught up with Postgres", lambda: sum(
        n for _, n in snapshot(stack)["result"]) ==
        int(stack.psql("SELECT count(*) FROM votes")))
    after = snapshot(stack)
    assert int(after["pg_votes"]) == int(before["pg_votes"]) + len(stored)
    assert after["pg_known"] == before["pg_known"] == "a"
    assert after["redis_known"] == before["redis_known"] == "a"
