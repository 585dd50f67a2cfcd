"""compose/stack.yaml as `docker stack deploy` reads it (`docker stack
config`, support/compose.py: the variables interpolated from an environment
that has only the ones a test sets, anchors and merge keys resolved):
traefik's flags and deploy.labels, replicas, update/rollback/restart
policies, limits, placement, secrets, the NATS cluster, the variables."""
import os

import pytest

from conftest import COMPOSE_DIR, OWN, STACK_FILE
from support import compose

SERVICES = ["traefik", "vote-ui", "vote", "result-ui", "result", "worker",
            "redis", "db", "nats-1", "nats-2", "nats-3", "prometheus"]
NATS_NODES = ["nats-1", "nats-2", "nats-3"]


def load(**env):
    """stack.yaml rendered with ENV and no other variable"""
    return compose.stack_config(STACK_FILE, env=env, clean=True)


@pytest.fixture(scope="module")
def c():
    return load()


@pytest.fixture(scope="module")
def s(c):
    return c["services"]


def dep(s, n):
    return s[n].get("deploy") or {}


def limits(s, n):
    return (dep(s, n).get("resources") or {}).get("limits") or {}


def sources(items):
    """the source names of secrets: or configs: (short or long syntax)"""
    return sorted(x if isinstance(x, str) else x.get("source")
                  for x in items or [])


def rel(path):
    """a path of the rendered file, relative to compose/ as in the file"""
    return "./" + os.path.relpath(path, COMPOSE_DIR)


def test_compose_file_version_3(c):
    v = str(c.get("version", ""))
    assert v.startswith("3."), \
        f"stack.yaml: compose file version 3.x (docker stack deploy): {v}"


def test_services(s):
    assert set(s) == set(SERVICES), \
        f"stack.yaml: services {' '.join(sorted(SERVICES))}: {sorted(s)}"


def test_no_key_swarm_ignores(s):
    found = [f"{n}.{k}" for n, x in s.items()
             for k in ("build", "depends_on", "restart", "container_name",
                       "profiles") if k in x]
    assert not found, "stack.yaml: no key swarm ignores (build, " \
        f"depends_on, restart, container_name, profiles): {found}"


def test_traefik_image(s):
    assert s["traefik"].get("image") == "traefik:v2.9.6", \
        f"traefik image traefik:v2.9.6: {s['traefik'].get('image')}"


def test_traefik_flags(s):
    cmd = s["traefik"].get("command") or []
    assert cmd[:4] == ["--api.insecure=true", "--providers.docker=true",
                       "--providers.docker.exposedbydefault=false",
                       "--entrypoints.web.address=:80"] \
        and "--providers.docker.swarmMode=true" in cmd \
        and "--providers.docker.network=votingapp_front-tier" in cmd, \
        "traefik: the seed's flags + swarmMode=true + network " \
        f"votingapp_front-tier: {cmd}"


def test_traefik_docker_socket_read_only(s):
    vols = s["traefik"].get("volumes") or []
    assert any(v.get("type") == "bind"
               and v.get("source") == "/var/run/docker.sock"
               and v.get("target") == "/var/run/docker.sock"
               and v.get("read_only") is True for v in vols), \
        f"traefik mounts the docker socket read-only: {vols}"


def test_traefik_publishes_80_only(s):
    ports = sorted((int(p["published"]), int(p["target"]), p.get("mode"))
                   for p in s["traefik"].get("ports") or [])
    assert ports == [(80, 80, "ingress")], \
        "traefik publishes 80 only (ingress by default): its dashboard " \
        f"(8080, no login) is not published: {ports}"


def test_traefik_only_net_bind_service(s):
    assert s["traefik"].get("cap_add") == ["NET_BIND_SERVICE"], \
        f"traefik gets back only NET_BIND_SERVICE: {s['traefik'].get('cap_add')}"


def test_traefik_on_a_manager(s):
    cons = (dep(s, "traefik").get("placement") or {}).get("constraints", [])
    assert "node.role == manager" in cons, \
        f"traefik runs on a manager (reads the swarm API): {cons}"


def test_traefik_replicas():
    one = load()["services"]["traefik"]["deploy"].get("replicas")
    zero = load(TRAEFIK_REPLICAS="0")["services"]["traefik"]["deploy"] \
        .get("replicas")
    assert (one, zero) == (1, 0), \
        f"traefik replicas 1, TRAEFIK_REPLICAS=0 leaves it out: {one}, {zero}"


def test_prometheus_configs(c, s):
    targets = sorted(x["target"] for x in s["prometheus"].get("configs", []))
    files = sorted(rel(v["file"]) for v in c.get("configs", {}).values()
                   if "/monitoring/" in v["file"])
    assert targets == ["/etc/prometheus/prometheus.yml",
                       "/etc/prometheus/rules/alerts.yml",
                       "/etc/prometheus/rules/recording.yml"] \
        and files == ["./monitoring/prometheus.swarm.yml",
                      "./monitoring/rules/alerts.yml",
                      "./monitoring/rules/recording.yml"], \
        "prometheus: the swarm scrape config and both rule files as swarm " \
        f"configs: {targets}, {files}"


