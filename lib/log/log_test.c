/* log_test.c - every line is one JSON object that jansson can parse, with
 * the level filter, escaping, typed fields and the line limit working as
 * log.h says. */
#include <limits.h>
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

static char captured[8192];
static int fds[2];

/* From now on, lines go to a pipe; stop() returns what came. */
static void start(void)
{
    assert_int_equal(pipe(fds), 0);
    log_set_fd(fds[1]);
}

static const char *stop(void)
{
    ssize_t n;

    log_set_fd(STDOUT_FILENO);
    close(fds[1]);
    n = read(fds[0], captured, sizeof(captured) - 1);
    close(fds[0]);
    captured[n > 0 ? n : 0] = '\0';
    return captured;
}

/* The one line in captured, parsed; fails unless it is exactly one JSON
 * object, one newline at its end, within LOG_LINE_MAX. */
static json_t *one_line(const char *out)
{
    json_error_t err;
    size_t len = strlen(out);
    json_t *o;

    assert_true(len > 0 && len <= LOG_LINE_MAX);
    assert_true(out[len - 1] == '\n');
    assert_ptr_equal(strchr(out, '\n'), out + len - 1);
    o = json_loads(out, JSON_REJECT_DUPLICATES, &err);
    if (!o)
        fail_msg("not JSON (%s): %s", err.text, out);
    assert_true(json_is_object(o));
    return o;
}

static const char *str_of(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void test_log_line_is_json(void **state)
{
    json_t *o;

    assert_int_equal(log_init("vote", "info"), 0);
    start();
    log_info("vote_published", LOG_STR("option", "a\"b\n"), LOG_INT("seq", 42));
    o = one_line(stop());
    assert_string_equal(str_of(o, "svc"), "vote");
    assert_string_equal(str_of(o, "lvl"), "info");
    assert_string_equal(str_of(o, "event"), "vote_published");
    assert_string_equal(str_of(o, "option"), "a\"b\n");
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 42);
    assert_non_null(str_of(o, "ts"));
    json_decref(o);
}

/* The format, byte for byte but the time: what tests and log readers
 * match on. */
static void test_log_format_is_stable(void **state)
{
    static const char want[] =
        "\",\"lvl\":\"warn\",\"svc\":\"worker\",\"event\":\"e\",\"s\":\"x\","
        "\"n\":-1,\"u\":18446744073709551615,\"t\":true,\"f\":false,"
        "\"z\":null,\"o\":{\"found\":1,\"want\":\"\"}}\n";
    const struct log_field pair[] = {LOG_INT("found", 1), LOG_STR("want", ""),
                                     LOG_END};
    const char *out;

    assert_int_equal(log_init("worker", "info"), 0);
    start();
    log_warn("e", LOG_STR("s", "x"), LOG_INT("n", -1),
             LOG_UINT("u", ULLONG_MAX), LOG_BOOL("t", 42), LOG_BOOL("f", 0),
             LOG_STR("z", NULL), LOG_OBJ("o", pair));
    out = stop();
    /* {"ts":"2026-11-27T18:00:00.123Z */
    assert_memory_equal(out, "{\"ts\":\"", 7);
    assert_int_equal(strlen(out), 7 + 24 + strlen(want));
    assert_string_equal(out + 7 + 24, want);
    start();
    log_info("bare");
    out = stop();
    assert_string_equal(out + 7 + 24, "\",\"lvl\":\"info\",\"svc\":\"worker\","
                                      "\"event\":\"bare\"}\n");
}

static int evaluated;

static long long count_evaluation(void)
{
    return ++evaluated;
}

static void test_log_level_filters(void **state)
{
    assert_int_equal(log_init("vote", "warn"), 0);
    start();
    log_debug("noise");
    log_info("noise", LOG_INT("n", count_evaluation()));
    assert_string_equal(stop(), "");
    assert_int_equal(evaluated, 0); /* fields cost nothing when off */
    assert_int_equal(log_init("vote", "debug"), 0);
    start();
    log_debug("noise", LOG_INT("n", count_evaluation()));
    assert_non_null(strstr(stop(), "\"event\":\"noise\",\"n\":1}"));
    assert_int_equal(evaluated, 1);
    assert_int_equal(log_init("vote", NULL), 0);
    assert_int_equal(log_min_level, LL_INFO);
}

