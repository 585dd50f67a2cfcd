/* backlog_test.c - VOTES holds only the backlog: vote in-process
 * (teststack) and the real worker binary on a real nats-server and
 * Postgres, VOTES_MAX_BYTES set to a few dozen votes.
 *   1. Many times more votes than the stream holds pass through while the
 *      worker keeps up: every one answered 200 (applied votes leave the
 *      stream; under limits retention the 200th or so would get 503).
 *   2. Worker stopped: the backlog fills the stream, then 503 with
 *      Retry-After and a JSON error, never a 200 that is dropped.
 *   3. Worker back: it drains, voting resumes by itself.
 *   4. Every vote answered 200 is in Postgres, with its option. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "lib/mono/mono.h"
#include "tests/fixture/fixture.h"
#include "vote/teststack.h"
#include "vote/testhttp.h"

#define MAX_BYTES  "16384" /* ~80 votes as vote stores them */
#define PASS_VOTES 3000    /* phase 1: ~35 times what the stream holds */
#define MAX_VOTERS (PASS_VOTES + 3000)

static struct fixture pg;
static char bin[512];
static char expect[MAX_VOTERS]; /* 'a' / 'b' once answered 200, else 0 */

static pid_t spawn_worker(const struct teststack *s, uint16_t port)
{
    char env_port[16], env_pg[16];
    pid_t pid;

    snprintf(env_port, sizeof(env_port), "%u", port);
    snprintf(env_pg, sizeof(env_pg), "%u", pg.port);
    pid = fork();
    if (pid != 0)
        return pid;
    setenv("WORKER_PORT", env_port, 1);
    setenv("POSTGRES_HOST", "127.0.0.1", 1);
    setenv("POSTGRES_PORT", env_pg, 1);
    setenv("NATS_URL", s->nats.url, 1);
    setenv("LOG_LEVEL", "warn", 1);
    dup2(STDERR_FILENO, STDOUT_FILENO);
    execl(bin, bin, (char *)NULL);
    _exit(127);
}

static void stop_worker(pid_t pid)
{
    int status;

    assert_int_equal(kill(pid, SIGTERM), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* One vote for voter i on the keep-alive connection h: its status. A
 * connection vote closed while it sat idle (keep-alive 2 s: stopping the
 * worker can take longer) is opened again and the vote sent again, as a
 * browser does (a vote is idempotent per voter). */
static int vote(struct testhttp *h, int i, struct testhttp_resp *r)
{
    char req[512], voter[32];
    const char *option = i % 3 ? "a" : "b";

    snprintf(voter, sizeof(voter), "bl-%d", i);
    assert_int_equal(testhttp_vote_request(req, sizeof(req), "", option, voter),
                     0);
    if (testhttp_send(h, req, r)) {
        testhttp_close(h);
        assert_int_equal(testhttp_connect(h, h->port), 0);
        if (testhttp_send(h, req, r))
            return -1;
    }
    if (r->status == 200)
        expect[i] = option[0];
    return r->status;
}

static long pg_long(const char *sql)
{
    PGconn *c = PQconnectdb(pg.url);
    PGresult *res = PQexec(c, sql);
    long v = -1;

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        v = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(c);
    return v;
}

static long answered_200(int n)
{
    long k = 0;
    int i;

    for (i = 0; i < n; i++)
        k += expect[i] != 0;
    return k;
}

static void wait_rows(long rows, unsigned ms)
{
    int64_t end = mono_ms() + ms;

    while (pg_long("SELECT count(*) FROM votes") != rows) {
        if (mono_ms() > end)
            fail_msg("votes: %ld rows, want %ld",
                     pg_long("SELECT count(*) FROM votes"), rows);
        mono_sleep_ms(100);
    }
}

/* Every vote answered 200 is in Postgres with its option; nothing else. */
static void check_postgres(int n)
{
    PGconn *c = PQconnectdb(pg.url);
    PGresult *res = PQexec(c, "SELECT id, vote FROM votes");
    int i, rows;

    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    rows = PQntuples(res);
    assert_int_equal(rows, answered_200(n));
    for (i = 0; i < rows; i++) {
        const char *id = PQgetvalue(res, i, 0);
        long v = strtol(id + 3, NULL, 10);

        assert_true(strncmp(id, "bl-", 3) == 0 && v >= 0 && v < n);
        if (PQgetvalue(res, i, 1)[0] != expect[v])
            fail_msg("%s has %s, answered %c", id, PQgetvalue(res, i, 1),
                     expect[v] ? expect[v] : '-');
    }
    PQclear(res);
    PQfinish(c);
}

static void test_backlog_fills_refuses_and_recovers(void **state)
{
    struct teststack s;
    struct testhttp h;
    struct testhttp_resp *r = calloc(1, sizeof(*r));
    uint16_t wport = fixture_free_port();
    char retry[16];
    int i, st, n = 0, full = 0, refused = 0, run;
    pid_t worker;

    setenv("VOTES_MAX_BYTES", MAX_BYTES, 1);
    teststack_start(&s, 8);
    worker = spawn_worker(&s, wport);
    assert_int_equal(testhttp_connect(&h, s.port), 0);

    /* 1. The worker keeps up: nothing refused, far past the limit. */
    for (; n < PASS_VOTES; n++) {
        st = vote(&h, n, r);
        if (st != 200)
            fail_msg("vote %d of %d answered %d: %s", n, PASS_VOTES, st,
                     r->body);
    }
    print_message("phase 1: %d votes, all 200, VOTES_MAX_BYTES %s\n", n,
                  MAX_BYTES);
    wait_rows(answered_200(n), 20000);

    /* 2. No worker: the backlog fills VOTES, then 503 + Retry-After. */
    stop_worker(worker);
    for (run = 0; n < MAX_VOTERS - 600 && run < 20; n++) {
        st = vote(&h, n, r);
        if (st == 200) {
            full++;
            run = 0;
            continue;
        }
        assert_int_equal(st, 503);
        assert_int_equal(
            testhttp_header(r, "Retry-After", retry, sizeof(retry)), 0);
        assert_non_null(strstr(r->body, "\"error\""));
        refused++;
        run++;
    }
    print_message("phase 2: %d more stored while the worker was away, then "
                  "%d answered 503\n",
                  full, refused);
    assert_true(full > 10 && full < 1000); /* the limit bit */
    assert_int_equal(run, 20);

    /* 3. The worker comes back: it drains, and votes go in again. */
    worker = spawn_worker(&s, wport);
    for (i = 0, run = 0; i < 500; i++, n++) {
        int64_t end = mono_ms() + 20000;

        while ((st = vote(&h, n, r)) != 200) {
            assert_true(st == 503 && mono_ms() < end);
            mono_sleep_ms(50);
        }
    }
    print_message("phase 3: 500 more after the worker came back, all 200\n");

    /* 4. Every 200 is in Postgres. */
    wait_rows(answered_200(n), 20000);
    check_postgres(n);
    stop_worker(worker);
    testhttp_close(&h);
    teststack_stop(&s);
    free(r);
}

static int setup(void **state)
{
    if (fixture_binary(bin, sizeof(bin), "worker/worker"))
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
        cmocka_unit_test(test_backlog_fills_refuses_and_recovers),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
