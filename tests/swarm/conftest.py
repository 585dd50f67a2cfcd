"""Fixtures and helpers of the Docker Swarm suite (tests/swarm).

What each module checks (their docstrings say more), in the order they run
(ORDER below; each test asks for the fixtures it needs, so `-k` picks any
subset, at the cost of setting up what that subset needs):

  test_static.py           compose/stack.yaml as `docker stack deploy` reads
                           it (support/compose.py: `docker stack config`)
  test_nats_healthcheck.py compose/nats/healthcheck.sh on three local
                           nats-server processes (no Docker)
  test_registry.py         Debian's docker-registry; our images built, pushed,
                           removed, pulled and run by docker-compose from it
  test_deploy.py           a one-node swarm, the stack deployed, converged
  test_nats_cluster.py     one JetStream cluster of 3, VOTES with 3 replicas
  test_votes.py            votes through both vote-ui tasks on result-ui
  test_least_privilege.py  forbidden acts refused, tasks hardened, nothing
                           without a login published
  test_scale.py            worker 2 -> 3 -> 2 under voting
  test_leader_kill.py      the NATS node leading VOTES killed under voting
  test_redis.py            a redis update keeps the voters
  test_rolling_update.py   vote updated under voting
  test_nats_rollout.py     compose/nats-rollout.sh under voting
  test_afterwards.py       converged again, tallies equal the votes

The session fixtures build on each other: registry -> built -> pushed ->
swarm -> deployed -> stack (converged) -> probe (a container on both
overlay networks; the tests reach the tasks from its network namespace).
Their finalizers undo them in reverse order, also when a test fails or the
run is interrupted (Ctrl-C; SIGTERM is turned into the same): the probe,
the stack, the swarm (made by the suite: it refuses to run on a node that
is in a swarm already) and its volumes, the registry and its image tags.

Env: KEEP=1 (leave everything up), CONVERGE_TIMEOUT (s, 300), PAUSE_LIMIT
     (s, 15), DOCKER (docker). Figures (times, pauses, the voters'
     summaries) are printed in the "info" section of the summary.
"""
import concurrent.futures
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from support import compose, proc  # noqa: E402
from support.http import http_get, vote as post_vote  # noqa: E402
from support.proc import tail  # noqa: E402,F401 (the tests' import)
from support.ports import free_port  # noqa: E402

COMPOSE_DIR = os.path.join(ROOT, "compose")
STACK_FILE = os.path.join(COMPOSE_DIR, "stack.yaml")
S = "votingswarm"                 # stack name
RP = "votingreg"                  # compose project of the registry test
DOCKER = compose.docker()
KEEP = os.environ.get("KEEP", "0") == "1"
CONVERGE_TIMEOUT = int(os.environ.get("CONVERGE_TIMEOUT") or 300)
PAUSE_LIMIT = float(os.environ.get("PAUSE_LIMIT") or 15)
PY = sys.executable
OWN = ["vote", "worker", "result", "vote-ui", "result-ui"]
TAG = "swarm"
# the third-party images, from the registry too (a multi-node swarm pulls
# everything; here Docker Hub is out of reach)
THIRD = {"REDIS_IMAGE": "redis:7.0.5-alpine3.16",
         "POSTGRES_IMAGE": "postgres:15.0-alpine3.16",
         "NATS_IMAGE": "nats:2.9-alpine"}
# every service of the stack with its number of tasks
WANT = {"vote": 2, "worker": 2, "result": 2, "vote-ui": 2, "result-ui": 2,
        "redis": 1, "db": 1, "nats-1": 1, "nats-2": 1, "nats-3": 1,
        "traefik": 0, "prometheus": 1}
NATS = ["nats-1", "nats-2", "nats-3"]
T0 = time.time()

ORDER = ["test_static", "test_nats_healthcheck", "test_registry",
         "test_deploy", "test_nats_cluster", "test_votes",
         "test_least_privilege", "test_scale", "test_leader_kill",
         "test_redis", "test_rolling_update", "test_nats_rollout",
         "test_afterwards"]

