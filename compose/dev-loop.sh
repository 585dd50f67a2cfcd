#!/bin/bash
# dev-loop SERVICE: the command of the root Dockerfile's dev stage. Builds
# //SERVICE with Bazel from the sources mounted at /src, runs it, and on
# every change under the watched paths rebuilds and restarts it (a failed
# build keeps the running binary). Polls once a second (works with every bind
# mount, no inotify needed). Logs "watching" once the first build from the
# mounted sources is served; "served" after each rebuild.
#   SERVICE           vote | worker | result (default: $SERVICE)
#   WATCH             paths under /src to watch (default below)
#   BAZEL_FLAGS       build flags (the image sets them as its build used them)
#   BAZEL_DISK_CACHE  a folder for Bazel's disk cache (compose.dev.yaml: the
#                     volume bazel-cache, shared by every container): what
#                     one container compiled, a new one (after `down` and
#                     `up`, or a scaled replica) finds there instead of
#                     compiling it again
set -u
svc=${1:-${SERVICE:?dev-loop: which service?}}
src=${SRC:-/src}
watch=${WATCH:-"WORKSPACE BUILD .bazelrc bazel proto lib $svc tools"}
flags=${BAZEL_FLAGS:--c opt --linkopt=-Wl,--as-needed}
[ -n "${BAZEL_DISK_CACHE:-}" ] && flags="$flags --disk_cache=$BAZEL_DISK_CACHE"
# --symlink_prefix=/: no bazel-* links in the (host's) mounted checkout.
bazel_build() { bazel build $flags --symlink_prefix=/ --noshow_progress --show_result=0 "//$svc" 2>&1; }
bin=/usr/local/bin/$svc
out=   # the built binary (bazel info bazel-bin, asked once)
stamp=/tmp/dev-loop.stamp
pid=

log() { printf '{"level":"info","svc":"dev-loop","msg":"%s"}\n' "$*"; }

stop_service() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  pid=
}

start_service() {
  stop_service
  "$bin" &
  pid=$!
  log "started $bin (pid $pid)"
}

# build: 0 when a new binary was installed, 1 when unchanged, 2 on failure
build() {
  log "bazel build //$svc"
  if bazel_build; then
    if [ -z "$out" ]; then
      d=$(bazel info $flags --symlink_prefix=/ bazel-bin 2>/dev/null)
      [ -n "$d" ] && out=$d/$svc/$svc
    fi
    if [ -x "$bin" ] && cmp -s "$out" "$bin"; then
      log "binary unchanged"
      return 1
    fi
    install -m 0755 "$out" "$bin.new" && mv -f "$bin.new" "$bin"
    return 0
  fi
  log "build failed: keeping the running binary; fix and save to retry"
  return 2
}

changed() {
  paths=
  for p in $watch; do [ -e "$src/$p" ] && paths="$paths $src/$p"; done
  # shellcheck disable=SC2086
  [ -n "$paths" ] && [ -n "$(find $paths -newer "$stamp" -type f -print 2>/dev/null | head -n 1)" ]
}

trap 'stop_service; bazel shutdown >/dev/null 2>&1; exit 0' TERM INT
cd "$src" || exit 1
touch "$stamp"
# Serve at once with the image's binary, then catch up with the mounted sources.
[ -x "$bin" ] && start_service
build && start_service
log "watching $watch"
while :; do
  sleep 1 &
  wait $!
  if changed; then
    touch "$stamp"
    log "change detected"
    build && start_service && log "served the new build"
  elif [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null
    log "$svc exited with status $?; restarting in 2 s"
    pid=
    sleep 2
    start_service
  fi
done
