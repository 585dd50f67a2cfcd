"""Fixtures and helpers of the Compose end-to-end suite (tests/compose).

The modules share one stack (test_9_devloop.py runs compose.dev.yaml as a
project of its own): a session under the compose project E2E_PROJECT, torn
down with `down -v` at the end unless KEEP=1. What a test needs is a
fixture, made once a session whichever test asks first: offline_base (the
offline base images), offline_images (the stand-ins of the third-party
images), c_images, ui_images, and stack_up (every service but traefik up
and healthy). A fixture whose step failed makes every test that needs it
an error naming that step (its own test, e.g. test_2_up.py's, says why);
so any test file runs alone, and in any order (each module's votes are
counted from what the stack shows when it starts: settled_counts).

Env: COMPOSE (default: "docker compose" if present, else docker-compose),
     KEEP=1 (leave the stack running), E2E_TAG (image tag, e2e),
     HEALTH_TIMEOUT (s, 240), VOTES (votes in the scale test, 200),
     E2E_PROJECT (compose project name, votingtest: two runs at once need two
     names and two sets of ports), E2E_VOTE_UI_PORT, E2E_RESULT_UI_PORT,
     E2E_PROMETHEUS_PORT (host ports, 5000, 5001, 9090).
Figures (build times, time to healthy, sizing, image sizes) are printed in
the "info" section of the terminal summary.
"""
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import support.http  # noqa: E402
from support import compose, proc  # noqa: E402
from support.proc import tail  # noqa: E402,F401 (the tests' import)
from support.http import http_get  # noqa: E402,F401 (the tests' import)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "tests", "compose")
COMPOSE_DIR = os.path.join(ROOT, "compose")

P = os.environ.get("E2E_PROJECT") or "votingtest"
TAG = os.environ.get("E2E_TAG") or "e2e"
VOTE_UI_PORT = os.environ.get("E2E_VOTE_UI_PORT") or "5000"
RESULT_UI_PORT = os.environ.get("E2E_RESULT_UI_PORT") or "5001"
PROMETHEUS_PORT = os.environ.get("E2E_PROMETHEUS_PORT") or "9090"
HEALTH_TIMEOUT = int(os.environ.get("HEALTH_TIMEOUT") or 240)
VOTES = int(os.environ.get("VOTES") or 200)
KEEP = os.environ.get("KEEP", "0") == "1"
SERVICES = ["redis", "db", "nats", "vote", "worker", "result", "vote-ui",
            "result-ui", "prometheus"]                  # all but traefik
VOTE_URL = f"http://127.0.0.1:{VOTE_UI_PORT}"
RESULT_URL = f"http://127.0.0.1:{RESULT_UI_PORT}"
PROM_URL = f"http://127.0.0.1:{PROMETHEUS_PORT}"
PY = sys.executable
T0 = time.time()

# compose.yaml reads these (our images votingapp/NAME:TAG, the host ports)
os.environ.update(TAG=TAG, VOTE_UI_PORT=VOTE_UI_PORT,
                  RESULT_UI_PORT=RESULT_UI_PORT,
                  PROMETHEUS_PORT=PROMETHEUS_PORT)
for _v in ("COMPOSE_FILE", "COMPOSE_PROFILES"):
    os.environ.pop(_v, None)

INFO = []          # "# ..." lines of the terminal summary
STATE = {}         # what one test leaves to a later one (timings, totals)


def info(msg):
    INFO.append(msg)


# commands run in compose/ unless told otherwise
run = functools.partial(proc.run, cwd=COMPOSE_DIR)


COMPOSE = None     # set by the session fixture


def dc_cmd():
    """compose with the project name and the monitoring profile (prometheus
    is one of SERVICES)"""
    return COMPOSE + ["-p", P, "--profile", "monitoring"]


def dc(*args, env=None, timeout=None):
    """dc_cmd() ARGS: (exit code, output)"""
    return run(dc_cmd() + list(args), env=env, timeout=timeout)


def containers(*svcs):
    """ids of the project's containers (running, not one-offs)"""
    rc, out = dc("ps", "-q", *svcs)
    return [x for x in out.split() if len(x) >= 12 and all(
        c in "0123456789abcdef" for c in x)] if rc == 0 else []


