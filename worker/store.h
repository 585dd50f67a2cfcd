/* store.h - applies batches of votes to Postgres. One PGconn; not
 * thread-safe: one store per thread.
 *
 * store_open() hands *out to the caller; release with store_close().
 * The connection keywords/values are copied by libpq; nothing else is kept.
 *
 * Schema (store_migrate, idempotent, under a lock only the worker's role
 * may take; a wait for it is bounded: -EAGAIN after 5 s):
 *   votes   (id VARCHAR(255) NOT NULL UNIQUE, vote VARCHAR(255) NOT NULL,
 *            seq BIGINT NOT NULL, cast_at TIMESTAMPTZ, prev_vote VARCHAR(255),
 *            stream_epoch BIGINT NOT NULL)
 *   tallies (vote VARCHAR(255) PRIMARY KEY, count BIGINT NOT NULL)
 *   worker_stream (id INT PRIMARY KEY, epoch BIGINT NOT NULL): one row, the
 *            epoch of the stream the workers read last
 *   stream_epochs (created BIGINT PRIMARY KEY, epoch BIGINT UNIQUE): the
 *            epoch given to each stream (store_epoch_of)
 * and NOTIFY CONTRACT_PG_CHANNEL in the transaction of every batch that changed
 * something. */
#ifndef WORKER_STORE_H
#define WORKER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/contract.h"
#include "worker/decode.h"

/* The role result reads as (a member of): SELECT on tallies only. */
#define STORE_READER_ROLE "tallies_reader"

struct store;

/* Connects with PQconnectdbParams(keys, vals, expand_dbname = 1), so a
 * "dbname" value may be a whole conninfo string. max_batch bounds
 * store_apply(). 0, -ENOMEM, or -ECONNREFUSED (logged). */
int store_open(struct store **out, const char *const *keys,
               const char *const *vals, size_t max_batch);

/* Creates or upgrades the schema; safe with many workers at once.
 * -EAGAIN (logged) when the lock or a table stays held for 5 s. */
int store_migrate(struct store *s);

/* In one transaction: upserts the votes (per voter the highest
 * (epoch, seq) wins, against the table too), updates tallies by the changes
 * actually made, NOTIFY. *changed gets the number of rows inserted or updated.
 * 0 once committed; -EIO when the connection is bad (reconnect with
 * store_reconnect()), -EAGAIN for a transient error (retry as is). */
int store_apply(struct store *s, const struct vote *v, size_t n,
                size_t *changed);

/* store_apply() in two halves, so the caller can fetch the next batch
 * while Postgres works: send (1 <= n <= max_batch), then wait for the
 * commit. Nothing else may use the store in between. Same returns. */
int store_apply_send(struct store *s, const struct vote *v, size_t n);
int store_apply_wait(struct store *s, size_t *changed);

/* The epoch of the stream whose creation time (jsStreamInfo.Created, as
 * an opaque name: the NATS meta leader's clock is never compared with
 * anything) is created: given out by Postgres the first time a worker
 * asks, above every epoch before, so votes of a stream seen later always
 * win over the rows of one seen earlier, whatever the NATS clocks say.
 * Not while a batch is in flight. 0, -EIO (reconnect) or -EAGAIN. */
int store_epoch_of(struct store *s, int64_t created, int64_t *epoch);

/* Records the epoch of the stream the workers read now. *was gets the one
 * recorded before when this call changed it (0: none yet), else epoch
 * itself: with many workers, exactly one sees each change. Not while a
 * batch is in flight. 0, -EIO (reconnect) or -EAGAIN. */
int store_note_epoch(struct store *s, int64_t epoch, int64_t *was);

/* One round trip on an idle connection: 0 when Postgres answered, -EIO
 * when the connection is broken (reconnect with store_reconnect()). */
int store_ping(struct store *s);

/* Reconnects a broken connection. 0 or -ECONNREFUSED. */
int store_reconnect(struct store *s);

/* 1 when the connection looks good (no round trip). */
int store_connected(const struct store *s);

void store_close(struct store *s); /* NULL-safe */

#endif
