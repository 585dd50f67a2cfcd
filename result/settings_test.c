/* settings_test.c - result's environment: defaults, values, and a bad or
 * too long value refused with a log line naming the variable. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/config/testenv.h"
#include "lib/log/log.h"
#include "lib/log/logcapture.h"
#include "result/settings.h"

static const char *const VARS[] = {"LOG_LEVEL",
                                   "PORT",
                                   "POSTGRES_HOST",
                                   "POSTGRES_PORT",
                                   "POSTGRES_DB",
                                   "POSTGRES_USER",
                                   "POSTGRES_PASSWORD",
                                   "UI_DIR",
                                   "OPTION_A",
                                   "OPTION_B",
                                   "RESULT_MAX_CLIENTS",
                                   "RESULT_WS_PING_MS",
                                   "RESULT_MAX_PER_ADDR",
                                   "RESULT_TRUSTED_PROXIES",
                                   NULL};

static void test_settings_defaults(void **state)
{
    struct settings s;

    assert_int_equal(settings_load(&s), 0);
    assert_int_equal(s.port, 5000);
    assert_string_equal(s.pg.host, "127.0.0.1");
    assert_int_equal(s.pg.port, 5432);
    assert_string_equal(s.labels.of[0], "Cats");
    assert_string_equal(s.labels.of[1], "Dogs");
    assert_int_equal(s.max_clients, CAPACITY_AUTO); /* sized at start */
    assert_int_equal(s.max_per_addr, SETTINGS_PER_ADDR_AUTO);
    assert_int_equal(s.n_trusted, 0);
    assert_string_equal(s.ui_dir, "");
}

/* Unset, RESULT_MAX_PER_ADDR is a quarter of what max_clients is sized
 * to (at least 1); set, it stays (0: no cap). */
static void test_settings_per_addr_sized(void **state)
{
    struct settings s;

    assert_int_equal(settings_load(&s), 0);
    settings_size(&s, 19840);
    assert_int_equal(s.max_clients, 19840);
    assert_int_equal(s.max_per_addr, 4960);
    assert_int_equal(settings_load(&s), 0);
    settings_size(&s, 3);
    assert_int_equal(s.max_per_addr, 1);
    setenv("RESULT_MAX_PER_ADDR", "0", 1);
    assert_int_equal(settings_load(&s), 0);
    settings_size(&s, 19840);
    assert_int_equal(s.max_per_addr, 0);
}

static void test_settings_values(void **state)
{
    struct settings s;

    setenv("PORT", "5001", 1);
    setenv("POSTGRES_HOST", "db", 1);
    setenv("POSTGRES_USER", "result", 1);
    setenv("OPTION_A", "Tea", 1);
    setenv("RESULT_MAX_CLIENTS", "4000", 1);
    setenv("RESULT_MAX_PER_ADDR", "50", 1);
    setenv("RESULT_TRUSTED_PROXIES", "172.16.0.0/12, 10.0.0.0/8", 1);
    assert_int_equal(settings_load(&s), 0);
    assert_int_equal(s.max_per_addr, 50);
    assert_int_equal(s.n_trusted, 2);
    assert_int_equal(s.trusted[0].bits, 96 + 12);
    assert_int_equal(s.port, 5001);
    assert_string_equal(s.pg.host, "db");
    assert_string_equal(s.pg.user, "result");
    assert_string_equal(s.labels.of[0], "Tea");
    assert_int_equal(s.max_clients, 4000);
}

/* Labels have vote's limit (CONTRACT_LABEL_MAX), not a second one. */
static void test_settings_label_limit(void **state)
{
    char label[CONTRACT_LABEL_MAX + 1];
    struct settings s;

    memset(label, 'x', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    setenv("OPTION_B", label, 1);
    assert_int_equal(settings_load(&s), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "\"variable\":\"OPTION_B\""));
    label[sizeof(label) - 2] = '\0'; /* CONTRACT_LABEL_MAX - 1 bytes */
    setenv("OPTION_B", label, 1);
    assert_int_equal(settings_load(&s), 0);
}

/* For testenv_refused(). */
static int load(void)
{
    struct settings s;

    return settings_load(&s);
}

static void test_settings_bad_values(void **state)
{
    static const struct testenv_bad bad[] = {
        {"POSTGRES_PORT", "0"},
        {"RESULT_MAX_CLIENTS", "0"},
        {"RESULT_MAX_PER_ADDR", "-1"},
        {"RESULT_TRUSTED_PROXIES", "result-ui"},
        {"RESULT_TRUSTED_PROXIES", "10.0.0.0/40"},
        {"RESULT_TRUSTED_PROXIES", "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5,"
                                   "6.6.6.6,7.7.7.7,8.8.8.8,9.9.9.9,1.0.0.1,"
                                   "1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,"
                                   "1.0.0.7,1.0.0.8"},
    };

    testenv_refused(VARS, bad, sizeof(bad) / sizeof(bad[0]), load);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTENV_UNIT_TEST(test_settings_defaults, VARS),
        TESTENV_UNIT_TEST(test_settings_per_addr_sized, VARS),
        TESTENV_UNIT_TEST(test_settings_values, VARS),
        TESTENV_UNIT_TEST(test_settings_label_limit, VARS),
        TESTENV_UNIT_TEST(test_settings_bad_values, VARS),
    };

    log_init("settings_test", "error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
