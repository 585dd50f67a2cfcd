/* vote_proto_test.c - the generated VoteCast code round-trips every field
 * and rejects bytes that are not a VoteCast. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/vote.pb-c.h"

static void test_votecast_roundtrip(void **state)
{
    Voting__V1__VoteCast in = VOTING__V1__VOTE_CAST__INIT;
    Voting__V1__VoteCast *out;
    uint8_t buf[256];
    size_t n;

    in.voter_id = "voter_1";
    in.option = "b";
    in.cast_at_ms = 1764000000123;
    in.origin = "vote-1";
    in.request_id = "r-42";
    n = voting__v1__vote_cast__get_packed_size(&in);
    assert_true(n < sizeof(buf));
    assert_int_equal(voting__v1__vote_cast__pack(&in, buf), n);

    out = voting__v1__vote_cast__unpack(NULL, n, buf);
    assert_non_null(out);
    assert_string_equal(out->voter_id, "voter_1");
    assert_string_equal(out->option, "b");
    assert_int_equal(out->cast_at_ms, 1764000000123);
    assert_string_equal(out->origin, "vote-1");
    assert_string_equal(out->request_id, "r-42");
    voting__v1__vote_cast__free_unpacked(out, NULL);
}

static void test_votecast_garbage_rejected(void **state)
{
    const uint8_t junk[] = "{\"vote\":\"a\"}";

    assert_null(voting__v1__vote_cast__unpack(NULL, sizeof(junk) - 1, junk));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_votecast_roundtrip),
        cmocka_unit_test(test_votecast_garbage_rejected),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
