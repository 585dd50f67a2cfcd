/* apply_votes_test.c - the P2 reference program against a real Postgres:
 * COUNT votes in batches, rows and tallies exact, a second run changes no
 * tally, bad arguments exit 2, an id past CONTRACT_VOTER_MAX and a
 * Postgres that is not there exit 1 with nothing printed as a result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/fixture/fixture.h"
#include "worker/testkit.h"

static struct fixture pg;
static char bin[512];

/* Runs apply_votes with args against Postgres on port, BATCH_SIZE batch
 * (NULL: unset); its stdout into out. The exit status, or -1. */
static int run(const char *count, const char *prefix, const char *batch,
               uint16_t port, char *out, size_t n)
{
    const char *argv[] = {bin, count, prefix, NULL};
    int fd[2], status;
    size_t got = 0;
    ssize_t k;
    pid_t pid;

    assert_int_equal(pipe(fd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char p[8];

        snprintf(p, sizeof(p), "%u", port);
        setenv("POSTGRES_HOST", "127.0.0.1", 1);
        setenv("POSTGRES_PORT", p, 1);
        setenv("POSTGRES_USER", "postgres", 1);
        setenv("POSTGRES_DB", "postgres", 1);
        if (batch)
            setenv("BATCH_SIZE", batch, 1);
        else
            unsetenv("BATCH_SIZE");
        dup2(fd[1], 1);
        close(fd[0]);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    while (got + 1 < n && (k = read(fd[0], out + got, n - 1 - got)) > 0)
        got += (size_t)k;
    out[got] = '\0';
    close(fd[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static long count_of(const char *sql)
{
    return tk_pg_long(pg.url, sql);
}

static void test_apply_votes_counts_and_tallies(void **state)
{
    char out[512];

    /* 1201 votes in batches of 500: two full ones and one of 201. */
    assert_int_equal(run("1201", "t", "500", pg.port, out, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"applied\":1201,\"changed\":1201,"
                                "\"batch\":500,"));
    assert_non_null(strstr(out, "\"per_s\":"));
    assert_int_equal(count_of("SELECT count(*) FROM votes WHERE id LIKE 't-%'"),
                     1201);
    assert_int_equal(count_of("SELECT count FROM tallies WHERE vote = 'a'"),
                     601);
    assert_int_equal(count_of("SELECT count FROM tallies WHERE vote = 'b'"),
                     600);
    /* The same voters again: each keeps its option, no tally moves. */
    assert_int_equal(run("1201", "t", NULL, pg.port, out, sizeof(out)), 0);
    assert_int_equal(count_of("SELECT count(*) FROM votes"), 1201);
    assert_int_equal(count_of("SELECT count FROM tallies WHERE vote = 'a'"),
                     601);
    assert_int_equal(count_of("SELECT count FROM tallies WHERE vote = 'b'"),
                     600);
}

static void test_apply_votes_bad_arguments(void **state)
{
    char out[512];

    assert_int_equal(run("0", "t", NULL, pg.port, out, sizeof(out)), 2);
    assert_int_equal(run("12x", "t", NULL, pg.port, out, sizeof(out)), 2);
    assert_int_equal(run("10", "t", "0", pg.port, out, sizeof(out)), 2);
    assert_int_equal(run("10", "t", "5001", pg.port, out, sizeof(out)), 2);
    assert_null(strstr(out, "\"applied\""));
}

/* A 62-character prefix makes "PREFIX-9" 64 characters, the most a voter
 * id may have, and "PREFIX-10" one too many: the first batch fails before
 * anything is sent. */
static void test_apply_votes_id_too_long(void **state)
{
    char prefix[63], out[512];

    memset(prefix, 'p', sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';
    assert_int_equal(run("10", prefix, NULL, pg.port, out, sizeof(out)), 0);
    assert_int_equal(run("11", prefix, NULL, pg.port, out, sizeof(out)), 1);
    assert_null(strstr(out, "\"applied\""));
}

static void test_apply_votes_postgres_missing(void **state)
{
    char out[512];

    assert_int_equal(
        run("10", "t", NULL, fixture_free_port(), out, sizeof(out)), 1);
    assert_null(strstr(out, "\"applied\""));
}

static int setup(void **state)
{
    if (fixture_binary(bin, sizeof(bin), "worker/apply_votes"))
        return -1;
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
        cmocka_unit_test(test_apply_votes_counts_and_tallies),
        cmocka_unit_test(test_apply_votes_bad_arguments),
        cmocka_unit_test(test_apply_votes_id_too_long),
        cmocka_unit_test(test_apply_votes_postgres_missing),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
