#!/bin/bash
# entrypoint.sh as a cluster node, run for real: three nats-servers on
# loopback started by it, as in compose/stack.yaml (server.conf, auth.conf,
# NATS_CLUSTER_ROUTES, the secrets in a folder). The routes authenticate
# and the cluster forms (every node has two routes), yet the route password
# is in no process's command line (what ps, /proc/PID/cmdline and docker
# top show to anyone): it is in a file of mode 0600 in a folder of mode
# 0700 under NATS_CONF_DIR. An unwritable NATS_CONF_DIR stops the start
# (exit 2) naming the variable.
set -euo pipefail
export PATH=$PATH:/usr/sbin # Debian's nats-server
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d /tmp/entrypoint_test.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# free loopback ports below the ephemeral range, as tests/fixture picks them
ports=$(python3 - <<'EOF'
import random, socket
got = []
while len(got) < 9:
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        if p not in got:
            got.append(p)
    except OSError:
        pass
    finally:
        s.close()
print(" ".join(map(str, got)))
EOF
)
read -r -a P <<<"$ports"

mkdir -m 700 "$T/secrets" "$T/run"
for u in vote worker debug admin; do echo "$u-secret-pw" >"$T/secrets/nats_${u}_password"; done
ROUTE_PW=route-Secret-$RANDOM$RANDOM
echo "$ROUTE_PW" >"$T/secrets/nats_route_password"
routes="127.0.0.1:${P[6]},127.0.0.1:${P[7]},127.0.0.1:${P[8]}"

for i in 0 1 2; do
  NATS_SECRETS_DIR="$T/secrets" NATS_CONF_DIR="$T/run" \
    NATS_CLUSTER_ROUTES="$routes" NATS_CLUSTER_LISTEN="127.0.0.1:${P[6 + i]}" \
    sh "$HERE/entrypoint.sh" -c "$HERE/server.conf" --name "n$i" \
    -a 127.0.0.1 -p "${P[i]}" -m "${P[3 + i]}" --jetstream --store_dir "$T/d$i" \
    >"$T/n$i.log" 2>&1 &
  pids+=($!)
done

# every node up with routes to the two others
for i in 0 1 2; do
  for _ in $(seq 200); do
    n=$(curl -fsS --max-time 1 "http://127.0.0.1:${P[3 + i]}/routez" 2>/dev/null \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["num_routes"])' 2>/dev/null || true)
    [ "${n:-0}" -ge 2 ] && break
    kill -0 "${pids[i]}" 2>/dev/null || { cat "$T/n$i.log" >&2; fail "node $i exited"; }
    sleep 0.1
  done
  [ "${n:-0}" -ge 2 ] || { tail -20 "$T/n$i.log" >&2; fail "node $i has ${n:-no} routes"; }
done
echo "ok: 3 nodes, 2 authenticated routes each"

# the entrypoint became nats-server (exec), and no command line anywhere
# holds the password
for i in 0 1 2; do
  tr '\0' ' ' <"/proc/${pids[i]}/cmdline" | grep -q '^nats-server ' \
    || fail "process ${pids[i]} is not nats-server: $(tr '\0' ' ' <"/proc/${pids[i]}/cmdline")"
done
for f in /proc/[0-9]*/cmdline; do
  if cat "$f" 2>/dev/null | tr '\0' ' ' | grep -qF "$ROUTE_PW"; then
    fail "the route password is on the command line of ${f%/cmdline}: $(tr '\0' ' ' <"$f")"
  fi
done
echo "ok: the route password is in no process's command line"

# where it is: one file per node, 0600, in a 0700 folder
n=0
for d in "$T"/run/nats-conf.*; do
  [ "$(stat -c %a "$d")" = 700 ] || fail "$d: mode $(stat -c %a "$d")"
  [ "$(stat -c %a "$d/nats.conf")" = 600 ] || fail "$d/nats.conf: mode $(stat -c %a "$d/nats.conf")"
  grep -qF "$ROUTE_PW" "$d/nats.conf" || fail "$d/nats.conf holds no route password"
  n=$((n + 1))
done
[ "$n" = 3 ] || fail "$n cluster configurations, not 3"
echo "ok: each node's cluster block in a 0600 file"

# the users of auth.conf still apply (the configuration given with -c is
# included): an anonymous client is refused
reply=$(python3 - "${P[0]}" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.recv(4096)
s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
print(s.recv(4096).decode(errors="replace").strip())
EOF
)
case "$reply" in *"Authorization Violation"*) ;; *) fail "anonymous client: $reply" ;; esac
echo "ok: auth.conf in force (anonymous: $reply)"

# nowhere to write the cluster block: exit 2, naming the variable
set +e
out=$(NATS_SECRETS_DIR="$T/secrets" NATS_CONF_DIR="$T/missing" \
  NATS_CLUSTER_ROUTES="$routes" sh "$HERE/entrypoint.sh" -c "$HERE/server.conf" 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] || fail "unwritable NATS_CONF_DIR: exit $rc ($out)"
case "$out" in *NATS_CONF_DIR*) ;; *) fail "unwritable NATS_CONF_DIR: $out" ;; esac
echo "ok: unwritable NATS_CONF_DIR: exit 2: $out"
