/* voters_test.c - the Redis writer and pool against a real redis-server:
 * queued writes land and are read back, in order; many writes from many
 * threads all land; failing fast and counting while Redis is down;
 * recovery through voters_check(). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "lib/config/config.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "tests/fixture/fixture.h"
#include "vote/voters.h"

#define THREADS          8
#define VOTES_PER_THREAD 2000

struct env {
    struct fixture f;
    struct metrics *m;
    struct metric *errors;
    struct voters *v;
};

/* timeout_ms: Redis timeouts, also how long a write waits for room in a
 * full queue (generous where the test is about load, not outages). */
static void start(struct env *e, unsigned timeout_ms)
{
    struct config_url url;

    assert_int_equal(fixture_start(&e->f, FIXTURE_REDIS), 0);
    assert_int_equal(config_parse_url(e->f.url, "redis", 6379, &url), 0);
    assert_int_equal(metrics_new(&e->m), 0);
    e->errors = metrics_counter(e->m, "errors", "E.");
    assert_int_equal(voters_open(&e->v, &url, timeout_ms, e->errors), 0);
}

static void stop(struct env *e)
{
    voters_close(e->v);
    metrics_free(e->m);
    fixture_destroy(&e->f);
}

/* HLEN voters, straight from Redis. */
static long long hlen(struct env *e)
{
    redisContext *rc = redisConnect("127.0.0.1", e->f.port);
    redisReply *r;
    long long n;

    assert_non_null(rc);
    assert_int_equal(rc->err, 0);
    r = redisCommand(rc, "HLEN %s", VOTERS_KEY);
    assert_non_null(r);
    n = r->integer;
    freeReplyObject(r);
    redisFree(rc);
    return n;
}

static void test_voters_record_then_get(void **state)
{
    struct env e;
    char out[16], why[128];

    start(&e, 300);
    assert_int_equal(voters_ready(e.v, why, sizeof(why)), -ENOTCONN);
    assert_int_equal(voters_record(e.v, "alice", "a"), -ENOTCONN); /* yet */
    assert_int_equal(metrics_value(e.errors), 1);
    assert_int_equal(voters_check(e.v), 0);
    assert_int_equal(voters_ready(e.v, why, sizeof(why)), 0);
    assert_int_equal(voters_record(e.v, "alice", "a"), 0);
    assert_int_equal(voters_record(e.v, "alice", "b"), 0);
    /* Read-your-writes: get waits for the queued writes, in order. */
    assert_int_equal(voters_get(e.v, "alice", out, sizeof(out)), 0);
    assert_string_equal(out, "b");
    assert_int_equal(voters_get(e.v, "nobody", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(voters_record(e.v, "x", "0123456789abcdefX"), -E2BIG);
    assert_int_equal(metrics_value(e.errors), 2);
    stop(&e);
}

/* The longest voter id and option are stored whole; one more character
 * is refused, not cut. */
static void test_voters_record_longest(void **state)
{
    char voter[VOTERS_VOTER_MAX + 2], option[VOTERS_OPTION_MAX + 2];
    char out[VOTERS_OPTION_MAX + 2];
    struct env e;

    memset(voter, 'v', VOTERS_VOTER_MAX);
    voter[VOTERS_VOTER_MAX] = '\0';
    memset(option, 'o', VOTERS_OPTION_MAX);
    option[VOTERS_OPTION_MAX] = '\0';
    start(&e, 300);
    assert_int_equal(voters_check(e.v), 0);
    assert_int_equal(voters_record(e.v, voter, option), 0);
    assert_int_equal(voters_get(e.v, voter, out, sizeof(out)), 0);
    assert_string_equal(out, option);
    memcpy(voter + VOTERS_VOTER_MAX, "w", 2);
    assert_int_equal(voters_record(e.v, voter, "a"), -E2BIG);
    memcpy(option + VOTERS_OPTION_MAX, "p", 2);
    assert_int_equal(voters_record(e.v, "x", option), -E2BIG);
    assert_int_equal(hlen(&e), 1);
    stop(&e);
}

static void *cast_many(void *arg)
{
    struct env *e = arg;
    static atomic_int next;
    int t = atomic_fetch_add(&next, 1), i;
    char voter[32];

    for (i = 0; i < VOTES_PER_THREAD; i++) {
        snprintf(voter, sizeof(voter), "t%d-%d", t, i);
        if (voters_record(e->v, voter, i % 2 ? "a" : "b"))
            return (void *)1;
    }
    return NULL;
}

/* 16,000 writes from 8 threads, faster than one round trip each: all in
 * Redis once voters_close() has sent the queue. */
static void test_voters_many_threads_all_land(void **state)
{
    struct env e;
    pthread_t th[THREADS];
    void *failed;
    int i;

    start(&e, 10000); /* a loaded machine may lag behind 8 threads */
    assert_int_equal(voters_check(e.v), 0);
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, cast_many, &e), 0);
    for (i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], &failed), 0);
        assert_null(failed);
    }
    voters_close(e.v);
    e.v = NULL;
    assert_int_equal(hlen(&e), THREADS * VOTES_PER_THREAD);
    assert_int_equal(metrics_value(e.errors), 0);
    stop(&e);
}

static void test_voters_down_and_back(void **state)
{
    struct env e;
    char out[16], why[128];
    int i;

    start(&e, 300);
    assert_int_equal(voters_check(e.v), 0);
    assert_int_equal(voters_record(e.v, "bob", "a"), 0);
    assert_int_equal(voters_get(e.v, "bob", out, sizeof(out)), 0);
    assert_int_equal(fixture_stop(&e.f), 0);
    /* Queued; the writer finds Redis gone, counts the write, marks down. */
    assert_int_equal(voters_record(e.v, "bob", "b"), 0);
    for (i = 0; i < 200 && voters_ready(e.v, why, sizeof(why)) == 0; i++)
        nanosleep(&(struct timespec){0, 10000000}, NULL);
    assert_int_equal(voters_ready(e.v, why, sizeof(why)), -ENOTCONN);
    assert_non_null(strstr(why, "redis"));
    assert_int_equal(metrics_value(e.errors), 1);
    assert_int_equal(voters_record(e.v, "bob", "b"), -ENOTCONN); /* fast */
    assert_int_equal(voters_get(e.v, "bob", out, sizeof(out)), -ENOTCONN);
    assert_int_equal(metrics_value(e.errors), 3);
    assert_int_not_equal(voters_check(e.v), 0);
    assert_int_equal(fixture_resume(&e.f), 0);
    assert_int_equal(voters_check(e.v), 0);
    assert_int_equal(voters_record(e.v, "bob", "b"), 0);
    assert_int_equal(voters_get(e.v, "bob", out, sizeof(out)), 0);
    assert_string_equal(out, "b");
    stop(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_voters_record_then_get),
        cmocka_unit_test(test_voters_record_longest),
        cmocka_unit_test(test_voters_many_threads_all_land),
        cmocka_unit_test(test_voters_down_and_back),
    };

    log_init("voters_test", "error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
