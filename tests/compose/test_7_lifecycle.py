"""down + up keeps the votes; down -v removes the volumes (a fresh up has
no votes); the images: each C service image <= 20 MB, non-root, with a
HEALTHCHECK, FROM scratch."""
import re
import time

import pytest

from conftest import (HEALTH_TIMEOUT, P, SERVICES, STATE, TAG, dc, info,
                      psql_q, run, settled_counts, tail, wait_healthy,
                      wait_results)


@pytest.fixture(scope="module", autouse=True)
def image_list():
    """after the module: our images and the third-party ones (info lines)"""
    yield
    rc, out = run(["docker", "images", "--format",
                   "{{.Repository}}:{{.Tag}} {{.Size}}"])
    pat = re.compile(rf"^votingapp/.*:{re.escape(TAG)} |"
                     r"^(redis|postgres|nats|nginx|natsio/nats-box|debian):")
    info("images:\n" + "\n".join("  " + x for x in out.splitlines()
                                  if pat.search(x)))
    if "up_s" in STATE:
        info(f"up to healthy: {STATE['up_s']} s")


@pytest.fixture(scope="module")
def before(stack_up):
    """(total, a, b) of the results and the rows of Postgres before down"""
    return settled_counts(), psql_q("SELECT count(*) FROM votes")


def test_down_keeps_volumes(before):
    rc, out = dc("down")
    assert rc == 0, f"down (volumes kept): {tail(out, 10)}"


def test_up_again_healthy(before):
    t = time.time()
    dc("up", "-d", *SERVICES)
    assert wait_healthy(HEALTH_TIMEOUT), "up again: healthy"
    info(f"up again: all healthy {int(time.time() - t)} s after up")


def test_results_survive_down_up(before):
    total, ta, tb = before[0]
    ok, seen = wait_results(total, ta, tb, 60)
    assert ok, f"after down + up: results still show {total} votes: {seen}"


def test_postgres_survives_down_up(before):
    total = before[1]
    got = psql_q("SELECT count(*) FROM votes")
    assert got == total, \
        f"after down + up: Postgres still has {total} votes ({got})"


def test_down_v_removes_volumes(before):
    dc("down", "-v")
    rc, out = run(["docker", "volume", "ls", "-q"])
    left = [v for v in out.split()
            if re.fullmatch(f"{re.escape(P)}_(db-data|nats-data)", v)]
    assert not left, f"down -v removes the volumes (left: {left})"


def test_fresh_up_has_no_votes(before):
    dc("up", "-d", *SERVICES)
    assert wait_healthy(HEALTH_TIMEOUT), "after down -v + up: healthy"
    ok, seen = wait_results(0, 0, 0, 30)
    assert ok, f"after down -v + up: no votes: {seen}"


def image(svc, fmt):
    rc, out = run(["docker", "image", "inspect", "-f", fmt,
                   f"votingapp/{svc}:{TAG}"])
    return out.strip() if rc == 0 else ""


C = ["vote", "worker", "result"]


@pytest.mark.parametrize("svc", C)
@pytest.mark.usefixtures("c_images")
def test_image_size(svc):
    s = image(svc, "{{.Size}}")
    b = int(s) if s.isdigit() else 0
    info(f"votingapp/{svc}:{TAG} image {b // 1000} kB")
    assert 0 < b <= 20000000, \
        f"votingapp/{svc}:{TAG} image {b // 1000} kB <= 20 MB"


@pytest.mark.parametrize("svc", C)
@pytest.mark.usefixtures("c_images")
def test_image_non_root(svc):
    u = image(svc, "{{.Config.User}}")
    assert u and u.split(":")[0] not in ("0", "root"), \
        f"votingapp/{svc}:{TAG} runs as a non-root user ({u})"


@pytest.mark.parametrize("svc", C)
@pytest.mark.usefixtures("c_images")
def test_image_healthcheck(svc):
    hc = image(svc, "{{json .Config.Healthcheck.Test}}")
    assert "--healthcheck" in hc, \
        f"votingapp/{svc}:{TAG} has a HEALTHCHECK with --healthcheck ({hc})"


@pytest.mark.parametrize("svc", C)
@pytest.mark.usefixtures("c_images")
def test_image_from_scratch(svc):
    rc, out = run(["docker", "run", "--rm", "--entrypoint", "/bin/sh",
                   f"votingapp/{svc}:{TAG}", "-c", "true"])
    assert rc != 0, f"votingapp/{svc}:{TAG} is FROM scratch (no shell in it)"
