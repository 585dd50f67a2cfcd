#!/usr/bin/env bash
# tests/compose/run.sh - end-to-end test of the Docker Compose topology.
#
# Starts dockerd if none answers (dockerd-up.sh), builds the offline images
# (compose/offline/build.sh: skips what exists), then with compose/compose.yaml
# under the project name "votingtest":
#   - static checks through `config`: traefik's flags, socket, labels; ports,
#     networks, depends_on, healthchecks, secrets, ulimits, the debug profile;
#     compose.dev.yaml valid; the three Dockerfiles share one build stage
#   - builds and starts every service but traefik, waits until all are healthy
#     (prints the time from `up` to healthy)
#   - votes through vote-ui (:5000), sees them on result-ui (:5001) over HTTP
#     and WebSocket; nats-box (debug profile) shows the traffic
#   - --scale worker=2 --scale vote=2: votes through both vote replicas, no
#     vote lost (counted in Postgres), tallies consistent
#   - down + up keeps the votes; down -v removes the volumes (a fresh up has
#     no votes)
#   - image sizes (each C service image <= 20 MB)
# Prints "N passed, M failed" last; exits non-zero on a failure.
# Env: COMPOSE (default: "docker compose" if present, else docker-compose),
#      KEEP=1 (leave the stack running at the end), E2E_TAG (image tag, e2e),
#      HEALTH_TIMEOUT (s, 240), VOTES (votes in the scale test, 200),
#      E2E_VOTE_UI_PORT, E2E_RESULT_UI_PORT (host ports, 5000 and 5001).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/tests/compose
T0=$(date +%s)

P=votingtest
export TAG=${E2E_TAG:-e2e}          # our images: votingapp/NAME:e2e
# Host ports of vote-ui and result-ui: compose's 5000 and 5001 unless told
# (on a shared machine other tools may send to 5000).
export VOTE_UI_PORT=${E2E_VOTE_UI_PORT:-5000} RESULT_UI_PORT=${E2E_RESULT_UI_PORT:-5001}
unset COMPOSE_FILE COMPOSE_PROFILES
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-240}
# Debian's python3 has PyYAML whenever docker-compose (v1) is installed.
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
VOTES=${VOTES:-200}
SERVICES=(redis db nats vote worker result vote-ui result-ui)   # all but traefik
VOTE_URL=http://127.0.0.1:$VOTE_UI_PORT
RESULT_URL=http://127.0.0.1:$RESULT_UI_PORT

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

# ---------------------------------------------------------------- docker
if ! "$HERE/dockerd-up.sh"; then bad "dockerd is up"; summary; exit 1; fi
if [ -z "${COMPOSE:-}" ]; then
  if docker compose version >/dev/null 2>&1; then COMPOSE="docker compose"
  elif command -v docker-compose >/dev/null; then COMPOSE=docker-compose
  else bad "docker compose or docker-compose installed"; summary; exit 1; fi
fi
info "compose: $COMPOSE ($($COMPOSE version --short 2>/dev/null || $COMPOSE version | head -n 1))"
cd "$ROOT/compose" || exit 1
dc() { $COMPOSE -p "$P" "$@"; }

cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    info "KEEP=1: the stack stays up (cd compose && $COMPOSE -p $P down -v)"
  else
    dc --profile debug down -v --remove-orphans >/dev/null 2>&1
  fi
}
trap cleanup EXIT

# The debian base first; the stand-ins build in the background while the C
# services build (they need only the base), see "images build" below.
t=$(date +%s)
if "$ROOT/compose/offline/build.sh" --base; then ok "offline base images ($(( $(date +%s) - t )) s)"
else bad "offline base images (compose/offline/build.sh --base)"; summary; exit 1; fi
offline_log=/tmp/votingtest-offline.log
"$ROOT/compose/offline/build.sh" >"$offline_log" 2>&1 &
offline_pid=$!

# ---------------------------------------------------------------- static
"$PY" - "$ROOT" <<'EOF' && ok "the three Dockerfiles share one identical build stage" || bad "the three Dockerfiles share one identical build stage"
import sys
root = sys.argv[1]
def stage(svc):
    s = open(f"{root}/{svc}/Dockerfile").read()
    a = s.index("# ---- build (shared")
    b = s.index("# ---- end of the shared build stage ----")
    return s[a:b]
