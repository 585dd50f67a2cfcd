/* pipeline.c - fetch, decode, apply, ack; see pipeline.h. */
#include "worker/pipeline.h"

#include <errno.h>
#include <stdatomic.h>
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

#define LAG_EVERY_MS        2000
#define NATS_ERROR_PAUSE_MS 200
#define MIN_CYCLE_MS        10
#define PG_PROBE_MS         1000 /* idle: check Postgres this often */
#define PG_STUCK_MS         5000 /* no answer this long: not ready */

struct pipeline_metrics {
    struct metric *batch_size, *batch_seconds, *applied, *acked;
    struct metric *deadletters, *pg_errors, *lag, *unacked;
};

/* One fetched batch: its messages, and the good votes among them. */
struct batch {
    natsMsgList list;
    struct vote *votes;
    natsMsg **held; /* messages of the good votes, acked after commit */
    size_t n_held;
    int64_t t0;
    int send_rc; /* store_apply_send()'s answer */
};

/* Two batches: while Postgres commits one, the next is fetched. */
struct pipeline {
    struct consumer *consumer;
    struct store *store;
    struct pipeline_metrics m;
    struct batch b[2];
    struct batch *inflight; /* sent to Postgres, not yet waited */
    int cur;                /* b[cur] is the one to fill next */
    int ack_wait_ms;
    int batch;
    int last_full;        /* the last fill took a whole batch */
    int64_t last_fill_ms; /* when it started */
    int64_t last_lag_ms;
    int64_t last_pg_ok_ms; /* last commit or answered probe */
    int64_t noted_epoch;   /* stream epoch recorded in Postgres */
    int64_t stream;        /* the stream (creation time) epoch is of */
    int64_t epoch;         /* its epoch, from Postgres */
    unsigned seed;
    atomic_int pg_up;              /* read by /readyz */
    _Atomic int64_t pg_wait_since; /* waiting for Postgres since, or 0 */
};

static const double BATCH_BOUNDS[] = {1, 10, 50, 100, 250, 500, 1000, 5000};
static const double SECONDS_BOUNDS[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,  0.1,    0.25,  1,    5};

#define NBOUNDS(a) (sizeof(a) / sizeof((a)[0]))

static int register_metrics(struct pipeline_metrics *pm, struct metrics *m)
{
    pm->batch_size =
        metrics_histogram(m, "worker_batch_size", "Votes per fetched batch.",
                          BATCH_BOUNDS, NBOUNDS(BATCH_BOUNDS));
    pm->batch_seconds = metrics_histogram(
        m, "worker_batch_seconds", "From fetch to commit of one batch.",
        SECONDS_BOUNDS, NBOUNDS(SECONDS_BOUNDS));
    pm->applied = metrics_counter(m, "worker_votes_applied_total",
                                  "Vote rows inserted or changed.");
    pm->acked = metrics_counter(m, "worker_messages_acked_total",
                                "Messages acked after their commit.");
    pm->deadletters = metrics_counter(m, "worker_deadletters_total",
                                      "Poison messages dead-lettered.");
    pm->pg_errors =
        metrics_counter(m, "worker_pg_errors_total",
                        "Failed batch transactions (retried) and idle probes.");
    pm->lag = metrics_gauge(m, "worker_consumer_lag",
                            "Messages not yet delivered (num_pending).");
    pm->unacked = metrics_gauge(m, "worker_consumer_ack_pending",
                                "Messages delivered, not yet acked.");
    if (!pm->batch_size || !pm->batch_seconds || !pm->applied || !pm->acked ||
        !pm->deadletters || !pm->pg_errors || !pm->lag || !pm->unacked)
        return -ENOMEM;
    return 0;
}

int pipeline_new(struct pipeline **out, struct consumer *c, struct store *s,
                 struct metrics *m, int batch, int ack_wait_ms)
{
    struct pipeline *p;
    int i;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    for (i = 0; i < 2; i++) {
        p->b[i].votes = calloc((size_t)batch, sizeof(*p->b[i].votes));
        p->b[i].held = calloc((size_t)batch, sizeof(*p->b[i].held));
        if (!p->b[i].votes || !p->b[i].held)
            goto out_free;
    }
    if (m && register_metrics(&p->m, m)) {
    out_free:
        pipeline_free(p);
        return -ENOMEM;
    }
    p->consumer = c;
    p->store = s;
    p->ack_wait_ms = ack_wait_ms;
    p->batch = batch;
    p->seed = (unsigned)time(NULL) ^ (unsigned)(size_t)p;
    p->pg_up = 1;
    *out = p;
    return 0;
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    free(p->b[0].votes);
    free(p->b[0].held);
    free(p->b[1].votes);
    free(p->b[1].held);
    free(p);
}

