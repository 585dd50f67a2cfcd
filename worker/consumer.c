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
 * Pulling is lib/jspull's (core NATS requests, not natsSubscription_Fetch,
 * whose 3.4.1 overflow it explains). When the server says the consumer is
 * gone (deleted by hand, or with its stream), the next fetch re-creates
 * the stream if missing and the consumer, and until that works readyz
 * says why.
 *
 * Streams: a re-created stream starts its sequences at 1 again, so votes
 * are ordered by (epoch, seq), the epoch being given per stream by
 * Postgres (store_epoch_of), which knows a stream by its creation time
 * (jsStreamInfo.Created) used as a name only: no NATS clock is compared
 * with another. A batch belongs to the stream the last check named. The
 * stream is checked (one stream info request, its configuration too)
 * whenever it may have changed: at start, after a reconnect (counted
 * before the fetch returns), after re-creating the consumer, when a first
 * delivery's sequence goes back (another worker re-created the consumer),
 * and after a pause in fetching longer than STALL_MS. When the check finds
 * another stream, the batch in hand is handed back (Nak): the new stream's
 * messages come again, now known to be its; messages of the old one in it
 * are dropped with their stream (it was deleted: its unapplied votes went
 * with it). Messages come in order on one subscription, so a batch taken
 * before the change was noticed holds only the old stream's. Left open: a
 * stream deleted and re-created by hand within one commit of this worker,
 * whose new consumer another worker has already moved past this worker's
 * last sequence: its first votes there could be taken for the old
 * stream's. */
#include "worker/consumer.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/jspull/jspull.h"
#include "lib/jstream/jstream.h"
#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "lib/natsconn/natsconn.h"

#define NS_PER_MS        1000000LL
#define ERR_LOG_EVERY_MS 10000
#define STALL_MS         3000  /* no fetch this long: check the stream */
#define RECHECK_MS       10000 /* and its configuration at least this often */
#define STREAM_GRACE_MS  2000  /* see recreate() */

struct consumer {
    struct consumer_opts opts;
    natsOptions *nopts;
    natsConnection *nc;
    jsCtx *js;
    struct jspull *pull;
    _Atomic int64_t last_err_log;
    int64_t created;       /* the stream's creation time: its name */
    uint64_t last_fresh;   /* stream seq of the last first delivery */
    int64_t last_fetch_ms; /* when the last fetch returned */
    int64_t last_check_ms; /* when the stream was last checked */
    atomic_int check;      /* check the stream before use */
    atomic_int missing;    /* the consumer could not be made */
    int64_t missing_since;
    int64_t recovered_ms;
    natsStatistics *stats;
    uint64_t reconnects;   /* as of the last fetch */
    unsigned warned[2];    /* jstream_ensure's, VOTES and DEADLETTER */
    atomic_int refused;    /* a stream is not as it must be: not consuming */
    char refused_why[200]; /* written only while refused is 0 */
    int64_t refused_checked_ms;
    int bound; /* consumer made and pull subscription open */
};

static void log_nats(const char *event, natsStatus s, jsErrCode jerr)
{
    log_warn(event, LOG_STR("status", natsStatus_GetText(s)),
             LOG_INT("js_code", jerr),
             LOG_STR("error", nats_GetLastError(NULL)));
}

static void on_disconnected(natsConnection *nc, void *arg)
{
    log_warn("nats_disconnected", LOG_BOOL("reconnecting", 1));
}

static void on_reconnected(natsConnection *nc, void *arg)
{
    struct consumer *c = arg;

    atomic_store(&c->check, 1); /* a new server? */
    log_info("nats_reconnected", LOG_BOOL("ok", 1));
}

