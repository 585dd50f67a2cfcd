/* decode.c - VoteCast payload checks; see decode.h. */
#include "worker/decode.h"

#include <errno.h>
#include <string.h>

#include "proto/vote.pb-c.h"

/* 9999-12-31T23:59:59.999Z: keeps to_timestamp() in Postgres' range, so a
 * silly time can never make a whole batch fail over and over. */
#define MAX_CAST_AT_MS 253402300799999LL

int decode_voter_ok(const char *id)
{
    size_t i;

    for (i = 0; id[i]; i++) {
        char c = id[i];

        if (i >= DECODE_VOTER_MAX)
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return i > 0;
}

static const char *check(const Voting__V1__VoteCast *vc)
{
    if (!vc->voter_id || !decode_voter_ok(vc->voter_id))
        return "bad_voter_id";
    if (!vc->option ||
        (strcmp(vc->option, "a") != 0 && strcmp(vc->option, "b") != 0))
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
        out->option[0] = vc->option[0];
        out->cast_at_ms = vc->cast_at_ms;
    }
    voting__v1__vote_cast__free_unpacked(vc, NULL);
    return *reason ? -EINVAL : 0;
}
