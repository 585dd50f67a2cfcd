/* bus.c - JetStream publishing with per-request completion; see bus.h.
 *
 * A caller puts a waiter for its natsMsg into a small locked table,
 * publishes, and sleeps on the waiter's own lock and condition. The
 * AckHandler (on the library's reply thread) unlinks the waiter of the
 * message it got, then fills in the result and wakes the caller under the
 * waiter's lock: a woken caller contends with nobody for the table lock.
 *
 * Who finds a waiter, and how, so that a completion is never ambiguous:
 * - A linked waiter's message is alive: the library holds it until the
 *   handler destroys it, and a message taken back from the library at a
 *   disconnect (reclaim_pending) has its waiter unlinked, under the table
 *   lock, before it is freed. Two live messages never share an address,
 *   so the handler's lookup by message (address and Nats-Msg-Id) finds
 *   that message's own waiter, or none.
 * - A caller that gives up unlinks itself by its own identity (the waiter,
 *   alive on its stack), never by its message's address, which malloc may
 *   have handed to another caller's message meanwhile.
 * Whoever unlinks a waiter completes it; a caller that finds itself
 * already unlinked waits for that completion, so a waiter leaves only once
 * nothing will touch it. `outstanding` counts messages the library holds
 * for us; it reaches 0 only when the handler can no longer run. */
#include "vote/bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "lib/config/config.h"
#include "lib/jstream/jstream.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/mono/mono.h"
#include "lib/natsconn/natsconn.h"
#include "lib/retry/retry.h"
#include "proto/contract.h"

#define N_BUCKETS     256
#define TRY_MS        2000 /* one attempt's wait for its PubAck */
#define STALL_MS      100  /* js_PublishMsgAsync's wait when MaxPending full */
#define CLOSE_WAIT_MS (TRY_MS + 1000)
#define RECHECK_MS    10000 /* the stream's configuration, at least */

static const struct retry_policy RECONNECT = {100, 2000, 0};

/* A caller waiting for the PubAck of msg; on the caller's stack, linked
 * into the table only while the caller waits. msg and next are under
 * bus.mu, the rest under mu. */
struct waiter {
    natsMsg *msg;
    const char *msg_id; /* the caller's, as on msg */
    struct waiter *next;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int done;
    int err; /* 0 or -errno */
    struct bus_ack ack;
};

struct bus {
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    pthread_mutex_t mu;     /* table, waiters, outstanding */
    pthread_cond_t drained; /* outstanding reached 0 */
    pthread_cond_t space;   /* outstanding fell below max_pending */
    pthread_cond_t closed_cv;
    int closed; /* the ClosedCB ran: no more callbacks */
    struct waiter *table[N_BUCKETS];
    long outstanding;
    atomic_int stream_ok;
    atomic_int stream_bad; /* last check: -ENOENT (missing), -EPERM, or 0 */
    char stream_why[200];  /* the watch thread writes it, under mu */
    atomic_int published;  /* a first async publish went out */
    int64_t dup_ns;
    unsigned max_pending;
    unsigned seed; /* jitter; nats' reconnect thread only */
    struct metric *pending;
    struct natsconn conn; /* conn.redacted is what logs and /readyz show */
    struct jstream_settings streams;
    unsigned warned;    /* jstream_ensure's; the bus_check caller's thread */
    int64_t checked_ms; /* the last check_stream(); bus_check's thread */
};

static size_t bucket(const natsMsg *m)
{
    return (size_t)((((uintptr_t)m >> 4) * 0x9E3779B97F4A7C15ull) >> 56) %
           N_BUCKETS;
}

/* Removes the waiter of the live message m from the table; returns it,
 * or NULL. Locked. */
static struct waiter *unlink_waiter(struct bus *b, natsMsg *m)
{
    struct waiter **p = &b->table[bucket(m)];
    const char *id = NULL;
    struct waiter *w;

    natsMsgHeader_Get(m, CONTRACT_HDR_MSG_ID, &id);
    for (; *p; p = &(*p)->next) {
        if ((*p)->msg == m && id && strcmp((*p)->msg_id, id) == 0) {
            w = *p;
            *p = w->next;
            return w;
        }
    }
    return NULL;
}

/* Removes w itself from the table: 1, or 0 when someone else unlinked
 * it (and completes it). Locked. */
static int unlink_self(struct bus *b, struct waiter *w)
{
    struct waiter **p = &b->table[bucket(w->msg)];

    for (; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            return 1;
        }
    }
    return 0;
}

