/* log_test.c - every line is one JSON object that jansson can parse, with
 * the level filter, quoting and truncation working as log.h says. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "lib/log/log.h"

/* Runs the logging done by fn with stdout replaced by a pipe; returns
 * what was written. */
static char captured[8192];

static const char *capture(void (*fn)(void))
{
    int fds[2];
    ssize_t n;

    assert_int_equal(pipe(fds), 0);
    log_set_fd(fds[1]);
    fn();
    log_set_fd(STDOUT_FILENO);
    close(fds[1]);
    n = read(fds[0], captured, sizeof(captured) - 1);
    close(fds[0]);
    captured[n > 0 ? n : 0] = '\0';
    return captured;
}

static void emit_info_with_fields(void)
{
    char q[64];

    log_info("vote_published", "\"option\":%s,\"seq\":%d",
             log_quote(q, sizeof(q), "a\"b\n"), 42);
}

static void test_log_line_is_json(void **state)
{
    json_error_t err;
    json_t *o;

    assert_int_equal(log_init("vote", "info"), 0);
    o = json_loads(capture(emit_info_with_fields), 0, &err);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "svc")), "vote");
    assert_string_equal(json_string_value(json_object_get(o, "lvl")), "info");
    assert_string_equal(json_string_value(json_object_get(o, "event")),
                        "vote_published");
    assert_string_equal(json_string_value(json_object_get(o, "option")),
                        "a\"b\n");
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 42);
    assert_non_null(json_string_value(json_object_get(o, "ts")));
    json_decref(o);
}

static void emit_debug(void)
{
    log_debug("noise", "");
}

static void test_log_level_filters(void **state)
{
    assert_int_equal(log_init("vote", "warn"), 0);
    assert_string_equal(capture(emit_debug), "");
    assert_int_equal(log_init("vote", "debug"), 0);
    assert_non_null(strstr(capture(emit_debug), "\"event\":\"noise\"}"));
    assert_int_equal(log_init("vote", NULL), 0);
    assert_int_equal(log_min_level, LL_INFO);
}

static void init_bad_level(void)
{
    assert_int_equal(log_init("vote", "loud"), -22);
}

static void test_log_bad_level_names_variable(void **state)
{
    const char *out = capture(init_bad_level);

    assert_non_null(strstr(out, "\"variable\":\"LOG_LEVEL\""));
    assert_non_null(strstr(out, "\"value\":\"loud\""));
}

static void emit_huge(void)
{
    char big[2000];

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_error("huge", "\"v\":\"%s\"", big);
}

static void test_log_truncation_keeps_json(void **state)
{
    json_t *o;

    assert_int_equal(log_init("vote", "info"), 0);
    o = json_loads(capture(emit_huge), 0, NULL);
    assert_non_null(o);
    assert_true(json_is_true(json_object_get(o, "truncated")));
    json_decref(o);
}

static void test_log_quote_cuts_long_strings(void **state)
{
    char q[12];

    assert_string_equal(log_quote(q, sizeof(q), "abcdefghijkl"),
                        "\"abcdef...\"");
    assert_string_equal(log_quote(q, sizeof(q), NULL), "null");
    assert_string_equal(log_quote(q, sizeof(q), "\x01"), "\"\\u0001\"");
}

/* Log lines are JSON, so UTF-8: a byte that is not UTF-8 becomes U+FFFD,
 * and a cut never splits a character (found by log_fuzz: a config value
 * or a Postgres message with such bytes made a line jq refused). */
static void test_log_quote_keeps_utf8_valid(void **state)
{
    char q[16];

    assert_string_equal(log_quote(q, sizeof(q), "a\xff"), "\"a\\ufffd\"");
    assert_string_equal(log_quote(q, sizeof(q), "\xc3"), "\"\\ufffd\"");
    assert_string_equal(log_quote(q, sizeof(q), "\xc0\xaf"), "\"\\ufffd...\"");
    assert_string_equal(log_quote(q, sizeof(q), "\xc3\xa9t\xc3\xa9"),
                        "\"\xc3\xa9t\xc3\xa9\"");
    /* the cut falls inside the 5th "\xc3\xa9": it is left out whole */
    assert_string_equal(log_quote(q, sizeof(q),
                                  "a\xc3\xa9\xc3\xa9\xc3\xa9"
                                  "\xc3\xa9\xc3\xa9\xc3\xa9"),
                        "\"a\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9...\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_line_is_json),
        cmocka_unit_test(test_log_level_filters),
        cmocka_unit_test(test_log_bad_level_names_variable),
        cmocka_unit_test(test_log_truncation_keeps_json),
        cmocka_unit_test(test_log_quote_cuts_long_strings),
        cmocka_unit_test(test_log_quote_keeps_utf8_valid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
