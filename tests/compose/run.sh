#!/usr/bin/env bash
# tests/compose/run.sh - end-to-end test of the Docker Compose topology: the
# pytest suite in this folder (conftest.py says how it runs; each test_N_*.py
# says what it checks; any file also runs alone, in any order):
#   1 static: offline base images, the one Dockerfile's stages,
#     compose.yaml and compose.dev.yaml resolved by `config`
#   2 up: images build, traefik's healthcheck against a stub API, every
#     service but traefik up and healthy
#   3 votes through vote-ui, seen on result-ui (HTTP, WebSocket), nats-box
#   4 least privilege: each forbidden act refused, containers hardened, no
#     secret leaked, a missing secret exits 2
#   5 Prometheus targets, rules, counters
#   6 --scale worker=2 --scale vote=2: no vote lost
#   7 down + up keeps the votes, down -v removes them; image sizes
#   8 the seed profile: seed-data casts SEED_VOTES more votes (twice)
#   9 the development loop (compose.dev.yaml on a copy of the checkout):
#     edits of a C source and a page served without a rebuild by hand,
#     --scale worker=2, a warm start, down -v leaves nothing
# Prints pytest's summary; with JUNIT_DIR set, writes the results to
# $JUNIT_DIR/compose.xml (tools/junit-summary counts them; .ci/run does).
# Exits non-zero on a failure. Extra arguments go to pytest (e.g. -v,
# -k static).
# Env: COMPOSE, KEEP=1, E2E_TAG, HEALTH_TIMEOUT, VOTES, E2E_PROJECT,
#      E2E_VOTE_UI_PORT, E2E_RESULT_UI_PORT, E2E_PROMETHEUS_PORT (conftest.py),
#      E2E_SEED_VOTES (test_8_seed.py), E2E_DEV_VOTE_UI_PORT,
#      E2E_DEV_RESULT_UI_PORT, DEV_TIMEOUT, DEV_NO_CACHE (test_9_devloop.py).
set -uo pipefail
[ -n "${JUNIT_DIR:-}" ] && JUNIT_DIR=$(realpath -m -- "$JUNIT_DIR")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
junit=()
if [ -n "${JUNIT_DIR:-}" ]; then
  mkdir -p "$JUNIT_DIR"
  junit=(--junitxml="$JUNIT_DIR/compose.xml")
fi
# Debian's python3 has pytest (python3-pytest) and PyYAML (with docker-compose).
# No __pycache__ nor .pytest_cache in the checkout; CI=1: pytest does not
# cut the failure messages of its short summary to the terminal's width
export CI=${CI:-1}
PYTHONDONTWRITEBYTECODE=1 exec /usr/bin/python3 -m pytest -p no:cacheprovider -q \
  "${junit[@]}" tests/compose "$@"