def test_prometheus_not_published(s):
    assert not s["prometheus"].get("ports"), \
        f"prometheus (no login) is not published: {s['prometheus'].get('ports')}"


def test_prometheus_replicas():
    one = load()["services"]["prometheus"]["deploy"].get("replicas")
    zero = load(PROMETHEUS_REPLICAS="0")["services"]["prometheus"]["deploy"] \
        .get("replicas")
    assert (one, zero) == (1, 0), \
        f"prometheus replicas 1, PROMETHEUS_REPLICAS=0 leaves it out: {one}, {zero}"


UIS = [("vote-ui", "voteui", "vote.traefik.me"),
       ("result-ui", "resultui", "result.traefik.me")]


@pytest.mark.parametrize("svc,router,host", UIS, ids=[u[0] for u in UIS])
def test_ui_traefik_labels(s, svc, router, host):
    lab = dep(s, svc).get("labels") or {}
    if isinstance(lab, list):
        lab = dict(x.split("=", 1) for x in lab)
    assert lab == {
        "traefik.enable": "true",
        f"traefik.http.routers.{router}.rule": f"Host(`{host}`)",
        f"traefik.http.routers.{router}.entrypoints": "web",
        f"traefik.http.services.{router}.loadbalancer.server.port": "8081",
    } and not s[svc].get("labels"), \
        f"{svc}: traefik labels under deploy.labels (Host {host}, entrypoint " \
        f"web, port 8081: nginx's listener for traefik): deploy.labels " \
        f"{lab}, labels {s[svc].get('labels')}"


@pytest.mark.parametrize("svc", [u[0] for u in UIS])
def test_ui_no_host_port(s, svc):
    assert not s[svc].get("ports"), \
        f"{svc}: no host port (traefik routes to its replicas): {s[svc].get('ports')}"


@pytest.mark.parametrize("n", OWN)
def test_two_replicas(s, n):
    assert dep(s, n).get("replicas") == 2, \
        f"{n}: 2 replicas: {dep(s, n).get('replicas')}"


@pytest.mark.parametrize("n", OWN)
def test_rolling_update_start_first(s, n):
    u = dep(s, n).get("update_config") or {}
    r = dep(s, n).get("rollback_config") or {}
    assert u.get("order") == "start-first" \
        and u.get("failure_action") == "rollback" \
        and r.get("order") == "start-first", \
        f"{n}: rolling update start-first, rolled back on failure: " \
        f"update {u}, rollback {r}"


@pytest.mark.parametrize("n", ["db", "redis"] + NATS_NODES)
def test_stateful_one_replica_stop_first(s, n):
    u = dep(s, n).get("update_config") or {}
    assert dep(s, n).get("replicas") == 1 and u.get("order") == "stop-first", \
        f"{n}: 1 replica, updated stop-first (one process on its data): " \
        f"replicas {dep(s, n).get('replicas')}, update {u}"


@pytest.mark.parametrize("n", SERVICES)
def test_restart_policy_and_limits(s, n):
    cond = (dep(s, n).get("restart_policy") or {}).get("condition")
    assert cond in ("any", "on-failure") and limits(s, n).get("memory"), \
        f"{n}: restart policy and resource limits: condition {cond}, " \
        f"limits {limits(s, n)}"


@pytest.mark.parametrize("n", ["db", "redis"])
def test_pinned_by_db_label(s, n):
    cons = (dep(s, n).get("placement") or {}).get("constraints")
    assert cons == ["node.labels.votingapp.db == true"], \
        f"{n}: pinned by the node label votingapp.db: {cons}"


def test_redis_volume_and_maxmemory(c, s):
    rc = [str(x) for x in s["redis"].get("command") or []]

    def arg(f):
        return rc[rc.index(f) + 1] if f in rc else ""
    mm = arg("--maxmemory")
    rmem = int(limits(s, "redis").get("memory") or 0)     # bytes
    mm_bytes = int(mm[:-2]) * 1024 * 1024 if mm.endswith("mb") \
        and mm[:-2].isdigit() else -1
    vols = [(v.get("type"), v.get("source"), v.get("target"))
            for v in s["redis"].get("volumes") or []]
    assert arg("--maxmemory-policy") == "noeviction" \
        and 0 < mm_bytes <= rmem // 2 and arg("--dir") == "/data" \
        and ("volume", "redis-data", "/data") in vols \
        and "redis-data" in (c.get("volumes") or {}), \
        f"redis: voters on the named volume redis-data, maxmemory {mm} " \
        f"(under half of {rmem // 1048576}M), noeviction: command {rc}, " \
        f"volumes {vols}"


