#!/bin/sh
# nats-rollout.sh - applies a change of the NATS nodes of the Swarm stack
# one node at a time, keeping the JetStream quorum (README.md in this
# folder, "Updating the NATS nodes").
#
#   compose/nats-rollout.sh STACK_FILE STACK [docker stack deploy options]
#   e.g. compose/nats-rollout.sh compose/stack.yaml votingapp
#
# `docker stack deploy` updates nats-1, nats-2 and nats-3 at the same time
# (three services: update_config orders tasks within one service only):
# two of three nodes down is no quorum, and every vote gets 503. This
# script deploys STACK_FILE three times, each time with one NATS service
# only (a stack deploy leaves services that are not in its file alone), and
# before the next node waits until the updated one is current:
#   - its swarm task is running, which it is only once its healthcheck
#     passed: GET /healthz (without ?js-enabled-only) answers 200 only when
#     the node has a JetStream meta leader and every stream and consumer
#     replica it holds is current (checked on nats-server 2.9.10: a
#     restarted node answers 503 "JetStream stream '$G > VOTES' is not
#     current" until it has caught up);
#   - where the node's container runs on this machine, /healthz answers 200
#     again now, from inside it (the monitoring port is on its loopback).
# Before each node, the three nodes must be running and (those on this
# machine) current: a node taken down while another is behind loses the
# quorum. A failed or rolled back update stops the script (exit 1).
# Afterwards, `docker stack deploy -c STACK_FILE STACK` finds the NATS
# services as the file says and leaves them alone.
#
# Env: NATS_ROLLOUT_TIMEOUT (s, 600 a node), NATS_NODES ("nats-1 nats-2
# nats-3"), DOCKER (docker). Exit 0 done, 1 failed, 2 usage.
set -eu
DOCKER=${DOCKER:-docker}
TIMEOUT=${NATS_ROLLOUT_TIMEOUT:-600}
NODES=${NATS_NODES:-nats-1 nats-2 nats-3}

if [ $# -lt 2 ] || [ ! -f "$1" ]; then
  echo "usage: $0 STACK_FILE STACK [docker stack deploy options]" >&2
  exit 2
fi
file=$1 stack=$2
shift 2
dir=$(cd "$(dirname "$file")" && pwd)
# next to STACK_FILE: its relative paths (configs, secrets) stay right
one="$dir/.nats-rollout.$$.yaml"
trap 'rm -f "$one"' EXIT INT TERM

say() { printf 'nats-rollout: %s\n' "$*"; }
die() { say "$*" >&2; exit 1; }

# only_service NAME: STACK_FILE with NAME the only service (top-level keys
# start in column 0, services in column 2)
only_service() {
  awk -v keep="$1" '
    /^[^ #]/ { insvc = ($0 ~ /^services:/); skip = 0; print; next }
    insvc && /^  [A-Za-z0-9_.-]+:/ {
      name = $1; sub(/:.*/, "", name); skip = (name != keep)
    }
    !(insvc && skip) { print }' "$file"
}

# task_state NODE: the swarm state of the service's task meant to run
task_state() {
  $DOCKER service ps --filter desired-state=running --format '{{.CurrentState}}' \
    "${stack}_$1" 2>/dev/null | head -n 1 | awk '{print tolower($1)}'
}

# healthz NODE: 0 when every container of NODE on this machine answers
# /healthz 200 (none here: 0, the task state is what we have)
healthz() {
  for c in $($DOCKER ps -q --filter "label=com.docker.swarm.service.name=${stack}_$1" \
    --filter status=running); do
    $DOCKER exec "$c" timeout 5 wget -q -O /dev/null http://127.0.0.1:8222/healthz \
      >/dev/null 2>&1 || return 1
  done
  return 0
}

# task_id NODE: the id of the service's task meant to run
task_id() {
  $DOCKER service ps --filter desired-state=running -q "${stack}_$1" 2>/dev/null | head -n 1
}

# current NODE: its task running (healthcheck passed) and /healthz 200 here
current() {
  [ "$(task_state "$1")" = running ] && healthz "$1"
}

# wait_current NODE SECONDS
wait_current() {
  end=$(( $(date +%s) + $2 ))
  while ! current "$1"; do
    [ "$(date +%s)" -ge "$end" ] && return 1
    sleep 1
  done
}

# update_state NODE: the state of its last update (completed, updating,
# rollback_completed, paused, ...; empty when it was never updated)
update_state() {
  $DOCKER service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' \
    "${stack}_$1" 2>/dev/null
}

for n in $NODES; do
  $DOCKER service inspect "${stack}_$n" >/dev/null 2>&1 \
    || die "no service ${stack}_$n: deploy the stack first"
done
t0=$(date +%s)
for n in $NODES; do
  for m in $NODES; do
    wait_current "$m" 60 || die "$m is not current (task: $(task_state "$m")):" \
      "updating $n now could lose the quorum; nothing more done"
  done
  spec=$($DOCKER service inspect -f '{{json .Spec.TaskTemplate}}' "${stack}_$n")
  old=$(task_id "$n")
  t=$(date +%s)
  only_service "$n" >"$one"
  say "$n: docker stack deploy $* -c (only $n) $stack"
  $DOCKER stack deploy "$@" -c "$one" "$stack" >/dev/null \
    || die "$n: docker stack deploy failed"
  if [ "$($DOCKER service inspect -f '{{json .Spec.TaskTemplate}}' "${stack}_$n")" = "$spec" ]; then
    say "$n: its task is unchanged (nothing to restart)"
    continue
  fi
  # the update starts, the old task stops, a new one has to be current
  end=$(( t + TIMEOUT ))
  while :; do
    st=$(update_state "$n")
    case "$st" in
      rollback* | paused) die "$n: update $st; the other nodes are left as they were" ;;
    esac
    id=$(task_id "$n")
    [ -n "$id" ] && [ "$id" != "$old" ] && [ "$st" = completed ] && current "$n" && break
    [ "$(date +%s)" -ge "$end" ] && die "$n: not current $TIMEOUT s after its update (update: $st, task: $(task_state "$n"))"
    sleep 1
  done
  say "$n: updated and current in $(( $(date +%s) - t )) s"
done
say "done in $(( $(date +%s) - t0 )) s; \`docker stack deploy -c $file $stack\` leaves the NATS nodes as they are now"
