/* pipeline.h - the worker's loop: fetch a batch, decode, dead-letter the
 * poison, apply the good votes in one Postgres transaction, then ack each
 * message. Never acks before the commit; never AckAll (trap 3).
 *
 * A pipeline uses a consumer and a store that the caller opened and still
 * owns (close them after pipeline_free()). One thread runs it; other
 * threads may call pipeline_ready(). Several pipelines (threads or
 * processes) may share the durable consumer and the database. */
#ifndef WORKER_PIPELINE_H
#define WORKER_PIPELINE_H

#include <signal.h>
#include <stddef.h>

struct consumer;
struct store;
struct metrics;
struct pipeline;

/* Registers the worker's metrics in m (NULL: no metrics) and builds a
 * pipeline for batches of up to `batch`. While Postgres is down, held
 * messages are marked in progress every ack_wait_ms / 3. 0 or -ENOMEM. */
int pipeline_new(struct pipeline **out, struct consumer *c, struct store *s,
                 struct metrics *m, int batch, int ack_wait_ms);

/* Runs batches until *stop is set; the batch in hand when it is set is
 * finished (committed and acked) if Postgres allows, else handed back to
 * the server (Nak) for another worker. Returns 0. */
int pipeline_run(struct pipeline *p, volatile sig_atomic_t *stop);

/* One round: 0 after a batch, -ETIMEDOUT when none came, -EIO when NATS
 * failed, -ECANCELED when stopped while Postgres was down. */
int pipeline_step(struct pipeline *p, volatile sig_atomic_t *stop);

/* For /readyz: 0, or -errno with a reason in why: Postgres down (also
 * seen while idle: probed every second), a commit unanswered for 5 s,
 * NATS disconnected, the consumer missing. Any thread. */
int pipeline_ready(struct pipeline *p, char *why, size_t n);

void pipeline_free(struct pipeline *p); /* NULL-safe */

#endif