int pipeline_ready(struct pipeline *p, char *why, size_t n)
{
    int64_t since = atomic_load(&p->pg_wait_since);

    if (!atomic_load(&p->pg_up)) {
        snprintf(why, n, "postgres: unavailable, retrying");
        return -ECONNREFUSED;
    }
    if (since && nats_Now() - since > PG_STUCK_MS) {
        snprintf(why, n, "postgres: no answer for %lld ms",
                 (long long)(nats_Now() - since));
        return -ETIMEDOUT;
    }
    return consumer_ready(p->consumer, why, n);
}

/* Brackets a wait for Postgres, for pipeline_ready(). */
static void pg_waiting(struct pipeline *p, int waiting)
{
    atomic_store(&p->pg_wait_since, waiting ? nats_Now() : 0);
}

static void set_pg_up(struct pipeline *p, int up)
{
    atomic_store(&p->pg_up, up);
}

/* Sorts one message: poison is dead-lettered now, a good vote is held. */
static void take(struct pipeline *p, struct batch *b, natsMsg *m)
{
    struct vote *v = &b->votes[b->n_held];
    struct consumer_meta meta = {0};
    const char *reason = NULL;

    if (consumer_meta(p->consumer, m, &meta))
        reason = "no_jetstream_metadata";
    else if (decode_vote(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
                         v, &reason) == 0) {
        v->seq = meta.seq;
        v->epoch = 0; /* stamp() sets it, once Postgres is free */
        b->held[b->n_held++] = m;
        return;
    }
    log_warn("deadletter", LOG_UINT("seq", meta.seq),
             LOG_STR("reason", reason));
    if (consumer_deadletter(p->consumer, m, reason) == 0)
        metrics_add(p->m.deadletters, 1);
}

static void settle(struct pipeline *p, struct batch *b, int committed);

/* Fetches and sorts a batch; at shutdown (last), only what was delivered
 * already. When the stream it came from can't be told, or VOTES turned
 * out to be another stream than before, the batch goes back to the
 * server (consumer.h). 0, -ETIMEDOUT, -EAGAIN (another stream) or -EIO. */
static int fill(struct pipeline *p, struct batch *b, int last)
{
    int i, rc;

    b->n_held = 0;
    rc = last ? consumer_fetch_delivered(p->consumer, &b->list)
              : consumer_fetch(p->consumer, &b->list);
    if (rc)
        return rc;
    metrics_observe(p->m.batch_size, b->list.Count);
    b->t0 = nats_Now();
    for (i = 0; i < b->list.Count; i++)
        take(p, b, b->list.Msgs[i]);
    rc = consumer_check_stream(p->consumer);
    if (rc) {
        settle(p, b, 0);
        return rc > 0 ? -EAGAIN : -EIO;
    }
    return 0;
}

/* While Postgres is down the held messages would be redelivered to
 * another worker after AckWait: tell the server we are still on them. */
static void keep_held(struct pipeline *p)
{
    size_t i;
    int k;

    for (k = 0; k < 2; k++)
        for (i = 0; i < p->b[k].n_held; i++)
            consumer_in_progress(p->consumer, p->b[k].held[i]);
}

/* Commits b after a failed attempt (rc), retrying with backoff and
 * reconnecting until it works. 0, or -ECANCELED once *stop is set. */
static int retry_apply(struct pipeline *p, struct batch *b, int rc,
                       size_t *changed, volatile sig_atomic_t *stop)
{
    int64_t last_keep = nats_Now();
    unsigned attempt;

    for (attempt = 0; rc; attempt++) {
        metrics_add(p->m.pg_errors, 1);
        set_pg_up(p, 0);
        if (*stop || shutdown_sleep_ms(stop, retry_delay_ms(&RETRY_DEFAULT,
                                                            attempt, &p->seed)))
            return -ECANCELED;
        if (nats_Now() - last_keep >= p->ack_wait_ms / 3) {
            keep_held(p);
            last_keep = nats_Now();
        }
        if (rc == -EIO && store_reconnect(p->store))
            continue;
        rc = store_apply(p->store, b->votes, b->n_held, changed);
    }
    log_info("pg_recovered", LOG_INT("attempts", attempt + 1));
    return 0;
}

