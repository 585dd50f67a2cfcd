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
# (0.0.0.0:6222). The route password never goes on nats-server's command
# line (ps, /proc/PID/cmdline and docker top show that to anyone): the
# cluster block is written, mode 0600, into a new folder under
# NATS_CONF_DIR (/tmp: a tmpfs in compose/stack.yaml), in a configuration
# that includes the one given with -c, and nats-server starts with that.
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
  # "$@" without its -c/--config FILE, FILE in $conf
  conf="" n=$#
  while [ "$n" -gt 0 ]; do
    a=$1; shift; n=$((n - 1))
    case "$a" in
      -c | --config | -config) conf=$1; shift; n=$((n - 1)) ;;
      -c=* | --config=* | -config=*) conf=${a#*=} ;;
      *) set -- "$@" "$a" ;;
    esac
  done
  if [ -z "$conf" ]; then
    echo "nats: a cluster node needs its configuration with -c FILE" >&2
    exit 2
  fi
  case "$conf" in /*) ;; *) conf=$PWD/$conf ;; esac
  if ! dir=$(mktemp -d "${NATS_CONF_DIR:-/tmp}/nats-conf.XXXXXX"); then
    echo "nats: cannot write the cluster configuration in ${NATS_CONF_DIR:-/tmp} (NATS_CONF_DIR): mount a tmpfs there" >&2
    exit 2
  fi
  case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac
  # nats-server resolves an include against the including file's folder,
  # even an absolute path: reach $conf from $dir through "..".
  up=$(echo "$dir" | sed 's|[^/][^/]*|..|g; s|^/||')
  routes=""
  for r in $(echo "$NATS_CLUSTER_ROUTES" | tr ',' ' '); do
    routes="$routes${routes:+, }\"nats-route://route:$pw@$r\""
  done
  (umask 077; cat >"$dir/nats.conf") <<EOT
# written by nats/entrypoint.sh at the server's start
include "$up$conf"
cluster {
  name: "${NATS_CLUSTER_NAME:-votingapp}"
  listen: "${NATS_CLUSTER_LISTEN:-0.0.0.0:6222}"
  authorization { user: route, password: "$pw" }
  routes: [$routes]
}
EOT
  set -- -c "$dir/nats.conf" "$@"
fi
exec nats-server "$@"
