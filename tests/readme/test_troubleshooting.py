"""README.md, Troubleshooting: every command of the section runs, as
written, against the local stack (conftest.py), and what the section says
it shows is what it shows. Every code span of the section is a command
run here (COMMANDS), or one of the other things listed below with what it
is; a new span fails test_every_span_accounted until it is one or the
other."""
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

from conftest import ROOT, json_line, section, spans
from support.http import http_get as get, wait_until
from support.ports import free_port, free_ports

TEXT = section("Troubleshooting")

# Every command of the section, and the test that runs it.
COMMANDS = {
    "RUN_PORTS=auto tools/run": "the stack fixture; test_ports_kept",
    "ss -tlnp 'sport = :5000'": "test_ss_names_the_process",
    "VOTE_PORT=5080 RESULT_PORT=5081 tools/run": "test_port_taken",
    "docker info": "test_docker_not_running",
    "curl -s http://127.0.0.1:5000/readyz": "test_readyz_says_which",
    "tools/run status": "test_readyz_says_which",
    ".data/bin/votectl sub 'votes.*'": "test_follow_one_vote",
    ".data/bin/votectl vote a --voter me": "test_follow_one_vote",
    ".data/bin/votectl stats": "test_follow_one_vote, test_dead_letters",
    ".data/bin/votectl deadletters": "test_dead_letters",
    "psql -h /tmp -p 15432 -U postgres -c \"SELECT * FROM votes WHERE "
    "id = 'me'\"": "test_follow_one_vote",
    # run by tests/compose/test_2_up.py on the Compose stack
    "docker compose ps": "tests/compose: test_troubleshooting_commands",
    "docker compose logs nats": "tests/compose: test_troubleshooting_commands",
    "docker compose logs traefik":
        "tests/compose: test_troubleshooting_commands",
}
# Commands that change the host's Docker daemon (and need systemd): for
# the reader's machine, never run by a test.
HOST_ADMIN = {"sudo systemctl start docker", "sudo systemctl edit "
              "docker.service", "sudo systemctl restart docker"}
# What the section quotes (messages, output, checked by the tests above),
# names (files, variables, settings), or says in code type.
QUOTED = {
    "http_start_failed", "Cannot connect to the Docker daemon",
    "Is the docker daemon running?", "pending", "dead letters",
    '{"ready":false,"reason":"nats: not connected (retrying '
    'nats://nats:4222)"}', "redis: ...", "postgres: not connected",
    # compose's answers and traefik's; README's traefik paragraph
    "port is already allocated", "@docker", "unhealthy",
}
NAMES = {
    "tools/run", "docker", "/readyz", "/tmp", "NOTIFY", "compose/.env",
    ".data/ports.env", ".data/logs/<name>.log", ".data/endpoints.env",
    "POSTGRES_PORT", "VOTE_UI_PORT", "RESULT_UI_PORT", "PROMETHEUS_PORT",
    "TRAEFIK_IMAGE=traefik:v2.11.33", "[Service]",
    "Environment=DOCKER_MIN_API_VERSION=1.24",
}


def test_every_span_accounted():
    known = set(COMMANDS) | HOST_ADMIN | QUOTED | NAMES
    found = set(spans(TEXT))
    assert not found - known, "spans of Troubleshooting no test runs or " \
        f"lists: {sorted(found - known)}"
    assert not set(COMMANDS) - found, "commands run here that the " \
        f"section no longer has: {sorted(set(COMMANDS) - found)}"


def test_ports_kept(stack):
    # RUN_PORTS=auto: free ports, kept in .data/ports.env; the stack serves
    # on them (the fixture started it with the README's command)
    for var in ("VOTE_PORT", "RESULT_PORT", "REDIS_PORT", "NATS_PORT",
                "PG_PORT"):
        assert stack.ports.get(var), f"{var} in ports.env"
    assert get(stack.url + "/readyz")[0] == 200
    st, _ = get(f"http://127.0.0.1:{stack.ports['RESULT_PORT']}/readyz")
    assert st == 200


def test_ss_names_the_process(stack):
    p = stack.sh("ss -tlnp 'sport = :5000'")
    assert p.returncode == 0, p.stderr
    assert f'"vote",pid={stack.pid("vote")},' in p.stdout, \
        f"ss names vote (pid {stack.pid('vote')}) on its port: {p.stdout}"


def test_port_taken(stack, second_stack):
    # a second tools/run on the taken vote port: "vote exited", and its
    # log says why; then the README's other ports work
    taken = stack.ports["VOTE_PORT"]
    second_stack.env["RESULT_PORT"] = str(free_port())
    p = second_stack.start(f"VOTE_PORT={taken} tools/run", ready=False)
    p.wait(300)
    out = second_stack.output()
    assert p.returncode != 0 and "vote exited" in out, out
    log = Path(second_stack.dir, "logs", "vote.log").read_text()
    assert '"event":"http_start_failed"' in log and \
        "is another process listening on that port?" in log, log[-2000:]
    second_stack.stop()
    del second_stack.env["RESULT_PORT"]
    Path(second_stack.dir, "ports.env").unlink()   # it holds the taken one
    ports = free_ports(2)
    cmd = "VOTE_PORT=5080 RESULT_PORT=5081 tools/run"
    second_stack.start(cmd.replace("5080", str(ports[0]))
                       .replace("5081", str(ports[1])))
    for port in ports:
        assert get(f"http://127.0.0.1:{port}/readyz")[0] == 200
    assert second_stack.stop() == 0, "Ctrl-C stops it, exit 0"
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, \
                f"nothing listens on {port} after Ctrl-C"


