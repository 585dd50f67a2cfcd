#!/bin/sh
# Like the official redis image's entrypoint: `-flag` arguments go to
# redis-server; redis-server drops root to user redis; protected mode off,
# since the container network is the boundary (the official image builds
# redis with protected-mode off by default).
set -e
case "$1" in -*) set -- redis-server "$@" ;; esac
if [ "$1" = redis-server ]; then
  shift
  case "$1" in
    ''|-*) set -- redis-server --protected-mode no "$@" ;;
    *)     conf=$1; shift; set -- redis-server "$conf" --protected-mode no "$@" ;;
  esac
  if [ "$(id -u)" = 0 ]; then
    find . \! -user redis -exec chown redis '{}' + 2>/dev/null || true
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi
exec "$@"