static void set_outstanding(struct bus *b, long delta)
{
    b->outstanding += delta;
    metrics_set(b->pending, (double)b->outstanding);
    if (delta == -1)
        pthread_cond_signal(&b->space);
    else if (delta < 0)
        pthread_cond_broadcast(&b->space);
    if (b->outstanding == 0)
        pthread_cond_broadcast(&b->drained);
}

/* A PubAck that failed: -EIO when JetStream answered an error (its code
 * goes to the caller in bus_ack.err_code), else what nats.c's status says
 * (-ETIMEDOUT; -ENOENT when no stream takes the subject). */
static int ack_errno(const jsPubAckErr *pae)
{
    return pae->ErrCode ? -EIO : natsconn_errno(pae->Err);
}

/* Hands w its result and wakes its caller; w is unlinked already. */
static void complete(struct waiter *w, int err, const struct bus_ack *ack)
{
    pthread_mutex_lock(&w->mu);
    w->err = err;
    if (ack)
        w->ack = *ack;
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                   void *closure)
{
    struct bus *b = closure;
    struct waiter *w;

    if (pae && pae->Err == NATS_NO_RESPONDERS)
        atomic_store(&b->stream_ok, 0);
    pthread_mutex_lock(&b->mu);
    w = unlink_waiter(b, msg);
    set_outstanding(b, -1); /* last touch of b */
    pthread_mutex_unlock(&b->mu);
    if (w) {
        struct bus_ack ack = {.seq = pa ? pa->Sequence : 0,
                              .duplicate = pa ? pa->Duplicate : 0,
                              .err_code = pae ? (int)pae->ErrCode : 0};

        complete(w, pa ? 0 : ack_errno(pae), &ack);
    }
    natsMsg_Destroy(msg);
}

/* For a waiter someone else unlinked: until they are done with it. */
static void await_done(struct waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cond, &w->mu);
    pthread_mutex_unlock(&w->mu);
}

/* Sleeps until the handler completes w or wait_ms pass. */
static int wait_ack(struct bus *b, struct waiter *w, unsigned wait_ms,
                    struct bus_ack *ack)
{
    struct timespec dl = mono_deadline(wait_ms);
    int rc, linked;

    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cond, &w->mu, &dl) == ETIMEDOUT)
            break;
    if (!w->done) {
        pthread_mutex_unlock(&w->mu);
        pthread_mutex_lock(&b->mu);
        linked = unlink_self(b, w);
        pthread_mutex_unlock(&b->mu);
        if (linked)
            return -ETIMEDOUT;
        await_done(w); /* being completed right now */
        pthread_mutex_lock(&w->mu);
    }
    rc = w->err;
    *ack = w->ack;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* Waits (locked) until fewer than max_pending messages are out. Our own
 * gate: the library's MaxPending stall counts stalled callers as pending
 * and can keep them all waiting out StallWait (trap 6). */
static int wait_space(struct bus *b)
{
    struct timespec dl = mono_deadline(STALL_MS);

    while (b->outstanding >= (long)b->max_pending)
        if (pthread_cond_timedwait(&b->space, &b->mu, &dl) == ETIMEDOUT)
            return b->outstanding >= (long)b->max_pending ? -EAGAIN : 0;
    return 0;
}

/* Hands m to the library with w linked; on failure we still own m. */
static int send_msg(struct bus *b, struct waiter *w, natsMsg *m,
                    unsigned wait_ms)
{
    jsPubOptions po;
    natsStatus s;
    int linked;

    /* No po.MaxWait: with it nats.c arms a timer per message, and its
     * shared timer lock cost ~20% of the throughput. Our own wait_ack()
     * deadline bounds the caller; on_disconnected() reclaims what the
     * server can no longer acknowledge. */
    jsPubOptions_Init(&po);
    po.ExpectStream = CONTRACT_STREAM;
    w->msg = m;
    pthread_mutex_lock(&b->mu);
    if (wait_space(b)) {
        pthread_mutex_unlock(&b->mu);
        natsMsg_Destroy(m);
        return -EAGAIN;
    }
    w->next = b->table[bucket(m)];
    b->table[bucket(m)] = w;
    set_outstanding(b, 1);
    pthread_mutex_unlock(&b->mu);
    s = js_PublishMsgAsync(b->js, &m, &po);
    if (s == NATS_OK) {
        atomic_store(&b->published, 1);
        return 0;
    }
    pthread_mutex_lock(&b->mu);
    linked = unlink_self(b, w);
    set_outstanding(b, -1);
    pthread_mutex_unlock(&b->mu);
    if (!linked) /* fail_waiters() took it: let it finish with w */
        await_done(w);
    natsMsg_Destroy(m);
    if (s == NATS_TIMEOUT)
        return -EAGAIN; /* the library's own stall: not sent */
    return natsconn_errno(s);
}

