/* consumer.h - the JetStream side of the worker: one NATS connection, the
 * VOTES stream and the durable pull consumer "worker", bound explicitly.
 *
 * consumer_open() hands *out to the caller; release with consumer_close(),
 * which flushes pending acks and closes the connection; the durable is
 * never deleted (notes/nats-c-3.4.1.md, traps 4 and 5). Thread-safe as
 * nats.c is: the
 * fetch loop owns it, probes may call consumer_connected() from any
 * thread. Messages fetched belong to the caller (natsMsgList_Destroy). */
#ifndef WORKER_CONSUMER_H
#define WORKER_CONSUMER_H

#include <stdint.h>

#include <nats/nats.h>

#define CONSUMER_STREAM      "VOTES"
#define CONSUMER_SUBJECTS    "votes.>"
#define CONSUMER_DURABLE     "worker"
#define CONSUMER_DEADLETTER  "deadletter.votes"
#define CONSUMER_DL_STREAM   "DEADLETTER" /* keeps what lands on deadletter.> */
#define CONSUMER_DL_SUBJECTS "deadletter.>"
#define CONSUMER_REASON_HDR  "Voting-Deadletter-Reason"

struct consumer_opts {
    const char *url;
    int batch;               /* most messages per fetch */
    int fetch_wait_ms;       /* longest wait for a fetch */
    int64_t ack_wait_ms;     /* consumer AckWait when we create it */
    int64_t max_ack_pending; /* >= batch * replicas */
    int64_t dup_window_ms;   /* stream Duplicates when we create it */
};

struct consumer;

/* Connects (reconnecting forever afterwards), makes sure the stream and
 * the consumer exist (creating them if missing, never replacing them) and
 * binds a pull subscription. o is copied. 0, or -ECONNREFUSED/-EIO logged. */
int consumer_open(struct consumer **out, const struct consumer_opts *o);

/* Fetches up to opts.batch messages into *list, returning as soon as the
 * backlog is empty, waiting up to fetch_wait_ms only when nothing is
 * there. 0 with list->Count > 0; -ETIMEDOUT when none came; -EIO on other
 * errors (logged, rate-limited). */
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

/* The JetStream stream sequence of a fetched message. 0 or -EINVAL. */
int consumer_seq(natsMsg *m, uint64_t *seq, uint64_t *delivered);

/* Publishes a copy of m on deadletter.votes with a reason header, then
 * terminates m (never redelivered). 0 or -EIO. */
int consumer_deadletter(struct consumer *c, natsMsg *m, const char *reason);

/* From the consumer info: messages not yet delivered to any worker, and
 * delivered but not yet acked. 0 or -EIO. */
int consumer_lag(struct consumer *c, uint64_t *pending, uint64_t *unacked);

/* 1 while the connection is up. */
int consumer_connected(struct consumer *c);

/* Sends buffered acks now (bounded wait). */
int consumer_flush(struct consumer *c, int timeout_ms);

void consumer_close(struct consumer *c); /* NULL-safe */

#endif
