#!/bin/sh
# nats-server with the users of auth.conf: each password is read from its
# secret file into the variable auth.conf names, then nats-server starts
# with "$@". A missing or empty secret stops here (exit 2) with its name.
#
# A cluster node (NATS_CLUSTER_ROUTES set, e.g. "nats-1:6222,nats-2:6222,
# nats-3:6222"): its routes, in and out, authenticate as user "route" with
# the secret nats_route_password, so nothing else on the network can join
# the cluster as a route (a route sees every message, past all
# permissions). NATS_CLUSTER_NAME (votingapp), NATS_CLUSTER_LISTEN
# (0.0.0.0:6222).
set -eu
SECRETS=${NATS_SECRETS_DIR:-/run/secrets}

# secret NAME: $pw, the first line of the secret file NAME, checked
secret() {
  file=$SECRETS/$1
  if [ ! -s "$file" ]; then
    echo "nats: secret $1 ($file): missing or empty" >&2
    exit 2
  fi
  pw=$(head -n 1 "$file")
  case "$pw" in *'"'* | *'\'* | *@* | *:* | */*)
    echo "nats: secret $1 ($file): no \" \\ @ : / in a password" >&2
    exit 2 ;;
  esac
}

for user in vote worker debug admin; do
  secret "nats_${user}_password"
  # nats-server parses the variable as a value: quoted, it stays a string
  # (unquoted, a password of digits would be a number)
  export "NATS_$(echo "$user" | tr a-z A-Z)_PASSWORD=\"$pw\""
done

if [ -n "${NATS_CLUSTER_ROUTES:-}" ]; then
  secret nats_route_password
  routes=""
  for r in $(echo "$NATS_CLUSTER_ROUTES" | tr ',' ' '); do
    routes="$routes${routes:+,}nats://route:$pw@$r"
  done
  set -- "$@" --cluster_name "${NATS_CLUSTER_NAME:-votingapp}" \
    --cluster "nats://route:$pw@${NATS_CLUSTER_LISTEN:-0.0.0.0:6222}" --routes "$routes"
fi
exec nats-server "$@"
