/* worker_test.c - the real worker binary as a child process against real
 * nats-server and Postgres: kill -9 mid-batch twice loses nothing and the
 * final state is exact; SIGTERM finishes in-flight work, exits 0 within
 * 10 s (also before it is ready) and keeps the durable consumer; probes,
 * --healthcheck, bad config; the Postgres connection's keepalives, and
 * readyz while Postgres is down. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "lib/http/http.h"
#include "lib/mono/mono.h"
#include "proto/contract.h"
#include "tests/fixture/fixture.h"
#include "worker/testkit.h"

static struct fixture pg, nats;
static char bin[512];
static char g_log[600]; /* the worker's stdout goes here when set */

/* Starts the worker with its environment; extra is "NAME=value" or NULL. */
static pid_t spawn_worker(uint16_t port, const char *extra, char **argv_tail)
{
    char env_port[32], env_pg[32], env_nats[200];
    pid_t pid;
    int fd;

    snprintf(env_port, sizeof(env_port), "%u", port);
    snprintf(env_pg, sizeof(env_pg), "%u", pg.port);
    snprintf(env_nats, sizeof(env_nats), "%s", nats.url);
    pid = fork();
    if (pid != 0)
        return pid;
    setenv("WORKER_PORT", env_port, 1);
    setenv("POSTGRES_HOST", "127.0.0.1", 1);
    setenv("POSTGRES_PORT", env_pg, 1);
    setenv("NATS_URL", env_nats, 1);
    setenv("LOG_LEVEL", "warn", 1);
    if (extra)
        putenv((char *)extra);
    /* Its warnings and errors land in the test's log, beside a failure. */
    fd = g_log[0] ? open(g_log, O_WRONLY | O_CREAT | O_TRUNC, 0644)
                  : dup(STDERR_FILENO);
    dup2(fd, STDOUT_FILENO);
    {
        char *argv[] = {bin, argv_tail ? argv_tail[0] : NULL, NULL};

        execv(bin, argv);
    }
    _exit(127);
}

static int wait_exit(pid_t pid, int timeout_ms, int *status)
{
    int waited;

    for (waited = 0; waited < timeout_ms; waited += 10) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return 0;
        mono_sleep_ms(10);
    }
    return -ETIMEDOUT;
}

