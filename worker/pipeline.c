/* pipeline.c - fetch, decode, apply, ack; see pipeline.h. */
#include "worker/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/retry/retry.h"
#include "lib/shutdown/shutdown.h"
#include "worker/consumer.h"
#include "worker/decode.h"
#include "worker/store.h"

#define LAG_EVERY_MS 2000
#define NATS_ERROR_PAUSE_MS 200

struct pipeline_metrics {
    struct metric *batch_size, *batch_seconds, *applied, *acked;
    struct metric *deadletters, *pg_errors, *lag, *unacked;
};

struct pipeline {
    struct consumer        *consumer;
    struct store           *store;
    struct pipeline_metrics m;
    struct vote            *votes; /* the good votes of the batch */
    natsMsg               **held;  /* their messages, acked after commit */
    size_t                  n_held;
    int                     ack_wait_ms;
    int64_t                 last_lag_ms;
    unsigned                seed;
    int                     pg_up; /* __atomic: read by /readyz */
};

static const double BATCH_BOUNDS[] = {1, 10, 50, 100, 250, 500, 1000, 5000};
static const double SECONDS_BOUNDS[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,  0.1,    0.25,  1,    5};

#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))

static void add(struct metric *x, uint64_t n)
{
    if (x)
        metric_add(x, n);
}

static void observe(struct metric *x, double v)
{
    if (x)
        metric_observe(x, v);
}

static void gauge(struct metric *x, double v)
{
    if (x)
        metric_set(x, v);
}

static int register_metrics(struct pipeline_metrics *pm, struct metrics *m)
{
    pm->batch_size = metrics_histogram(m, "worker_batch_size",
                                       "Votes per fetched batch.",
                                       BATCH_BOUNDS, NBOUNDS(BATCH_BOUNDS));
    pm->batch_seconds = metrics_histogram(
        m, "worker_apply_seconds", "Time to commit one batch in Postgres.",
        SECONDS_BOUNDS, NBOUNDS(SECONDS_BOUNDS));
    pm->applied = metrics_counter(m, "worker_votes_applied_total",
                                  "Vote rows inserted or changed.");
    pm->acked = metrics_counter(m, "worker_messages_acked_total",
                                "Messages acked after their commit.");
    pm->deadletters = metrics_counter(m, "worker_deadletters_total",
                                      "Poison messages dead-lettered.");
    pm->pg_errors = metrics_counter(m, "worker_pg_errors_total",
                                    "Failed batch transactions (retried).");
    pm->lag = metrics_gauge(m, "worker_consumer_lag",
                            "Messages not yet delivered (num_pending).");
    pm->unacked = metrics_gauge(m, "worker_consumer_ack_pending",
                                "Messages delivered, not yet acked.");
    if (!pm->batch_size || !pm->batch_seconds || !pm->applied ||
        !pm->acked || !pm->deadletters || !pm->pg_errors || !pm->lag ||
        !pm->unacked)
        return -ENOMEM;
    return 0;
}

int pipeline_new(struct pipeline **out, struct consumer *c, struct store *s,
                 struct metrics *m, int batch, int ack_wait_ms)
{
    struct pipeline *p;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->votes = calloc((size_t)batch, sizeof(*p->votes));
    p->held = calloc((size_t)batch, sizeof(*p->held));
    if (!p->votes || !p->held || (m && register_metrics(&p->m, m))) {
        pipeline_free(p);
        return -ENOMEM;
    }
    p->consumer = c;
    p->store = s;
    p->ack_wait_ms = ack_wait_ms;
    p->seed = (unsigned)time(NULL) ^ (unsigned)(size_t)p;
    p->pg_up = 1;
    *out = p;
    return 0;
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    free(p->votes);
    free(p->held);
    free(p);
}

int pipeline_ready(struct pipeline *p, char *why, size_t n)
{
    if (!__atomic_load_n(&p->pg_up, __ATOMIC_RELAXED)) {
        snprintf(why, n, "postgres: unavailable, retrying");
        return -ECONNREFUSED;
    }
    if (!consumer_connected(p->consumer)) {
        snprintf(why, n, "nats: disconnected, reconnecting");
        return -ECONNREFUSED;
    }
    return 0;
}

