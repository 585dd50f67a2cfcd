/* store_test.c - the upsert against a real Postgres: newest sequence wins
 * in a batch and across batches, replays change nothing, a newer stream
 * epoch wins over a higher sequence, two writers at once keep votes and
 * tallies exact, migrations are idempotent; the roles of roles.sh: their
 * rights, result's connection limit, and a migration lock that only the
 * worker may take. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "tests/fixture/fixture.h"
#include "worker/store.h"
#include "worker/testkit.h"

#define VOTERS  1000
#define BATCHES 150
#define BATCH   500

static struct fixture pg;

static struct store *open_store(const char *conninfo)
{
    const char *keys[] = {"dbname", NULL};
    const char *vals[] = {conninfo, NULL};
    struct store *s;

    assert_int_equal(store_open(&s, keys, vals, BATCH), 0);
    return s;
}

static void exec_sql(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r = PQexec(c, sql);

    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK ||
                PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
    PQfinish(c);
}

static long tally(const char *option)
{
    char sql[96];

    snprintf(sql, sizeof(sql),
             "SELECT coalesce(sum(count), 0) FROM tallies WHERE vote = '%s'",
             option);
    return tk_pg_long(pg.url, sql);
}

static long tally_diff(void)
{
    return tk_pg_long(
        pg.url,
        "SELECT count(*) FROM tallies t FULL JOIN"
        " (SELECT vote, count(*) AS n FROM votes GROUP BY vote) g"
        " ON g.vote = t.vote WHERE coalesce(t.count, 0) <> coalesce(g.n, 0)");
}

static struct vote mk(const char *voter, const char *option, uint64_t seq)
{
    struct vote v;

    memset(&v, 0, sizeof(v));
    snprintf(v.voter, sizeof(v.voter), "%s", voter);
    v.option[0] = option[0];
    v.seq = seq;
    v.cast_at_ms = 1764000000000LL + (int64_t)seq;
    return v;
}

static char *vote_of(const char *voter, char *buf, size_t n)
{
    PGconn *c = PQconnectdb(pg.url);
    const char *params[] = {voter};
    PGresult *r = PQexecParams(c, "SELECT vote FROM votes WHERE id = $1", 1,
                               NULL, params, NULL, NULL, 0);

    snprintf(buf, n, "%s", PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "(none)");
    PQclear(r);
    PQfinish(c);
    return buf;
}

static void *migrate_thread(void *arg)
{
    struct store *s = open_store(pg.url);
    long rc = store_migrate(s);

    store_close(s);
    return (void *)rc;
}

static int setup(void **state)
{
    pthread_t t[3];
    void *rc;
    int i;

    if (fixture_start(&pg, FIXTURE_PG))
        return -1;
    for (i = 0; i < 3; i++) /* three workers starting at once */
        pthread_create(&t[i], NULL, migrate_thread, NULL);
    for (i = 0; i < 3; i++) {
        pthread_join(t[i], &rc);
        if (rc)
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    fixture_destroy(&pg);
    return 0;
}

static int truncate_all(void **state)
{
    exec_sql(pg.url, "TRUNCATE votes, tallies");
    return 0;
}

static void test_store_a_then_b_in_one_batch(void **state)
{
    struct store *s = open_store(pg.url);
    struct vote v[] = {mk("v1", "b", 7), mk("v1", "a", 3), mk("v2", "a", 4)};
    size_t changed;
    char buf[16];

    assert_int_equal(store_apply(s, v, 3, &changed), 0);
    assert_int_equal(changed, 2); /* v1 once, v2 once */
    assert_string_equal(vote_of("v1", buf, sizeof(buf)), "b");
    assert_int_equal(tally("a"), 1);
    assert_int_equal(tally("b"), 1);
    assert_int_equal(tally_diff(), 0);
    store_close(s);
}

