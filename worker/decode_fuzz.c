/* decode_fuzz.c - libFuzzer target: a JetStream message payload through
 * decode_vote(), as the worker gets it from the VOTES stream.
 *
 * Input: the payload bytes. Beyond "no crash", an accepted vote must be
 * one the store can take (voter id 1-64 of [A-Za-z0-9_-], option "a" or
 * "b", a time Postgres can hold) and must survive a re-encode unchanged;
 * a refused one names its reason (it becomes a dead letter's header). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/contract.h"
#include "proto/vote.pb-c.h"
#include "worker/decode.h"
#include "tests/fuzz/fuzz.h"

/* Packs v again and checks that it decodes to the same vote. */
static void check_roundtrip(const struct vote *v)
{
    Voting__V1__VoteCast vc = VOTING__V1__VOTE_CAST__INIT;
    uint8_t buf[256];
    struct vote again;
    const char *reason;
    size_t n;

    vc.voter_id = (char *)v->voter;
    vc.option = (char *)v->option;
    vc.cast_at_ms = v->cast_at_ms;
    FUZZ_CHECK(voting__v1__vote_cast__get_packed_size(&vc) <= sizeof(buf));
    n = voting__v1__vote_cast__pack(&vc, buf);
    FUZZ_CHECK(decode_vote(buf, n, &again, &reason) == 0);
    FUZZ_CHECK(strcmp(again.voter, v->voter) == 0);
    FUZZ_CHECK(strcmp(again.option, v->option) == 0);
    FUZZ_CHECK(again.cast_at_ms == v->cast_at_ms);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vote v;
    const char *reason = "unset";
    int rc = decode_vote(data, size, &v, &reason);

    if (rc) {
        FUZZ_CHECK(reason && reason[0]);
        return 0;
    }
    FUZZ_CHECK(reason == NULL);
    FUZZ_CHECK(contract_voter_ok(v.voter));
    FUZZ_CHECK(strlen(v.voter) <= CONTRACT_VOTER_MAX);
    FUZZ_CHECK(contract_option_index(v.option) >= 0);
    FUZZ_CHECK(v.cast_at_ms >= 0);
    FUZZ_CHECK(v.seq == 0);
    check_roundtrip(&v);
    return 0;
}
