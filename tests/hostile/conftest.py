"""Fixtures of the hostile-input suite: the local stack (tools/run, in a
temp folder on free ports), Debian's nginx in front of vote and result with
ui/*/nginx.conf mapped to loopback, and a snapshot of every vote taken
before the hostile requests, to compare with afterwards.

Set HOSTILE_RUN_DIR to a folder where `tools/run up` already runs (its
ports.env) to use that stack instead of starting one.
"""
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.http import (get, http_json, post_json, request,  # noqa: E402
                          send_raw, wait_until)
from support.ports import free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
PSQL = shutil.which("psql") or "/usr/bin/psql"
KNOWN_VOTER = "hostile-known-voter"


class Stack:
    def __init__(self, run_dir):
        self.run_dir = run_dir
        env = {}
        for line in (Path(run_dir) / "ports.env").read_text().splitlines():
            k, _, v = line.partition("=")
            env[k] = v
        self.ports = {k: int(v) for k, v in env.items()}
        self.vote = self.ports["VOTE_PORT"]
        self.result = self.ports["RESULT_PORT"]
        self.worker = self.ports["WORKER_PORT"]

    def psql(self, sql):
        out = subprocess.run(
            # the superuser, on tools/run's socket (TCP asks for passwords)
            [PSQL, "-h", "/tmp", "-p", str(self.ports["PG_PORT"]),
             "-U", "postgres", "-d", "postgres", "-XAtc", sql],
            capture_output=True, text=True, timeout=30, check=True)
        return out.stdout.strip()

    def stream_last_seq(self, name="VOTES"):
        """The last sequence of a JetStream stream, from NATS monitoring:
        a vote answered 2xx is in the stream before its answer."""
        doc = http_json(f"http://127.0.0.1:{self.ports['NATS_MON_PORT']}"
                        "/jsz?streams=true")
        for acc in doc.get("account_details", []):
            for st in acc.get("stream_detail", []):
                if st["name"] == name:
                    return st["state"]["last_seq"]
        raise AssertionError(f"stream {name} not found")

    def pids(self):
        d = Path(self.run_dir) / "pids"
        return {p.name: int(p.read_text()) for p in d.iterdir()}


@pytest.fixture(scope="session")
def stack():
    given = os.environ.get("HOSTILE_RUN_DIR")
    if given:
        yield Stack(given)
        return
    run_dir = tempfile.mkdtemp(prefix="votingapp-hostile.", dir="/tmp")
    os.chmod(run_dir, 0o755)
    env = dict(os.environ, RUN_PORTS="auto", RUN_DIR=run_dir)
    run = [str(ROOT / "tools" / "run")]
    try:
        up = subprocess.run(run + ["up"], env=env, capture_output=True,
                            text=True, timeout=900)
        if up.returncode != 0:
            logs = "".join(f"== {f}\n{f.read_text()[-2000:]}"
                           for f in (Path(run_dir) / "logs").glob("*.log"))
            pytest.fail(f"tools/run up failed:\n{up.stdout}{up.stderr}{logs}")
        yield Stack(run_dir)
    finally:
        subprocess.run(run + ["stop"], env=env, capture_output=True,
                       timeout=120)
        shutil.rmtree(run_dir, ignore_errors=True)
        pg = hashlib.md5(run_dir.encode()).hexdigest()[:12]
        shutil.rmtree(f"/var/lib/votingapp/{pg}", ignore_errors=True)


def local_nginx_conf(ui, upstream, upstream_port, port, tmp, trusted_port):
    """ui/<ui>/nginx.conf made to run here, as tests/browser/lib.mjs does:
    the upstream mapped to loopback, `listen 8080` (clients) to a free
    port and `listen 8081` (traefik's) to another, the html root to the
    repo's folder, pid, logs and temp files in tmp."""
    s = (ROOT / "ui" / ui / "nginx.conf").read_text()
    s = re.sub(r"^\s*user\s+[^;]*;", "", s, count=1, flags=re.M)
    s = re.sub(r"^\s*pid\s+[^;]*;", "", s, count=1, flags=re.M)
    s = "user root;\n" + s
    s = re.sub(r"^(\s*)error_log\s+[^;]*;", rf"\1error_log {tmp}/error.log info;",
               s, flags=re.M)
    s = s.replace("access_log /dev/stdout", f"access_log {tmp}/access.log")
    s = s.replace("_temp_path /tmp/", f"_temp_path {tmp}/")
    for old, new in ((r"listen\s+8080\s*;", f"listen 127.0.0.1:{port};"),
                     (r"listen\s+8081\s*;",
                      f"listen 127.0.0.1:{trusted_port};"),
                     (r"(?m)^(\s*)8081(\s+\$proxy_add_x_forwarded_for;)",
                      rf"\g<1>{trusted_port}\g<2>"),
                     (re.escape(f"{upstream}:5000"),
                      f"127.0.0.1:{upstream_port}"),
                     (re.escape("/usr/share/nginx/html"),
                      str(ROOT / "ui" / ui))):
        s, n = re.subn(old, lambda m, v=new: m.expand(v), s)
        assert n, f"ui/{ui}/nginx.conf: {old} not found"
    return s


