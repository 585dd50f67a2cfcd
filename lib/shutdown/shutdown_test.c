/* shutdown_test.c - a real SIGTERM sets the flag and cuts a sleep short;
 * SIGPIPE no longer kills. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/shutdown/shutdown.h"

static volatile sig_atomic_t g_stop;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *send_term_later(void *arg)
{
    usleep(100 * 1000);
    kill(getpid(), SIGTERM);
    return NULL;
}

static void test_shutdown_sigterm_wakes_sleep(void **state)
{
    pthread_t t;
    double t0;

    g_stop = 0;
    assert_int_equal(shutdown_install(&g_stop), 0);
    assert_int_equal(shutdown_sleep_ms(&g_stop, 30), 0);
    t0 = now_s();
    assert_int_equal(pthread_create(&t, NULL, send_term_later, NULL), 0);
    assert_int_equal(shutdown_sleep_ms(&g_stop, 10000), -ECANCELED);
    assert_true(now_s() - t0 < 2.0);
    assert_int_equal(g_stop, 1);
    pthread_join(t, NULL);
}

static void test_shutdown_sigint_and_sigpipe(void **state)
{
    g_stop = 0;
    assert_int_equal(shutdown_install(&g_stop), 0);
    raise(SIGPIPE); /* would end the process if not ignored */
    assert_int_equal(g_stop, 0);
    raise(SIGINT);
    assert_int_equal(g_stop, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shutdown_sigterm_wakes_sleep),
        cmocka_unit_test(test_shutdown_sigint_and_sigpipe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