def test_docker_not_running(stack, tmp_path):
    # no daemon where the client looks: the README's two messages
    none = f"unix://{tmp_path}/docker.sock"
    p = stack.sh("docker info", env={"DOCKER_HOST": none})
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert "Cannot connect to the Docker daemon" in out, out
    assert "Is the docker daemon running?" in out, out


def test_readyz_says_which(stack):
    # NATS killed: vote answers 503 and /readyz names NATS, in the shape
    # the README quotes; tools/run status shows it dead; started again
    # (tools/run up starts what is not running), vote is ready again
    example = next(s for s in spans(TEXT) if s.startswith('{"ready"'))
    shape = re.escape(example).replace(re.escape("nats://nats:4222"),
                                       "nats://[^)]+")
    p = stack.sh("curl -s http://127.0.0.1:5000/readyz")
    assert json_line(p.stdout)["ready"] is True, p.stdout
    os.kill(stack.pid("nats"), signal.SIGKILL)
    try:
        wait_until("vote's /readyz answers 503",
                   lambda: get(stack.url + "/readyz")[0] == 503, 20)
        p = stack.sh("curl -s http://127.0.0.1:5000/readyz")
        assert re.fullmatch(shape, p.stdout.strip()), \
            f"{p.stdout!r} has the shape of {example}"
        st = stack.sh("tools/run status")
        assert re.search(r"^run: nats: dead$", st.stdout, re.M), st.stdout
        assert re.search(r"^run: vote: running \(pid \d+\)$", st.stdout,
                         re.M), st.stdout
    finally:
        up = subprocess.run([str(ROOT / "tools/run"), "up"], cwd=ROOT,
                            env=stack.env, capture_output=True, text=True,
                            timeout=600)
        assert up.returncode == 0, up.stdout + up.stderr
    wait_until("vote ready again", lambda: stack.sh(
        "curl -s http://127.0.0.1:5000/readyz").stdout.startswith(
            '{"ready":true'), 30)
    st = stack.sh("tools/run status")
    assert f"127.0.0.1:{stack.ports['VOTE_PORT']} ready" in st.stdout, \
        st.stdout
    for name in ("vote", "worker1", "result", "nats", "redis", "postgres"):
        log = Path(stack.dir, "logs", f"{name}.log")    # .data/logs/<name>.log
        assert log.stat().st_size > 0, f"{log} is written"


def test_follow_one_vote(stack):
    sub = subprocess.Popen(
        ["bash", "-c", f"exec {stack.dir}/bin/votectl sub 'votes.*'"],
        cwd=ROOT, env=stack.env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        assert "listening on votes.*" in sub.stderr.readline()
        p = stack.sh(".data/bin/votectl vote a --voter me")
        assert p.returncode == 0 and p.stdout.startswith("200 "), \
            p.stdout + p.stderr
        line = json_line(sub.stdout.readline())
        assert line["subject"] == "votes.a" and line["voter_id"] == "me" \
            and line["option"] == "a", line
    finally:
        sub.terminate()
        sub.wait(10)

    def stats():
        return stack.sh(".data/bin/votectl stats").stdout
    wait_until("votectl stats: nothing pending",
               lambda: "pending 0, ack pending 0" in stats(), 20)
    out = stats()
    assert re.search(r"^VOTES\s", out, re.M), out
    assert "dead letters: 0" in out, out
    # Postgres has it: the superuser on the local socket, as written
    endpoints = Path(stack.dir, "endpoints.env").read_text()
    assert f"POSTGRES_PORT={stack.ports['PG_PORT']}\n" in endpoints
    p = stack.sh("psql -h /tmp -p 15432 -U postgres -c \"SELECT * FROM "
                 "votes WHERE id = 'me'\"")
    assert p.returncode == 0, p.stderr
    assert re.search(r"^ me +\| a +\|", p.stdout, re.M), p.stdout
    assert "(1 row)" in p.stdout, p.stdout


def publish_raw(stack, subject, payload):
    """publishes payload on subject as NATS user vote (the protocol by
    hand: PUB, then PING until PONG)"""
    pw = Path(stack.dir, "secrets", "nats_vote_password").read_text().strip()
    with socket.create_connection(
            ("127.0.0.1", stack.ports["NATS_PORT"]), 5) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"INFO ")
        s.sendall(b'CONNECT {"user":"vote","pass":"%s","verbose":false}\r\n'
                  b"PUB %s %d\r\n%s\r\nPING\r\n"
                  % (pw.encode(), subject.encode(), len(payload), payload))
        assert f.readline() == b"PONG\r\n"


def test_dead_letters(stack):
    # a message on votes.a that is no VoteCast: the worker dead-letters it;
    # stats counts it, deadletters says why
    publish_raw(stack, "votes.a", b"\xff not a VoteCast")

    def counted():
        out = stack.sh(".data/bin/votectl stats").stdout
        return "dead letters: 1 (votectl deadletters lists them)" in out
    wait_until("votectl stats: dead letters: 1", counted, 20)
    p = stack.sh(".data/bin/votectl deadletters")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("1 dead letters"), p.stdout
    rows = [r for r in p.stdout.splitlines() if " votes.a " in r]
    assert len(rows) == 1 and re.search(r" bytes  \w.{5,}$", rows[0]), \
        f"the dead letter with its reason: {p.stdout}"
