/* voters.h - the Redis hash `voters`: voter_id -> option, this service's
 * last acknowledged choice of each voter (a cache; JetStream and Postgres
 * hold the record).
 *
 * A small pool of hiredis connections with short timeouts, shared by the
 * request threads. While Redis is down, calls fail at once with -ENOTCONN
 * instead of waiting: only voters_check() (from a background thread, with
 * backoff) tries to reconnect, so requests never stall on it.
 *
 * voters_open() hands *out to the caller; release with voters_close().
 * The url is copied. All calls are thread-safe. */
#ifndef VOTE_VOTERS_H
#define VOTE_VOTERS_H

#include <stddef.h>

#include "lib/config/config.h"

#define VOTERS_KEY "voters"

struct voters;

/* Does not connect; the pool starts down until voters_check() succeeds.
 * timeout_ms bounds each connect and command. 0 or -ENOMEM. */
int voters_open(struct voters **out, const struct config_url *url,
                unsigned timeout_ms);

/* PINGs Redis, connecting first if the pool is down; marks the pool up on
 * success and down on failure. 0 or -errno. */
int voters_check(struct voters *v);

/* For /readyz: 0 when up, else -ENOTCONN and a reason in why. */
int voters_ready(struct voters *v, char *why, size_t n);

/* HSET voters voter option. 0, -ENOTCONN while down, -EIO on an error
 * (which marks the pool down). */
int voters_set(struct voters *v, const char *voter, const char *option);

/* HGET voters voter into out ("" when the voter has none). Errors as
 * voters_set(). */
int voters_get(struct voters *v, const char *voter, char *out, size_t n);

void voters_close(struct voters *v); /* NULL-safe */

#endif
