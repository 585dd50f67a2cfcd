/* contract_test.c - option ids: each known id has its index, anything
 * else (a prefix, a longer id, another case, NULL) has none; voter ids:
 * 1-64 of [A-Za-z0-9_-], nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/contract.h"

static void test_contract_option_index(void **state)
{
    int i;

    assert_int_equal(contract_option_index(CONTRACT_OPTION_A), 0);
    assert_int_equal(contract_option_index(CONTRACT_OPTION_B), 1);
    for (i = 0; i < CONTRACT_N_OPTIONS; i++) {
        assert_int_equal(contract_option_index(CONTRACT_OPTIONS[i]), i);
        assert_true(strlen(CONTRACT_OPTIONS[i]) < CONTRACT_OPTION_ID_MAX);
    }
    assert_int_equal(contract_option_index("c"), -1);
    assert_int_equal(contract_option_index("A"), -1);
    assert_int_equal(contract_option_index("ab"), -1);
    assert_int_equal(contract_option_index(""), -1);
    assert_int_equal(contract_option_index(NULL), -1);
}

static void test_contract_voter_ok(void **state)
{
    char id65[66];

    memset(id65, 'x', 65);
    id65[65] = '\0';
    assert_true(contract_voter_ok("a"));
    assert_true(contract_voter_ok("NULL"));
    assert_true(contract_voter_ok("Az09_-"));
    assert_true(contract_voter_ok(id65 + 1)); /* 64 */
    assert_false(contract_voter_ok(id65));
    assert_false(contract_voter_ok(""));
    assert_false(contract_voter_ok("a b"));
    assert_false(contract_voter_ok("a;b"));
    assert_false(contract_voter_ok("a,b"));
    assert_false(contract_voter_ok("{a}"));
    assert_false(contract_voter_ok("a\r\nSet-Cookie: x"));
    assert_false(contract_voter_ok("caf\xc3\xa9"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract_option_index),
        cmocka_unit_test(test_contract_voter_ok),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
