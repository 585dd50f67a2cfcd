"""The seed of votes (compose.yaml's `seed` profile, the classic app's
seed-data): `--profile seed up seed-data` on the running stack casts
SEED_VOTES votes of new voters through vote-ui; the results page shows
exactly that many more, in the configured mix, every one a distinct voter in
Postgres; a second run adds as many again; a bad setting exits 2 naming the
variable and casts nothing. The image: FROM scratch, non-root."""
import os
import re
import time

import pytest

from conftest import (TAG, counts, dc, info, inspect, psql_q, run, tail,
                      wait_results)

pytestmark = pytest.mark.usefixtures("stack_up")

N = int(os.environ.get("E2E_SEED_VOTES") or 3000)
A_PERCENT = 67                       # compose.yaml's default SEED_A_PERCENT
SEED = ["--profile", "seed"]


def seed_container():
    rc, out = dc(*SEED, "ps", "-a", "-q", "seed-data")
    ids = [x for x in out.split() if re.fullmatch(r"[0-9a-f]{12,}", x)]
    return ids[0] if rc == 0 and ids else ""


@pytest.fixture(scope="module", autouse=True)
def cleanup():
    yield
    dc(*SEED, "rm", "-f", "-s", "seed-data")


def want_a(n, pct):
    """votes for a among voters 0..n-1 (seed-data.sh: (I*37) % 100 < pct)"""
    return sum(1 for i in range(n) if i * 37 % 100 < pct)


def seed_once(n):
    """`--profile seed up seed-data` with SEED_VOTES=N: (exit code of the
    job, its last log line, seconds)"""
    t = time.time()
    rc, out = dc(*SEED, "up", "seed-data", env={"SEED_VOTES": str(n)},
                 timeout=600)
    s = time.time() - t
    assert rc == 0, f"--profile seed up seed-data: {tail(out, 10)}"
    c = seed_container()
    code = inspect("{{.State.ExitCode}}", c) if c else "(no container)"
    logs = run(["docker", "logs", c])[1] if c else ""
    last = [x for x in logs.splitlines() if x.startswith("seed-data: ")]
    return code, last[-1] if last else tail(logs, 3), s


def test_seed_image_builds():
    # `up` builds only a missing image: build it from this checkout
    t = time.time()
    rc, out = dc(*SEED, "build", "seed-data", timeout=1800)
    assert rc == 0, f"--profile seed build seed-data: {tail(out, 20)}"
    info(f"seed-data image build {time.time() - t:.0f} s")


@pytest.mark.parametrize("run_no", [1, 2])
def test_seed_adds_n_votes(run_no):
    before = counts()
    assert before is not None, "results answer before the seed"
    code, last, s = seed_once(N)
    a = want_a(N, A_PERCENT)
    assert code == "0" and f"{N} votes cast (a: {a}, b: {N - a}), 0 failed" \
        in last, f"seed-data run {run_no}: exit 0, all {N} cast ({code}: " \
        f"{last})"
    total, ta, tb = before
    ok, seen = wait_results(total + N, ta + a, tb + N - a, 120)
    info(f"seed-data run {run_no}: {N} votes through vote-ui in {s:.1f} s "
         f"(compose up included; {last.removeprefix('seed-data: ')})")
    assert ok, f"seed-data run {run_no}: results show {N} more votes " \
        f"({a} a, {N - a} b) than {before}: {seen}"


def test_seed_voters_distinct():
    got = psql_q("SELECT count(*), count(DISTINCT id) FROM votes "
                 "WHERE id LIKE 'seed-%'")
    assert got == f"{2 * N}|{2 * N}", \
        f"two seeds: {2 * N} votes of {2 * N} distinct voters ({got})"


def test_seed_bad_setting_exits_2():
    before = counts()
    rc, out = dc(*SEED, "run", "--rm", "-e", "SEED_VOTES=lots", "seed-data",
                 timeout=120)
    after = counts()
    assert rc == 2 and 'SEED_VOTES="lots"' in out and after == before, \
        f"SEED_VOTES=lots: exit 2 naming the variable, no vote ({rc}: " \
        f"{tail(out, 3)}; {before} -> {after})"


def test_seed_image_scratch_non_root():
    img = f"{os.environ.get('REGISTRY') or 'votingapp'}/seed-data:{TAG}"
    user = run(["docker", "image", "inspect", "-f", "{{.Config.User}}",
                img])[1].strip()
    size = run(["docker", "image", "inspect", "-f", "{{.Size}}", img])[1]
    size = int(size) if size.strip().isdigit() else 0
    rc, _ = run(["docker", "run", "--rm", "--entrypoint", "/bin/ls", img])
    info(f"{img} image {size // 1000} kB")
    assert user.split(":")[0] not in ("", "0", "root") and rc != 0 \
        and 0 < size <= 20000000, \
        f"{img}: non-root ({user}), FROM scratch (no ls: {rc != 0}), " \
        f"<= 20 MB ({size // 1000} kB)"
