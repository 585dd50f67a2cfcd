/* settings_test.c - defaults, overrides and rejected values. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/log/log.h"
#include "worker/settings.h"

static const char *const VARS[] = {
    "NATS_URL",    "POSTGRES_HOST",          "POSTGRES_PORT",
    "POSTGRES_DB", "POSTGRES_USER",          "POSTGRES_PASSWORD",
    "WORKER_PORT", "POSTGRES_PASSWORD_FILE", "BATCH_SIZE",
    "LOG_LEVEL",
};

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
    assert_string_equal(s.nats_url, "nats://127.0.0.1:4222");
    assert_string_equal(s.pg_host, "127.0.0.1");
    assert_int_equal(s.pg_port, 5432);
    assert_string_equal(s.pg_db, "postgres");
    assert_string_equal(s.pg_user, "postgres");
    assert_string_equal(s.pg_password, "");
    assert_int_equal(s.http_port, 8080);
    assert_int_equal(s.batch_size, 500);
}

static void test_settings_overrides(void **state)
{
    char path[] = "/tmp/worker_settings_test.XXXXXX";
    struct settings s;
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\n", 7), 7);
    close(fd);
    setenv("NATS_URL", "nats://nats:4223", 1);
    setenv("POSTGRES_HOST", "db", 1);
    setenv("POSTGRES_PASSWORD_FILE", path, 1);
    setenv("WORKER_PORT", "9090", 1);
    setenv("BATCH_SIZE", "1000", 1);
    assert_int_equal(settings_load(&s), 0);
    assert_string_equal(s.nats_url, "nats://nats:4223");
    assert_string_equal(s.pg_host, "db");
    assert_string_equal(s.pg_password, "s3cret");
    assert_int_equal(s.http_port, 9090);
    assert_int_equal(s.batch_size, 1000);
    unlink(path);
}

static void test_settings_rejects(void **state)
{
    struct settings s;

    setenv("BATCH_SIZE", "0", 1);
    assert_int_equal(settings_load(&s), -EINVAL);
    setenv("BATCH_SIZE", "500x", 1);
    assert_int_equal(settings_load(&s), -EINVAL);
    clear_env(state);
    setenv("NATS_URL", "http://nats:4222", 1);
    assert_int_equal(settings_load(&s), -EINVAL);
    clear_env(state);
    setenv("WORKER_PORT", "70000", 1);
    assert_int_equal(settings_load(&s), -EINVAL);
    clear_env(state);
    setenv("POSTGRES_PASSWORD", "x", 1);
    setenv("POSTGRES_PASSWORD_FILE", "/nonexistent", 1);
    assert_int_equal(settings_load(&s), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_settings_defaults, clear_env),
        cmocka_unit_test_setup(test_settings_overrides, clear_env),
        cmocka_unit_test_setup(test_settings_rejects, clear_env),
    };

    log_init("worker", "error");
    log_set_fd(open("/dev/null", O_WRONLY));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
