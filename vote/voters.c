/* voters.c - Redis connection pool; see voters.h.
 *
 * Connections carry the pool's generation at the time they were made.
 * Marking the pool down bumps the generation and frees the idle ones, so
 * connections in use at that moment are dropped when they come back. */
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

#define POOL_MAX 256

struct conn {
    redisContext *rc;
    unsigned gen;
};

struct voters {
    pthread_mutex_t mu; /* idle, n_idle, gen */
    struct conn idle[POOL_MAX];
    size_t n_idle;
    unsigned gen;
    atomic_int up;
    struct config_url url;
    struct timeval timeout;
};

int voters_open(struct voters **out, const struct config_url *url,
                unsigned timeout_ms)
{
    struct voters *v = calloc(1, sizeof(*v));

    *out = NULL;
    if (!v)
        return -ENOMEM;
    pthread_mutex_init(&v->mu, NULL);
    v->url = *url;
    v->timeout.tv_sec = timeout_ms / 1000;
    v->timeout.tv_usec = (long)(timeout_ms % 1000) * 1000;
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
    char q[160];
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
        log_warn("redis_down", "\"host\":\"%s\",\"port\":%u,\"error\":%s",
                 v->url.host, v->url.port, log_quote(q, sizeof(q), why));
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

int voters_set(struct voters *v, const char *voter, const char *option)
{
    struct conn c;
    int rc = acquire(v, &c);

    if (rc) {
        if (rc != -ENOTCONN)
            mark_down(v, c.gen, "connect failed");
        return rc == -ENOTCONN ? rc : -EIO;
    }
    if (command_ok(c.rc, "HSET %s %s %s", VOTERS_KEY, voter, option)) {
        fail(v, &c);
        return -EIO;
    }
    release(v, &c);
    return 0;
}

int voters_get(struct voters *v, const char *voter, char *out, size_t n)
{
    struct conn c;
    redisReply *r;
    int rc = acquire(v, &c);

    out[0] = '\0';
    if (rc) {
        if (rc != -ENOTCONN)
            mark_down(v, c.gen, "connect failed");
        return rc == -ENOTCONN ? rc : -EIO;
    }
    r = redisCommand(c.rc, "HGET %s %s", VOTERS_KEY, voter);
    if (!r || (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_NIL)) {
        freeReplyObject(r);
        fail(v, &c);
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
    while (v->n_idle > 0)
        redisFree(v->idle[--v->n_idle].rc);
    pthread_mutex_destroy(&v->mu);
    free(v);
}
