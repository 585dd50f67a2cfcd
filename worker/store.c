/* store.c - Postgres side of the worker; see store.h.
 *
 * Why the upsert is exact with any number of workers: ON CONFLICT DO UPDATE
 * locks the conflicting row and evaluates SET against its latest committed
 * version, not the statement's snapshot. So `prev_vote = v.vote` records the
 * vote that this very update replaced, and RETURNING hands back exactly the
 * (old, new) pairs that changed; tallies move by those deltas, again with
 * ON CONFLICT arithmetic on locked rows. A snapshot read of the old votes
 * (a CTE SELECT) would be stale when another worker commits the same voter
 * in between. Rows are locked in id order, tallies in vote order, so two
 * workers never wait on each other in a cycle. */
#include "worker/store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "lib/log/log.h"

#define MIGRATION_LOCK 0x766f746573L /* "votes": pg_advisory_xact_lock key */

struct store {
    PGconn *conn;
    size_t max_batch;
    char *ids, *opts, *seqs, *casts; /* array literals, reused */
    size_t ids_cap, opts_cap, nums_cap;
    int prepared; /* APPLY_SQL prepared on this connection */
};

/* One statement is one (implicit) transaction: the upsert, the tallies and
 * the NOTIFY commit together or not at all. */
static const char APPLY_SQL[] =
    "WITH input AS ("
    " SELECT DISTINCT ON (id) id, vote, seq, cast_ms"
    " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])"
    "  AS t(id, vote, seq, cast_ms)"
    " ORDER BY id, seq DESC"
    "), changed AS ("
    " INSERT INTO votes AS v (id, vote, seq, cast_at, prev_vote)"
    " SELECT id, vote, seq, to_timestamp(cast_ms / 1000.0), NULL"
    " FROM input ORDER BY id"
    " ON CONFLICT (id) DO UPDATE SET vote = EXCLUDED.vote,"
    "  seq = EXCLUDED.seq, cast_at = EXCLUDED.cast_at, prev_vote = v.vote"
    "  WHERE v.seq < EXCLUDED.seq"
    " RETURNING v.vote, v.prev_vote"
    "), delta AS ("
    " SELECT vote, sum(d) AS d FROM ("
    "  SELECT vote, 1 AS d FROM changed"
    "  UNION ALL SELECT prev_vote, -1 FROM changed"
    "  WHERE prev_vote IS NOT NULL) x"
    " GROUP BY vote"
    "), bumped AS ("
    " INSERT INTO tallies AS t (vote, count)"
    " SELECT vote, d FROM delta WHERE d <> 0 ORDER BY vote"
    " ON CONFLICT (vote) DO UPDATE SET count = t.count + EXCLUDED.count"
    " RETURNING 1"
    ")"
    "SELECT n, (SELECT count(*) FROM bumped),"
    " CASE WHEN n > 0 THEN pg_notify('" STORE_CHANNEL "', n::text) END"
    " FROM (SELECT count(*) AS n FROM changed) c";

/* Each entry upgrades the schema by one version; never edit a shipped one,
 * append. Version 1 adopts a classic `votes` table if one is there. */
static const char *const MIGRATIONS[] = {
    "CREATE TABLE IF NOT EXISTS votes ("
    " id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL);"
    "ALTER TABLE votes ADD COLUMN IF NOT EXISTS seq BIGINT NOT NULL DEFAULT 0;"
    "ALTER TABLE votes ADD COLUMN IF NOT EXISTS cast_at TIMESTAMPTZ;"
    "ALTER TABLE votes ADD COLUMN IF NOT EXISTS prev_vote VARCHAR(255);"
    "CREATE TABLE IF NOT EXISTS tallies ("
    " vote VARCHAR(255) PRIMARY KEY, count BIGINT NOT NULL DEFAULT 0);"
    "INSERT INTO tallies (vote, count)"
    " SELECT vote, count(*) FROM votes GROUP BY vote"
    " ON CONFLICT (vote) DO UPDATE SET count = EXCLUDED.count;",
    /* Voter ids are ASCII: byte order in the unique index instead of the
     * locale's strcoll() makes each batch's inserts cheaper (+5-10% drain;
     * rebuilds the index: ~2 s a million votes, once). */
    "ALTER TABLE votes ALTER COLUMN id TYPE VARCHAR(255) COLLATE \"C\";",
};

#define N_MIGRATIONS (sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]))

