/* retry.h - retries an operation with capped exponential backoff and
 * jitter, until it succeeds or shutdown is asked for.
 *
 *   retry_backoff("postgres", pg_connect, &deps, &RETRY_DEFAULT, &g_stop);
 *
 * Attempt n (from 0) waits a random time in [d/2, d], d = min(cap, base*2^n),
 * so replicas restarting together don't retry in lockstep. */
#ifndef LIB_RETRY_H
#define LIB_RETRY_H

#include <signal.h>

struct retry_policy {
    unsigned base_ms;
    unsigned cap_ms;
    unsigned max_attempts; /* 0: no limit */
};

extern const struct retry_policy RETRY_DEFAULT; /* 100 ms .. 5 s, forever */

/* The wait before attempt+1; *seed is the caller's rand_r() state. */
unsigned retry_delay_ms(const struct retry_policy *p, unsigned attempt,
                        unsigned *seed);

/* Calls fn(arg) until it returns 0. Logs each failure (event "retrying"
 * with `what` and fn's -errno) and the recovery. 0 on success, -ECANCELED
 * once *stop is set, or fn's last error after max_attempts. */
int retry_backoff(const char *what, int (*fn)(void *arg), void *arg,
                  const struct retry_policy *p, volatile sig_atomic_t *stop);

#endif
