/* voters.c - Redis writer thread and connection pool; see voters.h.
 *
 * Connections carry the pool's generation at the time they were made.
 * Marking the pool down bumps the generation and frees the idle ones, so
 * connections in use at that moment are dropped when they come back.
 *
 * The write queue is a ring of VOTERS_QUEUE_MAX entries; `queued` and
 * `written` count writes ever queued and ever finished (sent or lost), so
 * a reader waits until `written` reaches the `queued` it saw. */
#include "vote/voters.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/mono/mono.h"

#define POOL_MAX    256
#define WRITE_BATCH 512  /* HSETs per pipeline at most */
#define FULL_LOG_MS 1000 /* "queue full" logged at most once a second */

struct conn {
    redisContext *rc;
    unsigned gen;
};

struct write {
    char voter[VOTERS_VOTER_MAX + 1];
    char option[VOTERS_OPTION_MAX + 1];
};

struct voters {
    pthread_mutex_t mu; /* idle, n_idle, gen */
    struct conn idle[POOL_MAX];
    size_t n_idle;
    unsigned gen;
    atomic_int up;
    struct config_url url;
    struct timeval timeout;
    unsigned timeout_ms;
    struct metric *errors;

    pthread_mutex_t qmu; /* everything below */
    pthread_cond_t more, done;
    struct write *queue; /* ring; entry i is queue[i % VOTERS_QUEUE_MAX] */
    uint64_t queued, taken, written;
    uint64_t full; /* writes refused on a full queue, for the writer's log */
    int closing;
    pthread_t writer;
    int writer_started;
};

static void *writer_main(void *arg);

int voters_open(struct voters **out, const struct config_url *url,
                unsigned timeout_ms, struct metric *errors)
{
    struct voters *v = calloc(1, sizeof(*v));

    *out = NULL;
    if (!v)
        return -ENOMEM;
    pthread_mutex_init(&v->mu, NULL);
    pthread_mutex_init(&v->qmu, NULL);
    pthread_cond_init(&v->more, NULL);
    mono_cond_init(&v->done);
    v->url = *url;
    v->timeout_ms = timeout_ms;
    v->timeout.tv_sec = timeout_ms / 1000;
    v->timeout.tv_usec = (long)(timeout_ms % 1000) * 1000;
    v->errors = errors;
    v->queue = malloc(VOTERS_QUEUE_MAX * sizeof(*v->queue));
    if (v->queue && pthread_create(&v->writer, NULL, writer_main, v) == 0)
        v->writer_started = 1;
    if (!v->writer_started) {
        voters_close(v);
        return -ENOMEM;
    }
    *out = v;
    return 0;
}

/* Runs a command whose reply must not be an error; frees the reply. */
static int command_ok(redisContext *rc, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;
    int ok;

    va_start(ap, fmt);
    r = redisvCommand(rc, fmt, ap);
    va_end(ap);
    ok = r && r->type != REDIS_REPLY_ERROR;
    freeReplyObject(r);
    return ok ? 0 : -EIO;
}

static int auth(struct voters *v, redisContext *rc)
{
    if (!v->url.password[0])
        return 0;
    if (v->url.user[0])
        return command_ok(rc, "AUTH %s %s", v->url.user, v->url.password);
    return command_ok(rc, "AUTH %s", v->url.password);
}

static redisContext *dial(struct voters *v)
{
    redisContext *rc =
        redisConnectWithTimeout(v->url.host, v->url.port, v->timeout);

    if (!rc || rc->err || redisSetTimeout(rc, v->timeout) != REDIS_OK ||
        auth(v, rc)) {
        redisFree(rc);
        return NULL;
    }
    return rc;
}

/* Takes an idle connection, or makes one. -ENOTCONN while down. c->gen
 * is set in every case. */
static int acquire(struct voters *v, struct conn *c)
{
    c->rc = NULL;
    pthread_mutex_lock(&v->mu);
    c->gen = v->gen;
    if (!atomic_load(&v->up)) {
        pthread_mutex_unlock(&v->mu);
        return -ENOTCONN;
    }
    if (v->n_idle > 0)
        *c = v->idle[--v->n_idle];
    pthread_mutex_unlock(&v->mu);
    if (!c->rc)
        c->rc = dial(v);
    return c->rc ? 0 : -ECONNREFUSED;
}

