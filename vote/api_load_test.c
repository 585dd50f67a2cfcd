/* api_load_test.c - 32 client threads x 1,000 votes on keep-alive
 * connections: every vote answered 200, every one in the stream. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
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

#define THREADS 32
#define VOTES   1000

struct client {
    uint16_t port;
    int id;
    int ok;
};

static void *vote_many(void *arg)
{
    struct client *c = arg;
    struct testhttp_resp *r = calloc(1, sizeof(*r));
    struct testhttp h;
    char req[256], voter[16];
    int i;

    if (!r || testhttp_connect(&h, c->port)) {
        free(r);
        return NULL;
    }
    for (i = 0; i < VOTES; i++) {
        snprintf(voter, sizeof(voter), "t%02d-%d", c->id, i);
        if (testhttp_vote_request(req, sizeof(req), "", i % 2 ? "a" : "b",
                                  voter) ||
            testhttp_send(&h, req, r) || r->status != 200)
            break;
        c->ok++;
    }
    testhttp_close(&h);
    free(r);
    return NULL;
}

static void test_load_32_threads_all_acknowledged(void **state)
{
    struct teststack s;
    struct client c[THREADS];
    pthread_t t[THREADS];
    struct timespec t0, t1;
    double secs;
    int i, total = 0;

    teststack_start(&s, 48);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 0; i < THREADS; i++) {
        c[i] = (struct client){s.port, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, vote_many, &c[i]), 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        total += c[i].ok;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) +
           (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    print_message("%d votes in %.2f s: %.0f/s\n", total, secs, total / secs);
    assert_int_equal(total, THREADS * VOTES);
    assert_int_equal(teststack_stream_msgs(&s), THREADS * VOTES);
    assert_true(teststack_metric(&s, "vote_votes_total{option=\"a\"}") ==
                THREADS * VOTES / 2);
    assert_true(teststack_metric(&s, "vote_publish_pending") == 0);
    teststack_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_32_threads_all_acknowledged),
    };
    int rc;

    log_init("api_load_test", "error");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();
    return rc;
}
