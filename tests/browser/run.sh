#!/usr/bin/env bash
# Browser tests of ui/vote and ui/result against a running stack.
#   VOTE_URL   (default http://127.0.0.1:5000)  vote, serving ui/vote
#   RESULT_URL (default http://127.0.0.1:5001)  result, serving ui/result
#   TEST_OUTPUT_DIR  where screenshots go (default tests/browser/screenshots)
#   JUNIT_DIR  if set, the results go to $JUNIT_DIR/browser.xml as well
#              (node's junit reporter; the readable one stays on stdout)
# Start the stack first with tools/run. Needs /usr/bin/chromium and
# /usr/sbin/nginx (Debian packages), playwright-core and axe-core (npm ci here).
set -euo pipefail
[ -n "${JUNIT_DIR:-}" ] && JUNIT_DIR=$(realpath -m -- "$JUNIT_DIR")
cd "$(dirname "$0")"

export VOTE_URL="${VOTE_URL:-http://127.0.0.1:5000}"
export RESULT_URL="${RESULT_URL:-http://127.0.0.1:5001}"

need_healthy() {
    if ! curl -fsS -o /dev/null --max-time 3 "${2%/}/healthz"; then
        echo "tests/browser: $1 does not answer ${2%/}/healthz." >&2
        echo "Start the local stack with tools/run (or set VOTE_URL and" \
             "RESULT_URL to a running stack), then run this again." >&2
        exit 1
    fi
}
need_healthy vote "$VOTE_URL"
need_healthy result "$RESULT_URL"
for bin in /usr/bin/chromium /usr/sbin/nginx; do
    if [ ! -x "$bin" ]; then
        echo "tests/browser: $bin is missing (apt-get install chromium nginx)" >&2
        exit 1
    fi
done
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
reporters=()
if [ -n "${JUNIT_DIR:-}" ]; then
    mkdir -p "$JUNIT_DIR"
    reporters=(--test-reporter=spec --test-reporter-destination=stdout
               --test-reporter=junit
               --test-reporter-destination="$JUNIT_DIR/browser.xml")
fi
exec node --test "${reporters[@]}" "$@"
