/* testenv.c - environment helpers for settings tests; see testenv.h. */
#include "lib/config/testenv.h"

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

#include "lib/log/logcapture.h"

int testenv_setup(void **state)
{
    testenv_clear(*state);
    logcapture_start();
    return 0;
}

int testenv_teardown(void **state)
{
    logcapture_stop();
    return 0;
}

void testenv_clear(const char *const *vars)
{
    for (; *vars; vars++)
        unsetenv(*vars);
}

void testenv_set(const char *const *assignments)
{
    const char *eq;
    char name[64];
    int len;

    for (; *assignments; assignments++) {
        eq = strchr(*assignments, '=');
        assert_non_null(eq);
        len = snprintf(name, sizeof(name), "%.*s", (int)(eq - *assignments),
                       *assignments);
        assert_true(len < (int)sizeof(name));
        assert_int_equal(setenv(name, eq + 1, 1), 0);
    }
}

void testenv_file(char *path, size_t n, const char *text)
{
    const char *dir = getenv("TEST_TMPDIR");
    size_t len = strlen(text);
    int fd;

    assert_true(snprintf(path, n, "%s/testenv.XXXXXX", dir ? dir : "/tmp") <
                (int)n);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), len);
    close(fd);
}

void testenv_refused(const char *const *vars, const struct testenv_bad *bad,
                     size_t n, int (*load)(void))
{
    char want[96];
    const char *log;
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        testenv_clear(vars);
        setenv(bad[i].var, bad[i].value, 1);
        rc = load();
        log = logcapture_drain();
        snprintf(want, sizeof(want), "\"variable\":\"%s\"", bad[i].var);
        if (rc != -EINVAL)
            fail_msg("%s=%s was accepted", bad[i].var, bad[i].value);
        if (!strstr(log, want))
            fail_msg("%s=%s: no log line with %s in: %s", bad[i].var,
                     bad[i].value, want, log);
    }
    testenv_clear(vars);
}