v = stage("vote")
sys.exit(0 if v == stage("worker") == stage("result") else 1)
EOF

cfg=$(mktemp); devcfg=$(mktemp)
# (with the compose defaults for the host ports)
if VOTE_UI_PORT= RESULT_UI_PORT= dc --profile debug config >"$cfg" 2>"$cfg.err"; then ok "compose.yaml is valid"; else bad "compose.yaml is valid: $(cat "$cfg.err")"; fi
if VOTE_UI_PORT= RESULT_UI_PORT= dc -f compose.dev.yaml --profile debug config >"$devcfg" 2>"$cfg.err"; then ok "compose.dev.yaml is valid"; else bad "compose.dev.yaml is valid: $(cat "$cfg.err")"; fi

# Checks on the resolved configurations, one line each: "ok NAME" / "FAIL NAME".
"$PY" - "$cfg" "$devcfg" <<'EOF' >"$cfg.checks" 2>&1
import sys, yaml
prod = yaml.safe_load(open(sys.argv[1]))
dev = yaml.safe_load(open(sys.argv[2]))

def out(ok, name):
    print(("ok " if ok else "FAIL ") + name)

def nets(s):
    n = s.get("networks") or {}
    return sorted(n if isinstance(n, (list, dict)) else [])

def labels(s):
    l = s.get("labels") or {}
    if isinstance(l, list):
        l = dict(x.split("=", 1) for x in l)
    return l

def ports(s):
    r = []
    for p in s.get("ports") or []:
        if isinstance(p, dict):
            r.append((str(p.get("published")), str(p.get("target"))))
        else:
            h, c = str(p).rsplit(":", 1)
            r.append((h.split(":")[-1], c))
    return sorted(r)

def deps(s):
    d = s.get("depends_on") or {}
    if isinstance(d, list):
        return {k: "service_started" for k in d}
    return {k: (v or {}).get("condition", "service_started") for k, v in d.items()}

def test_of(s):
    t = (s.get("healthcheck") or {}).get("test")
    return t if isinstance(t, list) else ["CMD-SHELL", t] if t else None