static int publish_once(struct bus *b, const char *subject, const void *data,
                        size_t len, const char *msg_id, unsigned wait_ms,
                        struct bus_ack *ack)
{
    struct waiter w;
    natsMsg *m = NULL;
    natsStatus s;
    int rc;

    s = natsMsg_Create(&m, subject, NULL, data, (int)len);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, CONTRACT_HDR_MSG_ID, msg_id);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return natsconn_errno(s);
    }
    memset(&w, 0, sizeof(w));
    w.msg_id = msg_id;
    pthread_mutex_init(&w.mu, NULL);
    mono_cond_init(&w.cond);
    rc = send_msg(b, &w, m, wait_ms);
    if (rc == 0)
        rc = wait_ack(b, &w, wait_ms, ack);
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

static int connected(struct bus *b)
{
    return natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
}

int bus_publish(struct bus *b, const char *subject, const void *data,
                size_t len, const char *msg_id, unsigned timeout_ms,
                struct bus_ack *ack)
{
    int64_t end = mono_ms() + timeout_ms, left;
    int rc = -ETIMEDOUT, bad;

    memset(ack, 0, sizeof(*ack));
    for (;;) {
        if (!connected(b))
            return -ENOTCONN;
        bad = atomic_load(&b->stream_bad); /* missing or refused: at once */
        if (bad)
            return bad;
        left = end - mono_ms();
        if (left <= 0)
            return rc;
        rc = publish_once(b, subject, data, len, msg_id,
                          left < TRY_MS ? (unsigned)left : TRY_MS, ack);
        if (rc != -ETIMEDOUT && rc != -EAGAIN && rc != -ENOENT)
            return rc;
        if (rc == -ENOENT && end - mono_ms() > 50) /* stream coming back? */
            nats_Sleep(50);
        log_debug("publish_retry", LOG_STR("msg_id", msg_id),
                  LOG_INT("error", rc));
    }
}

/* Checks VOTES by lib/jstream's rules; never creates it (the worker owns
 * the streams; vote's NATS user may not create or change one). */
static int check_stream(struct bus *b)
{
    struct jstream_desc d;
    char why[200] = "";
    int rc;

    jstream_votes(&d, &b->streams, b->dup_ns);
    d.dup_env = "VOTE_DUPLICATE_WINDOW_S";
    rc = jstream_ensure(b->js, &d, 0, &b->warned, why, sizeof(why));
    if (rc == -ENOENT || rc == -EPERM) {
        pthread_mutex_lock(&b->mu);
        snprintf(b->stream_why, sizeof(b->stream_why), "%s", why);
        pthread_mutex_unlock(&b->mu);
        if (atomic_exchange(&b->stream_bad, rc) != rc && rc == -ENOENT)
            log_warn("stream_missing", LOG_STR("stream", CONTRACT_STREAM),
                     LOG_INT("answer", 503),
                     LOG_STR("note",
                             "the worker creates it; votes wait until then"));
        return rc;
    }
    if (rc == 0)
        atomic_store(&b->stream_bad, 0);
    return rc == 0 ? 0 : connected(b) ? -EIO : -ENOTCONN;
}

int bus_check(struct bus *b)
{
    int rc, was_ok = atomic_load(&b->stream_ok);

    if (!connected(b))
        return -ENOTCONN;
    /* Once in a while even when all is well: an operator may have changed
     * the stream (added a subject) without deleting it. */
    if (was_ok && mono_ms() - b->checked_ms < RECHECK_MS)
        return 0;
    b->checked_ms = mono_ms();
    rc = check_stream(b);
    if (rc == -EIO && was_ok)
        return 0; /* no answer this time: asked again later */
    atomic_store(&b->stream_ok, rc == 0);
    return rc;
}

int bus_ready(struct bus *b, char *why, size_t n)
{
    if (!connected(b)) {
        snprintf(why, n, "nats: not connected (retrying %s)", b->conn.redacted);
        return -ENOTCONN;
    }
    if (atomic_load(&b->stream_bad)) {
        pthread_mutex_lock(&b->mu);
        snprintf(why, n, "nats: %s", b->stream_why);
        pthread_mutex_unlock(&b->mu);
        return atomic_load(&b->stream_bad);
    }
    if (!atomic_load(&b->stream_ok)) {
        snprintf(why, n, "nats: stream %s not checked yet", CONTRACT_STREAM);
        return -EAGAIN;
    }
    return 0;
}

