/* jspull.c - pulling from a JetStream consumer over core NATS; see
 * jspull.h.
 *
 * Why not natsSubscription_Fetch(): in nats.c 3.4.1 a Fetch that finds
 * messages left over from an earlier, timed-out Fetch miscounts its batch
 * (`req->Batch -= count`, then loops while count != req->Batch) and can
 * write past its message array; measured under load with two workers
 * (ASan: heap-buffer-overflow). Here extra messages simply wait in the
 * inbox for the next round, and acks are plain publishes to the reply
 * subject, exactly what natsMsg_Ack() sends.
 *
 * What the server says about a request comes as an empty message with a
 * Status header and no reply subject: 404 (no messages), 408 (request
 * expired), 409 (e.g. "Consumer Deleted", to requests waiting when it
 * goes), 100 (heartbeat), 503 (no responders). A request for a consumer
 * that is not there gets no answer at all (nats-server 2.9.10, measured):
 * an unanswered no_wait request says the consumer is gone.
 * Messages of the stream always have a reply subject (their ack subject),
 * whatever they carry: an empty stored message with a Status header is a
 * message, not a status. */
#include "lib/jspull/jspull.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_MS         1000000LL
#define LINGER_MS         2
#define DELIVERED_WAIT_MS 1000
/* A waiting request's clock starts when the server reads it, later than
 * waiting_until says by the trip there: more so on a loaded host. */
#define EXPIRY_GRACE_MS 250
#define NO_ANSWER_MS    50 /* a no_wait request unanswered this long */

struct jspull {
    natsConnection *nc;
    natsSubscription *sub; /* core subscription on inbox */
    int batch;
    int wait_ms;
    char inbox[160];
    char next_subj[160];
    int prefetch_left;     /* messages still due from the last prefetch */
    int gone;              /* the server said the consumer is not there */
    int64_t waiting_until; /* when the last waiting request expires */
};

int jspull_open(struct jspull **out, natsConnection *nc, const char *stream,
                const char *consumer, const char *inbox_prefix, int batch,
                int wait_ms, natsStatus *err)
{
    struct jspull *p;
    natsInbox *inbox = NULL;
    natsStatus s;
    int n;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->nc = nc;
    p->batch = batch;
    p->wait_ms = wait_ms;
    n = snprintf(p->next_subj, sizeof(p->next_subj),
                 "$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream, consumer);
    s = n > 0 && (size_t)n < sizeof(p->next_subj) ? natsInbox_Create(&inbox)
                                                  : NATS_INVALID_ARG;
    /* natsInbox_Create() knows no connection, hence no custom prefix:
     * "_INBOX.<nuid>" becomes "<inbox_prefix>.<nuid>". */
    if (s == NATS_OK &&
        (size_t)snprintf(p->inbox, sizeof(p->inbox), "%s%s",
                         inbox_prefix ? inbox_prefix : "_INBOX",
                         strchr(inbox, '.')) >= sizeof(p->inbox))
        s = NATS_INVALID_ARG;
    natsInbox_Destroy(inbox);
    if (s == NATS_OK)
        s = natsConnection_SubscribeSync(&p->sub, nc, p->inbox);
    if (s == NATS_OK) /* leftovers wait here: never drop them */
        s = natsSubscription_SetPendingLimits(p->sub, -1, -1);
    *err = s;
    if (s != NATS_OK) {
        jspull_free(p);
        return -EIO;
    }
    *out = p;
    return 0;
}

void jspull_free(struct jspull *p)
{
    if (!p)
        return;
    natsSubscription_Destroy(p->sub);
    free(p);
}

/* Asks the server for n messages: at once (no_wait: what is there, then a
 * 404), or waiting up to wait_ms for them. */
static natsStatus request_next(struct jspull *p, int n, int no_wait,
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
        p->waiting_until = nats_Now() + wait_ms;
    }
    return natsConnection_PublishRequest(p->nc, p->next_subj, p->inbox, body,
                                         len);
}

enum { GOT_MSG, GOT_NOTHING, GOT_END };

/* 1 when a status says the consumer is not there. */
static int consumer_gone(natsMsg *m, const char *status)
{
    const char *desc = NULL;

    if (strncmp(status, "503", 3) == 0) /* no responders */
        return 1;
    return strncmp(status, "409", 3) == 0 &&
           natsMsgHeader_Get(m, "Description", &desc) == NATS_OK &&
           strstr(desc, "Deleted") != NULL;
}

/* Takes m into the list, or tells what status message it is. */
static int sort_msg(struct jspull *p, natsMsg *m, natsMsgList *list)
{
    const char *reply = natsMsg_GetReply(m), *status = NULL;
    int got = GOT_NOTHING;

    if (reply && *reply) {
        list->Msgs[list->Count++] = m;
        return GOT_MSG;
    }
    if (natsMsgHeader_Get(m, "Status", &status) == NATS_OK &&
        strncmp(status, "100", 3) != 0) { /* 100: heartbeat */
        got = GOT_END;
        if (consumer_gone(m, status))
            p->gone = 1;
    }
    natsMsg_Destroy(m); /* statuses, and what nobody could ack */
    return got;
}

/* Waits for what the prefetch of the last round still owes: it ends with
 * the whole batch, or with a status when the stream had fewer. */
static natsStatus take_prefetched(struct jspull *p, natsMsgList *list,
                                  int64_t deadline)
{
    natsStatus s = NATS_OK;
    int64_t left;
    natsMsg *m;

    while (p->prefetch_left > 0 && list->Count < p->batch) {
        left = deadline - nats_Now();
        if (left <= 0)
            break;
        s = natsSubscription_NextMsg(&m, p->sub, left);
        if (s != NATS_OK)
            break;
        if (sort_msg(p, m, list) == GOT_MSG)
            p->prefetch_left--;
        else
            p->prefetch_left = 0;
    }
    if (s != NATS_OK) {
        if (s == NATS_TIMEOUT && p->prefetch_left == p->batch)
            p->gone = 1; /* not a word: see pull() */
        p->prefetch_left = 0;
    }
    return s == NATS_TIMEOUT ? NATS_OK : s;
}

