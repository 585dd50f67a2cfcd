#!/bin/sh
# Makes every password the app needs, one file each, 32 random hex
# characters, and keeps the ones that exist (README.md, Security):
#
#   postgres_password           the database superuser (db container only)
#   postgres_worker_password    Postgres role worker (owns the schema)
#   postgres_result_password    Postgres role result (reads the tallies)
#   redis_vote_password         Redis user vote (the voters hash)
#   nats_vote_password          NATS user vote (publishes votes)
#   nats_worker_password        NATS user worker (consumes them)
#   nats_debug_password         NATS user debug (read-only: nats-box, votectl)
#   nats_admin_password         NATS user admin (operators only)
#   nats_route_password         the routes between NATS cluster nodes
#
# Usage: compose/secrets/generate.sh [DIR]
#   DIR defaults to $SECRETS_DIR, else this folder (where compose.yaml and
#   stack.yaml look, unless SECRETS_DIR says otherwise). tools/run uses it
#   for its own folder. The folder is made 0700; the files are 0644 so that
#   the containers' own users (not root) can read them once mounted.
# To rotate one: README.md, Security.
set -eu
dir=${1:-${SECRETS_DIR:-$(dirname "$0")}}
names="postgres_password postgres_worker_password postgres_result_password
redis_vote_password nats_vote_password nats_worker_password nats_debug_password
nats_admin_password nats_route_password"
mkdir -p "$dir"
chmod 0700 "$dir"
made=""
for n in $names; do
  [ -s "$dir/$n" ] && continue
  head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/$n.tmp"
  chmod 0644 "$dir/$n.tmp"
  mv "$dir/$n.tmp" "$dir/$n"
  made="$made $n"
done
echo "secrets in $dir:${made:- all there already}${made:+ made}"
