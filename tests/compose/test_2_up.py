"""Builds the images and starts every service but traefik (prometheus
included); waits until all are healthy. traefik's healthcheck is tried
against a stub of its API (its image can't be pulled here)."""
import os
import socket
import time

import pytest

from conftest import (HEALTH_TIMEOUT, PROMETHEUS_PORT, RESULT_UI_PORT,
                      SERVICES, STATE, VOTE_UI_PORT, containers, dc, info,
                      log_path, run, tail, wait_healthy)


def build(*svcs, log):
    t = time.time()
    rc, out = dc("build", *svcs)
    with open(log_path(log), "a") as f:
        f.write(out)
    return rc, out, int(time.time() - t)


@pytest.mark.fatal
def test_host_ports_free():
    # result asks for nofile 16384; a daemon started from a shell with a
    # lower hard limit (and no right to raise it) can't grant it: ask for
    # what it has.
    rc, lim = run(["docker", "run", "--rm", "--entrypoint", "sh",
                   os.environ.get("DEBIAN_IMAGE", "debian:bookworm"), "-c",
                   "ulimit -Hn"])
    lim = lim.strip()
    if rc == 0 and lim.isdigit() and int(lim) < 16384:
        os.environ["RESULT_NOFILE"] = lim
        info(f"the daemon's nofile limit is {lim}: result runs with "
             f"RESULT_NOFILE={lim} (compose default 16384)")
    dc("--profile", "debug", "down", "-v", "--remove-orphans")
    for port in (VOTE_UI_PORT, RESULT_UI_PORT, PROMETHEUS_PORT):
        with socket.socket() as s:
            s.settimeout(2)
            taken = s.connect_ex(("127.0.0.1", int(port))) == 0
        assert not taken, f"host port {port} is free (something listens " \
            "there; E2E_VOTE_UI_PORT/E2E_RESULT_UI_PORT/E2E_PROMETHEUS_PORT " \
            "choose others)"


@pytest.mark.fatal
def test_c_images_build():
    STATE["c_build_t0"] = time.time()
    rc, out, s = build("vote", "worker", "result", log="build.log")
    if rc != 0:
        offline = STATE.get("offline")
        if offline:
            offline[0].wait()
    assert rc == 0, f"vote, worker, result images build (log: " \
        f"{log_path('build.log')}): {tail(out, 40)}"
    info(f"vote, worker, result images build ({s} s)")


@pytest.mark.fatal
def test_offline_stand_in_images():
    proc, log = STATE["offline"]
    rc = proc.wait()
    log.close()
    with open(log_path("offline.log")) as f:
        out = f.read()
    assert rc == 0, \
        f"offline stand-in images (compose/offline/build.sh): {tail(out, 30)}"
    info(f"offline stand-in images "
         f"({int(time.time() - STATE['c_build_t0'])} s since the C build "
         "started)\n" + out.rstrip())


def traefik_hc(routers):
    """compose.yaml's traefik healthcheck run in a busybox shell (the nats
    image's) against a stub of traefik's API (busybox httpd on
    127.0.0.1:8080, no network): its exit code ("none": no API). traefik
    always answers /api/version and lists its internal routers; routers
    "@docker" exist only when it found containers (the seed's check of
    /api/version passed either way)."""
    script = '''
      if [ "$ROUTERS" != none ]; then
        mkdir -p /tmp/www/api/http &&
          printf "%s" "$ROUTERS" >/tmp/www/api/http/routers
        printf "{\\"Version\\":\\"2.9.6\\"}" >/tmp/www/api/version
        busybox httpd -p 127.0.0.1:8080 -h /tmp/www || exit 99
        sleep 0.5
      fi
      sh -c "$HC"; echo "exit=$?"'''
    rc, out = run(["docker", "run", "--rm", "--network", "none",
                   "--entrypoint", "sh", "-e", f"ROUTERS={routers}", "-e",
                   f"HC={STATE['traefik_hc']}",
                   os.environ.get("NATS_IMAGE", "nats:2.9-alpine"), "-c",
                   script])
    return "".join(x[len("exit="):] for x in out.splitlines()
                   if x.startswith("exit="))


def test_traefik_healthcheck():
    internal = ('[{"name":"api@internal","provider":"internal",'
                '"service":"api@internal","status":"enabled"},'
                '{"name":"dashboard@internal","provider":"internal",'
                '"service":"dashboard@internal","status":"enabled"}]')
    docker_r = ('{"name":"voteui@docker","provider":"docker",'
                '"service":"voteui","rule":"Host(`vote.traefik.me`)",'
                '"status":"enabled"}')
    assert "traefik_hc" in STATE, "no traefik healthcheck in compose.yaml"
    got = "/".join((traefik_hc(internal[:-1] + "," + docker_r + "]"),
                    traefik_hc(internal), traefik_hc("none")))
    assert got == "0/1/1", "traefik healthcheck: healthy with docker " \
        f"routers, unhealthy with none or no API ({got})"


@pytest.mark.fatal
def test_ui_images_build():
    rc, out, s = build("vote-ui", "result-ui", log="build.log")
    assert rc == 0, f"vote-ui, result-ui images build (log: " \
        f"{log_path('build.log')}): {tail(out, 40)}"
    info(f"vote-ui, result-ui images build ({s} s)")


@pytest.mark.fatal
def test_up():
    STATE["up_t0"] = time.time()
    rc, out = dc("up", "-d", "--build", *SERVICES)
    assert rc == 0, f"up -d --build (all but traefik): {tail(out, 30)}"


@pytest.mark.fatal
def test_all_healthy():
    assert wait_healthy(HEALTH_TIMEOUT), \
        f"all services healthy within {HEALTH_TIMEOUT} s"
    STATE["up_s"] = int(time.time() - STATE["up_t0"])
    info(f"all {len(SERVICES)} services healthy {STATE['up_s']} s after up")


def test_traefik_not_started():
    assert containers("traefik") == [], "traefik not started"