for name, c in (("compose.yaml", prod), ("compose.dev.yaml", dev)):
    s = c["services"]
    t = s.get("traefik", {})
    out(t.get("image") == "traefik:v2.9.6", f"{name}: traefik image traefik:v2.9.6")
    out(t.get("command") == ["--api.insecure=true", "--providers.docker=true",
                             "--providers.docker.exposedbydefault=false",
                             "--entrypoints.web.address=:80"],
        f"{name}: traefik has exactly the seed's command flags")
    vols = [v if isinstance(v, str) else "%s:%s:%s" % (v.get("source"), v.get("target"), "ro" if v.get("read_only") else "rw")
            for v in t.get("volumes", [])]
    out(any(v.startswith("/var/run/docker.sock:/var/run/docker.sock") and v.endswith(":ro") for v in vols),
        f"{name}: traefik mounts the docker socket read-only")
    out(ports(t) == [("80", "80"), ("8080", "8080")], f"{name}: traefik ports 80 and 8080")
    for svc, router, host, port in (("vote-ui", "voteui", "vote.traefik.me", "5000"),
                                    ("result-ui", "resultui", "result.traefik.me", "5001")):
        l = labels(s[svc])
        out(l.get("traefik.enable") == "true"
            and l.get(f"traefik.http.routers.{router}.rule") == f"Host(`{host}`)"
            and l.get(f"traefik.http.routers.{router}.entrypoints") == "web"
            and l.get(f"traefik.http.services.{router}.loadbalancer.server.port") == "80",
            f"{name}: {svc} traefik labels (Host {host}, entrypoint web, port 80)")
        out(ports(s[svc]) == [(port, "80")], f"{name}: {svc} on host port {port}")
        out(s[svc].get("restart") == "unless-stopped", f"{name}: {svc} restart unless-stopped")
    want_nets = {"traefik": ["front-tier"], "vote-ui": ["front-tier"], "result-ui": ["front-tier"],
                 "vote": ["back-tier", "front-tier"], "result": ["back-tier", "front-tier"],
                 "worker": ["back-tier"], "redis": ["back-tier"], "db": ["back-tier"],
                 "nats": ["back-tier"], "nats-box": ["back-tier"]}
    out(all(nets(s[k]) == v for k, v in want_nets.items()), f"{name}: networks as DESIGN.md's topology")
    out(deps(s["vote"]) == {"redis": "service_healthy", "nats": "service_healthy"}
        and deps(s["worker"]) == {"db": "service_healthy", "nats": "service_healthy"}
        and deps(s["result"]) == {"db": "service_healthy"}
        and deps(s["vote-ui"]) == {"vote": "service_started"}
        and deps(s["result-ui"]) == {"result": "service_started"},
        f"{name}: depends_on conditions")
    out(all(test_of(x) for x in s.values()), f"{name}: every service has a healthcheck")
    out(test_of(s["redis"]) == ["CMD", "redis-cli", "ping"] and s["redis"]["healthcheck"].get("interval") == "5s",
        f"{name}: redis healthcheck redis-cli ping every 5s")
    out(test_of(s["db"])[:3] == ["CMD", "pg_isready", "-U"], f"{name}: db healthcheck pg_isready -U user")
    out(any(str(v).startswith("db-data:/var/lib/postgresql/data") or (isinstance(v, dict) and v.get("source") == "db-data")
            for v in s["db"].get("volumes", [])), f"{name}: db data on the db-data volume")
    out(any(str(v).startswith("nats-data:/data") or (isinstance(v, dict) and v.get("source") == "nats-data")
            for v in s["nats"].get("volumes", [])) and "--jetstream" in s["nats"].get("command", []),
        f"{name}: nats with JetStream on the nats-data volume")
    u = (s["result"].get("ulimits") or {}).get("nofile") or {}
    out((u.get("soft") if isinstance(u, dict) else u) and int(u.get("soft") if isinstance(u, dict) else u) >= 65536,
        f"{name}: result ulimits nofile >= 65536")
    out(s["nats-box"].get("profiles") == ["debug"], f"{name}: nats-box in the debug profile")
    for svc in ("vote", "worker", "result"):
        b = s[svc].get("build") or {}
        want = "production" if name == "compose.yaml" else "dev"
        out(b.get("target") == want and str(b.get("dockerfile", "")).endswith(f"{svc}/Dockerfile"),
            f"{name}: {svc} builds {svc}/Dockerfile target {want}")

s = prod["services"]
out(all("postgres_password" in [x if isinstance(x, str) else x.get("source") for x in s[k].get("secrets", [])]
        and s[k]["environment"].get("POSTGRES_PASSWORD_FILE") == "/run/secrets/postgres_password"
        and "POSTGRES_PASSWORD" not in s[k]["environment"]
        for k in ("db", "worker", "result")),
    "compose.yaml: the Postgres password is a secret file (POSTGRES_PASSWORD_FILE) for db, worker, result")
out(all(s[k].get("image", "").startswith(p) for k, p in (("redis", "redis:7.0.5-alpine3.16"),
        ("db", "postgres:15.0-alpine3.16"), ("nats", "nats:2.9"))), "compose.yaml: third-party images default to the seed's")
EOF
while read -r st name; do
  if [ "$st" = ok ]; then ok "$name"; else bad "${name:-config checks: $st}"; fi
done <"$cfg.checks"
rm -f "$cfg" "$devcfg" "$cfg.err" "$cfg.checks"

# ---------------------------------------------------------------- helpers
# containers of the project that should be healthy (running, not one-offs)
containers() { dc ps -q "$@" 2>/dev/null; }