static int64_t reconnect_delay(natsConnection *nc, int attempts, void *arg)
{
    struct bus *b = arg;
    unsigned d =
        retry_delay_ms(&RECONNECT, attempts > 0 ? attempts - 1 : 0, &b->seed);

    log_warn("retrying", LOG_STR("what", "nats"), LOG_INT("attempt", attempts),
             LOG_INT("delay_ms", d));
    return d;
}

/* The server nc is on now, without credentials, into shown. */
static const char *server_of(natsConnection *nc, char *shown, size_t n)
{
    char url[512];

    if (natsConnection_GetConnectedUrl(nc, url, sizeof(url)) != NATS_OK)
        url[0] = '\0';
    config_redact_url(url, shown, n);
    return shown;
}

static void on_connected(natsConnection *nc, void *arg)
{
    char url[512];

    log_info("nats_connected", LOG_STR("url", server_of(nc, url, sizeof(url))));
}

/* Completes, with -ENOTCONN, waiters already unlinked (chained by next). */
static void fail_unlinked(struct waiter *unlinked)
{
    struct waiter *w;

    while ((w = unlinked) != NULL) {
        unlinked = w->next; /* before complete(): then w may be gone */
        complete(w, -ENOTCONN, NULL);
    }
}

/* Callers still waiting get -ENOTCONN now rather than after MaxWait: a
 * 503 never claims the vote was not stored, and the client can retry. */
static void fail_waiters(struct bus *b)
{
    struct waiter *w, *unlinked = NULL;
    size_t i;

    pthread_mutex_lock(&b->mu);
    for (i = 0; i < N_BUCKETS; i++) {
        while ((w = b->table[i]) != NULL) {
            b->table[i] = w->next;
            w->next = unlinked;
            unlinked = w;
        }
    }
    pthread_mutex_unlock(&b->mu);
    fail_unlinked(unlinked);
}

/* Messages sent before the connection dropped will never get a PubAck:
 * take them back from the library (the handler will not run for them),
 * so they stop counting as pending. Their waiters leave the table, under
 * its lock, before the messages are freed: a linked waiter's message is
 * always alive. Returns how many were taken back. */
static long reclaim_pending(struct bus *b)
{
    struct waiter *w, *unlinked = NULL;
    natsMsgList pending;
    int i;

    /* Only after a first async publish: before it, nats.c 3.4.1 has no
     * pending map and this call crashes. */
    memset(&pending, 0, sizeof(pending));
    if (!atomic_load(&b->published) ||
        js_PublishAsyncGetPendingList(&pending, b->js) != NATS_OK)
        return 0;
    pthread_mutex_lock(&b->mu);
    for (i = 0; i < pending.Count; i++) {
        w = unlink_waiter(b, pending.Msgs[i]);
        if (w) {
            w->next = unlinked;
            unlinked = w;
        }
    }
    set_outstanding(b, -(long)pending.Count);
    pthread_mutex_unlock(&b->mu);
    fail_unlinked(unlinked);
    natsMsgList_Destroy(&pending);
    return i;
}

static void on_disconnected(natsConnection *nc, void *arg)
{
    struct bus *b = arg;

    log_warn("nats_disconnected", LOG_STR("servers", b->conn.redacted));
    reclaim_pending(b);
    fail_waiters(b);
}

static void on_reconnected(natsConnection *nc, void *arg)
{
    struct bus *b = arg;
    char url[512];

    atomic_store(&b->stream_ok, 0); /* the server may have lost it */
    log_info("recovered", LOG_STR("what", "nats"),
             LOG_STR("url", server_of(nc, url, sizeof(url))));
}

/* Connection callbacks run in order on the library's callback thread;
 * this one is the last, so after it b can be freed. */
static void on_closed(natsConnection *nc, void *arg)
{
    struct bus *b = arg;

    pthread_mutex_lock(&b->mu);
    b->closed = 1;
    pthread_cond_broadcast(&b->closed_cv);
    pthread_mutex_unlock(&b->mu);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub,
                           natsStatus err, void *arg)
{
    log_warn("nats_error", LOG_STR("error", natsStatus_GetText(err)));
}

static natsStatus set_options(struct bus *b)
{
    natsOptions *o = b->opts;
    natsStatus s = natsconn_apply(&b->conn, o);

    if (s == NATS_OK)
        s = natsOptions_SetName(o, "vote");
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetCustomReconnectDelay(o, reconnect_delay, b);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(o, true, on_connected, b);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, on_disconnected, b);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, on_reconnected, b);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, on_closed, b);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, on_async_error, b);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, 2000);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(o, 5000);
    return s;
}

