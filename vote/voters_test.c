/* voters_test.c - the Redis pool against a real redis-server: set/get,
 * failing fast while Redis is down, recovery through voters_check(). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/config/config.h"
#include "lib/log/log.h"
#include "tests/fixture/fixture.h"
#include "vote/voters.h"

static void open_on(struct fixture *f, struct voters **v)
{
    struct config_url url;

    assert_int_equal(config_parse_url(f->url, "redis", 6379, &url), 0);
    assert_int_equal(voters_open(v, &url, 300), 0);
}

static void test_voters_set_get(void **state)
{
    struct fixture f;
    struct voters *v;
    char out[16], why[128];

    assert_int_equal(fixture_start(&f, FIXTURE_REDIS), 0);
    open_on(&f, &v);
    assert_int_equal(voters_ready(v, why, sizeof(why)), -ENOTCONN);
    assert_int_equal(voters_set(v, "alice", "a"), -ENOTCONN); /* not yet */
    assert_int_equal(voters_check(v), 0);
    assert_int_equal(voters_ready(v, why, sizeof(why)), 0);
    assert_int_equal(voters_set(v, "alice", "a"), 0);
    assert_int_equal(voters_set(v, "alice", "b"), 0);
    assert_int_equal(voters_get(v, "alice", out, sizeof(out)), 0);
    assert_string_equal(out, "b");
    assert_int_equal(voters_get(v, "nobody", out, sizeof(out)), 0);
    assert_string_equal(out, "");
    voters_close(v);
    fixture_destroy(&f);
}

static void test_voters_down_and_back(void **state)
{
    struct fixture f;
    struct voters *v;
    char out[16], why[128];

    assert_int_equal(fixture_start(&f, FIXTURE_REDIS), 0);
    open_on(&f, &v);
    assert_int_equal(voters_check(v), 0);
    assert_int_equal(voters_set(v, "bob", "a"), 0);
    assert_int_equal(fixture_stop(&f), 0);
    assert_int_equal(voters_set(v, "bob", "b"), -EIO);      /* finds out */
    assert_int_equal(voters_set(v, "bob", "b"), -ENOTCONN); /* fails fast */
    assert_int_equal(voters_get(v, "bob", out, sizeof(out)), -ENOTCONN);
    assert_int_equal(voters_ready(v, why, sizeof(why)), -ENOTCONN);
    assert_non_null(strstr(why, "redis"));
    assert_int_not_equal(voters_check(v), 0);
    assert_int_equal(fixture_resume(&f), 0);
    assert_int_equal(voters_check(v), 0);
    assert_int_equal(voters_set(v, "bob", "b"), 0);
    assert_int_equal(voters_get(v, "bob", out, sizeof(out)), 0);
    assert_string_equal(out, "b");
    voters_close(v);
    fixture_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_voters_set_get),
        cmocka_unit_test(test_voters_down_and_back),
    };

    log_init("voters_test", "error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
