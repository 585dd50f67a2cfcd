"""--scale worker=2 --scale vote=2: votes through both vote replicas, no
vote lost (counted in Postgres), tallies consistent; Prometheus scrapes each
replica. Prints what the containers use after the load (the figures the
memory and pids limits of compose.yaml are sized from: README, Security)."""
import collections
import concurrent.futures
import time

import pytest

from conftest import (P, SERVICES, STATE, VOTE_URL, VOTES, containers, dc,
                      info, inspect, psql_q, run, tail, vote, wait_healthy,
                      wait_results, wait_targets)


@pytest.fixture(scope="module", autouse=True)
def sizing():
    """after the module (the load), before test_7 stops the stack: what the
    containers use (an info line, no test)"""
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


@pytest.mark.fatal
def test_scale_up():
    rc, out = dc("up", "-d", "--no-recreate", "--scale", "worker=2",
                 "--scale", "vote=2", *SERVICES)
    assert rc == 0, \
        f"up --scale worker=2 --scale vote=2: {tail(out, 20)}"


@pytest.mark.parametrize("svc", ["worker", "vote"])
def test_two_containers(svc):
    n = len(containers(svc))
    assert n == 2, f"2 {svc} containers ({n})"


def test_all_healthy_after_scaling():
    assert wait_healthy(120), "all healthy after scaling"


def test_prometheus_scrapes_each_replica():
    ok, got = wait_targets(2, 2, 1, 60)
    assert ok, "prometheus scrapes each replica: 2 vote, 2 worker " \
        f"targets, all up (targets: {got})"


def test_both_vote_replicas_reachable():
    # votes go to both vote replicas directly (their front-tier addresses)
    # and through vote-ui
    urls = [VOTE_URL]
    fmt = ("{{range $k, $v := .NetworkSettings.Networks}}{{if eq $k \"%s\"}}"
           "{{$v.IPAddress}}{{end}}{{end}}" % f"{P}_front-tier")
    for i in containers("vote"):
        ip = inspect(fmt, i)
        if ip:
            urls.append(f"http://{ip}:5000")
    STATE["urls"] = urls
    assert len(urls) == 3, \
        f"both vote replicas reachable ({len(urls)} endpoints)"


def test_votes_through_replicas_all_200():
    # each voter votes once; none may be lost
    urls = STATE.get("urls") or [VOTE_URL]
    jobs = [(f"scale-{i}", "b" if i % 3 == 0 else "a", urls[i % len(urls)])
            for i in range(1, VOTES + 1)]
    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(lambda j: vote(*j), jobs))
    got = collections.Counter(codes)
    info(f"{VOTES} votes through 2 vote replicas and vote-ui: "
         f"{time.time() - t:.1f} s, 8 at a time")
    assert got == {"200": VOTES}, f"{VOTES} votes through 2 vote " \
        f"replicas all 200 ({dict(got)} {time.time() - t:.1f} s)"


def totals():
    nb = VOTES // 3
    na = VOTES - nb
    return 7 + VOTES, 3 + na, 4 + nb     # 7 voters before


def test_results_show_all_votes():
    total, ta, tb = totals()
    ok, seen = wait_results(total, ta, tb, 60)
    assert ok, f"results show all {total} votes (a {ta}, b {tb}) with 2 " \
        f"workers: {seen}"


def test_postgres_rows():
    total = totals()[0]
    got = psql_q("SELECT count(*) FROM votes")
    assert got == str(total), f"Postgres: {total} rows in votes ({got})"


def test_postgres_one_row_per_voter():
    total = totals()[0]
    got = psql_q("SELECT count(DISTINCT id) FROM votes")
    assert got == str(total), f"Postgres: one row per voter ({got})"


def test_postgres_tallies_equal_votes():
    got = psql_q("SELECT count(*) FROM (SELECT vote, count(*) c FROM votes "
                 "GROUP BY vote) v FULL JOIN tallies t USING (vote) WHERE "
                 "t.count IS DISTINCT FROM v.c AND NOT (v.c IS NULL AND "
                 "t.count = 0)")
    assert got == "0", \
        f"Postgres: tallies equal the votes table ({got} differ)"