static natsStatus make_options(struct consumer *c)
{
    natsStatus s = natsOptions_Create(&c->nopts);
    struct natsconn one;
    int bad;

    if (!c->opts.conn && natsconn_parse(&one, c->opts.url, &bad))
        return NATS_INVALID_ARG;
    if (s == NATS_OK)
        s = natsconn_apply(c->opts.conn ? c->opts.conn : &one, c->nopts);
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

/* A stream refused by lib/jstream's rules: nothing is consumed until an
 * operator fixes it, and readyz says why. */
static int set_refused(struct consumer *c, int rc, const char *why)
{
    if (rc != -EPERM)
        return rc;
    if (!atomic_load(&c->refused))
        snprintf(c->refused_why, sizeof(c->refused_why), "%s", why);
    atomic_store(&c->refused, 1);
    c->refused_checked_ms = nats_Now();
    return rc;
}

/* VOTES exists afterwards, as lib/jstream describes it; an existing one
 * is checked by its rules. 0, -EPERM (refused) or -EIO. */
static int ensure_votes(struct consumer *c)
{
    struct jstream_desc d;
    char why[200] = "";
    int rc;

    jstream_votes(&d, c->opts.streams, c->opts.dup_window_ms * NS_PER_MS);
    rc = jstream_ensure(c->js, &d, 1, &c->warned[0], why, sizeof(why));
    return rc == -EPERM ? set_refused(c, rc, why) : rc ? -EIO : 0;
}

/* VOTES and DEADLETTER exist afterwards and may be used. */
static int ensure_streams(struct consumer *c)
{
    struct jstream_desc d;
    char why[200] = "";
    int rc = ensure_votes(c);

    if (rc)
        return rc;
    jstream_deadletter(&d, c->opts.streams);
    rc = jstream_ensure(c->js, &d, 1, &c->warned[1], why, sizeof(why));
    return rc == -EPERM ? set_refused(c, rc, why) : rc ? -EIO : 0;
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
    cc->ReplayPolicy = js_ReplayInstant; /* the server's default, said */
}

static const char *deliver_name(jsDeliverPolicy p)
{
    static const char *const names[] = {"all",           "last",
                                        "new",           "by_start_sequence",
                                        "by_start_time", "last_per_subject"};

    return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "?";
}

static const char *ack_name(jsAckPolicy p)
{
    return p == js_AckExplicit ? "explicit"
           : p == js_AckNone   ? "none"
           : p == js_AckAll    ? "all"
                               : "?";
}

#define DIFF_MAX 13 /* the settings consumer_diff() compares */

/* The settings that differ, as log fields: member[] holds one object
 * {"found":F,"want":W} per setting and ends with LOG_END. */
struct diff {
    size_t n;
    struct log_field member[DIFF_MAX + 1];
    struct log_field pair[DIFF_MAX][3];
};

static void add_diff(struct diff *d, const char *setting,
                     struct log_field found, struct log_field want)
{
    struct log_field *p = d->pair[d->n];

    if (d->n >= DIFF_MAX)
        return;
    p[0] = found;
    p[1] = want;
    p[2] = LOG_END;
    d->member[d->n++] = LOG_OBJ(setting, p);
    d->member[d->n] = LOG_END;
}

static void diff_str(struct diff *d, const char *setting, const char *found,
                     const char *want)
{
    found = found ? found : "";
    want = want ? want : "";
    if (strcmp(found, want))
        add_diff(d, setting, LOG_STR("found", found), LOG_STR("want", want));
}

static void diff_num(struct diff *d, const char *setting, int64_t found,
                     int64_t want)
{
    if (found != want)
        add_diff(d, setting, LOG_INT("found", found), LOG_INT("want", want));
}

static const char *replay_name(jsReplayPolicy p)
{
    return p == js_ReplayInstant ? "instant" : "original";
}

/* Every setting of the consumer found that bears on delivering each vote
 * to the worker until it acks it, compared with ours; d->n is 0 when none
 * differs. What else a consumer has (description, sample frequency, max
 * waiting) changes no delivery. d points into have and want. */
static void consumer_diff(const jsConsumerConfig *have,
                          const jsConsumerConfig *want, struct diff *d)
{
    d->n = 0;
    d->member[0] = LOG_END;
    diff_str(d, "durable_name", have->Durable, want->Durable);
    diff_str(d, "ack_policy", ack_name(have->AckPolicy),
             ack_name(want->AckPolicy));
    diff_str(d, "filter_subject", have->FilterSubject, want->FilterSubject);
    diff_str(d, "deliver_policy", deliver_name(have->DeliverPolicy),
             deliver_name(want->DeliverPolicy));
    diff_num(d, "max_deliver", have->MaxDeliver, want->MaxDeliver);
    diff_num(d, "inactive_threshold", have->InactiveThreshold,
             want->InactiveThreshold);
    diff_num(d, "ack_wait", have->AckWait, want->AckWait);
    diff_num(d, "max_ack_pending", have->MaxAckPending, want->MaxAckPending);
    diff_str(d, "replay_policy", replay_name(have->ReplayPolicy),
             replay_name(want->ReplayPolicy));
    diff_str(d, "deliver_subject", have->DeliverSubject, want->DeliverSubject);
    diff_num(d, "backoff", have->BackOffLen, want->BackOffLen);
    diff_num(d, "headers_only", have->HeadersOnly, want->HeadersOnly);
    diff_num(d, "max_request_batch", have->MaxRequestBatch,
             want->MaxRequestBatch);
}

/* 1 when the consumer now on the server is configured as ours, 0 when
 * it differs, -EIO when it could not be read. */
static int consumer_matches(struct consumer *c, const jsConsumerConfig *want)
{
    jsConsumerInfo *ci = NULL;
    struct diff d;
    int rc = -EIO;

    if (js_GetConsumerInfo(&ci, c->js, CONSUMER_STREAM, CONSUMER_DURABLE, NULL,
                           NULL) == NATS_OK) {
        consumer_diff(ci->Config, want, &d);
        rc = d.n == 0;
    }
    jsConsumerInfo_Destroy(ci);
    return rc;
}

/* A consumer "worker" that is not configured as ours could lose votes
 * answered 200 (ack policy none, a filter, MaxDeliver 1, an inactivity
 * threshold, headers only) or stall the worker (a push consumer): nobody
 * but the worker (and admin) may make it (compose/nats/auth.conf), but an
 * operator or an older release may have. It is logged, field by field,
 * then updated in place where nats-server allows it (the consumer keeps
 * its position; ack wait, max ack pending), else deleted and made again
 * as ours: the new one starts at the stream's first message, and votes
 * delivered again change nothing (last vote by stream sequence wins).
 * 0, or -EIO when it could not be done (the caller retries). */
static int check_existing(struct consumer *c, jsConsumerInfo *ci)
{
    jsConsumerInfo *up = NULL;
    jsConsumerConfig want;
    jsErrCode jerr = 0;
    struct diff d;
    natsStatus s;

    consumer_config(c, &want);
    consumer_diff(ci->Config, &want, &d);
    if (d.n == 0)
        return 0;
    log_warn("consumer_config_differs", LOG_STR("stream", CONSUMER_STREAM),
             LOG_STR("consumer", CONSUMER_DURABLE),
             LOG_OBJ("differs", d.member));
    s = js_UpdateConsumer(&up, c->js, CONSUMER_STREAM, &want, NULL, &jerr);
    jsConsumerInfo_Destroy(up);
    if (s == NATS_OK && consumer_matches(c, &want) == 1) {
        log_warn("consumer_updated", LOG_STR("consumer", CONSUMER_DURABLE));
        return 0;
    }
    jerr = 0;
    s = js_DeleteConsumer(c->js, CONSUMER_STREAM, CONSUMER_DURABLE, NULL,
                          &jerr);
    if (s != NATS_OK && jerr != JSConsumerNotFoundErr) {
        log_nats("consumer_replace_failed", s, jerr);
        return -EIO;
    }
    s = js_AddConsumer(&up, c->js, CONSUMER_STREAM, &want, NULL, &jerr);
    jsConsumerInfo_Destroy(up);
    if (s != NATS_OK) {
        log_nats("consumer_replace_failed", s, jerr);
        return -EIO;
    }
    log_warn("consumer_replaced", LOG_STR("consumer", CONSUMER_DURABLE));
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
    log_info("consumer_created", LOG_STR("consumer", CONSUMER_DURABLE));
    return 0;
}

static int bind_pull(struct consumer *c)
{
    natsStatus s;

    char prefix[NATSCONN_INBOX_MAX];

    natsconn_inbox(c->opts.conn, prefix, sizeof(prefix));
    if (jspull_open(&c->pull, c->nc, CONSUMER_STREAM, CONSUMER_DURABLE, prefix,
                    c->opts.batch, c->opts.fetch_wait_ms, &s)) {
        log_nats("consumer_bind_failed", s, 0);
        return -EIO;
    }
    return 0;
}

/* Checks VOTES' configuration and records which stream it is (its
 * creation time). 0, 1 when it is another stream than before, -EIO. */
static int check_stream(struct consumer *c)
{
    struct jstream_desc d;
    char why[200] = "";
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s;
    int64_t now, was;

    c->last_check_ms = nats_Now();
    s = js_GetStreamInfo(&si, c->js, CONSUMER_STREAM, NULL, &jerr);
    if (s != NATS_OK) {
        log_nats("stream_check_failed", s, jerr);
        atomic_store(&c->check, 1);
        return -EIO;
    }
    jstream_votes(&d, c->opts.streams, c->opts.dup_window_ms * NS_PER_MS);
    if (set_refused(
            c, jstream_verify(&d, si->Config, &c->warned[0], why, sizeof(why)),
            why)) {
        jsStreamInfo_Destroy(si);
        return -EIO;
    }
    now = si->Created;
    jsStreamInfo_Destroy(si);
    was = c->created;
    if (now == was)
        return 0;
    c->created = now;
    log_info("stream_seen", LOG_STR("stream", CONSUMER_STREAM),
             LOG_INT("created", now), LOG_INT("was", was));
    return was ? 1 : 0;
}

static int bind(struct consumer *c);

static int connect_and_bind(struct consumer *c)
{
    jsOptions jo;
    natsStatus s;
    int rc;

    s = make_options(c);
    if (s == NATS_OK)
        s = natsConnection_Connect(&c->nc, c->nopts);
    if (s != NATS_OK) {
        log_nats("nats_connect_failed", s, 0);
        return natsconn_errno(s);
    }
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    s = natsConnection_JetStream(&c->js, c->nc, &jo);
    if (s != NATS_OK)
        return natsconn_errno(s);
    rc = bind(c);
    return rc == -EPERM ? 0 : rc; /* refused: consumer_fetch() checks */
}

/* The streams as they must be, the consumer, the pull subscription and
 * the stream's epoch. 0, -EPERM (a stream refused) or -EIO. */
static int bind(struct consumer *c)
{
    int rc = ensure_streams(c);

    if (rc)
        return rc;
    if (!c->bound && (ensure_consumer(c) || bind_pull(c)))
        return -EIO;
    c->bound = 1;
    if (check_stream(c) < 0)
        return atomic_load(&c->refused) ? -EPERM : -EIO;
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
    log_info("consumer_bound", LOG_STR("stream", CONSUMER_STREAM),
             LOG_STR("consumer", CONSUMER_DURABLE));
    *out = c;
    return 0;
}

void consumer_close(struct consumer *c)
{
    if (!c)
        return;
    if (c->nc) {
        if (c->pull) /* what waits in the inbox goes back at once */
            jspull_nak_leftovers(c->pull);
        natsConnection_FlushTimeout(c->nc, 2000); /* pending acks */
        natsConnection_Close(c->nc); /* trap 5: close before destroy */
    }
    jspull_free(c->pull); /* trap 5: after the close */
    natsStatistics_Destroy(c->stats);
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    natsOptions_Destroy(c->nopts);
    free(c);
}

/* Logs fetch errors at most every ERR_LOG_EVERY_MS. */
static void log_fetch_error(struct consumer *c, natsStatus s)
{
    if (mono_due(&c->last_err_log, ERR_LOG_EVERY_MS))
        log_nats("fetch_failed", s, 0);
}

/* 1 when stream VOTES is not there. */
static int stream_missing(struct consumer *c)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;

    js_GetStreamInfo(&si, c->js, CONSUMER_STREAM, NULL, &jerr);
    jsStreamInfo_Destroy(si);
    return jerr == JSStreamNotFoundErr;
}

