"""The chart's NATS node, run for real: the ConfigMap's entrypoint.sh,
server.conf and auth.conf as `helm template` renders them, started three
times with Debian's nats-server (tools/setup) on loopback, as the
StatefulSet's three pods would start. Only what a pod has that this machine
has not is changed: each node's monitoring port (server.conf's
127.0.0.1:8222 once per pod there, three on one host here), its cluster
and client ports, and its folders.

The cluster forms with authenticated routes (the password never on a
command line); a route without it is refused; the users of auth.conf work
with the Secret's passwords and no more; a stream of three replicas is
created as the worker creates VOTES; a missing secret stops a node (exit 2).
"""
import json
import os
import re
import secrets
import shutil
import socket
import stat
import subprocess
import time

import pytest

import chart
import support.http
from support.ports import free_ports

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
USERS = ["vote", "worker", "debug", "admin", "route"]


def http_get(port, path):
    """(status, body) of GET path on a node's monitoring port (0: none)"""
    return support.http.http_get(f"http://127.0.0.1:{port}{path}", timeout=2)


class Client:
    """Just enough of the NATS protocol: CONNECT, SUB, PUB, PING."""

    def __init__(self, port, user, password):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        assert self.line().startswith(b"INFO ")
        self.send("CONNECT " + json.dumps({
            "user": user, "pass": password, "verbose": False,
            "pedantic": False, "protocol": 1}) + "\r\n")

    def send(self, text):
        self.s.sendall(text.encode() if isinstance(text, str) else text)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError(self.buf.decode(errors="replace"))
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\r\n", 1)
        return ln

    def ping(self):
        """PONG, or the server's -ERR."""
        self.send("PING\r\n")
        while True:
            ln = self.line()
            if ln == b"PING":
                self.send("PONG\r\n")
            elif ln == b"PONG" or ln.startswith(b"-ERR"):
                return ln.decode()

    def request(self, subject, payload, inbox):
        self.send(f"SUB {inbox} 1\r\n")
        data = payload.encode()
        self.send(f"PUB {subject} {inbox} {len(data)}\r\n".encode() + data + b"\r\n")
        while True:
            ln = self.line()
            if ln.startswith(b"MSG "):
                n = int(ln.split()[-1])
                while len(self.buf) < n + 2:
                    self.buf += self.s.recv(65536)
                body, self.buf = self.buf[:n], self.buf[n + 2:]
                return json.loads(body)
            if ln.startswith(b"-ERR"):
                return ln.decode()
            if ln == b"PING":
                self.send("PONG\r\n")

    def close(self):
        self.s.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    assert os.access(NATS_SERVER, os.X_OK), "nats-server missing: tools/setup"
    objs = chart.render()
    cm = chart.get(objs, "ConfigMap", chart.name("nats"))["data"]
    sts = chart.get(objs, "StatefulSet", chart.name("nats"))
    env = {e["name"]: e["value"] for e in sts["spec"]["template"]["spec"]
           ["containers"][0]["env"] if "value" in e}
    base = tmp_path_factory.mktemp("nats")
    sec = base / "secrets"
    sec.mkdir()
    pw = {u: secrets.token_hex(16) for u in USERS}
    for u, p in pw.items():
        (sec / f"nats_{u}_password").write_text(p + "\n")
    ports = free_ports(9)
    nodes = [{"client": ports[3 * i], "cluster": ports[3 * i + 1],
              "monitor": ports[3 * i + 2], "name": f"{chart.name('nats')}-{i}"}
             for i in range(3)]
    routes = ",".join(f"127.0.0.1:{n['cluster']}" for n in nodes)
    procs = []
    for i, n in enumerate(nodes):
        d = base / f"node{i}"
        for sub in ("etc", "run", "data"):
            (d / sub).mkdir(parents=True)
        (d / "etc/entrypoint.sh").write_text(cm["entrypoint.sh"])
        (d / "etc/auth.conf").write_text(cm["auth.conf"])
        conf = cm["server.conf"].replace("http: 127.0.0.1:8222",
                                         f"http: 127.0.0.1:{n['monitor']}")
        assert conf != cm["server.conf"]
        (d / "etc/server.conf").write_text(conf)
        e = dict(os.environ, POD_NAME=n["name"],
                 NATS_CLUSTER_NAME=env["NATS_CLUSTER_NAME"],
                 NATS_CLUSTER_ROUTES=routes, NATS_CLUSTER_PORT=str(n["cluster"]),
                 NATS_CONFIG_DIR=str(d / "etc"), NATS_RUN_DIR=str(d / "run"),
                 NATS_SECRETS_DIR=str(sec), NATS_STORE_DIR=str(d / "data"),
                 PATH=os.path.dirname(NATS_SERVER) + ":" + os.environ["PATH"])
        n["dir"], n["log"] = d, open(d / "log", "w+")
        n["proc"] = subprocess.Popen(["/bin/sh", str(d / "etc/entrypoint.sh"),
                                      "-p", str(n["client"])], env=e,
                                     stdout=n["log"], stderr=subprocess.STDOUT)
        procs.append(n["proc"])
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            ok = [http_get(n["monitor"], "/healthz?js-server-only=true")[0] == 200
                  and json.loads(http_get(n["monitor"], "/routez")[1] or "{}")
                  .get("num_routes") == 2 for n in nodes]
            if all(ok):
                break
            time.sleep(0.3)
        yield {"nodes": nodes, "pw": pw, "base": base, "routes": routes,
               "started": time.time()}
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def logs(cluster):
    out = []
    for n in cluster["nodes"]:
        n["log"].flush()
        out.append((n["dir"] / "log").read_text()[-2000:])
    return "\n".join(out)


