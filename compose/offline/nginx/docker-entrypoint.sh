#!/bin/sh
# As the official nginx image's entrypoint: for `nginx ...`, render
# /etc/nginx/templates/*.template with envsubst into /etc/nginx/conf.d (only
# variables set in the environment), run /docker-entrypoint.d/*.sh, then exec.
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
  tdir=${NGINX_ENVSUBST_TEMPLATE_DIR:-/etc/nginx/templates}
  odir=${NGINX_ENVSUBST_OUTPUT_DIR:-/etc/nginx/conf.d}
  suffix=${NGINX_ENVSUBST_TEMPLATE_SUFFIX:-.template}
  if [ -d "$tdir" ]; then
    vars=$(printf '${%s} ' $(env | cut -d= -f1))
    for t in "$tdir"/*"$suffix"; do
      [ -f "$t" ] || continue
      out="$odir/$(basename "$t" "$suffix")"
      echo "$0: envsubst $t > $out"
      envsubst "$vars" <"$t" >"$out"
    done
  fi
  for f in /docker-entrypoint.d/*.sh; do
    if [ -x "$f" ]; then echo "$0: running $f"; "$f"; fi
  done
fi
exec "$@"
