"""The local stack (tools/run: vote, worker, result, Redis, NATS, Postgres
as processes of this machine) in a folder of its own on free ports, as
tests/hostile and tests/cluster use it: start and stop it (one NATS node or
three), where it listens, its Postgres, its NATS monitoring, votectl.

The Compose stack (tests/compose) is another thing: containers driven by
docker compose, with the helpers of tests/compose/conftest.py."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from support.http import http_json

ROOT = Path(__file__).resolve().parents[2]
RUN = str(ROOT / "tools" / "run")
PSQL = shutil.which("psql") or "/usr/bin/psql"


class Stack:
    """tools/run with RUN_DIR=run_dir and RUN_PORTS=auto. Without run_dir,
    a new folder in /tmp (Postgres' user must reach it) that remove()
    deletes; with one, a stack that may run already (see attach)."""

    def __init__(self, run_dir=None, name="stack", **env):
        self.owned = run_dir is None
        if self.owned:
            run_dir = tempfile.mkdtemp(prefix=f"votingapp-{name}.",
                                       dir="/tmp")
            os.chmod(run_dir, 0o755)
        self.run_dir = str(run_dir)
        self.env = dict(os.environ, RUN_DIR=self.run_dir, RUN_PORTS="auto",
                        **env)
        self.env.pop("NATS_NODES", None)
        self.ports = {}
        self.nodes = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """Stops and removes the stack this Stack made (not a given one)."""
        if self.owned:
            self.stop()
            self.remove()

    # -- tools/run ------------------------------------------------------------

    def try_run(self, *args, nodes=None, timeout=300):
        """(exit code, stdout + stderr) of tools/run ARGS (NATS_NODES=nodes
        when given)."""
        p = self._run(args, nodes, timeout)
        return p.returncode, p.stdout + p.stderr

    def run(self, *args, nodes=None, timeout=300, check=True):
        """stdout of tools/run ARGS; when check, an AssertionError with the
        output and the logs' tails if it fails."""
        p = self._run(args, nodes, timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"tools/run {' '.join(args)} exited "
                                 f"{p.returncode}:\n{p.stdout}{p.stderr}\n"
                                 f"{self.tail_logs()}")
        return p.stdout

    def _run(self, args, nodes, timeout):
        env = dict(self.env)
        if nodes:
            env["NATS_NODES"] = str(nodes)
        return subprocess.run([RUN, *args], env=env, cwd=ROOT,
                              timeout=timeout, capture_output=True, text=True)

    def up(self, nodes=None, timeout=900):
        """tools/run up (NATS_NODES=nodes when given), then attach()."""
        self.run("up", nodes=nodes, timeout=timeout)
        self.nodes = nodes or 1
        return self.attach()

    def attach(self):
        """Reads where the stack listens ($RUN_DIR/ports.env)."""
        self.ports = {}
        for line in (Path(self.run_dir) / "ports.env").read_text() \
                .splitlines():
            k, _, v = line.strip().partition("=")
            if k:
                self.ports[k] = int(v)
        return self

    def stop(self):
        self.run("stop", check=False, timeout=120)

    def remove(self):
        """Deletes the folder (when this Stack made it) and the Postgres
        data tools/run keeps for it."""
        if not self.owned:
            return
        shutil.rmtree(self.run_dir, ignore_errors=True)
        pg = hashlib.md5(self.run_dir.encode()).hexdigest()[:12]
        shutil.rmtree(f"/var/lib/votingapp/{pg}", ignore_errors=True)

    def tail_logs(self, lines=15):
        """The last lines of each log of $RUN_DIR/logs."""
        out = []
        logs = Path(self.run_dir) / "logs"
        for f in sorted(logs.iterdir()) if logs.is_dir() else []:
            with open(f, errors="replace") as fh:
                out.append(f"== {f.name}\n" + "".join(fh.readlines()[-lines:]))
        return "\n".join(out)

    def pids(self):
        """{name: pid} of the processes tools/run started."""
        d = Path(self.run_dir) / "pids"
        return {p.name: int(p.read_text()) for p in d.iterdir()}

    # -- where it listens -----------------------------------------------------

    @property
    def vote(self):
        return self.ports["VOTE_PORT"]

    @property
    def result(self):
        return self.ports["RESULT_PORT"]

    @property
    def worker(self):
        return self.ports["WORKER_PORT"]

    def nats_urls(self):
        """The three nodes' client URLs (NATS_NODES=3)."""
        return ",".join(f"nats://127.0.0.1:{self.ports[k]}"
                        for k in ("NATS_PORT", "NATS_PORT_2", "NATS_PORT_3"))

    # -- what it holds --------------------------------------------------------

    def psql(self, sql):
        """The answer of psql as text (unaligned, no headers, fields
        separated by |)."""
        out = subprocess.run(
            # the superuser, on tools/run's socket (TCP asks for passwords)
            [PSQL, "-h", "/tmp", "-p", str(self.ports["PG_PORT"]),
             "-U", "postgres", "-d", "postgres", "-XAtF", "|", "-c", sql],
            capture_output=True, text=True, timeout=30, check=True)
        return out.stdout.strip()

    def psql_rows(self, sql):
        """The answer of psql as rows, each a list of fields."""
        return [line.split("|") for line in self.psql(sql).splitlines()
                if line]

    def rows(self, prefix):
        """{voter: option} of the votes table for voters starting with
        prefix."""
        return dict(self.psql_rows(f"SELECT id, vote FROM votes "
                                   f"WHERE id LIKE '{prefix}%'"))

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

    def votes_stream(self):
        """(leader, [(replica, state)]) of stream VOTES from tools/run
        status, or None."""
        out = self.run("status", check=False)
        m = re.search(r"stream VOTES: leader (\S+); replicas (.*)", out)
        if not m:
            return None
        reps = re.findall(r"(\S+) \((current|behind), lag \d+\)", m.group(2))
        return m.group(1), reps

    def stats(self):
        """votectl stats (JSON), or None while it can't answer. Its
        credentials come from the stack's endpoints.env."""
        env = dict(self.env)
        if self.nodes > 1:
            env["NATS_URL"] = self.nats_urls()
        p = subprocess.run([str(Path(self.run_dir) / "bin" / "votectl"),
                            "stats", "--json"],
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
