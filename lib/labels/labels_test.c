/* labels_test.c - OPTION_A and OPTION_B: defaults, values, and a label
 * longer than the contract allows refused with a line naming it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/config/testenv.h"
#include "lib/labels/labels.h"
#include "lib/log/log.h"
#include "lib/log/logcapture.h"

static const char *const VARS[] = {"OPTION_A", "OPTION_B", NULL};

static void test_labels_defaults(void **state)
{
    struct labels l;

    assert_int_equal(labels_load(&l), 0);
    assert_string_equal(l.of[0], "Cats");
    assert_string_equal(l.of[1], "Dogs");
    setenv("OPTION_A", "", 1); /* empty is unset, as compose passes it */
    assert_int_equal(labels_load(&l), 0);
    assert_string_equal(l.of[0], "Cats");
}

static void test_labels_values(void **state)
{
    static const char *const env[] = {"OPTION_A=Tea", "OPTION_B=Café", NULL};
    struct labels l;

    testenv_set(env);
    assert_int_equal(labels_load(&l), 0);
    assert_string_equal(l.of[0], "Tea");
    assert_string_equal(l.of[1], "Café");
}

/* CONTRACT_LABEL_MAX - 1 bytes fit; one more is refused, naming it. */
static void test_labels_limit(void **state)
{
    char label[CONTRACT_LABEL_MAX + 1];
    struct labels l;

    memset(label, 'x', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    setenv("OPTION_B", label, 1);
    assert_int_equal(labels_load(&l), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "\"variable\":\"OPTION_B\""));
    label[sizeof(label) - 2] = '\0';
    setenv("OPTION_B", label, 1);
    assert_int_equal(labels_load(&l), 0);
    assert_int_equal(strlen(l.of[1]), CONTRACT_LABEL_MAX - 1);
}

/* For testenv_refused(). */
static int load(void)
{
    struct labels l;

    return labels_load(&l);
}

static void test_labels_refused(void **state)
{
    char label[CONTRACT_LABEL_MAX + 1];
    const struct testenv_bad bad[] = {{"OPTION_A", label}, {"OPTION_B", label}};

    memset(label, 'y', sizeof(label) - 1);
    label[sizeof(label) - 1] = '\0';
    testenv_refused(VARS, bad, sizeof(bad) / sizeof(bad[0]), load);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTENV_UNIT_TEST(test_labels_defaults, VARS),
        TESTENV_UNIT_TEST(test_labels_values, VARS),
        TESTENV_UNIT_TEST(test_labels_limit, VARS),
        TESTENV_UNIT_TEST(test_labels_refused, VARS),
    };

    log_init("labels_test", "error");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