/* An exit 0 within 10 s; a failure says how it ended. */
static void expect_clean_exit(pid_t pid)
{
    int status;

    assert_int_equal(wait_exit(pid, 10000, &status), 0);
    if (!WIFEXITED(status))
        fail_msg("worker killed by signal %d", WTERMSIG(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("worker exited %d", WEXITSTATUS(status));
}

static void stop_worker(pid_t pid)
{
    kill(pid, SIGTERM);
    expect_clean_exit(pid);
}

/* A new worker applies what is left: then Postgres holds exactly expect
 * (n voters), and the worker stops cleanly. */
static void drain_and_check(struct tk_nats *t, uint16_t port, int n,
                            const char *expect)
{
    pid_t pid = spawn_worker(port, NULL, NULL);

    assert_int_equal(tk_wait_drained(t, 40000), 0);
    assert_int_equal(tk_check_db(pg.url, n, expect), 0);
    stop_worker(pid);
}

/* The durable consumer is still there, and nothing it delivered is left
 * waiting out AckWait. */
static void assert_none_unacked(struct tk_nats *t)
{
    jsConsumerInfo *ci = NULL;

    assert_int_equal(js_GetConsumerInfo(&ci, t->js, CONTRACT_STREAM,
                                        CONTRACT_CONSUMER, NULL, NULL),
                     NATS_OK);
    assert_int_equal(ci->NumAckPending, 0);
    jsConsumerInfo_Destroy(ci);
}

static int run_healthcheck(uint16_t port)
{
    char *tail[] = {"--healthcheck"};
    int status;
    pid_t pid = spawn_worker(port, NULL, tail);

    if (wait_exit(pid, 10000, &status))
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Consumer "worker" made beforehand with a short AckWait, so that the
 * messages a killed worker held come again within the test's time. */
static void precreate_consumer(struct tk_nats *t)
{
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;

    jsConsumerConfig_Init(&cc);
    cc.Durable = CONTRACT_CONSUMER;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = 2000LL * 1000000LL;
    cc.MaxDeliver = -1;
    cc.MaxAckPending = 20000;
    assert_int_equal(
        js_AddConsumer(&ci, t->js, CONTRACT_STREAM, &cc, NULL, NULL), NATS_OK);
    jsConsumerInfo_Destroy(ci);
}

static int setup(void **state)
{
    if (fixture_binary(bin, sizeof(bin), "worker/worker"))
        return -1;
    if (fixture_start(&pg, FIXTURE_PG))
        return -1;
    return fixture_start(&nats, FIXTURE_NATS);
}

static int teardown(void **state)
{
    fixture_destroy(&nats);
    fixture_destroy(&pg);
    nats_Close();
    return 0;
}

static int reset(void **state)
{
    fixture_destroy(&nats); /* a fresh stream and consumer */
    return fixture_start(&nats, FIXTURE_NATS);
}

static void truncate_tables(void)
{
    if (tk_pg_long(pg.url, "SELECT count(*) FROM pg_tables"
                           " WHERE tablename = 'votes'") == 1) {
        char cmd[300];

        snprintf(cmd, sizeof(cmd),
                 "/usr/bin/psql -q -h 127.0.0.1 -p %u -U postgres"
                 " -c 'TRUNCATE votes, tallies' >/dev/null",
                 pg.port);
        assert_int_equal(system(cmd), 0);
    }
}

static void test_worker_kill9_mid_batch(void **state)
{
    static char expect[5000];
    struct tk_nats t;
    uint16_t port = fixture_free_port();
    pid_t pid;
    int status, round;

    truncate_tables();
    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    precreate_consumer(&t);
    assert_int_equal(tk_publish_random(&t, 60000, 5000, 11, expect), 0);
    for (round = 0; round < 2; round++) {
        long before = tk_pg_long(pg.url, "SELECT coalesce(sum(count), 0)"
                                         " FROM tallies");

        pid = spawn_worker(port, NULL, NULL);
        /* Kill it once it is committing batches. */
        while (tk_pg_long(pg.url, "SELECT coalesce(sum(count), 0)"
                                  " FROM tallies") <= before)
            mono_sleep_ms(5);
        mono_sleep_ms(30);
        kill(pid, SIGKILL);
        assert_int_equal(wait_exit(pid, 5000, &status), 0);
        assert_true(WIFSIGNALED(status));
    }
    drain_and_check(&t, port, 5000, expect);
    tk_nats_close(&t);
}

static void test_worker_sigterm_drains_and_keeps_consumer(void **state)
{
    static char expect[3000];
    struct tk_nats t;
    uint16_t port = fixture_free_port();
    pid_t pid;

    truncate_tables();
    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    assert_int_equal(tk_publish_random(&t, 40000, 3000, 12, expect), 0);
    pid = spawn_worker(port, NULL, NULL);
    while (tk_pg_long(pg.url, "SELECT count(*) FROM votes") <= 0)
        mono_sleep_ms(5);
    stop_worker(pid); /* within 10 s */
    assert_none_unacked(&t);
    drain_and_check(&t, port, 3000, expect);
    tk_nats_close(&t);
}

static void test_worker_probes_and_config(void **state)
{
    uint16_t port = fixture_free_port(), idle = fixture_free_port();
    char no_pg[40];
    pid_t pid;
    int status, i;

    assert_int_equal(run_healthcheck(idle), 1); /* nobody there */
    pid = spawn_worker(port, NULL, NULL);
    for (i = 0; i < 200 && run_healthcheck(port) != 0; i++)
        mono_sleep_ms(50);
    assert_int_equal(run_healthcheck(port), 0);
    stop_worker(pid);

    /* Stopped while it still waits for Postgres: a clean exit too. */
    snprintf(no_pg, sizeof(no_pg), "POSTGRES_PORT=%u", idle);
    pid = spawn_worker(port, no_pg, NULL);
    for (i = 0; i < 200 && run_healthcheck(port) != 0; i++)
        mono_sleep_ms(50);
    assert_int_equal(run_healthcheck(port), 0);
    stop_worker(pid);

    pid = spawn_worker(port, "BATCH_SIZE=lots", NULL);
    assert_int_equal(wait_exit(pid, 10000, &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
    pid = spawn_worker(port, "LOG_LEVEL=loud", NULL); /* main's log_init */
    assert_int_equal(wait_exit(pid, 10000, &status), 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 2);
}

/* SIGTERM while votes trickle in: what the server already sent the worker
 * is applied and acked before it exits, nothing is left waiting out
 * AckWait, and the votes sent after it stopped wait for the next worker. */
static void test_worker_sigterm_while_votes_trickle(void **state)
{
    struct tk_nats t;
    uint16_t port = fixture_free_port();
    char voter[16];
    pid_t pid;
    int i;

    truncate_tables();
    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    pid = spawn_worker(port, NULL, NULL);
    assert_int_equal(tk_publish(&t, "first", "a", NULL), 0);
    assert_int_equal(tk_publish_wait(&t), 0);
    assert_int_equal(tk_wait_rows(pg.url, 1, 10000), 0); /* idle, pulling */
    kill(pid, SIGTERM);
    for (i = 0; i < 30; i++) {
        snprintf(voter, sizeof(voter), "late%d", i);
        assert_int_equal(tk_publish(&t, voter, i % 2 ? "a" : "b", NULL), 0);
        assert_int_equal(tk_publish_wait(&t), 0);
        mono_sleep_ms(10);
    }
    expect_clean_exit(pid);
    assert_none_unacked(&t);
    pid = spawn_worker(port, NULL, NULL);
    assert_int_equal(tk_wait_rows(pg.url, 31, 10000), 0);
    stop_worker(pid);
    tk_nats_close(&t);
}

/* GET /readyz until its status is (want_ok ? 200 : not 200). */
static int wait_readyz(uint16_t port, int want_ok, int timeout_ms, char *body,
                       size_t n)
{
    int64_t until = mono_ms() + timeout_ms;
    int st;

    while (mono_ms() < until) {
        st = http_request(port, "GET /readyz HTTP/1.0\r\n\r\n", body, n);
        if (st > 0 && (st == 200) == want_ok)
            return 0;
        mono_sleep_ms(50);
    }
    return -ETIMEDOUT;
}

/* The worker's Postgres connection carries keepalives and
 * tcp_user_timeout (as libpq applies them, from its log), and readyz turns
 * not-ready while Postgres is down, with nothing to do, and back. */
static void test_worker_pg_keepalives_and_readyz(void **state)
{
    uint16_t port = fixture_free_port();
    char body[512], want[32], *text = NULL;
    size_t len = 0;
    FILE *f;
    pid_t pid;

    snprintf(g_log, sizeof(g_log), "%s/worker.log",
             getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp");
    pid = spawn_worker(port, "LOG_LEVEL=info", NULL);
    g_log[0] = '\0';
    assert_int_equal(wait_readyz(port, 1, 20000, body, sizeof(body)), 0);
    snprintf(body, sizeof(body), "%s/worker.log",
             getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp");
    f = fopen(body, "r");
    assert_non_null(f);
    assert_true(getdelim(&text, &len, '\0', f) > 0);
    fclose(f);
    assert_non_null(strstr(text, "\"event\":\"pg_connected\""));
    snprintf(want, sizeof(want), "\"port\":%u,", pg.port); /* a number */
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "\"tcp_user_timeout\":\"10000\""));
    assert_non_null(strstr(text, "\"keepalives_idle\":\"10\""));
    free(text);

    assert_int_equal(fixture_stop(&pg), 0);
    assert_int_equal(wait_readyz(port, 0, 10000, body, sizeof(body)), 0);
    assert_non_null(strstr(body, "postgres"));
    assert_int_equal(fixture_resume(&pg), 0);
    assert_int_equal(wait_readyz(port, 1, 20000, body, sizeof(body)), 0);
    stop_worker(pid);
}

/* The whole of the worker's log so far (g_log), NUL-terminated; free it. */
static char *read_log(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = fopen(g_log, "r");

    assert_non_null(f);
    if (getdelim(&text, &len, '\0', f) < 0) {
        free(text);
        text = strdup("");
    }
    fclose(f);
    return text;
}

enum bad_stream { BAD_REPUBLISH, BAD_SUBJECTS, BAD_LIMITS, BAD_SOURCES, N_BAD };

static const char *const BAD_FIELD[N_BAD] = {"republish", "subjects",
                                             "retention", "sources"};

/* VOTES made by someone else, differing in one way that can lose or leak
 * votes, holding one vote. */
static void make_bad_votes(struct tk_nats *t, enum bad_stream bad)
{
    const char *one[] = {CONTRACT_SUBJECTS};
    const char *two[] = {CONTRACT_SUBJECTS, "copies.>"};
    const char *other[] = {"elsewhere.>"};
    jsStreamSource src, *srcs[] = {&src};
    jsStreamInfo *si = NULL;
    jsStreamConfig cfg;
    jsRePublish rp;

    jsStreamConfig_Init(&cfg);
    cfg.Name = "ELSEWHERE";
    cfg.Subjects = other;
    cfg.SubjectsLen = 1;
    if (bad == BAD_SOURCES)
        assert_int_equal(js_AddStream(&si, t->js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    jsStreamConfig_Init(&cfg);
    cfg.Name = CONTRACT_STREAM;
    cfg.Subjects = bad == BAD_SUBJECTS ? two : one;
    cfg.SubjectsLen = bad == BAD_SUBJECTS ? 2 : 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = bad == BAD_LIMITS ? js_LimitsPolicy : js_WorkQueuePolicy;
    cfg.Discard = js_DiscardNew;
    jsRePublish_Init(&rp);
    rp.Source = ">";
    rp.Destination = "leak.>";
    cfg.RePublish = bad == BAD_REPUBLISH ? &rp : NULL;
    jsStreamSource_Init(&src);
    src.Name = "ELSEWHERE";
    cfg.Sources = bad == BAD_SOURCES ? srcs : NULL;
    cfg.SourcesLen = bad == BAD_SOURCES ? 1 : 0;
    si = NULL;
    assert_int_equal(js_AddStream(&si, t->js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    assert_int_equal(tk_publish(t, "held", "a", NULL), 0);
    assert_int_equal(tk_publish_wait(t), 0);
}

/* A VOTES that can lose or leak votes (republish, extra subject, limits
 * retention, sources) is refused: not ready and readyz names the field,
 * an error line names it, no consumer is made and nothing is taken; once
 * an operator replaced it with one as described, the running worker
 * takes it up by itself. */
static void test_worker_refuses_bad_stream(void **state)
{
    uint16_t port = fixture_free_port();
    jsConsumerInfo *ci = NULL;
    jsStreamInfo *si = NULL;
    char body[512], field[64], *log;
    struct tk_nats t;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    pid_t pid = 0;
    int bad;

    truncate_tables();
    assert_int_equal(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    memset(&t, 0, sizeof(t));
    t.nc = nc;
    t.js = js;
    snprintf(g_log, sizeof(g_log), "%s/worker-refuses.log",
             getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp");
    for (bad = 0; bad < N_BAD; bad++) {
        make_bad_votes(&t, (enum bad_stream)bad);
        pid = spawn_worker(port, NULL, NULL);
        assert_int_equal(wait_readyz(port, 0, 20000, body, sizeof(body)), 0);
        mono_sleep_ms(500); /* had it consumed, it would have by now */
        assert_int_equal(wait_readyz(port, 0, 100, body, sizeof(body)), 0);
        assert_non_null(strstr(body, BAD_FIELD[bad]));
        log = read_log();
        snprintf(field, sizeof(field), "\"field\":\"%s\"", BAD_FIELD[bad]);
        assert_non_null(strstr(log, "\"event\":\"stream_refused\""));
        assert_non_null(strstr(log, field));
        free(log);
        assert_int_not_equal(js_GetConsumerInfo(&ci, js, CONTRACT_STREAM,
                                                CONTRACT_CONSUMER, NULL, NULL),
                             NATS_OK);
        assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                         NATS_OK);
        assert_int_equal(si->State.Msgs, 1);
        jsStreamInfo_Destroy(si);
        si = NULL;
        assert_int_equal(tk_pg_long(pg.url, "SELECT count(*) FROM votes"), 0);
        if (bad == N_BAD - 1)
            break; /* the last one is fixed under the running worker */
        stop_worker(pid);
        assert_int_equal(js_DeleteStream(js, CONTRACT_STREAM, NULL, NULL),
                         NATS_OK);
        js_DeleteStream(js, "ELSEWHERE", NULL, NULL);
        mono_sleep_ms(200);
    }
    g_log[0] = '\0';
    /* The operator deletes it: the worker makes VOTES as described. */
    assert_int_equal(js_DeleteStream(js, CONTRACT_STREAM, NULL, NULL), NATS_OK);
    assert_int_equal(wait_readyz(port, 1, 20000, body, sizeof(body)), 0);
    assert_int_equal(tk_publish(&t, "after", "b", NULL), 0);
    assert_int_equal(tk_publish_wait(&t), 0);
    assert_int_equal(tk_wait_rows(pg.url, 1, 10000), 0);
    /* Changed under the running worker (a subject added, as admin may;
     * 2.9.10 refuses to add a republish by an update): noticed at the
     * next periodic check, at most 10 s later. */
    {
        const char *two[] = {CONTRACT_SUBJECTS, "copies.>"};
        const char **was;

        assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                         NATS_OK);
        was = si->Config->Subjects;
        si->Config->Subjects = two;
        si->Config->SubjectsLen = 2;
        assert_int_equal(js_UpdateStream(NULL, js, si->Config, NULL, NULL),
                         NATS_OK);
        si->Config->Subjects = was;
        si->Config->SubjectsLen = 1;
        jsStreamInfo_Destroy(si);
    }
    assert_int_equal(wait_readyz(port, 0, 15000, body, sizeof(body)), 0);
    assert_non_null(strstr(body, "subjects"));
    stop_worker(pid);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_worker_kill9_mid_batch, reset),
        cmocka_unit_test_setup(test_worker_sigterm_drains_and_keeps_consumer,
                               reset),
        cmocka_unit_test_setup(test_worker_sigterm_while_votes_trickle, reset),
        cmocka_unit_test(test_worker_probes_and_config),
        cmocka_unit_test(test_worker_pg_keepalives_and_readyz),
        cmocka_unit_test_setup(test_worker_refuses_bad_stream, reset),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
