#!/usr/bin/env bash
# tests/swarm/run.sh - images from a registry, and the Docker Swarm stack.
#
# 1. Static checks of compose/stack.yaml (as `docker stack deploy` would read
#    it, with the variables interpolated): traefik's flags and deploy.labels,
#    replicas, update/rollback/restart policies, limits, placement, secrets,
#    the NATS cluster, the endpoint mode variable.
#    Then compose/nats/healthcheck.sh against three local nats-server
#    processes (nats_healthcheck_test.sh): a restarted node is never healthy
#    while it catches up.
# 2. Registry: Debian's docker-registry as a process on a free loopback port;
#    `docker-compose build` + `docker-compose push` send our five images there
#    (REGISTRY=127.0.0.1:PORT/votingapp, TAG=swarm); the local tags are removed;
#    from a copy of compose/ alone, `pull` + `up -d --no-build` run them: a vote
#    goes through vote-ui and shows on result-ui; `down -v`.
# 3. Swarm: a one-node swarm (docker swarm init), the node labelled for db,
#    redis and nats-1..3, `docker stack deploy` of stack.yaml as "votingswarm"
#    with every image from the local registry, ENDPOINT_MODE=dnsrr (this
#    kernel has no IPVS: no service VIPs, no routing mesh) and traefik left
#    out (TRAEFIK_REPLICAS=0: its image cannot be had here; its flags and
#    labels are checked statically). Then, from a container attached to the
#    overlay networks (the host runs curl and python3 in its network
#    namespace):
#    - converged: every service at its replicas, every task healthy (time);
#    - NATS: one JetStream cluster of 3, the VOTES stream with 3 replicas;
#    - votes through both vote-ui replicas reach result-ui (HTTP, WebSocket);
#    - `docker service scale` worker to 3 and back to 2 under voting: every
#      acknowledged vote in Postgres;
#    - under steady voting, `docker kill` of the NATS container that leads
#      VOTES: only 200s and 503s with Retry-After, voting goes on (the
#      longest pause between two acknowledged votes is printed and must stay
#      under PAUSE_LIMIT), every acknowledged vote in Postgres;
#    - nothing answers on the host's docker0 address at 8080 and 9090
#      (traefik's dashboard, Prometheus: no login), Prometheus through
#      docker exec;
#    - `docker service update --force` of redis: voters kept (redis-data);
#    - `docker service update --force` of vote under voting: no answer but
#      200 or 503 (with Retry-After), every acknowledged vote in Postgres;
#    - compose/nats-rollout.sh changes nats/server.conf of nats-1..3 under
#      voting, one node at a time: only 200s and 503s with Retry-After, the
#      longest pause printed and under PAUSE_LIMIT, every acknowledged vote
#      in Postgres, every node on the new setting; a stack deploy of the
#      same file afterwards restarts no NATS node.
# Leaves no swarm, service, network, volume, container, registry or image tag
# of its own behind (trap). Refuses to run if a swarm is already active.
# Prints "N passed, M failed" last; exits non-zero on a failure.
# Env: KEEP=1 (leave everything up), CONVERGE_TIMEOUT (s, 300),
#      PAUSE_LIMIT (s, 15), DOCKER (docker).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/swarm
T0=$(date +%s)

S=votingswarm                 # stack name
RP=votingreg                  # compose project of the registry test
DOCKER=${DOCKER:-docker}
CONVERGE_TIMEOUT=${CONVERGE_TIMEOUT:-300}
PAUSE_LIMIT=${PAUSE_LIMIT:-15}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
OWN=(vote worker result vote-ui result-ui)
WORK=$(mktemp -d /tmp/votingswarm.XXXXXX)
unset COMPOSE_FILE COMPOSE_PROFILES COMPOSE_PROJECT_NAME