static void log_pg_error(const char *event, const PGconn *c, const PGresult *r)
{
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char qm[300], qs[16];

    log_warn(event, "\"sqlstate\":%s,\"error\":%s",
             log_quote(qs, sizeof(qs), state ? state : ""),
             log_quote(qm, sizeof(qm), msg));
}

/* Notices ("relation already exists, skipping") go to the debug log, not
 * to stderr. */
static void on_notice(void *arg, const char *msg)
{
    char q[300];

    log_debug("pg_notice", "\"message\":%s", log_quote(q, sizeof(q), msg));
}

static int alloc_buffers(struct store *s, size_t max_batch)
{
    s->max_batch = max_batch;
    s->ids_cap = max_batch * (DECODE_VOTER_MAX + 3) + 3;
    s->opts_cap = max_batch * 4 + 3;
    s->nums_cap = max_batch * 21 + 3;
    s->ids = malloc(s->ids_cap);
    s->opts = malloc(s->opts_cap);
    s->seqs = malloc(s->nums_cap);
    s->casts = malloc(s->nums_cap);
    if (!s->ids || !s->opts || !s->seqs || !s->casts)
        return -ENOMEM;
    return 0;
}

static void free_store(struct store *s)
{
    PQfinish(s->conn); /* required even after a failed connect */
    free(s->ids);
    free(s->opts);
    free(s->seqs);
    free(s->casts);
    free(s);
}

int store_open(struct store **out, const char *const *keys,
               const char *const *vals, size_t max_batch)
{
    struct store *s;
    int rc;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    rc = alloc_buffers(s, max_batch);
    if (rc)
        goto out_free;
    s->conn = PQconnectdbParams(keys, vals, 1);
    if (!s->conn) {
        rc = -ENOMEM;
        goto out_free;
    }
    PQsetNoticeProcessor(s->conn, on_notice, NULL);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        log_pg_error("pg_connect_failed", s->conn, NULL);
        rc = -ECONNREFUSED;
        goto out_free;
    }
    *out = s;
    return 0;

out_free:
    free_store(s);
    return rc;
}

void store_close(struct store *s)
{
    if (s)
        free_store(s);
}

int store_connected(const struct store *s)
{
    return PQstatus(s->conn) == CONNECTION_OK;
}

int store_reconnect(struct store *s)
{
    s->prepared = 0;
    PQreset(s->conn);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        log_pg_error("pg_connect_failed", s->conn, NULL);
        return -ECONNREFUSED;
    }
    return 0;
}

/* Runs sql (no parameters); 0 when it succeeded. */
static int exec_ok(struct store *s, const char *event, const char *sql)
{
    PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        log_pg_error(event, s->conn, r);
        rc = store_connected(s) ? -EAGAIN : -EIO;
    }
    PQclear(r);
    return rc;
}

/* The schema version, 0 when there is none yet. */
static int read_version(struct store *s, long *version)
{
    PGresult *r;

    if (exec_ok(s, "pg_migrate_failed",
                "CREATE TABLE IF NOT EXISTS worker_schema (version INT);"
                "INSERT INTO worker_schema SELECT 0"
                " WHERE NOT EXISTS (SELECT 1 FROM worker_schema)"))
        return -EAGAIN;
    r = PQexec(s->conn, "SELECT version FROM worker_schema");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        log_pg_error("pg_migrate_failed", s->conn, r);
        PQclear(r);
        return -EAGAIN;
    }
    *version = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return 0;
}

static int run_migrations(struct store *s)
{
    char sql[64];
    long v;
    int rc;

    rc = read_version(s, &v);
    if (rc)
        return rc;
    for (; v < (long)N_MIGRATIONS; v++) {
        rc = exec_ok(s, "pg_migrate_failed", MIGRATIONS[v]);
        if (rc)
            return rc;
        snprintf(sql, sizeof(sql), "UPDATE worker_schema SET version = %ld",
                 v + 1);
        rc = exec_ok(s, "pg_migrate_failed", sql);
        if (rc)
            return rc;
        log_info("pg_migrated", "\"version\":%ld", v + 1);
    }
    return 0;
}

int store_migrate(struct store *s)
{
    char sql[96];
    int rc;

    snprintf(sql, sizeof(sql), "BEGIN; SELECT pg_advisory_xact_lock(%ld)",
             MIGRATION_LOCK);
    rc = exec_ok(s, "pg_migrate_failed", sql);
    if (rc)
        goto out_rollback;
    rc = run_migrations(s);
    if (rc)
        goto out_rollback;
    return exec_ok(s, "pg_migrate_failed", "COMMIT");

out_rollback:
    if (store_connected(s))
        PQclear(PQexec(s->conn, "ROLLBACK"));
    return store_connected(s) ? rc : -EIO;
}