/* 1 when the server answers that the consumer is there. An unanswered
 * pull reads as "gone" (see lib/jspull), but a server that was only slow
 * to answer (loaded, or paused: measured with SIGSTOP for 1.5 s) still has
 * it, and calling it missing would warn, re-create nothing and turn
 * /readyz red for nothing. */
static int consumer_exists(struct consumer *c)
{
    jsConsumerInfo *ci = NULL;
    natsStatus s;

    s = js_GetConsumerInfo(&ci, c->js, CONSUMER_STREAM, CONSUMER_DURABLE, NULL,
                           NULL);
    jsConsumerInfo_Destroy(ci);
    return s == NATS_OK;
}

/* The server said the consumer is not there: make the stream (if it went
 * too) and the consumer again, then check which stream it is. Until that
 * works, consumer_ready() says why. A stream that just went is made again
 * only STREAM_GRACE_MS later: nats-server 2.9.10 removes a deleted
 * stream's files after answering, and a stream made again at once can
 * lose its first block to that (measured: "1.blk: no such file", nothing
 * delivered). 0 or -EIO. */
static int recreate(struct consumer *c)
{
    int was;

    if (!atomic_load(&c->missing) && consumer_exists(c))
        return 0;
    was = atomic_exchange(&c->missing, 1);

    if (!was)
        c->missing_since = nats_Now();
    /* (Requests sent while it was away may still say "gone" just after.) */
    if (!was && nats_Now() - c->recovered_ms > STREAM_GRACE_MS) {
        log_warn("consumer_missing", LOG_STR("stream", CONSUMER_STREAM),
                 LOG_STR("consumer", CONSUMER_DURABLE),
                 LOG_STR("action", "re-creating"));
    }
    if (nats_Now() - c->missing_since < STREAM_GRACE_MS && stream_missing(c))
        return -EIO;
    if (ensure_votes(c) || ensure_consumer(c))
        return -EIO;
    atomic_store(&c->check, 1);
    atomic_store(&c->missing, 0);
    c->recovered_ms = nats_Now();
    log_info("consumer_recovered", LOG_STR("consumer", CONSUMER_DURABLE));
    return 0;
}

