#!/usr/bin/env bash
# Build, from Debian's packages only, the images compose needs, tagged with the
# official names the compose files and Dockerfiles default to, so that
# `docker-compose up` works where no image registry is reachable:
#
#   debian:bookworm, debian:bookworm-slim   debootstrap --variant=minbase + docker import
#   redis:7.0.5-alpine3.16                  redis-server + redis-cli        (redis/)
#   postgres:15.0-alpine3.16                postgresql-15, official-like entrypoint (postgres/)
#   nats:2.9-alpine (also nats:2.9)         nats-server, JetStream on /data, busybox wget (nats/)
#   nginx:1.22-alpine                       Debian nginx laid out like the official image (nginx/)
#   natsio/nats-box:0.13.2                  a small `nats` CLI (sub, pub) in python3 (nats-box/)
#   prom/prometheus:v2.42.0                 Debian's prometheus, laid out like the official image (prometheus/)
#
# Idempotent: an image that exists is kept. An official image (one without our
# label) is never replaced; a stand-in built by this script is rebuilt only when
# its folder here changed. The debootstrap result is cached as a tarball under
# $OFFLINE_CACHE (default /var/cache/voting-offline), outside the repository.
#
# Usage: compose/offline/build.sh [--force] [--base]   (root, for debootstrap)
#   --force  rebuild everything (and debootstrap again)
#   --base   only the debian base images
# Env:   DOCKER (docker), MIRROR, SECURITY_MIRROR (default: the Debian mirror apt
#        uses on this machine), OFFLINE_CACHE, and the image variables of
#        compose/.env (REDIS_IMAGE, POSTGRES_IMAGE, NATS_IMAGE, NGINX_IMAGE,
#        NATS_BOX_IMAGE, PROMETHEUS_IMAGE, DEBIAN_IMAGE) to tag the stand-ins differently.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
DOCKER=${DOCKER:-docker}
CACHE=${OFFLINE_CACHE:-/var/cache/voting-offline}
SUITE=bookworm
LABEL=org.votingapp.offline
force=0
base_only=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --base) base_only=1 ;;
    *) echo "usage: $0 [--force] [--base]" >&2; exit 2 ;;
  esac
done

# Default image names: those of compose/.env, unless set in the environment.
envval() { sed -n "s/^$1=//p" "$here/../.env" 2>/dev/null | tail -n 1 || true; }
DEBIAN_IMAGE=${DEBIAN_IMAGE:-debian:bookworm}
DEBIAN_SLIM_IMAGE=${DEBIAN_SLIM_IMAGE:-debian:bookworm-slim}
REDIS_IMAGE=${REDIS_IMAGE:-$(envval REDIS_IMAGE)}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-$(envval POSTGRES_IMAGE)}
NATS_IMAGE=${NATS_IMAGE:-$(envval NATS_IMAGE)}
NGINX_IMAGE=${NGINX_IMAGE:-$(envval NGINX_IMAGE)}
NATS_BOX_IMAGE=${NATS_BOX_IMAGE:-$(envval NATS_BOX_IMAGE)}
PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-$(envval PROMETHEUS_IMAGE)}
REDIS_IMAGE=${REDIS_IMAGE:-redis:7.0.5-alpine3.16}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-postgres:15.0-alpine3.16}
NATS_IMAGE=${NATS_IMAGE:-nats:2.9-alpine}
NGINX_IMAGE=${NGINX_IMAGE:-nginx:1.22-alpine}
NATS_BOX_IMAGE=${NATS_BOX_IMAGE:-natsio/nats-box:0.13.2}
PROMETHEUS_IMAGE=${PROMETHEUS_IMAGE:-prom/prometheus:v2.42.0}

log() { printf 'offline: %s\n' "$*" >&2; }
exists() { $DOCKER image inspect "$1" >/dev/null 2>&1; }
label_of() { $DOCKER image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

# The Debian mirror apt uses here (first "URIs:" or "deb" line naming debian).
detect_mirror() {
  local m
  m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
      sed -n -e 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\/\?\)$/\1/p' \
             -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\/\?\)[[:space:]].*/\2/p' |
      head -n 1)
  echo "${m:-http://deb.debian.org/debian}"
}
MIRROR=${MIRROR:-$(detect_mirror)}
MIRROR=${MIRROR%/}
SECURITY_MIRROR=${SECURITY_MIRROR:-${MIRROR}-security}