# What every docker, compose and script run of the suite gets on top of the
# environment (the fixtures add REGISTRY, TAG, SECRETS_DIR, ...); the
# variables that would make compose read other files are not inherited.
ENV = {}
for _v in ("COMPOSE_FILE", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME"):
    os.environ.pop(_v, None)

INFO = []          # "# ..." lines of the terminal summary


def info(msg):
    INFO.append(msg)
    print("# " + msg)


# ---------------------------------------------------------------- pytest hooks
def pytest_collection_modifyitems(items):
    """modules in ORDER (the later ones change the stack), each module's
    tests in file order"""
    def rank(item):
        mod = item.module.__name__.rsplit(".", 1)[-1]
        return ORDER.index(mod) if mod in ORDER else len(ORDER)
    items.sort(key=rank)       # stable: keeps the order within a module


def _term(signum, frame):
    # once: the finalizers that follow must not be interrupted again
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt("SIGTERM")


def pytest_sessionstart(session):
    signal.signal(signal.SIGTERM, _term)


def pytest_terminal_summary(terminalreporter):
    INFO.append(f"total time: {int(time.time() - T0)} s")
    terminalreporter.section("info")
    for line in INFO:
        for part in line.splitlines():
            terminalreporter.write_line("# " + part)


# ---------------------------------------------------------------- helpers
def run(args, env=None, timeout=None, cwd=COMPOSE_DIR):
    """ARGS with ENV and then env: (exit code, output); 124 on timeout"""
    return proc.run(args, {**ENV, **(env or {})}, timeout, cwd)


def d(*args, **kw):
    """docker ARGS: (exit code, output)"""
    return run(DOCKER + list(args), **kw)


def dc(*args, **kw):
    """docker-compose -p RP ARGS (the registry test's project)"""
    return run(["docker-compose", "-p", RP] + list(args), **kw)


def wait_for(secs, fn, every=1.0):
    """fn() until it is true or SECS pass; its last value"""
    end = time.time() + secs
    while True:
        v = fn()
        if v or time.time() >= end:
            return v
        time.sleep(every)


def get_json(url, timeout=5):
    """the JSON of a 200 answer, or None"""
    st, body = http_get(url, timeout=timeout)
    try:
        return json.loads(body) if st == 200 else None
    except ValueError:
        return None


def ctr(name):
    """ids of the running containers of the stack's service NAME"""
    rc, out = d("ps", "-q", "--filter",
                f"label=com.docker.swarm.service.name={S}_{name}",
                "--filter", "status=running")
    return out.split() if rc == 0 else []


def psql_q(sql):
    """psql as the superuser in the db task; the answer, stripped"""
    ids = ctr("db")
    if not ids:
        return "(no db task)"
    rc, out = d("exec", ids[0], "psql", "-U",
                os.environ.get("POSTGRES_USER", "postgres"), "-d",
                os.environ.get("POSTGRES_DB", "postgres"), "-tAc", sql)
    return out.strip() if rc == 0 else f"(exit {rc}: {tail(out, 2)})"


def secret(name):
    with open(os.path.join(ENV["SECRETS_DIR"], name)) as f:
        return f.read().rstrip("\n")


def service_replicas():
    """{service: "running/wanted"} of the stack"""
    rc, out = d("service", "ls", "--filter",
                f"label=com.docker.stack.namespace={S}",
                "--format", "{{.Name}} {{.Replicas}}")
    got = {}
    for line in out.splitlines() if rc == 0 else []:
        f = line.split()
        if len(f) >= 2 and f[0].startswith(S + "_"):
            got[f[0][len(S) + 1:]] = f[1]
    return got


def converged():
    """(every service at its replicas and every task healthy, what was
    seen)"""
    reps = service_replicas()
    off = {n: reps.get(n) for n, k in WANT.items() if reps.get(n) != f"{k}/{k}"}
    rc, out = d("ps", "--filter", f"label=com.docker.stack.namespace={S}",
                "--format", "{{.Status}}")
    healthy = out.count("(healthy)") if rc == 0 else 0
    want = sum(WANT.values())
    ok = not off and healthy == want
    return ok, f"services not at their replicas: {off}; " \
               f"{healthy} of {want} tasks healthy"


def wait_converged(secs):
    """(converged within SECS, what was seen last)"""
    end = time.time() + secs
    while True:
        ok, seen = converged()
        if ok or time.time() >= end:
            return ok, seen
        time.sleep(1)


def stack_state():
    """the stack's services and containers, for a failure message"""
    return "\n".join([
        d("service", "ls", "--filter",
          f"label=com.docker.stack.namespace={S}")[1],
        d("ps", "-a", "--filter", f"label=com.docker.stack.namespace={S}",
          "--format", "{{.Names}} {{.Status}}")[1]])


def jsz(node):
    """the JetStream view of NATS node NODE (nats-1..3) as a dict, from its
    monitoring port, which answers on the container's loopback only"""
    ids = ctr(node)
    if not ids:
        return None
    rc, out = d("exec", ids[0], "timeout", "5", "wget", "-q", "-O-",
                "http://127.0.0.1:8222/jsz?accounts=true&streams=true"
                "&config=true")
    try:
        return json.loads(out) if rc == 0 else None
    except ValueError:
        return None


def stream_info(stream="VOTES"):
    """(leader, configured replicas, followers current) of STREAM as its
    leader sees it (a node reports only the streams it has a replica of,
    and a follower's view of the others lags); ("-", 0, 0) if none does"""
    first = None
    for n in NATS:
        for a in (jsz(n) or {}).get("account_details") or []:
            for s in a.get("stream_detail") or []:
                if s["name"] != stream:
                    continue
                c = s.get("cluster") or {}
                line = (c.get("leader", "-"),
                        s["config"].get("num_replicas"),
                        sum(1 for r in c.get("replicas") or []
                            if r.get("current")))
                if line[0] == n:
                    return line
                first = first or line
    return first or ("-", 0, 0)


def max_payload(node):
    """max_payload in NODE's /varz (None if it does not answer)"""
    ids = ctr(node)
    if not ids:
        return None
    rc, out = d("exec", ids[0], "timeout", "5", "wget", "-q", "-O-",
                "http://127.0.0.1:8222/varz")
    try:
        return json.loads(out).get("max_payload") if rc == 0 else None
    except ValueError:
        return None


# ---------------------------------------------------------------- the probe
CLONE_NEWNET = 0x40000000


def _enter_netns(pid):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns into the network of pid {pid}: "
                             f"{os.strerror(e)}")
    finally:
        os.close(fd)


