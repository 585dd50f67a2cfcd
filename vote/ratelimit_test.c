/* ratelimit_test.c - the token bucket (burst, refill, Retry-After, one
 * address never limiting another), the table's bound under many
 * addresses, and which address X-Forwarded-For may name. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vote/ratelimit.h"

static struct ratelimit_addr addr(const char *s)
{
    struct ratelimit_addr a;

    assert_int_equal(ratelimit_parse_addr(s, &a), 0);
    return a;
}

/* 60/min, burst 5: five at once, the sixth waits 1 s; a second later one
 * more; after 5 s idle the whole burst again, never more. */
static void test_ratelimit_burst_then_rate(void **state)
{
    struct ratelimit *r;
    struct ratelimit_addr a = addr("192.0.2.1"), b = addr("192.0.2.2");
    int64_t t = 1000000;
    int i;

    (void)state;
    assert_int_equal(ratelimit_new(&r, 60, 5), 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(ratelimit_take(r, &a, t), 0);
    assert_int_equal(ratelimit_take(r, &a, t), 1);
    assert_int_equal(ratelimit_take(r, &b, t), 0); /* another address */
    assert_int_equal(ratelimit_take(r, &a, t + 500), 1);
    assert_int_equal(ratelimit_take(r, &a, t + 1000), 0);
    assert_int_equal(ratelimit_take(r, &a, t + 1000), 1);
    t += 60000; /* long idle: full, and no more than burst */
    for (i = 0; i < 5; i++)
        assert_int_equal(ratelimit_take(r, &a, t), 0);
    assert_int_equal(ratelimit_take(r, &a, t), 1);
    /* a clock read late by another thread takes nothing back */
    assert_int_equal(ratelimit_take(r, &a, t - 50), 1);
    ratelimit_free(r);
}

/* 6/min: an empty bucket says 10 s, then counts down. */
static void test_ratelimit_retry_after(void **state)
{
    struct ratelimit *r;
    struct ratelimit_addr a = addr("2001:db8::7");
    int64_t t = 5000;

    (void)state;
    assert_int_equal(ratelimit_new(&r, 6, 1), 0);
    assert_int_equal(ratelimit_take(r, &a, t), 0);
    assert_int_equal(ratelimit_take(r, &a, t), 10);
    assert_int_equal(ratelimit_take(r, &a, t + 4000), 6);
    assert_int_equal(ratelimit_take(r, &a, t + 10000), 0);
    ratelimit_free(r);
    assert_int_equal(ratelimit_new(&r, 0, 1), -EINVAL);
    assert_int_equal(ratelimit_new(&r, 1, 0), -EINVAL);
}

static struct ratelimit_addr nth(unsigned i)
{
    char s[32];

    snprintf(s, sizeof(s), "10.%u.%u.%u", i >> 16 & 255, i >> 8 & 255, i & 255);
    return addr(s);
}

/* Four times as many addresses as slots, each emptying its bucket: the
 * table keeps its fixed size, so the oldest are forgotten (a fresh bucket
 * each) while the RATELIMIT_SLOTS/4 seen last are nearly all remembered
 * (a set holds its 8 most recent). */
static void test_ratelimit_many_addresses(void **state)
{
    const unsigned n = 4 * RATELIMIT_SLOTS, recent = RATELIMIT_SLOTS / 4;
    struct ratelimit_addr a;
    struct ratelimit *r;
    unsigned i, limited = 0, forgotten = 0;

    (void)state;
    assert_int_equal(ratelimit_new(&r, 60, 1), 0);
    for (i = 0; i < n; i++) {
        a = nth(i);
        assert_int_equal(ratelimit_take(r, &a, 1000 + i / 1000), 0);
    }
    for (i = n - recent; i < n; i++) {
        a = nth(i);
        limited += ratelimit_take(r, &a, 1000 + n / 1000) > 0;
    }
    for (i = 0; i < 1000; i++) {
        a = nth(i);
        forgotten += ratelimit_take(r, &a, 1000 + n / 1000) == 0;
    }
    ratelimit_free(r);
    print_message("recent still limited: %u of %u; oldest forgotten: %u of "
                  "1000\n",
                  limited, recent, forgotten);
    assert_true(limited >= recent * 99 / 100);
    assert_true(forgotten >= 990);
}

static void test_ratelimit_parse_nets(void **state)
{
    struct ratelimit_net nets[RATELIMIT_MAX_TRUSTED];
    int bad;

    (void)state;
    assert_int_equal(ratelimit_parse_nets("", nets, 4, &bad), 0);
    assert_int_equal(
        ratelimit_parse_nets(" 127.0.0.1 , 10.0.0.0/8,fd00::/8", nets, 4, &bad),
        3);
    assert_int_equal(nets[0].bits, 128);
    assert_int_equal(nets[1].bits, 104);
    assert_int_equal(nets[2].bits, 8);
    assert_int_equal(ratelimit_parse_nets("10.0.0.0/33", nets, 4, &bad),
                     -EINVAL);
    assert_int_equal(bad, 1);
    assert_int_equal(ratelimit_parse_nets("10.0.0.1,nginx", nets, 4, &bad),
                     -EINVAL);
    assert_int_equal(bad, 2);
    assert_int_equal(ratelimit_parse_nets("1.1.1.1,,2.2.2.2", nets, 4, &bad),
                     -EINVAL);
    assert_int_equal(bad, 2);
    assert_int_equal(ratelimit_parse_nets("::/129", nets, 4, &bad), -EINVAL);
    assert_int_equal(ratelimit_parse_nets("10.0.0.0/", nets, 4, &bad), -EINVAL);
    assert_int_equal(
        ratelimit_parse_nets("1.1.1.1,2.2.2.2,3.3.3.3", nets, 2, &bad),
        -EINVAL);
    assert_int_equal(bad, 0);
}

static const char *client(const char *peer, const char *xff, const char *list)
{
    static char out[64];
    struct ratelimit_net nets[RATELIMIT_MAX_TRUSTED];
    struct ratelimit_addr a;
    int n, bad;

    n = ratelimit_parse_nets(list, nets, RATELIMIT_MAX_TRUSTED, &bad);
    assert_true(n >= 0);
    if (ratelimit_client(peer, xff, nets, n, &a))
        return "(bad peer)";
    return ratelimit_format(&a, out, sizeof(out));
}

static void test_ratelimit_client(void **state)
{
    const char *proxies = "172.18.0.0/16,::1";

    (void)state;
    /* no trusted proxy, or a peer that is not one: the peer, whatever
     * the header says */
    assert_string_equal(client("203.0.113.5", "198.51.100.1", ""),
                        "203.0.113.5");
    assert_string_equal(client("203.0.113.5", "198.51.100.1", proxies),
                        "203.0.113.5");
    /* from a proxy: the right-most entry not a proxy */
    assert_string_equal(client("172.18.0.4", "198.51.100.1", proxies),
                        "198.51.100.1");
    assert_string_equal(
        client("172.18.0.4", "6.6.6.6, 198.51.100.1, 172.18.0.9", proxies),
        "198.51.100.1");
    assert_string_equal(client("::1", "2001:db8::1", proxies), "2001:db8::1");
    /* nothing usable: the proxy itself, or the last hop that made sense */
    assert_string_equal(client("172.18.0.4", NULL, proxies), "172.18.0.4");
    assert_string_equal(client("172.18.0.4", "", proxies), "172.18.0.4");
    assert_string_equal(client("172.18.0.4", "junk, 172.18.0.9", proxies),
                        "172.18.0.9");
    assert_string_equal(client("172.18.0.4", "1.2.3.4, unknown", proxies),
                        "172.18.0.4");
    assert_string_equal(client("172.18.0.4", "1.2.3.4:80", proxies),
                        "172.18.0.4");
    /* all proxies: the left-most */
    assert_string_equal(client("172.18.0.4", "172.18.0.7,172.18.0.8", proxies),
                        "172.18.0.7");
    assert_string_equal(client("nonsense", NULL, proxies), "(bad peer)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratelimit_burst_then_rate),
        cmocka_unit_test(test_ratelimit_retry_after),
        cmocka_unit_test(test_ratelimit_many_addresses),
        cmocka_unit_test(test_ratelimit_parse_nets),
        cmocka_unit_test(test_ratelimit_client),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
