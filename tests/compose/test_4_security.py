"""Least privilege (README "Security"): with this run's own generated
secrets, each forbidden act is tried from inside the network and refused
with the server's own words; every container read-only, without
capabilities, limited; no secret in logs, /readyz or /metrics; a missing
secret stops a service (exit 2)."""
import os
import re

import pytest

from conftest import (PROMETHEUS_PORT, SERVICES, containers, dc, http_get,
                      inspect, run, secret, tail, vote)

pytestmark = pytest.mark.usefixtures("stack_up")


def natsc(user, pw, *args):
    """the nats CLI of nats-box on back-tier as USER ("" for anonymous)"""
    return dc("--profile", "debug", "run", "--rm", "--no-deps", "-T",
              "--entrypoint", "nats", "-e", f"NATS_USER={user}", "-e",
              f"NATS_PASSWORD={pw}", "nats-box", *args)


def redisc(*args):
    """redis-cli from a new redis container on back-tier"""
    return dc("run", "--rm", "--no-deps", "-T", "--entrypoint", "redis-cli",
              "redis", "-h", "redis", *args)


def psql_as(role, pw, sql):
    """psql from a new db container on back-tier to db over the network"""
    return dc("run", "--rm", "--no-deps", "-T", "-e", f"PGPASSWORD={pw}",
              "--entrypoint", "psql", "db", "-h", "db", "-U", role, "-d",
              os.environ.get("POSTGRES_DB", "postgres"), "-v",
              "ON_ERROR_STOP=1", "-tAc", sql)


def assert_refused(what, pattern, result, exit_code=True):
    """the command failed (exit_code: tools that exit 0 on an error reply
    are judged by their words only) and said PATTERN"""
    rc, out = result
    assert (rc != 0 or not exit_code) and re.search(pattern, out), \
        f"refused: {what} (exit {rc}: {tail(out, 2)})"


NATS = [
    ("anonymous NATS connection", "Authorization Violation",
     ("", None, "server", "check", "connection")),
    ("NATS user vote with a wrong password", "Authorization Violation",
     ("vote", "wrong", "server", "check", "connection")),
    ("vote's NATS user reading votes.>",
     "Permissions Violation for Subscription",
     ("vote", "nats_vote_password", "sub", "votes.>", "--count", "1")),
    ("vote's NATS user making a consumer on VOTES",
     "Permissions Violation for Publish",
     ("vote", "nats_vote_password", "pub", "$JS.API.CONSUMER.CREATE.VOTES",
      "{}")),
    ("vote's NATS user reading a message of VOTES",
     "Permissions Violation for Publish",
     ("vote", "nats_vote_password", "pub", "$JS.API.STREAM.MSG.GET.VOTES",
      '{"seq":1}')),
    ("vote's NATS user deleting VOTES", "Permissions Violation for Publish",
     ("vote", "nats_vote_password", "pub", "$JS.API.STREAM.DELETE.VOTES",
      "")),
    ("worker's NATS user publishing a vote",
     "Permissions Violation for Publish",
     ("worker", "nats_worker_password", "pub", "votes.a", "x")),
    ("debug's NATS user publishing a vote",
     "Permissions Violation for Publish",
     ("debug", "nats_debug_password", "pub", "votes.a", "x")),
    ("debug's NATS user pulling from the worker's consumer",
     "Permissions Violation for Publish",
     ("debug", "nats_debug_password", "pub",
      "$JS.API.CONSUMER.MSG.NEXT.VOTES.worker", "1")),
    # (compose/nats:auth_test shows what each would have done)
    ("debug's NATS user making a consumer on VOTES",
     "Permissions Violation for Publish",
     ("debug", "nats_debug_password", "pub", "$JS.API.CONSUMER.CREATE.VOTES",
      '{"stream_name":"VOTES","config":{"deliver_subject":"votes.b"}}')),
    ("debug's NATS user making or changing the worker's consumer",
     "Permissions Violation for Publish",
     ("debug", "nats_debug_password", "pub",
      "$JS.API.CONSUMER.DURABLE.CREATE.VOTES.worker", "{}")),
    ("debug's NATS user reading other clients' replies",
     "Permissions Violation for Subscription",
     ("debug", "nats_debug_password", "sub", "_INBOX.>", "--count", "1")),
]


