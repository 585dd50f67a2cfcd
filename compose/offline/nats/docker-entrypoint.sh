#!/bin/sh
# As in the official nats alpine image: `-flag` arguments go to nats-server.
set -e
case "$1" in -*) set -- nats-server "$@" ;; esac
exec "$@"
