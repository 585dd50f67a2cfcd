"""Static checks: the offline base images, the Dockerfiles, and the resolved
configurations of compose.yaml and compose.dev.yaml (`config`): traefik's
flags, socket, labels and healthcheck; ports, networks, depends_on,
healthchecks, secrets, ulimits, limits, the debug and monitoring profiles."""
import os
import re
import subprocess

import pytest
import yaml

import conftest
from conftest import COMPOSE_DIR, ROOT, tail

NAMES = ("compose.yaml", "compose.dev.yaml")


def test_offline_base_images(offline_base):
    # the debian base first; the stand-ins build in the background while the
    # C services build (they need only the base), see conftest.offline_base
    assert offline_base.rc == 0, \
        f"compose/offline/build.sh --base: {tail(offline_base.out, 10)}"


def test_one_dockerfile_one_build_stage():
    # the exercise's names: base, then the targets dev and production
    # (docs/decisions.md); seed-data before them: the legacy builder builds
    # every stage before the target, and seed-data has no SERVICE
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        stages = re.findall(r"^FROM \S+ AS (\S+)$", f.read(), re.M)
    want = ["base", "seed-data", "dev", "production"]
    copies = [svc for svc in ("vote", "worker", "result")
              if os.path.exists(os.path.join(ROOT, svc, "Dockerfile"))]
    assert stages == want and not copies, \
        f"one Dockerfile, one build stage, one target per kind of image ({stages}, copies: {copies})"


