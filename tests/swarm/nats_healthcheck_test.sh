#!/usr/bin/env bash
# tests/swarm/nats_healthcheck_test.sh - compose/nats/healthcheck.sh (the
# NATS nodes' healthcheck in stack.yaml) against three nats-server
# processes of this machine on free loopback ports, as a cluster with a
# 3-replica stream:
#   - a node alone (no route to any other, no meta leader) is healthy: three
#     nodes that start together must become resolvable in swarm's DNS;
#   - node 3 stopped, N messages published, node 3 started again: from the
#     moment it has a route, the healthcheck never passes while node 3
#     holds fewer than N messages, fails at least once, and passes once it
#     holds all N (what /healthz?js-enabled-only=true, the check before,
#     answered meanwhile is printed);
# Prints "ok ..." / "FAIL ..." lines (tests/swarm/run.sh counts them);
# exits non-zero on a failure. Stops what it started. Env: MSGS (60000).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HC=$ROOT/compose/nats/healthcheck.sh
MSGS=${MSGS:-60000}
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
NATS=$(command -v nats-server || echo /usr/sbin/nats-server)
D=$(mktemp -d /tmp/nats-hc.XXXXXX)
pids=()
failed=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { failed=1; printf 'FAIL %s\n' "$*"; }
cleanup() {
  local p
  for p in "${pids[@]}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$D"
}
trap cleanup EXIT

read -r -a P <<<"$("$PY" -c '
import random, socket
ports = set()
while len(ports) < 9:
    p = random.randrange(20000, 32000)
    try:
        socket.socket().bind(("127.0.0.1", p)); ports.add(p)
    except OSError:
        pass
print(" ".join(map(str, ports)))')"
client() { echo "${P[$(( $1 - 1 ))]}"; }
route() { echo "${P[$(( $1 + 2 ))]}"; }
mon() { echo "${P[$(( $1 + 5 ))]}"; }
routes="nats://127.0.0.1:$(route 1),nats://127.0.0.1:$(route 2),nats://127.0.0.1:$(route 3)"

start() { # I
  "$NATS" -a 127.0.0.1 -p "$(client "$1")" -m "$(mon "$1")" --name "n$1" -js -sd "$D/n$1" \
    --cluster_name hc --cluster "nats://127.0.0.1:$(route "$1")" --routes "$routes" \
    >>"$D/log$1" 2>&1 &
  pids[$1]=$!
}
hc() { NATS_MONITOR_PORT=$(mon "$1") sh "$HC" >/dev/null 2>&1; }
code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$(mon "$1")$2"; }
wait_for() { # SECONDS COMMAND...
  local end=$(( $(date +%s) + $1 )); shift
  until "$@"; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.2; done
}
msgs() { # I: the messages node I stores
  curl -s -m 2 "http://127.0.0.1:$(mon "$1")/jsz" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("messages", 0))' 2>/dev/null || echo 0
}
nroutes() {
  curl -s -m 2 "http://127.0.0.1:$(mon "$1")/routez" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("num_routes", 0))' 2>/dev/null || echo 0
}
js() { # PORT create|pub N: a JetStream request / N acknowledged publishes
  "$PY" - "$@" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = s.makefile("rb")
f.readline()
s.sendall(b'CONNECT {"verbose":false}\r\nSUB _R.* 1\r\n')
def replies(k):
    out = []
    while len(out) < k:
        l = f.readline()
        if l.startswith(b"MSG"):
            out.append(f.read(int(l.split()[-1]) + 2))
        elif l.startswith(b"PING"):
            s.sendall(b"PONG\r\n")
        elif l.startswith(b"-ERR") or not l:
            sys.exit("error: %r" % l)
    return out
if sys.argv[2] == "create":
    b = b'{"name":"HC","subjects":["hc.>"],"num_replicas":3,"storage":"file"}'
    s.sendall(b"PUB $JS.API.STREAM.CREATE.HC _R.c %d\r\n%s\r\n" % (len(b), b))
    r = replies(1)[0]
    sys.exit(0 if b'"error"' not in r else r.decode())
n, body, acked = int(sys.argv[3]), b"x" * 1000, 0
for w in range(0, n, 500):
    k = min(500, n - w)
    s.sendall(b"".join(b"PUB hc.x _R.p 1000\r\n" + body + b"\r\n" for _ in range(k)))
    acked += sum(1 for r in replies(k) if b'"seq"' in r)
print(acked)
EOF
}

# a node alone: /healthz 503 (no meta leader), the healthcheck passes
start 1
wait_for 10 test "$(code 1 '/healthz?js-enabled-only=true')" = 200
sleep 1
c=$(code 1 /healthz)
if hc 1 && [ "$c" = 503 ]; then ok "a node alone (no route): healthy, while /healthz answers $c"
else bad "a node alone (no route): healthy (/healthz $c)"; fi

start 2
start 3
all_ok() { hc 1 && hc 2 && hc 3 && [ "$(code 1 /healthz)" = 200 ]; }
if wait_for 30 all_ok; then
  ok "three nodes: a cluster, every node healthy, /healthz 200"
else
  bad "three nodes form a cluster (node 1 /healthz $(code 1 /healthz))"
fi
wait_for 30 js "$(client 1)" create || bad "stream HC with 3 replicas: $(js "$(client 1)" create)"

kill "${pids[3]}"; wait "${pids[3]}" 2>/dev/null; pids[3]=
acked=$(js "$(client 1)" pub "$MSGS")
if [ "$acked" = "$MSGS" ]; then ok "node 3 stopped; $acked messages of 1000 bytes acknowledged by nodes 1 and 2"
else bad "node 3 stopped; $MSGS messages acknowledged (got ${acked:-none})"; fi

# node 3 again: poll the healthcheck, then (after it) what node 3 holds
start 3
early=0 failed_once=0 passed_behind=0 js_only_behind=0 t0=$(date +%s.%N) t_ok=
for _ in $(seq 1 600); do
  r=$(nroutes 3)
  if hc 3; then h=pass; else h=fail; fi
  j=$(code 3 '/healthz?js-enabled-only=true')
  m=$(msgs 3)
  if [ "$r" = 0 ]; then early=$((early + 1)); continue; fi
  if [ "$m" -lt "$MSGS" ]; then
    if [ "$h" = pass ]; then
      passed_behind=$((passed_behind + 1))
      printf '# node 3 healthy while behind: %s of %s messages, routes %s then %s, /healthz %s\n' \
        "$m" "$MSGS" "$r" "$(nroutes 3)" "$(code 3 /healthz)"
    fi
    [ "$h" = fail ] && failed_once=1
    [ "$j" = 200 ] && js_only_behind=$((js_only_behind + 1))
  elif [ "$h" = pass ]; then
    t_ok=$(echo "$(date +%s.%N) - $t0" | bc)
    break
  fi
  sleep 0.05
done
printf '# node 3: %d checks before its first route; /healthz?js-enabled-only=true answered 200 in %d checks while it was behind\n' \
  "$early" "$js_only_behind"
if [ "$passed_behind" = 0 ] && [ "$failed_once" = 1 ]; then
  ok "node 3 catching up: the healthcheck failed while it held fewer than $MSGS messages, never passed then"
else
  bad "node 3 catching up: never healthy while behind (passed $passed_behind times behind; failed at all: $failed_once)"
fi
if [ -n "$t_ok" ]; then ok "node 3 healthy once it holds all $MSGS messages (${t_ok} s after its start)"
else bad "node 3 healthy once current (it holds $(msgs 3) of $MSGS)"; fi
exit "$failed"
