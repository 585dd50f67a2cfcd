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

/* The migrations run under a lock on the table worker_schema in SHARE
 * UPDATE EXCLUSIVE mode, which only its owner (the worker) or a superuser
 * may take: LOCK TABLE checks privileges before it waits, and the locks
 * another role can hold without privileges (a PREPAREd SELECT or INSERT:
 * ACCESS SHARE, ROW SHARE, ROW EXCLUSIVE) do not conflict with it. An
 * advisory lock, which any role may take, would let result stop every
 * worker at start. Each wait is bounded: a held lock gives a clear log line
 * and a retry, never a worker blocked forever. */
#define STORE_MIGRATION_LOCK_TIMEOUT "5s"
#define MIGRATION_LOCK_SQL                                                     \
    "BEGIN; SET LOCAL lock_timeout = '" STORE_MIGRATION_LOCK_TIMEOUT "';"      \
    " LOCK TABLE worker_schema IN SHARE UPDATE EXCLUSIVE MODE"

struct store {
    PGconn *conn;
    size_t max_batch;
    char *ids, *opts, *seqs, *epochs, *casts; /* array literals, reused */
    size_t ids_cap, opts_cap, nums_cap;
    int prepared; /* APPLY_SQL prepared on this connection */
};

/* One statement is one (implicit) transaction: the upsert, the tallies and
 * the NOTIFY commit together or not at all. */
static const char APPLY_SQL[] =
    "WITH input AS ("
    " SELECT DISTINCT ON (id) id, vote, epoch, seq, cast_ms"
    " FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],"
    "  $5::bigint[]) AS t(id, vote, seq, cast_ms, epoch)"
    " ORDER BY id, epoch DESC, seq DESC"
    "), changed AS ("
    " INSERT INTO votes AS v (id, vote, stream_epoch, seq, cast_at, prev_vote)"
    " SELECT id, vote, epoch, seq, to_timestamp(cast_ms / 1000.0), NULL"
    " FROM input ORDER BY id"
    " ON CONFLICT (id) DO UPDATE SET vote = EXCLUDED.vote,"
    "  stream_epoch = EXCLUDED.stream_epoch, seq = EXCLUDED.seq,"
    "  cast_at = EXCLUDED.cast_at, prev_vote = v.vote"
    "  WHERE (v.stream_epoch, v.seq) < (EXCLUDED.stream_epoch, EXCLUDED.seq)"
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
    " CASE WHEN n > 0 THEN pg_notify('" CONTRACT_PG_CHANNEL "', n::text) END"
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
    /* Votes are ordered by (stream_epoch, seq): a re-created stream starts
     * its sequences at 1 again. Rows from before have epoch 0, so any
     * stream wins over them. worker_stream keeps the epoch of the stream
     * the workers read last, to say loudly when it changes. */
    "ALTER TABLE votes ADD COLUMN IF NOT EXISTS"
    " stream_epoch BIGINT NOT NULL DEFAULT 0;"
    "CREATE TABLE IF NOT EXISTS worker_stream ("
    " id INT PRIMARY KEY CHECK (id = 1), epoch BIGINT NOT NULL);"
    "INSERT INTO worker_stream VALUES (1, 0) ON CONFLICT DO NOTHING;",
    /* Epochs from one clock: a stream's creation time (the NATS meta
     * leader's clock) is only its name here; its epoch is given out by
     * Postgres in the order the workers first see the streams, above
     * every epoch before (store_epoch_of). */
    "CREATE TABLE IF NOT EXISTS stream_epochs ("
    " created BIGINT PRIMARY KEY, epoch BIGINT NOT NULL UNIQUE);",
};

#define N_MIGRATIONS (sizeof(MIGRATIONS) / sizeof(MIGRATIONS[0]))

/* result reads the tallies as a member of STORE_READER_ROLE, which the
 * database's init script creates (compose/postgres/roles.sh): it may SELECT
 * tallies and nothing else. Granted at every start, so a role created
 * after the tables gets it too; a database without the role (tests run
 * as a superuser) is left alone. */
static const char GRANT_SQL[] =
    "DO $$ BEGIN"
    " IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '" STORE_READER_ROLE
    "') THEN GRANT SELECT ON tallies TO " STORE_READER_ROLE ";"
    " END IF; END $$;";

static void log_pg_error(const char *event, const PGconn *c, const PGresult *r)
{
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(c);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    log_warn(event, LOG_STR("sqlstate", state ? state : ""),
             LOG_STR("error", msg));
}

/* Notices ("relation already exists, skipping") go to the debug log, not
 * to stderr. */
static void on_notice(void *arg, const char *msg)
{
    log_debug("pg_notice", LOG_STR("message", msg));
}

