/* settings_test.c - defaults and refused values of the environment. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/config/testenv.h"
#include "lib/log/log.h"
#include "vote/settings.h"

static const char *const VARS[] = {"PORT",
                                   "VOTE_THREADS",
                                   "VOTE_DUPLICATE_WINDOW_S",
                                   "NATS_URL",
                                   "REDIS_URL",
                                   "UI_DIR",
                                   "OPTION_A",
                                   "OPTION_B",
                                   "LOG_LEVEL",
                                   "NATS_USER",
                                   "NATS_PASSWORD",
                                   "NATS_PASSWORD_FILE",
                                   "NATS_REPLICAS",
                                   "VOTES_MAX_AGE_S",
                                   "VOTES_MAX_BYTES",
                                   "REDIS_USER",
                                   "REDIS_PASSWORD",
                                   "REDIS_PASSWORD_FILE",
                                   "VOTE_RATE_PER_MIN",
                                   "VOTE_RATE_BURST",
                                   "VOTE_TRUSTED_PROXIES",
                                   NULL};

static void test_settings_defaults(void **state)
{
    struct settings s;

    assert_int_equal(settings_load(&s), 0);
    assert_int_equal(s.port, 5000);
    assert_int_equal(s.threads, 64);
    assert_int_equal(s.dup_window_s, 5);
    assert_string_equal(s.nats.redacted, "nats://127.0.0.1:4222");
    assert_int_equal(s.nats.n_servers, 1);
    assert_string_equal(s.redis.host, "127.0.0.1");
    assert_int_equal(s.redis.port, 6379);
    assert_string_equal(s.ui_dir, "");
    assert_string_equal(s.labels.of[0], "Cats");
    assert_string_equal(s.labels.of[1], "Dogs");
    assert_int_equal(s.streams.replicas, 1);
    assert_int_equal(s.streams.votes_max_bytes, 1073741824);
    assert_int_equal(s.rate_per_min, 0); /* no limit */
    assert_int_equal(s.rate_burst, 20);
    assert_int_equal(s.n_trusted, 0);
}

static void test_settings_rate(void **state)
{
    static const char *const env[] = {
        "VOTE_RATE_PER_MIN=60", "VOTE_RATE_BURST=5",
        "VOTE_TRUSTED_PROXIES=127.0.0.1, 172.16.0.0/12,fd00::/8", NULL};
    struct settings s;

    testenv_set(env);
    assert_int_equal(settings_load(&s), 0);
    assert_int_equal(s.rate_per_min, 60);
    assert_int_equal(s.rate_burst, 5);
    assert_int_equal(s.n_trusted, 3);
    assert_int_equal(s.trusted[1].bits, 96 + 12);
}

static void test_settings_values(void **state)
{
    static const char *const env[] = {
        "PORT=8081",
        "VOTE_THREADS=128",
        "VOTE_DUPLICATE_WINDOW_S=30",
        "NATS_URL=nats://v:pw@n1:4333,nats://n2:4333",
        "REDIS_URL=redis://:secret@redis",
        "OPTION_A=Tea",
        NULL};
    struct settings s;

    testenv_set(env);
    assert_int_equal(settings_load(&s), 0);
    assert_int_equal(s.port, 8081);
    assert_int_equal(s.threads, 128);
    assert_int_equal(s.dup_window_s, 30);
    assert_int_equal(s.nats.n_servers, 2);
    assert_string_equal(s.nats.servers[0], "nats://v:pw@n1:4333");
    assert_string_equal(s.nats.redacted, "nats://n1:4333,nats://n2:4333");
    assert_string_equal(s.redis.host, "redis");
    assert_string_equal(s.redis.password, "secret");
    assert_string_equal(s.labels.of[0], "Tea");
}

/* The ACL user and its password from a file, as compose passes them. */
static void test_settings_redis_user(void **state)
{
    char path[256];
    struct settings s;

    testenv_file(path, sizeof(path), "s3cret\n");
    setenv("REDIS_URL", "redis://redis:6379", 1);
    setenv("REDIS_USER", "vote", 1);
    setenv("REDIS_PASSWORD_FILE", path, 1);
    assert_int_equal(settings_load(&s), 0);
    assert_string_equal(s.redis.user, "vote");
    assert_string_equal(s.redis.password, "s3cret");
    unlink(path);
    /* a missing secret file stops vote (main exits 2) */
    assert_int_equal(settings_load(&s), -EINVAL);
    unsetenv("REDIS_PASSWORD_FILE");
    assert_int_equal(settings_load(&s), -EINVAL); /* a user, no password */
    setenv("REDIS_PASSWORD", "x", 1);
    setenv("REDIS_URL", "redis://u:p@redis", 1);
    assert_int_equal(settings_load(&s), -EINVAL); /* both */
}

/* For testenv_refused(). */
static int load(void)
{
    struct settings s;

    return settings_load(&s);
}

static void test_settings_refused(void **state)
{
    static const struct testenv_bad bad[] = {
        {"PORT", "0"},
        {"PORT", "http"},
        {"VOTE_THREADS", "2"},
        {"VOTE_DUPLICATE_WINDOW_S", "0"},
        {"VOTE_DUPLICATE_WINDOW_S", "5s"},
        {"NATS_URL", "http://nats:4222"},
        {"NATS_URL", "nats://n1:4222,nats://n2:0"},
        {"NATS_REPLICAS", "7"},
        {"VOTES_MAX_BYTES", "-1"},
        {"REDIS_URL", "redis://host:99999"},
        {"VOTE_RATE_PER_MIN", "-1"},
        {"VOTE_RATE_PER_MIN", "60/min"},
        {"VOTE_RATE_BURST", "0"},
        {"VOTE_TRUSTED_PROXIES", "vote-ui"},
        {"VOTE_TRUSTED_PROXIES", "10.0.0.0/40"},
        {"VOTE_TRUSTED_PROXIES", "1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5,"
                                 "6.6.6.6,7.7.7.7,8.8.8.8,9.9.9.9,1.0.0.1,"
                                 "1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,"
                                 "1.0.0.7,1.0.0.8"},
    };

    testenv_refused(VARS, bad, sizeof(bad) / sizeof(bad[0]), load);
    setenv("NATS_PASSWORD", "no-user", 1); /* and no NATS_USER */
    assert_int_equal(load(), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTENV_UNIT_TEST(test_settings_defaults, VARS),
        TESTENV_UNIT_TEST(test_settings_values, VARS),
        TESTENV_UNIT_TEST(test_settings_rate, VARS),
        TESTENV_UNIT_TEST(test_settings_redis_user, VARS),
        TESTENV_UNIT_TEST(test_settings_refused, VARS),
    };

    log_init("settings_test", "error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