static void release(struct voters *v, struct conn *c)
{
    pthread_mutex_lock(&v->mu);
    if (c->gen == v->gen && v->n_idle < POOL_MAX) {
        v->idle[v->n_idle++] = *c;
        c->rc = NULL;
    }
    pthread_mutex_unlock(&v->mu);
    redisFree(c->rc);
}

/* After a failure on a connection of generation gen. */
static void mark_down(struct voters *v, unsigned gen, const char *why)
{
    int was_up = 0;

    pthread_mutex_lock(&v->mu);
    if (gen == v->gen) {
        was_up = atomic_exchange(&v->up, 0);
        v->gen++;
        while (v->n_idle > 0)
            redisFree(v->idle[--v->n_idle].rc);
    }
    pthread_mutex_unlock(&v->mu);
    if (was_up)
        log_warn("redis_down", LOG_STR("host", v->url.host),
                 LOG_INT("port", v->url.port), LOG_STR("error", why));
}

static void fail(struct voters *v, struct conn *c)
{
    const char *why = c->rc && c->rc->err ? c->rc->errstr : "bad reply";

    mark_down(v, c->gen, why);
    redisFree(c->rc);
    c->rc = NULL;
}

int voters_check(struct voters *v)
{
    struct conn c;
    int rc = acquire(v, &c);

    if (rc == 0 && command_ok(c.rc, "PING") == 0) {
        release(v, &c);
        return 0;
    }
    if (rc == 0)
        fail(v, &c);
    else if (rc != -ENOTCONN)
        mark_down(v, c.gen, "connect failed");
    c.rc = dial(v);
    if (!c.rc || command_ok(c.rc, "PING")) {
        redisFree(c.rc);
        return -ECONNREFUSED;
    }
    pthread_mutex_lock(&v->mu);
    c.gen = v->gen;
    atomic_store(&v->up, 1);
    pthread_mutex_unlock(&v->mu);
    release(v, &c);
    return 0;
}

int voters_ready(struct voters *v, char *why, size_t n)
{
    if (atomic_load(&v->up))
        return 0;
    snprintf(why, n, "redis: not connected (retrying %s:%u)", v->url.host,
             v->url.port);
    return -ENOTCONN;
}

int voters_record(struct voters *v, const char *voter, const char *option)
{
    struct write *w;
    int rc = 0;

    if (strlen(voter) > VOTERS_VOTER_MAX || strlen(option) > VOTERS_OPTION_MAX)
        rc = -E2BIG;
    else if (!atomic_load(&v->up))
        rc = -ENOTCONN;
    if (rc) {
        metrics_add(v->errors, 1);
        return rc;
    }
    pthread_mutex_lock(&v->qmu);
    if (v->queued - v->written >= VOTERS_QUEUE_MAX) { /* Redis is slow */
        struct timespec until = mono_deadline(v->timeout_ms);

        while (v->queued - v->written >= VOTERS_QUEUE_MAX &&
               pthread_cond_timedwait(&v->done, &v->qmu, &until) == 0)
            ;
    }
    if (v->queued - v->written >= VOTERS_QUEUE_MAX) {
        v->full++;
        pthread_mutex_unlock(&v->qmu);
        metrics_add(v->errors, 1);
        return -ENOBUFS;
    }
    w = &v->queue[v->queued++ % VOTERS_QUEUE_MAX];
    /* Lengths checked above: these never truncate. */
    snprintf(w->voter, sizeof(w->voter), "%s", voter);
    snprintf(w->option, sizeof(w->option), "%s", option);
    if (v->queued - v->taken == 1) /* the writer may be asleep */
        pthread_cond_signal(&v->more);
    pthread_mutex_unlock(&v->qmu);
    return 0;
}

/* Sends queue entries [from, from + n) as one pipeline: all the HSETs in
 * one write, then their n replies. 0, -ENOTCONN while down, -EIO. Lost
 * writes are counted before the pool is marked down, so whoever sees it
 * down sees them counted. The entries stay in place until `written`
 * moves past them. */
static int send_batch(struct voters *v, uint64_t from, size_t n)
{
    struct conn c;
    redisReply *r = NULL;
    size_t i, sent;
    int rc = acquire(v, &c);

    if (rc) {
        metrics_add(v->errors, n);
        if (rc != -ENOTCONN)
            mark_down(v, c.gen, "connect failed");
        return rc == -ENOTCONN ? rc : -EIO;
    }
    for (sent = 0; sent < n; sent++) {
        const struct write *w = &v->queue[(from + sent) % VOTERS_QUEUE_MAX];

        if (redisAppendCommand(c.rc, "HSET %s %s %s", VOTERS_KEY, w->voter,
                               w->option) != REDIS_OK)
            break;
    }
    for (i = 0; i < sent; i++) {
        if (redisGetReply(c.rc, (void **)&r) != REDIS_OK || !r ||
            r->type == REDIS_REPLY_ERROR)
            break;
        freeReplyObject(r);
        r = NULL;
    }
    if (i < n) {
        freeReplyObject(r);
        metrics_add(v->errors, n);
        fail(v, &c);
        return -EIO;
    }
    release(v, &c);
    return 0;
}

