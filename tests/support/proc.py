"""Commands the suites run: their exit code and their output together."""
import os
import subprocess


def run(args, env=None, timeout=None, cwd=None):
    """Runs ARGS in CWD with the environment plus ENV: (exit code, stdout
    and stderr together); 124 and what it printed so far on a timeout."""
    e = dict(os.environ, **(env or {}))
    try:
        p = subprocess.run(args, cwd=cwd, env=e, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired as x:
        out = x.output or ""
        if isinstance(out, bytes):
            out = out.decode(errors="replace")
        return 124, out
    return p.returncode, p.stdout


def tail(text, n):
    """the last N lines of TEXT, on one line"""
    return " ".join((text or "").strip().splitlines()[-n:])
