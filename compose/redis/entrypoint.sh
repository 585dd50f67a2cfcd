#!/bin/sh
# redis-server with ACL users (README.md, Security): the default user is
# off, so a client without a password can do nothing; user vote may only
# read and write the hash "voters" (HGET, HSET) and PING. Its password is
# read from the secret redis_vote_password into an ACL file on a tmpfs,
# then redis-server starts with "$@". A missing or empty secret stops here
# (exit 2) with its name. Generated passwords are hex: no spaces.
set -eu
secret=${REDIS_SECRETS_DIR:-/run/secrets}/redis_vote_password
acl=${REDIS_ACL_FILE:-/tmp/users.acl}
if [ ! -s "$secret" ]; then
  echo "redis: secret redis_vote_password ($secret): missing or empty" >&2
  exit 2
fi
umask 077
{
  echo "user default off"
  printf 'user vote on >%s ~voters resetchannels -@all +hget +hset +ping\n' \
    "$(head -n 1 "$secret")"
} >"$acl"
exec redis-server --aclfile "$acl" --protected-mode no "$@"
