#!/bin/sh
# The database's roles (README.md, Security). Run by the superuser:
#   - by the postgres image when it creates the database (mounted as
#     /docker-entrypoint-initdb.d/10-roles.sh; compose.yaml, stack.yaml);
#   - by tools/run, and by worker/store_test, on their own Postgres;
#   - by hand, to adopt an existing database or to rotate a password
#     (idempotent):  docker compose exec db sh /docker-entrypoint-initdb.d/10-roles.sh
#
#   worker          LOGIN, owns the schema: creates and migrates the tables;
#                   at most POSTGRES_WORKER_CONNECTION_LIMIT connections (50:
#                   one a worker replica)
#   result          LOGIN, member of tallies_reader; at most
#                   POSTGRES_RESULT_CONNECTION_LIMIT connections (10: one a
#                   result replica), so the role behind the internet-facing
#                   service can never take the worker's connections (the
#                   two limits stay under max_connections, 100, minus the
#                   superuser's reserved 3)
#   tallies_reader  NOLOGIN; the worker grants it SELECT on tallies only
#   everybody else  may not create anything (not even temporary tables)
#   postgres        the superuser: on the container's socket only
#
# The passwords come from the files POSTGRES_WORKER_PASSWORD_FILE and
# POSTGRES_RESULT_PASSWORD_FILE name (default /run/secrets/...); a missing
# or empty one stops here (exit 2) with its name. psql connects as
# POSTGRES_USER to POSTGRES_DB (PGHOST, PGPORT as libpq reads them).
set -eu

secret() { # VAR DEFAULT_PATH: prints the file's first line
  path=$(eval "printf '%s' \"\${$1:-$2}\"")
  if [ ! -s "$path" ]; then
    echo "roles.sh: $1 ($path): missing or empty" >&2
    exit 2
  fi
  head -n 1 "$path"
}
# Inside the db container (PGDATA writable): the superuser may connect on
# the container's own socket only, never over the network.
hba=${PGDATA:-/nonexistent}/pg_hba.conf
if [ -w "$hba" ] && ! grep -q '^host all postgres all reject' "$hba"; then
  { printf '# roles.sh: the superuser only on the local socket\nhost all postgres all reject\n'
    cat "$hba"; } >"$hba.new"
  cat "$hba.new" >"$hba" && rm -f "$hba.new"
fi

limit() { # VAR DEFAULT: prints a connection limit, checked
  v=$(eval "printf '%s' \"\${$1:-$2}\"")
  case "$v" in '' | *[!0-9]*)
    echo "roles.sh: $1 ($v): not a number of connections" >&2
    exit 2 ;;
  esac
  echo "$v"
}
worker_limit=$(limit POSTGRES_WORKER_CONNECTION_LIMIT 50)
result_limit=$(limit POSTGRES_RESULT_CONNECTION_LIMIT 10)
worker_pw=$(secret POSTGRES_WORKER_PASSWORD_FILE /run/secrets/postgres_worker_password)
result_pw=$(secret POSTGRES_RESULT_PASSWORD_FILE /run/secrets/postgres_result_password)

psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet \
  --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  -v worker_pw="$worker_pw" -v result_pw="$result_pw" \
  -v worker_limit="$worker_limit" -v result_limit="$result_limit" <<'SQL'
SET client_min_messages = warning;
SELECT format('CREATE ROLE %I', r)
  FROM (VALUES ('worker'), ('result'), ('tallies_reader')) AS v (r)
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec
ALTER ROLE worker LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  CONNECTION LIMIT :worker_limit PASSWORD :'worker_pw';
ALTER ROLE result LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
  CONNECTION LIMIT :result_limit PASSWORD :'result_pw';
ALTER ROLE tallies_reader NOLOGIN;
GRANT tallies_reader TO result;
-- the worker owns the schema and, when adopting a database, its tables
ALTER SCHEMA public OWNER TO worker;
SELECT format('ALTER TABLE public.%I OWNER TO worker', tablename)
  FROM pg_tables WHERE schemaname = 'public' AND tableowner <> 'worker' \gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE TEMPORARY ON DATABASE :"DBNAME" FROM PUBLIC;
SELECT pg_reload_conf();
SQL
echo "roles.sh: roles worker, result and tallies_reader are set in ${POSTGRES_DB:-postgres}"
