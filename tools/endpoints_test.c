/* endpoints_test.c - the endpoints file tools/run writes: what it sets, what
 * the environment keeps, and what the error messages say about it. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/endpoints.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void temp_path(char *out, size_t n)
{
    const char *dir = getenv("TEST_TMPDIR");

    snprintf(out, n, "%s/endpoints-%ld.env", dir ? dir : "/tmp",
             (long)getpid());
}

static void test_endpoints_load_fills_what_is_unset(void **state)
{
    char path[PATH_MAX];

    temp_path(path, sizeof(path));
    write_file(path, "# written by tools/run\n"
                     "\n"
                     "NATS_URL=nats://127.0.0.1:14222\n"
                     "POSTGRES_PORT=15432\n"
                     "VOTE_URL=http://127.0.0.1:5000\n"
                     "not a setting\n"
                     "=nokey\n");
    unsetenv("NATS_URL");
    setenv("POSTGRES_PORT", "5433", 1);
    setenv("VOTE_URL", "", 1); /* empty counts as unset, as in lib/config */
    assert_int_equal(endpoints_load(path), 0);
    assert_string_equal(getenv("NATS_URL"), "nats://127.0.0.1:14222");
    assert_string_equal(getenv("POSTGRES_PORT"), "5433");
    assert_string_equal(getenv("VOTE_URL"), "http://127.0.0.1:5000");
    unlink(path);
}

static void test_endpoints_origin_names_the_source(void **state)
{
    char path[PATH_MAX], why[PATH_MAX + 64], want[PATH_MAX + 64];

    temp_path(path, sizeof(path));
    write_file(path, "NATS_URL=nats://127.0.0.1:14222\n");
    unsetenv("NATS_URL");
    endpoints_origin(path, "NATS_URL", why, sizeof(why));
    assert_string_equal(why, "NATS_URL unset: the default");
    assert_int_equal(endpoints_load(path), 0);
    endpoints_origin(path, "NATS_URL", why, sizeof(why));
    snprintf(want, sizeof(want), "NATS_URL from %s (tools/run)", path);
    assert_string_equal(why, want);
    setenv("NATS_URL", "nats://elsewhere:4222", 1);
    endpoints_origin(path, "NATS_URL", why, sizeof(why));
    assert_string_equal(why, "NATS_URL from the environment");
    endpoints_origin(NULL, "NATS_URL", why, sizeof(why));
    assert_string_equal(why, "NATS_URL from the environment");
    unlink(path);
}

static void test_endpoints_missing_file(void **state)
{
    char path[PATH_MAX];

    temp_path(path, sizeof(path));
    unlink(path);
    assert_int_equal(endpoints_load(path), -ENOENT);
    /* this test binary has no endpoints.env beside its folder */
    assert_int_equal(endpoints_path(path, sizeof(path)), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints_load_fills_what_is_unset),
        cmocka_unit_test(test_endpoints_origin_names_the_source),
        cmocka_unit_test(test_endpoints_missing_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
