/* consumer.h - the JetStream side of the worker: one NATS connection, the
 * VOTES stream and the durable pull consumer "worker", bound explicitly.
 *
 * consumer_open() hands *out to the caller; release with consumer_close(),
 * which flushes pending acks and closes the connection; the durable is
 * never deleted (no unsubscribe: in nats.c it deletes a durable that the
 * subscribe call made; docs/libraries.md, nats.c traps 4 and 5).
 * Thread-safe as nats.c is: the fetch loop owns it, probes may call
 * consumer_connected() and consumer_ready() from any thread. Messages
 * fetched belong to the caller (natsMsgList_Destroy). */
#ifndef WORKER_CONSUMER_H
#define WORKER_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "proto/contract.h"

#define CONSUMER_STREAM      CONTRACT_STREAM
#define CONSUMER_SUBJECTS    CONTRACT_SUBJECTS
#define CONSUMER_DURABLE     CONTRACT_CONSUMER
#define CONSUMER_DEADLETTER  CONTRACT_DL_SUBJECT
#define CONSUMER_DL_STREAM   CONTRACT_DL_STREAM /* keeps deadletter.> */
#define CONSUMER_DL_SUBJECTS CONTRACT_DL_SUBJECTS
#define CONSUMER_REASON_HDR  CONTRACT_HDR_REASON

struct natsconn;
struct jstream_settings;

struct consumer_opts {
    const char *url;
    int batch;               /* most messages per fetch */
    int fetch_wait_ms;       /* longest wait for a fetch */
    int64_t ack_wait_ms;     /* consumer AckWait when we create it */
    int64_t max_ack_pending; /* >= batch * replicas */
    int64_t dup_window_ms;   /* stream Duplicates when we create it */

    /* Servers and credentials (url, one server, is used only when conn is
     * NULL); replicas and limits of VOTES and DEADLETTER (NULL: the
     * defaults). */
    const struct natsconn *conn;
    const struct jstream_settings *streams;
};

struct consumer;

/* Connects (reconnecting forever afterwards), makes sure the streams and
 * the consumer exist (creating them if missing, never replacing a stream;
 * a consumer "worker" not configured as ours is logged field by field and
 * updated, or deleted and made again) and binds a pull subscription. A
 * stream lib/jstream refuses is left alone: 0 all the same, but nothing is
 * consumed, consumer_fetch() fails with -EIO and checks again every 3 s,
 * consumer_ready() says why. o is copied. 0, or -errno logged: what
 * natsconn_errno() makes of a failed connection (-ECONNREFUSED: no server
 * answered, -EACCES: bad credentials...), -EIO for the streams or the
 * consumer. */
int consumer_open(struct consumer **out, const struct consumer_opts *o);

/* Fetches up to opts.batch messages into *list, returning as soon as the
 * backlog is empty, waiting up to fetch_wait_ms only when nothing is
 * there. 0 with list->Count > 0; -ETIMEDOUT when none came; -EIO on other
 * errors (logged, rate-limited). When the server says the consumer is
 * gone, re-creates it (and the stream if missing): -ETIMEDOUT once that
 * worked, -EIO (and consumer_ready() says why) while it does not. */
int consumer_fetch(struct consumer *c, natsMsgList *list);

/* At shutdown: up to opts.batch of the messages delivered to us and not
 * yet fetched (a full batch asks the server for the next one at once),
 * waiting for those still on their way (up to 1 s, or until the last
 * waiting request expires); asks for no more. 0 with list->Count > 0,
 * -ETIMEDOUT when there are none. Call until -ETIMEDOUT. */
int consumer_fetch_delivered(struct consumer *c, natsMsgList *list);

/* Acks (after the commit), hands back for redelivery (Nak), or asks for
 * more time (in progress) for one fetched message. 0 or -EIO. */
int consumer_ack(struct consumer *c, natsMsg *m);
int consumer_nak(struct consumer *c, natsMsg *m);
int consumer_in_progress(struct consumer *c, natsMsg *m);

struct consumer_meta {
    uint64_t seq;       /* stream sequence */
    uint64_t delivered; /* 1 on the first delivery */
};

/* The JetStream metadata of a fetched message; a first delivery whose
 * sequence goes back makes the next consumer_check_stream() ask the
 * server. Call for every message, in fetch order. 0 or -EINVAL. */
int consumer_meta(struct consumer *c, natsMsg *m, struct consumer_meta *out);

/* Which stream VOTES is: its creation time, used as a name only (see
 * store_epoch_of). Call after the consumer_meta() of a batch and before
 * using it: asks the server when something says the stream may have
 * changed (start, reconnect, consumer re-created, sequence going back, a
 * long pause), and checks its configuration (lib/jstream). 0: the batch
 * is of consumer_stream(); 1: VOTES is another stream than before (hand
 * the batch back: its messages of the new stream come again); -EIO when
 * it could not tell or the stream is refused (hand the batch back). */
int consumer_check_stream(struct consumer *c);

/* The current stream's creation time (0 before the first check). */
int64_t consumer_stream(const struct consumer *c);

/* Publishes a copy of m on deadletter.votes with a reason header, then
 * terminates m (never redelivered). 0 or -EIO. */
int consumer_deadletter(struct consumer *c, natsMsg *m, const char *reason);

/* From the consumer info: messages not yet delivered to any worker, and
 * delivered but not yet acked. 0 or -errno (natsconn_errno()). */
int consumer_lag(struct consumer *c, uint64_t *pending, uint64_t *unacked);

/* 1 while the connection is up. */
int consumer_connected(struct consumer *c);

/* For /readyz: 0, or -errno with the reason in why (disconnected, a
 * stream refused, or the consumer is missing and could not be re-created
 * yet). Any thread. */
int consumer_ready(struct consumer *c, char *why, size_t n);

void consumer_close(struct consumer *c); /* NULL-safe */

#endif
