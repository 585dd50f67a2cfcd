#!/bin/sh
# The healthcheck of a NATS node of the Swarm stack (stack.yaml): healthy
# when the node is current, GET /healthz answering 200: it has a JetStream
# meta leader and every stream and consumer replica it holds has caught up
# (a restarted node answers 503 "JetStream stream '$G > VOTES' is not
# current" until then; ?js-enabled-only=true would answer 200 at once).
#
# One exception: while the node has no route to any other node, it is
# healthy too. Swarm puts a task in the service DNS only once it is healthy,
# so nodes that all start at once (a new stack, a restart of every node)
# would never resolve each other's names, never meet, and never be
# current; a node cut off from the others has nothing to catch up from
# anyway. A node that joins a running cluster has its routes within
# seconds, before its first check: it is healthy only once current.
#
# /healthz must answer 200 twice, a second apart: a single 200 was seen
# once while a restarted node was still behind (a loaded machine, not
# reproduced since), and swarm takes one passing check as healthy.
set -eu
m=http://127.0.0.1:${NATS_MONITOR_PORT:-8222}
if wget -q -O /dev/null "$m/healthz"; then
  sleep 1
  wget -q -O /dev/null "$m/healthz" && exit 0
fi
routes=$(wget -q -O- "$m/routez" | sed -n 's/.*"num_routes": *\([0-9]*\).*/\1/p')
[ "${routes:-1}" = 0 ]
