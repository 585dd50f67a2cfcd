"""Our images through a registry: Debian's docker-registry as a process on a
free loopback port; `docker-compose build` + `docker-compose push` send our
five images there (REGISTRY=127.0.0.1:PORT/votingapp, TAG=swarm), the
stand-ins of redis, postgres and nats follow; the local tags are removed;
from a copy of compose/ alone, `pull` + `up -d --no-build` run them: a vote
goes through vote-ui and shows on result-ui; `down -v` at the end."""
import os
import shutil
import time

import pytest

from conftest import (COMPOSE_DIR, ENV, OWN, TAG, d, dc, get_json, info,
                      tail, wait_for)
from support.http import http_get, vote
from support.ports import free_ports

# what compose.yaml runs from the registry (no traefik, prometheus, seed)
REGSVC = ["redis", "db", "nats", "vote", "worker", "result", "vote-ui",
          "result-ui"]
OFFLINE = ["debian:bookworm", "redis:7.0.5-alpine3.16",
           "postgres:15.0-alpine3.16", "nats:2.9-alpine", "nginx:1.22-alpine",
           "prom/prometheus:v2.42.0"]


def test_offline_images(offline_images):
    missing = [i for i in OFFLINE if d("image", "inspect", i)[0] != 0]
    assert not missing, "offline base and stand-in images " \
        f"(compose/offline/build.sh, {offline_images['seconds']} s): " \
        f"missing {missing}"


def test_registry_serves(registry):
    st, body = http_get(f"http://{registry}/v2/")
    assert st == 200, f"docker-registry serves on {registry}: GET /v2/ " \
        f"{st} {body[:100]}"


def test_build(built):
    assert not built["missing"], "docker-compose build: our five images " \
        f"as {ENV['REGISTRY']}/NAME:{TAG} ({built['seconds']} s): " \
        f"missing {built['missing']}"
    info(f"docker-compose build: {built['seconds']} s")


def test_push(pushed):
    assert pushed["push_rc"] == 0, \
        f"docker-compose push: exit {pushed['push_rc']}: " \
        f"{tail(pushed['push_out'], 5)}"
    info(f"docker-compose push: {pushed['seconds']} s")


def test_registry_holds_our_five_images(pushed):
    cat = pushed["catalog"]      # after docker-compose push, before the rest
    assert cat == sorted(f"votingapp/{n}" for n in OWN), \
        f"the registry holds exactly our five images: {cat}"


def test_each_with_the_tag(registry, pushed):
    tags = {n: (get_json(f"http://{registry}/v2/votingapp/{n}/tags/list")
                or {}).get("tags") for n in OWN}
    assert all(TAG in (t or []) for t in tags.values()), \
        f"each with the tag {TAG}: {tags}"


def test_stand_ins_pushed(pushed):
    assert not pushed["third_failed"], "the stand-ins of redis, postgres, " \
        f"nats pushed to the registry too: failed {pushed['third_failed']}"


def test_local_images_removed(pushed):
    assert not pushed["still_local"], \
        f"local images {ENV['REGISTRY']}/*:{TAG} (and the stand-ins' " \
        f"registry tags) removed: still there {pushed['still_local']}"


@pytest.fixture(scope="module")
def project(pushed, work):
    """compose/ alone, no checkout around it (docker-compose 1.29 checks
    that the build folders exist even with --no-build: empty ones stand in
    for them), with host ports of its own; `down -v` at the end"""
    copy = os.path.join(work, "compose")
    shutil.copytree(COMPOSE_DIR, copy, symlinks=True)
    for u in ("vote", "result"):
        os.makedirs(os.path.join(work, "ui", u), exist_ok=True)
    vp, rp = free_ports(2)
    env = {"VOTE_UI_PORT": str(vp), "RESULT_UI_PORT": str(rp)}
    yield {"dir": copy, "env": env, "vote": f"http://127.0.0.1:{vp}",
           "result": f"http://127.0.0.1:{rp}"}
    dc("down", "-v", "--remove-orphans", cwd=copy, env=env)


@pytest.fixture(scope="module")
def pulled(project):
    t = time.time()
    rc, out = dc("pull", *REGSVC, cwd=project["dir"], env=project["env"])
    return {"rc": rc, "out": out, "seconds": int(time.time() - t),
            "present": [n for n in OWN if d(
                "image", "inspect", f"{ENV['REGISTRY']}/{n}:{TAG}")[0] == 0]}


@pytest.fixture(scope="module")
def up(project, pulled):
    """`up -d --no-build`; docker-compose 1.29 gives up on a dependency
    that is not healthy yet (db's first start on a loaded machine): `up`
    again, it is idempotent"""
    for _ in range(6):
        rc, out = dc("up", "-d", "--no-build", *REGSVC, cwd=project["dir"],
                     env=project["env"])
        if rc == 0:
            return project
        time.sleep(10)
    pytest.fail(f"docker-compose up -d --no-build: {tail(out, 5)}")


@pytest.fixture(scope="module")
def reg_vote(up):
    """a vote of reg-1 through vote-ui, again until 200 or 180 s pass; then
    result-ui's total, until 1 or the same 180 s pass"""
    end = time.time() + 180
    code = wait_for(180, lambda: vote(up["vote"], "reg-1", "b") == "200")
    code = "200" if code else vote(up["vote"], "reg-1", "b")
    total = wait_for(max(1, end - time.time()), lambda: (get_json(
        up["result"] + "/api/results") or {}).get("total") == 1)
    seen = get_json(up["result"] + "/api/results")
    if not total:
        info("registry project logs:\n" + dc(
            "logs", "--tail", "10", cwd=up["dir"], env=up["env"])[1])
    return code, bool(total), seen


def test_pull(pulled):
    assert pulled["rc"] == 0, f"docker-compose pull from {ENV['REGISTRY']}: " \
        f"exit {pulled['rc']}: {tail(pulled['out'], 5)}"
    info(f"docker-compose pull: {pulled['seconds']} s")


def test_pulled_back(pulled):
    assert sorted(pulled["present"]) == sorted(OWN), \
        f"our five images are back, pulled: only {pulled['present']}"


def test_up(up):
    rc, out = dc("ps", "--services", "--filter", "status=running",
                 cwd=up["dir"], env=up["env"])
    running = sorted(out.split()) if rc == 0 else []
    assert running == sorted(REGSVC), \
        f"docker-compose up -d --no-build (vote-ui on {up['vote']}, " \
        f"result-ui on {up['result']}): running {running}"


def test_vote_through_pulled_images(reg_vote):
    code, _, _ = reg_vote
    assert code == "200", \
        f"a vote through vote-ui of the pulled images answers 200: {code}"


def test_result_shows_it(reg_vote):
    _, shown, seen = reg_vote
    assert shown, f"result-ui of the pulled images shows it (total 1): {seen}"
