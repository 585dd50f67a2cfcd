"""Fixtures of the hostile-input suite: the local stack (tools/run, in a
temp folder on free ports: support.stack), Debian's nginx in front of vote
and result with ui/*/nginx.conf mapped to loopback, and a snapshot of every
vote taken before the hostile requests, compared with afterwards at the end
of the session (`afterwards`), whichever test files ran, in whatever order.

Set HOSTILE_RUN_DIR to a folder where `tools/run up` already runs (its
ports.env) to use that stack instead of starting one.
"""
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
from support.stack import Stack  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
KNOWN_VOTER = "hostile-known-voter"


@pytest.fixture(scope="session")
def stack():
    with Stack(os.environ.get("HOSTILE_RUN_DIR"), "hostile") as s:
        yield s.up() if s.owned else s.attach()


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


def every_process_alive(stack, vote_nginx, result_nginx):
    dead = []
    for name, pid in stack.pids().items():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.append(name)
    assert not dead, f"dead after the hostile requests: {dead} " \
                     f"(see {stack.run_dir}/logs)"
    assert vote_nginx.alive() and result_nginx.alive()


def every_service_ready(stack, vote_nginx, result_nginx):
    for port in (stack.vote, stack.result, stack.worker):
        a = send_raw(port, request(b"GET", b"/readyz"))
        assert a.status == 200, a.raw[:300]
    for port in (vote_nginx.port, result_nginx.port):
        assert send_raw(port, request(b"GET", b"/healthz")).status == 200


def no_vote_changed(stack, before):
    after = snapshot(stack)
    assert after == before, f"votes changed:\nbefore {before}\nafter  {after}"
    assert after["pg_known"] == "a" and after["redis_known"] == "a", \
        f"{KNOWN_VOTER} no longer votes a: {after}"


@pytest.fixture(scope="session", autouse=True)
def afterwards(stack, vote_nginx, result_nginx, before):
    """After all the hostile requests of the session: every process alive,
    every service ready, and not one vote changed (JetStream, Postgres,
    result, Redis). A failure here is an error at the teardown of the
    session's last test, naming each check that failed."""
    yield
    failed = []
    for check, args in ((every_process_alive,
                         (stack, vote_nginx, result_nginx)),
                        (every_service_ready,
                         (stack, vote_nginx, result_nginx)),
                        (no_vote_changed, (stack, before))):
        try:
            check(*args)
        except AssertionError as e:
            failed.append(f"{check.__name__}: {e}")
    assert not failed, "after the hostile requests:\n" + "\n".join(failed)
