"""The development loop (compose.dev.yaml) as the seed runs it: `docker
compose -f compose.dev.yaml up -d` on a copy of the checkout (the tests edit
the copy, never the checkout itself), votes through it, a C source of vote
and the page of vote-ui edited in the mounted copy and the new behaviour
served without a rebuild by hand (the time it took), `--scale worker=2`, a
warm start (`down`, then `up`: Bazel's disk cache in the volume bazel-cache
spares the compiling), and `down -v` leaving no container, volume or network
of the project. A project of its own (E2E_PROJECT + "-dev", images
E2E_PROJECT-dev/NAME:dev) on its own host ports.

Env: E2E_DEV_VOTE_UI_PORT, E2E_DEV_RESULT_UI_PORT (5010, 5011),
     DEV_TIMEOUT (s, 600: the first Bazel start in each container),
     DEV_NO_CACHE=1 (a cold start: vote's image built with --no-cache).
Figures (build, start, edit-to-served times) go to the "info" section."""
import json
import os
import re
import shutil
import socket
import tempfile
import time

import pytest

from conftest import P, ROOT, http_get, info, run, tail
from support.http import vote

PD = f"{P}-dev"
REGISTRY = f"{P}-dev"
VOTE_UI_PORT = os.environ.get("E2E_DEV_VOTE_UI_PORT") or "5010"
RESULT_UI_PORT = os.environ.get("E2E_DEV_RESULT_UI_PORT") or "5011"
VOTE_URL = f"http://127.0.0.1:{VOTE_UI_PORT}"
RESULT_URL = f"http://127.0.0.1:{RESULT_UI_PORT}"
TIMEOUT = int(os.environ.get("DEV_TIMEOUT") or 600)
COLD = os.environ.get("DEV_NO_CACHE", "0") == "1"
# everything but traefik (no image here) and the profiles
DEV = ["redis", "db", "nats", "vote", "worker", "result", "vote-ui",
       "result-ui"]
LOOPS = ["vote", "worker", "result"]          # the services dev-loop builds
STATE = {}

# the copy of the checkout: no VCS data, no Bazel links or caches
IGNORE = shutil.ignore_patterns(".git", "bazel-*", ".data", "node_modules",
                                "__pycache__", ".pytest_cache")


def dev(*args, timeout=None):
    """compose -p PD -f compose.dev.yaml ARGS in the copy: (rc, output)"""
    import conftest
    env = {"REGISTRY": REGISTRY, "VOTE_UI_PORT": VOTE_UI_PORT,
           "RESULT_UI_PORT": RESULT_UI_PORT}
    return run(conftest.COMPOSE + ["-p", PD, "-f", "compose.dev.yaml"]
               + list(args), env=env, timeout=timeout,
               cwd=os.path.join(STATE["copy"], "compose"))


def dev_up(*args):
    """`up -d ARGS`, again (6 tries, 10 s apart) when a host port could
    not be bound: where the published ports are in the ephemeral range, a
    client socket of another program may hold one (for a minute in
    TIME-WAIT); up is idempotent. (rc, output)"""
    for attempt in range(6):
        rc, out = dev("up", "-d", *args, timeout=TIMEOUT)
        m = re.search(r"listen tcp4? [^ ]+: bind: address already in use",
                      out)
        if rc == 0 or not m:
            break
        info(f"dev: up -d: {m.group(0)}; again in 10 s")
        time.sleep(10)
    return rc, out


def ids(*svcs):
    rc, out = dev("ps", "-q", *svcs)
    return [x for x in out.split() if re.fullmatch(r"[0-9a-f]{12,}", x)] \
        if rc == 0 else []


def health(cid):
    rc, out = run(["docker", "inspect", "-f",
                   "{{if .State.Health}}{{.State.Health.Status}}"
                   "{{else}}{{.State.Status}}{{end}}", cid])
    return out.strip() if rc == 0 else ""


def logs(cid, since=None):
    return run(["docker", "logs"] + (["--since", since] if since else [])
               + [cid])[1]


