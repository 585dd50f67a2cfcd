"""The properties of the rendered chart: the same app as compose/stack.yaml,
least privilege, hardened pods, probes on ports that exist, NetworkPolicies
with exactly the edges of the topology, the images compose pushes."""
import base64
import os
import re
import shutil
import subprocess

import pytest
import yaml

import chart
from chart import component, containers, get, name, pod_spec, workloads

STACK = yaml.safe_load((chart.ROOT / "compose" / "stack.yaml").read_text())
SERVICES_OF = {c: STACK["services"]["nats-1" if c == "nats" else c]
               for c in chart.STATELESS + chart.STATEFUL}

# compose's front-tier/back-tier as edges (source, destination, port): who
# may open a connection to whom. "ingress" is the ingress controller,
# "prometheus" the scraper (when metrics are on).
EDGES = {
    # 8081: nginx's listener for the proxy in front (ui/*/nginx.conf); 8080,
    # the direct one, is the kubelet's (probes), which no policy stops
    ("ingress", "vote-ui", 8081), ("ingress", "result-ui", 8081),
    ("vote-ui", "vote", 5000), ("result-ui", "result", 5000),
    ("vote", "redis", 6379), ("vote", "nats", 4222),
    ("worker", "nats", 4222), ("worker", "db", 5432),
    ("result", "db", 5432), ("nats", "nats", 6222),
}
METRICS_EDGES = {("prometheus", "vote", 5000), ("prometheus", "worker", 8080),
                 ("prometheus", "result", 5000)}

# Users of the images: ours and nginx, NATS and Redis run as 10001; the
# alpine Postgres image's initdb needs its own user postgres (70).
UID = {c: 10001 for c in chart.STATELESS + ["nats", "redis"]}
UID["db"] = 70


def values_of(variant):
    v = yaml.safe_load((chart.CHART / "values.yaml").read_text())
    if variant in chart.VALUES_FILES:
        over = yaml.safe_load((chart.CHART / variant).read_text())
        for k, val in over.items():
            if isinstance(val, dict) and isinstance(v.get(k), dict):
                v[k].update(val)
            else:
                v[k] = val
    for k, val in chart.SETS.get(variant, {}).items():
        *path, last = k.split(".")
        d = v
        for p in path:
            d = d[p]
        d[last] = val
    return v


def test_five_deployments_two_replicas_rolling_with_capacity(default):
    for c in chart.STATELESS:
        d = get(default, "Deployment", name(c))
        assert d["spec"]["replicas"] == 2, c
        ru = d["spec"]["strategy"]["rollingUpdate"]
        assert d["spec"]["strategy"]["type"] == "RollingUpdate"
        assert ru["maxUnavailable"] == 0 and ru["maxSurge"] >= 1, c


def test_resources_everywhere(renders):
    for variant, objs in renders.items():
        for w in workloads(objs):
            for c in containers(w):
                r = c.get("resources", {})
                for k in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(r.get(k, {})), \
                        f"{variant}: {w['metadata']['name']}/{c['name']}: {k}"


@pytest.mark.parametrize("variant", list(chart.VARIANTS))
def test_every_container_hardened(renders, variant):
    for w in workloads(renders[variant]):
        spec, wn = pod_spec(w), w["metadata"]["name"]
        psc = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, wn
        for k in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(k), f"{wn}: {k}"
        for c in containers(w):
            sc, where = c.get("securityContext", {}), f"{wn}/{c['name']}"
            uid = sc.get("runAsUser", psc.get("runAsUser"))
            assert uid == UID[component(w)], f"{where}: runAsUser {uid}"
            assert sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, where
            assert sc.get("readOnlyRootFilesystem") is True, where
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert not sc.get("privileged"), where
            caps = sc.get("capabilities", {})
            assert caps.get("drop") == ["ALL"] and not caps.get("add"), where
            seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {}))
            assert seccomp.get("type") == "RuntimeDefault", where


