/* api_faults_test.c - the service while NATS or Redis is down: never a
 * 200 for a vote without its PubAck, 503 with Retry-After instead, and
 * back to 200 when NATS returns; votes still acknowledged without Redis;
 * /readyz names each of the two that is down; a full stream answers 503;
 * a Redis past its maxmemory (noeviction: writes refused, as compose runs
 * it) loses no vote either. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "vote/teststack.h"

#define JSON "application/json"

static struct teststack g_stack;

static int setup(void **state)
{
    teststack_start(&g_stack, 16);
    *state = &g_stack;
    return 0;
}

static int teardown(void **state)
{
    teststack_stop(&g_stack);
    return 0;
}

/* Posts votes in a loop on one keep-alive connection, counting answers. */
struct poster {
    struct teststack *s;
    atomic_int stop;
    int ok, unavailable, other;
};

static void *post_loop(void *arg)
{
    struct poster *p = arg;
    struct testhttp_resp *r = calloc(1, sizeof(*r));
    struct testhttp h;
    char req[256], voter[16];
    int i;

    assert_non_null(r);
    for (i = 0; !atomic_load(&p->stop); i++) {
        if (testhttp_connect(&h, p->s->port))
            break;
        snprintf(voter, sizeof(voter), "p%d", i);
        assert_int_equal(
            testhttp_vote_request(req, sizeof(req), "", "b", voter), 0);
        if (testhttp_send(&h, req, r) == 0 && r->status == 200)
            p->ok++;
        else if (r->status == 503)
            p->unavailable++;
        else
            p->other++;
        testhttp_close(&h);
    }
    free(r);
    return NULL;
}

static void test_faults_nats_down_never_200(void **state)
{
    struct teststack *s = *state;
    struct poster p = {.s = s};
    struct testhttp_resp r;
    char retry[16];
    uint64_t before = teststack_stream_msgs(s);
    pthread_t t;
    int i;

    assert_int_equal(pthread_create(&t, NULL, post_loop, &p), 0);
    nats_Sleep(300);
    assert_int_equal(fixture_stop(&s->nats), 0); /* while votes flow */
    assert_int_equal(teststack_wait_ready(s, 503, 5000), 0);
    for (i = 0; i < 10; i++) {
        assert_int_equal(
            teststack_post(s, "/api/vote", JSON, "", "{\"vote\":\"a\"}", &r),
            503);
        assert_int_equal(
            testhttp_header(&r, "Retry-After", retry, sizeof(retry)), 0);
        assert_non_null(strstr(r.body, "\"error\""));
    }
    assert_int_equal(teststack_get(s, "/readyz", "", &r), 503);
    assert_non_null(strstr(r.body, "nats"));
    assert_true(teststack_metric(s, "vote_publish_errors_total") >= 10);
    nats_Sleep(500); /* the poster sees NATS down too */

    assert_int_equal(fixture_resume(&s->nats), 0);
    assert_int_equal(teststack_wait_ready(s, 200, 10000), 0);
    nats_Sleep(300);
    atomic_store(&p.stop, 1);
    pthread_join(t, NULL);
    assert_int_equal(p.other, 0);
    assert_true(p.ok > 0);
    assert_true(p.unavailable > 0);
    /* Every 200 is in the stream (a 503 may be too: its publish can land
     * after the answer; never the other way round). */
    assert_true(teststack_stream_msgs(s) >= before + (uint64_t)p.ok);
    assert_int_equal(teststack_post(s, "/api/vote", JSON, "",
                                    "{\"vote\":\"a\",\"voter_id\":\"back\"}",
                                    &r),
                     200);
}

static void test_faults_redis_down_still_200(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;
    uint64_t before = teststack_stream_msgs(s);
    double errors = teststack_metric(s, "vote_redis_errors_total");

    assert_int_equal(fixture_stop(&s->redis), 0);
    assert_int_equal(teststack_post(s, "/api/vote", JSON, "",
                                    "{\"vote\":\"a\",\"voter_id\":\"r1\"}", &r),
                     200);
    assert_int_equal(teststack_post(s, "/api/vote", JSON, "",
                                    "{\"vote\":\"b\",\"voter_id\":\"r2\"}", &r),
                     200);
    assert_int_equal(teststack_stream_msgs(s), before + 2);
    assert_true(teststack_metric_reach(s, "vote_redis_errors_total",
                                       errors + 2) >= errors + 2);
    assert_int_equal(teststack_wait_ready(s, 503, 3000), 0);
    assert_int_equal(teststack_get(s, "/readyz", "", &r), 503);
    assert_non_null(strstr(r.body, "redis"));
    assert_int_equal(teststack_get(s, "/api/vote?voter_id=r1", "", &r), 503);

    assert_int_equal(fixture_resume(&s->redis), 0);
    assert_int_equal(teststack_wait_ready(s, 200, 10000), 0);
    assert_int_equal(teststack_post(s, "/api/vote", JSON, "",
                                    "{\"vote\":\"b\",\"voter_id\":\"r3\"}", &r),
                     200);
    teststack_redis_expect(s, "r3", "b");
}

