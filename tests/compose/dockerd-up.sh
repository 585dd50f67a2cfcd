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
# alive PID: running and not a zombie (a killed daemon may linger as one)
alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [ -n "$st" ] && [ "${st#Z}" = "$st" ]; }
live_dockerd() { local p; for p in $(pgrep -x dockerd); do alive "$p" && return 0; done; return 1; }
# A killed daemon leaves pid files, and its containerd may take a few
# seconds to die (a new dockerd would wait for that one and time out).
settle() {
  local f p i
  for i in $(seq 1 30); do
    local dying=0
    for p in $(pgrep -x dockerd) $(pgrep -x containerd); do alive "$p" || dying=1; done
    [ "$dying" = 0 ] && break
    sleep 0.5
  done
  for f in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
    if [ -f "$f" ] && ! alive "$(cat "$f")"; then rm -f "$f"; fi
  done
}

start() {
  echo "dockerd-up: starting dockerd (log: $log)" >&2
  # Containers inherit the daemon's limits: result asks for nofile 65536
  # (compose ulimits), more than a login shell's hard limit often allows.
  # systemd's docker.service does the same (LimitNOFILE=infinity).
  local nofile
  nofile=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo 1048576)
  ulimit -Hn "$nofile" 2>/dev/null || true
  ulimit -Sn "$nofile" 2>/dev/null || ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
  # Only stdin/out/err go to the daemon: a descriptor it inherited (a
  # caller's `flock FILE cmd` lock) would stay held as long as it runs.
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      [ "$fd" -gt 2 ] && eval "exec $fd>&-"
    done
    exec nohup dockerd >"$log" 2>&1 </dev/null
  ) &
  pid=$!
}

pid=
for attempt in 1 2 3; do
  if ! live_dockerd; then
    settle
    start
  fi
  for _ in $(seq 1 120); do
    if $DOCKER info >/dev/null 2>&1; then
      echo "dockerd-up: docker is up" >&2
      exit 0
    fi
    # the daemon we started gave up (e.g. containerd did not start): again
    if [ -n "$pid" ] && ! alive "$pid"; then break; fi
    sleep 0.5
  done
  echo "dockerd-up: attempt $attempt failed; tail of $log:" >&2
  tail -n 5 "$log" >&2 || true
done
echo "dockerd-up: docker did not come up" >&2
exit 1