class Nginx:
    def __init__(self, ui, upstream, upstream_port):
        self.tmp = tempfile.mkdtemp(prefix=f"hostile-nginx-{ui}.")
        self.port = free_port()               # what clients reach (8080)
        self.trusted_port = free_port()       # traefik's route (8081)
        conf = Path(self.tmp) / "nginx.conf"
        conf.write_text(local_nginx_conf(ui, upstream, upstream_port,
                                         self.port, self.tmp,
                                         self.trusted_port))
        base = [NGINX, "-p", self.tmp, "-e", f"{self.tmp}/error.log",
                "-c", str(conf)]
        check = subprocess.run(base + ["-t"], capture_output=True, text=True)
        assert check.returncode == 0, f"nginx -t: {check.stderr}"
        self.proc = subprocess.Popen(
            base + ["-g", f"daemon off; pid {self.tmp}/nginx.pid;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        wait_until(f"nginx for {ui}", lambda: get(
            self.port, b"/healthz", timeout=1).status == 200, 10)

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)   # workers left behind
        except ProcessLookupError:
            pass
        shutil.rmtree(self.tmp, ignore_errors=True)


class Service:
    """One more process of the stack's binary `name` (vote, result) on a
    free port, with the stack's own settings plus `env` (the setting under
    test): a test can turn a limit on without touching the stack."""

    def __init__(self, stack, name, env):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(
            prefix=f"hostile-{name}.", suffix=".log", delete=False).name
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [str(Path(stack.run_dir) / "bin" / name)],
                env=dict(os.environ, PORT=str(self.port), LOG_LEVEL="info",
                         **env),
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(f"the second {name} ready", lambda: send_raw(
            self.port, request(b"GET", b"/readyz"), 1).status == 200,
            30)

    def metric(self, name):
        a = send_raw(self.port, request(b"GET", b"/metrics"))
        for line in a.body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        raise AssertionError(f"{name} not in /metrics")

    def stop(self):
        """Stops it, asserting it was still alive (its log if not)."""
        alive = self.proc.poll() is None
        died = "" if alive else Path(self.log).read_text()
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.unlink(self.log)
        assert alive, f"{self.proc.args[0]} died: {died}"


@pytest.fixture(scope="session")
def vote_nginx(stack):
    n = Nginx("vote", "vote", stack.vote)
    yield n
    n.stop()


@pytest.fixture(scope="session")
def result_nginx(stack):
    n = Nginx("result", "result", stack.result)
    yield n
    n.stop()


@pytest.fixture(scope="session")
def ports(stack, vote_nginx, result_nginx):
    """Where each target listens: the services and the nginx in front."""
    return {"vote": stack.vote, "vote-nginx": vote_nginx.port,
            "result": stack.result, "result-nginx": result_nginx.port}


def snapshot(stack):
    """Every view of the votes: JetStream, Postgres, result, Redis."""
    results = http_json(f"http://127.0.0.1:{stack.result}/api/results")
    mine = http_json(f"http://127.0.0.1:{stack.vote}/api/vote"
                     f"?voter_id={KNOWN_VOTER}")
    return {
        "stream_last_seq": stack.stream_last_seq(),
        "pg_tallies": stack.psql(
            "SELECT vote || '=' || count FROM tallies ORDER BY vote"),
        "pg_votes": stack.psql("SELECT count(*) FROM votes"),
        "pg_known": stack.psql(
            f"SELECT vote FROM votes WHERE id = '{KNOWN_VOTER}'"),
        "result": [(o["id"], o["votes"]) for o in results["options"]],
        "redis_known": mine["vote"],
    }


@pytest.fixture(scope="session")
def before(stack):
    """The known voter votes "a" (fully through to Postgres and result),
    then everything is recorded. The hostile requests try to vote "b" for
    that voter and for new ones; afterwards nothing may differ."""
    a = post_json(stack.vote, b"/api/vote",
                          {"vote": "a", "voter_id": KNOWN_VOTER})
    assert a.status == 200, a.raw
    wait_until("the known vote in Postgres",
               lambda: stack.psql(f"SELECT vote FROM votes WHERE id = "
                                  f"'{KNOWN_VOTER}'") == "a")
    seq = stack.stream_last_seq()
    wait_until("result caught up with Postgres", lambda: sum(
        n for _, n in snapshot(stack)["result"]) ==
        int(stack.psql("SELECT count(*) FROM votes")))
    snap = snapshot(stack)
    assert snap["stream_last_seq"] == seq
    assert snap["pg_known"] == "a" and snap["redis_known"] == "a", snap
    return snap
