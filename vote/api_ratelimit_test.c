/* api_ratelimit_test.c - VOTE_RATE_PER_MIN through the real service (real
 * nats-server -js and redis-server): a flood from one address gets 429
 * with Retry-After and a JSON message, and none of it is published, while
 * another address votes freely; after Retry-After the address votes again
 * by itself. X-Forwarded-For counts only from a trusted proxy, and there
 * only its right-most entry: a client's own header changes nothing.
 * Clients take distinct loopback addresses (127.0.0.2, ...). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "vote/testhttp.h"
#include "vote/teststack.h"

#define PER_MIN "12" /* a token every 5 s */
#define BURST   5

static struct teststack g_stack;

static int setup(void **state)
{
    setenv("VOTE_RATE_PER_MIN", PER_MIN, 1);
    setenv("VOTE_RATE_BURST", "5", 1);
    setenv("VOTE_TRUSTED_PROXIES", "127.0.0.1", 1);
    teststack_start(&g_stack, 16);
    *state = &g_stack;
    return 0;
}

static int teardown(void **state)
{
    teststack_stop(&g_stack);
    return 0;
}

/* POST /api/vote of a new voter from address `from` with extra headers;
 * the status, the answer in r. */
static int vote_from(struct teststack *s, const char *from, const char *extra,
                     struct testhttp_resp *r)
{
    static unsigned n;
    char req[1024], voter[64];

    snprintf(voter, sizeof(voter), "rl-%u", n++);
    assert_int_equal(testhttp_vote_request(req, sizeof(req), extra, "a", voter),
                     0);
    return testhttp_once_from(from, s->port, req, r);
}

/* A 429 as documented: Retry-After 1..5 s, a JSON error naming who. */
static unsigned assert_limited(const struct testhttp_resp *r, const char *who)
{
    char retry[16];
    const char *msg;
    json_t *j;
    unsigned s;

    assert_int_equal(r->status, 429);
    assert_int_equal(testhttp_header(r, "Retry-After", retry, sizeof(retry)),
                     0);
    s = (unsigned)strtoul(retry, NULL, 10);
    assert_true(s >= 1 && s <= 5);
    j = json_loads(r->body, 0, NULL);
    assert_non_null(j);
    msg = json_string_value(json_object_get(j, "error"));
    assert_non_null(msg);
    if (!strstr(msg, who))
        fail_msg("429 message does not name %s: %s", who, msg);
    json_decref(j);
    return s;
}

static void test_ratelimit_flood_limited_others_free(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;
    uint64_t before = teststack_stream_msgs(s);
    unsigned ok = 0, limited = 0, i, wait = 0;

    for (i = 0; i < 40; i++) {
        if (vote_from(s, "127.0.0.2", "", &r) == 200) {
            ok++;
        } else {
            wait = assert_limited(&r, "127.0.0.2");
            limited++;
        }
        /* another address, between the flood's votes: never limited */
        if (i % 8 == 0)
            assert_int_equal(vote_from(s, "127.0.0.3", "", &r), 200);
    }
    print_message("flood of 40 from 127.0.0.2: %u accepted, %u refused (429, "
                  "Retry-After %u s); 127.0.0.3: 5 of 5 accepted\n",
                  ok, limited, wait);
    assert_int_equal(ok, BURST);
    assert_int_equal(limited, 40 - BURST);
    /* nothing refused was published: the burst and 127.0.0.3's five */
    assert_int_equal(teststack_stream_msgs(s), before + BURST + 5);
    assert_true(teststack_metric(s, "vote_rate_limited_total") >= limited);
    /* recovers by itself: after Retry-After one more vote, then 429 */
    mono_sleep_ms(wait * 1000 + 100);
    assert_int_equal(vote_from(s, "127.0.0.2", "", &r), 200);
    assert_int_equal(vote_from(s, "127.0.0.2", "", &r), 429);
}

/* A client that is no trusted proxy names other addresses in its own
 * X-Forwarded-For: its own address is still the one counted. */
static void test_ratelimit_spoofed_header_ignored(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;
    char xff[96];
    unsigned i;

    for (i = 0; i < BURST; i++) {
        snprintf(xff, sizeof(xff), "X-Forwarded-For: 203.0.113.%u\r\n", i);
        assert_int_equal(vote_from(s, "127.0.0.4", xff, &r), 200);
    }
    assert_int_equal(vote_from(s, "127.0.0.4",
                               "X-Forwarded-For: 203.0.113.99\r\n"
                               "X-Forwarded-For: 127.0.0.5\r\n",
                               &r),
                     429);
    assert_limited(&r, "127.0.0.4");
    assert_int_equal(vote_from(s, "127.0.0.5", "", &r), 200);
}

/* From the trusted proxy (127.0.0.1), the right-most entry is the client:
 * what a client put in front of it does not move the count. */
static void test_ratelimit_trusted_proxy(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;
    char xff[96];
    unsigned i;

    for (i = 0; i < BURST; i++) {
        snprintf(xff, sizeof(xff),
                 "X-Forwarded-For: 10.9.9.%u, 198.51.100.7\r\n", i);
        assert_int_equal(vote_from(s, "127.0.0.1", xff, &r), 200);
    }
    assert_int_equal(
        vote_from(s, "127.0.0.1", "X-Forwarded-For: 198.51.100.7\r\n", &r),
        429);
    assert_limited(&r, "198.51.100.7");
    assert_int_equal(
        vote_from(s, "127.0.0.1", "X-Forwarded-For: 198.51.100.8\r\n", &r),
        200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_flood_limited_others_free),
        cmocka_unit_test(test_ratelimit_spoofed_header_ignored),
        cmocka_unit_test(test_ratelimit_trusted_proxy),
    };

    log_init("api_ratelimit_test", "error");
    return cmocka_run_group_tests(tests, setup, teardown);
}