/* Acks b's messages after their commit, or hands them back (Nak). */
static void settle(struct pipeline *p, struct batch *b, int committed)
{
    size_t i;

    for (i = 0; i < b->n_held; i++) {
        if (committed)
            consumer_ack(p->consumer, b->held[i]);
        else
            consumer_nak(p->consumer, b->held[i]);
    }
    if (committed)
        metrics_add(p->m.acked, b->n_held);
    b->n_held = 0;
    natsMsgList_Destroy(&b->list);
}

/* Waits for the commit of the batch in flight, retrying a failed one;
 * *out gets that batch (NULL: none), for settle(). 0 once committed, or
 * -ECANCELED once *stop is set while Postgres is down. */
static int await_commit(struct pipeline *p, struct batch **out,
                        volatile sig_atomic_t *stop)
{
    struct batch *b = p->inflight;
    size_t changed = 0;
    int rc;

    *out = b;
    if (!b)
        return 0;
    p->inflight = NULL;
    rc = b->send_rc;
    if (rc == 0 && b->n_held) {
        pg_waiting(p, 1);
        rc = store_apply_wait(p->store, &changed);
        pg_waiting(p, 0);
    }
    if (rc)
        rc = retry_apply(p, b, rc, &changed, stop);
    if (rc == 0) {
        set_pg_up(p, 1);
        p->last_pg_ok_ms = nats_Now();
        metrics_add(p->m.applied, changed);
        metrics_observe(p->m.batch_seconds,
                        (double)(nats_Now() - b->t0) / 1000.0);
    }
    return rc;
}

/* Waits for the commit of the batch in flight, then acks it. */
static int finish(struct pipeline *p, volatile sig_atomic_t *stop)
{
    struct batch *b;
    int rc = await_commit(p, &b, stop);

    if (b)
        settle(p, b, rc == 0);
    return rc;
}

/* Sends b to Postgres and leaves it in flight; a failed send is retried
 * by finish(). */
static void launch(struct pipeline *p, struct batch *b)
{
    p->inflight = b;
    b->send_rc =
        b->n_held ? store_apply_send(p->store, b->votes, b->n_held) : 0;
}

static void refresh_lag(struct pipeline *p)
{
    uint64_t pending, unacked;
    int64_t now = nats_Now();

    if (now - p->last_lag_ms < LAG_EVERY_MS)
        return;
    p->last_lag_ms = now;
    if (consumer_lag(p->consumer, &pending, &unacked) == 0) {
        metrics_set(p->m.lag, (double)pending);
        metrics_set(p->m.unacked, (double)unacked);
    }
}

/* Under a steady trickle each fill would take the handful of votes that
 * came during the last commit, and a batch of 20 costs Postgres, NATS and
 * result (one statement, commit and NOTIFY each) nearly what a batch of
 * 500 does. So unless the last batch was full, fills start at least
 * MIN_CYCLE_MS apart: a vote waits at most that much longer. */
static void pace(struct pipeline *p, volatile sig_atomic_t *stop)
{
    int64_t now = nats_Now(), wait = p->last_fill_ms + MIN_CYCLE_MS - now;

    if (!p->last_full && wait > 0)
        shutdown_sleep_ms(stop, (unsigned)wait);
    p->last_fill_ms = nats_Now();
}

/* The epoch of the current stream, from Postgres (store_epoch_of), and
 * its record there: said loudly when it is not the stream the workers
 * read before (once: the worker whose update changed the row). Nothing
 * may be in flight. 0, or -EIO when Postgres could not say. */
