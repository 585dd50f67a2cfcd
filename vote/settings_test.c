/* settings_test.c - defaults and refused values of the environment. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/log/log.h"
#include "vote/settings.h"

static const char *const VARS[] = {
    "PORT",     "VOTE_THREADS", "VOTE_DUPLICATE_WINDOW_S",
    "NATS_URL", "REDIS_URL",    "UI_DIR",
    "OPTION_A", "OPTION_B",     "LOG_LEVEL"};

static int clear_env(void **state)
{
    size_t i;

    for (i = 0; i < sizeof(VARS) / sizeof(VARS[0]); i++)
        unsetenv(VARS[i]);
    return 0;
}

static void test_settings_defaults(void **state)
{
    struct settings s;

    assert_int_equal(settings_load(&s), 0);
    assert_int_equal(s.port, 5000);
    assert_int_equal(s.threads, 64);
    assert_int_equal(s.dup_window_s, 5);
    assert_string_equal(s.nats.host, "127.0.0.1");
    assert_int_equal(s.nats.port, 4222);
    assert_string_equal(s.redis.host, "127.0.0.1");
    assert_int_equal(s.redis.port, 6379);
    assert_string_equal(s.ui_dir, "");
    assert_string_equal(s.label_a, "Cats");
    assert_string_equal(s.label_b, "Dogs");
}

static void test_settings_values(void **state)
{
    struct settings s;

    setenv("PORT", "8081", 1);
    setenv("VOTE_THREADS", "128", 1);
    setenv("VOTE_DUPLICATE_WINDOW_S", "30", 1);
    setenv("NATS_URL", "nats://nats:4333", 1);
    setenv("REDIS_URL", "redis://:secret@redis", 1);
    setenv("OPTION_A", "Tea", 1);
    assert_int_equal(settings_load(&s), 0);
    assert_int_equal(s.port, 8081);
    assert_int_equal(s.threads, 128);
    assert_int_equal(s.dup_window_s, 30);
    assert_string_equal(s.nats.raw, "nats://nats:4333");
    assert_string_equal(s.redis.host, "redis");
    assert_string_equal(s.redis.password, "secret");
    assert_string_equal(s.label_a, "Tea");
}

static void test_settings_refused(void **state)
{
    static const char *const bad[][2] = {
        {"PORT", "0"},
        {"PORT", "http"},
        {"VOTE_THREADS", "2"},
        {"VOTE_DUPLICATE_WINDOW_S", "0"},
        {"VOTE_DUPLICATE_WINDOW_S", "5s"},
        {"NATS_URL", "http://nats:4222"},
        {"REDIS_URL", "redis://host:99999"},
    };
    struct settings s;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        clear_env(NULL);
        setenv(bad[i][0], bad[i][1], 1);
        if (settings_load(&s) != -EINVAL)
            fail_msg("%s=%s was accepted", bad[i][0], bad[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_settings_defaults, clear_env),
        cmocka_unit_test_setup(test_settings_values, clear_env),
        cmocka_unit_test_setup(test_settings_refused, clear_env),
    };

    log_init("settings_test", "error");
    log_set_fd(-1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
