"""The README's commands, run as a reader runs them: the text of a section
of README.md, the commands in it, and the local stack they run against,
started by the README's own `RUN_PORTS=auto tools/run` (in the foreground,
as written; stopped by Ctrl-C, SIGINT) in a temp RUN_DIR on free ports.

A command runs as written, through bash in the checkout, with the stack's
environment (RUN_DIR, RUN_PORTS=auto) and the stack's places in the
README's defaults: `.data/` is RUN_DIR, the vote port 5000 and the
Postgres port 15432 are the stack's.
"""
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.http import wait_until  # noqa: E402
from support.stack import Stack  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def section(title):
    """the text of README.md's `## title` section"""
    head = f"\n## {title}\n"
    assert head in README, f"README.md has a section {title}"
    return README.split(head, 1)[1].split("\n## ", 1)[0]


def spans(text):
    """the inline code spans of text, whitespace made single spaces"""
    return [" ".join(s.split()) for s in re.findall(r"`([^`]+)`", text)]


class Foreground(Stack):
    """support.stack's Stack started by a README command line that runs
    tools/run in the foreground (start); stop() is Ctrl-C, then tools/run
    stop for anything left."""

    def __init__(self, name):
        super().__init__(name=name)
        self.dir = self.run_dir
        self.proc = None
        self.log = Path(self.dir, "foreground.log")

    def start(self, command, ready=True, timeout=900):
        """runs command in the background; with ready, waits for "run:
        ready" (the first build takes minutes) and reads the ports"""
        self.proc = subprocess.Popen(
            ["bash", "-c", command], cwd=ROOT, env=self.env,
            stdout=self.log.open("w"), stderr=subprocess.STDOUT,
            start_new_session=True)
        if not ready:
            return self.proc
        wait_until(f"`{command}` says run: ready",
                   lambda: "run: ready" in self.output() or
                   self.proc.poll() is not None, timeout)
        assert "run: ready" in self.output(), \
            f"`{command}` exited {self.proc.returncode}:\n{self.output()}" \
            f"{self.tail_logs()}"
        return self.attach()

    def output(self):
        return self.log.read_text(errors="replace")

    def pid(self, name):
        return self.pids()[name]

    def sh(self, command, timeout=60, env=None):
        """a README command run as written, in the stack's places"""
        cmd = command.replace(".data/", self.dir + "/")
        if self.ports:
            cmd = cmd.replace(":5000", f":{self.ports['VOTE_PORT']}")
            cmd = cmd.replace("-p 15432", f"-p {self.ports['PG_PORT']}")
        return subprocess.run(["bash", "-c", cmd], cwd=ROOT,
                              env=dict(self.env, **(env or {})),
                              capture_output=True, text=True, timeout=timeout)

    def stop(self):
        """Ctrl-C; then tools/run stop. The foreground's exit status, None
        if it had to be killed."""
        rc = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                rc = self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        elif self.proc:
            rc = self.proc.returncode
        super().stop()
        return rc


@pytest.fixture(scope="session")
def stack():
    """the local stack, started by the README's own command"""
    with Foreground("readme") as s:
        s.start(next(c for c in spans(section("Troubleshooting"))
                     if c == "RUN_PORTS=auto tools/run"))
        s.url = f"http://127.0.0.1:{s.ports['VOTE_PORT']}"
        yield s


@pytest.fixture
def second_stack():
    """a folder for another tools/run, removed (and stopped) afterwards"""
    with Foreground("readme2") as s:
        yield s


def json_line(text):
    """the first line of text that is a JSON object, parsed"""
    for line in text.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON line in: {text!r}")
