/* watch_test.c - a failing check is retried with backoff until it
 * passes; a passing one is checked again; stop is prompt. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "vote/watch.h"

struct fake {
    atomic_int calls;
    int fail_first; /* calls that fail before it passes */
};

static int fake_check(void *arg)
{
    struct fake *f = arg;

    return atomic_fetch_add(&f->calls, 1) < f->fail_first ? -ECONNREFUSED : 0;
}

static void test_watch_retries_until_ready(void **state)
{
    struct fake down = {0, 3}, up = {0, 0};
    struct watch_dep deps[] = {{"down", fake_check, &down},
                               {"up", fake_check, &up}};
    struct watch *w;
    int64_t t0 = mono_ms();

    assert_int_equal(watch_start(&w, deps, 2), 0);
    assert_int_equal(atomic_load(&down.calls), 1); /* first round inline */
    assert_int_equal(atomic_load(&up.calls), 1);
    /* Backoff 100, 200, 400 ms at most: passes by the 4th call. */
    while (atomic_load(&down.calls) < 4 && mono_ms() - t0 < 3000) {
        struct timespec ts = {0, 10000000};

        nanosleep(&ts, NULL);
    }
    assert_int_equal(atomic_load(&down.calls), 4);
    assert_true(mono_ms() - t0 >= 350 / 2); /* did back off */
    t0 = mono_ms();
    watch_stop(w);
    assert_true(mono_ms() - t0 < 200);
}

static void test_watch_rechecks_healthy(void **state)
{
    struct fake up = {0, 0};
    struct watch_dep deps[] = {{"up", fake_check, &up}};
    struct watch *w;
    struct timespec ts = {WATCH_RECHECK_MS / 1000,
                          (WATCH_RECHECK_MS % 1000 + 300) * 1000000L};

    assert_int_equal(watch_start(&w, deps, 1), 0);
    nanosleep(&ts, NULL);
    watch_stop(w);
    assert_int_equal(atomic_load(&up.calls), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_retries_until_ready),
        cmocka_unit_test(test_watch_rechecks_healthy),
    };

    log_init("watch_test", "error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