def wait_up(limit, workers=1):
    """every DEV container healthy and each dev-loop "watching" (its first
    build from the mounted sources done) within LIMIT s; (ok, seconds to
    healthy, seconds to watching) from the call"""
    t0 = time.time()
    healthy_s = None
    while time.time() - t0 < limit:
        cs = ids(*DEV)
        if len(cs) == len(DEV) + workers - 1 and all(
                health(c) == "healthy" for c in cs):
            if healthy_s is None:
                healthy_s = time.time() - t0
            loops = ids(*LOOPS)
            if all('"msg":"watching' in logs(c) for c in loops):
                return True, healthy_s, time.time() - t0
        time.sleep(1)
    lines = [f"not up after {limit} s:", dev("ps")[1]]
    for s in DEV:
        lines += [f"logs of {s}:", dev("logs", "--tail", "20", s)[1]]
    info("\n".join(lines))
    return False, healthy_s, None


def dev_counts():
    st, body = http_get(RESULT_URL + "/api/results")
    try:
        d = json.loads(body) if st == 200 else None
    except ValueError:
        return None
    if not d:
        return None
    by = {x["id"]: x["votes"] for x in d.get("options", [])}
    return d.get("total"), by.get("a", -1), by.get("b", -1)


def vote_and_see(n, tag):
    """N new voters through vote-ui; results show N more within 60 s"""
    before = dev_counts()
    assert before is not None, f"{tag}: results answer"
    codes = [vote(VOTE_URL, f"{tag}-{i}", "ab"[i % 2])
             for i in range(n)]
    assert codes == ["200"] * n, f"{tag}: {n} votes answered 200 ({codes})"
    want = (before[0] + n, before[1] + (n + 1) // 2, before[2] + n // 2)
    end = time.time() + 60
    while dev_counts() != want and time.time() < end:
        time.sleep(0.5)
    assert dev_counts() == want, \
        f"{tag}: results show {n} more votes: {before} -> {dev_counts()}"


def edit(rel, old, new):
    """replaces OLD (once) by NEW in the copy's REL; the time of the write"""
    path = os.path.join(STATE["copy"], rel)
    with open(path) as f:
        text = f.read()
    assert text.count(old) == 1, f"{rel}: {old!r} once"
    t = time.time()
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    return t


def wait_served(check, limit):
    """seconds until CHECK() is true (polled every 0.2 s), or None"""
    t0 = time.time()
    while time.time() - t0 < limit:
        if check():
            return time.time() - t0
        time.sleep(0.2)
    return None


@pytest.fixture(scope="module", autouse=True)
def copy_of_checkout(offline_images):
    """the checkout copied to a temporary folder; at the end `down -v` (if
    a test failed before test_down_v_leaves_nothing) and the copy removed.
    The images build FROM the offline base and stand-ins."""
    offline_images.need("the offline stand-in images",
                        "test_offline_stand_in_images")
    tmp = tempfile.mkdtemp(prefix=f"{PD}.")
    STATE["copy"] = os.path.join(tmp, "app")
    shutil.copytree(ROOT, STATE["copy"], symlinks=True, ignore=IGNORE)
    yield
    if not STATE.get("down"):
        dev("--profile", "seed", "down", "-v", "--remove-orphans",
            timeout=300)
    shutil.rmtree(tmp, ignore_errors=True)


# vote's answer to a bad voter id (vote/api.c), and the marker each edit puts
C_FILE = "vote/api.c"
C_OLD = '"bad voter_id: use "'
MARK = f"devloop{int(time.time())}"
C_NEW = f'"bad voter_id ({MARK}): use "'
UI_FILE = "ui/vote/index.html"


def bad_voter_answer():
    st, body = http_get(VOTE_URL + "/api/vote?voter_id=%21%21")
    try:
        return st, json.loads(body).get("error", "")
    except (ValueError, AttributeError):
        return st, ""


@pytest.fixture(scope="module")
def dev_built(copy_of_checkout):
    """the project down, its host ports checked, its images built:
    {"taken": host ports something listens on, "cold": (rc, output) of
    the --no-cache build (DEV_NO_CACHE=1), "build": (rc, output)}"""
    dev("--profile", "seed", "down", "-v", "--remove-orphans", timeout=300)
    r = {"taken": [], "cold": (0, ""), "build": None}
    for port in (VOTE_UI_PORT, RESULT_UI_PORT):
        with socket.socket() as s:
            s.settimeout(2)
            if s.connect_ex(("127.0.0.1", int(port))) == 0:
                r["taken"].append(port)
    if r["taken"]:
        return r
    t = time.time()
    if COLD:       # the base stage built afresh once; the rest reuse it
        r["cold"] = dev("build", "--no-cache", "vote", timeout=3600)
        if r["cold"][0] != 0:
            return r
    r["build"] = dev("build", *LOOPS, "vote-ui", "result-ui", timeout=3600)
    if r["build"][0] == 0:
        STATE["build_s"] = time.time() - t
        info(f"dev: images build {STATE['build_s']:.0f} s "
             + ("(DEV_NO_CACHE=1: vote's with --no-cache, the others from "
                "it)" if COLD else "(from the layer cache, of the "
                "production build if it ran)"))
    return r


def test_dev_build(dev_built):
    taken = dev_built["taken"]
    assert not taken, f"host ports {taken} are free " \
        "(E2E_DEV_VOTE_UI_PORT/E2E_DEV_RESULT_UI_PORT choose others)"
    rc, out = dev_built["cold"]
    assert rc == 0, f"compose.dev.yaml build --no-cache: {tail(out, 30)}"
    rc, out = dev_built["build"]
    assert rc == 0, f"compose.dev.yaml build: {tail(out, 30)}"


@pytest.fixture(scope="module")
def dev_started(dev_built):
    """`up -d` of the project, and every container healthy and each
    dev-loop watching within DEV_TIMEOUT: (rc, output, ok)"""
    if not dev_built["build"] or dev_built["build"][0] != 0:
        pytest.fail("the dev images did not build (see test_dev_build)")
    t = time.time()
    rc, out = dev_up(*DEV)
    if rc != 0:
        return rc, out, False
    ok, healthy_s, watching_s = wait_up(TIMEOUT - (time.time() - t))
    up_s = time.time() - t
    if ok:
        info(f"dev: first start (images built, empty volumes): all healthy "
             f"{healthy_s + (up_s - watching_s):.0f} s after up, every "
             f"dev-loop built from the mounted sources and watching "
             f"{up_s:.0f} s after up; from the build: "
             f"{STATE.get('build_s', 0) + up_s:.0f} s"
             + (" (cold: DEV_NO_CACHE=1)" if COLD else ""))
    return rc, out, ok


def test_dev_up(dev_started):
    rc, out, ok = dev_started
    assert rc == 0, f"compose.dev.yaml up -d: {tail(out, 30)}"
    assert ok, f"dev: all healthy and every dev-loop watching within " \
        f"{TIMEOUT} s"


@pytest.fixture(scope="module")
def dev_running(dev_started):
    """the project up (test_dev_up says why not, when not)"""
    if not dev_started[2]:
        pytest.fail("the dev project is not up (see test_dev_up)")


def test_dev_votes(dev_running):
    vote_and_see(10, "dev-first")


def test_edit_c_source_served(dev_running):
    # before: the answer of the image's source (the check can fail)
    st, err = bad_voter_answer()
    assert st == 400 and err.startswith("bad voter_id: use"), \
        f"vote answers a bad voter id 400 with its message ({st} {err!r})"
    vote_cid = ids("vote")[0]
    since = str(int(time.time()))
    edit(C_FILE, C_OLD, C_NEW)
    s = wait_served(lambda: MARK in bad_voter_answer()[1], 300)
    log = logs(vote_cid, since)
    info(f"dev: {C_FILE} edited -> served by vote through vote-ui in "
         + (f"{s:.1f} s" if s is not None else "(not within 300 s)"))
    assert s is not None, f"the edit of {C_FILE} is served within 300 s " \
        f"(vote's log: {tail(log, 8)})"
    assert '"msg":"change detected"' in log and \
        '"msg":"served the new build"' in log, \
        f"dev-loop rebuilt and restarted vote (log: {tail(log, 8)})"
    STATE["c_edit_s"] = s
    vote_and_see(4, "dev-after-c-edit")


def test_edit_ui_page_served(dev_running):
    st, page = http_get(VOTE_URL + "/")
    assert st == 200 and "<title>" in page and MARK not in page, \
        f"vote-ui serves its page ({st})"
    title = re.search(r"<title>([^<]*)</title>", page).group(1)
    edit(UI_FILE, f"<title>{title}</title>", f"<title>{title} {MARK}</title>")
    s = wait_served(lambda: f"{title} {MARK}" in http_get(VOTE_URL + "/")[1],
                    60)
    info(f"dev: {UI_FILE} edited -> served by vote-ui in "
         + (f"{s:.1f} s" if s is not None else "(not within 60 s)"))
    assert s is not None, f"the edit of {UI_FILE} is served within 60 s"


def test_scale_worker_2(dev_running):
    t = time.time()
    rc, out = dev_up("--no-recreate", "--scale", "worker=2", *DEV)
    assert rc == 0, f"up -d --scale worker=2: {tail(out, 20)}"
    ok, _, watching_s = wait_up(TIMEOUT, workers=2)
    assert ok and len(ids("worker")) == 2, \
        "--scale worker=2: two workers, healthy, both dev-loops watching"
    info(f"dev: --scale worker=2: the second worker built and watching "
         f"{time.time() - t:.0f} s after up")
    vote_and_see(20, "dev-scaled")


def test_warm_start(dev_running):
    total = dev_counts()
    rc, out = dev("down", timeout=300)
    assert rc == 0, f"down (volumes kept): {tail(out, 10)}"
    t = time.time()
    rc, out = dev_up(*DEV)
    assert rc == 0, f"up -d again: {tail(out, 20)}"
    ok, healthy_s, watching_s = wait_up(TIMEOUT)
    assert ok, "warm start: all healthy, every dev-loop watching"
    up_s = time.time() - t
    # what Bazel did in vote's first build: cache hits, not compiles
    log = logs(ids("vote")[0])
    procs = re.findall(r"INFO: (\d+ process[^\n]*)", log)
    info(f"dev: warm start (down, then up; images and bazel-cache kept): "
         f"all healthy {healthy_s + (up_s - watching_s):.0f} s after up, "
         f"every dev-loop watching {up_s:.0f} s after up"
         + (f"; vote's first build: {procs[0]}" if procs else ""))
    rc, out = run(["docker", "stats", "--no-stream", "--format",
                   "{{.Name}} {{.MemUsage}}"] + ids(*LOOPS))
    info("dev: memory of the dev-loop containers (Bazel's server included): "
         + "; ".join(" ".join(x.split()[:2]).removeprefix(f"{PD}_")
                     for x in out.splitlines()))
    # the edited source is what vote serves again, the votes are kept
    st, err = bad_voter_answer()
    assert MARK in err, f"after down + up vote serves the edited source " \
        f"({st} {err!r})"
    assert dev_counts() == total, \
        f"after down + up the votes are kept ({total} -> {dev_counts()})"


def test_edit_after_warm_start(dev_running):
    mark2 = MARK + "w"
    edit(C_FILE, C_NEW, C_NEW.replace(MARK, mark2))
    s = wait_served(lambda: mark2 in bad_voter_answer()[1], 300)
    info("dev: after the warm start, a second edit of "
         f"{C_FILE} -> served in "
         + (f"{s:.1f} s" if s is not None else "(not within 300 s)"))
    assert s is not None, f"the second edit of {C_FILE} is served"


def test_down_v_leaves_nothing(dev_running):
    rc, out = dev("--profile", "seed", "down", "-v", "--remove-orphans",
                  timeout=300)
    STATE["down"] = True
    assert rc == 0, f"down -v: {tail(out, 10)}"
    label = f"label=com.docker.compose.project={PD}"
    left = []
    for kind in (["ps", "-a"], ["volume", "ls"], ["network", "ls"]):
        rc, out = run(["docker"] + kind + ["-q", "--filter", label])
        left += [f"{kind[0]} {x}" for x in out.split()]
    # and by name, as compose v1 and v2 name them (PROJECT_NAME)
    rc, out = run(["docker", "volume", "ls", "-q"])
    left += [f"volume {v}" for v in out.split() if v.startswith(PD + "_")]
    rc, out = run(["docker", "network", "ls", "--format", "{{.Name}}"])
    left += [f"network {n}" for n in out.split() if n.startswith(PD + "_")]
    assert not left, f"down -v leaves nothing of {PD} ({sorted(set(left))})"
