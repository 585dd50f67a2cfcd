/* watch.h - keeps dependencies ready from one background thread.
 *
 * Each dependency has a check (0 when usable, else -errno; it may try to
 * reconnect). A failing check is retried with lib/retry backoff and each
 * failure is logged ("retrying"), the recovery too ("recovered"); a
 * passing one is checked again every WATCH_RECHECK_MS so an outage is seen
 * without traffic. Checks run on the watch thread only.
 *
 * watch_start() copies deps (the args must outlive the watch) and hands
 * *out to the caller; watch_stop() joins the thread and frees. */
#ifndef VOTE_WATCH_H
#define VOTE_WATCH_H

#include <stddef.h>

#define WATCH_MAX_DEPS   4
#define WATCH_RECHECK_MS 1000

struct watch_dep {
    const char *what; /* "nats", "redis": names it in the log */
    int (*check)(void *arg);
    void *arg;
};

struct watch;

/* The first round of checks runs before this returns. 0 or -errno. */
int watch_start(struct watch **out, const struct watch_dep *deps, size_t n);
void watch_stop(struct watch *w); /* NULL-safe */

#endif
