/* retry_test.c - delays grow, stay capped and jittered; the loop stops on
 * success, on the attempt limit and on shutdown. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/log/log.h"
#include "lib/retry/retry.h"

static void test_retry_delay_grows_and_caps(void **state)
{
    const struct retry_policy p = {100, 1000, 0};
    unsigned seed = 1, a, d;

    for (a = 0; a < 12; a++) {
        unsigned full = 100u << (a < 4 ? a : 4);

        if (full > 1000)
            full = 1000;
        d = retry_delay_ms(&p, a, &seed);
        assert_true(d >= full / 2 && d <= full);
    }
}

static void test_retry_delay_is_jittered(void **state)
{
    const struct retry_policy p = {100, 5000, 0};
    unsigned seed = 7, first, i;
    int differs = 0;

    first = retry_delay_ms(&p, 5, &seed);
    for (i = 0; i < 20; i++)
        differs |= retry_delay_ms(&p, 5, &seed) != first;
    assert_true(differs);
}

struct flaky {
    int fail_times;
    int calls;
    volatile sig_atomic_t *stop_after;
};

static int flaky_op(void *arg)
{
    struct flaky *f = arg;

    f->calls++;
    if (f->stop_after && f->calls == 2)
        *f->stop_after = 1;
    return f->calls <= f->fail_times ? -ECONNREFUSED : 0;
}

static void test_retry_until_success(void **state)
{
    const struct retry_policy p = {1, 4, 0};
    struct flaky f = {.fail_times = 3};

    assert_int_equal(retry_backoff("flaky", flaky_op, &f, &p, NULL), 0);
    assert_int_equal(f.calls, 4);
}

static void test_retry_gives_up_after_max(void **state)
{
    const struct retry_policy p = {1, 4, 3};
    struct flaky f = {.fail_times = 100};

    assert_int_equal(retry_backoff("flaky", flaky_op, &f, &p, NULL),
                     -ECONNREFUSED);
    assert_int_equal(f.calls, 3);
}

static void test_retry_stops_on_shutdown(void **state)
{
    const struct retry_policy p = {1, 4, 0};
    volatile sig_atomic_t stop = 0;
    struct flaky f = {.fail_times = 100, .stop_after = &stop};

    assert_int_equal(retry_backoff("flaky", flaky_op, &f, &p, &stop),
                     -ECANCELED);
    assert_int_equal(f.calls, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_delay_grows_and_caps),
        cmocka_unit_test(test_retry_delay_is_jittered),
        cmocka_unit_test(test_retry_until_success),
        cmocka_unit_test(test_retry_gives_up_after_max),
        cmocka_unit_test(test_retry_stops_on_shutdown),
    };

    log_init("retry_test", "error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
