/* capacity_test.c - capacity_clients() on made-up hosts (each limit
 * binding in turn, none at all, a starved host), and capacity_read() on
 * this one. A client costs a descriptor and client_bytes, no thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "result/capacity.h"

static struct capacity_limits host(void)
{
    struct capacity_limits l = {.nofile = CAPACITY_NONE,
                                .memory = CAPACITY_NONE,
                                .client_bytes = 16 * 1024,
                                .http_threads = 32,
                                .fixed_fds = 128,
                                .reserved = 32LL << 20};
    return l;
}

static void test_capacity_no_limits(void **state)
{
    struct capacity_limits l = host();
    const char *by;

    assert_int_equal(capacity_clients(&l, 60000, &by), 60000);
    assert_string_equal(by, "");
}

static void test_capacity_each_limit_binds(void **state)
{
    struct capacity_limits l = host();
    const char *by;

    l.nofile = 1024; /* 1024 - 128 - 32 */
    assert_int_equal(capacity_clients(&l, 10, &by), 10);
    assert_string_equal(by, "");
    assert_int_equal(capacity_clients(&l, 5000, &by), 864);
    assert_string_equal(by, "descriptors");
    l = host();
    l.memory = 64LL << 20; /* (64 - 32) MiB / 16 KiB */
    assert_int_equal(capacity_clients(&l, 5000, &by), 2048);
    assert_string_equal(by, "memory");
    l.nofile = 500; /* the tightest one wins */
    assert_int_equal(capacity_clients(&l, 5000, &by), 340);
    assert_string_equal(by, "descriptors");
}

static void test_capacity_starved_host_keeps_one(void **state)
{
    struct capacity_limits l = host();
    const char *by;

    l.memory = 16LL << 20; /* less than the reserve */
    assert_int_equal(capacity_clients(&l, 100, &by), 1);
    assert_string_equal(by, "memory");
}

static void test_capacity_read_this_host(void **state)
{
    struct capacity_limits l = host();

    capacity_read(&l);
    assert_true(l.nofile == CAPACITY_NONE || l.nofile >= 16);
    assert_true(l.memory == CAPACITY_NONE || l.memory > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capacity_no_limits),
        cmocka_unit_test(test_capacity_each_limit_binds),
        cmocka_unit_test(test_capacity_starved_host_keeps_one),
        cmocka_unit_test(test_capacity_read_this_host),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
