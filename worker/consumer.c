/* consumer.c - JetStream stream, durable pull consumer, fetch and dead
 * letters; see consumer.h.
 *
 * MaxDeliver is unlimited on purpose: poison is terminated by the worker
 * itself as soon as it is decoded, so a message is only redelivered when a
 * worker died or Postgres failed. With a finite MaxDeliver, a Postgres
 * outage longer than MaxDeliver * AckWait would make the server drop votes
 * that had been answered 200 (invariant 1); the worker also marks held
 * messages in progress while it waits for Postgres.
 *
 * Pulling is done here over core NATS (a request to
 * $JS.API.CONSUMER.MSG.NEXT.VOTES.worker, replies on our own inbox), not
 * with natsSubscription_Fetch(): in nats.c 3.4.1 a Fetch that finds
 * messages left over from an earlier, timed-out Fetch miscounts its batch
 * (`req->Batch -= count`, then loops while count != req->Batch) and can
 * write past its message array; measured under load with two workers
 * (ASan: heap-buffer-overflow). Here extra messages simply wait in the
 * inbox for the next round, and acks are plain publishes to the reply
 * subject, exactly what natsMsg_Ack() sends. */
#include "worker/consumer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log/log.h"

#define NS_PER_MS         1000000LL
#define LINGER_MS         2
#define DELIVERED_WAIT_MS 1000
#define ERR_LOG_EVERY_MS  10000

struct consumer {
    struct consumer_opts opts;
    natsOptions *nopts;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub; /* core subscription on inbox */
    char inbox[64];
    char next_subj[96];
    int prefetch_left;     /* messages still due from the last prefetch */
    int64_t waiting_until; /* when the last waiting request expires */
    int64_t last_err_log_ms;
    int errs_since_log;
};

static void log_nats(const char *event, natsStatus s, jsErrCode jerr)
{
    char q[200];

    log_warn(event, "\"status\":%s,\"js_code\":%d,\"error\":%s",
             log_quote(q, sizeof(q), natsStatus_GetText(s)), (int)jerr,
             log_quote(q + 100, 100, nats_GetLastError(NULL)));
}

static void on_disconnected(natsConnection *nc, void *arg)
{
    log_warn("nats_disconnected", "\"reconnecting\":true");
}

static void on_reconnected(natsConnection *nc, void *arg)
{
    log_info("nats_reconnected", "\"ok\":true");
}

static natsStatus make_options(struct consumer *c)
{
    natsStatus s = natsOptions_Create(&c->nopts);

    if (s == NATS_OK)
        s = natsOptions_SetURL(c->nopts, c->opts.url);
    if (s == NATS_OK)
        s = natsOptions_SetName(c->nopts, "worker");
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(c->nopts, -1); /* forever */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(c->nopts, 250);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectJitter(c->nopts, 100, 1000);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(c->nopts, on_disconnected, c);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(c->nopts, on_reconnected, c);
    return s;
}

/* Stream `name` on `subject` exists afterwards; an existing one is used
 * as it is. dup_ns: its Duplicates window, 0 for the server's default. */
static int ensure_stream(struct consumer *c, const char *name,
                         const char *subject, int64_t dup_ns)
{
    const char *subjects[] = {subject};
    jsStreamInfo *si = NULL;
    jsStreamConfig cfg;
    jsErrCode jerr = 0;
    natsStatus s;

    s = js_GetStreamInfo(&si, c->js, name, NULL, &jerr);
    if (s == NATS_OK)
        goto out_found;
    if (jerr != JSStreamNotFoundErr)
        goto out_err;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = dup_ns;
    s = js_AddStream(&si, c->js, &cfg, NULL, &jerr);
    if (s == NATS_OK) {
        log_info("stream_created", "\"stream\":\"%s\"", name);
        goto out_found;
    }
    /* Another replica (or vote) may have created it meanwhile. */
    s = js_GetStreamInfo(&si, c->js, name, NULL, &jerr);
    if (s == NATS_OK)
        goto out_found;
out_err:
    log_nats("stream_setup_failed", s, jerr);
    return -EIO;
out_found:
    jsStreamInfo_Destroy(si);
    return 0;
}

