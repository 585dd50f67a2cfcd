/* decode.c - VoteCast payload checks; see decode.h. */
#include "worker/decode.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "proto/contract.h"
#include "proto/vote.pb-c.h"

/* 9999-12-31T23:59:59.999Z: keeps to_timestamp() in Postgres' range, so a
 * silly time can never make a whole batch fail over and over. */
#define MAX_CAST_AT_MS 253402300799999LL

static const char *check(const Voting__V1__VoteCast *vc)
{
    if (!vc->voter_id || !contract_voter_ok(vc->voter_id))
        return "bad_voter_id";
    if (contract_option_index(vc->option) < 0)
        return "unknown_option";
    if (vc->cast_at_ms < 0 || vc->cast_at_ms > MAX_CAST_AT_MS)
        return "bad_cast_at";
    return NULL;
}

int decode_vote(const void *data, size_t len, struct vote *out,
                const char **reason)
{
    Voting__V1__VoteCast *vc;

    memset(out, 0, sizeof(*out));
    *reason = NULL;
    vc = voting__v1__vote_cast__unpack(NULL, len, data);
    if (!vc) {
        *reason = "not_a_votecast";
        return -EINVAL;
    }
    *reason = check(vc);
    if (!*reason) {
        memcpy(out->voter, vc->voter_id, strlen(vc->voter_id) + 1);
        snprintf(out->option, sizeof(out->option), "%s", vc->option);
        out->cast_at_ms = vc->cast_at_ms;
    }
    voting__v1__vote_cast__free_unpacked(vc, NULL);
    return *reason ? -EINVAL : 0;
}