static int alloc_buffers(struct store *s, size_t max_batch)
{
    s->max_batch = max_batch;
    s->ids_cap = max_batch * (CONTRACT_VOTER_MAX + 3) + 3;
    s->opts_cap = max_batch * 4 + 3;
    s->nums_cap = max_batch * 21 + 3;
    s->ids = malloc(s->ids_cap);
    s->opts = malloc(s->opts_cap);
    s->seqs = malloc(s->nums_cap);
    s->epochs = malloc(s->nums_cap);
    s->casts = malloc(s->nums_cap);
    if (!s->ids || !s->opts || !s->seqs || !s->epochs || !s->casts)
        return -ENOMEM;
    return 0;
}

static void free_store(struct store *s)
{
    PQfinish(s->conn); /* required even after a failed connect */
    free(s->ids);
    free(s->opts);
    free(s->seqs);
    free(s->epochs);
    free(s->casts);
    free(s);
}

/* Says where it connected and how a dead peer is noticed, as libpq
 * applies it (keepalives, tcp_user_timeout: empty when unset). */
static void log_connected(PGconn *c)
{
    static const char *const keys[] = {"keepalives_idle", "keepalives_interval",
                                       "keepalives_count", "tcp_user_timeout"};
    const char *val[4] = {"", "", "", ""}, *port = PQport(c);
    PQconninfoOption *opts = PQconninfo(c), *o;
    size_t i;

    for (o = opts; o && o->keyword; o++)
        for (i = 0; i < 4; i++)
            if (o->val && strcmp(o->keyword, keys[i]) == 0)
                val[i] = o->val;
    log_info("pg_connected", LOG_STR("host", PQhost(c)),
             LOG_INT("port", port ? strtol(port, NULL, 10) : 0),
             LOG_STR(keys[0], val[0]), LOG_STR(keys[1], val[1]),
             LOG_STR(keys[2], val[2]), LOG_STR(keys[3], val[3]));
    PQconninfoFree(opts); /* after the log: val points into it */
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
    log_connected(s->conn);
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

int store_ping(struct store *s)
{
    PGresult *r = PQexec(s->conn, ""); /* an empty query: one round trip */
    int rc = 0;

    if (PQresultStatus(r) != PGRES_EMPTY_QUERY) {
        log_pg_error("pg_ping_failed", s->conn, r);
        rc = store_connected(s) ? -EAGAIN : -EIO;
    }
    PQclear(r);
    return rc;
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

/* Makes the table the migration lock is taken on. Two workers starting at
 * once may both try: the loser's unique violation (23505), duplicate_table
 * (42P07) or duplicate_object (42710, its row type) means it is there. */
static int create_version_table(struct store *s)
{
    PGresult *r;
    const char *state;
    int tries, rc = -EAGAIN;

    for (tries = 0; tries < 3 && rc; tries++) {
        r = PQexec(s->conn,
                   "CREATE TABLE IF NOT EXISTS worker_schema (version INT)");
        state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (PQresultStatus(r) == PGRES_COMMAND_OK)
            rc = 0;
        else if (!state || (strcmp(state, "23505") && strcmp(state, "42P07") &&
                            strcmp(state, "42710"))) {
            log_pg_error("pg_migrate_failed", s->conn, r);
            tries = 3;
        }
        PQclear(r);
    }
    return rc ? (store_connected(s) ? -EAGAIN : -EIO) : 0;
}

/* The schema version, 0 when there is none yet; under the lock. */
static int read_version(struct store *s, long *version)
{
    PGresult *r;

    if (exec_ok(s, "pg_migrate_failed",
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
        log_info("pg_migrated", LOG_INT("version", v + 1));
    }
    return 0;
}

/* Takes the migration lock; a lock_timeout (55P03) says who to look for. */
static int take_migration_lock(struct store *s)
{
    PGresult *r = PQexec(s->conn, MIGRATION_LOCK_SQL);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int rc = 0;

    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        if (state && !strcmp(state, "55P03"))
            log_warn("pg_migrate_lock_busy",
                     LOG_STR("error", "another session holds table "
                                      "worker_schema (a migrating worker, or "
                                      "a superuser: see pg_locks); retrying"),
                     LOG_STR("waited", STORE_MIGRATION_LOCK_TIMEOUT));
        else
            log_pg_error("pg_migrate_failed", s->conn, r);
        rc = store_connected(s) ? -EAGAIN : -EIO;
    }
    PQclear(r);
    return rc;
}

int store_migrate(struct store *s)
{
    int rc;

    rc = create_version_table(s);
    if (rc)
        return rc;
    rc = take_migration_lock(s);
    if (rc)
        goto out_rollback;
    rc = run_migrations(s);
    if (!rc)
        rc = exec_ok(s, "pg_grant_failed", GRANT_SQL);
    if (rc)
        goto out_rollback;
    return exec_ok(s, "pg_migrate_failed", "COMMIT");

out_rollback:
    if (store_connected(s))
        PQclear(PQexec(s->conn, "ROLLBACK"));
    return store_connected(s) ? rc : -EIO;
}

/* FOR UPDATE re-reads the row another worker may have just changed, so
 * each change of epoch is reported by one worker only. */
static const char NOTE_EPOCH_SQL[] =
    "WITH o AS (SELECT epoch FROM worker_stream WHERE id = 1 FOR UPDATE)"
    " UPDATE worker_stream w SET epoch = $1 FROM o"
    " WHERE w.id = 1 AND o.epoch <> $1 RETURNING o.epoch";

/* A stream seen first gets an epoch above every one given before: its
 * creation time when that is higher, else the highest plus one. Rows
 * written before stream_epochs existed carry creation times, the last in
 * worker_stream: that stream keeps its own. Two workers seeing it at
 * once: the second insert does nothing. */
static const char NEW_EPOCH_SQL[] =
    "INSERT INTO stream_epochs (created, epoch)"
    " SELECT $1::bigint, greatest($1::bigint,"
    "  1 + (SELECT coalesce(max(epoch), 0) FROM stream_epochs),"
    "  (SELECT CASE WHEN epoch = $1::bigint THEN epoch ELSE epoch + 1 END"
    "   FROM worker_stream WHERE id = 1))"
    " ON CONFLICT (created) DO NOTHING";

static const char EPOCH_OF_SQL[] =
    "SELECT epoch FROM stream_epochs WHERE created = $1::bigint";

static int epoch_query(struct store *s, const char *sql, int64_t created,
                       int64_t *epoch)
{
    char val[24];
    const char *params[] = {val};
    PGresult *r;
    int rc = 0;

    snprintf(val, sizeof(val), "%" PRId64, created);
    r = PQexecParams(s->conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK &&
        PQresultStatus(r) != PGRES_COMMAND_OK) {
        log_pg_error("pg_epoch_failed", s->conn, r);
        rc = store_connected(s) ? -EAGAIN : -EIO;
    } else if (epoch && PQntuples(r) == 1) {
        *epoch = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    } else if (epoch) {
        rc = -EAGAIN; /* (two new streams raced for one epoch: again) */
    }
    PQclear(r);
    return rc;
}

int store_epoch_of(struct store *s, int64_t created, int64_t *epoch)
{
    int rc = epoch_query(s, EPOCH_OF_SQL, created, epoch);

    if (rc != -EAGAIN)
        return rc;
    rc = epoch_query(s, NEW_EPOCH_SQL, created, NULL);
    return rc ? rc : epoch_query(s, EPOCH_OF_SQL, created, epoch);
}

int store_note_epoch(struct store *s, int64_t epoch, int64_t *was)
{
    char val[24];
    const char *params[] = {val};
    PGresult *r;
    int rc = 0;

    *was = epoch;
    snprintf(val, sizeof(val), "%" PRId64, epoch);
    r = PQexecParams(s->conn, NOTE_EPOCH_SQL, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_pg_error("pg_note_epoch_failed", s->conn, r);
        rc = store_connected(s) ? -EAGAIN : -EIO;
    } else if (PQntuples(r) == 1) {
        *was = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
    PQclear(r);
    return rc;
}

/* Appends ",<x>" (no comma first) to a numbers literal at *at. */
static void put_num(char *buf, size_t cap, size_t *at, size_t i, int64_t x)
{
    int k = snprintf(buf + *at, cap - *at, "%s%" PRId64, i ? "," : "", x);

    *at += (size_t)k;
}

/* Fills the five array literals. Voter ids are [A-Za-z0-9_-] (checked by
 * decode), so quoting is enough: "NULL" would otherwise be a null. */
static int build_arrays(struct store *s, const struct vote *v, size_t n)
{
    size_t i, a = 0, b = 0, c = 0, d = 0, e = 0;
    int k;

    s->ids[a++] = '{';
    s->opts[b++] = '{';
    s->seqs[c++] = '{';
    s->casts[d++] = '{';
    s->epochs[e++] = '{';
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
        put_num(s->casts, s->nums_cap, &d, i, v[i].cast_at_ms);
        put_num(s->epochs, s->nums_cap, &e, i, v[i].epoch);
    }
    memcpy(s->ids + a, "}", 2);
    memcpy(s->opts + b, "}", 2);
    memcpy(s->seqs + c, "}", 2);
    memcpy(s->casts + d, "}", 2);
    memcpy(s->epochs + e, "}", 2);
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
    r = PQprepare(s->conn, "apply", APPLY_SQL, 5, NULL);
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        s->prepared = 1;
    else
        rc = on_apply_error(s, r);
    PQclear(r);
    return rc;
}

int store_apply_send(struct store *s, const struct vote *v, size_t n)
{
    const char *params[5];
    int rc;

    if (n == 0 || n > s->max_batch || build_arrays(s, v, n))
        return -E2BIG;
    params[0] = s->ids;
    params[1] = s->opts;
    params[2] = s->seqs;
    params[3] = s->casts;
    params[4] = s->epochs;
    rc = prepare_apply(s);
    if (rc)
        return rc;
    /* libpq copies the parameters: the buffers are free again at return. */
    if (!PQsendQueryPrepared(s->conn, "apply", 5, params, NULL, NULL, 0)) {
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