def inspect(fmt, obj, kind=None):
    args = ["docker"] + ([kind] if kind else []) + ["inspect", "-f", fmt, obj]
    rc, out = run(args)
    return out.strip() if rc == 0 else ""


def wait_healthy(limit):
    """every container of SERVICES healthy within LIMIT seconds"""
    end = time.time() + limit
    fmt = ("{{if .State.Health}}{{.State.Health.Status}}"
           "{{else}}{{.State.Status}}{{end}}")
    while True:
        ids = containers(*SERVICES)
        if ids and all(inspect(fmt, i) == "healthy" for i in ids):
            return True
        if time.time() >= end:
            lines = [f"not healthy after {limit} s:", dc("ps")[1]]
            for s in SERVICES:
                lines.append(f"logs of {s}:")
                lines.append(dc("logs", "--tail", "15", s)[1])
            info("\n".join(lines))
            return False
        time.sleep(1)


def vote(voter, option, base=None):
    """POST /api/vote; the HTTP status as a string ("000": no answer)"""
    return support.http.vote(base or VOTE_URL, voter, option)


def results():
    st, body = http_get(RESULT_URL + "/api/results")
    try:
        return json.loads(body) if st == 200 else None
    except ValueError:
        return None


def counts():
    """(total, a, b) of /api/results, or None"""
    d = results()
    if not d:
        return None
    by = {x["id"]: x["votes"] for x in d.get("options", [])}
    return d.get("total"), by.get("a", -1), by.get("b", -1)


def wait_results(total, a, b, secs):
    """/api/results shows exactly these counts within SECS; (ok, last seen)"""
    end = time.time() + secs
    while True:
        c = counts()
        if c == (total, a, b):
            return True, c
        if time.time() >= end:
            return False, results()
        time.sleep(0.5)


def prom_targets():
    """sorted "job health" of each active Prometheus target"""
    st, body = http_get(PROM_URL + "/api/v1/targets?state=active")
    try:
        ts = json.loads(body)["data"]["activeTargets"]
    except (ValueError, KeyError, TypeError):
        return []
    return sorted(f'{t["labels"]["job"]} {t["health"]}' for t in ts)


def wait_targets(votes, workers, results_, secs):
    """exactly these targets (and Prometheus itself), every one up;
    (ok, last seen)"""
    want = sorted(["vote up"] * votes + ["worker up"] * workers
                  + ["result up"] * results_ + ["prometheus up"])
    end = time.time() + secs
    while True:
        got = prom_targets()
        if got == want:
            return True, got
        if time.time() >= end:
            return False, got
        time.sleep(1)


def prom_value(query):
    """the value of a one-sample query, or None"""
    q = urllib.parse.urlencode({"query": query})
    st, body = http_get(f"{PROM_URL}/api/v1/query?{q}")
    try:
        r = json.loads(body)["data"]["result"]
        return float(r[0]["value"][1]) if len(r) == 1 else None
    except (ValueError, KeyError, TypeError, IndexError):
        return None


def wait_prom(query, cond, secs):
    """cond(value of QUERY) within SECS; (ok, last value)"""
    end = time.time() + secs
    while True:
        v = prom_value(query)
        if v is not None and cond(v):
            return True, v
        if time.time() >= end:
            return False, v
        time.sleep(1)


def psql_q(sql):
    """psql as the superuser on the db container's socket; the answer
    without whitespace"""
    rc, out = run(dc_cmd() + ["exec", "-T", "db", "psql", "-U",
                             os.environ.get("POSTGRES_USER", "postgres"), "-d",
                             os.environ.get("POSTGRES_DB", "postgres"),
                             "-tAc", sql])
    return "".join(out.split()) if rc == 0 else f"(exit {rc}: {tail(out, 2)})"


def secret(name):
    with open(os.path.join(os.environ["SECRETS_DIR"], name)) as f:
        return f.read().rstrip("\n")    # as the shell's $(cat FILE)


def pytest_terminal_summary(terminalreporter):
    info(f"total time: {int(time.time() - T0)} s")
    terminalreporter.section("info")
    for line in INFO:
        for part in line.splitlines():
            terminalreporter.write_line("# " + part)


