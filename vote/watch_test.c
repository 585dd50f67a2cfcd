/* watch_test.c - a failing check is retried with backoff until it
 * passes; a passing one is checked again after WATCH_RECHECK_MS; stop
 * does not wait for the next check.
 *
 * No sleeps and no exact counts at a moment: each fake check records when
 * it ran, the test waits (generously) until enough checks happened, then
 * asserts the gaps between them. Gaps are lower bounds, which a slow
 * machine only makes longer. SLACK_MS covers the millisecond rounding of
 * two clock reads and the watch timing from the start of its round. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "vote/watch.h"

#define MAX_CALLS   16
#define SLACK_MS    10
#define DEADLINE_MS 20000 /* for checks that are due within ~2 s */

struct fake {
    pthread_mutex_t mu;
    pthread_cond_t called;
    int calls;
    int fail_first;        /* calls that fail before it passes */
    int64_t at[MAX_CALLS]; /* mono_ms() of each call */
};

static void fake_init(struct fake *f, int fail_first)
{
    pthread_mutex_init(&f->mu, NULL);
    assert_int_equal(mono_cond_init(&f->called), 0);
    f->calls = 0;
    f->fail_first = fail_first;
}

static void fake_destroy(struct fake *f)
{
    pthread_cond_destroy(&f->called);
    pthread_mutex_destroy(&f->mu);
}

static int fake_check(void *arg)
{
    struct fake *f = arg;
    int n;

    pthread_mutex_lock(&f->mu);
    n = f->calls++;
    if (n < MAX_CALLS)
        f->at[n] = mono_ms();
    pthread_cond_broadcast(&f->called);
    pthread_mutex_unlock(&f->mu);
    return n < f->fail_first ? -ECONNREFUSED : 0;
}

static int calls_now(struct fake *f)
{
    int n;

    pthread_mutex_lock(&f->mu);
    n = f->calls;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* Waits until f has been called n times (DEADLINE_MS at most); returns
 * the number of calls. */
static int wait_calls(struct fake *f, int n)
{
    struct timespec dl = mono_deadline(DEADLINE_MS);
    int got;

    pthread_mutex_lock(&f->mu);
    while (f->calls < n)
        if (pthread_cond_timedwait(&f->called, &f->mu, &dl) == ETIMEDOUT)
            break;
    got = f->calls;
    pthread_mutex_unlock(&f->mu);
    return got;
}

/* "down" fails 3 times: its retries wait at least 50, 100, 200 ms (the
 * lower halves of 100, 200, 400 ms with jitter); once it passes it is
 * checked again only after WATCH_RECHECK_MS, like "up". */
static void test_watch_retries_until_ready(void **state)
{
    struct fake down, up;
    struct watch_dep deps[] = {{"down", fake_check, &down},
                               {"up", fake_check, &up}};
    static const int64_t min_gap[] = {50, 100, 200, WATCH_RECHECK_MS};
    struct watch *w;
    int i;

    fake_init(&down, 3);
    fake_init(&up, 0);
    assert_int_equal(watch_start(&w, deps, 2), 0);
    assert_true(calls_now(&down) >= 1); /* first round inline */
    assert_true(calls_now(&up) >= 1);
    assert_true(wait_calls(&down, 5) >= 5); /* 3 failed, passed, rechecked */
    assert_true(wait_calls(&up, 2) >= 2);
    watch_stop(w);
    for (i = 0; i < 4; i++)
        assert_true(down.at[i + 1] - down.at[i] >= min_gap[i] - SLACK_MS);
    assert_true(up.at[1] - up.at[0] >= WATCH_RECHECK_MS - SLACK_MS);
    fake_destroy(&down);
    fake_destroy(&up);
}

/* A healthy dependency keeps being checked, every WATCH_RECHECK_MS. */
static void test_watch_rechecks_healthy(void **state)
{
    struct fake up;
    struct watch_dep deps[] = {{"up", fake_check, &up}};
    struct watch *w;

    fake_init(&up, 0);
    assert_int_equal(watch_start(&w, deps, 1), 0);
    assert_true(wait_calls(&up, 3) >= 3);
    watch_stop(w);
    assert_true(up.at[1] - up.at[0] >= WATCH_RECHECK_MS - SLACK_MS);
    assert_true(up.at[2] - up.at[1] >= WATCH_RECHECK_MS - SLACK_MS);
    fake_destroy(&up);
}

/* Right after a check of its own the thread sleeps until the next one is
 * due, WATCH_RECHECK_MS later; watch_stop() wakes it instead of waiting
 * that out. The first check (inline in watch_start) fails so that the
 * second is the thread's. Only a stall of the test itself for that whole
 * second could make a correct watch fail here. */
static void test_watch_stop_is_prompt(void **state)
{
    struct fake up;
    struct watch_dep deps[] = {{"up", fake_check, &up}};
    struct watch *w;
    int64_t stopped;

    fake_init(&up, 1);
    assert_int_equal(watch_start(&w, deps, 1), 0);
    assert_true(wait_calls(&up, 2) >= 2);
    watch_stop(w);
    stopped = mono_ms();
    assert_int_equal(calls_now(&up), 2);
    assert_true(stopped - up.at[1] < WATCH_RECHECK_MS);
    fake_destroy(&up);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watch_retries_until_ready),
        cmocka_unit_test(test_watch_rechecks_healthy),
        cmocka_unit_test(test_watch_stop_is_prompt),
    };

    log_init("watch_test", "error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