/* A message from a server we reconnected to may come before the
 * reconnected callback ran; the count is up to date before it. */
static void note_reconnects(struct consumer *c)
{
    uint64_t n = 0, x; /* x: the counts we don't need */

    if (!c->stats && natsStatistics_Create(&c->stats) != NATS_OK)
        return;
    if (natsConnection_GetStats(c->nc, c->stats) != NATS_OK ||
        natsStatistics_GetCounts(c->stats, &x, &x, &x, &x, &n) != NATS_OK)
        return;
    if (n != c->reconnects)
        atomic_store(&c->check, 1);
    c->reconnects = n;
}

/* While a stream is refused: asks again every STALL_MS whether an
 * operator fixed it. 0 once it may be used, else -EIO. */
static int recheck_refused(struct consumer *c)
{
    if (nats_Now() - c->refused_checked_ms < STALL_MS || !consumer_connected(c))
        return -EIO;
    c->refused_checked_ms = nats_Now();
    if (bind(c))
        return -EIO;
    atomic_store(&c->refused, 0);
    log_info("stream_accepted", LOG_STR("stream", CONSUMER_STREAM));
    return 0;
}

int consumer_fetch(struct consumer *c, natsMsgList *list)
{
    natsStatus err = NATS_OK;
    int rc;

    memset(list, 0, sizeof(*list));
    if (atomic_load(&c->refused) && recheck_refused(c))
        return -EIO;
    /* (An operator may change the stream under load: say so soon.) */
    if (nats_Now() - c->last_fetch_ms > STALL_MS ||
        nats_Now() - c->last_check_ms > RECHECK_MS)
        atomic_store(&c->check, 1);
    if (atomic_load(&c->missing) && (!consumer_connected(c) || recreate(c)))
        return -EIO;
    rc = jspull_fetch(c->pull, list, &err);
    c->last_fetch_ms = nats_Now();
    note_reconnects(c);
    /* (Disconnected, nothing answers: that says nothing about the
     * consumer; the rounds after the reconnect will tell.) */
    if (rc == -ENOENT && consumer_connected(c))
        return recreate(c) ? -EIO : -ETIMEDOUT;
    if (rc == -ENOENT)
        return -ETIMEDOUT;
    if (rc == -EIO)
        log_fetch_error(c, err);
    return rc;
}