static void set_pg_up(struct pipeline *p, int up)
{
    __atomic_store_n(&p->pg_up, up, __ATOMIC_RELAXED);
}

/* Sorts one message: poison is dead-lettered now, a good vote is held. */
static void take(struct pipeline *p, natsMsg *m)
{
    struct vote *v = &p->votes[p->n_held];
    const char *reason = NULL;
    uint64_t seq, delivered;
    char qr[64];

    if (consumer_seq(m, &seq, &delivered))
        reason = "no_jetstream_metadata";
    else if (decode_vote(natsMsg_GetData(m),
                         (size_t)natsMsg_GetDataLength(m), v, &reason) == 0) {
        v->seq = seq;
        p->held[p->n_held++] = m;
        return;
    }
    log_warn("deadletter", "\"seq\":%llu,\"reason\":%s",
             (unsigned long long)seq, log_quote(qr, sizeof(qr), reason));
    if (consumer_deadletter(p->consumer, m, reason) == 0)
        add(p->m.deadletters, 1);
}

/* While Postgres is down the held messages would be redelivered to
 * another worker after AckWait: tell the server we are still on them. */
static void keep_held(struct pipeline *p)
{
    size_t i;

    for (i = 0; i < p->n_held; i++)
        natsMsg_InProgress(p->held[i], NULL);
}

/* Commits the held votes, retrying with backoff and reconnecting until it
 * works. 0, or -ECANCELED when *stop was set first. */
static int apply_held(struct pipeline *p, volatile sig_atomic_t *stop)
{
    int64_t t0 = nats_Now(), last_keep = t0;
    unsigned attempt;
    size_t changed;
    int rc;

    for (attempt = 0;; attempt++) {
        rc = store_apply(p->store, p->votes, p->n_held, &changed);
        if (rc == 0)
            break;
        add(p->m.pg_errors, 1);
        set_pg_up(p, 0);
        if (*stop || shutdown_sleep_ms(stop, retry_delay_ms(&RETRY_DEFAULT,
                                                            attempt,
                                                            &p->seed)))
            return -ECANCELED;
        if (nats_Now() - last_keep >= p->ack_wait_ms / 3) {
            keep_held(p);
            last_keep = nats_Now();
        }
        if (rc == -EIO)
            store_reconnect(p->store);
    }
    if (attempt > 0)
        log_info("pg_recovered", "\"attempts\":%u", attempt + 1);
    set_pg_up(p, 1);
    add(p->m.applied, changed);
    observe(p->m.batch_seconds, (double)(nats_Now() - t0) / 1000.0);
    return 0;
}

static void refresh_lag(struct pipeline *p)
{
    uint64_t pending, unacked;
    int64_t now = nats_Now();

    if (now - p->last_lag_ms < LAG_EVERY_MS)
        return;
    p->last_lag_ms = now;
    if (consumer_lag(p->consumer, &pending, &unacked) == 0) {
        gauge(p->m.lag, (double)pending);
        gauge(p->m.unacked, (double)unacked);
    }
}

static void settle(struct pipeline *p, int committed)
{
    size_t i;

    for (i = 0; i < p->n_held; i++) {
        if (committed)
            natsMsg_Ack(p->held[i], NULL);
        else
            natsMsg_Nak(p->held[i], NULL);
    }
    if (committed)
        add(p->m.acked, p->n_held);
    p->n_held = 0;
}

int pipeline_step(struct pipeline *p, volatile sig_atomic_t *stop)
{
    natsMsgList list;
    int i, rc;

    refresh_lag(p);
    rc = consumer_fetch(p->consumer, &list);
    if (rc)
        return rc;
    observe(p->m.batch_size, list.Count);
    p->n_held = 0;
    for (i = 0; i < list.Count; i++)
        take(p, list.Msgs[i]);
    rc = apply_held(p, stop);
    settle(p, rc == 0);
    natsMsgList_Destroy(&list);
    return rc;
}

int pipeline_run(struct pipeline *p, volatile sig_atomic_t *stop)
{
    while (!*stop) {
        if (pipeline_step(p, stop) == -EIO)
            shutdown_sleep_ms(stop, NATS_ERROR_PAUSE_MS);
    }
    return 0;
}