static int note_stream(struct pipeline *p)
{
    int64_t stream = consumer_stream(p->consumer), epoch, was;

    if (stream != p->stream) {
        if (!stream || store_epoch_of(p->store, stream, &epoch))
            return -EIO;
        p->stream = stream;
        p->epoch = epoch;
    }
    if (p->epoch == p->noted_epoch ||
        store_note_epoch(p->store, p->epoch, &was))
        return 0;
    p->noted_epoch = p->epoch;
    if (was == p->epoch)
        return 0;
    if (was == 0) {
        log_info("stream_first_seen", LOG_STR("stream", CONSUMER_STREAM),
                 LOG_INT("created", stream), LOG_INT("epoch", p->epoch));
        return 0;
    }
    log_warn("stream_changed", LOG_STR("stream", CONSUMER_STREAM),
             LOG_INT("was", was), LOG_INT("now", p->epoch),
             LOG_INT("created", stream),
             LOG_STR("meaning",
                     "the stream was re-created or moved; its sequences start "
                     "over. Votes are ordered by (epoch, seq): new ones win "
                     "over older rows; votes not copied from the old stream "
                     "are gone"));
    return 0;
}

/* Gives b's votes the epoch of the stream they came from (the one the
 * check in fill() named); nothing may be in flight. 0, or -EIO after
 * handing b back when Postgres could not say. */
static int stamp(struct pipeline *p, struct batch *b)
{
    size_t k;

    if (note_stream(p) || p->stream != consumer_stream(p->consumer)) {
        settle(p, b, 0);
        return -EIO;
    }
    for (k = 0; k < b->n_held; k++)
        b->votes[k].epoch = p->epoch;
    return 0;
}

/* With no batch to commit, a broken Postgres connection would go
 * unnoticed (and /readyz stay green) until the next vote: check it every
 * PG_PROBE_MS, and reconnect while it is down. */
static void probe_pg(struct pipeline *p)
{
    int rc;

    if (nats_Now() - p->last_pg_ok_ms < PG_PROBE_MS)
        return;
    pg_waiting(p, 1);
    rc = store_connected(p->store) ? store_ping(p->store) : -EIO;
    if (rc == -EIO && store_reconnect(p->store) == 0)
        rc = store_ping(p->store);
    pg_waiting(p, 0);
    p->last_pg_ok_ms = nats_Now(); /* next probe in PG_PROBE_MS either way */
    if (rc) {
        metrics_add(p->m.pg_errors, 1);
        set_pg_up(p, 0);
        return;
    }
    if (!atomic_load(&p->pg_up))
        log_info("pg_recovered", LOG_BOOL("idle", 1));
    set_pg_up(p, 1);
}

/* Between batches: the stream check a reconnect asked for, its record in
 * Postgres, and the idle probe. Nothing is in flight. */
static void tend(struct pipeline *p, int idle)
{
    consumer_check_stream(p->consumer); /* -EIO: asked again later */
    if (idle)
        probe_pg(p);
    note_stream(p);
}

int pipeline_step(struct pipeline *p, volatile sig_atomic_t *stop)
{
    struct batch *next = &p->b[p->cur], *prev;
    int rc, done;

    refresh_lag(p);
    pace(p, stop);
    rc = fill(p, next, 0); /* while Postgres commits the batch in flight */
    p->last_full = rc == 0 && next->list.Count == p->batch;
    done = await_commit(p, &prev, stop);
    if (rc || done) {
        if (prev)
            settle(p, prev, done == 0);
        if (rc) {
            if (!done)
                tend(p, rc == -ETIMEDOUT);
            return done ? done : rc;
        }
        settle(p, next, 0); /* stopped while Postgres was down */
        return done;
    }
    if (stamp(p, next))
        return -EIO;
    p->cur ^= 1;
    launch(p, next);
    /* Acked once the next batch is on its way: Postgres does not sit idle
     * while 500 acks are written (~1 ms a batch). */
    if (prev)
        settle(p, prev, 1);
    return 0;
}

int pipeline_run(struct pipeline *p, volatile sig_atomic_t *stop)
{
    while (!*stop) {
        if (pipeline_step(p, stop) == -EIO)
            shutdown_sleep_ms(stop, NATS_ERROR_PAUSE_MS);
    }
    finish(p, stop); /* the batch in flight, committed and acked */
    /* Messages the server sent ahead are applied and acked too, rather
     * than left to wait out AckWait before another worker may have them. */
    while (fill(p, &p->b[p->cur], 1) == 0) {
        if (stamp(p, &p->b[p->cur]))
            break; /* handed back */
        launch(p, &p->b[p->cur]);
        if (finish(p, stop))
            break; /* Postgres down: handed back (NAK) */
    }
    return 0;
}