static void test_store_a_then_b_across_batches(void **state)
{
    struct store *s = open_store(pg.url);
    struct vote a = mk("v1", "a", 10), b = mk("v1", "b", 11);
    struct vote old = mk("v1", "a", 9);
    size_t changed;
    char buf[16];

    assert_int_equal(store_apply(s, &a, 1, &changed), 0);
    assert_int_equal(tally("a"), 1);
    assert_int_equal(store_apply(s, &b, 1, &changed), 0);
    assert_int_equal(changed, 1);
    assert_string_equal(vote_of("v1", buf, sizeof(buf)), "b");
    assert_int_equal(tally("a"), 0);
    assert_int_equal(tally("b"), 1);
    /* An older message arriving late changes nothing. */
    assert_int_equal(store_apply(s, &old, 1, &changed), 0);
    assert_int_equal(changed, 0);
    assert_string_equal(vote_of("v1", buf, sizeof(buf)), "b");
    assert_int_equal(tally_diff(), 0);
    store_close(s);
}

static void test_store_replay_changes_nothing(void **state)
{
    struct store *s = open_store(pg.url);
    struct vote v[] = {mk("x", "a", 1), mk("y", "b", 2), mk("NULL", "a", 3)};
    size_t changed;

    assert_int_equal(store_apply(s, v, 3, &changed), 0);
    assert_int_equal(changed, 3);
    assert_int_equal(store_apply(s, v, 3, &changed), 0); /* redelivered */
    assert_int_equal(changed, 0);
    assert_int_equal(store_apply(s, v + 1, 1, &changed), 0);
    assert_int_equal(changed, 0);
    assert_int_equal(tally("a"), 2);
    assert_int_equal(tally("b"), 1);
    assert_int_equal(tk_pg_long(pg.url, "SELECT count(*) FROM votes"), 3);
    assert_int_equal(tally_diff(), 0);
    store_close(s);
}

static struct vote mk_e(const char *voter, const char *option, int64_t epoch,
                        uint64_t seq)
{
    struct vote v = mk(voter, option, seq);

    v.epoch = epoch;
    return v;
}

/* A re-created stream starts at sequence 1 again: (epoch, seq) orders the
 * votes, in a batch and against the table; a late message of the old
 * stream changes nothing; rows from before epochs (0) lose to any stream;
 * the change of epoch is reported once. */
static void test_store_epoch_then_seq(void **state)
{
    struct store *s = open_store(pg.url);
    struct vote old = mk_e("v1", "a", 100, 50), zero = mk("v2", "a", 90);
    struct vote fresh[] = {mk_e("v1", "b", 200, 1), mk_e("v2", "b", 200, 2),
                           mk_e("v3", "a", 100, 60), mk_e("v3", "b", 200, 3)};
    struct vote late = mk_e("v1", "a", 100, 70);
    size_t changed;
    int64_t was;
    char buf[16];

    assert_int_equal(store_apply(s, &old, 1, &changed), 0);
    assert_int_equal(store_apply(s, &zero, 1, &changed), 0); /* epoch 0 */
    assert_int_equal(store_apply(s, fresh, 4, &changed), 0);
    assert_int_equal(changed, 3);
    assert_string_equal(vote_of("v1", buf, sizeof(buf)), "b");
    assert_string_equal(vote_of("v2", buf, sizeof(buf)), "b");
    assert_string_equal(vote_of("v3", buf, sizeof(buf)), "b");
    assert_int_equal(store_apply(s, &late, 1, &changed), 0); /* redelivery */
    assert_int_equal(changed, 0);
    assert_string_equal(vote_of("v1", buf, sizeof(buf)), "b");
    assert_int_equal(tally("b"), 3);
    assert_int_equal(tally_diff(), 0);

    exec_sql(pg.url, "UPDATE worker_stream SET epoch = 0");
    assert_int_equal(store_note_epoch(s, 100, &was), 0);
    assert_int_equal(was, 0);
    assert_int_equal(store_note_epoch(s, 100, &was), 0);
    assert_int_equal(was, 100); /* unchanged: nothing to report */
    assert_int_equal(store_note_epoch(s, 200, &was), 0);
    assert_int_equal(was, 100);
    assert_int_equal(tk_pg_long(pg.url, "SELECT epoch FROM worker_stream"),
                     200);
    store_close(s);
}