class Probe:
    """A container on both overlay networks. The host's programs run in its
    network namespace (nsenter) and reach the tasks by IP; call() runs a
    function of this process there (a thread that entered the namespace:
    its sockets are the probe's)."""

    def __init__(self, name, pid):
        self.name, self.pid = name, pid
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, initializer=_enter_netns, initargs=(pid,))

    def cmd(self, args):
        return ["nsenter", "-t", str(self.pid), "-n"] + list(args)

    def run(self, args, env=None, timeout=60):
        """ARGS in the probe's network: (exit code, output)"""
        return run(self.cmd(args), env=env, timeout=timeout)

    def call(self, fn, *args, **kw):
        """fn(*ARGS) with its sockets in the probe's network"""
        return self.pool.submit(fn, *args, **kw).result()

    def ips(self, name):
        """the tasks of service NAME by swarm's DNS (dnsrr: one A record
        per task), sorted"""
        rc, out = d("exec", self.name, "getent", "ahostsv4", name)
        return sorted({x.split()[0] for x in out.splitlines()}) if rc == 0 \
            else []

    def close(self):
        self.pool.shutdown(wait=False, cancel_futures=True)


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def work():
    """this run's folder (registry data, logs, copies of compose/)"""
    w = tempfile.mkdtemp(prefix="votingswarm.")
    yield w
    if KEEP:
        info(f"KEEP=1: {w} kept")
    else:
        shutil.rmtree(w, ignore_errors=True)