/* Logs a failed batch, and refusals on a full queue (*full, summed until
 * logged) at most once per FULL_LOG_MS. */
static void log_lost(uint64_t n, int rc, uint64_t *full,
                     _Atomic int64_t *last_full)
{
    if (rc)
        log_warn("redis_write_failed", LOG_UINT("votes", n),
                 LOG_STR("error", strerror(-rc)),
                 LOG_STR("note", "votes acknowledged anyway"));
    if (*full && mono_due(last_full, FULL_LOG_MS)) {
        log_warn("redis_queue_full", LOG_UINT("votes", *full),
                 LOG_INT("queue", VOTERS_QUEUE_MAX),
                 LOG_STR("note",
                         "votes acknowledged anyway, not recorded in Redis"));
        *full = 0;
    }
}

/* Takes what has queued, up to WRITE_BATCH, sends it, and repeats; at
 * close, once the queue is empty, returns. */
static void *writer_main(void *arg)
{
    struct voters *v = arg;
    _Atomic int64_t last_full = 0;
    uint64_t from, full = 0;
    size_t n;
    int rc;

    pthread_mutex_lock(&v->qmu);
    for (;;) {
        while (v->taken == v->queued && !v->closing && !v->full)
            pthread_cond_wait(&v->more, &v->qmu);
        if (v->taken == v->queued && v->closing)
            break;
        from = v->taken;
        n = v->queued - from;
        if (n > WRITE_BATCH)
            n = WRITE_BATCH;
        v->taken += n;
        full += v->full;
        v->full = 0;
        pthread_mutex_unlock(&v->qmu);

        rc = n ? send_batch(v, from, n) : 0;
        log_lost(rc ? n : 0, rc == -ENOTCONN ? 0 : rc, &full, &last_full);

        pthread_mutex_lock(&v->qmu);
        v->written += n;
        pthread_cond_broadcast(&v->done);
    }
    pthread_mutex_unlock(&v->qmu);
    return NULL;
}

/* Waits until the writes queued before this call are sent or lost. */
static void wait_written(struct voters *v)
{
    struct timespec until = mono_deadline(v->timeout_ms);
    uint64_t mine;

    pthread_mutex_lock(&v->qmu);
    mine = v->queued;
    while (v->written < mine &&
           pthread_cond_timedwait(&v->done, &v->qmu, &until) == 0)
        ;
    pthread_mutex_unlock(&v->qmu);
}

int voters_get(struct voters *v, const char *voter, char *out, size_t n)
{
    struct conn c;
    redisReply *r;
    int rc;

    wait_written(v);
    rc = acquire(v, &c);
    out[0] = '\0';
    if (rc) {
        metrics_add(v->errors, 1);
        if (rc != -ENOTCONN)
            mark_down(v, c.gen, "connect failed");
        return rc == -ENOTCONN ? rc : -EIO;
    }
    r = redisCommand(c.rc, "HGET %s %s", VOTERS_KEY, voter);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        freeReplyObject(r);
        fail(v, &c);
        metrics_add(v->errors, 1);
        return -EIO;
    }
    if (r->type == REDIS_REPLY_STRING)
        snprintf(out, n, "%s", r->str);
    freeReplyObject(r);
    release(v, &c);
    return 0;
}

void voters_close(struct voters *v)
{
    if (!v)
        return;
    if (v->writer_started) {
        pthread_mutex_lock(&v->qmu);
        v->closing = 1;
        pthread_cond_signal(&v->more);
        pthread_mutex_unlock(&v->qmu);
        pthread_join(v->writer, NULL);
    }
    free(v->queue);
    pthread_cond_destroy(&v->more);
    pthread_cond_destroy(&v->done);
    pthread_mutex_destroy(&v->qmu);
    while (v->n_idle > 0)
        redisFree(v->idle[--v->n_idle].rc);
    pthread_mutex_destroy(&v->mu);
    free(v);
}
