"""After all the hostile requests: every process alive, every service
ready, and not one vote changed (JetStream, Postgres, result, Redis)."""
import os

from conftest import KNOWN_VOTER, snapshot
from support.http import request, send_raw


def test_every_process_alive(stack, vote_nginx, result_nginx):
    dead = []
    for name, pid in stack.pids().items():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            dead.append(name)
    assert not dead, f"dead after the hostile requests: {dead} " \
                     f"(see {stack.run_dir}/logs)"
    assert vote_nginx.alive() and result_nginx.alive()


def test_every_service_ready(stack, ports):
    for port in (stack.vote, stack.result, stack.worker):
        a = send_raw(port, request(b"GET", b"/readyz"))
        assert a.status == 200, a.raw[:300]
    for target in ("vote-nginx", "result-nginx"):
        assert send_raw(ports[target], request(
            b"GET", b"/healthz")).status == 200


def test_no_vote_changed(stack, before):
    after = snapshot(stack)
    assert after == before, f"votes changed:\nbefore {before}\nafter  {after}"
    assert after["pg_known"] == "a" and after["redis_known"] == "a", \
        f"{KNOWN_VOTER} no longer votes a: {after}"