def log_path(work, name):
    return os.path.join(work, name)


@pytest.fixture(scope="session")
def docker_ready():
    """dockerd up, the tools there, and this node in no swarm (the suite
    makes and leaves its own)"""
    rc, out = run([os.path.join(ROOT, "tests", "compose", "dockerd-up.sh")],
                  cwd=ROOT)
    if rc != 0:
        pytest.fail(f"dockerd is not up: {tail(out, 5)}")
    missing = [c for c in ("docker-registry", "docker-compose", "nsenter",
                           "redis-cli", "psql") if not shutil.which(c)]
    if missing:
        pytest.fail(f"not installed (tools/setup --docker): {missing}")
    rc, st = d("info", "-f", "{{.Swarm.LocalNodeState}}")
    if st.strip() != "inactive":
        pytest.fail(f"this node is in a swarm already ('{st.strip()}'): "
                    "the test makes and leaves its own")


@pytest.fixture(scope="session")
def secrets(work):
    """the secrets of this run only (stack.yaml and compose.yaml read
    SECRETS_DIR)"""
    sdir = os.path.join(work, "secrets")
    rc, out = run(["sh", os.path.join(COMPOSE_DIR, "secrets", "generate.sh"),
                   sdir])
    if rc != 0:
        pytest.fail(f"compose/secrets/generate.sh: {tail(out, 5)}")
    ENV["SECRETS_DIR"] = sdir
    return sdir


@pytest.fixture(scope="session")
def offline_images(docker_ready, work):
    """compose/offline/build.sh: the base and stand-in images"""
    t = time.time()
    rc, out = run([os.path.join(COMPOSE_DIR, "offline", "build.sh")])
    if rc != 0:
        pytest.fail(f"compose/offline/build.sh exit {rc}: {tail(out, 20)}")
    return {"seconds": int(time.time() - t)}