/* Epochs come from Postgres, in the order streams are first seen: a
 * stream made later whose creation time (another NATS node's clock) is
 * behind the one before still gets a higher epoch, and every worker gets
 * the same epoch for the same stream. Fails with epoch = creation time. */
static void test_store_epochs_from_one_clock(void **state)
{
    struct store *a = open_store(pg.url), *b = open_store(pg.url);
    struct vote before = mk_e("skew", "a", 0, 900),
                after = mk_e("skew", "b", 0, 1);
    int64_t e1, e2, e2b, e3;
    size_t changed;
    char buf[16];

    exec_sql(pg.url,
             "TRUNCATE stream_epochs; UPDATE worker_stream SET epoch = 0");
    assert_int_equal(store_epoch_of(a, 5000, &e1), 0);
    assert_int_equal(e1, 5000); /* the creation time when it is higher */
    assert_int_equal(store_epoch_of(a, 5000, &e2), 0);
    assert_int_equal(e2, 5000); /* the same stream: the same epoch */
    /* The next stream's meta leader is 3 units behind: */
    assert_int_equal(store_epoch_of(b, 4997, &e2), 0);
    assert_true(e2 > e1);
    assert_int_equal(store_epoch_of(a, 4997, &e2b), 0);
    assert_int_equal(e2b, e2); /* another worker agrees */
    assert_int_equal(store_epoch_of(a, 9000, &e3), 0);
    assert_int_equal(e3, 9000);
    /* A vote of the skewed stream wins over the row from the one before. */
    before.epoch = e1;
    after.epoch = e2;
    assert_int_equal(store_apply(a, &before, 1, &changed), 0);
    assert_int_equal(store_apply(a, &after, 1, &changed), 0);
    assert_string_equal(vote_of("skew", buf, sizeof(buf)), "b");
    store_close(a);
    store_close(b);
}

struct writer {
    int id;
    unsigned seed;
    int retries;
};

/* Writer k applies votes with sequences k, k+2, k+4...: together the two
 * writers cover every sequence once, racing on the same voters. */
static void *writer_thread(void *arg)
{
    struct writer *w = arg;
    struct store *s = open_store(pg.url);
    struct vote v[BATCH];
    char voter[16];
    size_t changed;
    int b, i;

    for (b = 0; b < BATCHES; b++) {
        for (i = 0; i < BATCH; i++) {
            uint64_t seq = (uint64_t)(b * BATCH + i) * 2 + (uint64_t)w->id;
            unsigned h = (unsigned)(seq * 2654435761u);

            snprintf(voter, sizeof(voter), "v%u", (h >> 8) % VOTERS);
            v[i] = mk(voter, (h >> 4) & 1 ? "a" : "b", seq);
        }
        while (store_apply(s, v, BATCH, &changed) != 0)
            w->retries++; /* deadlock or serialization: retry as is */
    }
    store_close(s);
    return NULL;
}

static void test_store_two_writers_exact(void **state)
{
    struct writer w[2] = {{0, 1, 0}, {1, 2, 0}};
    pthread_t t[2];
    char expect[VOTERS], buf[16], voter[16];
    uint64_t seq, last = 2ULL * BATCHES * BATCH;
    int i;

    pthread_create(&t[0], NULL, writer_thread, &w[0]);
    pthread_create(&t[1], NULL, writer_thread, &w[1]);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    memset(expect, 0, sizeof(expect));
    for (seq = 0; seq < last; seq++) {
        unsigned h = (unsigned)(seq * 2654435761u);

        expect[(h >> 8) % VOTERS] = (h >> 4) & 1 ? 'a' : 'b';
    }
    for (i = 0; i < VOTERS; i += 7) {
        snprintf(voter, sizeof(voter), "v%d", i);
        assert_int_equal(vote_of(voter, buf, sizeof(buf))[0], expect[i]);
    }
    assert_int_equal(tk_pg_long(pg.url, "SELECT count(*) FROM votes"), VOTERS);
    assert_int_equal(tally_diff(), 0);
    assert_int_equal(tally("a") + tally("b"), VOTERS);
    fprintf(stderr, "two writers: %d + %d retries\n", w[0].retries,
            w[1].retries);
}