passed=0
failed=0
failures=()
ok()   { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad()  { failed=$((failed + 1)); failures+=("$*"); printf 'FAIL %s\n' "$*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
info() { printf '# %s\n' "$*"; }
summary() {
  info "total time: $(( $(date +%s) - T0 )) s"
  for f in "${failures[@]+"${failures[@]}"}"; do info "failed: $f"; done
  echo "$passed passed, $failed failed"
}
d() { $DOCKER "$@"; }

# free_port: a free loopback port below the kernel's ephemeral range
# (32768-), which no outgoing connection can take before it is bound
free_port() {
  "$PY" -c '
import random, socket
while True:
    p = random.randrange(20000, 32000)
    try:
        socket.socket().bind(("127.0.0.1", p))
        print(p)
        break
    except OSError:
        pass'
}

# ---------------------------------------------------------------- cleanup
swarm_ours=0
reg_pid=
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    info "KEEP=1: left up (stack $S, registry pid ${reg_pid:-none}, $WORK)"
    return
  fi
  [ -n "${VOTER_PID:-}" ] && kill "$VOTER_PID" 2>/dev/null
  d rm -f "$S-probe" >/dev/null 2>&1
  if [ -d "$WORK/compose" ]; then
    (cd "$WORK/compose" && docker-compose -p "$RP" down -v --remove-orphans >/dev/null 2>&1)
  fi
  if [ "$swarm_ours" = 1 ]; then
    d stack rm "$S" >/dev/null 2>&1
    # tasks go away asynchronously; their volumes only once they have
    for _ in $(seq 1 60); do
      [ -z "$(d ps -aq --filter "label=com.docker.stack.namespace=$S")" ] && break
      sleep 1
    done
    d swarm leave --force >/dev/null 2>&1
    for _ in $(seq 1 30); do
      vols=$(d volume ls -q | grep -E "^${S}_" || true)
      [ -z "$vols" ] && break
      # shellcheck disable=SC2086
      d volume rm $vols >/dev/null 2>&1
      sleep 1
    done
  fi
  if [ -n "$reg_pid" ]; then
    kill "$reg_pid" 2>/dev/null
    wait "$reg_pid" 2>/dev/null
  fi
  if [ -n "${REG:-}" ]; then
    imgs=$(d images --format '{{.Repository}}:{{.Tag}}' | grep -F "$REG/" || true)
    # --no-prune: the layers stay as the build cache of the next run
    # shellcheck disable=SC2086
    [ -n "$imgs" ] && d rmi --no-prune $imgs >/dev/null 2>&1
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- prerequisites
if ! "$ROOT/tests/compose/dockerd-up.sh"; then bad "dockerd is up"; summary; exit 1; fi
for c in docker-registry docker-compose nsenter curl; do
  command -v "$c" >/dev/null || { bad "$c installed (tools/setup --docker)"; summary; exit 1; }
done
st=$(d info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null)
if [ "$st" != inactive ]; then
  bad "no swarm active before the test (this node is '$st'; the test makes and leaves its own)"
  summary; exit 1
fi

# ---------------------------------------------------------------- static
# stack.yaml as `docker stack deploy` reads it: ${VAR:-default} interpolated
# from the environment, YAML merge keys resolved.
static_checks() {
  "$PY" - "$ROOT/compose/stack.yaml" <<'EOF'
import os, re, sys, yaml

def interp(text, env):
    def sub(m):
        name, op, default = m.group(1), m.group(2), m.group(3) or ""
        v = env.get(name)
        if op == ":-":
            return v if v else default
        if op == "-":
            return v if v is not None else default
        return v or ""
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}", sub, text)

raw = open(sys.argv[1]).read()
def load(env):
    return yaml.safe_load(interp(raw, env))

def out(ok, name):
    print(("ok " if ok else "FAIL ") + name)

c = load({})
s = c["services"]
dep = lambda n: s[n].get("deploy") or {}
out(str(c.get("version", "")).startswith("3."), "stack.yaml: compose file version 3.x (docker stack deploy)")
want = {"traefik", "vote-ui", "vote", "result-ui", "result", "worker", "redis", "db",
        "nats-1", "nats-2", "nats-3", "prometheus"}
out(set(s) == want, "stack.yaml: services %s" % " ".join(sorted(want)))
out(not any(k in x for x in s.values() for k in ("build", "depends_on", "restart", "container_name", "profiles")),
    "stack.yaml: no key swarm ignores (build, depends_on, restart, container_name, profiles)")

t = s["traefik"]
out(t.get("image") == "traefik:v2.9.6", "traefik image traefik:v2.9.6")
cmd = t.get("command") or []
out(cmd[:4] == ["--api.insecure=true", "--providers.docker=true",
                "--providers.docker.exposedbydefault=false", "--entrypoints.web.address=:80"]
    and "--providers.docker.swarmMode=true" in cmd
    and "--providers.docker.network=votingapp_front-tier" in cmd,
    "traefik: the seed's flags + swarmMode=true + network votingapp_front-tier")
out(any(str(v) == "/var/run/docker.sock:/var/run/docker.sock:ro" for v in t.get("volumes", [])),
    "traefik mounts the docker socket read-only")
out(sorted((p["published"], p["target"], p["mode"]) for p in t.get("ports", []))
    == [(80, 80, "ingress")],
    "traefik publishes 80 only (ingress by default): its dashboard (8080, no login) is not published")
out(t.get("cap_add") == ["NET_BIND_SERVICE"], "traefik gets back only NET_BIND_SERVICE")
out("node.role == manager" in (dep("traefik").get("placement") or {}).get("constraints", []),
    "traefik runs on a manager (reads the swarm API)")
out(dep("traefik").get("replicas") == 1 and load({"TRAEFIK_REPLICAS": "0"})["services"]["traefik"]["deploy"]["replicas"] == 0,
    "traefik replicas 1, TRAEFIK_REPLICAS=0 leaves it out")
p = s["prometheus"]
out(sorted(x["target"] for x in p.get("configs", [])) == ["/etc/prometheus/prometheus.yml",
    "/etc/prometheus/rules/alerts.yml", "/etc/prometheus/rules/recording.yml"]
    and sorted(v["file"] for v in c.get("configs", {}).values() if "/monitoring/" in v["file"])
    == ["./monitoring/prometheus.swarm.yml", "./monitoring/rules/alerts.yml", "./monitoring/rules/recording.yml"],
    "prometheus: the swarm scrape config and both rule files as swarm configs")
out(not p.get("ports"), "prometheus (no login) is not published")
out(dep("prometheus").get("replicas") == 1
    and load({"PROMETHEUS_REPLICAS": "0"})["services"]["prometheus"]["deploy"]["replicas"] == 0,
    "prometheus replicas 1, PROMETHEUS_REPLICAS=0 leaves it out")
for svc, router, host in (("vote-ui", "voteui", "vote.traefik.me"), ("result-ui", "resultui", "result.traefik.me")):
    l = dict(x.split("=", 1) for x in dep(svc).get("labels", []))
    out(l == {"traefik.enable": "true",
              f"traefik.http.routers.{router}.rule": f"Host(`{host}`)",
              f"traefik.http.routers.{router}.entrypoints": "web",
              f"traefik.http.services.{router}.loadbalancer.server.port": "8081"}
        and not s[svc].get("labels"),
        f"{svc}: traefik labels under deploy.labels (Host {host}, entrypoint web, port 8081: nginx's listener for traefik)")
    out(not s[svc].get("ports"), f"{svc}: no host port (traefik routes to its replicas)")

for n in ("vote", "worker", "result", "vote-ui", "result-ui"):
    dd = dep(n)
    u = dd.get("update_config") or {}
    r = dd.get("rollback_config") or {}
    out(dd.get("replicas") == 2, f"{n}: 2 replicas")
    out(u.get("order") == "start-first" and u.get("failure_action") == "rollback" and r.get("order") == "start-first",
        f"{n}: rolling update start-first, rolled back on failure")
for n in ("db", "redis", "nats-1", "nats-2", "nats-3"):
    u = dep(n).get("update_config") or {}
    out(dep(n).get("replicas") == 1 and u.get("order") == "stop-first",
        f"{n}: 1 replica, updated stop-first (one process on its data)")
for n in s:
    out((dep(n).get("restart_policy") or {}).get("condition") in ("any", "on-failure")
        and ((dep(n).get("resources") or {}).get("limits") or {}).get("memory"),
        f"{n}: restart policy and resource limits")
for n in ("db", "redis"):
    out((dep(n).get("placement") or {}).get("constraints") == ["node.labels.votingapp.db == true"],
        f"{n}: pinned by the node label votingapp.db")
rc = [str(x) for x in s["redis"].get("command") or []]
rarg = lambda f: rc[rc.index(f) + 1] if f in rc else ""
rmem = dep("redis")["resources"]["limits"]["memory"]
out(rarg("--maxmemory-policy") == "noeviction" and rarg("--maxmemory").endswith("mb")
    and rmem.endswith("M") and 0 < int(rarg("--maxmemory")[:-2]) <= int(rmem[:-1]) // 2
    and rarg("--dir") == "/data" and "redis-data:/data" in [str(v) for v in s["redis"].get("volumes", [])]
    and "redis-data" in (c.get("volumes") or {}),
    f"redis: voters on the named volume redis-data, maxmemory {rarg('--maxmemory')} (under half of {rmem}), noeviction")
out(dep("vote").get("endpoint_mode") == "vip"
    and load({"ENDPOINT_MODE": "dnsrr"})["services"]["vote"]["deploy"]["endpoint_mode"] == "dnsrr",
    "endpoint mode vip by default, ENDPOINT_MODE=dnsrr")

vols = set()
for i in (1, 2, 3):
    n = f"nats-{i}"
    cm = s[n].get("command") or []
    arg = lambda f: cm[cm.index(f) + 1] if f in cm else None
    vs = [str(v).split(":")[0] for v in s[n].get("volumes", []) if isinstance(v, str)]
    vols.update(vs)
    out(arg("-c") == "/etc/nats/votingapp/server.conf" and arg("--name") == n and "--http_port" not in cm
        and "--jetstream" in cm and arg("--store_dir") == "/data" and vs == [f"nats-{i}-data"]
        and (dep(n).get("placement") or {}).get("constraints") == [f"node.labels.votingapp.nats-{i} == true"],
        f"{n}: JetStream node {n} with nats/server.conf, own volume, pinned")
out(len(vols) == 3, "nats-1..3: three distinct volumes")
out(all(s[f"nats-{i}"]["healthcheck"]["test"] == ["CMD", "/bin/sh", "/etc/nats/votingapp/healthcheck.sh"]
        and "/etc/nats/votingapp/healthcheck.sh" in [x.get("target") for x in s[f"nats-{i}"].get("configs", [])]
        for i in (1, 2, 3)),
    "nats-1..3: healthy only when current (nats/healthcheck.sh: /healthz)")
out(all(s[f"nats-{i}"]["environment"].get("NATS_CLUSTER_ROUTES") == "nats-1:6222,nats-2:6222,nats-3:6222"
        and s[f"nats-{i}"]["environment"].get("NATS_CLUSTER_NAME") == "votingapp"
        and "nats_route_password" in [x if isinstance(x, str) else x.get("source") for x in s[f"nats-{i}"].get("secrets", [])]
        for i in (1, 2, 3)),
    "nats-1..3: routes to all three nodes of cluster votingapp, authenticated with the secret nats_route_password")
for n in ("vote", "worker"):
    e = s[n]["environment"]
    out(e.get("NATS_URL") == "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222"
        and str(e.get("NATS_REPLICAS")) == "3", f"{n}: NATS_URL lists the three nodes, NATS_REPLICAS=3")
def secrets_of(k):
    return sorted(x if isinstance(x, str) else x.get("source") for x in s[k].get("secrets", []))
out(secrets_of("vote") == ["nats_vote_password", "redis_vote_password"]
    and secrets_of("worker") == ["nats_worker_password", "postgres_worker_password"]
    and secrets_of("result") == ["postgres_result_password"] and "postgres_password" in secrets_of("db")
    and all(v.get("file", "").startswith("./secrets/") for v in c.get("secrets", {}).values()),
    "each service gets its own swarm secrets (secrets/generate.sh's files; the superuser's: db)")
out(not [f"{k}.{e}" for k, v in s.items() for e, x in (v.get("environment") or {}).items() if e.endswith("PASSWORD") and x],
    "no password in an environment variable")
hard = [n for n, v in s.items() if not (v.get("read_only") is True and v.get("cap_drop") == ["ALL"]
        and ((dep(n).get("resources") or {}).get("limits") or {}).get("pids"))]
out(not hard, "every service read_only, cap_drop ALL, a pids limit" + (f" (not: {hard})" if hard else ""))
out(all(v.get("driver") == "overlay" and v.get("attachable") for v in c["networks"].values())
    and set(c["networks"]) == {"front-tier", "back-tier"}, "networks front-tier, back-tier: overlay, attachable")
out(all(s[n]["image"] == f"votingapp/{n}:latest" for n in ("vote", "worker", "result", "vote-ui", "result-ui"))
    and load({"REGISTRY": "r.example/v", "TAG": "7"})["services"]["vote"]["image"] == "r.example/v/vote:7",
    "our images are ${REGISTRY}/NAME:${TAG}")
EOF
}
static_checks >"$WORK/static" 2>&1
while read -r st name; do
  if [ "$st" = ok ]; then ok "$name"; else bad "${name:-static checks: $st}"; fi
done <"$WORK/static"

# ---------------------------------------------------------------- NATS healthcheck
# compose/nats/healthcheck.sh against local nats-server processes: never
# healthy while a restarted node catches up (nats_healthcheck_test.sh)
"$HERE/nats_healthcheck_test.sh" >"$WORK/hc" 2>&1
while read -r st name; do
  case "$st" in
    ok) ok "NATS healthcheck: $name" ;;
    FAIL) bad "NATS healthcheck: $name" ;;
    \#) info "NATS healthcheck: $name" ;;
  esac