/* redis-cli against the fixture's Redis (no ACL there): 0 on success. */
static int redis_cli(struct teststack *s, const char *args)
{
    char cmd[256];

    snprintf(cmd, sizeof(cmd), "redis-cli -p %u %s >/dev/null", s->redis.port,
             args);
    return system(cmd);
}

/* Redis full (maxmemory crossed, noeviction: every HSET answers OOM):
 * votes are still acknowledged and in the stream (the record), each lost
 * Redis write is counted; writes land again once Redis has room. */
static void test_faults_redis_full_still_200(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;
    uint64_t before;
    double errors;
    char body[64];
    int i;

    assert_int_equal(teststack_wait_ready(s, 200, 10000), 0);
    before = teststack_stream_msgs(s);
    errors = teststack_metric(s, "vote_redis_errors_total");
    assert_int_equal(redis_cli(s, "CONFIG SET maxmemory-policy noeviction"), 0);
    assert_int_equal(redis_cli(s, "CONFIG SET maxmemory 1"), 0);
    for (i = 0; i < 20; i++) {
        snprintf(body, sizeof(body), "{\"vote\":\"a\",\"voter_id\":\"oom%d\"}",
                 i);
        assert_int_equal(teststack_post(s, "/api/vote", JSON, "", body, &r),
                         200);
    }
    assert_int_equal(teststack_stream_msgs(s), before + 20);
    /* every write refused (OOM) or not tried (Redis marked down), counted */
    assert_true(teststack_metric_reach(s, "vote_redis_errors_total",
                                       errors + 20) >= errors + 20);
    teststack_redis_expect(s, "oom0", "");
    teststack_redis_expect(s, "oom19", "");

    assert_int_equal(redis_cli(s, "CONFIG SET maxmemory 0"), 0);
    assert_int_equal(teststack_wait_ready(s, 200, 10000), 0);
    assert_int_equal(teststack_post(s, "/api/vote", JSON, "",
                                    "{\"vote\":\"b\",\"voter_id\":\"oom20\"}",
                                    &r),
                     200);
    teststack_redis_expect(s, "oom20", "b");
}

/* With NATS and Redis both down, /readyz names both: the operator sees all
 * there is to mend, not only the first. */
static void test_faults_both_down_readyz_names_both(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;
    int i, both = 0;

    assert_int_equal(fixture_stop(&s->redis), 0);
    assert_int_equal(fixture_stop(&s->nats), 0);
    for (i = 0; i < 200 && !both; i++) { /* each is noticed on its own */
        assert_int_equal(teststack_get(s, "/readyz", "", &r), 503);
        both = strstr(r.body, "nats: ") && strstr(r.body, "redis: ");
        if (!both)
            mono_sleep_ms(50);
    }
    if (!both)
        fail_msg("/readyz does not name both: %s", r.body);
    assert_int_equal(fixture_resume(&s->nats), 0);
    assert_int_equal(fixture_resume(&s->redis), 0);
    assert_int_equal(teststack_wait_ready(s, 200, 10000), 0);
}

/* A full VOTES (VOTES_MAX_BYTES, Discard=New) refuses the publish: the
 * answer is 503 with Retry-After and a JSON error, never a 200 whose vote
 * is dropped, and every vote answered 200 stays in the stream. */
static void test_faults_stream_full_503(void **state)
{
    static struct teststack full; /* its own stack: its own stream limits */
    struct testhttp_resp r;
    char body[64], retry[16];
    int i, ok = 0, refused = 0;

    setenv("VOTES_MAX_BYTES", "4096", 1);
    teststack_start(&full, 4);
    unsetenv("VOTES_MAX_BYTES");
    for (i = 0; i < 1000 && refused < 5; i++) {
        snprintf(body, sizeof(body), "{\"vote\":\"a\",\"voter_id\":\"f%d\"}",
                 i);
        switch (teststack_post(&full, "/api/vote", JSON, "", body, &r)) {
        case 200:
            assert_int_equal(refused, 0); /* full stays full */
            ok++;
            break;
        case 503:
            assert_int_equal(
                testhttp_header(&r, "Retry-After", retry, sizeof(retry)), 0);
            assert_non_null(strstr(r.body, "\"error\""));
            refused++;
            break;
        default:
            fail_msg("status %d: %s", r.status, r.body);
        }
    }
    assert_int_equal(refused, 5);
    assert_true(ok > 0);
    assert_true(teststack_stream_msgs(&full) >= (uint64_t)ok);
    assert_true(teststack_metric(&full, "vote_publish_errors_total") >= 5);
    teststack_stop(&full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_nats_down_never_200),
        cmocka_unit_test(test_faults_redis_down_still_200),
        cmocka_unit_test(test_faults_redis_full_still_200),
        cmocka_unit_test(test_faults_both_down_readyz_names_both),
        cmocka_unit_test(test_faults_stream_full_503),
    };
    int rc;

    log_init("api_faults_test", "error");
    rc = cmocka_run_group_tests(tests, setup, teardown);
    nats_Close();
    return rc;
}
