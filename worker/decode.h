/* decode.h - turns a JetStream message payload into a checked vote.
 *
 * Pure functions, no state, thread-safe. A payload that is not a VoteCast,
 * names an unknown option, has a bad voter id or an impossible time is
 * poison: decode_vote() says why in a short static reason string, which
 * goes into the dead letter's reason header and the log. */
#ifndef WORKER_DECODE_H
#define WORKER_DECODE_H

#include <stddef.h>
#include <stdint.h>

#define DECODE_VOTER_MAX 64 /* voter ids: 1-64 of [A-Za-z0-9_-] */

struct vote {
    char voter[DECODE_VOTER_MAX + 1];
    char option[2]; /* "a" or "b" */
    uint64_t seq;   /* JetStream stream sequence: newest wins */
    int64_t cast_at_ms;
};

/* Decodes a VoteCast into *out (seq is left 0 for the caller). 0, or
 * -EINVAL with *reason set to a static string. */
int decode_vote(const void *data, size_t len, struct vote *out,
                const char **reason);

/* 1 when id is 1-64 characters of [A-Za-z0-9_-]. */
int decode_voter_ok(const char *id);

#endif