done <"$WORK/hc"

# ---------------------------------------------------------------- images
t=$(date +%s)
if "$ROOT/compose/offline/build.sh" >"$WORK/offline.log" 2>&1; then
  ok "offline base and stand-in images ($(( $(date +%s) - t )) s)"
else
  bad "offline images (compose/offline/build.sh)"; tail -n 20 "$WORK/offline.log"; summary; exit 1
fi

# ---------------------------------------------------------------- registry
RPORT=$(free_port)
REG=127.0.0.1:$RPORT
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
  delete:
    enabled: true
http:
  addr: $REG
EOF
docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
reg_pid=$!
up=0
for _ in $(seq 1 50); do
  curl -sf -m 2 "http://$REG/v2/" >/dev/null && { up=1; break; }
  sleep 0.2
done
if [ "$up" = 1 ]; then ok "docker-registry serves on $REG"
else bad "docker-registry on $REG: $(tail -n 3 "$WORK/registry/log")"; summary; exit 1; fi

export REGISTRY=$REG/votingapp TAG=swarm
# the secrets of this run only (stack.yaml reads SECRETS_DIR)
export SECRETS_DIR=$WORK/secrets
sh "$ROOT/compose/secrets/generate.sh" "$SECRETS_DIR" >/dev/null
# the third-party images, from the registry too (a multi-node swarm pulls
# everything; here Docker Hub is out of reach)
declare -A THIRD=([REDIS_IMAGE]=redis:7.0.5-alpine3.16 [POSTGRES_IMAGE]=postgres:15.0-alpine3.16
                  [NATS_IMAGE]=nats:2.9-alpine)