static void test_store_migrate_adopts_classic_table(void **state)
{
    char url[200];
    struct store *s;

    exec_sql(pg.url, "DROP DATABASE IF EXISTS classic");
    exec_sql(pg.url, "CREATE DATABASE classic");
    snprintf(url, sizeof(url), "%s dbname=classic", pg.url);
    exec_sql(url,
             "CREATE TABLE votes (id VARCHAR(255) NOT NULL UNIQUE,"
             " vote VARCHAR(255) NOT NULL);"
             "INSERT INTO votes VALUES ('x', 'a'), ('y', 'a'), ('z', 'b')");
    s = open_store(url);
    assert_int_equal(store_migrate(s), 0);
    assert_int_equal(store_migrate(s), 0); /* idempotent */
    {
        struct vote v = mk("x", "b", 1);
        size_t changed;

        assert_int_equal(store_apply(s, &v, 1, &changed), 0);
        assert_int_equal(changed, 1);
    }
    store_close(s);
    {
        PGconn *c = PQconnectdb(url);
        PGresult *r = PQexec(c, "SELECT vote, count FROM tallies ORDER BY 1");

        assert_int_equal(PQntuples(r), 2);
        assert_string_equal(PQgetvalue(r, 0, 1), "1");
        assert_string_equal(PQgetvalue(r, 1, 1), "2");
        PQclear(r);
        /* The classic column, kept, compared byte by byte in its index. */
        r = PQexec(c, "SELECT data_type, character_maximum_length,"
                      " collation_name, is_nullable"
                      " FROM information_schema.columns"
                      " WHERE table_name = 'votes' AND column_name = 'id'");
        assert_int_equal(PQntuples(r), 1);
        assert_string_equal(PQgetvalue(r, 0, 0), "character varying");
        assert_string_equal(PQgetvalue(r, 0, 1), "255");
        assert_string_equal(PQgetvalue(r, 0, 2), "C");
        assert_string_equal(PQgetvalue(r, 0, 3), "NO");
        PQclear(r);
        PQfinish(c);
    }
}

static void test_store_reconnects(void **state)
{
    struct store *s = open_store(pg.url);
    struct vote v = mk("r", "a", 1);
    size_t changed;

    assert_int_equal(fixture_stop(&pg), 0);
    assert_int_equal(store_apply(s, &v, 1, &changed), -EIO);
    assert_int_equal(store_connected(s), 0);
    assert_int_equal(store_reconnect(s), -ECONNREFUSED);
    assert_int_equal(fixture_resume(&pg), 0);
    assert_int_equal(store_reconnect(s), 0);
    assert_int_equal(store_apply(s, &v, 1, &changed), 0);
    assert_int_equal(changed, 1);
    store_close(s);
}

/* 0 when sql succeeds as the role in url, else its SQLSTATE's class
 * as a number (42: insufficient privilege and friends). */
static int try_sql(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, sql);
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int rc = PQresultStatus(r) == PGRES_COMMAND_OK ||
                     PQresultStatus(r) == PGRES_TUPLES_OK
                 ? 0
                 : (state ? (state[0] - '0') * 10 + (state[1] - '0') : -1);

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* The roles of compose/postgres/roles.sh, as compose runs them: the worker
 * migrates without being a superuser, result may read the tallies and do
 * nothing else. */
