/* tally_test.c - tally against a throwaway Postgres: no schema, votes,
 * the snapshot JSON, NOTIFY followed (coalesced), the safety refresh, and
 * a Postgres restart. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "result/pgtest.h"
#include "result/tally.h"
#include "lib/log/logcapture.h"
#include "lib/mono/mono.h"
#include "result/wstest.h"
#include "tests/fixture/fixture.h"

static const char *const LABELS[] = {"Cats", "Dogs \"the best\""};

/* What the tally thread reported. */
struct seen {
    pthread_mutex_t mu;
    struct tally_counts last;
    unsigned reads, changes;
};

static struct fixture pg;

static int group_setup(void **state)
{
    return fixture_start(&pg, FIXTURE_PG);
}

static int group_teardown(void **state)
{
    fixture_destroy(&pg);
    return 0;
}

static void on_read(void *arg, const struct tally_counts *c)
{
    struct seen *s = arg;

    pthread_mutex_lock(&s->mu);
    s->last = *c;
    s->reads++;
    s->changes += c->changed;
    pthread_mutex_unlock(&s->mu);
}

static struct tally *start(struct seen *s, unsigned refresh_ms)
{
    static struct pgconn_env env = {
        .host = "127.0.0.1", .db = "postgres", .user = "postgres"};
    struct tally_opts o = {
        .pg = &env, .refresh_ms = refresh_ms, .on_read = on_read, .arg = s};
    struct tally *t;

    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    env.port = pg.port;
    assert_int_equal(tally_start(&t, &o), 0);
    return t;
}

/* Waits up to ms until the reported total is `total`; the time it took. */
static long wait_total(struct seen *s, long long total, unsigned ms)
{
    int64_t t0 = mono_ms();
    struct timespec tick = {0, 2 * 1000000L};
    long long got;

    for (;;) {
        pthread_mutex_lock(&s->mu);
        got = s->reads ? s->last.votes[0] + s->last.votes[1] : -1;
        pthread_mutex_unlock(&s->mu);
        if (got == total)
            return (long)(mono_ms() - t0);
        if (mono_ms() - t0 > ms)
            return -ETIMEDOUT;
        nanosleep(&tick, NULL);
    }
}

static int wait_connected(struct tally *t, int up, unsigned ms)
{
    int64_t end = mono_ms() + ms;
    struct timespec tick = {0, 10 * 1000000L};

    while (tally_connected(t) != up) {
        if (mono_ms() > end)
            return -ETIMEDOUT;
        nanosleep(&tick, NULL);
    }
    return 0;
}

static void test_tally_no_schema_reads_zeros(void **state)
{
    struct tally_counts c;
    PGconn *conn = PQconnectdb(pg.url);

    assert_int_equal(PQstatus(conn), CONNECTION_OK);
    memset(&c, 0xff, sizeof(c));
    assert_int_equal(tally_read_once(conn, &c), 0);
    assert_int_equal(c.votes[0], 0);
    assert_int_equal(c.votes[1], 0);
    PQfinish(conn);
}

static void test_tally_reads_votes_and_formats(void **state)
{
    struct tally_counts c;
    PGconn *conn;
    char json[512];
    size_t len;

    assert_int_equal(pgtest_schema(pg.url), 0);
    assert_int_equal(pgtest_batch(pg.url, 3, 5, 1), 0);
    assert_int_equal(pgtest_votes(pg.url, "zz", 7, 1), 0); /* not shown */
    conn = PQconnectdb(pg.url);
    assert_int_equal(tally_read_once(conn, &c), 0);
    PQfinish(conn);
    assert_int_equal(c.votes[0], 3);
    assert_int_equal(c.votes[1], 5);
    c.as_of.tv_sec = 1795456800; /* 2026-11-23T18:00:00Z */
    c.as_of.tv_nsec = 7000000;
    assert_int_equal(tally_format(&c, LABELS, json, sizeof(json), &len), 0);
    assert_string_equal(json, "{\"options\":[{\"id\":\"a\",\"label\":\"Cats\","
                              "\"votes\":3},{\"id\":\"b\",\"label\":\"Dogs "
                              "\\\"the best\\\"\",\"votes\":5}],\"total\":8,"
                              "\"as_of\":\"2026-11-23T18:00:00.007Z\"}");
    assert_int_equal(len, strlen(json));
    assert_int_equal(tally_format(&c, LABELS, json, 20, &len), -ENOSPC);
    assert_int_equal(pgtest_exec(pg.url, "TRUNCATE votes, tallies"), 0);
}