@pytest.fixture(scope="module")
def configs():
    """{name: (config's exit code, its stderr, the resolved configuration
    or None)} of each compose file, with the debug profile"""
    env = {"VOTE_UI_PORT": "", "RESULT_UI_PORT": "", "PROMETHEUS_PORT": ""}
    out = {}
    for name in NAMES:
        f = ["-f", name] if name != "compose.yaml" else []
        r = subprocess.run(conftest.dc_cmd() + f
                           + ["--profile", "debug", "config"],
                           cwd=COMPOSE_DIR, env=dict(os.environ, **env),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
        out[name] = (r.returncode, r.stderr,
                     yaml.safe_load(r.stdout) if r.returncode == 0 else None)
    return out


@pytest.mark.parametrize("name", NAMES)
def test_compose_file_is_valid(configs, name):
    rc, err, _ = configs[name]
    assert rc == 0, f"{name} is valid: {err.strip()}"


@pytest.fixture(params=NAMES)
def cfg(request, configs):
    """(name, services) of a resolved configuration"""
    c = configs[request.param][2]
    if c is None:
        pytest.fail(f"{request.param}: no resolved configuration (invalid)")
    return request.param, c["services"]


@pytest.fixture
def prod(configs):
    c = configs["compose.yaml"][2]
    if c is None:
        pytest.fail("compose.yaml: no resolved configuration (invalid)")
    return c["services"]


def nets(s):
    n = s.get("networks") or {}
    return sorted(n if isinstance(n, (list, dict)) else [])


def labels(s):
    lab = s.get("labels") or {}
    if isinstance(lab, list):
        lab = dict(x.split("=", 1) for x in lab)
    return lab


def ports(s):
    r = []
    for p in s.get("ports") or []:
        if isinstance(p, dict):
            r.append((str(p.get("published")), str(p.get("target"))))
        else:
            h, c = str(p).split("/")[0].rsplit(":", 1)
            r.append((h.split(":")[-1], c))
    return sorted(r)


def deps(s):
    d = s.get("depends_on") or {}
    if isinstance(d, list):
        return {k: "service_started" for k in d}
    return {k: (v or {}).get("condition", "service_started")
            for k, v in d.items()}


def binds(s):
    """{container path: host path} of a service's bind mounts (v1 prints
    "host:container:mode", v2 a mapping)"""
    r = {}
    for v in s.get("volumes") or []:
        if isinstance(v, dict):
            if v.get("type") == "bind":
                r[v["target"]] = v["source"]
        elif str(v).startswith("/"):
            host, target = str(v).split(":")[:2]
            r[target] = host
    return r


def healthcheck_of(s):
    t = (s.get("healthcheck") or {}).get("test")
    return t if isinstance(t, list) else ["CMD-SHELL", t] if t else None


def test_traefik_image(cfg):
    name, s = cfg
    assert s.get("traefik", {}).get("image") == "traefik:v2.9.6", \
        f"{name}: traefik image traefik:v2.9.6"


def test_traefik_command_flags(cfg):
    name, s = cfg
    assert s.get("traefik", {}).get("command") == [
        "--api.insecure=true", "--providers.docker=true",
        "--providers.docker.exposedbydefault=false",
        "--entrypoints.web.address=:80"], \
        f"{name}: traefik has exactly the seed's command flags"


def test_traefik_docker_socket_read_only(cfg):
    name, s = cfg
    vols = [v if isinstance(v, str) else "%s:%s:%s" % (
        v.get("source"), v.get("target"),
        "ro" if v.get("read_only") else "rw")
        for v in s.get("traefik", {}).get("volumes", [])]
    assert any(v.startswith("/var/run/docker.sock:/var/run/docker.sock")
               and v.endswith(":ro") for v in vols), \
        f"{name}: traefik mounts the docker socket read-only"


def test_traefik_ports(cfg):
    name, s = cfg
    assert ports(s.get("traefik", {})) == [("80", "80"), ("8080", "8080")], \
        f"{name}: traefik ports 80 and 8080"


def test_traefik_dashboard_on_loopback(cfg):
    name, s = cfg
    raw = [p if isinstance(p, str) else "%s:%s:%s" % (
        p.get("host_ip", ""), p.get("published"), p.get("target"))
        for p in s.get("traefik", {}).get("ports") or []]
    assert any(str(p).startswith("127.0.0.1:8080:8080") for p in raw) \
        and not any(str(p).startswith(("8080", ":8080", "0.0.0.0:8080"))
                    for p in raw), \
        f"{name}: traefik's dashboard (8080) published on 127.0.0.1 only"


def test_traefik_cap_add(cfg):
    name, s = cfg
    assert s.get("traefik", {}).get("cap_add") == ["NET_BIND_SERVICE"], \
        f"{name}: traefik gets back only NET_BIND_SERVICE"


def test_every_service_hardened(cfg):
    name, s = cfg
    built_here = ("vote", "worker", "result") \
        if name == "compose.dev.yaml" else ()
    hard = [k for k, v in s.items() if k not in built_here
            and not (v.get("read_only") is True
                     and v.get("cap_drop") == ["ALL"]
                     and "no-new-privileges:true"
                     in (v.get("security_opt") or []))]
    assert not hard, f"{name}: every service read_only, cap_drop ALL, " \
        f"no-new-privileges (not: {hard})"


def test_no_password_in_environment(cfg):
    name, s = cfg
    env_pw = [f"{k}.{e}" for k, v in s.items()
              for e, x in (v.get("environment") or {}).items()
              if e.endswith("PASSWORD") and x]
    assert not env_pw, \
        f"{name}: no password in an environment variable ({env_pw})"


def test_own_secrets_only(cfg):
    name, s = cfg

    def secrets_of(k):
        return sorted(x if isinstance(x, str) else x.get("source")
                      for x in s[k].get("secrets", []))

    assert secrets_of("vote") == ["nats_vote_password",
                                  "redis_vote_password"] \
        and secrets_of("worker") == ["nats_worker_password",
                                     "postgres_worker_password"] \
        and secrets_of("result") == ["postgres_result_password"] \
        and secrets_of("nats-box") == ["nats_debug_password"] \
        and "postgres_password" in secrets_of("db"), \
        f"{name}: each service gets its own secrets only (the superuser's: db)"


def test_own_users(cfg):
    name, s = cfg
    e = {k: s[k].get("environment") or {} for k in ("vote", "worker",
                                                     "result")}
    assert e["vote"].get("NATS_USER") == "vote" \
        and e["vote"].get("REDIS_USER") == "vote" \
        and e["worker"].get("NATS_USER") == "worker" \
        and e["worker"].get("POSTGRES_USER") == "worker" \
        and e["result"].get("POSTGRES_USER") == "result", \
        f"{name}: vote, worker, result connect as their own users"


def test_nats_server_conf(cfg):
    name, s = cfg
    cmd = s["nats"].get("command", [])
    assert "/etc/nats/votingapp/server.conf" in cmd \
        and "--http_port" not in cmd and "-m" not in cmd, \
        f"{name}: nats runs with nats/server.conf (its monitoring port)"


def test_nats_server_conf_monitoring_on_loopback():
    with open(os.path.join(COMPOSE_DIR, "nats", "server.conf")) as f:
        conf = f.read()
    assert re.search(r"^http: 127\.0\.0\.1:8222$", conf, re.M) \
        and re.search(r"^include \./auth\.conf$", conf, re.M), \
        "nats/server.conf: monitoring on loopback, the users of auth.conf"


UIS = (("vote-ui", "voteui", "vote.traefik.me", "5000"),
       ("result-ui", "resultui", "result.traefik.me", "5001"))


@pytest.mark.parametrize("svc,router,host,port", UIS)
def test_ui_traefik_labels(cfg, svc, router, host, port):
    name, s = cfg
    lab = labels(s[svc])
    assert lab.get("traefik.enable") == "true" \
        and lab.get(f"traefik.http.routers.{router}.rule") \
        == f"Host(`{host}`)" \
        and lab.get(f"traefik.http.routers.{router}.entrypoints") == "web" \
        and lab.get(f"traefik.http.services.{router}.loadbalancer."
                    "server.port") == "8081", \
        f"{name}: {svc} traefik labels (Host {host}, entrypoint web, " \
        "port 8081: nginx's listener that trusts traefik's X-Forwarded-For)"


@pytest.mark.parametrize("svc,router,host,port", UIS)
def test_ui_host_port(cfg, svc, router, host, port):
    name, s = cfg
    assert ports(s[svc]) == [(port, "8080")], \
        f"{name}: {svc} on host port {port} (nginx on 8080, not root)"


@pytest.mark.parametrize("svc,router,host,port", UIS)
def test_ui_restart(cfg, svc, router, host, port):
    name, s = cfg
    assert s[svc].get("restart") == "unless-stopped", \
        f"{name}: {svc} restart unless-stopped"


@pytest.mark.parametrize("svc,router,host,port", UIS)
def test_ui_build_from_ui_folder(cfg, svc, router, host, port):
    # the page's folder and the common/ it shares with the other page
    name, s = cfg
    ui = svc[:-len("-ui")]
    b = s[svc].get("build") or {}
    assert os.path.normpath(b.get("context", "")) == os.path.join(ROOT, "ui") \
        and b.get("dockerfile") == f"{ui}/Dockerfile", \
        f"{name}: {svc} builds ui/{ui}/Dockerfile in the context ui/"


@pytest.mark.parametrize("svc,router,host,port", UIS)
def test_ui_mounted_page_finds_common(cfg, svc, router, host, port):
    # where the page's folder is mounted (development), its link common ->
    # ../common must find ui/common mounted there
    name, s = cfg
    ui = svc[:-len("-ui")]
    page = os.path.join(ROOT, "ui", ui)
    mounts = binds(s[svc])
    at = [t for t, h in mounts.items() if os.path.normpath(h) == page]
    link = os.path.normpath(os.path.join(
        at[0] if at else "/", os.readlink(os.path.join(page, "common"))))
    want = os.path.join(ROOT, "ui", "common")
    assert not at or os.path.normpath(mounts.get(link, "")) == want, \
        f"{name}: {svc} mounts ui/{ui} on {at[0] if at else '-'}, so " \
        f"ui/common on {link}"


def test_networks(cfg):
    name, s = cfg
    want = {"traefik": ["front-tier"], "vote-ui": ["front-tier"],
            "result-ui": ["front-tier"], "vote": ["back-tier", "front-tier"],
            "result": ["back-tier", "front-tier"], "worker": ["back-tier"],
            "redis": ["back-tier"], "db": ["back-tier"],
            "nats": ["back-tier"], "nats-box": ["back-tier"]}
    assert all(nets(s[k]) == v for k, v in want.items()), \
        f"{name}: networks as in docs/architecture.md"


def test_depends_on(cfg):
    name, s = cfg
    assert deps(s["vote"]) == {"redis": "service_healthy",
                               "nats": "service_healthy"} \
        and deps(s["worker"]) == {"db": "service_healthy",
                                  "nats": "service_healthy"} \
        and deps(s["result"]) == {"db": "service_healthy"} \
        and deps(s["vote-ui"]) == {"vote": "service_started"} \
        and deps(s["result-ui"]) == {"result": "service_started"}, \
        f"{name}: depends_on conditions"


def test_every_service_has_a_healthcheck(cfg):
    # but seed-data: a job that ends (test_seed_data_job)
    name, s = cfg
    assert all(healthcheck_of(x) for k, x in s.items() if k != "seed-data"), \
        f"{name}: every service has a healthcheck"


def test_seed_data_job(cfg):
    name, s = cfg
    x = s.get("seed-data", {})
    b = x.get("build") or {}
    env = x.get("environment") or {}
    assert x.get("profiles") == ["seed"] and b.get("target") == "seed-data" \
        and str(x.get("restart")) == "no" \
        and ((x.get("healthcheck") or {}).get("disable") is True   # v2
             or healthcheck_of(x) == ["NONE"]) \
        and deps(x) == {"vote-ui": "service_healthy"} \
        and nets(x) == ["front-tier"] \
        and env.get("VOTE_URL") == "http://vote-ui:8081" \
        and str(env.get("SEED_VOTES")) == "3000", \
        f"{name}: seed-data, a job of the seed profile (target seed-data), " \
        "votes through vote-ui's proxy listener on front-tier, 3000 by default"


def test_redis_healthcheck(cfg):
    name, s = cfg
    hc = " ".join(healthcheck_of(s["redis"]))
    assert "redis-cli --user vote ping" in hc \
        and s["redis"]["healthcheck"].get("interval") == "5s", \
        f"{name}: redis healthcheck redis-cli ping (as vote) every 5s"


def test_db_healthcheck(cfg):
    name, s = cfg
    assert healthcheck_of(s["db"])[:3] == ["CMD", "pg_isready", "-U"], \
        f"{name}: db healthcheck pg_isready -U user"


def test_db_volume(cfg):
    name, s = cfg
    assert any(str(v).startswith("db-data:/var/lib/postgresql/data")
               or (isinstance(v, dict) and v.get("source") == "db-data")
               for v in s["db"].get("volumes", [])), \
        f"{name}: db data on the db-data volume"


def test_nats_jetstream_volume(cfg):
    name, s = cfg
    assert any(str(v).startswith("nats-data:/data")
               or (isinstance(v, dict) and v.get("source") == "nats-data")
               for v in s["nats"].get("volumes", [])) \
        and "--jetstream" in s["nats"].get("command", []), \
        f"{name}: nats with JetStream on the nats-data volume"


def test_result_ulimits(cfg):
    name, s = cfg
    u = (s["result"].get("ulimits") or {}).get("nofile") or {}
    soft = u.get("soft") if isinstance(u, dict) else u
    assert soft and int(soft) >= 16384, \
        f"{name}: result ulimits nofile >= 16384"


def test_nats_box_debug_profile(cfg):
    name, s = cfg
    assert s["nats-box"].get("profiles") == ["debug"], \
        f"{name}: nats-box in the debug profile"


@pytest.mark.parametrize("svc", ("vote", "worker", "result"))
def test_build_target(cfg, svc):
    name, s = cfg
    b = s[svc].get("build") or {}
    want = "production" if name == "compose.yaml" else "dev"
    assert (b.get("target"), b.get("dockerfile"), (b.get("args") or {}).get("SERVICE")) \
        == (want, "Dockerfile", svc), \
        f"{name}: {svc} builds the root Dockerfile, target {want}, SERVICE={svc}"


def test_limits(prod):
    nolimit = [k for k, v in prod.items()
               if not (v.get("mem_limit") and v.get("pids_limit"))]
    assert not nolimit, "compose.yaml: every service has mem_limit and " \
        f"pids_limit (not: {nolimit})"


def test_third_party_images(prod):
    assert all(prod[k].get("image", "").startswith(p) for k, p in (
        ("redis", "redis:7.0.5-alpine3.16"),
        ("db", "postgres:15.0-alpine3.16"), ("nats", "nats:2.9"))), \
        "compose.yaml: third-party images default to the seed's"


def test_prometheus_scrapes_listen_ports(prod):
    # prometheus.yml's jobs against the resolved configuration
    with open(os.path.join(COMPOSE_DIR, "monitoring", "prometheus.yml")) as f:
        mon = yaml.safe_load(f)
    jobs = {j["job_name"]: j for j in mon["scrape_configs"]}

    def listen_port(svc):
        e = prod[svc]["environment"]
        return int(e.get("PORT") or e.get("WORKER_PORT"))

    assert all(jobs.get(svc, {}).get("dns_sd_configs", [{}])[0].get("names")
               == [svc]
               and jobs[svc]["dns_sd_configs"][0].get("port")
               == listen_port(svc)
               for svc in ("vote", "worker", "result")), \
        "monitoring/prometheus.yml scrapes vote, worker and result on the " \
        "ports they listen on"


def test_prometheus_service(cfg):
    name, s = cfg
    p = s.get("prometheus", {})
    vols = [v if isinstance(v, str) else "%s:%s" % (v.get("source"),
                                                    v.get("target"))
            for v in p.get("volumes", [])]
    assert p.get("profiles") == ["monitoring"] \
        and str(p.get("image", "")).startswith("prom/prometheus:") \
        and nets(p) == ["back-tier"] and ports(p) == [("9090", "9090")] \
        and any(v.split(":")[1] == "/etc/prometheus/prometheus.yml"
                for v in vols) \
        and any(v.split(":")[1] == "/etc/prometheus/rules" for v in vols), \
        f"{name}: prometheus in the monitoring profile, back-tier, port " \
        "9090, monitoring/ mounted"


def test_traefik_healthcheck_asks_docker_routers(cfg):
    name, s = cfg
    hc = healthcheck_of(s["traefik"])
    assert hc and hc[0] == "CMD-SHELL" and "/api/http/routers" in hc[1] \
        and "@docker" in hc[1], \
        f"{name}: traefik healthcheck asks its API for routers found by " \
        "the docker provider"
    # test_2_up.py tries compose.yaml's against a stub of traefik's API


def test_prometheus_on_loopback(prod):
    # no login: published on this host's loopback only
    raw = [p if isinstance(p, str) else "%s:%s:%s" % (
        p.get("host_ip", ""), p.get("published"), p.get("target"))
        for p in prod["prometheus"].get("ports") or []]
    assert raw and all(str(p).startswith("127.0.0.1:") for p in raw), \
        f"compose.yaml: prometheus (9090) published on 127.0.0.1 only ({raw})"


def test_redis_maxmemory_and_volume(prod):
    r = prod["redis"]
    cmd = [str(x) for x in r.get("command") or []]
    arg = lambda f: cmd[cmd.index(f) + 1] if f in cmd else None
    vols = [v if isinstance(v, str) else "%s:%s" % (v.get("source"),
                                                    v.get("target"))
            for v in r.get("volumes", [])]
    size = lambda v, unit: int(v[:-len(unit)]) if v.endswith(unit) else 0
    lim = str(r.get("mem_limit") or "0").lower()
    limit = size(lim, "m") * 1048576 or size(lim, "g") * 1073741824 \
        or (int(lim) if lim.isdigit() else 0)
    mm = arg("--maxmemory") or ""
    mm_b = size(mm, "mb") * 1048576
    assert arg("--maxmemory-policy") == "noeviction" \
        and 0 < mm_b <= limit // 2 and arg("--dir") == "/data" \
        and any(v.startswith("redis-data:/data") for v in vols), \
        f"compose.yaml: redis keeps voters on the volume redis-data, " \
        f"maxmemory {mm} under half of mem_limit {limit}, noeviction " \
        f"(command {cmd}, volumes {vols})"