# wait_healthy SECONDS: every container of SERVICES healthy
wait_healthy() {
  local limit=$1 end=$(( $(date +%s) + $1 )) ids st all
  while :; do
    ids=$(containers "${SERVICES[@]}")
    all=1
    for id in $ids; do
      st=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id" 2>/dev/null)
      [ "$st" = healthy ] || all=0
    done
    [ -n "$ids" ] && [ "$all" = 1 ] && return 0
    if [ "$(date +%s)" -ge "$end" ]; then
      info "not healthy after $limit s:"
      dc ps
      for s in "${SERVICES[@]}"; do info "logs of $s:"; dc logs --tail 15 "$s" 2>&1 | sed 's/^/#   /'; done
      return 1
    fi
    sleep 1
  done
}

# vote VOTER OPTION [BASE_URL]: POST /api/vote, prints the HTTP status
vote() {
  curl -s -o /dev/null -w '%{http_code}' -m 10 -H 'Content-Type: application/json' \
    -d "{\"vote\":\"$2\",\"voter_id\":\"$1\"}" "${3:-$VOTE_URL}/api/vote"
}

results() { curl -s -m 5 "$RESULT_URL/api/results"; }

# count OPTION: votes for OPTION in /api/results (total for "total")
count() {
  results | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
o = sys.argv[1]
print(d["total"] if o == "total" else next((x["votes"] for x in d["options"] if x["id"] == o), -1))' "$1" 2>/dev/null
}

# wait_results TOTAL A B SECONDS: /api/results shows exactly these counts
wait_results() {
  local end=$(( $(date +%s) + $4 ))
  while :; do
    [ "$(count total)" = "$1" ] && [ "$(count a)" = "$2" ] && [ "$(count b)" = "$3" ] && return 0
    [ "$(date +%s)" -ge "$end" ] && { info "results: $(results)"; return 1; }
    sleep 0.5
  done
}

psql_q() { dc exec -T db psql -U "${POSTGRES_USER:-postgres}" -d "${POSTGRES_DB:-postgres}" -tAc "$1" 2>/dev/null | tr -d '[:space:]'; }

# ---------------------------------------------------------------- up
# result asks for nofile 65536; a daemon started from a shell with a lower hard
# limit (and no right to raise it) can't grant it: ask for what it has.
lim=$(docker run --rm --entrypoint sh "${DEBIAN_IMAGE:-debian:bookworm}" -c 'ulimit -Hn' 2>/dev/null)
if [ -n "$lim" ] && [ "$lim" != unlimited ] && [ "$lim" -lt 65536 ]; then
  export RESULT_NOFILE=$lim
  info "the daemon's nofile limit is $lim: result runs with RESULT_NOFILE=$lim (compose default 65536)"
fi
dc --profile debug down -v --remove-orphans >/dev/null 2>&1
for port in "$VOTE_UI_PORT" "$RESULT_UI_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    bad "host port $port is free (something listens there; E2E_VOTE_UI_PORT/E2E_RESULT_UI_PORT choose others)"
    summary; exit 1
  fi
done
t=$(date +%s)
if dc build vote worker result >/tmp/votingtest-build.log 2>&1; then
  ok "vote, worker, result images build ($(( $(date +%s) - t )) s)"
else
  bad "vote, worker, result images build (log: /tmp/votingtest-build.log)"
  tail -n 40 /tmp/votingtest-build.log; wait "$offline_pid"; summary; exit 1
fi
if wait "$offline_pid"; then
  ok "offline stand-in images ($(( $(date +%s) - t )) s since the C build started)"
  sed 's/^/#   /' "$offline_log"
else
  bad "offline stand-in images (compose/offline/build.sh)"; tail -n 30 "$offline_log"; summary; exit 1
fi
t=$(date +%s)
if dc build vote-ui result-ui >>/tmp/votingtest-build.log 2>&1; then
  ok "vote-ui, result-ui images build ($(( $(date +%s) - t )) s)"
else
  bad "vote-ui, result-ui images build (log: /tmp/votingtest-build.log)"
  tail -n 40 /tmp/votingtest-build.log; summary; exit 1
fi