static void test_log_bad_level_names_variable(void **state)
{
    const char *out;

    start();
    assert_int_equal(log_init("vote", "lo\"ud"), -22);
    out = stop();
    assert_non_null(strstr(out, "\"variable\":\"LOG_LEVEL\""));
    assert_non_null(strstr(out, "\"value\":\"lo\\\"ud\""));
    json_decref(one_line(out));
}

/* Outside text with what would break a hand-written line: each string
 * comes back whole from the JSON, in the exact escapes. */
static void test_log_strings_are_escaped(void **state)
{
    static const struct {
        const char *in, *json, *back;
    } cases[] = {
        {"a\"b", "\"a\\\"b\"", "a\"b"},
        {"back\\slash", "\"back\\\\slash\"", "back\\slash"},
        {"two\nlines\r", "\"two\\u000alines\\u000d\"", "two\nlines\r"},
        {"\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"", "\x01\x1f\x7f"},
        {"\",\"lvl\":\"error", "\"\\\",\\\"lvl\\\":\\\"error\"",
         "\",\"lvl\":\"error"},
        {"}\n{", "\"}\\u000a{\"", "}\n{"},
        {"\xc3\xa9t\xc3\xa9 \xf0\x9f\x97\xb3", /* valid: kept as is */
         "\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x97\xb3\"",
         "\xc3\xa9t\xc3\xa9 \xf0\x9f\x97\xb3"},
        {"a\xff", "\"a\\ufffd\"", "a\xef\xbf\xbd"},
        {"\xc3", "\"\\ufffd\"", "\xef\xbf\xbd"}, /* cut */
        {"\xc0\xaf", "\"\\ufffd\\ufffd\"",
         "\xef\xbf\xbd\xef\xbf\xbd"},                 /* overlong */
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"", /* surrogate */
         "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
        {"", "\"\"", ""},
    };
    char want[128];
    size_t i;
    json_t *o;

    assert_int_equal(log_init("vote", "info"), 0);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        start();
        log_info("e", LOG_STR("v", cases[i].in), LOG_STR(cases[i].in, "key"));
        o = one_line(stop());
        snprintf(want, sizeof(want), "\"v\":%s,", cases[i].json);
        if (!strstr(captured, want))
            fail_msg("case %zu: %s not in %s", i, want, captured);
        assert_string_equal(str_of(o, "v"), cases[i].back);
        assert_string_equal(str_of(o, cases[i].back), "key");
        json_decref(o);
    }
}

static void test_log_numbers_and_null(void **state)
{
    json_t *o;

    assert_int_equal(log_init("vote", "info"), 0);
    start();
    log_info("e", LOG_INT("min", LLONG_MIN), LOG_INT("max", LLONG_MAX),
             LOG_INT("neg", -5), LOG_UINT("zero", 0), LOG_BOOL("yes", 1),
             LOG_BOOL("no", 0), LOG_STR("none", NULL));
    o = one_line(stop());
    assert_non_null(strstr(captured, "\"min\":-9223372036854775808,"));
    assert_true(json_integer_value(json_object_get(o, "min")) == LLONG_MIN);
    assert_true(json_integer_value(json_object_get(o, "max")) == LLONG_MAX);
    assert_int_equal(json_integer_value(json_object_get(o, "neg")), -5);
    assert_int_equal(json_integer_value(json_object_get(o, "zero")), 0);
    assert_true(json_is_true(json_object_get(o, "yes")));
    assert_true(json_is_false(json_object_get(o, "no")));
    assert_true(json_is_null(json_object_get(o, "none")));
    assert_null(json_object_get(o, "truncated"));
    json_decref(o);
}

/* A string over LOG_STR_MAX is cut at a character and ends in "...";
 * the fields after it are still there. */