int consumer_fetch_delivered(struct consumer *c, natsMsgList *list)
{
    natsStatus err = NATS_OK;
    int rc;

    memset(list, 0, sizeof(*list));
    if (!c->pull) /* a stream refused since the start: nothing came */
        return -ETIMEDOUT;
    rc = jspull_fetch_delivered(c->pull, list, &err);
    if (rc == -EIO)
        log_fetch_error(c, err);
    return rc == -ENOENT ? -ETIMEDOUT : rc;
}

int consumer_ack(struct consumer *c, natsMsg *m)
{
    return jspull_reply(c->nc, m, "+ACK");
}

int consumer_nak(struct consumer *c, natsMsg *m)
{
    return jspull_reply(c->nc, m, "-NAK");
}

int consumer_in_progress(struct consumer *c, natsMsg *m)
{
    return jspull_reply(c->nc, m, "+WPI");
}

int consumer_meta(struct consumer *c, natsMsg *m, struct consumer_meta *out)
{
    jsMsgMetaData *meta = NULL;

    if (natsMsg_GetMetaData(&meta, m) != NATS_OK)
        return -EINVAL;
    out->seq = meta->Sequence.Stream;
    out->delivered = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
    /* First deliveries come in stream order: one that goes back means a
     * new consumer, maybe on a new stream. */
    if (out->delivered == 1) {
        if (out->seq <= c->last_fresh)
            atomic_store(&c->check, 1);
        c->last_fresh = out->seq;
    }
    return 0;
}