static void consumer_config(const struct consumer *c, jsConsumerConfig *cc)
{
    jsConsumerConfig_Init(cc);
    cc->Durable = CONSUMER_DURABLE;
    cc->AckPolicy = js_AckExplicit;
    cc->AckWait = c->opts.ack_wait_ms * NS_PER_MS;
    cc->MaxDeliver = -1; /* see the top of this file */
    cc->MaxAckPending = c->opts.max_ack_pending;
    /* No FilterSubject: VOTES holds only votes.>, and with a filter
     * nats-server 2.9 recounts pending messages by scanning the stream on
     * every no_wait pull: measured at 100% server CPU and ~300 msgs/s on a
     * 1M backlog. */
    cc->DeliverPolicy = js_DeliverAll;
}

/* An existing consumer is kept, but a MaxAckPending below three batches
 * (one in Postgres, one being filled, one prefetched) would throttle every
 * fetch (trap 2): raise it. */
static int check_existing(struct consumer *c, jsConsumerInfo *ci)
{
    jsConsumerInfo *up = NULL;
    jsErrCode jerr = 0;
    natsStatus s;

    if (ci->Config->MaxAckPending >= 3LL * c->opts.batch)
        return 0;
    log_warn("consumer_max_ack_pending_low", "\"was\":%lld,\"now\":%lld",
             (long long)ci->Config->MaxAckPending,
             (long long)c->opts.max_ack_pending);
    ci->Config->MaxAckPending = c->opts.max_ack_pending;
    s = js_UpdateConsumer(&up, c->js, CONSUMER_STREAM, ci->Config, NULL, &jerr);
    jsConsumerInfo_Destroy(up);
    if (s != NATS_OK)
        log_nats("consumer_update_failed", s, jerr); /* slower, not wrong */
    return 0;
}

static int ensure_consumer(struct consumer *c)
{
    jsConsumerInfo *ci = NULL;
    jsConsumerConfig cc;
    jsErrCode jerr = 0;
    natsStatus s;
    int rc;

    s = js_GetConsumerInfo(&ci, c->js, CONSUMER_STREAM, CONSUMER_DURABLE, NULL,
                           &jerr);
    if (s == NATS_OK) {
        rc = check_existing(c, ci);
        jsConsumerInfo_Destroy(ci);
        return rc;
    }
    if (jerr != JSConsumerNotFoundErr) {
        log_nats("consumer_setup_failed", s, jerr);
        return -EIO;
    }
    consumer_config(c, &cc);
    s = js_AddConsumer(&ci, c->js, CONSUMER_STREAM, &cc, NULL, &jerr);
    jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK) {
        log_nats("consumer_setup_failed", s, jerr);
        return -EIO;
    }
    log_info("consumer_created", "\"consumer\":\"%s\"", CONSUMER_DURABLE);
    return 0;
}

static int bind_pull(struct consumer *c)
{
    natsInbox *inbox = NULL;
    natsStatus s;

    s = natsInbox_Create(&inbox);
    if (s == NATS_OK)
        snprintf(c->inbox, sizeof(c->inbox), "%s", inbox);
    natsInbox_Destroy(inbox);
    snprintf(c->next_subj, sizeof(c->next_subj),
             "$JS.API.CONSUMER.MSG.NEXT.%s.%s", CONSUMER_STREAM,
             CONSUMER_DURABLE);
    if (s == NATS_OK)
        s = natsConnection_SubscribeSync(&c->sub, c->nc, c->inbox);
    if (s == NATS_OK) /* leftovers wait here: never drop them */
        s = natsSubscription_SetPendingLimits(c->sub, -1, -1);
    if (s != NATS_OK) {
        log_nats("consumer_bind_failed", s, 0);
        return -EIO;
    }
    return 0;
}