@pytest.fixture(scope="session", autouse=True)
def session_stack(tmp_path_factory):
    """dockerd up, compose found, this run's own secrets; at the end
    `down -v` (KEEP=1: the stack stays up)."""
    global COMPOSE
    rc, out = run([os.path.join(HERE, "dockerd-up.sh")], cwd=ROOT)
    if rc != 0:
        pytest.exit(f"dockerd is not up: {tail(out, 5)}", returncode=1)
    COMPOSE = compose.command()
    if not COMPOSE:
        pytest.exit("docker compose or docker-compose installed: neither "
                    "is", returncode=1)
    rc, v = run(COMPOSE + ["version", "--short"])
    if rc != 0:
        v = run(COMPOSE + ["version"])[1].splitlines()[0]
    info(f"compose: {' '.join(COMPOSE)} ({v.strip()})")
    # secrets of this run only (compose.yaml reads SECRETS_DIR); KEEP=1
    # keeps them with the stack, so not under pytest's own tmp directory
    sdir = tempfile.mkdtemp(prefix=f"{P}-secrets.")
    os.environ["SECRETS_DIR"] = sdir
    rc, out = run(["sh", os.path.join(COMPOSE_DIR, "secrets", "generate.sh"),
                   sdir])
    if rc != 0:
        pytest.exit(f"compose/secrets/generate.sh failed: {tail(out, 5)}",
                    returncode=1)
    STATE["logs"] = tmp_path_factory.mktemp("logs")
    yield
    if KEEP:
        info(f"KEEP=1: the stack stays up (cd compose && "
             f"{' '.join(COMPOSE)} -p {P} down -v)")
        return
    shutil.rmtree(sdir, ignore_errors=True)
    dc("--profile", "debug", "--profile", "seed", "down", "-v",
       "--remove-orphans")


def log_path(name):
    """a log file of this run (pytest's temporary directory)"""
    return str(STATE["logs"] / name)


# -- the steps every test of the stack needs, once a session ----------------

class Step:
    """What one step did: exit code, output, seconds."""

    def __init__(self, rc, out, s):
        self.rc, self.out, self.s = rc, out, s

    def need(self, what, test):
        """pytest.fail (an error of the asking test) unless it passed."""
        if self.rc != 0:
            pytest.fail(f"{what} failed (see {test}): {tail(self.out, 5)}")


def timed(args, **kw):
    t = time.time()
    rc, out = run(args, **kw)
    return Step(rc, out, int(time.time() - t))


def build(*svcs, log):
    """compose build SVCS, the output appended to the log file LOG"""
    t = time.time()
    rc, out = dc("build", *svcs)
    with open(log_path(log), "a") as f:
        f.write(out)
    return Step(rc, out, int(time.time() - t))


@pytest.fixture(scope="session")
def offline_base():
    """compose/offline/build.sh --base (the debian base first); then the
    stand-ins build in the background while the C services build (they
    need only the base): Step, with .proc and .log of the background."""
    b = os.path.join(COMPOSE_DIR, "offline", "build.sh")
    step = timed([b, "--base"])
    step.proc = None
    if step.rc == 0:
        info(f"offline base images ({step.s} s)")
        step.log = open(log_path("offline.log"), "w")
        step.proc = subprocess.Popen([b], cwd=COMPOSE_DIR, stdout=step.log,
                                     stderr=subprocess.STDOUT)
    yield step
    if step.proc and step.proc.poll() is None:
        step.proc.kill()
        step.proc.wait()


@pytest.fixture(scope="session")
def offline_images(offline_base):
    """the offline stand-ins of the third-party images, built: Step"""
    offline_base.need("compose/offline/build.sh --base",
                      "test_offline_base_images")
    t = STATE.get("c_build_t0") or time.time()
    rc = offline_base.proc.wait()
    offline_base.log.close()
    with open(log_path("offline.log")) as f:
        out = f.read()
    step = Step(rc, out, int(time.time() - t))
    if rc == 0:
        info(f"offline stand-in images ({step.s} s since the C build "
             "started)\n" + out.rstrip())
    return step


@pytest.fixture(scope="session")
def c_images(offline_base):
    """vote, worker and result images built: Step"""
    offline_base.need("compose/offline/build.sh --base",
                      "test_offline_base_images")
    STATE["c_build_t0"] = time.time()
    step = build("vote", "worker", "result", log="build.log")
    if step.rc != 0 and offline_base.proc:
        offline_base.proc.wait()
    else:
        info(f"vote, worker, result images build ({step.s} s)")
    return step