static int connect_js(struct bus *b)
{
    natsStatus s;
    jsOptions jo;

    s = natsOptions_Create(&b->opts);
    if (s == NATS_OK)
        s = set_options(b);
    if (s == NATS_OK)
        s = natsConnection_Connect(&b->nc, b->opts);
    if (s == NATS_NOT_YET_CONNECTED)
        log_warn("nats_unavailable", LOG_STR("servers", b->conn.redacted),
                 LOG_STR("note", "retrying in the background"));
    else if (s == NATS_OK)
        on_connected(b->nc, b);
    else
        return natsconn_errno(s);
    jsOptions_Init(&jo);
    jo.Wait = 2000;
    jo.PublishAsync.MaxPending = 2 * (int64_t)b->max_pending; /* a net */
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = b;
    jo.PublishAsync.StallWait = STALL_MS;
    return natsconn_errno(natsConnection_JetStream(&b->js, b->nc, &jo));
}

int bus_open(struct bus **out, const struct bus_opts *o)
{
    struct bus *b;
    int rc;

    *out = NULL;
    b = calloc(1, sizeof(*b));
    if (!b)
        return -ENOMEM;
    if (!o->conn || o->conn->n_servers < 1)
        goto out_free;
    b->conn = *o->conn;
    if (o->streams)
        b->streams = *o->streams;
    else
        jstream_settings_default(&b->streams);
    b->dup_ns = (int64_t)o->dup_window_s * 1000000000LL; /* ns, trap 7 */
    b->max_pending = o->max_pending ? o->max_pending : 4096;
    b->pending = o->pending;
    b->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)b;
    pthread_mutex_init(&b->mu, NULL);
    mono_cond_init(&b->drained);
    mono_cond_init(&b->space);
    mono_cond_init(&b->closed_cv);
    rc = connect_js(b);
    if (rc) {
        bus_close(b);
        return rc;
    }
    *out = b;
    return 0;
out_free:
    free(b);
    return -EINVAL;
}

/* Waits until the library holds no message of ours, so the AckHandler can
 * no longer run. 0 or -ETIMEDOUT. */
static int wait_drained(struct bus *b, unsigned ms)
{
    struct timespec dl = mono_deadline(ms);
    int rc = 0;

    pthread_mutex_lock(&b->mu);
    while (b->outstanding > 0 && rc == 0)
        rc = pthread_cond_timedwait(&b->drained, &b->mu, &dl);
    rc = b->outstanding > 0 ? -ETIMEDOUT : 0;
    pthread_mutex_unlock(&b->mu);
    return rc;
}

static void wait_closed(struct bus *b, unsigned ms)
{
    struct timespec dl = mono_deadline(ms);

    pthread_mutex_lock(&b->mu);
    while (!b->closed)
        if (pthread_cond_timedwait(&b->closed_cv, &b->mu, &dl) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&b->mu);
}

int bus_flush(struct bus *b, unsigned timeout_ms)
{
    jsPubOptions po;

    jsPubOptions_Init(&po);
    po.MaxWait = timeout_ms;
    return natsconn_errno(js_PublishAsyncComplete(b->js, &po));
}

/* At close, PubAcks that never came: takes their messages back, so the
 * handler will not run for them, and waits for a handler running now.
 * If even that fails, b stays allocated for the handler, which from then
 * on touches nothing the caller frees (the pending metric). 0 or -EBUSY. */
static int give_up_pending(struct bus *b)
{
    long n = reclaim_pending(b);

    log_warn("bus_not_drained", LOG_INT("reclaimed", n));
    if (wait_drained(b, CLOSE_WAIT_MS) == 0)
        return 0;
    pthread_mutex_lock(&b->mu);
    b->pending = NULL;
    log_error("bus_not_closed", LOG_INT("outstanding", b->outstanding));
    pthread_mutex_unlock(&b->mu);
    natsConnection_Close(b->nc);
    return -EBUSY;
}

void bus_close(struct bus *b)
{
    if (!b)
        return;
    if (b->js && wait_drained(b, CLOSE_WAIT_MS) && give_up_pending(b))
        return;
    if (b->nc) {
        natsConnection_Close(b->nc);
        wait_closed(b, CLOSE_WAIT_MS);
    }
    jsCtx_Destroy(b->js);
    natsConnection_Destroy(b->nc);
    natsOptions_Destroy(b->opts);
    pthread_cond_destroy(&b->drained);
    pthread_cond_destroy(&b->space);
    pthread_cond_destroy(&b->closed_cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
