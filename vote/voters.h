/* voters.h - the Redis hash `voters`: voter_id -> option, this service's
 * last acknowledged choice of each voter (a cache; JetStream and Postgres
 * hold the record).
 *
 * Writes do not wait for Redis: voters_record() queues them and one writer
 * thread sends whatever has queued as one pipeline (one write, one read for
 * many HSETs), so a vote costs the request thread no Redis round trip and
 * Redis one command in a batch. voters_get() first waits for the writes
 * queued before it, so a voter reads back the vote just cast.
 *
 * Reads use a small pool of hiredis connections with short timeouts. While
 * Redis is down, calls fail at once with -ENOTCONN instead of waiting: only
 * voters_check() (from a background thread, with backoff) reconnects, so
 * requests never stall on it. Every write or read lost to Redis is counted
 * in the `errors` counter given to voters_open() and logged.
 *
 * voters_open() hands *out to the caller; release with voters_close(),
 * which sends the queued writes first. The url is copied. All calls are
 * thread-safe. */
#ifndef VOTE_VOTERS_H
#define VOTE_VOTERS_H

#include <stddef.h>

#include "lib/config/config.h"

#define VOTERS_KEY        "voters"
#define VOTERS_VOTER_MAX  64
#define VOTERS_OPTION_MAX 15
#define VOTERS_QUEUE_MAX  4096 /* writes waiting for Redis */

struct metric;

struct voters;

/* Starts the writer; does not connect: the pool starts down until
 * voters_check() succeeds. timeout_ms bounds each connect and command.
 * errors (may be NULL) counts lost writes and failed reads. 0 or -errno. */
int voters_open(struct voters **out, const struct config_url *url,
                unsigned timeout_ms, struct metric *errors);

/* PINGs Redis, connecting first if the pool is down; marks the pool up on
 * success and down on failure. 0 or -errno. */
int voters_check(struct voters *v);

/* For /readyz: 0 when up, else -ENOTCONN and a reason in why. */
int voters_ready(struct voters *v, char *why, size_t n);

/* Queues HSET voters voter option. 0; -ENOTCONN while down, -ENOBUFS
 * when VOTERS_QUEUE_MAX writes still wait after the timeout, -E2BIG for a voter
 * or option over its _MAX: each counted as a lost write. A queued write that
 * Redis then refuses is counted and logged by the writer. */
int voters_record(struct voters *v, const char *voter, const char *option);

/* After the writes queued so far are sent (waits up to the timeout), HGET
 * voters voter into out ("" when the voter has none). 0, -ENOTCONN while
 * down, -EIO on an error (which marks the pool down). */
int voters_get(struct voters *v, const char *voter, char *out, size_t n);

void voters_close(struct voters *v); /* NULL-safe */

#endif