/* A committed batch shows within 1 s; a burst is coalesced into a few
 * reads (at most one per TALLY_MIN_GAP_MS) that end on the last state. */
static void test_tally_follows_notify(void **state)
{
    struct seen s;
    struct tally *t = start(&s, 5000);
    int64_t t0;
    unsigned reads;
    long took;
    int i;

    assert_true(wait_total(&s, 0, 10000) >= 0);
    assert_int_equal(tally_connected(t), 1);
    assert_int_equal(pgtest_batch(pg.url, 2, 1, 1), 0);
    took = wait_total(&s, 3, 1000);
    assert_true(took >= 0);
    print_message("batch -> read in %ld ms\n", took);
    pthread_mutex_lock(&s.mu);
    reads = s.reads;
    pthread_mutex_unlock(&s.mu);
    t0 = mono_ms();
    for (i = 0; i < 40; i++)
        assert_int_equal(pgtest_batch(pg.url, 1, 0, 1), 0);
    assert_true(wait_total(&s, 43, 1000) >= 0);
    pthread_mutex_lock(&s.mu);
    reads = s.reads - reads;
    pthread_mutex_unlock(&s.mu);
    print_message("40 batches in %lu ms -> %u reads\n",
                  (unsigned long)(mono_ms() - t0), reads);
    assert_true(reads <= (mono_ms() - t0) / TALLY_MIN_GAP_MS + 2);
    tally_stop(t);
}

static void test_tally_safety_refresh(void **state)
{
    struct seen s;
    struct tally *t = start(&s, 300);
    long long before;

    assert_true(wait_total(&s, 43, 10000) >= 0);
    before = 43;
    assert_int_equal(pgtest_batch(pg.url, 0, 5, 0), 0); /* no NOTIFY */
    assert_true(wait_total(&s, before + 5, 2000) >= 0);
    tally_stop(t);
}

/* Postgres restarts: the tally reconnects and reads on, and its log says
 * where it lost and found Postgres (the port a number). */
static void test_tally_reconnects_after_restart(void **state)
{
    struct seen s;
    struct tally *t;
    const char *logged;
    char want[96];

    logcapture_start();
    t = start(&s, 5000);
    assert_true(wait_total(&s, 48, 10000) >= 0);
    assert_int_equal(fixture_stop(&pg), 0);
    assert_int_equal(wait_connected(t, 0, 10000), 0);
    assert_int_equal(fixture_resume(&pg), 0);
    assert_int_equal(wait_connected(t, 1, 15000), 0);
    assert_int_equal(pgtest_batch(pg.url, 1, 1, 1), 0);
    assert_true(wait_total(&s, 50, 1000) >= 0);
    tally_stop(t);
    logged = logcapture_drain();
    logcapture_stop();
    snprintf(want, sizeof(want),
             "\"event\":\"pg_connected\",\"host\":\"127.0.0.1\",\"port\":%u}",
             pg.port);
    assert_non_null(strstr(logged, want));
    assert_non_null(strstr(
        logged, "\"event\":\"pg_disconnected\",\"host\":\"127.0.0.1\"}"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tally_no_schema_reads_zeros),
        cmocka_unit_test(test_tally_reads_votes_and_formats),
        cmocka_unit_test(test_tally_follows_notify),
        cmocka_unit_test(test_tally_safety_refresh),
        cmocka_unit_test(test_tally_reconnects_after_restart),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
