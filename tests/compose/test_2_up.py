"""Builds the images and starts every service but traefik (prometheus
included); waits until all are healthy (the fixtures of conftest.py do
each step once a session; these tests say how each went). traefik's
healthcheck is tried against a stub of its API (its image can't be pulled
here)."""
import os
import re
import shlex

import conftest
from conftest import HEALTH_TIMEOUT, P, containers, log_path, run, tail


def test_host_ports_free(host_ports):
    assert not host_ports, f"host ports {host_ports} are free (something " \
        "listens there; E2E_VOTE_UI_PORT/E2E_RESULT_UI_PORT/" \
        "E2E_PROMETHEUS_PORT choose others)"


def test_c_images_build(c_images):
    assert c_images.rc == 0, f"vote, worker, result images build (log: " \
        f"{log_path('build.log')}): {tail(c_images.out, 40)}"


def test_offline_stand_in_images(offline_images):
    assert offline_images.rc == 0, \
        "offline stand-in images (compose/offline/build.sh): " \
        f"{tail(offline_images.out, 30)}"


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
                   f"HC={conftest.traefik_healthcheck()}",
                   os.environ.get("NATS_IMAGE", "nats:2.9-alpine"), "-c",
                   script])
    return "".join(x[len("exit="):] for x in out.splitlines()
                   if x.startswith("exit="))


def test_traefik_healthcheck(offline_images):
    # the nats stand-in's busybox runs it
    offline_images.need("the offline stand-in images",
                        "test_offline_stand_in_images")
    internal = ('[{"name":"api@internal","provider":"internal",'
                '"service":"api@internal","status":"enabled"},'
                '{"name":"dashboard@internal","provider":"internal",'
                '"service":"dashboard@internal","status":"enabled"}]')
    docker_r = ('{"name":"voteui@docker","provider":"docker",'
                '"service":"voteui","rule":"Host(`vote.traefik.me`)",'
                '"status":"enabled"}')
    assert conftest.traefik_healthcheck(), \
        "no traefik healthcheck in compose.yaml"
    got = "/".join((traefik_hc(internal[:-1] + "," + docker_r + "]"),
                    traefik_hc(internal), traefik_hc("none")))
    assert got == "0/1/1", "traefik healthcheck: healthy with docker " \
        f"routers, unhealthy with none or no API ({got})"


def test_ui_images_build(ui_images):
    assert ui_images.rc == 0, f"vote-ui, result-ui images build (log: " \
        f"{log_path('build.log')}): {tail(ui_images.out, 40)}"


def test_up(started):
    up, _ = started
    assert up.rc == 0, f"up -d --build (all but traefik): {tail(up.out, 30)}"


def test_all_healthy(started):
    _, healthy = started
    assert healthy, f"all services healthy within {HEALTH_TIMEOUT} s"


def test_troubleshooting_commands(stack_up):
    # README, Troubleshooting: its compose commands as written, in compose/
    # on this run's project (COMPOSE_PROJECT_NAME), "docker compose" being
    # this machine's compose command; tests/readme runs the others
    def sh(cmd):
        return run(["bash", "-c", cmd.replace(
            "docker compose", shlex.join(conftest.COMPOSE))],
            env={"COMPOSE_PROJECT_NAME": P})
    rc, out = sh("docker compose ps")
    assert rc == 0, out
    for svc in ("redis", "db", "nats", "vote", "worker", "result"):
        assert re.search(rf"^\S*{svc}\S* .*\(healthy\)", out, re.M), \
            f"docker compose ps shows {svc} healthy: {out}"
    rc, out = sh("docker compose logs nats")
    assert rc == 0 and "Server is ready" in out, \
        f"docker compose logs nats: nats-server's log ({tail(out, 5)})"
    rc, out = sh("docker compose logs traefik")
    assert rc == 0, f"docker compose logs traefik (not started): {out}"


def test_traefik_not_started(stack_up):
    assert containers("traefik") == [], "traefik not started"