@pytest.fixture(scope="session")
def registry(docker_ready, work):
    """Debian's docker-registry on a free loopback port; at the end it
    stops and the image tags of it go (their layers stay as the next run's
    build cache)"""
    addr = f"127.0.0.1:{free_port()}"
    rdir = os.path.join(work, "registry")
    os.makedirs(rdir)
    with open(os.path.join(rdir, "config.yml"), "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n"
                f"  filesystem:\n    rootdirectory: {rdir}/data\n"
                f"  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n")
    log = open(os.path.join(rdir, "log"), "w")
    server = subprocess.Popen(["docker-registry", "serve",
                               os.path.join(rdir, "config.yml")],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        up = wait_for(10, lambda: http_get(f"http://{addr}/v2/",
                                           timeout=2)[0] == 200, every=0.2)
        if not up:
            with open(os.path.join(rdir, "log")) as f:
                pytest.fail(f"docker-registry on {addr} does not answer: "
                            f"{tail(f.read(), 3)}")
        ENV.update(REGISTRY=f"{addr}/votingapp", TAG=TAG)
        yield addr
    finally:
        if KEEP:
            info(f"KEEP=1: registry pid {server.pid} on {addr} left up")
        else:
            server.kill()
            server.wait()
            # a task container that swarm has not removed yet holds its
            # image: again, for 30 s at most
            for _ in range(30):
                rc, out = d("images", "--format", "{{.Repository}}:{{.Tag}}")
                mine = [x for x in out.split() if x.startswith(addr + "/")]
                if not mine or d("rmi", "--no-prune", *mine)[0] == 0:
                    break
                time.sleep(1)
        log.close()


@pytest.fixture(scope="session")
def built(registry, offline_images, secrets, work):
    """`docker-compose build` of our five images as REGISTRY/NAME:TAG;
    which of them are not there right after"""
    # a daemon with a low nofile limit cannot give result its 65536
    rc, lim = d("run", "--rm", "--entrypoint", "sh", "debian:bookworm", "-c",
                "ulimit -Hn")
    lim = lim.strip()
    if rc == 0 and lim.isdigit() and int(lim) < 16384:
        ENV["RESULT_NOFILE"] = lim
        info(f"the daemon's nofile limit is {lim}: result runs with "
             f"RESULT_NOFILE={lim}")
    t = time.time()
    rc, out = dc("build", *OWN)
    with open(log_path(work, "build.log"), "w") as f:
        f.write(out)
    if rc != 0:
        pytest.fail(f"docker-compose build exit {rc}: {tail(out, 30)}")
    images = [f"{ENV['REGISTRY']}/{n}:{TAG}" for n in OWN]
    return {"seconds": int(time.time() - t), "images": images,
            "missing": [i for i in images
                        if d("image", "inspect", i)[0] != 0]}


@pytest.fixture(scope="session")
def pushed(built, registry, work):
    """`docker-compose push`, the stand-ins of redis, postgres and nats
    pushed too (REDIS_IMAGE, ... name the registry's copies from now on),
    then every local copy removed: what runs next comes from the registry"""
    t = time.time()
    rc, out = dc("push")
    res = {"push_rc": rc, "push_out": out, "seconds": int(time.time() - t),
           "third_failed": [], "catalog": sorted(
               (get_json(f"http://{registry}/v2/_catalog") or {})
               .get("repositories") or [])}
    for var, src in THIRD.items():
        dst = f"{registry}/{src}"
        rc1, o1 = d("tag", src, dst)
        rc2, o2 = d("push", dst) if rc1 == 0 else (rc1, o1)
        if rc2 != 0:
            res["third_failed"].append(f"{src}: {tail(o2, 2)}")
        ENV[var] = dst
    local = built["images"] + [ENV[v] for v in THIRD]
    d("rmi", "--no-prune", *local)
    res["still_local"] = [i for i in local
                          if d("image", "inspect", i)[0] == 0]
    return res


@pytest.fixture(scope="session")
def swarm(docker_ready, work):
    """a one-node swarm, the node labelled for db, redis and nats-1..3; at
    the end the node leaves it and the stack's volumes go"""
    rc, out = d("swarm", "init", "--advertise-addr", "127.0.0.1")
    if rc != 0:
        pytest.fail(f"docker swarm init: {tail(out, 3)}")
    try:
        node = d("info", "-f", "{{.Swarm.NodeID}}")[1].strip()
        d("node", "update", "--label-add", "votingapp.db=true",
          *[a for n in NATS for a in ("--label-add", f"votingapp.{n}=true")],
          node)
        yield node
    finally:
        if not KEEP:
            d("swarm", "leave", "--force")
            # the volumes of the stack's tasks, once the tasks are gone
            for _ in range(30):
                vols = [v for v in d("volume", "ls", "-q")[1].split()
                        if v.startswith(S + "_")]
                if not vols:
                    break
                d("volume", "rm", *vols)
                time.sleep(1)


@pytest.fixture(scope="session")
def deployed(swarm, pushed, secrets, work):
    """`docker stack deploy` of stack.yaml as S: every image from the
    registry but Prometheus' (its 400 MB stand-in stays out of it; one node:
    --resolve-image never), ENDPOINT_MODE=dnsrr (no IPVS here: no service
    VIPs, no routing mesh), traefik left out (TRAEFIK_REPLICAS=0: no image
    of it here; its flags and labels are checked statically), vote's
    per-address limit off (the load below comes from one address; vote's
    own tests and tests/hostile check the limit). At the end `docker stack
    rm` and the wait until its containers are gone."""
    ENV.update(STACK=S, ENDPOINT_MODE="dnsrr", TRAEFIK_REPLICAS="0",
               TRAEFIK_PUBLISH_MODE="host", PROMETHEUS_REPLICAS="1",
               VOTE_RATE_PER_MIN="0")
    info(f"deploy: ENDPOINT_MODE=dnsrr (no IPVS here), TRAEFIK_REPLICAS=0 "
         f"(no traefik image here), prometheus from the local image, the "
         f"others from {ENV['REGISTRY'].split('/')[0]}")
    t = time.time()
    rc, out = d("stack", "deploy", "--resolve-image", "never", "-c",
                STACK_FILE, S)
    try:
        if rc != 0:
            pytest.fail(f"docker stack deploy: {tail(out, 5)}")
        yield {"t": t}
    finally:
        if not KEEP:
            d("stack", "rm", S)
            # its containers, then its networks, gone before the node
            # leaves the swarm
            for what in ("ps -a", "network ls"):
                wait_for(60, lambda: not d(
                    *what.split(), "-q", "--filter",
                    f"label=com.docker.stack.namespace={S}")[1].strip())


@pytest.fixture(scope="session")
def stack(deployed):
    """the stack converged: every service at its replicas, every task
    healthy, within CONVERGE_TIMEOUT"""
    ok, seen = wait_converged(CONVERGE_TIMEOUT)
    if not ok:
        logs = "\n".join(f"logs of {n}:\n" + d(
            "service", "logs", "--tail", "10", f"{S}_{n}")[1]
            for n in ("vote", "worker", "nats-1"))
        pytest.fail(f"not converged within {CONVERGE_TIMEOUT} s: {seen}\n"
                    f"{stack_state()}\n{logs}")
    s = int(time.time() - deployed["t"])
    info(f"converge: {s} s from stack deploy to "
         f"{sum(WANT.values())} healthy tasks")
    return {"seconds": s}


@pytest.fixture(scope="session")
def probe(deployed):
    """the probe container, on S_front-tier and S_back-tier"""
    name = f"{S}-probe"
    rc, out = d("run", "-d", "--name", name, "--network", f"{S}_front-tier",
                "debian:bookworm", "sleep", "3600")
    p = None
    try:
        if rc != 0:
            pytest.fail(f"docker run of the probe: {tail(out, 3)}")
        rc, out = d("network", "connect", f"{S}_back-tier", name)
        if rc != 0:
            pytest.fail(f"probe on {S}_back-tier: {tail(out, 3)}")
        pid = d("inspect", "-f", "{{.State.Pid}}", name)[1].strip()
        if not pid.isdigit() or pid == "0":
            pytest.fail(f"probe container has no process ({pid})")
        p = Probe(name, int(pid))
        yield p
    finally:
        if p:
            p.close()
        if not KEEP:
            d("rm", "-f", name)


class App:
    """The stack's UIs, as the probe reaches them"""

    def __init__(self, probe):
        self.probe = probe
        self.vote_uis = [f"http://{ip}:8080" for ip in probe.ips("vote-ui")]
        ips = probe.ips("result-ui")
        self.result_ui = f"http://{ips[0]}:8080" if ips else None

    def vote(self, voter, option, base=None):
        """POST /api/vote through a vote-ui task (the first by default):
        the status (0: no answer)"""
        base = base or (self.vote_uis[0] if self.vote_uis else "http://-")
        return int(self.probe.call(post_vote, base, voter, option))

    def votes_ready(self):
        """every vote task answers its /readyz with 200"""
        tasks = self.probe.ips("vote")
        return bool(tasks) and all(
            self.probe.call(http_get, f"http://{ip}:5000/readyz")[0] == 200
            for ip in tasks)

    def total(self):
        if not self.result_ui:
            return None
        d_ = self.probe.call(get_json, self.result_ui + "/api/results")
        return d_.get("total") if d_ else None

    def voter_of(self, voter):
        """the vote GET /api/vote answers for VOTER ("" if none)"""
        d_ = self.probe.call(get_json, f"{self.vote_uis[0]}/api/vote"
                             f"?voter_id={voter}")
        return (d_ or {}).get("vote") or ""


@pytest.fixture(scope="session")
def app(stack, probe):
    return App(probe)


@pytest.fixture(scope="session")
def votes_stream(app):
    """the first vote (swarm-0) answered 200 within 60 s (the worker has
    made VOTES), then every vote task ready within 30 s more: each finds
    VOTES at its own next check, until then it answers 503; the first
    vote's status"""
    code = wait_for(60, lambda: app.vote("swarm-0", "a") == 200)
    code = 200 if code else app.vote("swarm-0", "a")
    wait_for(30, app.votes_ready, every=0.5)
    return code


# ---------------------------------------------------------------- voting
class Voting:
    """Steady voting from the probe's network (voter.py) until stop()"""

    def __init__(self, app, work, prefix, threads, interval):
        self.prefix = prefix
        self.out = os.path.join(work, f"{prefix}.txt")
        self.stop_file = os.path.join(work, f"stop-{prefix}")
        if os.path.exists(self.stop_file):
            os.unlink(self.stop_file)
        self.err = open(os.path.join(work, f"{prefix}.err"), "w")
        self.proc = subprocess.Popen(app.probe.cmd([
            PY, os.path.join(HERE, "voter.py"),
            "--urls", ",".join(app.vote_uis), "--prefix", prefix,
            "--out", self.out, "--stop-file", self.stop_file,
            "--max-seconds", "240", "--threads", str(threads),
            "--interval", str(interval)]),
            stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.summary = None
        self.lines = []

    def stop(self):
        """stops it; its summary (dict; {} if it died) and its lines"""
        open(self.stop_file, "w").close()
        try:
            out, _ = self.proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.err.close()
        try:
            self.summary = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.summary = {}
        self.lines = []
        if os.path.exists(self.out):
            with open(self.out) as f:
                self.lines = [x.split() for x in f if x.strip()]
        info(f"{self.prefix}: {json.dumps(self.summary)}")
        return self.summary

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def acked(self):
        """(voter, option) of every 200"""
        return {(x[2], x[3]) for x in self.lines if x[4] == "200"}

    def longest_pause(self):
        """the longest time between two acknowledged votes (999 if fewer
        than two)"""
        acks = [float(x[1]) for x in self.lines if x[4] == "200"]
        return round(max((q - p for p, q in zip(acks, acks[1:])),
                         default=999), 2)

    def assert_kept_the_rules(self, what):
        """every answer 200, or 503 with Retry-After (voter.py's "bad")"""
        assert self.summary.get("bad") == 0, \
            f"{what}: every answer 200 or 503 with Retry-After: {self.summary}"

    def assert_acked_in_postgres(self, what):
        """every acknowledged vote in Postgres within 90 s"""
        miss = self.missing_in_pg(90)
        assert not miss, f"{what}: all {len(self.acked())} acknowledged " \
            f"votes in Postgres: {len(miss)} missing, e.g. {miss[:5]}"

    def missing_in_pg(self, secs):
        """the acknowledged votes not in Postgres' votes table (with the
        same option) within SECS"""
        want = self.acked()
        end = time.time() + secs
        while True:
            got = set()
            for line in psql_q(f"SELECT id || ' ' || vote FROM votes WHERE "
                               f"id LIKE '{self.prefix}-%'").splitlines():
                f = line.split()
                if len(f) == 2:
                    got.add((f[0], f[1]))
            miss = want - got
            if not miss or time.time() >= end:
                return sorted(miss)
            time.sleep(1)


@pytest.fixture(scope="session")
def voting(app, work):
    """voting(PREFIX, THREADS, INTERVAL): starts steady voting (a Voting);
    whatever still runs at the session's end is killed"""
    started = []

    def start(prefix, threads=4, interval=0.1):
        v = Voting(app, work, prefix, threads, interval)
        started.append(v)
        return v
    yield start
    for v in started:
        v.kill()
