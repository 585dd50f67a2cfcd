"""compose/nats/healthcheck.sh (the NATS nodes' healthcheck in stack.yaml)
against three nats-server processes of this machine on free loopback ports,
as a cluster with a 3-replica stream (no Docker):

- a node alone (no route to any other, no meta leader) is healthy: three
  nodes that start together must become resolvable in swarm's DNS;
- node 3 stopped, MSGS messages published, node 3 started again: from the
  moment it has a route, the healthcheck never passes while node 3 holds
  fewer than MSGS messages, fails at least once, and passes once it holds
  all of them (what /healthz?js-enabled-only=true, the check before,
  answered meanwhile is printed).

Env: MSGS (60000).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import COMPOSE_DIR, info, wait_for
from support.http import http_get
from support.ports import free_ports

HC = os.path.join(COMPOSE_DIR, "nats", "healthcheck.sh")
MSGS = int(os.environ.get("MSGS") or 60000)
NATS = shutil.which("nats-server") or "/usr/sbin/nats-server"


class Nodes:
    """nats-server n1..n3 (JetStream, cluster hc) on free loopback ports"""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="nats-hc.")
        p = free_ports(9)
        self.client, self.route, self.mon = p[0:3], p[3:6], p[6:9]
        self.procs = {}

    def start(self, i):
        routes = ",".join(f"nats://127.0.0.1:{r}" for r in self.route)
        log = open(os.path.join(self.dir, f"log{i}"), "a")
        self.procs[i] = subprocess.Popen(
            [NATS, "-a", "127.0.0.1", "-p", str(self.client[i - 1]),
             "-m", str(self.mon[i - 1]), "--name", f"n{i}", "-js",
             "-sd", os.path.join(self.dir, f"n{i}"), "--cluster_name", "hc",
             "--cluster", f"nats://127.0.0.1:{self.route[i - 1]}",
             "--routes", routes], stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def stop(self, i):
        p = self.procs.pop(i, None)
        if p:
            p.terminate()
            p.wait()

    def close(self):
        for i in list(self.procs):
            self.stop(i)
        shutil.rmtree(self.dir, ignore_errors=True)

    def hc(self, i):
        """healthcheck.sh of node I passes"""
        return subprocess.run(
            ["sh", HC], env=dict(os.environ,
                                 NATS_MONITOR_PORT=str(self.mon[i - 1])),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL).returncode == 0

    def code(self, i, path):
        return http_get(f"http://127.0.0.1:{self.mon[i - 1]}{path}",
                        timeout=2)[0]

    def _mon(self, i, path, key):
        st, body = http_get(f"http://127.0.0.1:{self.mon[i - 1]}{path}",
                            timeout=2)
        try:
            return json.loads(body).get(key, 0) if st == 200 else 0
        except ValueError:
            return 0

    def msgs(self, i):
        """the messages node I stores"""
        return self._mon(i, "/jsz", "messages")

    def nroutes(self, i):
        return self._mon(i, "/routez", "num_routes")

    def leader(self, i, stream):
        """the leader of STREAM as node I sees it ("" if none)"""
        st, body = http_get(f"http://127.0.0.1:{self.mon[i - 1]}"
                            "/jsz?streams=true&accounts=true", timeout=2)
        try:
            d = json.loads(body) if st == 200 else {}
        except ValueError:
            return ""
        for a in d.get("account_details") or []:
            for x in a.get("stream_detail") or []:
                if x["name"] == stream:
                    return (x.get("cluster") or {}).get("leader") or ""
        return ""


def js_session(port):
    """a plain NATS connection to PORT: (socket, replies(k))"""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b'CONNECT {"verbose":false}\r\nSUB _R.* 1\r\n')

    def replies(k):
        out = []
        while len(out) < k:
            line = f.readline()
            if line.startswith(b"MSG"):
                out.append(f.read(int(line.split()[-1]) + 2))
            elif line.startswith(b"PING"):
                s.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR") or not line:
                raise OSError(f"error: {line!r}")
        return out
    return s, replies


def create_stream(port):
    """stream HC with 3 replicas; None when created, else the error"""
    try:
        s, replies = js_session(port)
        with s:
            b = b'{"name":"HC","subjects":["hc.>"],"num_replicas":3,' \
                b'"storage":"file"}'
            s.sendall(b"PUB $JS.API.STREAM.CREATE.HC _R.c %d\r\n%s\r\n"
                      % (len(b), b))
            r = replies(1)[0]
            return None if b'"error"' not in r else r.decode()
    except OSError as e:
        return str(e)


def publish(port, n):
    """N acknowledged publishes of 1000 bytes to hc.x: how many acked"""
    s, replies = js_session(port)
    body, acked = b"x" * 1000, 0
    with s:
        for w in range(0, n, 500):
            k = min(500, n - w)
            s.sendall(b"".join(b"PUB hc.x _R.p 1000\r\n" + body + b"\r\n"
                               for _ in range(k)))
            acked += sum(1 for r in replies(k) if b'"seq"' in r)
    return acked


@pytest.fixture(scope="module")
def nodes():
    n = Nodes()
    yield n
    n.close()


@pytest.fixture(scope="module")
def alone(nodes):
    """node 1 started alone: (healthcheck passes, /healthz status)"""
    nodes.start(1)
    wait_for(10, lambda: nodes.code(1, "/healthz?js-enabled-only=true")
             == 200, every=0.2)
    time.sleep(1)
    return nodes.hc(1), nodes.code(1, "/healthz")


@pytest.fixture(scope="module")
def three(alone, nodes):
    """nodes 2 and 3 too: (all healthy and /healthz 200 within 30 s,
    node 1's /healthz)"""
    nodes.start(2)
    nodes.start(3)
    ok = wait_for(30, lambda: nodes.hc(1) and nodes.hc(2) and nodes.hc(3)
                  and nodes.code(1, "/healthz") == 200, every=0.2)
    return bool(ok), nodes.code(1, "/healthz")


@pytest.fixture(scope="module")
def behind(three, nodes):
    """stream HC with 3 replicas, node 3 stopped, MSGS messages published
    through node 1: how many acknowledged"""
    err = wait_for(30, lambda: create_stream(nodes.client[0]) is None,
                   every=0.2)
    if not err:
        pytest.fail(f"stream HC with 3 replicas: "
                    f"{create_stream(nodes.client[0])}")
    nodes.stop(3)
    # node 3 may have led HC: publishes get no answer until 1 or 2 leads
    if not wait_for(30, lambda: nodes.leader(1, "HC") in ("n1", "n2"),
                    every=0.2):
        pytest.fail(f"HC without node 3: no leader within 30 s (node 1 "
                    f"sees '{nodes.leader(1, 'HC')}')")
    try:
        return publish(nodes.client[0], MSGS)
    except OSError as e:
        return f"none ({e})"


@pytest.fixture(scope="module")
def catchup(behind, nodes):
    """node 3 started again; the healthcheck polled, and after each poll
    what node 3 holds, until it is healthy holding all MSGS"""
    nodes.start(3)
    r = {"early": 0, "failed_once": False, "passed_behind": [],
         "js_only_behind": 0, "t_ok": None}
    t0 = time.time()
    for _ in range(600):
        if time.time() - t0 > 120:
            break
        routes = nodes.nroutes(3)
        h = nodes.hc(3)
        j = nodes.code(3, "/healthz?js-enabled-only=true")
        m = nodes.msgs(3)
        if routes == 0:
            r["early"] += 1
            continue
        if m < MSGS:
            if h:
                r["passed_behind"].append(
                    f"{m} of {MSGS} messages, routes {routes} then "
                    f"{nodes.nroutes(3)}, /healthz {nodes.code(3, '/healthz')}")
            else:
                r["failed_once"] = True
            if j == 200:
                r["js_only_behind"] += 1
        elif h:
            r["t_ok"] = round(time.time() - t0, 2)
            break
        time.sleep(0.05)
    r["held"] = nodes.msgs(3)
    info(f"NATS healthcheck: node 3: {r['early']} checks before its first "
         f"route; /healthz?js-enabled-only=true answered 200 in "
         f"{r['js_only_behind']} checks while it was behind")
    for x in r["passed_behind"]:
        info(f"NATS healthcheck: node 3 healthy while behind: {x}")
    return r


def test_node_alone_is_healthy(alone):
    hc, code = alone
    assert hc and code == 503, "a node alone (no route): healthy, while " \
        f"/healthz answers 503: healthcheck {'passed' if hc else 'failed'}, " \
        f"/healthz {code}"


def test_three_nodes_form_a_cluster(three):
    ok, code = three
    assert ok, "three nodes: a cluster, every node healthy, /healthz 200 " \
        f"within 30 s: node 1's /healthz {code}"


def test_node_3_stopped_messages_acknowledged(behind):
    assert behind == MSGS, f"node 3 stopped; {MSGS} messages of 1000 " \
        f"bytes acknowledged by nodes 1 and 2: {behind}"


def test_catching_up_never_healthy_while_behind(catchup):
    assert not catchup["passed_behind"] and catchup["failed_once"], \
        f"node 3 catching up: the healthcheck failed while it held fewer " \
        f"than {MSGS} messages, never passed then: passed " \
        f"{len(catchup['passed_behind'])} times behind; failed at all: " \
        f"{catchup['failed_once']}"


def test_healthy_once_current(catchup):
    assert catchup["t_ok"] is not None, \
        f"node 3 healthy once it holds all {MSGS} messages: it holds " \
        f"{catchup['held']}, never healthy with all of them"
    info(f"NATS healthcheck: node 3 healthy once it holds all {MSGS} "
         f"messages ({catchup['t_ok']} s after its start)")