def test_cluster_forms_with_jetstream(cluster):
    for n in cluster["nodes"]:
        st, body = http_get(n["monitor"], "/routez")
        assert st == 200 and json.loads(body)["num_routes"] == 2, logs(cluster)
        assert http_get(n["monitor"], "/healthz?js-server-only=true")[0] == 200
        deadline = time.time() + 20
        while http_get(n["monitor"], "/healthz?js-enabled-only=true")[0] != 200:
            assert time.time() < deadline, logs(cluster)
            time.sleep(0.3)
        jsz = json.loads(http_get(n["monitor"], "/jsz")[1])
        assert jsz["meta_cluster"]["cluster_size"] == 3
        varz = json.loads(http_get(n["monitor"], "/varz")[1])
        assert varz["server_name"] == n["name"]


def test_route_password_not_on_a_command_line(cluster):
    pw = cluster["pw"]["route"]
    for n in cluster["nodes"]:
        pid = n["proc"].pid   # the shell exec'd nats-server: the same pid
        cmdline = open(f"/proc/{pid}/cmdline", "rb").read().decode()
        assert "nats-server" in cmdline and pw not in cmdline, cmdline
        for var in open(f"/proc/{pid}/environ", "rb").read().split(b"\0"):
            assert pw.encode() not in var
        conf = n["dir"] / "run" / "nats.conf"
        assert stat.S_IMODE(conf.stat().st_mode) == 0o600
        assert pw in conf.read_text()


def intruder_routes(cluster, creds):
    """num_routes of a plain nats-server that routes to node 0 as creds."""
    n0 = cluster["nodes"][0]
    mon, cport, port = free_ports(3)
    p = subprocess.Popen([NATS_SERVER, "-p", str(port), "-m", str(mon),
                          "--cluster_name", "votingapp",
                          "--cluster", f"nats://127.0.0.1:{cport}",
                          "--routes", f"nats://{creds}127.0.0.1:{n0['cluster']}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3)
        st, body = http_get(mon, "/routez")
        assert st == 200, body
        return json.loads(body)["num_routes"]
    finally:
        p.terminate()
        p.wait(10)


@pytest.mark.parametrize("creds", ["", "route:wrong@", "vote:{vote}@"])
def test_route_without_the_password_is_refused(cluster, creds):
    creds = creds.format(**cluster["pw"])
    assert intruder_routes(cluster, creds) == 0
    n0 = cluster["nodes"][0]
    assert json.loads(http_get(n0["monitor"], "/routez")[1])["num_routes"] == 2


def test_zz_route_with_the_password_joins(cluster):
    """The control of the test above (last: it adds a node to the cluster)."""
    assert intruder_routes(cluster, f"route:{cluster['pw']['route']}@") >= 1


def test_users_and_their_permissions(cluster):
    port, pw = cluster["nodes"][1]["client"], cluster["pw"]
    c = Client(port, "vote", pw["vote"])
    c.send("PUB votes.test 2\r\nhi\r\n")
    assert c.ping() == "PONG"
    c.send("PUB deadletter.votes 2\r\nhi\r\n")   # not vote's
    assert "Permissions Violation" in c.ping()
    c.close()
    c = Client(port, "vote", pw["worker"])
    assert "Authorization Violation" in c.ping()
    c.close()
    c = Client(port, "route", pw["route"])   # the routes' user is no client
    assert "Authorization Violation" in c.ping()
    c.close()


def test_worker_creates_a_stream_of_three_replicas(cluster):
    c = Client(cluster["nodes"][2]["client"], "worker", cluster["pw"]["worker"])
    cfg = {"name": "VOTES", "subjects": ["votes.>"], "num_replicas": 3,
           "storage": "file"}
    deadline = time.time() + 20
    while True:   # the meta leader may still be elected
        r = c.request("$JS.API.STREAM.CREATE.VOTES", json.dumps(cfg),
                      "_INBOX_worker.test")
        if isinstance(r, dict) and "error" not in r or time.time() > deadline:
            break
        time.sleep(0.5)
    c.close()
    assert isinstance(r, dict) and "error" not in r, r
    assert r["config"]["num_replicas"] == 3
    assert len(r["cluster"].get("replicas", [])) == 2, r["cluster"]


def test_missing_secret_stops_the_node(cluster, tmp_path):
    n = cluster["nodes"][0]
    sec = tmp_path / "secrets"
    shutil.copytree(cluster["base"] / "secrets", sec)
    (sec / "nats_route_password").unlink()
    e = dict(os.environ, POD_NAME="x", NATS_CLUSTER_ROUTES=cluster["routes"],
             NATS_CONFIG_DIR=str(n["dir"] / "etc"), NATS_RUN_DIR=str(tmp_path),
             NATS_SECRETS_DIR=str(sec))
    p = subprocess.run(["/bin/sh", str(n["dir"] / "etc/entrypoint.sh")],
                       env=e, capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert re.search(r"secret nats_route_password .*missing or empty", p.stderr)
    assert not (tmp_path / "nats.conf").exists()
