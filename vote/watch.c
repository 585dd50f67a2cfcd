/* watch.c - dependency checks with backoff; see watch.h. */
#include "vote/watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "lib/retry/retry.h"

static const struct retry_policy POLICY = {100, 2000, 0};

struct dep_state {
    struct watch_dep dep;
    int64_t next_ms;   /* when to check again */
    unsigned failures; /* in a row */
};

struct watch {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int stop;
    unsigned seed;
    size_t n;
    struct dep_state deps[WATCH_MAX_DEPS];
};

static void check_one(struct watch *w, struct dep_state *d, int64_t now)
{
    unsigned delay;
    int rc = d->dep.check(d->dep.arg);

    if (rc == 0) {
        if (d->failures)
            log_info("recovered", LOG_STR("what", d->dep.what),
                     LOG_INT("attempts", d->failures + 1));
        d->failures = 0;
        d->next_ms = now + WATCH_RECHECK_MS;
        return;
    }
    delay = retry_delay_ms(&POLICY, d->failures++, &w->seed);
    d->next_ms = now + delay;
    log_warn("retrying", LOG_STR("what", d->dep.what),
             LOG_INT("attempt", d->failures), LOG_INT("delay_ms", delay),
             LOG_STR("error", strerror(rc < 0 ? -rc : rc)));
}

/* Checks what is due; returns ms until the next one is. */
static int64_t round_of_checks(struct watch *w)
{
    int64_t now = mono_ms(), next = now + WATCH_RECHECK_MS;
    size_t i;

    for (i = 0; i < w->n; i++) {
        if (w->deps[i].next_ms <= now)
            check_one(w, &w->deps[i], now);
        if (w->deps[i].next_ms < next)
            next = w->deps[i].next_ms;
    }
    return next - mono_ms();
}

static void *run(void *arg)
{
    struct watch *w = arg;
    struct timespec dl;
    int64_t wait;

    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        pthread_mutex_unlock(&w->mu);
        wait = round_of_checks(w);
        pthread_mutex_lock(&w->mu);
        if (wait <= 0 || w->stop)
            continue;
        dl = mono_deadline((unsigned)wait);
        pthread_cond_timedwait(&w->wake, &w->mu, &dl);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int watch_start(struct watch **out, const struct watch_dep *deps, size_t n)
{
    struct watch *w;
    size_t i;
    int rc;

    *out = NULL;
    if (n > WATCH_MAX_DEPS)
        return -EINVAL;
    w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->n = n;
    w->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)w;
    for (i = 0; i < n; i++)
        w->deps[i].dep = deps[i];
    pthread_mutex_init(&w->mu, NULL);
    mono_cond_init(&w->wake);
    round_of_checks(w);
    rc = pthread_create(&w->thread, NULL, run, w);
    if (rc) {
        pthread_cond_destroy(&w->wake);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -rc;
    }
    *out = w;
    return 0;
}

void watch_stop(struct watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
