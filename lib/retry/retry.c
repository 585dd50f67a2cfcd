/* retry.c - backoff loop; see retry.h. */
#include "lib/retry/retry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log/log.h"
#include "lib/shutdown/shutdown.h"

const struct retry_policy RETRY_DEFAULT = {100, 5000, 0};

unsigned retry_delay_ms(const struct retry_policy *p, unsigned attempt,
                        unsigned *seed)
{
    unsigned d = p->base_ms;
    unsigned half;

    while (attempt-- > 0 && d < p->cap_ms)
        d *= 2;
    if (d > p->cap_ms)
        d = p->cap_ms;
    half = d / 2;
    return half + (unsigned)rand_r(seed) % (d - half + 1);
}

int retry_backoff(const char *what, int (*fn)(void *arg), void *arg,
                  const struct retry_policy *p, volatile sig_atomic_t *stop)
{
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)(size_t)arg;
    unsigned attempt, delay;
    int rc;

    for (attempt = 0;; attempt++) {
        if (stop && *stop)
            return -ECANCELED;
        rc = fn(arg);
        if (rc == 0) {
            if (attempt > 0)
                log_info("recovered", LOG_STR("what", what),
                         LOG_INT("attempts", attempt + 1));
            return 0;
        }
        if (p->max_attempts && attempt + 1 >= p->max_attempts)
            return rc;
        delay = retry_delay_ms(p, attempt, &seed);
        log_warn("retrying", LOG_STR("what", what),
                 LOG_INT("attempt", attempt + 1), LOG_INT("delay_ms", delay),
                 LOG_STR("error", strerror(rc < 0 ? -rc : rc)));
        if (shutdown_sleep_ms(stop, delay))
            return -ECANCELED;
    }
}