# ---------------------------------------------------------------- base image
make_rootfs_tarball() {
  local tarball=$1 root
  command -v debootstrap >/dev/null || { log "debootstrap missing: apt-get install debootstrap"; exit 1; }
  root=$(mktemp -d /var/tmp/voting-rootfs.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" EXIT
  log "debootstrap --variant=minbase $SUITE from $MIRROR (about a minute)"
  debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }

  # apt sources as in the official image (deb822), on the same mirror.
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # What the official images configure (debuerreotype): no .deb or package
  # lists left in layers, no translations, no recommends kept by autoremove.
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  echo 'Acquire::GzipIndexes "true";' >"$root/etc/apt/apt.conf.d/docker-gzip-indexes"
  echo 'Apt::AutoRemove::SuggestsImportant "false";' >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests"
  # Like the slim image: no documentation, manuals or translations.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/lintian/"*
  # ... but keep the manual folders: without man1, openjdk's postinst fails
  # (update-alternatives links its manual there).
  mkdir -p "$root"/usr/share/man/man{1,2,3,4,5,6,7,8}
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  # Services must not start inside `docker build` (package postinst scripts).
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  rm -rf "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* \
         "$root/var/log/"*.log "$root/var/log/apt/"* "$root/tmp/"* "$root/var/tmp/"* \
         "$root/etc/hostname" "$root/etc/resolv.conf"
  mkdir -p "$root/var/lib/apt/lists/partial"
  : >"$root/etc/machine-id"
  tar -C "$root" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
      -czf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
  trap - EXIT
}

# Bump when make_rootfs_tarball changes: our older base images get rebuilt.
BASE_VERSION=base-2

build_base() {
  local cur
  cur=$(label_of "$DEBIAN_IMAGE")
  if [ "$force" = 0 ] && exists "$DEBIAN_IMAGE" && exists "$DEBIAN_SLIM_IMAGE"; then
    if [ -z "$cur" ]; then
      log "$DEBIAN_IMAGE exists and is not ours (official image): kept"
      return
    elif [ "$cur" = "$BASE_VERSION" ]; then
      log "$DEBIAN_IMAGE and $DEBIAN_SLIM_IMAGE are up to date"
      return
    fi
  fi
  mkdir -p "$CACHE"
  local tarball="$CACHE/debian-$SUITE-minbase-$BASE_VERSION.tar.gz"
  if [ ! -s "$tarball" ] || [ "$force" = 1 ]; then
    make_rootfs_tarball "$tarball"
  else
    log "using cached $tarball"
  fi
  log "docker import -> $DEBIAN_IMAGE, $DEBIAN_SLIM_IMAGE"
  $DOCKER import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "LABEL $LABEL=$BASE_VERSION" \
    "$tarball" "$DEBIAN_IMAGE" >/dev/null
  $DOCKER tag "$DEBIAN_IMAGE" "$DEBIAN_SLIM_IMAGE"
}

# ---------------------------------------------------------------- stand-ins
# build_standin FOLDER TAG [EXTRA_TAG...]
build_standin() {
  local name=$1 dir=$here/$1 tag=$2 hash current
  shift 2
  # the folder's content and the base image: a change to either rebuilds
  hash=$( (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum
           $DOCKER image inspect -f '{{.Id}}' "$DEBIAN_SLIM_IMAGE") | sha256sum | cut -c1-16)
  hash="$name-$hash"
  if [ "$force" = 0 ] && exists "$tag"; then
    current=$(label_of "$tag")
    if [ -z "$current" ]; then
      log "$tag exists and is not ours (official image): kept"
      return
    fi
    if [ "$current" = "$hash" ]; then
      local t ok=1
      for t in "$@"; do exists "$t" || ok=0; done  # extra tags present too
      if [ "$ok" = 1 ]; then log "$tag is up to date"; return; fi
    fi
  fi
  log "building $tag from compose/offline/$name"
  local blog="$CACHE/build-$name.log"
  mkdir -p "$CACHE"
  if ! DOCKER_BUILDKIT=0 $DOCKER build \
      --build-arg "DEBIAN_IMAGE=$DEBIAN_SLIM_IMAGE" \
      --label "$LABEL=$hash" -t "$tag" "$dir" >"$blog" 2>&1; then
    tail -n 30 "$blog" >&2
    log "building $tag failed (log: $blog)"
    exit 1
  fi
  local t
  for t in "$@"; do
    # never shadow an official image of that other name
    if ! exists "$t" || [ -n "$(label_of "$t")" ]; then $DOCKER tag "$tag" "$t"; fi
  done
}

# Extra tags: the other name of the same stand-in (nats:2.9 <-> nats:2.9-alpine).
nats_extra=nats:2.9
[ "$NATS_IMAGE" = nats:2.9 ] && nats_extra=nats:2.9-alpine

start=$(date +%s)
build_base
[ "$base_only" = 1 ] && exit 0
# The stand-ins build in parallel (mostly downloads and dpkg).
pids=()
build_standin redis "$REDIS_IMAGE" & pids+=($!)
build_standin postgres "$POSTGRES_IMAGE" & pids+=($!)
build_standin nats "$NATS_IMAGE" "$nats_extra" & pids+=($!)
build_standin nginx "$NGINX_IMAGE" & pids+=($!)
build_standin nats-box "$NATS_BOX_IMAGE" & pids+=($!)
build_standin prometheus "$PROMETHEUS_IMAGE" & pids+=($!)
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ "$rc" = 0 ] || { log "failed"; exit 1; }
log "done in $(( $(date +%s) - start )) s"
