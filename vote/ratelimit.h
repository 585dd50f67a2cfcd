/* ratelimit.h - votes per minute per client address: a token bucket per
 * address (RATELIMIT_SLOTS of them at most), and which address a request
 * comes from when trusted proxies stand in front.
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

#define RATELIMIT_SLOTS       65536
#define RATELIMIT_WAYS        8
#define RATELIMIT_MAX_TRUSTED 16 /* entries of a trusted proxy list */
#define RATELIMIT_XFF_MAX     16 /* X-Forwarded-For entries looked at */

/* An IPv6 address; IPv4 is stored mapped (::ffff:a.b.c.d). */
struct ratelimit_addr {
    uint8_t b[16];
};

/* An address block: bits 0..128 of addr (IPv4 /n is ::ffff:0:0/96+n). */
struct ratelimit_net {
    struct ratelimit_addr addr;
    unsigned bits;
};

struct ratelimit;

/* per_min tokens a minute, at most burst stored. 0 or -EINVAL, -ENOMEM. */
int ratelimit_new(struct ratelimit **out, unsigned per_min, unsigned burst);
void ratelimit_free(struct ratelimit *r); /* NULL-safe */

/* Takes one token of addr's bucket at now_ms (a monotonic clock, > 0): 0 when
 * there was one, else the seconds (>= 1) until there is one again. */
unsigned ratelimit_take(struct ratelimit *r, const struct ratelimit_addr *a,
                        int64_t now_ms);

/* Parses an IPv4 or IPv6 address (no port, no brackets). 0 or -EINVAL. */
int ratelimit_parse_addr(const char *s, struct ratelimit_addr *out);

/* Parses a comma-separated list of addresses and CIDR blocks
 * ("127.0.0.1,10.0.0.0/8,fd00::/8"; blanks around entries allowed) into
 * out[max]. The count, or -EINVAL (*bad: the 1-based entry at fault, 0
 * when there are more than max). "" is an empty list. */
int ratelimit_parse_nets(const char *list, struct ratelimit_net *out, int max,
                         int *bad);

/* The client's address: the peer's, or, when the peer is within one of
 * trusted[n], the right-most X-Forwarded-For entry (xff may be NULL) that
 * is not itself trusted; if every entry is trusted, the left-most one; an
 * entry that does not parse ends the walk at the hop that sent it.
 * 0, or -EINVAL when peer does not parse. */
int ratelimit_client(const char *peer, const char *xff,
                     const struct ratelimit_net *trusted, int n,
                     struct ratelimit_addr *out);

/* The address as text ("127.0.0.1", "2001:db8::1") into out. Returns out. */
const char *ratelimit_format(const struct ratelimit_addr *a, char *out,
                             size_t n);

#endif