@pytest.fixture(scope="session")
def ui_images(offline_images):
    """vote-ui and result-ui images built (FROM the nginx stand-in): Step"""
    offline_images.need("the offline stand-in images",
                        "test_offline_stand_in_images")
    step = build("vote-ui", "result-ui", log="build.log")
    if step.rc == 0:
        info(f"vote-ui, result-ui images build ({step.s} s)")
    return step


@pytest.fixture(scope="session")
def host_ports():
    """The project down (volumes too), then the host ports that something
    listens on ([] when all are free). Result asks for nofile 16384: a
    daemon started from a shell with a lower hard limit (and no right to
    raise it) can't grant it: ask for what it has."""
    rc, lim = run(["docker", "run", "--rm", "--entrypoint", "sh",
                   os.environ.get("DEBIAN_IMAGE", "debian:bookworm"), "-c",
                   "ulimit -Hn"])
    lim = lim.strip()
    if rc == 0 and lim.isdigit() and int(lim) < 16384:
        os.environ["RESULT_NOFILE"] = lim
        info(f"the daemon's nofile limit is {lim}: result runs with "
             f"RESULT_NOFILE={lim} (compose default 16384)")
    dc("--profile", "debug", "down", "-v", "--remove-orphans")
    taken = []
    for port in (VOTE_UI_PORT, RESULT_UI_PORT, PROMETHEUS_PORT):
        with socket.socket() as s:
            s.settimeout(2)
            if s.connect_ex(("127.0.0.1", int(port))) == 0:
                taken.append(port)
    return taken


@pytest.fixture(scope="session")
def started(host_ports, c_images, offline_images, ui_images):
    """`up -d --build` of every service but traefik, and whether all were
    healthy within HEALTH_TIMEOUT: (up Step, healthy)"""
    if host_ports:
        pytest.fail(f"host ports {host_ports} taken (see "
                    "test_host_ports_free)")
    c_images.need("the vote, worker, result images", "test_c_images_build")
    offline_images.need("the offline stand-in images",
                        "test_offline_stand_in_images")
    ui_images.need("the vote-ui, result-ui images", "test_ui_images_build")
    t0 = time.time()
    up = timed(dc_cmd() + ["up", "-d", "--build", *SERVICES])
    healthy = up.rc == 0 and wait_healthy(HEALTH_TIMEOUT)
    if healthy:
        STATE["up_s"] = int(time.time() - t0)
        info(f"all {len(SERVICES)} services healthy {STATE['up_s']} s "
             "after up")
    return up, healthy


@pytest.fixture(scope="session")
def stack_up(started):
    """every service but traefik up and healthy (test_2_up.py says why
    not, when not)"""
    up, healthy = started
    up.need("up -d --build", "test_up")
    if not healthy:
        pytest.fail(f"not all services healthy within {HEALTH_TIMEOUT} s "
                    "(see test_all_healthy)")


def traefik_healthcheck():
    """the shell command of traefik's healthcheck in compose.yaml, as
    `config` resolves it ("" when there is none)"""
    r = subprocess.run(dc_cmd() + ["--profile", "debug", "config"],
                       cwd=COMPOSE_DIR, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)
    try:
        hc = yaml.safe_load(r.stdout)["services"]["traefik"]["healthcheck"][
            "test"]
    except (yaml.YAMLError, KeyError, TypeError):
        return ""
    if isinstance(hc, str):
        return hc
    return hc[1] if len(hc) == 2 and hc[0] == "CMD-SHELL" else ""


def settled_counts(secs=60):
    """(total, a, b) of /api/results once every vote cast so far is
    counted: as many voters as Postgres has rows, unchanged for 2 s. What
    a module's own votes are counted from."""
    end = time.time() + secs
    last = None
    while True:
        c = counts()
        rows = psql_q("SELECT count(*) FROM votes")
        if c is not None and str(c[0]) == rows and c == last:
            return c
        if time.time() >= end:
            raise AssertionError(f"results not settled in {secs} s: {c}, "
                                 f"{rows} rows in Postgres")
        last = c if c is not None and str(c[0]) == rows else None
        time.sleep(2)
