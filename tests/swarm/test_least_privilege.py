"""Least privilege on the swarm: a few forbidden acts from the back-tier
network (the probe), as tests/compose does them all; every task hardened;
nothing without a login answers beyond the host's loopback (traefik's
dashboard, 8080: traefik is not deployed here, its ports are checked
statically; Prometheus, 9090), and Prometheus answers through docker exec
(README.md, Security)."""
import os
import socket
import subprocess

import pytest

from conftest import COMPOSE_DIR, PY, WANT, ctr, d, secret
from support.http import http_get

NATS_CLI = os.path.join(COMPOSE_DIR, "offline", "nats-box", "nats")


@pytest.fixture(scope="module")
def ips(app):
    """the first task address of nats-1, redis and db"""
    return {n: (app.probe.ips(n) or ["-"])[0]
            for n in ("nats-1", "redis", "db")}


def natsc(app, ips, *args):
    return app.probe.run([PY, NATS_CLI, "-s", f"nats://{ips['nats-1']}:4222",
                          *args], timeout=30)[1]


def test_anonymous_nats_refused(app, ips):
    out = natsc(app, ips, "server", "check", "connection")
    assert "Authorization Violation" in out, \
        f"refused: anonymous NATS connection: {out.strip()}"


def test_vote_user_cannot_read_votes(app, ips):
    out = natsc(app, ips, "--user", "vote", "--password",
                secret("nats_vote_password"), "sub", "votes.>", "--count",
                "1")
    assert "Permissions Violation" in out, \
        f"refused: vote's NATS user reading votes.>: {out.strip()}"


def rogue_route(host):
    """a route into the cluster without its password: the server's answer
    to CONNECT + PING (a route sees every message)"""
    try:
        with socket.create_connection((host, 6222), timeout=5) as s:
            f = s.makefile("rb")
            f.readline()
            s.sendall(b'CONNECT {"verbose":false,"pedantic":false,'
                      b'"name":"rogue"}\r\nPING\r\n')
            return f.readline().decode(errors="replace").strip()
    except OSError as e:
        return f"{type(e).__name__}: {e}"


def test_route_without_password_refused(app, ips):
    out = app.probe.call(rogue_route, ips["nats-1"])
    assert "Authorization Violation" in out, \
        f"refused: a route into the NATS cluster without its password: {out}"


def test_nats_monitoring_not_on_the_network(app, ips):
    def connect():
        try:
            socket.create_connection((ips["nats-1"], 8222), timeout=5).close()
            return "connected"
        except socket.timeout:
            return "timed out"
        except OSError as e:
            return f"refused ({type(e).__name__}: {e})"
    out = app.probe.call(connect)
    assert out.startswith("refused"), \
        f"refused: NATS monitoring from the network: {out}"


def test_redis_without_password_refused(app, ips):
    out = app.probe.run(["redis-cli", "-h", ips["redis"], "ping"])[1]
    assert "NOAUTH" in out, f"refused: Redis without a password: {out.strip()}"


def test_postgres_result_cannot_insert(app, ips):
    out = app.probe.run(
        ["psql", "-h", ips["db"], "-U", "result", "-d",
         os.environ.get("POSTGRES_DB", "postgres"), "-tAc",
         "INSERT INTO tallies VALUES ('z', 1)"],
        env={"PGPASSWORD": secret("postgres_result_password")})[1]
    assert "permission denied" in out, \
        f"refused: Postgres role result inserting a row: {out.strip()}"


def test_every_task_hardened(stack):
    soft = []
    for n in WANT:
        for i in ctr(n):
            f = d("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}} "
                  "{{.HostConfig.CapDrop}} {{.HostConfig.PidsLimit}}", i)[1] \
                .strip()
            parts = f.split(" ", 2)
            if not (len(parts) == 3 and parts[0] == "true"
                    and parts[1] == "[ALL]" and parts[2].isdigit()
                    and int(parts[2]) > 0):
                soft.append(f"{n}({f})")
    assert not soft, \
        f"every task: read-only root, cap_drop ALL, a pids limit: not {soft}"


def docker0():
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout.split()
    return out[out.index("inet") + 1].split("/")[0] if "inet" in out else ""


def test_host_has_a_docker0_address():
    a = docker0()
    assert a, f"the host has an address on docker0: '{a}'"


@pytest.mark.parametrize("where", ["docker0", "127.0.0.1"])
@pytest.mark.parametrize("port", [8080, 9090])
def test_nothing_answers(stack, where, port):
    a = docker0() if where == "docker0" else where
    st = http_get(f"http://{a}:{port}/", timeout=3)[0] if a else "no address"
    assert a and st == 0, f"nothing answers on {a or where}:{port}: {st}"


def test_prometheus_through_docker_exec(stack):
    ids = ctr("prometheus")
    out = d("exec", ids[0], "wget", "-q", "-O-",
            "http://127.0.0.1:9090/-/ready")[1] if ids else "no task"
    assert "ready" in out.lower(), "Prometheus answers through docker exec " \
        f"on its task (README.md, Security): {out.strip()[:200]}"
