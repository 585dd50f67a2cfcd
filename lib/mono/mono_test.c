/* mono_test.c - the clock moves forward, and a deadline is a normalized
 * timespec that a monotonic condition variable really waits until. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "lib/mono/mono.h"

static void test_mono_ms_advances(void **state)
{
    int64_t t0 = mono_ms();

    mono_sleep_ms(30);
    assert_true(mono_ms() - t0 >= 30);
    t0 = mono_ms();
    mono_sleep_ms(1020); /* whole seconds too */
    assert_true(mono_ms() - t0 >= 1020);
}

static int64_t ts_ns(struct timespec t)
{
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return ts_ns(t);
}

/* Normalized, and exactly ms after the moment of the call: between the
 * clock read before it and the one after it, plus ms. */
static void test_mono_deadline_normalized(void **state)
{
    unsigned ms;

    for (ms = 0; ms < 3000; ms += 137) {
        int64_t before = now_ns(), after;
        struct timespec d = mono_deadline(ms);

        after = now_ns();
        assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
        assert_true(ts_ns(d) >= before + (int64_t)ms * 1000000);
        assert_true(ts_ns(d) <= after + (int64_t)ms * 1000000);
    }
}

static void test_mono_deadline_waits(void **state)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv;
    struct timespec dl;
    int rc;

    assert_int_equal(mono_cond_init(&cv), 0);
    dl = mono_deadline(50);
    pthread_mutex_lock(&mu);
    do /* 0 is a spurious wakeup: nobody signals; any error ends it */
        rc = pthread_cond_timedwait(&cv, &mu, &dl);
    while (rc == 0);
    pthread_mutex_unlock(&mu);
    assert_int_equal(rc, ETIMEDOUT);
    assert_true(now_ns() >= ts_ns(dl));
    pthread_cond_destroy(&cv);
}

/* The first call is due, the calls within the period are not, the first
 * after it is again. */
static void test_mono_due_once_a_period(void **state)
{
    _Atomic int64_t last = 0;
    int i, due = 0;

    (void)state;
    assert_true(mono_due(&last, 200));
    for (i = 0; i < 1000; i++)
        due += mono_due(&last, 200);
    assert_int_equal(due, 0);
    mono_sleep_ms(250);
    assert_true(mono_due(&last, 200));
    assert_false(mono_due(&last, 200));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mono_ms_advances),
        cmocka_unit_test(test_mono_deadline_normalized),
        cmocka_unit_test(test_mono_deadline_waits),
        cmocka_unit_test(test_mono_due_once_a_period),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