lim=$(d run --rm --entrypoint sh debian:bookworm -c 'ulimit -Hn' 2>/dev/null)
if [ -n "$lim" ] && [ "$lim" != unlimited ] && [ "$lim" -lt 16384 ]; then
  export RESULT_NOFILE=$lim
  info "the daemon's nofile limit is $lim: result runs with RESULT_NOFILE=$lim"
fi

cd "$ROOT/compose" || exit 1
t=$(date +%s)
if docker-compose -p "$RP" build "${OWN[@]}" >"$WORK/build.log" 2>&1; then
  ok "docker-compose build: our five images as $REGISTRY/NAME:$TAG ($(( $(date +%s) - t )) s)"
else
  bad "docker-compose build (log below)"; tail -n 30 "$WORK/build.log"; summary; exit 1
fi
t=$(date +%s)
if docker-compose -p "$RP" push >"$WORK/push.log" 2>&1; then
  ok "docker-compose push ($(( $(date +%s) - t )) s)"
else
  bad "docker-compose push: $(tail -n 5 "$WORK/push.log" | tr '\n' ' ')"
fi
catalog=$(curl -s -m 5 "http://$REG/v2/_catalog" | "$PY" -c 'import json,sys; print(" ".join(sorted(json.load(sys.stdin)["repositories"])))')
check "the registry holds exactly our five images ($catalog)" \
  test "$catalog" = "votingapp/result votingapp/result-ui votingapp/vote votingapp/vote-ui votingapp/worker"
tags_ok=1
for n in "${OWN[@]}"; do
  curl -s -m 5 "http://$REG/v2/votingapp/$n/tags/list" | grep -q "\"$TAG\"" || tags_ok=0
done
check "each with the tag $TAG" test "$tags_ok" = 1
push3=1
for v in "${!THIRD[@]}"; do
  src=${THIRD[$v]}
  d tag "$src" "$REG/$src" && d push "$REG/$src" >>"$WORK/push.log" 2>&1 || push3=0
  export "$v=$REG/$src"
done
check "the stand-ins of redis, postgres, nats pushed to the registry too" test "$push3" = 1

# the local copies go; what runs next comes from the registry
# shellcheck disable=SC2046
d rmi --no-prune $(for n in "${OWN[@]}"; do echo "$REGISTRY/$n:$TAG"; done) \
  $(for v in "${!THIRD[@]}"; do echo "${!v}"; done) >/dev/null 2>&1
gone=1
for n in "${OWN[@]}"; do d image inspect "$REGISTRY/$n:$TAG" >/dev/null 2>&1 && gone=0; done
check "local images $REGISTRY/*:$TAG removed" test "$gone" = 1

# compose/ alone, no checkout around it. docker-compose 1.29 checks that the
# build folders exist even with --no-build: empty ones stand in for them.
cp -r "$ROOT/compose" "$WORK/compose"
mkdir -p "$WORK/ui/vote" "$WORK/ui/result"
cd "$WORK/compose" || exit 1
VP=$(free_port); RSP=$(free_port)
REGSVC=(redis db nats vote worker result vote-ui result-ui)
t=$(date +%s)
if VOTE_UI_PORT=$VP RESULT_UI_PORT=$RSP docker-compose -p "$RP" pull "${REGSVC[@]}" >"$WORK/pull.log" 2>&1; then
  ok "docker-compose pull from $REG ($(( $(date +%s) - t )) s)"
else
  bad "docker-compose pull: $(tail -n 5 "$WORK/pull.log" | tr '\n' ' ')"
