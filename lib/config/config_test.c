/* config_test.c - defaults, good values and every kind of bad value, with
 * the variable named in the error line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/config/config.h"
#include "lib/config/testenv.h"
#include "lib/log/log.h"
#include "lib/log/logcapture.h"

static int setup(void **state)
{
    logcapture_start();
    return 0;
}

static int teardown(void **state)
{
    logcapture_stop();
    return 0;
}

static void test_config_defaults(void **state)
{
    char s[16];
    long x;
    uint16_t port;

    unsetenv("T_STR");
    unsetenv("T_NUM");
    assert_int_equal(config_str("T_STR", "dflt", s, sizeof(s)), 0);
    assert_string_equal(s, "dflt");
    assert_int_equal(config_long("T_NUM", 7, 1, 10, &x), 0);
    assert_int_equal(x, 7);
    setenv("T_NUM", "", 1);
    assert_int_equal(config_port("T_NUM", 5000, &port), 0);
    assert_int_equal(port, 5000);
}

static void test_config_long_range(void **state)
{
    long x;

    setenv("T_NUM", "10", 1);
    assert_int_equal(config_long("T_NUM", 7, 1, 10, &x), 0);
    assert_int_equal(x, 10);
    setenv("T_NUM", "11", 1);
    assert_int_equal(config_long("T_NUM", 7, 1, 10, &x), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "\"variable\":\"T_NUM\""));
    setenv("T_NUM", "5x", 1);
    assert_int_equal(config_long("T_NUM", 7, 1, 10, &x), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "from 1 to 10"));
}

static void test_config_port_rejects_words(void **state)
{
    uint16_t port;

    setenv("PORT", "http", 1);
    assert_int_equal(config_port("PORT", 5000, &port), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "\"value\":\"http\""));
    setenv("PORT", "65536", 1);
    assert_int_equal(config_port("PORT", 5000, &port), -EINVAL);
    unsetenv("PORT");
}

static void test_config_str_too_long(void **state)
{
    char s[4];

    setenv("T_STR", "abcd", 1);
    assert_int_equal(config_str("T_STR", "", s, sizeof(s)), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "longer than 3"));
}

static void test_config_url_parts(void **state)
{
    struct config_url u;

    setenv("T_URL", "redis://:s3cret@cache.local:6380/0", 1);
    assert_int_equal(config_url("T_URL", "", "redis", 6379, &u), 0);
    assert_string_equal(u.host, "cache.local");
    assert_int_equal(u.port, 6380);
    assert_string_equal(u.password, "s3cret");
    assert_string_equal(u.user, "");

    assert_int_equal(config_parse_url("nats://nats", "nats", 4222, &u), 0);
    assert_string_equal(u.host, "nats");
    assert_int_equal(u.port, 4222);
    assert_int_equal(config_parse_url("nats://[::1]:4", "nats", 4222, &u), 0);
    assert_string_equal(u.host, "[::1]");
    assert_int_equal(u.port, 4);
}

static void test_config_url_bad(void **state)
{
    struct config_url u;

    setenv("NATS_URL", "http://nats:4222", 1);
    assert_int_equal(config_url("NATS_URL", "", "nats", 4222, &u), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "\"variable\":\"NATS_URL\""));
    assert_int_equal(config_parse_url("nats://:4222", "nats", 1, &u), -EINVAL);
    assert_int_equal(config_parse_url("nats://h:0", "nats", 1, &u), -EINVAL);
    assert_int_equal(config_parse_url("nats://h:", "nats", 1, &u), -EINVAL);
    assert_int_equal(config_parse_url("nats://h x", "nats", 1, &u), -EINVAL);
    unsetenv("NATS_URL");
}

/* A second '@' (an unencoded one in a password) used to leave host
 * "ss@redis" (found by config_fuzz): a host that never resolves, where a
 * config error naming the variable was due. */
static void test_config_url_at_in_host(void **state)
{
    struct config_url u;

    assert_int_equal(
        config_parse_url("redis://:p@ss@redis:6379", "redis", 1, &u), -EINVAL);
    assert_int_equal(config_parse_url("nats://a@b@c:1", "nats", 1, &u),
                     -EINVAL);
    assert_int_equal(
        config_parse_url("redis://:pss@redis:6379", "redis", 1, &u), 0);
    assert_string_equal(u.host, "redis");
    assert_string_equal(u.password, "pss");
}

