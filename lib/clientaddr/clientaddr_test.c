/* clientaddr_test.c - trusted proxy lists (what parses, which entry is at
 * fault), which address X-Forwarded-For may name, and the variable's
 * config error (its wording: vote/ and result/ settings_test). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/clientaddr/clientaddr.h"

static void test_clientaddr_parse_nets(void **state)
{
    struct clientaddr_net nets[CLIENTADDR_MAX_TRUSTED];
    int bad;

    (void)state;
    assert_int_equal(clientaddr_parse_nets("", nets, 4, &bad), 0);
    assert_int_equal(clientaddr_parse_nets(" 127.0.0.1 , 10.0.0.0/8,fd00::/8",
                                           nets, 4, &bad),
                     3);
    assert_int_equal(nets[0].bits, 128);
    assert_int_equal(nets[1].bits, 104);
    assert_int_equal(nets[2].bits, 8);
    assert_int_equal(clientaddr_parse_nets("10.0.0.0/33", nets, 4, &bad),
                     -EINVAL);
    assert_int_equal(bad, 1);
    assert_int_equal(clientaddr_parse_nets("10.0.0.1,nginx", nets, 4, &bad),
                     -EINVAL);
    assert_int_equal(bad, 2);
    assert_int_equal(clientaddr_parse_nets("1.1.1.1,,2.2.2.2", nets, 4, &bad),
                     -EINVAL);
    assert_int_equal(bad, 2);
    assert_int_equal(clientaddr_parse_nets("::/129", nets, 4, &bad), -EINVAL);
    assert_int_equal(clientaddr_parse_nets("10.0.0.0/", nets, 4, &bad),
                     -EINVAL);
    assert_int_equal(
        clientaddr_parse_nets("1.1.1.1,2.2.2.2,3.3.3.3", nets, 2, &bad),
        -EINVAL);
    assert_int_equal(bad, 0);
}

static const char *client(const char *peer, const char *xff, const char *list)
{
    static char out[64];
    struct clientaddr_net nets[CLIENTADDR_MAX_TRUSTED];
    struct clientaddr a;
    int n, bad;

    n = clientaddr_parse_nets(list, nets, CLIENTADDR_MAX_TRUSTED, &bad);
    assert_true(n >= 0);
    if (clientaddr_get(peer, xff, nets, n, &a))
        return "(bad peer)";
    return clientaddr_format(&a, out, sizeof(out));
}

static void test_clientaddr_get(void **state)
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

/* The variable read by clientaddr_load(): a list, none, or a bad entry
 * named in the error (and no list kept). */
static void test_clientaddr_load(void **state)
{
    struct clientaddr_net t[CLIENTADDR_MAX_TRUSTED];
    int n;

    (void)state;
    setenv("TEST_TRUSTED", "10.0.0.0/8, ::1", 1);
    assert_int_equal(clientaddr_load("TEST_TRUSTED", t, &n), 0);
    assert_int_equal(n, 2);
    unsetenv("TEST_TRUSTED");
    assert_int_equal(clientaddr_load("TEST_TRUSTED", t, &n), 0);
    assert_int_equal(n, 0);
    setenv("TEST_TRUSTED", "10.0.0.0/8,nginx", 1);
    assert_int_equal(clientaddr_load("TEST_TRUSTED", t, &n), -EINVAL);
    assert_int_equal(n, 0);
    unsetenv("TEST_TRUSTED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clientaddr_parse_nets),
        cmocka_unit_test(test_clientaddr_get),
        cmocka_unit_test(test_clientaddr_load),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
