/* ballot_test.c - parsing and checks of vote requests, no servers. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
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
        /* a longer type that starts the same (found by tests/hostile) */
        {"application/jsonp", "{\"vote\":\"a\"}", NULL,
         "unsupported Content-Type"},
        {FORM "X", "vote=a", NULL, "unsupported Content-Type"},
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
    char out[CONTRACT_VOTER_MAX + 1];

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

/* Two voter_id cookies name two voters: which one votes is anybody's
 * guess, so neither does (found by tests/hostile: the first one won). */
static void test_ballot_cookie_duplicate(void **state)
{
    char out[CONTRACT_VOTER_MAX + 1];
    struct ballot b;
    const char *why;

    assert_int_equal(
        ballot_cookie_voter("voter_id=aa; voter_id=bb", out, sizeof(out)),
        -EINVAL);
    assert_string_equal(out, "");
    assert_int_equal(
        ballot_cookie_voter("voter_id=aa;voter_id=aa", out, sizeof(out)),
        -EINVAL);
    assert_int_equal(parse(&b, JSON, "{\"vote\":\"a\"}",
                           "x=1; voter_id=aa; voter_id=bb", &why),
                     -EINVAL);
    assert_int_equal(
        ballot_cookie_voter("voter_id=aa; my_voter_id=bb", out, sizeof(out)),
        0);
    assert_string_equal(out, "aa");
}

/* ?voter_id=a%00b decodes to "a", NUL, "b": it used to answer for voter
 * "a" (found by tests/hostile). */
static void test_ballot_query_voter(void **state)
{
    char out[CONTRACT_VOTER_MAX + 1];

    assert_int_equal(ballot_query_voter("voter_id=ab", NULL, out, sizeof(out)),
                     0);
    assert_string_equal(out, "ab");
    assert_int_equal(ballot_query_voter("x=1", "voter_id=cd", out, sizeof(out)),
                     0);
    assert_string_equal(out, "cd");
    assert_int_equal(ballot_query_voter(NULL, NULL, out, sizeof(out)), 0);
    assert_string_equal(out, "");
    assert_int_equal(
        ballot_query_voter("voter_id=a%00b", NULL, out, sizeof(out)), -EINVAL);
    assert_int_equal(
        ballot_query_voter("voter_id=a%0D%0AX", NULL, out, sizeof(out)),
        -EINVAL);
    assert_int_equal(ballot_query_voter("voter_id=", NULL, out, sizeof(out)),
                     -EINVAL);
}

struct deep {
    char *body;
    int rc;
    const char *why;
};

static void *parse_deep(void *arg)
{
    struct deep *d = arg;
    struct ballot b;

    d->rc = parse(&b, JSON, d->body, NULL, &d->why);
    return NULL;
}

/* civetweb runs handlers on 100 KB stacks and jansson recurses once per
 * nesting level: a 4 KB body of "[[[[..." overflowed the stack and killed
 * vote (found by tests/hostile). Parsed here on such a stack. */
static void test_ballot_deep_json(void **state)
{
    struct deep d = {.body = malloc(4096)};
    pthread_attr_t attr;
    pthread_t t;

    assert_non_null(d.body);
    memcpy(d.body, "{\"vote\":\"a\",\"x\":", 17);
    memset(d.body + 17, '[', 4095 - 17);
    d.body[4095] = '\0';
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 100 * 1024), 0);
    assert_int_equal(pthread_create(&t, &attr, parse_deep, &d), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
    assert_int_equal(d.rc, -EINVAL);
    assert_non_null(strstr(d.why, "malformed JSON"));
    free(d.body);
    /* the same on any stack: a ballot is a flat object */
    d.body = "{\"vote\":\"a\",\"x\":[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]}";
    d.why = NULL;
    parse_deep(&d);
    assert_int_equal(d.rc, -EINVAL);
    assert_non_null(strstr(d.why, "nested"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ballot_new_ids_are_random_hex),
        cmocka_unit_test(test_ballot_json),
        cmocka_unit_test(test_ballot_form),
        cmocka_unit_test(test_ballot_bad_input),
        cmocka_unit_test(test_ballot_cookie),
        cmocka_unit_test(test_ballot_cookie_duplicate),
        cmocka_unit_test(test_ballot_query_voter),
        cmocka_unit_test(test_ballot_deep_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