static void test_store_roles(void **state)
{
    char db[200], worker[240], result[240], cmd[512];
    char pw[] = "/tmp/store_test_pw.XXXXXX";
    struct store *s;
    struct vote v = mk("r1", "a", 1);
    size_t changed;
    int fd = mkstemp(pw);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "pw\n", 3), 3);
    close(fd);
    exec_sql(pg.url, "DROP DATABASE IF EXISTS roles");
    exec_sql(pg.url, "CREATE DATABASE roles");
    snprintf(cmd, sizeof(cmd),
             "PGHOST=127.0.0.1 PGPORT=%u POSTGRES_USER=postgres "
             "POSTGRES_DB=roles POSTGRES_WORKER_PASSWORD_FILE=%s "
             "POSTGRES_RESULT_PASSWORD_FILE=%s sh compose/postgres/roles.sh",
             pg.port, pw, pw);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(system(cmd), 0); /* idempotent: rotation, adoption */
    snprintf(cmd, sizeof(cmd),
             "POSTGRES_WORKER_PASSWORD_FILE=/nonexistent "
             "sh compose/postgres/roles.sh 2>/dev/null");
    assert_int_equal(WEXITSTATUS(system(cmd)), 2); /* names the variable */
    unlink(pw);

    snprintf(db, sizeof(db), "%s dbname=roles", pg.url);
    snprintf(worker, sizeof(worker), "%s user=worker", db);
    snprintf(result, sizeof(result), "%s user=result", db);
    s = open_store(worker);
    assert_int_equal(store_migrate(s), 0);
    assert_int_equal(store_apply(s, &v, 1, &changed), 0);
    store_close(s);

    assert_int_equal(try_sql(result, "SELECT vote, count FROM tallies"), 0);
    assert_int_equal(try_sql(result, "LISTEN " CONTRACT_PG_CHANNEL), 0);
    assert_int_equal(try_sql(result, "SELECT id FROM votes"), 42);
    assert_int_equal(try_sql(result, "INSERT INTO tallies VALUES ('a', 9)"),
                     42);
    assert_int_equal(try_sql(result, "UPDATE tallies SET count = 0"), 42);
    assert_int_equal(try_sql(result, "CREATE TABLE x (i INT)"), 42);
    assert_int_equal(try_sql(result, "CREATE TEMP TABLE x (i INT)"), 42);
    assert_int_equal(try_sql(worker, "COPY tallies TO PROGRAM 'id'"), 42);
    assert_int_equal(try_sql(worker, "CREATE ROLE x"), 42);
}

/* Runs sql on a new connection and keeps it open (a lock held). */
static PGconn *hold(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r;

    assert_int_equal(PQstatus(c), CONNECTION_OK);
    r = PQexec(c, sql);
    assert_true(PQresultStatus(r) == PGRES_COMMAND_OK ||
                PQresultStatus(r) == PGRES_TUPLES_OK);
    PQclear(r);
    return c;
}

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* roles.sh's POSTGRES_RESULT_CONNECTION_LIMIT, crossed: result's fourth
 * connection is refused (53300) while the worker still connects; a bad
 * limit stops roles.sh (exit 2). */
