#!/usr/bin/env bash
# tests/swarm/run.sh - images from a registry, and the Docker Swarm stack:
# the pytest suite in this folder (conftest.py lists its modules in the
# order they run, its fixtures and its variables; each test_*.py says what
# it checks):
#   static checks of compose/stack.yaml as `docker stack deploy` reads it;
#   compose/nats/healthcheck.sh on three local nats-server processes;
#   a local registry: our images built, pushed, pulled and run from it;
#   a one-node swarm with the stack deployed from it, converged; the NATS
#   cluster; votes; least privilege; worker scaled, the VOTES leader
#   killed, redis and vote updated, the NATS nodes' settings rolled out,
#   all under voting (no acknowledged vote lost).
# Leaves no swarm, service, network, volume, container, registry or image
# tag of its own behind, also on a failure or Ctrl-C (the fixtures'
# finalizers; SIGINT and SIGTERM reach pytest as SIGTERM, which the suite
# turns into an interruption). Refuses to run if a swarm is already active.
# Writes JUnit XML to $JUNIT_DIR/swarm.xml when JUNIT_DIR is set; prints
# pytest's summary, then "N passed, M failed" last, counted from pytest's
# results (errors and skips count as failed); exits non-zero on a failure.
# Extra arguments go to pytest (e.g. -v, -x, -k static).
# Env: JUNIT_DIR, KEEP=1, CONVERGE_TIMEOUT, PAUSE_LIMIT, DOCKER, MSGS
#      (conftest.py, test_nats_healthcheck.py).
set -uo pipefail
[ -n "${JUNIT_DIR:-}" ] && JUNIT_DIR=$(realpath -m -- "$JUNIT_DIR")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
PY=/usr/bin/python3      # Debian's, with pytest (python3-pytest) and PyYAML

tmp=$(mktemp -d /tmp/swarm-run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# a missing prerequisite: one failed test "prerequisites" in swarm.xml
fail() {
  echo "swarm: $*"
  [ -n "${JUNIT_DIR:-}" ] && mkdir -p "$JUNIT_DIR" && "$ROOT/tools/junit-write" case \
    "$JUNIT_DIR/swarm.xml" prerequisites --failure "$*"
  echo "0 passed, 1 failed"
  exit 1
}

# prerequisites (tools/setup --docker installs them); the suite checks them
# again for a run of pytest by hand
"$ROOT/tests/compose/dockerd-up.sh" || fail "dockerd is not up"
for c in docker-registry docker-compose nsenter redis-cli psql nats-server; do
  command -v "$c" >/dev/null || fail "$c is not installed (tools/setup --docker)"
done
"$PY" -c 'import pytest, yaml' 2>/dev/null || fail "$PY has no pytest or yaml (tools/setup)"

xml=$tmp/swarm.xml
if [ -n "${JUNIT_DIR:-}" ]; then
  mkdir -p "$JUNIT_DIR" && xml=$JUNIT_DIR/swarm.xml
fi
# no __pycache__ nor .pytest_cache in the checkout; CI=1: pytest does not
# cut the failure messages of its short summary to the terminal's width
export CI=${CI:-1} PYTHONDONTWRITEBYTECODE=1
# in the background, so that this shell can pass on a Ctrl-C or a SIGTERM
# (a background job ignores SIGINT) and then wait for the finalizers
"$PY" -m pytest -p no:cacheprovider -q tests/swarm --junitxml="$xml" \
  -o junit_suite_name=swarm "$@" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null' INT TERM
rc=0
wait "$pid" || rc=$?
while kill -0 "$pid" 2>/dev/null; do rc=0; wait "$pid" || rc=$?; done

read -r passed failed < <("$PY" - "$xml" <<'EOF'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 0)
    sys.exit()
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
n = {k: 0 for k in ("tests", "failures", "errors", "skipped")}
for s in suites:
    for k in n:
        n[k] += int(s.get(k, 0))
bad = n["failures"] + n["errors"] + n["skipped"]
print(max(0, n["tests"] - bad), bad)
EOF
)
# an interrupted session (pytest.exit, a collection error, Ctrl-C) fails
[ "$rc" != 0 ] && [ "$failed" = 0 ] && failed=1
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$rc" = 0 ]