/* Fills the four array literals. Voter ids are [A-Za-z0-9_-] (checked by
 * decode), so quoting is enough: "NULL" would otherwise be a null. */
static int build_arrays(struct store *s, const struct vote *v, size_t n)
{
    size_t i, a = 0, b = 0, c = 0, d = 0;
    int k;

    s->ids[a++] = '{';
    s->opts[b++] = '{';
    s->seqs[c++] = '{';
    s->casts[d++] = '{';
    for (i = 0; i < n; i++) {
        const char *sep = i ? "," : "";

        k = snprintf(s->ids + a, s->ids_cap - a, "%s\"%s\"", sep, v[i].voter);
        if (k < 0 || (size_t)k >= s->ids_cap - a)
            return -E2BIG;
        a += (size_t)k;
        k = snprintf(s->opts + b, s->opts_cap - b, "%s%s", sep, v[i].option);
        b += (size_t)k;
        k = snprintf(s->seqs + c, s->nums_cap - c, "%s%" PRIu64, sep, v[i].seq);
        c += (size_t)k;
        k = snprintf(s->casts + d, s->nums_cap - d, "%s%" PRId64, sep,
                     v[i].cast_at_ms);
        d += (size_t)k;
    }
    memcpy(s->ids + a, "}", 2);
    memcpy(s->opts + b, "}", 2);
    memcpy(s->seqs + c, "}", 2);
    memcpy(s->casts + d, "}", 2);
    return 0;
}

/* 42P01 undefined_table, 42703 undefined_column: someone dropped the
 * schema under us; put it back, then the batch is retried. */
static int on_apply_error(struct store *s, const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    log_pg_error("pg_apply_failed", s->conn, r);
    if (!store_connected(s))
        return -EIO;
    if (state && (!strcmp(state, "42P01") || !strcmp(state, "42703")))
        store_migrate(s);
    return -EAGAIN;
}

/* Prepared once per connection, after the migrations made the tables:
 * saves parsing and planning the statement for every batch. */
static int prepare_apply(struct store *s)
{
    PGresult *r;
    int rc = 0;

    if (s->prepared)
        return 0;
    r = PQprepare(s->conn, "apply", APPLY_SQL, 4, NULL);
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        s->prepared = 1;
    else
        rc = on_apply_error(s, r);
    PQclear(r);
    return rc;
}

int store_apply_send(struct store *s, const struct vote *v, size_t n)
{
    const char *params[4];
    int rc;

    if (n == 0 || n > s->max_batch || build_arrays(s, v, n))
        return -E2BIG;
    params[0] = s->ids;
    params[1] = s->opts;
    params[2] = s->seqs;
    params[3] = s->casts;
    rc = prepare_apply(s);
    if (rc)
        return rc;
    /* libpq copies the parameters: the buffers are free again at return. */
    if (!PQsendQueryPrepared(s->conn, "apply", 4, params, NULL, NULL, 0)) {
        log_pg_error("pg_apply_failed", s->conn, NULL);
        return store_connected(s) ? -EAGAIN : -EIO;
    }
    return 0;
}

int store_apply_wait(struct store *s, size_t *changed)
{
    PGresult *r, *err = NULL;
    int rc = 0, got = 0;

    *changed = 0;
    while ((r = PQgetResult(s->conn)) != NULL) { /* until the query ends */
        if (!err && PQresultStatus(r) != PGRES_TUPLES_OK) {
            err = r;
            continue;
        }
        if (!err && PQntuples(r) == 1) {
            *changed = (size_t)strtoull(PQgetvalue(r, 0, 0), NULL, 10);
            got = 1;
        }
        PQclear(r);
    }
    if (err) {
        rc = on_apply_error(s, err);
        PQclear(err);
    } else if (!got) {
        log_pg_error("pg_apply_failed", s->conn, NULL);
        rc = store_connected(s) ? -EAGAIN : -EIO;
    }
    return rc;
}

int store_apply(struct store *s, const struct vote *v, size_t n,
                size_t *changed)
{
    int rc;

    *changed = 0;
    if (n == 0)
        return 0;
    rc = store_apply_send(s, v, n);
    return rc ? rc : store_apply_wait(s, changed);
}