static int connect_and_bind(struct consumer *c)
{
    jsOptions jo;
    natsStatus s;

    s = make_options(c);
    if (s == NATS_OK)
        s = natsConnection_Connect(&c->nc, c->nopts);
    if (s != NATS_OK) {
        log_nats("nats_connect_failed", s, 0);
        return -ECONNREFUSED;
    }
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    s = natsConnection_JetStream(&c->js, c->nc, &jo);
    if (s != NATS_OK)
        return -ENOMEM;
    if (ensure_stream(c, CONSUMER_STREAM, CONSUMER_SUBJECTS,
                      c->opts.dup_window_ms * NS_PER_MS) ||
        ensure_stream(c, CONSUMER_DL_STREAM, CONSUMER_DL_SUBJECTS, 0) ||
        ensure_consumer(c) || bind_pull(c))
        return -EIO;
    return 0;
}

int consumer_open(struct consumer **out, const struct consumer_opts *o)
{
    struct consumer *c;
    int rc;

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->opts = *o;
    rc = connect_and_bind(c);
    if (rc) {
        consumer_close(c);
        return rc;
    }
    log_info("consumer_bound", "\"stream\":\"%s\",\"consumer\":\"%s\"",
             CONSUMER_STREAM, CONSUMER_DURABLE);
    *out = c;
    return 0;
}

static void nak_leftovers(struct consumer *c);

void consumer_close(struct consumer *c)
{
    if (!c)
        return;
    if (c->nc) {
        nak_leftovers(c);
        natsConnection_FlushTimeout(c->nc, 2000); /* pending acks */
        natsConnection_Close(c->nc); /* trap 5: close before destroy */
    }
    natsSubscription_Destroy(c->sub); /* trap 5: after the close */
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    natsOptions_Destroy(c->nopts);
    free(c);
}

/* Logs fetch errors at most every ERR_LOG_EVERY_MS. */
static void log_fetch_error(struct consumer *c, natsStatus s)
{
    int64_t now = nats_Now();

    c->errs_since_log++;
    if (now - c->last_err_log_ms < ERR_LOG_EVERY_MS)
        return;
    log_nats("fetch_failed", s, 0);
    c->last_err_log_ms = now;
    c->errs_since_log = 0;
}

/* Asks the server for n messages: at once (no_wait: what is there, then a
 * 404), or waiting up to wait_ms for them. */
static natsStatus request_next(struct consumer *c, int n, int no_wait,
                               int64_t wait_ms)
{
    char body[96];
    int len;

    if (no_wait) {
        len =
            snprintf(body, sizeof(body), "{\"batch\":%d,\"no_wait\":true}", n);
    } else {
        len = snprintf(body, sizeof(body), "{\"batch\":%d,\"expires\":%lld}", n,
                       (long long)wait_ms * NS_PER_MS);
        c->waiting_until = nats_Now() + wait_ms;
    }
    return natsConnection_PublishRequest(c->nc, c->next_subj, c->inbox, body,
                                         len);
}

enum { GOT_MSG, GOT_NOTHING, GOT_END };

/* Takes m into the list, or tells what status message it is. */
static int sort_msg(natsMsg *m, natsMsgList *list)
{
    const char *status = NULL;

    if (natsMsg_GetDataLength(m) == 0 &&
        natsMsgHeader_Get(m, "Status", &status) == NATS_OK) {
        int end = strncmp(status, "100", 3) != 0; /* 100: heartbeat */

        natsMsg_Destroy(m);
        return end ? GOT_END : GOT_NOTHING;
    }
    list->Msgs[list->Count++] = m;
    return GOT_MSG;
}

/* Waits for what the prefetch of the last round still owes: it ends with
 * the whole batch, or with a status when the stream had fewer. */