t=$(date +%s)
if dc up -d --build "${SERVICES[@]}" >/tmp/votingtest-up.log 2>&1; then ok "up -d --build (all but traefik)"
else bad "up -d --build"; tail -n 30 /tmp/votingtest-up.log; summary; exit 1; fi
if wait_healthy "$HEALTH_TIMEOUT"; then
  up_s=$(( $(date +%s) - t ))
  ok "all ${#SERVICES[@]} services healthy $up_s s after up"
else
  bad "all services healthy within $HEALTH_TIMEOUT s"; summary; exit 1
fi
check "traefik not started" test -z "$(containers traefik)"

# ---------------------------------------------------------------- votes
check "vote-ui serves the page" bash -c "curl -sf -m 5 $VOTE_URL/ | grep -qi '<html'"
check "result-ui serves the page" bash -c "curl -sf -m 5 $RESULT_URL/ | grep -qi '<html'"
check "GET /api/options through vote-ui" bash -c "curl -sf -m 5 $VOTE_URL/api/options | grep -q '\"Cats\"'"

# nats-box (debug profile) prints the next vote's message
sub_log=$(mktemp)
timeout 60 $COMPOSE -p "$P" --profile debug run --rm -T nats-box nats sub 'votes.*' --count 1 >"$sub_log" 2>&1 &
sub_pid=$!
for _ in $(seq 1 40); do grep -q Subscribing "$sub_log" && break; sleep 0.5; done

codes=""
codes+=$(vote e2e-1 a)" "; codes+=$(vote e2e-2 a)" "; codes+=$(vote e2e-3 b)" "
codes+=$(vote e2e-4 a)" "; codes+=$(vote e2e-5 b)" "; codes+=$(vote e2e-1 b)" "   # e2e-1 changes to b
check "6 votes through vote-ui answered 200 ($codes)" test "$codes" = "200 200 200 200 200 200 "
# 5 voters: a = e2e-2 e2e-4, b = e2e-1 e2e-3 e2e-5
check "result-ui /api/results shows 5 votes (a 2, b 3; the last vote of a voter wins)" wait_results 5 2 3 30

ws_out=$(mktemp)
"$PY" "$HERE/wsclient.py" "ws://127.0.0.1:$RESULT_UI_PORT/api/results/ws" --until-total 6 --timeout 30 >"$ws_out" 2>&1 &
ws_pid=$!
sleep 1
check "vote e2e-6 through vote-ui" test "$(vote e2e-6 a)" = 200
if wait "$ws_pid"; then
  ok "WebSocket through result-ui: snapshot on connect, then the new vote pushed ($(wc -l <"$ws_out") frames)"
else
  bad "WebSocket through result-ui: $(tail -n 3 "$ws_out" | tr '\n' ' ')"
fi
check "WebSocket first frame is a snapshot with total 5" bash -c "head -n 1 '$ws_out' | grep -q '\"total\": *5'"
rm -f "$ws_out"

if wait "$sub_pid" && grep -q 'Received on "votes\.' "$sub_log"; then
  ok "nats-box: --profile debug run nats-box nats sub 'votes.*' shows a vote"
else
  bad "nats-box: nats sub 'votes.*': $(tail -n 5 "$sub_log" | tr '\n' ' ')"
fi
rm -f "$sub_log"

# ---------------------------------------------------------------- scale
if dc up -d --no-recreate --scale worker=2 --scale vote=2 "${SERVICES[@]}" >/tmp/votingtest-scale.log 2>&1; then
  ok "up --scale worker=2 --scale vote=2"
else
  bad "up --scale worker=2 --scale vote=2"; tail -n 20 /tmp/votingtest-scale.log
fi
check "2 worker containers" test "$(containers worker | wc -l)" = 2
check "2 vote containers" test "$(containers vote | wc -l)" = 2
check "all healthy after scaling" wait_healthy 120

# Votes go to both vote replicas directly (their front-tier addresses) and
# through vote-ui; each voter votes once. None may be lost.
urls=("$VOTE_URL")
for id in $(containers vote); do
  ip=$(docker inspect -f "{{range \$k, \$v := .NetworkSettings.Networks}}{{if eq \$k \"${P}_front-tier\"}}{{\$v.IPAddress}}{{end}}{{end}}" "$id")
  [ -n "$ip" ] && urls+=("http://$ip:5000")
