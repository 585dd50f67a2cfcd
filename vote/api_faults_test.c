/* api_faults_test.c - the service while NATS or Redis is down: never a
 * 200 for a vote without its PubAck, 503 with Retry-After instead, and
 * back to 200 when NATS returns; votes still acknowledged without Redis. */
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
    char req[256], body[64];
    int i;

    assert_non_null(r);
    for (i = 0; !atomic_load(&p->stop); i++) {
        if (testhttp_connect(&h, p->s->port))
            break;
        snprintf(body, sizeof(body), "{\"vote\":\"b\",\"voter_id\":\"p%d\"}",
                 i);
        snprintf(req, sizeof(req),
                 "POST /api/vote HTTP/1.1\r\nHost: t\r\n"
                 "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                 "\r\n%s",
                 strlen(body), body);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_nats_down_never_200),
        cmocka_unit_test(test_faults_redis_down_still_200),
    };
    int rc;

    log_init("api_faults_test", "error");
    rc = cmocka_run_group_tests(tests, setup, teardown);
    nats_Close();
    return rc;
}