@pytest.mark.parametrize("what,pattern,cmd", NATS, ids=[x[0] for x in NATS])
def test_nats_refuses(what, pattern, cmd):
    # the password: a secret's name, a literal ("wrong") or none
    user, pw, *args = cmd
    if pw and pw.endswith("_password"):
        pw = secret(pw)
    assert_refused(what, pattern, natsc(user, pw or "", *args))


def test_nats_monitoring_on_loopback_only():
    """/connz, /varz and /jsz name users, clients and streams, and have no
    authentication: the nats container serves them to itself only"""
    nats = containers("nats")[0]
    rc, out = dc("exec", "-T", "nats", "wget", "-q", "-O-",
                 "http://127.0.0.1:8222/varz")
    assert rc == 0 and '"server_id"' in out, tail(out, 2)
    ip = inspect("{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                 nats)
    assert ip, "nats has no address on back-tier"
    assert_refused("NATS monitoring from back-tier", "Connection refused",
                   dc("run", "--rm", "--no-deps", "-T", "--entrypoint",
                      "wget", "nats", "-q", "-O-", f"http://{ip}:8222/varz",
                      timeout=60))


def redis_vote(*args):
    return redisc("--no-auth-warning", "--user", "vote", "--pass",
                  secret("redis_vote_password"), *args)


def test_redis_without_password():
    assert_refused("Redis without a password", "NOAUTH", redisc("ping"),
                   exit_code=False)


REDIS = [("SET another key", ("set", "x", "1")),
         ("KEYS *", ("keys", "*")),
         ("CONFIG SET", ("config", "set", "dir", "/tmp"))]


@pytest.mark.parametrize("what,args", REDIS, ids=[x[0] for x in REDIS])
def test_redis_user_vote_refused(what, args):
    assert_refused(f"Redis user vote: {what}", "NOPERM", redis_vote(*args),
                   exit_code=False)


@pytest.fixture(scope="module")
def voter():
    """a voter who voted b through vote-ui"""
    code = vote("e2e-sec-1", "b")
    assert code == "200", f"vote e2e-sec-1 through vote-ui ({code})"
    return "e2e-sec-1"


def test_redis_user_vote_reads_voters(voter):
    # redis-cli's answer is its last line, past compose's own lines
    rc, out = redis_vote("hget", "voters", voter)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    assert last == "b", f"Redis user vote reads the voters hash ({last!r})"


def test_postgres_result_reads_tallies():
    rc, out = psql_as("result", secret("postgres_result_password"),
                      "SELECT sum(count) FROM tallies")
    assert re.search(r"^[0-9]+$", out, re.M), \
        f"Postgres role result reads the tallies ({tail(out, 2)})"


PG = [("Postgres role result inserting a row", "permission denied",
       ("result", "postgres_result_password",
        "INSERT INTO tallies VALUES ('z', 1)")),
      ("Postgres role result creating a table", "permission denied",
       ("result", "postgres_result_password", "CREATE TABLE x (i int)")),
      ("Postgres role result reading the voters", "permission denied",
       ("result", "postgres_result_password", "SELECT id FROM votes")),
      ("Postgres role worker running a program (COPY ... PROGRAM)",
       "must be superuser|permission denied",
       ("worker", "postgres_worker_password",
        "COPY tallies TO PROGRAM 'id'")),
      ("the Postgres superuser over the network", "rejects connection",
       ("postgres", "postgres_password", "SELECT 1"))]


@pytest.mark.parametrize("what,pattern,cmd", PG, ids=[x[0] for x in PG])
def test_postgres_refuses(what, pattern, cmd):
    role, pw, sql = cmd
    assert_refused(what, pattern, psql_as(role, secret(pw), sql))


@pytest.mark.parametrize("svc", SERVICES)
def test_container_hardened(svc):
    # read-only root, no capability, no new privileges, memory and process
    # limits
    ids = containers(svc)
    assert ids, f"{svc}: no container"
    fmt = ("{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} "
           "{{.HostConfig.SecurityOpt}} {{.HostConfig.Memory}} "
           "{{.HostConfig.PidsLimit}}")
    for i in ids:
        n = inspect("{{.Name}}", i).lstrip("/")
        f = re.sub(r"\[([^]]*)\]", r"\1", inspect(fmt, i)).split()
        ro, caps, sec, mem, pids = (f + [""] * 5)[:5]
        mem = int(mem) if mem.isdigit() else 0
        pids = int(pids) if pids.lstrip("-").isdigit() else 0
        assert (ro, caps, sec) == ("true", "ALL", "no-new-privileges:true") \
            and mem > 0 and pids > 0, \
            f"{n}: read-only root, cap_drop ALL, no-new-privileges, memory " \
            f"{mem // 1048576} MiB, pids {pids} (got: {' '.join(f)})"


@pytest.mark.parametrize("svc", ["vote-ui", "result-ui", "redis", "db",
                                 "nats"])
def test_root_filesystem_write_refused(svc):
    assert_refused(f"a write to {svc}'s root filesystem (as root)",
                   "Read-only file system",
                   dc("exec", "-T", "-u", "0", svc, "sh", "-c",
                      "echo x >/etc/written-by-an-attacker"))


def test_no_secret_in_logs_readyz_metrics():
    seen = "".join(out for _, out in (
        dc("logs"),
        dc("exec", "-T", "vote-ui", "wget", "-q", "-O-",
           "http://vote:5000/readyz", "http://vote:5000/metrics"),
        dc("exec", "-T", "nats", "wget", "-q", "-O-",
           "http://worker:8080/readyz", "http://worker:8080/metrics"),
        dc("exec", "-T", "result-ui", "wget", "-q", "-O-",
           "http://result:5000/readyz")))
    sdir = os.environ["SECRETS_DIR"]
    leaked = [f for f in sorted(os.listdir(sdir)) if secret(f) in seen]
    assert not leaked, "no secret in the logs, /readyz or /metrics " \
        f"({len(seen)} bytes read): {' '.join(leaked)}"


MISSING = [("vote", "NATS_PASSWORD_FILE=/run/secrets/missing",
            "NATS_PASSWORD_FILE",
            "vote without its NATS secret: exit 2 naming NATS_PASSWORD_FILE"),
           ("result", "POSTGRES_PASSWORD_FILE=/run/secrets/missing",
            "POSTGRES_PASSWORD_FILE", "result without its Postgres secret: "
            "exit 2 naming POSTGRES_PASSWORD_FILE"),
           ("nats", "NATS_SECRETS_DIR=/missing", "nats_vote_password",
            "nats without its secrets: exit 2 naming the secret")]


@pytest.mark.parametrize("svc,env,word,what", MISSING,
                         ids=[x[0] for x in MISSING])
def test_missing_secret_exits_2(svc, env, word, what):
    rc, out = dc("run", "--rm", "--no-deps", "-T", "-e", env, svc)
    assert rc == 2 and word in out, f"{what} (exit {rc}: {tail(out, 2)})"


def host_other_address():
    """an address of this host that is not loopback: docker0's"""
    rc, out = run(["ip", "-4", "-o", "addr", "show", "docker0"])
    m = re.search(r"inet (\d+\.\d+\.\d+\.\d+)/", out)
    return m.group(1) if m else None


def test_prometheus_not_on_other_interfaces():
    # Prometheus has no login: it answers on 127.0.0.1, and nothing
    # listens on the same port at the host's other addresses
    addr = host_other_address()
    assert addr, "the host has an address on docker0"
    st, _ = http_get(f"http://127.0.0.1:{PROMETHEUS_PORT}/-/ready")
    other, _ = http_get(f"http://{addr}:{PROMETHEUS_PORT}/-/ready")
    assert st == 200 and other == 0, \
        f"prometheus answers on 127.0.0.1:{PROMETHEUS_PORT} ({st}) and " \
        f"nothing on {addr}:{PROMETHEUS_PORT} (got {other})"
