/* ratelimit_test.c - the token bucket (burst, refill, Retry-After, one
 * address never limiting another), and the table's bound under many
 * addresses. Which address is counted: lib/clientaddr. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/clientaddr/clientaddr.h"
#include "vote/ratelimit.h"

static struct clientaddr addr(const char *s)
{
    struct clientaddr a;

    assert_int_equal(clientaddr_parse(s, &a), 0);
    return a;
}

/* 60/min, burst 5: five at once, the sixth waits 1 s; a second later one
 * more; after 5 s idle the whole burst again, never more. */
static void test_ratelimit_burst_then_rate(void **state)
{
    struct ratelimit *r;
    struct clientaddr a = addr("192.0.2.1"), b = addr("192.0.2.2");
    int64_t t = 1000000;
    int i;

    (void)state;
    assert_int_equal(ratelimit_new(&r, 60, 5), 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(ratelimit_take(r, &a, t), 0);
    assert_int_equal(ratelimit_take(r, &a, t), 1);
    assert_int_equal(ratelimit_take(r, &b, t), 0); /* another address */
    assert_int_equal(ratelimit_take(r, &a, t + 500), 1);
    assert_int_equal(ratelimit_take(r, &a, t + 1000), 0);
    assert_int_equal(ratelimit_take(r, &a, t + 1000), 1);
    t += 60000; /* long idle: full, and no more than burst */
    for (i = 0; i < 5; i++)
        assert_int_equal(ratelimit_take(r, &a, t), 0);
    assert_int_equal(ratelimit_take(r, &a, t), 1);
    /* a clock read late by another thread takes nothing back */
    assert_int_equal(ratelimit_take(r, &a, t - 50), 1);
    ratelimit_free(r);
}

/* 6/min: an empty bucket says 10 s, then counts down. */
static void test_ratelimit_retry_after(void **state)
{
    struct ratelimit *r;
    struct clientaddr a = addr("2001:db8::7");
    int64_t t = 5000;

    (void)state;
    assert_int_equal(ratelimit_new(&r, 6, 1), 0);
    assert_int_equal(ratelimit_take(r, &a, t), 0);
    assert_int_equal(ratelimit_take(r, &a, t), 10);
    assert_int_equal(ratelimit_take(r, &a, t + 4000), 6);
    assert_int_equal(ratelimit_take(r, &a, t + 10000), 0);
    ratelimit_free(r);
    assert_int_equal(ratelimit_new(&r, 0, 1), -EINVAL);
    assert_int_equal(ratelimit_new(&r, 1, 0), -EINVAL);
}

static struct clientaddr nth(unsigned i)
{
    char s[32];

    snprintf(s, sizeof(s), "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
    return addr(s);
}

/* Four times as many addresses as slots, each emptying its bucket: the
 * table keeps its fixed size, so the oldest are forgotten (a fresh bucket
 * each) while the RATELIMIT_SLOTS/4 seen last are nearly all remembered
 * (a set holds its 8 most recent). */
static void test_ratelimit_many_addresses(void **state)
{
    const unsigned n = 4 * RATELIMIT_SLOTS, recent = RATELIMIT_SLOTS / 4;
    struct clientaddr a;
    struct ratelimit *r;
    unsigned i, limited = 0, forgotten = 0;

    (void)state;
    assert_int_equal(ratelimit_new(&r, 60, 1), 0);
    for (i = 0; i < n; i++) {
        a = nth(i);
        assert_int_equal(ratelimit_take(r, &a, 1000 + i / 1000), 0);
    }
    for (i = n - recent; i < n; i++) {
        a = nth(i);
        limited += ratelimit_take(r, &a, 1000 + n / 1000) > 0;
    }
    for (i = 0; i < 1000; i++) {
        a = nth(i);
        forgotten += ratelimit_take(r, &a, 1000 + n / 1000) == 0;
    }
    ratelimit_free(r);
    print_message("recent still limited: %u of %u; oldest forgotten: %u of "
                  "1000\n",
                  limited, recent, forgotten);
    assert_true(limited >= recent * 99 / 100);
    assert_true(forgotten >= 990);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_burst_then_rate),
        cmocka_unit_test(test_ratelimit_retry_after),
        cmocka_unit_test(test_ratelimit_many_addresses),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
