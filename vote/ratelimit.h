/* ratelimit.h - votes per minute per client address: a token bucket per
 * address (RATELIMIT_SLOTS of them at most). Which address a request
 * comes from behind trusted proxies: lib/clientaddr.
 *
 * Memory is fixed at ratelimit_new(): RATELIMIT_SLOTS entries of 32 bytes
 * (2 MiB), in sets of RATELIMIT_WAYS chosen by a keyed hash of the address.
 * A new address takes the least recently seen entry of its set, so many
 * addresses never grow the table; an evicted address starts again with a
 * full bucket, as an idle one would have refilled anyway.
 *
 * Thread-safe (a lock per group of sets). ratelimit_new() hands *out to
 * the caller; release with ratelimit_free(). */
#ifndef VOTE_RATELIMIT_H
#define VOTE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/clientaddr/clientaddr.h"

#define RATELIMIT_SLOTS 65536
#define RATELIMIT_WAYS  8

struct ratelimit;

/* per_min tokens a minute, at most burst stored. 0 or -EINVAL, -ENOMEM. */
int ratelimit_new(struct ratelimit **out, unsigned per_min, unsigned burst);
void ratelimit_free(struct ratelimit *r); /* NULL-safe */

/* Takes one token of addr's bucket at now_ms (a monotonic clock, > 0): 0 when
 * there was one, else the seconds (>= 1) until there is one again. */
unsigned ratelimit_take(struct ratelimit *r, const struct clientaddr *a,
                        int64_t now_ms);

#endif