static void test_config_redact_url(void **state)
{
    static const char *const cases[][2] = {
        {"nats://u:p@h:1", "nats://h:1"},
        {"nats://u:p@x@h:1/path", "nats://h:1/path"},
        {"nats://h:1", "nats://h:1"},
        /* a '/' or '#' in the password hid the '@' and showed it all
         * (found by natsconn_fuzz) */
        {"nats://u:pa/ss@h:1", "nats://h:1"},
        {"nats://u:pa#s?s@h:1", "nats://h:1"},
        {"nats:/u:p://s@h:1", "h:1"},
        /* a ',' in a password does not end the URL */
        {"redis://u:pa,ss@h", "redis://h"},
    };
    char out[64];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        config_redact_url(cases[i][0], out, sizeof(out));
        if (strcmp(out, cases[i][1]) != 0)
            fail_msg("%s: \"%s\", not \"%s\"", cases[i][0], out, cases[i][1]);
    }
    config_redact_url("nats://u:p@h:1", out, 4);
    assert_string_equal(out, "");
}

/* An unparsable URL is refused naming the variable, and its log line
 * shows the URL without the password (REDIS_URL was logged verbatim). */
static void test_config_url_bad_hides_password(void **state)
{
    static const char *const bad[] = {
        "redis://vote:Hunter2pw@redis:99999",   /* port out of range */
        "redis://vote:Hunter2pw@redis:port",    /* port not a number */
        "rediss://vote:Hunter2pw@redis:6379",   /* another scheme */
        "redis://vote:Hunter2pw@x@redis:6379",  /* a second '@' */
        "redis://vote:Hunter2pw/x@redis:6379",  /* '/' in the password */
        "redis://vote:Hunter2pw,x@redis:6379x", /* a "," and port junk */
        "redis://vote:Hunter2pw@red is:6379",   /* a blank */
    };
    struct config_url u;
    const char *log;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("REDIS_URL", bad[i], 1);
        assert_int_equal(config_url("REDIS_URL", "", "redis", 6379, &u),
                         -EINVAL);
        log = logcapture_drain();
        if (!strstr(log, "\"variable\":\"REDIS_URL\"") ||
            strstr(log, "Hunter2pw") || !strstr(log, "redis"))
            fail_msg("%s logged as: %s", bad[i], log);
    }
    unsetenv("REDIS_URL");
}

static void test_config_secret_file(void **state)
{
    char path[256];
    const char *log;
    char s[32];

    testenv_file(path, sizeof(path), "pw-from-file\nignored\n");
    unsetenv("T_PW");
    setenv("T_PW_FILE", path, 1);
    assert_int_equal(config_secret("T_PW", "", s, sizeof(s)), 0);
    assert_string_equal(s, "pw-from-file");

    setenv("T_PW", "direct", 1);
    assert_int_equal(config_secret("T_PW", "", s, sizeof(s)), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "T_PW_FILE"));

    unsetenv("T_PW");
    setenv("T_PW_FILE", "/nonexistent/pw", 1);
    assert_int_equal(config_secret("T_PW", "", s, sizeof(s)), -EINVAL);
    unlink(path);
    unsetenv("T_PW_FILE");
    setenv("T_PW", "direct", 1);
    assert_int_equal(config_secret("T_PW", "", s, sizeof(s)), 0);
    assert_string_equal(s, "direct");
    logcapture_drain();
    /* Too long: refused, and the line names it without printing it. */
    setenv("T_PW", "a-secret-longer-than-the-buffer-it-goes-to", 1);
    assert_int_equal(config_secret("T_PW", "", s, sizeof(s)), -EINVAL);
    log = logcapture_drain();
    assert_non_null(strstr(log, "\"variable\":\"T_PW\""));
    assert_null(strstr(log, "a-secret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_config_long_range),
        cmocka_unit_test(test_config_port_rejects_words),
        cmocka_unit_test(test_config_str_too_long),
        cmocka_unit_test(test_config_url_parts),
        cmocka_unit_test(test_config_url_bad),
        cmocka_unit_test(test_config_url_at_in_host),
        cmocka_unit_test(test_config_redact_url),
        cmocka_unit_test(test_config_url_bad_hides_password),
        cmocka_unit_test(test_config_secret_file),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
