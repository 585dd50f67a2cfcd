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

#include "proto/contract.h"

struct vote {
    char voter[CONTRACT_VOTER_MAX + 1];
    char option[CONTRACT_OPTION_ID_MAX]; /* one of CONTRACT_OPTIONS */
    uint64_t seq;                        /* JetStream stream sequence */
    int64_t epoch; /* its stream's creation time: (epoch, seq) newest wins */
    int64_t cast_at_ms;
};

/* Decodes a VoteCast into *out (seq and epoch are left 0 for the caller). 0, or
 * -EINVAL with *reason set to a static string. */
int decode_vote(const void *data, size_t len, struct vote *out,
                const char **reason);

#endif
