#!/bin/sh
# nats-server in the chart's StatefulSet: one node of the JetStream cluster,
# the users of auth.conf (compose/nats/auth.conf, the same file), their
# passwords read from the Secret's files into the variables auth.conf names,
# as compose/nats/entrypoint.sh does. The difference: the routes' password
# goes into a configuration file on a memory emptyDir (mode 0600), never on
# the command line (ps and /proc/PID/cmdline show that to every user of the
# node). A missing or empty secret stops here (exit 2) with its name.
#
# Environment: POD_NAME (server_name), NATS_CLUSTER_NAME (votingapp),
# NATS_CLUSTER_ROUTES ("host:6222,host:6222,..."), NATS_CONFIG_DIR (where
# server.conf and auth.conf are), NATS_RUN_DIR (the emptyDir),
# NATS_SECRETS_DIR (/run/secrets), NATS_STORE_DIR (/data).
set -eu
SECRETS=${NATS_SECRETS_DIR:-/run/secrets}
CONFIG_DIR=${NATS_CONFIG_DIR:-/etc/nats/votingapp}
RUN_DIR=${NATS_RUN_DIR:-/run/nats}

# secret NAME: $pw, the first line of the secret file NAME, checked
secret() {
  file=$SECRETS/$1
  if [ ! -s "$file" ]; then
    echo "nats: secret $1 ($file): missing or empty" >&2
    exit 2
  fi
  pw=$(head -n 1 "$file")
  case "$pw" in *'"'* | *'\'* | *@* | *:* | */* | *' '*)
    echo "nats: secret $1 ($file): no \" \\ @ : / or space in a password" >&2
    exit 2 ;;
  esac
}

for user in vote worker debug admin; do
  secret "nats_${user}_password"
  # quoted, a password of digits stays a string
  export "NATS_$(echo "$user" | tr a-z A-Z)_PASSWORD=\"$pw\""
done

: "${NATS_CLUSTER_ROUTES:?nats: NATS_CLUSTER_ROUTES is empty}"
: "${POD_NAME:?nats: POD_NAME is empty}"
secret nats_route_password
umask 077
conf=$RUN_DIR/nats.conf
{
  echo "# written by nats-entrypoint.sh at start; not kept"
  echo "server_name: \"$POD_NAME\""
  # nats-server joins an include's path to this file's folder: go up to /
  echo "include \"$(echo "$RUN_DIR" | sed 's|[^/][^/]*|..|g; s|^/||')$CONFIG_DIR/server.conf\""
  echo "jetstream { store_dir: \"${NATS_STORE_DIR:-/data}\" }"
  echo "cluster {"
  echo "  name: \"${NATS_CLUSTER_NAME:-votingapp}\""
  echo "  listen: \"0.0.0.0:${NATS_CLUSTER_PORT:-6222}\""
  echo "  authorization { user: route, password: \"$pw\" }"
  sep=""
  printf '  routes: ['
  for r in $(echo "$NATS_CLUSTER_ROUTES" | tr ',' ' '); do
    printf '%s "nats://route:%s@%s"' "$sep" "$pw" "$r"
    sep=","
  done
  echo " ]"
  echo "}"
} >"$conf.tmp"
mv "$conf.tmp" "$conf"
exec nats-server -c "$conf" "$@"