static natsStatus take_prefetched(struct consumer *c, natsMsgList *list,
                                  int64_t deadline)
{
    natsStatus s = NATS_OK;
    int64_t left;
    natsMsg *m;

    while (c->prefetch_left > 0 && list->Count < c->opts.batch) {
        left = deadline - nats_Now();
        if (left <= 0)
            break;
        s = natsSubscription_NextMsg(&m, c->sub, left);
        if (s != NATS_OK)
            break;
        if (sort_msg(m, list) == GOT_MSG)
            c->prefetch_left--;
        else
            c->prefetch_left = 0;
    }
    if (s != NATS_OK)
        c->prefetch_left = 0;
    return s == NATS_TIMEOUT ? NATS_OK : s;
}

/* Takes what the inbox holds, up to a batch, waiting for more until the
 * time `until` (nats_Now() clock). */
static void take_inbox(struct consumer *c, natsMsgList *list, int64_t until)
{
    int64_t left;
    natsMsg *m;

    while (list->Count < c->opts.batch) {
        left = until - nats_Now();
        if (natsSubscription_NextMsg(&m, c->sub, left > 0 ? left : 0) !=
            NATS_OK)
            break;
        sort_msg(m, list);
    }
}

/* The prefetch first, then leftovers (ours until AckWait), then a no_wait
 * request; when nothing at all is there, one request that waits. After a
 * full batch there is likely a backlog: ask for the next batch at once, so
 * the server delivers it while this one is in Postgres. */
static natsStatus pull(struct consumer *c, natsMsgList *list)
{
    int64_t deadline = nats_Now() + c->opts.fetch_wait_ms, left;
    int waited = 0, got;
    natsStatus s = take_prefetched(c, list, deadline);
    natsMsg *m;

    if (s == NATS_OK)
        take_inbox(c, list, 0); /* no waiting */
    /* (A prefetch still due means the deadline passed: nothing more.) */
    if (s == NATS_OK && list->Count < c->opts.batch && !c->prefetch_left)
        s = request_next(c, c->opts.batch - list->Count, 1, 0);
    while (s == NATS_OK && list->Count < c->opts.batch) {
        left = deadline - nats_Now();
        if (left <= 0)
            break;
        /* Once a waiting request has brought votes, don't hold them for a
         * full batch (up to fetch_wait_ms of latency at a trickle): take
         * what follows within LINGER_MS and go; later ones stay in the
         * inbox for the next round. */
        if (waited && list->Count > 0 && left > LINGER_MS)
            left = LINGER_MS;
        s = natsSubscription_NextMsg(&m, c->sub, left);
        if (s != NATS_OK)
            break;
        got = sort_msg(m, list);
        if (got != GOT_END)
            continue;
        if (list->Count > 0 || waited || left <= 20)
            break;
        waited = 1; /* empty now: wait for the first ones to come */
        s = request_next(c, c->opts.batch, 0, left - 10);
    }
    if (s == NATS_TIMEOUT)
        s = NATS_OK;
    if (s == NATS_OK && list->Count == c->opts.batch && !c->prefetch_left &&
        request_next(c, c->opts.batch, 1, 0) == NATS_OK)
        c->prefetch_left = c->opts.batch;
    return s;
}

/* What is in the inbox, still due from the prefetch, or may still come
 * for a waiting request until it expires; sends no request. */
static natsStatus pull_delivered(struct consumer *c, natsMsgList *list)
{
    natsStatus s = take_prefetched(c, list, nats_Now() + DELIVERED_WAIT_MS);

    if (s == NATS_OK)
        take_inbox(c, list, c->waiting_until);
    return s;
}