static void test_log_long_string_is_cut(void **state)
{
    char big[2000];
    const char *v;
    size_t i;
    json_t *o;

    for (i = 0; i + 2 < sizeof(big); i += 2)
        memcpy(big + i, "\xc3\xa9", 2); /* é: never cut in two */
    big[i] = '\0';
    assert_int_equal(log_init("vote", "info"), 0);
    start();
    log_error("huge", LOG_STR("v", big), LOG_INT("after", 7));
    o = one_line(stop());
    v = str_of(o, "v");
    assert_true(strlen(v) + 2 <= LOG_STR_MAX);
    assert_true(strlen(v) + 2 > LOG_STR_MAX - 8);
    assert_string_equal(v + strlen(v) - 3, "...");
    assert_memory_equal(v, big, strlen(v) - 3);
    assert_int_equal(json_integer_value(json_object_get(o, "after")), 7);
    assert_null(json_object_get(o, "truncated"));
    json_decref(o);
}

/* Fields past LOG_LINE_MAX: the line stays one JSON object and says it
 * was cut; what fits comes first, whole. */
static void test_log_overflow_stays_json(void **state)
{
    static const char s100[] = "0123456789012345678901234567890123456789"
                               "0123456789012345678901234567890123456789"
                               "01234567890123456789";
    char ctl[400];
    const char *out;
    json_t *o;

    memset(ctl, '\n', sizeof(ctl) - 1); /* 6 bytes each, escaped */
    ctl[sizeof(ctl) - 1] = '\0';
    assert_int_equal(log_init("vote", "info"), 0);
    start();
    log_info("many", LOG_STR("a", s100), LOG_STR("b", s100), LOG_STR("c", s100),
             LOG_STR("d", s100), LOG_STR("e", s100), LOG_STR("f", s100),
             LOG_STR("g", s100), LOG_STR("h", s100), LOG_STR("i", s100),
             LOG_STR("j", s100), LOG_INT("k", 1));
    out = stop();
    o = one_line(out);
    assert_true(json_is_true(json_object_get(o, "truncated")));
    assert_string_equal(str_of(o, "a"), s100);
    assert_null(json_object_get(o, "k"));
    json_decref(o);

    /* cut inside \u000a escapes, then inside a nested object */
    start();
    log_info("many", LOG_STR("a", ctl), LOG_STR("b", ctl), LOG_STR("c", ctl));
    o = one_line(stop());
    assert_true(json_is_true(json_object_get(o, "truncated")));
    assert_null(json_object_get(o, "c"));
    json_decref(o);
    {
        const struct log_field in[] = {LOG_STR("x", ctl), LOG_STR("y", ctl),
                                       LOG_STR("z", ctl), LOG_END};
        start();
        log_info("nested", LOG_STR("a", s100), LOG_OBJ("o", in),
                 LOG_INT("after", 1));
        o = one_line(stop());
        assert_true(json_is_object(json_object_get(o, "o")));
        assert_true(json_is_true(json_object_get(o, "truncated")));
        assert_null(json_object_get(o, "after"));
        json_decref(o);
    }

    /* a number that does not fit is left out whole, with all after it */
    start();
    log_info("ints", LOG_STR("a", s100), LOG_STR("b", s100), LOG_STR("c", s100),
             LOG_STR("d", s100), LOG_STR("e", s100), LOG_STR("f", s100),
             LOG_STR("g", s100), LOG_STR("h", s100), LOG_INT("n1", LLONG_MIN),
             LOG_INT("n2", LLONG_MIN), LOG_INT("n3", LLONG_MIN),
             LOG_BOOL("n4", 1));
    o = one_line(stop());
    assert_true(json_is_true(json_object_get(o, "truncated")));
    assert_string_equal(str_of(o, "h"), s100);
    assert_true(json_integer_value(json_object_get(o, "n2")) == LLONG_MIN);
    assert_null(json_object_get(o, "n3"));
    assert_null(json_object_get(o, "n4"));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_line_is_json),
        cmocka_unit_test(test_log_format_is_stable),
        cmocka_unit_test(test_log_level_filters),
        cmocka_unit_test(test_log_bad_level_names_variable),
        cmocka_unit_test(test_log_strings_are_escaped),
        cmocka_unit_test(test_log_numbers_and_null),
        cmocka_unit_test(test_log_long_string_is_cut),
        cmocka_unit_test(test_log_overflow_stays_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
