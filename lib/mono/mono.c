/* mono.c - monotonic time; see mono.h. */
#include "lib/mono/mono.h"

int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int mono_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    int rc;

    rc = pthread_condattr_init(&attr);
    if (rc)
        return -rc;
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (!rc)
        rc = pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
    return -rc;
}

struct timespec mono_deadline(unsigned ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int mono_due(_Atomic int64_t *last, unsigned ms)
{
    int64_t now = mono_ms(), prev = atomic_load(last);

    return (prev == 0 || now - prev >= (int64_t)ms) &&
           atomic_compare_exchange_strong(last, &prev, now);
}

void mono_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}