done
check "both vote replicas reachable (${#urls[@]} endpoints)" test "${#urls[@]}" = 3
export -f vote
t=$(date +%s)
scale_codes=$(for i in $(seq 1 "$VOTES"); do
    opt=a; [ $((i % 3)) = 0 ] && opt=b
    echo "scale-$i $opt ${urls[$((i % ${#urls[@]}))]}"
  done | xargs -P 8 -n 3 bash -c 'printf "%s\n" "$(vote "$0" "$1" "$2")"' | sort | uniq -c | tr -s ' ' | tr '\n' ',')
check "$VOTES votes through 2 vote replicas all 200 ($scale_codes $(( $(date +%s) - t )) s)" test "$scale_codes" = " $VOTES 200,"
nb=$(( VOTES / 3 )); na=$(( VOTES - nb ))
total=$(( 6 + VOTES )); ta=$(( 3 + na )); tb=$(( 3 + nb ))
check "results show all $total votes (a $ta, b $tb) with 2 workers" wait_results "$total" "$ta" "$tb" 60
check "Postgres: $total rows in votes" test "$(psql_q 'SELECT count(*) FROM votes')" = "$total"
check "Postgres: one row per voter" test "$(psql_q 'SELECT count(DISTINCT id) FROM votes')" = "$total"
check "Postgres: tallies equal the votes table" test \
  "$(psql_q "SELECT count(*) FROM (SELECT vote, count(*) c FROM votes GROUP BY vote) v FULL JOIN tallies t USING (vote) WHERE t.count IS DISTINCT FROM v.c AND NOT (v.c IS NULL AND t.count = 0)")" = 0

# ---------------------------------------------------------------- down / up
if dc down >/tmp/votingtest-down.log 2>&1; then ok "down (volumes kept)"; else bad "down"; fi
t=$(date +%s)
dc up -d "${SERVICES[@]}" >/tmp/votingtest-up2.log 2>&1
if wait_healthy "$HEALTH_TIMEOUT"; then ok "up again: all healthy $(( $(date +%s) - t )) s after up"; else bad "up again: healthy"; fi
check "after down + up: results still show $total votes" wait_results "$total" "$ta" "$tb" 60
check "after down + up: Postgres still has $total votes" test "$(psql_q 'SELECT count(*) FROM votes')" = "$total"

# ---------------------------------------------------------------- down -v
dc down -v >/tmp/votingtest-down.log 2>&1
check "down -v removes the volumes" test -z "$(docker volume ls -q | grep -E "^${P}_(db-data|nats-data)$")"
dc up -d "${SERVICES[@]}" >/tmp/votingtest-up3.log 2>&1
if wait_healthy "$HEALTH_TIMEOUT"; then
  check "after down -v + up: no votes" wait_results 0 0 0 30
else
  bad "after down -v + up: healthy"
fi

# ---------------------------------------------------------------- sizes
info "images:"
docker images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^votingapp/.*:$TAG |^(redis|postgres|nats|nginx|natsio/nats-box|debian):" | sed 's/^/#   /'
for s in vote worker result; do
  img=votingapp/$s:$TAG
  b=$(docker image inspect -f '{{.Size}}' "$img" 2>/dev/null || echo 0)
  check "$img image $(( b / 1000 )) kB <= 20 MB" test "$b" -gt 0 -a "$b" -le 20000000
  u=$(docker image inspect -f '{{.Config.User}}' "$img" 2>/dev/null)
  check "$img runs as a non-root user ($u)" test -n "$u" -a "${u%%:*}" != 0 -a "${u%%:*}" != root
  check "$img has a HEALTHCHECK with --healthcheck" bash -c \
    "docker image inspect -f '{{json .Config.Healthcheck.Test}}' '$img' | grep -q -- '--healthcheck'"
  check "$img is FROM scratch (no shell in it)" bash -c "! docker run --rm --entrypoint /bin/sh '$img' -c true >/dev/null 2>&1"
done
[ -n "${up_s:-}" ] && info "up to healthy: $up_s s"

summary
[ "$failed" = 0 ]
