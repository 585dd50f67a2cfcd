/* settings_test.c - defaults, overrides and rejected values. */
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

#include "lib/config/testenv.h"
#include "lib/log/log.h"
#include "worker/settings.h"

static const char *const VARS[] = {
    "NATS_URL",
    "POSTGRES_HOST",
    "POSTGRES_PORT",
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "WORKER_PORT",
    "POSTGRES_PASSWORD_FILE",
    "BATCH_SIZE",
    "LOG_LEVEL",
    "NATS_USER",
    "NATS_PASSWORD",
    "NATS_PASSWORD_FILE",
    "NATS_REPLICAS",
    "DEADLETTER_MAX_BYTES",
    NULL,
};

static void test_settings_defaults(void **state)
{
    struct settings s;

    assert_int_equal(settings_load(&s), 0);
    assert_string_equal(s.nats.redacted, "nats://127.0.0.1:4222");
    assert_string_equal(s.pg.host, "127.0.0.1");
    assert_int_equal(s.pg.port, 5432);
    assert_string_equal(s.pg.db, "postgres");
    assert_string_equal(s.pg.user, "postgres");
    assert_string_equal(s.pg.password, "");
    assert_int_equal(s.http_port, 8080);
    assert_int_equal(s.batch_size, 500);
}

static void test_settings_overrides(void **state)
{
    char path[256];
    struct settings s;

    testenv_file(path, sizeof(path), "s3cret\n");
    setenv("NATS_URL", "nats://n1:4223,nats://n2:4223", 1);
    setenv("NATS_USER", "worker", 1);
    setenv("NATS_PASSWORD", "pw", 1);
    setenv("NATS_REPLICAS", "3", 1);
    setenv("DEADLETTER_MAX_BYTES", "1000", 1);
    setenv("POSTGRES_HOST", "db", 1);
    setenv("POSTGRES_PASSWORD_FILE", path, 1);
    setenv("WORKER_PORT", "9090", 1);
    setenv("BATCH_SIZE", "1000", 1);
    assert_int_equal(settings_load(&s), 0);
    assert_int_equal(s.nats.n_servers, 2);
    assert_string_equal(s.nats.redacted, "nats://n1:4223,nats://n2:4223");
    assert_string_equal(s.nats.user, "worker");
    assert_string_equal(s.nats.password, "pw");
    assert_int_equal(s.streams.replicas, 3);
    assert_int_equal(s.streams.dl_max_bytes, 1000);
    assert_string_equal(s.pg.host, "db");
    assert_string_equal(s.pg.password, "s3cret");
    assert_int_equal(s.http_port, 9090);
    assert_int_equal(s.batch_size, 1000);
    unlink(path);
}

/* For testenv_refused(). */
static int load(void)
{
    struct settings s;

    return settings_load(&s);
}

static void test_settings_rejects(void **state)
{
    static const struct testenv_bad bad[] = {
        {"BATCH_SIZE", "0"},
        {"BATCH_SIZE", "500x"},
        {"NATS_URL", "http://nats:4222"},
        {"NATS_URL", "nats://n1:4222,nats://n2:x"},
        {"NATS_REPLICAS", "0"},
        {"WORKER_PORT", "70000"},
    };
    struct settings s;

    testenv_refused(VARS, bad, sizeof(bad) / sizeof(bad[0]), load);
    setenv("POSTGRES_PASSWORD", "x", 1);
    setenv("POSTGRES_PASSWORD_FILE", "/nonexistent", 1);
    assert_int_equal(settings_load(&s), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTENV_UNIT_TEST(test_settings_defaults, VARS),
        TESTENV_UNIT_TEST(test_settings_overrides, VARS),
        TESTENV_UNIT_TEST(test_settings_rejects, VARS),
    };

    log_init("worker", "error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
