/* ballot_test.c - parsing and checks of vote requests, no servers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vote/ballot.h"

#define JSON "application/json"
#define FORM "application/x-www-form-urlencoded"

static int parse(struct ballot *b, const char *type, const char *body,
                 const char *cookie, const char **why)
{
    *why = NULL;
    return ballot_parse(b, type, body, strlen(body), cookie, why);
}

static void test_ballot_voter_id_rules(void **state)
{
    char id65[66];

    memset(id65, 'x', 65);
    id65[65] = '\0';
    assert_true(ballot_voter_id_ok("a"));
    assert_true(ballot_voter_id_ok("Az09_-"));
    assert_true(ballot_voter_id_ok(id65 + 1)); /* 64 */
    assert_false(ballot_voter_id_ok(id65));
    assert_false(ballot_voter_id_ok(""));
    assert_false(ballot_voter_id_ok("a b"));
    assert_false(ballot_voter_id_ok("a;b"));
    assert_false(ballot_voter_id_ok("a\r\nSet-Cookie: x"));
    assert_false(ballot_voter_id_ok("caf\xc3\xa9"));
}

static void test_ballot_new_ids_are_random_hex(void **state)
{
    char a[17], b[17];

    assert_int_equal(ballot_new_voter_id(a, sizeof(a)), 0);
    assert_int_equal(ballot_new_voter_id(b, sizeof(b)), 0);
    assert_int_equal(strlen(a), 16);
    assert_int_equal(strspn(a, "0123456789abcdef"), 16);
    assert_string_not_equal(a, b);
    assert_int_equal(ballot_new_voter_id(a, 16), -EINVAL);
}

static void test_ballot_json(void **state)
{
    struct ballot b;
    const char *why;

    assert_int_equal(parse(&b, JSON, "{\"vote\":\"a\"}", NULL, &why), 0);
    assert_string_equal(b.option, "a");
    assert_int_equal(b.format, BALLOT_JSON);
    assert_true(b.new_voter);
    assert_int_equal(strlen(b.voter_id), 16);
    assert_int_equal(parse(&b, "application/json; charset=utf-8",
                           "{\"vote\":\"b\",\"voter_id\":\"alice\"}",
                           "voter_id=bob", &why),
                     0);
    assert_string_equal(b.option, "b");
    assert_string_equal(b.voter_id, "alice"); /* the JSON's wins */
    assert_false(b.new_voter);
    assert_int_equal(
        parse(&b, JSON, "{\"vote\":\"a\"}", "theme=dark; voter_id=bob", &why),
        0);
    assert_string_equal(b.voter_id, "bob");
    assert_int_equal(parse(&b, NULL, " {\"vote\":\"b\"}", NULL, &why), 0);
    assert_int_equal(b.format, BALLOT_JSON);
}

static void test_ballot_form(void **state)
{
    struct ballot b;
    const char *why;

    assert_int_equal(parse(&b, FORM, "vote=b", "voter_id=v-1", &why), 0);
    assert_string_equal(b.option, "b");
    assert_string_equal(b.voter_id, "v-1");
    assert_int_equal(b.format, BALLOT_FORM);
    assert_int_equal(parse(&b, NULL, "other=1&vote=a", NULL, &why), 0);
    assert_string_equal(b.option, "a");
    assert_int_equal(b.format, BALLOT_FORM);
}

/* Each bad input is refused with a message a person understands. */
static void test_ballot_bad_input(void **state)
{
    static const struct {
        const char *type, *body, *cookie, *why_has;
    } cases[] = {
        {JSON, "{\"vote\":", NULL, "malformed JSON"},
        {JSON, "[\"a\"]", NULL, "malformed JSON"},
        {JSON, "\"a\"", NULL, "malformed JSON"},
        {JSON, "{\"vote\":\"a\",\"vote\":\"b\"}", NULL, "malformed JSON"},
        {JSON, "{}", NULL, "missing option"},
        {JSON, "{\"vote\":\"c\"}", NULL, "unknown option"},
        {JSON, "{\"vote\":\"\"}", NULL, "unknown option"},
        {JSON, "{\"vote\":\"a.>\"}", NULL, "unknown option"},
        {JSON, "{\"vote\":1}", NULL, "unknown option"},
        {JSON, "{\"vote\":\"a\\u0000\"}", NULL, "malformed JSON"},
        {JSON, "{\"vote\":\"a\",\"voter_id\":\"\"}", NULL, "bad voter_id"},
        {JSON, "{\"vote\":\"a\",\"voter_id\":\"a b\"}", NULL, "bad voter_id"},
        {JSON, "{\"vote\":\"a\",\"voter_id\":7}", NULL, "bad voter_id"},
        {JSON, "{\"vote\":\"a\"}", "voter_id=a%3Bb", "bad voter_id cookie"},
        {JSON, "{\"vote\":\"a\"}",
         "voter_id=0123456789012345678901234567890123456789012345678901234567"
         "89012345",
         "bad voter_id cookie"},
        {FORM, "", NULL, "missing option"},
        {FORM, "vot=a", NULL, "missing option"},
        {FORM, "vote=c", NULL, "unknown option"},
        {FORM, "vote=a%00", NULL, "unknown option"},
        {FORM, "vote=aaaaaaaaaaaaaaaaaa", NULL, "unknown option"},
        {"text/plain", "vote=a", NULL, "unsupported Content-Type"},
    };
    struct ballot b;
    const char *why;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(
            parse(&b, cases[i].type, cases[i].body, cases[i].cookie, &why),
            -EINVAL);
        assert_non_null(why);
        if (!strstr(why, cases[i].why_has))
            fail_msg("case %zu (%s): got \"%s\"", i, cases[i].body, why);
    }
}

static void test_ballot_cookie(void **state)
{
    char out[BALLOT_ID_MAX + 1];

    assert_int_equal(ballot_cookie_voter(NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(ballot_cookie_voter("a=1", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(ballot_cookie_voter("a=1; voter_id=x_9", out, sizeof(out)),
                     0);
    assert_string_equal(out, "x_9");
    assert_int_equal(ballot_cookie_voter("voter_id=", out, sizeof(out)),
                     -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ballot_voter_id_rules),
        cmocka_unit_test(test_ballot_new_ids_are_random_hex),
        cmocka_unit_test(test_ballot_json),
        cmocka_unit_test(test_ballot_form),
        cmocka_unit_test(test_ballot_bad_input),
        cmocka_unit_test(test_ballot_cookie),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
