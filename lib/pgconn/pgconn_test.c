/* pgconn_test.c - a real connection made with pgconn_params() carries the
 * keepalive and tcp_user_timeout settings (as libpq reports them), and the
 * arrays are well formed with or without server options; pgconn_load()
 * reads the POSTGRES_* variables, a password from a file too, and names a
 * bad one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "lib/config/testenv.h"
#include "lib/log/log.h"
#include "lib/log/logcapture.h"
#include "lib/pgconn/pgconn.h"
#include "tests/fixture/fixture.h"

static struct fixture pg;

/* What libpq says the open connection uses for keyword. */
static const char *in_effect(PQconninfoOption *opts, const char *keyword)
{
    PQconninfoOption *o;

    for (o = opts; o->keyword; o++)
        if (strcmp(o->keyword, keyword) == 0)
            return o->val ? o->val : "";
    return "";
}

static void test_pgconn_connection_carries_keepalives(void **state)
{
    struct pgconn_target t = {.host = "127.0.0.1",
                              .port = pg.port,
                              .dbname = "postgres",
                              .user = "postgres",
                              .password = "",
                              .application_name = "pgconn_test",
                              .options = "-c statement_timeout=1234"};
    struct pgconn_params p;
    PQconninfoOption *opts;
    PGresult *r;
    PGconn *c;

    pgconn_params(&p, &t);
    c = PQconnectdbParams(p.keys, p.vals, 0);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    opts = PQconninfo(c);
    assert_non_null(opts);
    assert_string_equal(in_effect(opts, "keepalives"), "1");
    assert_string_equal(in_effect(opts, "keepalives_idle"), "10");
    assert_string_equal(in_effect(opts, "keepalives_interval"), "5");
    assert_string_equal(in_effect(opts, "keepalives_count"), "3");
    assert_string_equal(in_effect(opts, "tcp_user_timeout"), "10000");
    assert_string_equal(in_effect(opts, "connect_timeout"), "5");
    PQconninfoFree(opts);
    r = PQexec(c, "SHOW statement_timeout");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_string_equal(PQgetvalue(r, 0, 0), "1234ms");
    PQclear(r);
    PQfinish(c);
}

static void test_pgconn_params_without_options(void **state)
{
    struct pgconn_target t = {.host = "h",
                              .port = 5432,
                              .dbname = "d",
                              .user = "u",
                              .password = "p",
                              .application_name = "a"};
    struct pgconn_params p;
    int n;

    pgconn_params(&p, &t);
    assert_string_equal(pgconn_param(&p, "port"), "5432");
    assert_string_equal(pgconn_param(&p, "host"), "h");
    assert_null(pgconn_param(&p, "options"));
    for (n = 0; p.keys[n]; n++)
        assert_non_null(p.vals[n]);
    assert_true(n < PGCONN_MAX_PARAMS);
}

static const char *const VARS[] = {"POSTGRES_HOST",
                                   "POSTGRES_PORT",
                                   "POSTGRES_DB",
                                   "POSTGRES_USER",
                                   "POSTGRES_PASSWORD",
                                   "POSTGRES_PASSWORD_FILE",
                                   NULL};

static void test_pgconn_load_defaults_and_values(void **state)
{
    char path[256];
    struct pgconn_env e;
    struct pgconn_target t;

    assert_int_equal(pgconn_load(&e), 0);
    assert_string_equal(e.host, "127.0.0.1");
    assert_int_equal(e.port, 5432);
    assert_string_equal(e.db, "postgres");
    assert_string_equal(e.user, "postgres");
    assert_string_equal(e.password, "");
    testenv_file(path, sizeof(path), "s3cret\n");
    setenv("POSTGRES_HOST", "db", 1);
    setenv("POSTGRES_PORT", "6543", 1);
    setenv("POSTGRES_DB", "votes", 1);
    setenv("POSTGRES_USER", "result", 1);
    setenv("POSTGRES_PASSWORD_FILE", path, 1);
    assert_int_equal(pgconn_load(&e), 0);
    unlink(path);
    pgconn_target_of(&t, &e, "app", NULL);
    assert_string_equal(t.host, "db");
    assert_int_equal(t.port, 6543);
    assert_string_equal(t.dbname, "votes");
    assert_string_equal(t.user, "result");
    assert_string_equal(t.password, "s3cret");
    assert_string_equal(t.application_name, "app");
}

static int load(void)
{
    struct pgconn_env e;

    return pgconn_load(&e);
}

/* A bad value: -EINVAL and one log line naming the variable. */
static void test_pgconn_load_names_bad_variable(void **state)
{
    static const struct testenv_bad bad[] = {{"POSTGRES_PORT", "5432x"}};

    testenv_refused(VARS, bad, 1, load);
    setenv("POSTGRES_PASSWORD", "a", 1); /* and a file: which one? */
    setenv("POSTGRES_PASSWORD_FILE", "/nonexistent", 1);
    assert_int_equal(load(), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "POSTGRES_PASSWORD"));
}

static int setup(void **state)
{
    return fixture_start(&pg, FIXTURE_PG);
}

static int teardown(void **state)
{
    fixture_destroy(&pg);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pgconn_connection_carries_keepalives),
        cmocka_unit_test(test_pgconn_params_without_options),
        TESTENV_UNIT_TEST(test_pgconn_load_defaults_and_values, VARS),
        TESTENV_UNIT_TEST(test_pgconn_load_names_bad_variable, VARS),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
