"""The local stack (tools/run, support.stack) for the cluster tests, in a
temp RUN_DIR on free ports, one worker, started by each module with the
NATS nodes it needs; and votes over HTTP on one keep-alive connection."""
import http.client
import json
import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from support.stack import Stack  # noqa: E402


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
    with Stack(name="cluster", WORKERS="1", LOG_LEVEL="warn") as s:
        yield s
