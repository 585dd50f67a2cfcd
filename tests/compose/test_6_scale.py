"""--scale worker=2 --scale vote=2: votes through both vote replicas, no
vote lost (counted in Postgres), tallies consistent; Prometheus scrapes each
replica. Prints what the containers use after the load (the figures the
memory and pids limits of compose.yaml are sized from: README, Security)."""
import collections
import concurrent.futures
import time

import pytest

from conftest import (P, SERVICES, VOTE_URL, VOTES, containers, dc, info,
                      inspect, psql_q, run, settled_counts, tail, vote,
                      wait_healthy, wait_results, wait_targets)


pytestmark = pytest.mark.usefixtures("stack_up")


@pytest.fixture(scope="module", autouse=True)
def sizing(stack_up):
    """after the module (the load): what the containers use (an info line,
    no test); then one vote and one worker again, as the other modules
    have the stack"""
    yield
    rc, out = run(["docker", "stats", "--no-stream", "--format",
                   "{{.Name}} {{.MemUsage}} pids {{.PIDs}}"]
                  + containers())
    lines = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 6 and f[2] == "/":     # NAME USED / LIMIT pids N
            f = f[:2] + f[4:]
        lines.append(" ".join(f).removeprefix(f"{P}_"))
    info(f"sizing after {VOTES} votes: {';'.join(lines)};")
    dc("up", "-d", "--no-recreate", "--scale", "worker=1", "--scale",
       "vote=1", *SERVICES)
    wait_healthy(120)


@pytest.fixture(scope="module")
def before(sizing):
    """(total, a, b) of the results and the rows of Postgres before the
    load"""
    return settled_counts(), psql_q("SELECT count(*) FROM votes")


@pytest.fixture(scope="module")
def scaled(before):
    """up --scale worker=2 --scale vote=2: (exit code, output)"""
    return dc("up", "-d", "--no-recreate", "--scale", "worker=2",
              "--scale", "vote=2", *SERVICES)


def test_scale_up(scaled):
    rc, out = scaled
    assert rc == 0, \
        f"up --scale worker=2 --scale vote=2: {tail(out, 20)}"


@pytest.mark.parametrize("svc", ["worker", "vote"])
def test_two_containers(scaled, svc):
    n = len(containers(svc))
    assert n == 2, f"2 {svc} containers ({n})"


def test_all_healthy_after_scaling(scaled):
    assert wait_healthy(120), "all healthy after scaling"


def test_prometheus_scrapes_each_replica(scaled):
    ok, got = wait_targets(2, 2, 1, 60)
    assert ok, "prometheus scrapes each replica: 2 vote, 2 worker " \
        f"targets, all up (targets: {got})"


@pytest.fixture(scope="module")
def urls(scaled):
    """vote-ui and both vote replicas directly (their front-tier
    addresses)"""
    urls = [VOTE_URL]
    fmt = ("{{range $k, $v := .NetworkSettings.Networks}}{{if eq $k \"%s\"}}"
           "{{$v.IPAddress}}{{end}}{{end}}" % f"{P}_front-tier")
    for i in containers("vote"):
        ip = inspect(fmt, i)
        if ip:
            urls.append(f"http://{ip}:5000")
    return urls


def test_both_vote_replicas_reachable(urls):
    assert len(urls) == 3, \
        f"both vote replicas reachable ({len(urls)} endpoints)"


@pytest.fixture(scope="module")
def load(urls):
    """VOTES votes of new voters, each once, round robin over urls, 8 at a
    time: (Counter of the answers, seconds)"""
    jobs = [(f"scale-{i}", "b" if i % 3 == 0 else "a", urls[i % len(urls)])
            for i in range(1, VOTES + 1)]
    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(lambda j: vote(*j), jobs))
    s = time.time() - t
    info(f"{VOTES} votes through 2 vote replicas and vote-ui: "
         f"{s:.1f} s, 8 at a time")
    return collections.Counter(codes), s


def test_votes_through_replicas_all_200(load):
    # each voter votes once; none may be lost
    got, s = load
    assert got == {"200": VOTES}, f"{VOTES} votes through 2 vote " \
        f"replicas all 200 ({dict(got)} {s:.1f} s)"


def totals(before):
    """(total, a, b) the results show after the load"""
    (total, a, b), _ = before
    nb = VOTES // 3
    na = VOTES - nb
    return total + VOTES, a + na, b + nb


def test_results_show_all_votes(before, load):
    total, ta, tb = totals(before)
    ok, seen = wait_results(total, ta, tb, 60)
    assert ok, f"results show all {total} votes (a {ta}, b {tb}) with 2 " \
        f"workers: {seen}"


def test_postgres_rows(before, load):
    total = int(before[1]) + VOTES
    wait_results(*totals(before), 60)
    got = psql_q("SELECT count(*) FROM votes")
    assert got == str(total), f"Postgres: {total} rows in votes ({got})"


def test_postgres_one_row_per_voter(before, load):
    total = int(before[1]) + VOTES
    wait_results(*totals(before), 60)
    got = psql_q("SELECT count(DISTINCT id) FROM votes")
    assert got == str(total), f"Postgres: one row per voter ({got})"


def test_postgres_tallies_equal_votes(load):
    got = psql_q("SELECT count(*) FROM (SELECT vote, count(*) c FROM votes "
                 "GROUP BY vote) v FULL JOIN tallies t USING (vote) WHERE "
                 "t.count IS DISTINCT FROM v.c AND NOT (v.c IS NULL AND "
                 "t.count = 0)")
    assert got == "0", \
        f"Postgres: tallies equal the votes table ({got} differ)"
