#!/usr/bin/env bash
# Start a Docker daemon in the background if none answers; idempotent.
# Usage: tests/compose/dockerd-up.sh   (CI calls it; needs root)
set -eu
DOCKER=${DOCKER:-docker}
if $DOCKER info >/dev/null 2>&1; then
  exit 0
fi
command -v dockerd >/dev/null || { echo "dockerd-up: dockerd not installed (apt-get install docker.io iptables)" >&2; exit 1; }
log=${DOCKERD_LOG:-/tmp/dockerd.log}
# A stale pid file from a killed daemon blocks the start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  rm -f /var/run/docker.pid
fi
if ! pgrep -x dockerd >/dev/null; then
  echo "dockerd-up: starting dockerd (log: $log)" >&2
  # Containers inherit the daemon's limits: result asks for nofile 65536
  # (compose ulimits), more than a login shell's hard limit often allows.
  # systemd's docker.service does the same (LimitNOFILE=infinity).
  nofile=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 1048576)
  ulimit -Hn "$nofile" 2>/dev/null || true
  ulimit -Sn "$nofile" 2>/dev/null || true
  nohup dockerd >"$log" 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  if $DOCKER info >/dev/null 2>&1; then
    echo "dockerd-up: docker is up" >&2
    exit 0
  fi
  sleep 0.5
done
echo "dockerd-up: docker did not come up in 30 s; tail of $log:" >&2
tail -n 30 "$log" >&2 || true
exit 1