@pytest.mark.parametrize("variant", list(chart.VARIANTS))
def test_every_secret_referenced_exists(renders, variant):
    objs = renders[variant]
    existing = values_of(variant)["existingSecret"]
    secrets = {s["metadata"]["name"]: set(s.get("data", {}))
               for s in chart.by_kind(objs, "Secret")}
    if existing:   # the user's own: the chart makes none
        assert not secrets
        secrets = {existing: None}
    refs = 0
    for w in workloads(objs):
        wn = w["metadata"]["name"]
        for v in pod_spec(w).get("volumes", []):
            if "secret" in v:
                sn = v["secret"]["secretName"]
                assert sn in secrets, f"{wn}: Secret {sn} is not rendered"
                for it in v["secret"].get("items", []):
                    refs += 1
                    assert secrets[sn] is None or it["key"] in secrets[sn], \
                        f"{wn}: key {it['key']} not in Secret {sn}"
        for c in containers(w):
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    refs += 1
                    assert ref["name"] in secrets, f"{wn}: {ref}"
    assert refs > 0


def test_the_secret_has_compose_passwords(default):
    (s,) = chart.by_kind(default, "Secret")
    assert set(s["data"]) == set(STACK["secrets"])
    for k, v in s["data"].items():
        pw = base64.b64decode(v).decode()
        # nats-entrypoint.sh refuses " \ @ : / and spaces; 32 like generate.sh
        assert re.fullmatch(r"[A-Za-z0-9]{32}", pw), k
    assert s["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_least_privilege_secrets_as_compose(default):
    """Each pod mounts exactly the secrets its compose service has, as
    files under /run/secrets where its *_FILE variables point."""
    for w in workloads(default):
        c = component(w)
        want = set(SERVICES_OF[c].get("secrets") or [])
        vols = [v for v in pod_spec(w).get("volumes", []) if "secret" in v]
        got = {it["key"] for v in vols for it in v["secret"]["items"]}
        assert got == want, f"{c}: mounts {sorted(got)}, compose {sorted(want)}"
        for v in vols:
            assert v["secret"]["defaultMode"] == 0o440, c
        mounts = {m["name"]: m["mountPath"] for ct in containers(w)
                  for m in ct.get("volumeMounts", [])}
        files = {f"{mounts[v['name']]}/{it['path']}"
                 for v in vols for it in v["secret"]["items"]}
        for ct in containers(w):
            for e in ct.get("env", []):
                if e["name"].endswith("_FILE"):
                    assert e["value"] in files, f"{c}: {e['name']}={e['value']}"


def test_environment_as_compose(default):
    extra = {"db": {"PGDATA"},   # PGDATA: a folder of the volume
             "nats": {"POD_NAME", "NATS_CONFIG_DIR", "NATS_RUN_DIR",
                      "NATS_STORE_DIR"}}
    for w in workloads(default):
        c = component(w)
        want = set(SERVICES_OF[c].get("environment") or {})
        got = {e["name"] for ct in containers(w) for e in ct.get("env", [])}
        assert got == want | extra.get(c, set()), c
    # a variable without value (or valueFrom) is set, empty
    env = {component(w): {e["name"]: e.get("value", "") for e in containers(w)[0].get("env", [])}
           for w in workloads(default)}
    for c in ("vote", "worker"):
        assert env[c]["NATS_REPLICAS"] == "3"
        assert len(env[c]["NATS_URL"].split(",")) == 3
        assert env[c]["NATS_USER"] == c
    assert env["worker"]["POSTGRES_USER"] == "worker"
    assert env["result"]["POSTGRES_USER"] == "result"
    assert env["vote"]["REDIS_USER"] == "vote"
    # the limits per address: stack.yaml's defaults (${NAME:-default})
    for c, names in (("vote", ("VOTE_RATE_PER_MIN", "VOTE_RATE_BURST")),
                     ("result", ("RESULT_MAX_PER_ADDR",))):
        for n in names:
            m = re.fullmatch(r"\$\{%s:-([^}]*)\}" % n,
                             str(SERVICES_OF[c]["environment"][n]))
            assert m, f"stack.yaml: {n}={SERVICES_OF[c]['environment'][n]}"
            assert env[c][n] == m.group(1), f"{c}: {n}={env[c][n]!r}"
    assert (env["vote"]["VOTE_RATE_PER_MIN"], env["vote"]["VOTE_RATE_BURST"]) == ("120", "300")
    assert env["result"]["RESULT_MAX_PER_ADDR"] == ""   # a quarter of the viewers
    assert "RESULT_MAX_CLIENTS" not in env["result"]      # sized to the pod


def _env(objs, c):
    return {e["name"]: e.get("value", "")   # no value: set, empty
            for e in containers(get(objs, "Deployment", name(c)))[0].get("env", [])}


def _values_file(tmp_path, values):
    """-f of a values file holding `values` (a list in --set needs escapes)."""
    f = tmp_path / "values.yaml"
    f.write_text(yaml.safe_dump(values))
    return ["-f", str(f)]


def test_trusted_proxies_set(default, tmp_path):
    """vote and result trust the pods in front of them (the UIs' nginx and
    the ingress controller): trustedProxies, 10.0.0.0/8 by default, which
    holds the usual pod CIDRs; set once, it is both services'."""
    import ipaddress
    vote, result = _env(default, "vote"), _env(default, "result")
    assert vote["VOTE_TRUSTED_PROXIES"] == result["RESULT_TRUSTED_PROXIES"] \
        == values_of("default")["trustedProxies"] == "10.0.0.0/8"
    block = ipaddress.ip_network(vote["VOTE_TRUSTED_PROXIES"])
    for pods in ("10.244.0.0/16", "10.42.0.0/16"):   # kind/flannel, k3s
        assert ipaddress.ip_network(pods).subnet_of(block), pods
    mine = "10.244.0.0/16, fd00:10:244::/56"
    objs = chart.render(_values_file(tmp_path, {"trustedProxies": mine}))
    assert _env(objs, "vote")["VOTE_TRUSTED_PROXIES"] == mine
    assert _env(objs, "result")["RESULT_TRUSTED_PROXIES"] == mine
    sixteen = ",".join(f"10.{i}.0.0/16" for i in range(16))
    objs = chart.render(_values_file(tmp_path, {"trustedProxies": sixteen}))
    assert _env(objs, "vote")["VOTE_TRUSTED_PROXIES"] == sixteen


@pytest.mark.parametrize("key", ["trustedProxies", "vote.ratePerMin",
                                 "vote.rateBurst", "result.maxPerAddr"])
def test_values_of_an_older_chart(key):
    """`helm upgrade --reuse-values` keeps the values of the release's older
    chart, which lack the keys added since: helm names the missing key
    (null removes it, as it is missing there) instead of rendering
    "<nil>" or stopping on a message about something else."""
    p = chart.run([chart.HELM, "template", chart.RELEASE, str(chart.CHART),
                   "--set", f"{key}=null"])
    assert p.returncode != 0
    assert f"{key}: not set; an upgrade with --reuse-values" in p.stderr, p.stderr


def test_result_max_clients_is_gone():
    """RESULT_MAX_CLIENTS is not set (stack.yaml sizes result to its limits):
    an older release's result.maxClients, reapplied by an upgrade, stops
    helm instead of being ignored."""
    p = chart.run([chart.HELM, "template", chart.RELEASE, str(chart.CHART),
                   "--set", "result.maxClients=2000"])
    assert p.returncode != 0 and "result.maxClients: no longer a value" in p.stderr


@pytest.mark.parametrize("value,error", [
    ("", "trustedProxies: empty"),
    ("ingress-nginx", '"ingress-nginx" is not an address'),
    ("10.0.0.0/8,,192.168.0.0/16", '"" is not an address'),
    (",".join(f"10.{i}.0.0/16" for i in range(17)), "17 entries, at most 16"),
])
def test_trusted_proxies_refused(tmp_path, value, error):
    """What vote and result would refuse at start (exit 2), or an empty list
    (every client the UI pod's address), stops helm with the value's name."""
    p = chart.run([chart.HELM, "template", chart.RELEASE, str(chart.CHART),
                   *_values_file(tmp_path, {"trustedProxies": value})])
    assert p.returncode != 0 and error in p.stderr, p.stderr


@pytest.mark.parametrize("key,value,var,want", [
    ("vote.ratePerMin", "0", "VOTE_RATE_PER_MIN", "0"),        # no limit
    ("vote.ratePerMin", "1000000", "VOTE_RATE_PER_MIN", "1000000"),
    ("vote.rateBurst", "1", "VOTE_RATE_BURST", "1"),
    ("vote.rateBurst", "1000000", "VOTE_RATE_BURST", "1000000"),
    ("result.maxPerAddr", "0", "RESULT_MAX_PER_ADDR", "0"),    # no cap
    ("result.maxPerAddr", "4000", "RESULT_MAX_PER_ADDR", "4000"),
    ("vote.ratePerMin", "1000001", None, "vote.ratePerMin: 1000001, not within 0..1000000"),
    ("vote.rateBurst", "0", None, "vote.rateBurst: 0, not within 1..1000000"),
    ("vote.ratePerMin", "-1", None, 'vote.ratePerMin: "-1" is not a whole number'),
    ("vote.rateBurst", "1.5", None, 'vote.rateBurst: "1.5" is not a whole number'),
    ("result.maxPerAddr", "lots", None, 'result.maxPerAddr: "lots" is not a whole number'),
    ("result.maxPerAddr", "1000001", None, "result.maxPerAddr: 1000001, not within 0..1000000"),
])
def test_limits_per_address_values(tmp_path, key, value, var, want):
    """The values behind VOTE_RATE_*, RESULT_MAX_PER_ADDR, from a values
    file (YAML numbers, which Helm reads as floats: 1000000 must not become
    1e+06) and --set; out of vote's and result's own ranges, helm stops."""
    section, field = key.split(".")
    from_file = _values_file(tmp_path, {section: {field: yaml.safe_load(value)}})
    for args in (from_file, ["--set", f"{key}={value}"]):
        p = chart.run([chart.HELM, "template", chart.RELEASE, str(chart.CHART),
                       *args])
        if var is None:
            assert p.returncode != 0 and want in p.stderr, (args, p.stderr)
            continue
        assert p.returncode == 0, p.stderr
        objs = [d for d in yaml.safe_load_all(p.stdout) if d]
        assert _env(objs, section)[var] == want, args


def _port(container, ref):
    for p in container.get("ports", []):
        if ref in (p.get("name"), p["containerPort"]):
            return p["containerPort"]
    return None


@pytest.mark.parametrize("variant", list(chart.VARIANTS))
def test_probes_point_at_ports_that_exist(renders, variant):
    for w in workloads(renders[variant]):
        for c in containers(w):
            where = f"{w['metadata']['name']}/{c['name']}"
            for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
                p = c.get(kind)
                if kind != "startupProbe":
                    assert p, f"{where}: no {kind}"
                if p and "httpGet" in p:
                    assert _port(c, p["httpGet"]["port"]), \
                        f"{where}: {kind} on port {p['httpGet']['port']}"
                if p and "tcpSocket" in p:
                    assert _port(c, p["tcpSocket"]["port"]), where


def test_probe_paths(default):
    for c in ("vote", "worker", "result"):
        ct = containers(get(default, "Deployment", name(c)))[0]
        assert ct["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert ct["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for c in ("vote-ui", "result-ui"):
        ct = containers(get(default, "Deployment", name(c)))[0]
        assert ct["livenessProbe"]["httpGet"]["path"] == "/healthz"
    nats = containers(get(default, "StatefulSet", name("nats")))[0]
    # NATS monitoring listens on the pod's loopback only: probes run inside
    server_conf = (chart.ROOT / "compose/nats/server.conf").read_text()
    assert re.search(r"^http: 127\.0\.0\.1:8222$", server_conf, re.M)
    assert nats["readinessProbe"]["exec"]["command"][-1] == \
        "http://127.0.0.1:8222/healthz?js-server-only=true"
    assert nats["livenessProbe"]["exec"]["command"][-1] == \
        "http://127.0.0.1:8222/healthz?js-enabled-only=true"
    assert all(p["containerPort"] != 8222 for p in nats["ports"])


@pytest.mark.parametrize("variant", list(chart.VARIANTS))
def test_services_target_ports_that_exist(renders, variant):
    objs = renders[variant]
    for s in chart.by_kind(objs, "Service"):
        sel = s["spec"]["selector"]
        pods = [w for w in workloads(objs)
                if sel.items() <= w["spec"]["template"]["metadata"]["labels"].items()]
        assert len(pods) == 1, s["metadata"]["name"]
        for p in s["spec"]["ports"]:
            assert any(_port(c, p["targetPort"]) for c in containers(pods[0])), \
                f"{s['metadata']['name']}: targetPort {p['targetPort']}"


def _peer(variant, p):
    v = values_of(variant)["networkPolicy"]
    if "namespaceSelector" in p:
        for src in ("ingressController", "prometheus"):
            if p["namespaceSelector"] == v[src]["namespaceSelector"] and \
                    p.get("podSelector") == v[src]["podSelector"]:
                return {"ingressController": "ingress"}.get(src, src)
        raise AssertionError(f"a peer of no known namespace: {p}")
    assert "ipBlock" not in p, p
    return p["podSelector"]["matchLabels"]


def allowed_edges(objs, variant):
    """(source, destination, port) that the NetworkPolicies let through,
    over the release's pods; every pod must be selected by a policy."""
    pods = {component(w): (w["spec"]["template"]["metadata"]["labels"], w)
            for w in workloads(objs)}
    edges, selected = set(), set()
    for np in chart.by_kind(objs, "NetworkPolicy"):
        spec = np["spec"]
        assert spec["policyTypes"] == ["Ingress"], np["metadata"]["name"]
        ml = spec["podSelector"].get("matchLabels", {})
        assert "matchExpressions" not in spec["podSelector"]
        dsts = [c for c, (lb, _) in pods.items() if ml.items() <= lb.items()]
        selected.update(dsts)
        for rule in spec.get("ingress", []):
            assert rule.get("from") and rule.get("ports"), \
                f"{np['metadata']['name']}: a rule open to all sources or ports"
            for peer in rule["from"]:
                src = _peer(variant, peer)
                srcs = [src] if isinstance(src, str) else \
                    [c for c, (lb, _) in pods.items() if src.items() <= lb.items()]
                assert srcs, f"{np['metadata']['name']}: a peer selecting no pod"
                for port in rule["ports"]:
                    assert port.get("protocol", "TCP") == "TCP"
                    for d in dsts:
                        assert _port(containers(pods[d][1])[0], port["port"]), \
                            f"{d}: no container port {port['port']}"
                        edges.update((s, d, port["port"]) for s in srcs)
    return edges, selected, set(pods)


@pytest.mark.parametrize("variant", list(chart.VARIANTS))
def test_network_policies_allow_exactly_the_topology(renders, variant):
    objs, values = renders[variant], values_of(variant)
    if not values["networkPolicy"]["enabled"]:
        assert not chart.by_kind(objs, "NetworkPolicy")
        return
    m = values["metrics"]
    want = EDGES | (METRICS_EDGES if m["annotations"] or m["serviceMonitor"]["enabled"]
                    else set())
    got, selected, pods = allowed_edges(objs, variant)
    assert selected == pods, f"pods no policy selects: {pods - selected}"
    assert not got - want, f"allowed beyond the topology: {sorted(got - want)}"
    assert not want - got, f"edges of the topology refused: {sorted(want - got)}"
    # the default deny: one policy that selects every pod and lets nothing in
    deny = [np for np in chart.by_kind(objs, "NetworkPolicy")
            if not np["spec"].get("ingress")]
    assert len(deny) == 1
    ml = deny[0]["spec"]["podSelector"]["matchLabels"]
    assert all(ml.items() <= w["spec"]["template"]["metadata"]["labels"].items()
               for w in workloads(objs))


def compose_images(registry, tag):
    """image: of each service, as Compose itself resolves compose.yaml."""
    env = dict(os.environ, REGISTRY=registry, TAG=tag)
    for k in ("NATS_IMAGE", "REDIS_IMAGE", "POSTGRES_IMAGE"):
        env.pop(k, None)
    if shutil.which("docker-compose"):
        cmd = ["docker-compose"]
    else:
        cmd = ["docker", "compose"]
    p = subprocess.run(cmd + ["-f", str(chart.ROOT / "compose/compose.yaml"),
                              "config"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return {s: v["image"] for s, v in yaml.safe_load(p.stdout)["services"].items()}


@pytest.mark.parametrize("variant", ["default"] + chart.VALUES_FILES)
def test_images_are_what_compose_pushes(renders, variant):
    img = values_of(variant)["image"]
    want = compose_images(img["registry"], str(img["tag"]))
    for w in workloads(renders[variant]):
        c = component(w)
        assert containers(w)[0]["image"] == want[c], c


def test_stateful_sets_keep_their_data_on_claims(default):
    mounts = {"nats": "/data", "redis": "/data", "db": "/var/lib/postgresql/data"}
    for c, path in mounts.items():
        s = get(default, "StatefulSet", name(c))
        claims = {t["metadata"]["name"] for t in s["spec"]["volumeClaimTemplates"]}
        assert claims == {"data"}, c
        vm = {m["mountPath"]: m["name"] for m in containers(s)[0]["volumeMounts"]}
        assert vm.get(path) == "data", c
        assert "data" not in {v["name"] for v in pod_spec(s).get("volumes", [])}, c


def test_nats_cluster_and_its_budget(default):
    s = get(default, "StatefulSet", name("nats"))
    assert s["spec"]["replicas"] == 3
    pdbs = chart.by_kind(default, "PodDisruptionBudget")
    assert len(pdbs) == 1 and pdbs[0]["spec"]["maxUnavailable"] == 1
    assert pdbs[0]["spec"]["selector"]["matchLabels"].items() <= \
        s["spec"]["template"]["metadata"]["labels"].items()
    env = {e["name"]: e.get("value") for e in containers(s)[0]["env"]}
    routes = env["NATS_CLUSTER_ROUTES"].split(",")
    hl = get(default, "Service", s["spec"]["serviceName"])
    assert hl["spec"]["clusterIP"] == "None" and hl["spec"]["publishNotReadyAddresses"]
    assert routes == [f"{name('nats')}-{i}.{hl['metadata']['name']}:6222"
                      for i in range(3)]
    # the routes' password: never on the command line
    ct = containers(s)[0]
    assert ct["command"] == ["/bin/sh", "/etc/nats/votingapp/entrypoint.sh"]
    assert not ct.get("args")


def test_redis_has_maxmemory(default):
    args = containers(get(default, "StatefulSet", name("redis")))[0]["args"]
    assert args[args.index("--maxmemory") + 1] == "384mb"
    assert args[args.index("--maxmemory-policy") + 1] == "noeviction"


def test_files_are_compose_own(default):
    cm = get(default, "ConfigMap", name("nats"))["data"]
    for f in ("auth.conf", "server.conf"):
        assert cm[f].strip() == (chart.ROOT / "compose/nats" / f).read_text().strip()
    roles = get(default, "ConfigMap", name("db"))["data"]["10-roles.sh"]
    assert roles.strip() == (chart.ROOT / "compose/postgres/roles.sh").read_text().strip()


def test_ui_nginx_conf_for_kubernetes(default):
    services = {s["metadata"]["name"] for s in chart.by_kind(default, "Service")}
    for ui, svc in (("vote-ui", "vote"), ("result-ui", "result")):
        conf = get(default, "ConfigMap", name(ui))["data"]["nginx.conf"]
        original = (chart.ROOT / "ui" / ui.split("-")[0] / "nginx.conf").read_text()
        assert "127.0.0.11" not in conf   # Docker's DNS: none here
        assert "resolver kube-dns.kube-system.svc.cluster.local valid=10s" in conf
        m = re.search(r"set \$upstream http://([^.]+)\.votingapp\.svc\.cluster\.local:5000;", conf)
        assert m and m.group(1) == name(svc) and m.group(1) in services
        # the rest is the image's own file, line for line
        strip = lambda t: [l for l in t.splitlines()
                           if "resolver" not in l and "$upstream http" not in l]
        assert strip(conf) == strip(original)
        # every server block (one, on both listeners) has the cluster's
        # upstream; the resolver is the http block's, for all of them
        servers = re.split(r"^\s*server \{", conf, flags=re.M)[1:]
        assert servers
        for block in servers:
            assert re.search(r"set \$upstream http://[^.]+\.votingapp\.svc\.", block)
            assert f"http://{svc}:5000" not in block
        assert {8080, 8081} <= forwarded_for_by_port(conf)[1]
        assert conf.count("resolver ") == 1 and "resolver kube-dns" in conf
    assert "location = /api/results/ws" in \
        get(default, "ConfigMap", name("result-ui"))["data"]["nginx.conf"]


def forwarded_for_by_port(conf):
    """nginx.conf's map of $server_port to the X-Forwarded-For it sends on:
    {port or "default": value}, and the ports it listens on."""
    m = re.search(r"map \$server_port \$forwarded_for \{([^}]*)\}", conf)
    assert m, "no map of $server_port to $forwarded_for"
    entries = dict(re.findall(r"^\s*(\S+)\s+(\S+);", m.group(1), re.M))
    listens = {int(p) for p in re.findall(r"^\s*listen (\d+);", conf, re.M)}
    return entries, listens


def _forwarded_for_on(entries, port):
    return entries.get(str(port), entries["default"])


def _container_port(objs, component_, ref):
    """A Service's targetPort (name or number) as the number in the pod."""
    return _port(containers(get(objs, "Deployment", name(component_)))[0], ref)


@pytest.mark.parametrize("variant", ["default", "values-production.yaml",
                                     "values-small.yaml"])
def test_ingress_backend_is_the_ui_append_listener(renders, variant):
    """The Ingress reaches each UI's nginx on the listener that appends the
    ingress controller's address to the X-Forwarded-For it wrote
    ($proxy_add_x_forwarded_for), so vote and result count the client; the
    probes stay on the direct listener, which replaces the header with the
    peer's address (a client's own header counts for nothing there)."""
    objs = renders[variant]
    (ing,) = chart.by_kind(objs, "Ingress")
    seen = set()
    for rule in ing["spec"]["rules"]:
        backend = rule["http"]["paths"][0]["backend"]["service"]
        svc = get(objs, "Service", backend["name"])
        ui = component(svc)
        (sp,) = [p for p in svc["spec"]["ports"]
                 if p["name"] == backend["port"].get("name")
                 or p["port"] == backend["port"].get("number")]
        port = _container_port(objs, ui, sp["targetPort"])
        conf = get(objs, "ConfigMap", name(ui))["data"]["nginx.conf"]
        entries, listens = forwarded_for_by_port(conf)
        assert port in listens, f"{ui}: nginx does not listen on {port}"
        assert _forwarded_for_on(entries, port) == "$proxy_add_x_forwarded_for", \
            f"{ui}: the Ingress's port {port} does not append"
        ct = containers(get(objs, "Deployment", name(ui)))[0]
        for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
            probe = _port(ct, ct[kind]["httpGet"]["port"])
            assert probe in listens and probe != port, f"{ui}: {kind} on {probe}"
            assert _forwarded_for_on(entries, probe) == "$remote_addr", f"{ui}: {kind}"
        seen.add(ui)
    assert seen == {"vote-ui", "result-ui"}


def test_ui_services_expose_both_listeners(default):
    """The UIs' Services: http (8080, direct: kubectl port-forward) and
    http-proxied (8081, the Ingress's backend); the others, http only."""
    for c in chart.STATELESS:
        ports = {p["name"]: (p["port"], p["targetPort"])
                 for p in get(default, "Service", name(c))["spec"]["ports"]}
        if c.endswith("-ui"):
            assert ports == {"http": (8080, "http"),
                             "http-proxied": (8081, "http-proxied")}, c
            assert {_container_port(default, c, t) for _, t in ports.values()} \
                == {8080, 8081}
        else:
            assert set(ports) == {"http"}, c


@pytest.mark.parametrize("expr,error", [
    (r"s/listen 8081;/listen 8082;/", "no listen 8081;"),
    (r"s/listen 8080;//", "no listen 8080;"),
    (r"s/8081    \$proxy_add_x_forwarded_for;/8081    $remote_addr;/",
     "port 8081 does not append to X-Forwarded-For"),
    (r"s/default \$remote_addr;/default $proxy_add_x_forwarded_for;/",
     "the direct port does not replace X-Forwarded-For"),
    (r"s/resolver 127.0.0.11 valid=10s ipv6=off;/resolver 127.0.0.11;/",
     "no Docker resolver line to replace"),
])
@pytest.mark.parametrize("ui", ["vote-ui", "result-ui"])
def test_chart_refuses_an_nginx_conf_it_does_not_fit(tmp_path, ui, expr, error):
    """The chart names 8080 and 8081 in its Deployments, Services, Ingress
    and NetworkPolicies: if ui/*/nginx.conf stops listening there, or 8081
    stops appending, helm stops instead of routing to the wrong listener."""
    copy = tmp_path / "votingapp"
    shutil.copytree(chart.CHART, copy, symlinks=False)
    conf = copy / "files" / f"{ui}-nginx.conf"
    before = conf.read_text()
    subprocess.run(["sed", "-i", expr, str(conf)], check=True)
    assert conf.read_text() != before, f"{expr} changed nothing"
    p = chart.run([chart.HELM, "template", chart.RELEASE, str(copy)])
    assert p.returncode != 0 and f"files/{ui}-nginx.conf: {error}" in p.stderr, \
        p.stderr[-500:]


def test_ingress_hosts_and_websocket(renders):
    for variant in ("default", "values-production.yaml"):
        v = values_of(variant)["ingress"]
        (ing,) = chart.by_kind(renders[variant], "Ingress")
        assert ing["spec"]["ingressClassName"] == v["className"]
        hosts = {r["host"]: r["http"]["paths"][0]["backend"]["service"]
                 for r in ing["spec"]["rules"]}
        assert hosts == {
            f"vote.{v['domain']}": {"name": name("vote-ui"), "port": {"name": "http-proxied"}},
            f"result.{v['domain']}": {"name": name("result-ui"), "port": {"name": "http-proxied"}}}
        a = ing["metadata"]["annotations"]
        assert int(a["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    (ing,) = chart.by_kind(renders["values-production.yaml"], "Ingress")
    assert ing["spec"]["tls"][0]["secretName"] == "votingapp-tls"
    no = chart.render(["--set", "ingress.enabled=false"])
    assert not chart.by_kind(no, "Ingress")


def test_prometheus_scrape(renders):
    for w in workloads(renders["default"]):
        a = w["spec"]["template"]["metadata"].get("annotations") or {}
        if component(w) in ("vote", "worker", "result"):
            assert a["prometheus.io/scrape"] == "true"
            assert _port(containers(w)[0], int(a["prometheus.io/port"]))
            assert a["prometheus.io/path"] == "/metrics"
        else:
            assert "prometheus.io/scrape" not in a
    assert not chart.by_kind(renders["default"], "ServiceMonitor")
    objs = renders["servicemonitor"]
    (sm,) = chart.by_kind(objs, "ServiceMonitor")
    exprs = {e["key"]: e["values"] for e in sm["spec"]["selector"]["matchExpressions"]}
    picked = [s for s in chart.by_kind(objs, "Service")
              if component(s) in exprs["app.kubernetes.io/component"]]
    assert sorted(component(s) for s in picked) == ["result", "vote", "worker"]
    for s in picked:
        assert sm["spec"]["endpoints"][0]["port"] in [p["name"] for p in s["spec"]["ports"]]
    for w in workloads(renders["no-metrics"]):
        assert "prometheus.io/scrape" not in (w["spec"]["template"]["metadata"].get("annotations") or {})


def test_config_change_restarts_only_its_pods(default):
    """A pod's checksum/config follows the files it mounts: a change of the
    UIs' nginx.conf (here through dns.resolver) rolls the UIs, not NATS,
    Redis or Postgres; the same values render the same checksums."""
    def sums(objs):
        return {component(w): w["spec"]["template"]["metadata"]
                .get("annotations", {}).get("checksum/config")
                for w in workloads(objs)}
    before = sums(default)
    assert sums(chart.render()) == before
    after = sums(chart.render(["--set", "dns.resolver=coredns.kube-system"]))
    changed = {c for c in before if before[c] != after[c]}
    assert changed == {"vote-ui", "result-ui"}
    for c in ("vote-ui", "result-ui", "nats", "redis", "db"):
        assert before[c], f"{c}: no checksum/config"