fi
pulled=1
for n in "${OWN[@]}"; do d image inspect "$REGISTRY/$n:$TAG" >/dev/null 2>&1 || pulled=0; done
check "our five images are back, pulled" test "$pulled" = 1
reg_ok=0
# docker-compose 1.29 gives up on a dependency that is not healthy yet (db's
# first start on a loaded machine): `up` again, it is idempotent.
reg_up() {
  local i
  for i in 1 2 3 4 5 6; do
    VOTE_UI_PORT=$VP RESULT_UI_PORT=$RSP docker-compose -p "$RP" up -d --no-build "${REGSVC[@]}" >"$WORK/up.log" 2>&1 && return 0
    sleep 10
  done
  return 1
}
if reg_up; then
  ok "docker-compose up -d --no-build (vote-ui on :$VP, result-ui on :$RSP)"
  end=$(( $(date +%s) + 180 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -m 10 -H 'Content-Type: application/json' \
      -d '{"vote":"b","voter_id":"reg-1"}' "http://127.0.0.1:$VP/api/vote")
    [ "$code" = 200 ] && break
    sleep 1
  done
  check "a vote through vote-ui of the pulled images answers 200" test "$code" = 200
  while [ "$(date +%s)" -lt "$end" ]; do
    curl -s -m 5 "http://127.0.0.1:$RSP/api/results" | grep -q '"total": *1' && { reg_ok=1; break; }
    sleep 1
  done
  check "result-ui of the pulled images shows it" test "$reg_ok" = 1
else
  bad "docker-compose up -d --no-build: $(tail -n 5 "$WORK/up.log" | tr '\n' ' ')"
fi
[ "$reg_ok" = 1 ] || (docker-compose -p "$RP" logs --tail 10 2>&1 | sed 's/^/#   /')
docker-compose -p "$RP" down -v >/dev/null 2>&1
cd "$ROOT/compose" || exit 1

# ---------------------------------------------------------------- swarm
if d swarm init --advertise-addr 127.0.0.1 >"$WORK/swarm.log" 2>&1; then
  swarm_ours=1; ok "docker swarm init (one node)"
else
  bad "docker swarm init: $(tail -n 3 "$WORK/swarm.log")"; summary; exit 1
fi
node=$(d info -f '{{.Swarm.NodeID}}')
d node update --label-add votingapp.db=true --label-add votingapp.nats-1=true \
  --label-add votingapp.nats-2=true --label-add votingapp.nats-3=true "$node" >/dev/null

export STACK=$S ENDPOINT_MODE=dnsrr TRAEFIK_REPLICAS=0 TRAEFIK_PUBLISH_MODE=host
# Prometheus runs from the local image (one node: --resolve-image never);
# its 400 MB stand-in stays out of the registry. It is not published: the
# test checks that nothing answers on the host's other addresses.
export PROMETHEUS_REPLICAS=1
# The load below (thousands of votes, ~80 a second) comes from this one
# host: vote's per-address limit (on in stack.yaml) would refuse most of
# it. tests/hostile and vote's tests check the limit itself.
export VOTE_RATE_PER_MIN=0
info "deploy: ENDPOINT_MODE=dnsrr (no IPVS here), TRAEFIK_REPLICAS=0 (no traefik image here), prometheus from the local image, the others from $REG"
# all services with their number of tasks
declare -A WANT=([vote]=2 [worker]=2 [result]=2 [vote-ui]=2 [result-ui]=2 [redis]=1 [db]=1
                 [nats-1]=1 [nats-2]=1 [nats-3]=1 [traefik]=0 [prometheus]=1)
ctr() { d ps -q --filter "label=com.docker.swarm.service.name=${S}_$1" --filter status=running; }

# converged: each service has its replicas running, every container healthy
converged() {
  local n st all=1 want_total=0 have=0
  for n in "${!WANT[@]}"; do
    st=$(d service ls --filter "name=${S}_$n" --format '{{.Name}} {{.Replicas}}' | awk -v s="${S}_$n" '$1 == s {print $2}')
    [ "$st" = "${WANT[$n]}/${WANT[$n]}" ] || all=0
    want_total=$(( want_total + WANT[$n] ))
  done
  have=$(d ps --filter "label=com.docker.stack.namespace=$S" --format '{{.Status}}' | grep -c '(healthy)')
  [ "$all" = 1 ] && [ "$have" = "$want_total" ]
}
wait_converged() {
  local end=$(( $(date +%s) + $1 ))
  while ! converged; do
    if [ "$(date +%s)" -ge "$end" ]; then
      d service ls --filter "label=com.docker.stack.namespace=$S" | sed 's/^/#   /'
      d ps -a --filter "label=com.docker.stack.namespace=$S" --format '{{.Names}} {{.Status}}' | sed 's/^/#   /'
      return 1
    fi
    sleep 1
  done
}

t=$(date +%s)
if d stack deploy --resolve-image never -c stack.yaml "$S" >"$WORK/deploy.log" 2>&1; then
  ok "docker stack deploy -c stack.yaml $S"
else
  bad "docker stack deploy: $(tail -n 5 "$WORK/deploy.log" | tr '\n' ' ')"; summary; exit 1
fi
if wait_converged "$CONVERGE_TIMEOUT"; then
  converge_s=$(( $(date +%s) - t ))
  ok "converged: every service at its replicas, all 16 tasks healthy, $converge_s s after deploy"
else
  bad "converged within $CONVERGE_TIMEOUT s"
  for n in vote worker nats-1; do d service logs --tail 10 "${S}_$n" 2>&1 | sed 's/^/#   /'; done
  summary; exit 1
fi
imgs_ok=1
for n in "${OWN[@]}" redis db nats-1; do
  d service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "${S}_$n" | grep -q "^$REG/" || imgs_ok=0
done
check "every service runs an image of $REG" test "$imgs_ok" = 1

# The probe: a container on both overlay networks; curl and python3 of the
# host run in its network namespace (nsenter) and reach the tasks by IP.
d run -d --name "$S-probe" --network "${S}_front-tier" debian:bookworm sleep 3600 >/dev/null &&
  d network connect "${S}_back-tier" "$S-probe"
PROBE_PID=$(d inspect -f '{{.State.Pid}}' "$S-probe" 2>/dev/null)
check "probe container on ${S}_front-tier and ${S}_back-tier" test -n "$PROBE_PID" -a "${PROBE_PID:-0}" != 0
inns() { nsenter -t "$PROBE_PID" -n "$@"; }
# ips NAME: the tasks of a service, by swarm's DNS (dnsrr: one A per task)
ips() { d exec "$S-probe" getent ahostsv4 "$1" | awk '{print $1}' | sort -u; }
VOTE_UIS=$(ips vote-ui | sed 's|.*|http://&:8080|' | paste -sd,)
RESULT_UI=http://$(ips result-ui | head -n 1):8080
check "vote-ui resolves to 2 tasks ($VOTE_UIS)" test "$(ips vote-ui | wc -l)" = 2
check "vote resolves to 2 tasks (dnsrr)" test "$(ips vote | wc -l)" = 2

# jsz NODE: the JetStream view of one NATS node (nats-1..3), as JSON, from
# its monitoring port, which answers on the container's loopback only
jsz() {
  local c
  c=$(ctr "$1" | head -n 1)
  [ -n "$c" ] && d exec "$c" timeout 5 wget -q -O- "http://127.0.0.1:8222/jsz?accounts=true&streams=true&config=true"
}
# stream_info STREAM: "leader replicas current" (replicas: the configured
# count, current: followers caught up), as the leader sees it (a node reports
# only the streams it has a replica of, and a follower's view of the others
# lags)
stream_info() {
  local n first="" line
  for n in nats-1 nats-2 nats-3; do
    line=$(jsz "$n" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
for a in d.get("account_details") or []:
    for s in a.get("stream_detail") or []:
        if s["name"] == sys.argv[1]:
            c = s.get("cluster") or {}
            rs = c.get("replicas") or []
            print(c.get("leader", "-"), s["config"].get("num_replicas"), sum(1 for r in rs if r.get("current")))
            sys.exit(0)
sys.exit(1)' "$1" 2>/dev/null) || continue
    [ "${line%% *}" = "$n" ] && { echo "$line"; return 0; }
    [ -z "$first" ] && first=$line
  done
  echo "${first:-- 0 0}"
}

vote_ui() { # VOTER OPTION: status through the first vote-ui task
  inns curl -s -o /dev/null -w '%{http_code}' -m 10 -H 'Content-Type: application/json' \
    -d "{\"vote\":\"$2\",\"voter_id\":\"$1\"}" "${VOTE_UIS%%,*}/api/vote"
}
total() {
  inns curl -s -m 5 "$RESULT_UI/api/results" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["total"])' 2>/dev/null
}
wait_total() { # N SECONDS
  local end=$(( $(date +%s) + $2 ))
  while [ "$(total)" != "$1" ]; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.5; done
}
psql_q() {
  d exec "$(ctr db | head -n 1)" psql -U "${POSTGRES_USER:-postgres}" -d "${POSTGRES_DB:-postgres}" -tAc "$1" 2>/dev/null
}
# acked_in_pg FILE PREFIX SECONDS: every 200 of FILE (voter.py) is a row of
# votes with the same option, within SECONDS
acked_in_pg() {
  local end=$(( $(date +%s) + $3 )) miss
  while :; do
    psql_q "SELECT id || ' ' || vote FROM votes WHERE id LIKE '$2-%'" >"$WORK/pg.txt"
    miss=$(awk '$5 == 200 {print $3 " " $4}' "$1" | sort | comm -23 - <(sort "$WORK/pg.txt") | wc -l)
    [ "$miss" = 0 ] && return 0
    if [ "$(date +%s)" -ge "$end" ]; then info "$miss acknowledged votes of $2 not in Postgres"; return 1; fi
    sleep 1
  done
}
# voting PREFIX [voter.py args]: steady voting in the background until
# $WORK/stop-PREFIX exists; its summary goes to $WORK/PREFIX.json
voting() {
  local p=$1; shift
  rm -f "$WORK/stop-$p"
  inns "$PY" "$HERE/voter.py" --urls "$VOTE_UIS" --prefix "$p" --out "$WORK/$p.txt" \
    --stop-file "$WORK/stop-$p" --max-seconds 240 "$@" >"$WORK/$p.json" 2>"$WORK/$p.err" &
  VOTER_PID=$!
}
# stop_voting PREFIX: stops it, waits for it (not in a subshell: $VOTER_PID
# is this shell's child), its summary in $sum
stop_voting() { touch "$WORK/stop-$1"; wait "$VOTER_PID"; sum=$(tail -n 1 "$WORK/$1.json"); }
jget() { "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read().strip().splitlines()[-1])[sys.argv[1]])' "$1"; }
acks() { awk '$5 == 200' "$WORK/$1.txt" | wc -l; }

# ---------------------------------------------------------------- NATS cluster
# the first vote creates the VOTES stream (worker may have already)
end=$(( $(date +%s) + 60 ))
while [ "$(vote_ui swarm-0 a)" != 200 ] && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
read -r leader reps current <<<"$(stream_info VOTES)"
check "VOTES: 3 replicas, all current, leader $leader (JetStream cluster of nats-1..3)" \
  test "$reps" = 3 -a "$current" = 2 -a "$leader" != -
meta=$(jsz nats-1 | "$PY" -c 'import json,sys; m = json.load(sys.stdin).get("meta_cluster") or {}; print(m.get("cluster_size", 0))' 2>/dev/null)
check "JetStream meta cluster of 3 nodes ($meta)" test "$meta" = 3

# ---------------------------------------------------------------- votes
codes=""
for i in 1 2 3 4 5; do
  opt=a; [ "$i" -gt 3 ] && opt=b
  codes+=$(inns curl -s -o /dev/null -w '%{http_code}' -m 10 -H 'Content-Type: application/json' \
    -d "{\"vote\":\"$opt\",\"voter_id\":\"swarm-$i\"}" "$(echo "$VOTE_UIS" | cut -d, -f$(( i % 2 + 1 )))/api/vote")" "
done
check "5 votes through both vote-ui replicas answered 200 ($codes)" test "$codes" = "200 200 200 200 200 "
check "result-ui: /api/results shows the 6 votes" wait_total 6 60
ws_out=$WORK/ws.txt
inns "$PY" "$ROOT/tests/support/ws.py" "ws://${RESULT_UI#http://}/api/results/ws" --until-total 7 --timeout 30 >"$ws_out" 2>&1 &
ws_pid=$!
sleep 1
check "one more vote" test "$(vote_ui swarm-6 b)" = 200
if wait "$ws_pid"; then ok "WebSocket through result-ui: the new vote pushed ($(wc -l <"$ws_out") frames)"
else bad "WebSocket through result-ui: $(tail -n 2 "$ws_out" | tr '\n' ' ')"; fi

# ---------------------------------------------------------------- least privilege
# A few forbidden acts from the back-tier network (the probe), as the
# compose test does them all; every task hardened.
nats1=$(ips nats-1 | head -n 1); redis_ip=$(ips redis | head -n 1); db_ip=$(ips db | head -n 1)
natsc() { inns "$PY" "$ROOT/compose/offline/nats-box/nats" -s "nats://$nats1:4222" "$@" 2>&1; }
out=$(natsc server check connection)
check "refused: anonymous NATS connection ($out)" grep -q "Authorization Violation" <<<"$out"
out=$(natsc --user vote --password "$(cat "$SECRETS_DIR/nats_vote_password")" sub 'votes.>' --count 1)
check "refused: vote's NATS user reading votes.> ($out)" grep -q "Permissions Violation" <<<"$out"
# a route sees every message: joining the cluster without its password
out=$(inns "$PY" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 6222), timeout=5)
f = s.makefile("rb"); f.readline()
s.sendall(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"name\":\"rogue\"}\r\nPING\r\n")
print(f.readline().decode().strip())' "$nats1" 2>&1)
check "refused: a route into the NATS cluster without its password ($out)" grep -q "Authorization Violation" <<<"$out"
out=$(inns curl -sS -m 5 -o /dev/null "http://$nats1:8222/varz" 2>&1)
check "refused: NATS monitoring from the network ($out)" grep -q "curl: (7)" <<<"$out"
out=$(inns redis-cli -h "$redis_ip" ping 2>&1)
check "refused: Redis without a password ($out)" grep -q NOAUTH <<<"$out"
out=$(PGPASSWORD=$(cat "$SECRETS_DIR/postgres_result_password") inns psql -h "$db_ip" -U result \
  -d "${POSTGRES_DB:-postgres}" -tAc "INSERT INTO tallies VALUES ('z', 1)" 2>&1)
check "refused: Postgres role result inserting a row ($out)" grep -q "permission denied" <<<"$out"
unhard=""
for n in "${!WANT[@]}"; do
  for id in $(ctr "$n"); do
    f=$(d inspect -f '{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}} {{.HostConfig.PidsLimit}}' "$id")
    [[ $f == "true [ALL] "[1-9]* ]] || unhard="$unhard $n($f)"
  done
done
check "every task: read-only root, cap_drop ALL, a pids limit${unhard:+ (not:$unhard)}" test -z "$unhard"

# Nothing without a login answers beyond the host's loopback: traefik's
# dashboard (8080; traefik is not deployed here, its ports are checked
# statically above) and Prometheus (9090) are not published; Prometheus
# answers through docker exec (README.md, Security).
other=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n 1)
check "the host has an address on docker0 ($other)" test -n "$other"
for port in 8080 9090; do
  for a in "$other" 127.0.0.1; do
    code=$(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$a:$port/" 2>/dev/null)
    check "nothing answers on $a:$port ($code)" test -n "$a" -a "$code" = 000
  done
done
prom=$(ctr prometheus | head -n 1)
check "Prometheus answers through docker exec on its task (README.md, Security)" \
  bash -c "[ -n '$prom' ] && $DOCKER exec '$prom' wget -q -O- http://127.0.0.1:9090/-/ready | grep -qi ready"

# ---------------------------------------------------------------- scale
voting scale --threads 4 --interval 0.1
sleep 3
t=$(date +%s)
d service scale --detach=false "${S}_worker=3" >"$WORK/scale.log" 2>&1
check "docker service scale worker=3: 3 running" test "$(ctr worker | wc -l)" = 3
sleep 3
d service scale --detach=false "${S}_worker=2" >>"$WORK/scale.log" 2>&1
check "docker service scale worker=2: 2 running" test "$(ctr worker | wc -l)" = 2
sleep 2
stop_voting scale
info "scale: $sum"
check "scale: every answer 200 or 503 with Retry-After" test "$(echo "$sum" | jget bad)" = 0
check "scale: all $(acks scale) acknowledged votes in Postgres" acked_in_pg "$WORK/scale.txt" scale 90

# ---------------------------------------------------------------- NATS leader
read -r leader reps current <<<"$(stream_info VOTES)"
voting kill --threads 4 --interval 0.05
sleep 5
lc=$(ctr "$leader" | head -n 1)
killed=0
if [ -n "$lc" ] && d kill "$lc" >/dev/null; then killed=1; ok "killed the NATS container leading VOTES ($leader)"
else bad "kill the VOTES leader ($leader, container '$lc')"; fi
# voting goes on: wait for the swarm to restart the node, then some more
end=$(( $(date +%s) + 60 ))
while [ "$killed" = 1 ] && [ -z "$(ctr "$leader")" ] && [ "$(date +%s)" -lt "$end" ]; do sleep 1; done
sleep 10
stop_voting kill
info "leader kill: $sum"
if [ "$killed" = 1 ]; then
  read -r nleader _ _ <<<"$(stream_info VOTES)"
  info "new VOTES leader: $nleader"
  check "leader kill: every answer 200 or 503 with Retry-After" test "$(echo "$sum" | jget bad)" = 0
  # the longest pause between two acks of the run (the kill is in it)
  pause=$("$PY" - "$WORK/kill.txt" <<'EOF'
import sys
acks = [float(l.split()[1]) for l in open(sys.argv[1]) if l.split()[4] == "200"]
print("%.2f" % max((q - p for p, q in zip(acks, acks[1:])), default=999))
EOF
)
  check "leader kill: voting goes on, longest pause in acknowledged votes ${pause} s < $PAUSE_LIMIT s" \
    "$PY" -c "import sys; sys.exit(0 if float('$pause') < $PAUSE_LIMIT else 1)"
  check "leader kill: $(acks kill) votes acknowledged" test "$(acks kill)" -gt 100
  check "leader kill: all acknowledged votes in Postgres" acked_in_pg "$WORK/kill.txt" kill 90
  wait_current() { # SECONDS: VOTES has its 2 followers current
    local end=$(( $(date +%s) + $1 )) l r c
    while :; do
      read -r l r c <<<"$(stream_info VOTES)"
      [ "$c" = 2 ] && return 0
      [ "$(date +%s)" -ge "$end" ] && return 1
      sleep 1
    done
  }
  check "the killed node is back: VOTES has 3 current replicas again" wait_current 60
fi

# ---------------------------------------------------------------- redis
# voters lives on the volume redis-data: a redis update keeps it
voter_of() { # VOTER: the vote GET /api/vote answers for VOTER ("" if none)
  inns curl -s -m 5 "${VOTE_UIS%%,*}/api/vote?voter_id=$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("vote") or "")' 2>/dev/null
}
wait_voter() { # VOTER OPTION SECONDS
  local end=$(( $(date +%s) + $3 ))
  while [ "$(voter_of "$1")" != "$2" ]; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 1; done
}
check "a vote of swarm-redis (b) answered 200" test "$(vote_ui swarm-redis b)" = 200
check "GET /api/vote answers b for swarm-redis (from Redis)" wait_voter swarm-redis b 30
old_redis=$(ctr redis)
t=$(date +%s)
timeout 180 $DOCKER service update --force --detach=false "${S}_redis" >"$WORK/redis-update.log" 2>&1
new_redis=$(ctr redis)
check "docker service update --force redis: a new task ($(( $(date +%s) - t )) s)" \
  test -n "$new_redis" -a "$new_redis" != "$old_redis"
check "after the redis update, GET /api/vote still answers b for swarm-redis (voters on redis-data)" \
  wait_voter swarm-redis b 60

# ---------------------------------------------------------------- rolling update
old=$(ctr vote | sort | paste -sd,)
voting update --threads 4 --interval 0.1
sleep 3
t=$(date +%s)
if timeout 300 $DOCKER service update --force --detach=false "${S}_vote" >"$WORK/update.log" 2>&1; then
  ok "docker service update --force vote ($(( $(date +%s) - t )) s)"
else
  bad "docker service update --force vote: $(tail -n 3 "$WORK/update.log" | tr '\n' ' ')"
fi
sleep 3
stop_voting update
info "rolling update: $sum"
new=$(ctr vote | sort | paste -sd,)
check "rolling update: both vote tasks replaced" bash -c "[ -n '$new' ] && ! echo '$new' | tr , '\n' | grep -qxF -f <(echo '$old' | tr , '\n')"
check "rolling update: no answer but 200 or 503 with Retry-After" test "$(echo "$sum" | jget bad)" = 0
check "rolling update: all $(acks update) acknowledged votes in Postgres" acked_in_pg "$WORK/update.txt" update 90
# ---------------------------------------------------------------- NATS rollout
# A change of the NATS nodes' settings through compose/nats-rollout.sh
# under steady voting: max_payload 2MB in nats/server.conf, a swarm config,
# which cannot change: under a new name (nats_server_v2), as an operator
# would. One node at a time, each current before the next: the quorum holds.
longest_pause() { # FILE: the longest time between two acknowledged votes
  "$PY" - "$1" <<'EOF'
import sys
acks = [float(l.split()[1]) for l in open(sys.argv[1]) if l.split()[4] == "200"]
print("%.2f" % max((q - p for p, q in zip(acks, acks[1:])), default=999))
EOF
}
max_payload() { # NODE: max_payload in its /varz
  local c; c=$(ctr "$1" | head -n 1)
  [ -n "$c" ] && d exec "$c" timeout 5 wget -q -O- http://127.0.0.1:8222/varz | sed -n 's/.*"max_payload": *\([0-9]*\).*/\1/p'
}
cp -r "$ROOT/compose" "$WORK/compose-nats"
echo "max_payload: 2MB" >>"$WORK/compose-nats/nats/server.conf"
sed -i -e 's|source: nats_server$|source: nats_server_v2|' -e 's|^  nats_server:$|  nats_server_v2:|' \
  "$WORK/compose-nats/stack.yaml"
check "the changed stack file gives nats-1..3 nats/server.conf with max_payload 2MB as config nats_server_v2 (now $(max_payload nats-1))" \
  test "$(grep -c 'nats_server_v2' "$WORK/compose-nats/stack.yaml")" = 2
voting rollout --threads 4 --interval 0.05
sleep 5
t=$(date +%s)
if DOCKER=$DOCKER timeout 900 "$ROOT/compose/nats-rollout.sh" "$WORK/compose-nats/stack.yaml" "$S" \
    --resolve-image never >"$WORK/rollout.log" 2>&1; then
  rollout_s=$(( $(date +%s) - t ))
  ok "compose/nats-rollout.sh: nats-1, nats-2, nats-3 updated one at a time ($rollout_s s)"
else
  bad "compose/nats-rollout.sh (exit $?)"
fi
sed 's/^/#   /' "$WORK/rollout.log"
sleep 5
stop_voting rollout
info "NATS rollout: $sum"
rpause=$(longest_pause "$WORK/rollout.txt")
check "NATS rollout: every answer 200 or 503 with Retry-After" test "$(echo "$sum" | jget bad)" = 0
check "NATS rollout: voting goes on, longest pause in acknowledged votes ${rpause} s < $PAUSE_LIMIT s" \
  "$PY" -c "import sys; sys.exit(0 if float('$rpause') < $PAUSE_LIMIT else 1)"
check "NATS rollout: $(acks rollout) votes acknowledged" test "$(acks rollout)" -gt 100
check "NATS rollout: all acknowledged votes in Postgres" acked_in_pg "$WORK/rollout.txt" rollout 90
mp=$(for n in nats-1 nats-2 nats-3; do max_payload "$n"; done | paste -sd' ')
check "NATS rollout: every node runs the new setting (max_payload: $mp)" test "$mp" = "2097152 2097152 2097152"
read -r _ reps current <<<"$(stream_info VOTES)"
check "NATS rollout: VOTES has 3 replicas, 2 followers current ($reps, $current)" test "$reps" = 3 -a "$current" = 2
# the same stack deploy afterwards leaves the NATS nodes alone
ids=$(for n in nats-1 nats-2 nats-3; do ctr "$n"; done | sort | paste -sd,)
(cd "$WORK/compose-nats" && d stack deploy --resolve-image never -c stack.yaml "$S" >"$WORK/redeploy.log" 2>&1)
sleep 10
check "docker stack deploy of the changed file afterwards restarts no NATS node" \
  test "$(for n in nats-1 nats-2 nats-3; do ctr "$n"; done | sort | paste -sd,)" = "$ids"

check "after all: converged again" wait_converged 120
check "Postgres: tallies equal the votes table" test \
  "$(psql_q "SELECT count(*) FROM (SELECT vote, count(*) c FROM votes GROUP BY vote) v FULL JOIN tallies t USING (vote) WHERE t.count IS DISTINCT FROM v.c AND NOT (v.c IS NULL AND t.count = 0)")" = 0

[ -n "${converge_s:-}" ] && info "converge: $converge_s s from stack deploy to 16 healthy tasks"
[ -n "${pause:-}" ] && info "longest pause in acknowledged votes when the VOTES leader ($leader) died: $pause s"
[ -n "${rpause:-}" ] && info "longest pause in acknowledged votes during the NATS rollout (${rollout_s:-?} s): $rpause s"
summary
[ "$failed" = 0 ]
