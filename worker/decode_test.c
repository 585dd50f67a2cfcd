/* decode_test.c - what counts as a vote and what is poison. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/vote.pb-c.h"
#include "worker/decode.h"

static size_t pack(uint8_t *buf, const char *voter, const char *option,
                   int64_t cast_at_ms)
{
    Voting__V1__VoteCast vc = VOTING__V1__VOTE_CAST__INIT;

    vc.voter_id = (char *)voter;
    vc.option = (char *)option;
    vc.cast_at_ms = cast_at_ms;
    vc.origin = "test";
    return voting__v1__vote_cast__pack(&vc, buf);
}

static const char *reason_of(const char *voter, const char *option,
                             int64_t cast_at_ms)
{
    uint8_t buf[256];
    struct vote v;
    const char *reason;
    size_t n = pack(buf, voter, option, cast_at_ms);

    if (decode_vote(buf, n, &v, &reason) == 0)
        return "ok";
    return reason;
}

static void test_decode_good_vote(void **state)
{
    uint8_t buf[256];
    struct vote v;
    const char *reason = "x";
    size_t n = pack(buf, "Voter_1-x", "b", 1764000000123LL);

    assert_int_equal(decode_vote(buf, n, &v, &reason), 0);
    assert_null(reason);
    assert_string_equal(v.voter, "Voter_1-x");
    assert_string_equal(v.option, "b");
    assert_int_equal(v.cast_at_ms, 1764000000123LL);
    assert_int_equal(v.seq, 0);
}

static void test_decode_poison(void **state)
{
    char id64[65], id65[66];
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    struct vote v;
    const char *reason;

    memset(id64, 'x', 64);
    id64[64] = '\0';
    memset(id65, 'x', 65);
    id65[65] = '\0';
    assert_string_equal(reason_of(id64, "a", 0), "ok");
    assert_string_equal(reason_of(id65, "a", 0), "bad_voter_id");
    assert_string_equal(reason_of("", "a", 0), "bad_voter_id");
    assert_string_equal(reason_of("a b", "a", 0), "bad_voter_id");
    assert_string_equal(reason_of("x\"y", "a", 0), "bad_voter_id");
    assert_string_equal(reason_of("v1", "c", 0), "unknown_option");
    assert_string_equal(reason_of("v1", "", 0), "unknown_option");
    assert_string_equal(reason_of("v1", "ab", 0), "unknown_option");
    assert_string_equal(reason_of("v1", "a", -1), "bad_cast_at");
    assert_string_equal(reason_of("v1", "a", INT64_MAX), "bad_cast_at");
    assert_int_equal(decode_vote(junk, sizeof(junk), &v, &reason), -EINVAL);
    assert_string_equal(reason, "not_a_votecast");
    /* An empty payload decodes to an empty VoteCast: no voter. */
    assert_int_equal(decode_vote("", 0, &v, &reason), -EINVAL);
    assert_string_equal(reason, "bad_voter_id");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_good_vote),
        cmocka_unit_test(test_decode_poison),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