def test_endpoint_mode_variable(s):
    default = dep(s, "vote").get("endpoint_mode")
    dnsrr = load(ENDPOINT_MODE="dnsrr")["services"]["vote"]["deploy"] \
        .get("endpoint_mode")
    assert (default, dnsrr) == ("vip", "dnsrr"), \
        f"endpoint mode vip by default, ENDPOINT_MODE=dnsrr: {default}, {dnsrr}"


@pytest.mark.parametrize("n", NATS_NODES)
def test_nats_node(s, n):
    cm = s[n].get("command") or []

    def arg(f):
        return cm[cm.index(f) + 1] if f in cm else None
    vs = [v.get("source") for v in s[n].get("volumes") or []
          if v.get("type") == "volume"]
    cons = (dep(s, n).get("placement") or {}).get("constraints")
    assert arg("-c") == "/etc/nats/votingapp/server.conf" \
        and arg("--name") == n and "--http_port" not in cm \
        and "--jetstream" in cm and arg("--store_dir") == "/data" \
        and vs == [f"{n}-data"] \
        and cons == [f"node.labels.votingapp.{n} == true"], \
        f"{n}: JetStream node {n} with nats/server.conf, own volume, " \
        f"pinned: command {cm}, volumes {vs}, constraints {cons}"


def test_nats_three_distinct_volumes(s):
    vols = {v.get("source") for n in NATS_NODES
            for v in s[n].get("volumes") or [] if v.get("type") == "volume"}
    assert len(vols) == 3, f"nats-1..3: three distinct volumes: {vols}"


def test_nats_healthcheck(s):
    hc = "/etc/nats/votingapp/healthcheck.sh"
    bad = [n for n in NATS_NODES
           if s[n]["healthcheck"]["test"] != ["CMD", "/bin/sh", hc]
           or hc not in [x.get("target") for x in s[n].get("configs", [])]]
    assert not bad, "nats-1..3: healthy only when current " \
        f"(nats/healthcheck.sh: /healthz): not on {bad}"


def test_nats_routes(s):
    bad = [n for n in NATS_NODES if not (
        s[n]["environment"].get("NATS_CLUSTER_ROUTES")
        == "nats-1:6222,nats-2:6222,nats-3:6222"
        and s[n]["environment"].get("NATS_CLUSTER_NAME") == "votingapp"
        and "nats_route_password" in sources(s[n].get("secrets")))]
    assert not bad, "nats-1..3: routes to all three nodes of cluster " \
        "votingapp, authenticated with the secret nats_route_password: " \
        f"not on {bad}"


@pytest.mark.parametrize("n", ["vote", "worker"])
def test_nats_clients(s, n):
    e = s[n]["environment"]
    assert e.get("NATS_URL") == \
        "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222" \
        and str(e.get("NATS_REPLICAS")) == "3", \
        f"{n}: NATS_URL lists the three nodes, NATS_REPLICAS=3: " \
        f"{e.get('NATS_URL')}, {e.get('NATS_REPLICAS')}"


def test_secrets_per_service(c, s):
    files = sorted({os.path.dirname(rel(v.get("file", "")))
                    for v in c.get("secrets", {}).values()})
    got = {n: sources(s[n].get("secrets")) for n in
           ("vote", "worker", "result", "db")}
    assert got["vote"] == ["nats_vote_password", "redis_vote_password"] \
        and got["worker"] == ["nats_worker_password",
                              "postgres_worker_password"] \
        and got["result"] == ["postgres_result_password"] \
        and "postgres_password" in got["db"] and files == ["./secrets"], \
        "each service gets its own swarm secrets (secrets/generate.sh's " \
        f"files; the superuser's: db): {got}, from {files}"


def test_no_password_in_environment(s):
    found = [f"{k}.{e}" for k, v in s.items()
             for e, x in (v.get("environment") or {}).items()
             if e.endswith("PASSWORD") and x]
    assert not found, f"no password in an environment variable: {found}"


def test_every_service_hardened(s):
    soft = [n for n, v in s.items() if not (
        v.get("read_only") is True and v.get("cap_drop") == ["ALL"]
        and limits(s, n).get("pids"))]
    assert not soft, \
        f"every service read_only, cap_drop ALL, a pids limit: not {soft}"


def test_networks(c):
    n = c["networks"]
    assert set(n) == {"front-tier", "back-tier"} and all(
        v.get("driver") == "overlay" and v.get("attachable")
        for v in n.values()), \
        f"networks front-tier, back-tier: overlay, attachable: {n}"


def test_images_registry_and_tag(s):
    default = {n: s[n]["image"] for n in OWN}
    other = load(REGISTRY="r.example/v", TAG="7")["services"]["vote"]["image"]
    assert default == {n: f"votingapp/{n}:latest" for n in OWN} \
        and other == "r.example/v/vote:7", \
        f"our images are ${{REGISTRY}}/NAME:${{TAG}}: {default}; with " \
        f"REGISTRY=r.example/v TAG=7: {other}"