/* Takes what the inbox holds, up to a batch, waiting for more until the
 * time `until` (nats_Now() clock). */
static void take_inbox(struct jspull *p, natsMsgList *list, int64_t until)
{
    int64_t left;
    natsMsg *m;

    while (list->Count < p->batch) {
        left = until - nats_Now();
        if (natsSubscription_NextMsg(&m, p->sub, left > 0 ? left : 0) !=
            NATS_OK)
            break;
        sort_msg(p, m, list);
    }
}

/* The prefetch first, then leftovers (ours until AckWait), then a no_wait
 * request; when nothing at all is there, one request that waits. After a
 * full batch there is likely a backlog: ask for the next batch at once, so
 * the server delivers it while this one is being worked on. */
static natsStatus pull(struct jspull *p, natsMsgList *list)
{
    int64_t deadline = nats_Now() + p->wait_ms, left, asked = 0;
    int waited = 0, got;
    natsStatus s = take_prefetched(p, list, deadline);
    natsMsg *m;

    if (s == NATS_OK)
        take_inbox(p, list, 0); /* no waiting */
    /* (A prefetch still due means the deadline passed: nothing more.) */
    if (s == NATS_OK && list->Count < p->batch && !p->prefetch_left) {
        s = request_next(p, p->batch - list->Count, 1, 0);
        asked = nats_Now();
    }
    while (s == NATS_OK && list->Count < p->batch && !p->gone) {
        left = deadline - nats_Now();
        if (left <= 0)
            break;
        /* Once a waiting request has brought messages, don't hold them for
         * a full batch (up to wait_ms of latency at a trickle): take what
         * follows within LINGER_MS and go; later ones stay in the inbox
         * for the next round. */
        if (waited && list->Count > 0 && left > LINGER_MS)
            left = LINGER_MS;
        s = natsSubscription_NextMsg(&m, p->sub, left);
        if (s != NATS_OK)
            break;
        asked = 0; /* answered, or at least the server is talking */
        got = sort_msg(p, m, list);
        if (got != GOT_END)
            continue;
        if (list->Count > 0 || waited || left <= 20 || p->gone)
            break;
        waited = 1; /* empty now: wait for the first ones to come */
        s = request_next(p, p->batch, 0, left - 10);
    }
    /* A consumer answers a no_wait request at once (messages or a 404);
     * without one, the request goes unanswered: 2.9 sends a 409 only to
     * requests waiting when the consumer is deleted. */
    if (asked && nats_Now() - asked >= NO_ANSWER_MS &&
        (s == NATS_OK || s == NATS_TIMEOUT))
        p->gone = 1;
    if (s == NATS_TIMEOUT)
        s = NATS_OK;
    if (s == NATS_OK && list->Count == p->batch && !p->prefetch_left &&
        !p->gone && request_next(p, p->batch, 1, 0) == NATS_OK)
        p->prefetch_left = p->batch;
    return s;
}

/* What is in the inbox, still due from the prefetch, or may still come
 * for a waiting request until it expires; sends no request. */
static natsStatus pull_delivered(struct jspull *p, natsMsgList *list)
{
    natsStatus s = take_prefetched(p, list, nats_Now() + DELIVERED_WAIT_MS);

    if (s == NATS_OK)
        take_inbox(p, list, p->waiting_until + EXPIRY_GRACE_MS);
    return s;
}

static int fetch_with(struct jspull *p, natsMsgList *list, natsStatus *err,
                      natsStatus (*how)(struct jspull *, natsMsgList *))
{
    natsStatus s;

    *err = NATS_OK;
    memset(list, 0, sizeof(*list));
    list->Msgs = calloc((size_t)p->batch, sizeof(*list->Msgs));
    if (!list->Msgs)
        return -ENOMEM;
    s = how(p, list);
    if (s == NATS_OK && list->Count > 0)
        return 0; /* a "gone" seen meanwhile is told next time */
    natsMsgList_Destroy(list);
    if (s != NATS_OK) {
        *err = s;
        return -EIO;
    }
    if (p->gone) {
        p->gone = 0;
        p->prefetch_left = 0;
        return -ENOENT;
    }
    return -ETIMEDOUT;
}

int jspull_fetch(struct jspull *p, natsMsgList *list, natsStatus *err)
{
    if (p->gone) { /* seen last time, with messages to hand out first */
        p->gone = 0;
        p->prefetch_left = 0;
        *err = NATS_OK;
        memset(list, 0, sizeof(*list));
        return -ENOENT;
    }
    return fetch_with(p, list, err, pull);
}

int jspull_fetch_delivered(struct jspull *p, natsMsgList *list, natsStatus *err)
{
    return fetch_with(p, list, err, pull_delivered);
}

int jspull_reply(natsConnection *nc, natsMsg *m, const char *what)
{
    const char *to = natsMsg_GetReply(m);

    if (!to || !*to)
        return -EINVAL;
    return natsConnection_Publish(nc, to, what, (int)strlen(what)) == NATS_OK
               ? 0
               : -EIO;
}

void jspull_nak_leftovers(struct jspull *p)
{
    natsMsg *m;

    while (natsSubscription_NextMsg(&m, p->sub, 0) == NATS_OK) {
        jspull_reply(p->nc, m, "-NAK"); /* statuses have nowhere to go */
        natsMsg_Destroy(m);
    }
}