static int fetch_with(struct consumer *c, natsMsgList *list,
                      natsStatus (*how)(struct consumer *, natsMsgList *))
{
    natsStatus s;

    memset(list, 0, sizeof(*list));
    list->Msgs = calloc((size_t)c->opts.batch, sizeof(*list->Msgs));
    if (!list->Msgs)
        return -ENOMEM;
    s = how(c, list);
    if (s == NATS_OK && list->Count > 0)
        return 0;
    natsMsgList_Destroy(list);
    if (s == NATS_OK)
        return -ETIMEDOUT;
    log_fetch_error(c, s);
    return -EIO;
}

int consumer_fetch(struct consumer *c, natsMsgList *list)
{
    return fetch_with(c, list, pull);
}

int consumer_fetch_delivered(struct consumer *c, natsMsgList *list)
{
    return fetch_with(c, list, pull_delivered);
}

/* Acknowledgements are publishes to the message's reply subject. */
static int reply(struct consumer *c, natsMsg *m, const char *what)
{
    const char *to = natsMsg_GetReply(m);

    if (!to || !*to)
        return -EINVAL;
    return natsConnection_Publish(c->nc, to, what, (int)strlen(what)) == NATS_OK
               ? 0
               : -EIO;
}

/* Whatever is still in the inbox at close goes back at once (NAK) rather
 * than after AckWait. */
static void nak_leftovers(struct consumer *c)
{
    natsMsg *m;

    while (natsSubscription_NextMsg(&m, c->sub, 0) == NATS_OK) {
        if (natsMsg_GetDataLength(m) > 0)
            reply(c, m, "-NAK");
        natsMsg_Destroy(m);
    }
}

int consumer_ack(struct consumer *c, natsMsg *m)
{
    return reply(c, m, "+ACK");
}

int consumer_nak(struct consumer *c, natsMsg *m)
{
    return reply(c, m, "-NAK");
}

int consumer_in_progress(struct consumer *c, natsMsg *m)
{
    return reply(c, m, "+WPI");
}

int consumer_seq(natsMsg *m, uint64_t *seq, uint64_t *delivered)
{
    jsMsgMetaData *meta = NULL;

    if (natsMsg_GetMetaData(&meta, m) != NATS_OK)
        return -EINVAL;
    *seq = meta->Sequence.Stream;
    *delivered = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
    return 0;
}

int consumer_deadletter(struct consumer *c, natsMsg *m, const char *reason)
{
    natsMsg *dl = NULL;
    natsStatus s;

    s = natsMsg_Create(&dl, CONSUMER_DEADLETTER, NULL, natsMsg_GetData(m),
                       natsMsg_GetDataLength(m));
    if (s == NATS_OK)
        s = natsMsgHeader_Set(dl, CONSUMER_REASON_HDR, reason);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(dl, "Voting-Original-Subject",
                              natsMsg_GetSubject(m));
    /* Stored in DEADLETTER before the original is terminated: a dead
     * letter is set aside, never lost. */
    if (s == NATS_OK)
        s = js_PublishMsg(NULL, c->js, dl, NULL, NULL);
    natsMsg_Destroy(dl);
    if (s == NATS_OK && reply(c, m, "+TERM"))
        s = NATS_ERR;
    if (s != NATS_OK) {
        log_nats("deadletter_failed", s, 0);
        return -EIO;
    }
    return 0;
}

int consumer_lag(struct consumer *c, uint64_t *pending, uint64_t *unacked)
{
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s;

    s = js_GetConsumerInfo(&ci, c->js, CONSUMER_STREAM, CONSUMER_DURABLE, NULL,
                           &jerr);
    if (s != NATS_OK)
        return -EIO;
    *pending = ci->NumPending;
    *unacked = (uint64_t)ci->NumAckPending;
    jsConsumerInfo_Destroy(ci);
    return 0;
}

int consumer_connected(struct consumer *c)
{
    return c && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
}

int consumer_flush(struct consumer *c, int timeout_ms)
{
    return natsConnection_FlushTimeout(c->nc, timeout_ms) == NATS_OK ? 0 : -EIO;
}