int consumer_check_stream(struct consumer *c)
{
    if (!atomic_load(&c->check))
        return 0;
    if (!consumer_connected(c))
        return -EIO; /* asked again once connected */
    atomic_store(&c->check, 0);
    return check_stream(c);
}

int64_t consumer_stream(const struct consumer *c)
{
    return c->created;
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
    if (s == NATS_OK && jspull_reply(c->nc, m, "+TERM"))
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
        return natsconn_errno(s);
    *pending = ci->NumPending;
    *unacked = (uint64_t)ci->NumAckPending;
    jsConsumerInfo_Destroy(ci);
    return 0;
}

int consumer_connected(struct consumer *c)
{
    return c && natsConnection_Status(c->nc) == NATS_CONN_STATUS_CONNECTED;
}

int consumer_ready(struct consumer *c, char *why, size_t n)
{
    if (!consumer_connected(c)) {
        snprintf(why, n, "nats: disconnected, reconnecting");
        return -ECONNREFUSED;
    }
    if (atomic_load(&c->refused)) {
        snprintf(why, n, "nats: %s; not consuming", c->refused_why);
        return -EPERM;
    }
    if (atomic_load(&c->missing)) {
        snprintf(why, n,
                 "nats: consumer %s on stream %s missing, re-creating it",
                 CONSUMER_DURABLE, CONSUMER_STREAM);
        return -ENOENT;
    }
    return 0;
}
