"""The local stack (tools/run) for the cluster tests, in a temp RUN_DIR on
free ports, and what the tests ask of it: votes over HTTP, Postgres rows,
the worker consumer's state, the VOTES stream's leader and replicas."""
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.realpath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUN = os.path.join(ROOT, "tools", "run")


class Stack:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="votingapp-cluster.", dir="/tmp")
        os.chmod(self.dir, 0o755)
        self.env = dict(os.environ, RUN_DIR=self.dir, RUN_PORTS="auto",
                        WORKERS="1", LOG_LEVEL="warn")
        self.env.pop("NATS_NODES", None)

    def run(self, *args, nodes=None, timeout=300, check=True):
        env = dict(self.env)
        if nodes:
            env["NATS_NODES"] = str(nodes)
        p = subprocess.run([RUN, *args], env=env, cwd=ROOT, timeout=timeout,
                           capture_output=True, text=True)
        if check and p.returncode != 0:
            logs = self.tail_logs()
            raise AssertionError(f"tools/run {' '.join(args)} exited "
                                 f"{p.returncode}:\n{p.stdout}{p.stderr}\n{logs}")
        return p.stdout

    def try_run(self, *args, nodes=None, timeout=300):
        """(exit code, stdout + stderr) of tools/run ARGS."""
        env = dict(self.env)
        if nodes:
            env["NATS_NODES"] = str(nodes)
        p = subprocess.run([RUN, *args], env=env, cwd=ROOT, timeout=timeout,
                           capture_output=True, text=True)
        return p.returncode, p.stdout + p.stderr

    def up(self, nodes):
        self.run("up", nodes=nodes)
        self.ports = {}
        with open(os.path.join(self.dir, "ports.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                self.ports[k] = int(v)

    def tail_logs(self):
        out = []
        logs = os.path.join(self.dir, "logs")
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            with open(os.path.join(logs, name), errors="replace") as f:
                out.append(f"== {name}\n" + "".join(f.readlines()[-15:]))
        return "\n".join(out)

    def nats_urls(self):
        p = self.ports
        return ",".join(f"nats://127.0.0.1:{p[k]}"
                        for k in ("NATS_PORT", "NATS_PORT_2", "NATS_PORT_3"))

    def psql(self, sql):
        p = subprocess.run(
            # the superuser, on tools/run's socket (TCP asks for passwords)
            ["psql", "-h", "/tmp", "-p", str(self.ports["PG_PORT"]),
             "-U", "postgres", "-d", "postgres", "-tAF", "|", "-c", sql],
            capture_output=True, text=True, timeout=30, check=True)
        return [line.split("|") for line in p.stdout.splitlines() if line]

    def rows(self, prefix):
        """{voter: option} of the votes table for voters starting with prefix."""
        return dict(self.psql(f"SELECT id, vote FROM votes "
                              f"WHERE id LIKE '{prefix}%'"))

    def stats(self):
        """votectl stats (JSON), or None while it can't answer. Its
        credentials come from the stack's endpoints.env."""
        env = dict(self.env, NATS_URL=self.nats_urls())
        p = subprocess.run([os.path.join(self.dir, "bin", "votectl"), "stats",
                            "--json"],
                           env=env, capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            return None
        try:
            return json.loads(p.stdout)
        except ValueError:
            return None

    def wait_drained(self, deadline_s=45):
        """Until the worker consumer has nothing pending nor unacked."""
        end = time.monotonic() + deadline_s
        last = None
        while time.monotonic() < end:
            last = self.stats()
            c = (last or {}).get("consumer") or {}
            if c.get("pending") == 0 and c.get("ack_pending") == 0:
                return last
            time.sleep(0.5)
        raise AssertionError(f"not drained in {deadline_s} s: {last}")

    def votes_stream(self):
        """(leader, [(replica, state)]) from tools/run status, or None."""
        out = self.run("status", check=False)
        m = re.search(r"stream VOTES: leader (\S+); replicas (.*)", out)
        if not m:
            return None
        reps = re.findall(r"(\S+) \((current|behind), lag \d+\)", m.group(2))
        return m.group(1), reps

    def stop(self):
        self.run("stop", check=False, timeout=120)

    def remove(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        pg = hashlib.md5(self.dir.encode()).hexdigest()[:12]
        shutil.rmtree(f"/var/lib/votingapp/{pg}", ignore_errors=True)


class Voter:
    """POST /api/vote on one keep-alive connection; each answer recorded as
    (monotonic time at the answer, voter, option, status, Retry-After)."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def vote(self, voter, option):
        body = json.dumps({"vote": option, "voter_id": voter})
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                       timeout=30)
            try:
                self.conn.request("POST", "/api/vote", body,
                                  {"Content-Type": "application/json"})
                r = self.conn.getresponse()
                r.read()
                return (time.monotonic(), voter, option, r.status,
                        r.getheader("Retry-After"))
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    return (time.monotonic(), voter, option,
                            f"error: {e!r}", None)
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def stack():
    s = Stack()
    try:
        yield s
    finally:
        s.stop()
        s.remove()
