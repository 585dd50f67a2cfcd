/* testenv.h - for cmocka tests of settings read from the environment:
 * each test starts with its variables unset and the log caught
 * (logcapture.h), sets values from a list, and checks that each bad value
 * is refused with a log line naming the variable. Test-only. */
#ifndef LIB_TESTENV_H
#define LIB_TESTENV_H

#include <stddef.h>

/* A cmocka test that starts with each variable of vars (a NULL-terminated
 * list) unset and the log caught, and stops catching after. */
#define TESTENV_UNIT_TEST(f, vars)                                             \
    cmocka_unit_test_prestate_setup_teardown(f, testenv_setup,                 \
                                             testenv_teardown, (void *)(vars))

int testenv_setup(void **state); /* *state: the list of variables */
int testenv_teardown(void **state);

/* Unsets each variable of the NULL-terminated list. */
void testenv_clear(const char *const *vars);

/* Sets each "NAME=value" of the NULL-terminated list, as a shell would. */
void testenv_set(const char *const *assignments);

/* Writes text to a new file under $TEST_TMPDIR (or /tmp) and puts its
 * name in path[n]. Asserts. The caller unlinks it. */
void testenv_file(char *path, size_t n, const char *text);

/* A value that must be refused: var=value. */
struct testenv_bad {
    const char *var;
    const char *value;
};

/* Sets each bad value alone (every other variable of vars unset) and
 * fails, naming it, unless load() returns -EINVAL and logs a line with
 * "variable":"<var>". Needs the log caught (TESTENV_UNIT_TEST); leaves
 * vars unset. */
void testenv_refused(const char *const *vars, const struct testenv_bad *bad,
                     size_t n, int (*load)(void));

#endif