static void test_store_result_connection_limit(void **state)
{
    char cmd[512], result[240], worker[240];
    char pw[] = "/tmp/store_test_pw.XXXXXX";
    PGconn *held[3], *extra;
    struct store *s;
    int i, fd = mkstemp(pw);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "pw\n", 3), 3);
    close(fd);
    snprintf(cmd, sizeof(cmd),
             "PGHOST=127.0.0.1 PGPORT=%u POSTGRES_DB=roles "
             "POSTGRES_WORKER_PASSWORD_FILE=%s POSTGRES_RESULT_PASSWORD_FILE=%s"
             " POSTGRES_RESULT_CONNECTION_LIMIT=%s sh compose/postgres/roles.sh"
             " >/dev/null 2>&1",
             pg.port, pw, pw, "x3");
    assert_int_equal(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof(cmd),
             "PGHOST=127.0.0.1 PGPORT=%u POSTGRES_DB=roles "
             "POSTGRES_WORKER_PASSWORD_FILE=%s POSTGRES_RESULT_PASSWORD_FILE=%s"
             " POSTGRES_RESULT_CONNECTION_LIMIT=%s sh compose/postgres/roles.sh"
             " >/dev/null",
             pg.port, pw, pw, "3");
    assert_int_equal(system(cmd), 0);
    unlink(pw);
    snprintf(result, sizeof(result), "%s dbname=roles user=result", pg.url);
    snprintf(worker, sizeof(worker), "%s dbname=roles user=worker", pg.url);
    assert_int_equal(tk_pg_long(pg.url, "SELECT rolconnlimit FROM pg_roles"
                                        " WHERE rolname = 'worker'"),
                     50);

    for (i = 0; i < 3; i++)
        held[i] = hold(result, "SELECT count(*) FROM tallies");
    extra = PQconnectdb(result);
    assert_int_equal(PQstatus(extra), CONNECTION_BAD);
    assert_non_null(strstr(PQerrorMessage(extra), "too many connections"));
    PQfinish(extra);
    s = open_store(worker); /* the worker is not starved */
    assert_int_equal(store_migrate(s), 0);
    store_close(s);
    for (i = 0; i < 3; i++)
        PQfinish(held[i]);
    extra = PQconnectdb(result); /* and result may connect again after */
    assert_int_equal(PQstatus(extra), CONNECTION_OK);
    PQfinish(extra);
}

/* The migration lock: result holding the old advisory lock, and every
 * lock a role without rights can hold on worker_schema (a PREPAREd INSERT
 * takes ROW EXCLUSIVE before the privilege check), stops no worker; result
 * may not LOCK the table; a superuser holding it makes store_migrate fail
 * within the bound, and it succeeds once released. */
static void test_store_migrate_lock(void **state)
{
    char db[200], result[240], worker[240];
    PGconn *adv, *prep, *su;
    struct store *s;
    double t;

    snprintf(result, sizeof(result), "%s dbname=roles user=result", pg.url);
    snprintf(worker, sizeof(worker), "%s dbname=roles user=worker", pg.url);
    adv = hold(result, "SELECT pg_advisory_lock(x'766f746573'::bigint)");
    prep = hold(result, "BEGIN; PREPARE p AS INSERT INTO worker_schema"
                        " VALUES (9); PREPARE q AS SELECT * FROM worker_schema"
                        " FOR UPDATE");
    assert_int_equal(try_sql(result, "BEGIN; LOCK TABLE worker_schema IN "
                                     "SHARE UPDATE EXCLUSIVE MODE"),
                     42);
    s = open_store(worker);
    t = now_s();
    assert_int_equal(store_migrate(s), 0);
    assert_true(now_s() - t < 2.0);
    PQfinish(adv);
    PQfinish(prep);

    snprintf(db, sizeof(db), "%s dbname=roles", pg.url); /* superuser */
    su = hold(db, "BEGIN; LOCK TABLE worker_schema IN ACCESS EXCLUSIVE MODE");
    t = now_s();
    assert_int_equal(store_migrate(s), -EAGAIN);
    t = now_s() - t;
    assert_true(t >= 4.5 && t < 10.0);
    PQfinish(su);
    assert_int_equal(store_migrate(s), 0);
    store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_store_a_then_b_in_one_batch, truncate_all),
        cmocka_unit_test_setup(test_store_a_then_b_across_batches,
                               truncate_all),
        cmocka_unit_test_setup(test_store_replay_changes_nothing, truncate_all),
        cmocka_unit_test_setup(test_store_epoch_then_seq, truncate_all),
        cmocka_unit_test_setup(test_store_epochs_from_one_clock, truncate_all),
        cmocka_unit_test_setup(test_store_two_writers_exact, truncate_all),
        cmocka_unit_test(test_store_migrate_adopts_classic_table),
        cmocka_unit_test_setup(test_store_reconnects, truncate_all),
        cmocka_unit_test(test_store_roles),
        cmocka_unit_test(test_store_result_connection_limit),
        cmocka_unit_test(test_store_migrate_lock),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
