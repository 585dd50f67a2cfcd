/* votectl_test.c - the real votectl binary against a throwaway
 * nats-server: `sub` prints each VoteCast as a JSON line, `load` publishes
 * a backlog into the stream, `stats` reports it (a table, or JSON),
 * `deadletters` lists dead letters with their reason, and a votectl
 * installed the way tools/run does finds its stack without NATS_URL. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <nats/nats.h>

#include "lib/jstream/jstream.h"
#include "proto/contract.h"
#include "proto/vote.pb-c.h"
#include "tests/fixture/fixture.h"

static struct fixture nats;

/* Starts the votectl at exe with args; its stdout comes back through
 * *out_fd, its stderr through *err_fd when err_fd is not NULL. With
 * nats_url NULL, NATS_URL is unset (votectl finds the stack by itself). */
static pid_t votectl_at(const char *exe, const char *nats_url,
                        char *const argv[], int *out_fd, int *err_fd)
{
    int fds[2], efds[2];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    assert_int_equal(pipe(efds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        if (err_fd)
            dup2(efds[1], STDERR_FILENO);
        close(fds[0]);
        close(efds[0]);
        if (nats_url)
            setenv("NATS_URL", nats_url, 1);
        else
            unsetenv("NATS_URL");
        setenv("POSTGRES_PORT", "1", 1); /* no Postgres here: an error */
        execv(exe, argv);
        _exit(127);
    }
    close(fds[1]);
    close(efds[1]);
    *out_fd = fds[0];
    if (err_fd)
        *err_fd = efds[0];
    else
        close(efds[0]);
    return pid;
}

static pid_t votectl(char *const argv[], int *out_fd)
{
    return votectl_at("tools/votectl", nats.url, argv, out_fd, NULL);
}

/* Everything fd gives until EOF, NUL-terminated, cut to n - 1 bytes. */
static void read_all(int fd, char *buf, size_t n)
{
    size_t got = 0;
    ssize_t r;

    while (got < n - 1 && (r = read(fd, buf + got, n - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
}

/* Runs votectl to the end: exit code, stdout and stderr. */
static int run_at(const char *exe, const char *nats_url, char *const argv[],
                  char *out, char *err, size_t n)
{
    int fd, efd, status;
    pid_t pid = votectl_at(exe, nats_url, argv, &fd, &efd);

    read_all(fd, out, n);
    read_all(efd, err, n);
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static json_t *read_json_line(int fd)
{
    char line[2048];
    size_t n = 0;

    while (n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 &&
           line[n] != '\n')
        n++;
    line[n] = '\0';
    return json_loads(line, 0, NULL);
}

/* Makes VOTES (or DEADLETTER) as vote and the worker do (lib/jstream). */
static void make_stream(natsConnection *nc, int deadletter)
{
    struct jstream_desc d;
    unsigned warned = 0;
    jsCtx *js = NULL;

    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    if (deadletter)
        jstream_deadletter(&d, NULL);
    else
        jstream_votes(&d, NULL, 0);
    assert_int_equal(jstream_ensure(js, &d, 1, &warned, NULL, 0), 0);
    jsCtx_Destroy(js);
}

static void test_votectl_sub_decodes_votecast(void **state)
{
    Voting__V1__VoteCast v = VOTING__V1__VOTE_CAST__INIT;
    char *argv[] = {"votectl", "sub", "votes.*", NULL};
    natsConnection *nc = NULL;
    uint8_t buf[128];
    char line[256] = "";
    size_t n = 0;
    json_t *o;
    int fd, efd, status;
    pid_t pid = votectl_at("tools/votectl", nats.url, argv, &fd, &efd);

    /* votectl says "listening" once the server has its subscription */
    while (n < sizeof(line) - 1 && read(efd, line + n, 1) == 1 &&
           line[n] != '\n')
        n++;
    line[n] = '\0';
    assert_non_null(strstr(line, "listening on votes.*"));

    assert_int_equal(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
    v.voter_id = "v1";
    v.option = "a";
    v.cast_at_ms = 1234;
    v.origin = "host1";
    v.request_id = "r1";
    assert_int_equal(
        natsConnection_Publish(nc, CONTRACT_SUBJECT_PREFIX "a", buf,
                               (int)voting__v1__vote_cast__pack(&v, buf)),
        NATS_OK);
    assert_int_equal(
        natsConnection_Publish(nc, CONTRACT_SUBJECT_PREFIX "b", "junk", 4),
        NATS_OK);
    natsConnection_Flush(nc);
    o = read_json_line(fd);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "subject")),
                        CONTRACT_SUBJECT_PREFIX "a");
    assert_string_equal(json_string_value(json_object_get(o, "voter_id")),
                        "v1");
    assert_string_equal(json_string_value(json_object_get(o, "option")), "a");
    assert_int_equal(json_integer_value(json_object_get(o, "cast_at_ms")),
                     1234);
    json_decref(o);
    o = read_json_line(fd);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "error")),
                        "not a VoteCast");
    json_decref(o);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);
    close(efd);
    natsConnection_Destroy(nc);
}

static void test_votectl_load_then_stats(void **state)
{
    char *load[] = {"votectl", "load", "1000", "t", NULL};
    char *stats[] = {"votectl", "stats", "--json", NULL};
    natsConnection *nc = NULL;
    json_t *o, *s;
    int fd, status;
    pid_t pid;

    assert_int_equal(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
    make_stream(nc, 0);
    natsConnection_Destroy(nc);
    pid = votectl(load, &fd);
    waitpid(pid, &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fd);

    pid = votectl(stats, &fd);
    o = read_json_line(fd);
    waitpid(pid, &status, 0);
    close(fd);
    assert_non_null(o);
    s = json_array_get(json_object_get(o, "streams"), 0);
    assert_string_equal(json_string_value(json_object_get(s, "name")),
                        CONTRACT_STREAM);
    assert_int_equal(json_integer_value(json_object_get(s, "messages")), 1000);
    assert_int_equal(json_integer_value(json_object_get(s, "replicas")), 1);
    assert_non_null(json_string_value(json_object_get(s, "leader")));
    /* No consumer and no Postgres yet: each part says so, stats goes on. */
    assert_non_null(json_object_get(json_object_get(o, "consumer"), "error"));
    assert_non_null(json_object_get(json_object_get(o, "tallies"), "error"));
    assert_int_equal(json_integer_value(json_object_get(o, "deadletters")), 0);
    json_decref(o);
}

/* Without --json, stats is a table a person reads: one row per stream with
 * its messages, bytes, replicas and leader; the consumer; tallies (here:
 * why there are none); dead letters. Runs after load_then_stats. */
static void test_votectl_stats_table(void **state)
{
    char *stats[] = {"votectl", "stats", NULL};
    char out[4096], err[1024], row[256];
    int rc = run_at("tools/votectl", nats.url, stats, out, err, sizeof(out));

    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "stream"));
    assert_non_null(strstr(out, "replicas"));
    assert_non_null(strstr(out, "leader"));
    snprintf(row, sizeof(row), "%-12s %12d", CONTRACT_STREAM, 1000);
    assert_non_null(strstr(out, row));
    assert_non_null(strstr(out, "consumer VOTES/worker: "));
    assert_non_null(strstr(out, "tallies (Postgres)\n"));
    assert_non_null(strstr(out, "port 1 failed"));
    assert_non_null(strstr(out, "dead letters: 0"));
    assert_null(strchr(out, '{')); /* not JSON */
}

/* deadletters lists what the worker set aside, with its reason. */
static void test_votectl_deadletters(void **state)
{
    char *table[] = {"votectl", "deadletters", NULL};
    char *as_json[] = {"votectl", "deadletters", "--json", NULL};
    char *stats[] = {"votectl", "stats", NULL};
    char out[4096], err[1024];
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsMsg *m = NULL;
    json_t *o;
    int fd, status, i;
    pid_t pid;

    assert_int_equal(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    make_stream(nc, 1);
    for (i = 0; i < 2; i++) {
        assert_int_equal(
            natsMsg_Create(&m, CONTRACT_DL_SUBJECT, NULL, "junk", 4), NATS_OK);
        natsMsgHeader_Set(m, CONTRACT_HDR_REASON,
                          i ? "bad option" : "not a VoteCast");
        natsMsgHeader_Set(m, CONTRACT_HDR_ORIGINAL_SUBJECT,
                          CONTRACT_SUBJECT_PREFIX "zz");
        assert_int_equal(js_PublishMsg(NULL, js, m, NULL, NULL), NATS_OK);
        natsMsg_Destroy(m);
    }
    pid = votectl(as_json, &fd);
    for (i = 0; i < 2; i++) {
        o = read_json_line(fd);
        assert_non_null(o);
        assert_int_equal(json_integer_value(json_object_get(o, "seq")), i + 1);
        assert_string_equal(
            json_string_value(json_object_get(o, "deadletter_reason")),
            i ? "bad option" : "not a VoteCast");
        assert_string_equal(
            json_string_value(json_object_get(o, "original_subject")),
            "votes.zz");
        assert_non_null(json_string_value(json_object_get(o, "time")));
        json_decref(o);
    }
    waitpid(pid, &status, 0);
    close(fd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(
        run_at("tools/votectl", nats.url, table, out, err, sizeof(out)), 0);
    assert_non_null(strstr(out, "2 dead letters"));
    assert_non_null(strstr(out, "not a VoteCast"));
    assert_non_null(strstr(out, "bad option"));
    assert_non_null(strstr(out, "votes.zz"));
    assert_int_equal(
        run_at("tools/votectl", nats.url, stats, out, err, sizeof(out)), 0);
    assert_non_null(strstr(out, "dead letters: 2 (votectl deadletters"));
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

/* Installed as tools/run does (RUN_DIR/bin/votectl beside
 * RUN_DIR/endpoints.env), votectl uses that stack with no NATS_URL set;
 * when nothing answers there, it says which address it tried, where that
 * came from and how to point it elsewhere. */
static void test_votectl_finds_its_stack(void **state)
{
    char *stats[] = {"votectl", "stats", "--json", NULL};
    char dir[PATH_MAX], exe[PATH_MAX + 16], env[PATH_MAX + 32];
    char cmd[3 * PATH_MAX], out[4096], err[2048], want[PATH_MAX + 64];
    const char *tmp = getenv("TEST_TMPDIR");
    FILE *f;

    snprintf(dir, sizeof(dir), "%s/run-XXXXXX", tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    snprintf(exe, sizeof(exe), "%s/bin/votectl", dir);
    snprintf(env, sizeof(env), "%s/endpoints.env", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/bin' && cp tools/votectl '%s'",
             dir, exe);
    assert_int_equal(system(cmd), 0);

    f = fopen(env, "w");
    assert_non_null(f);
    fprintf(f, "# tools/run\nNATS_URL=%s\n", nats.url);
    fclose(f);
    assert_int_equal(run_at(exe, NULL, stats, out, err, sizeof(out)), 0);
    assert_non_null(strstr(out, "\"VOTES\""));

    f = fopen(env, "w"); /* the stack is gone: port 1 answers nothing */
    assert_non_null(f);
    fprintf(f, "NATS_URL=nats://127.0.0.1:1\n");
    fclose(f);
    assert_int_equal(run_at(exe, NULL, stats, out, err, sizeof(err)), 1);
    assert_non_null(strstr(err, "nats://127.0.0.1:1"));
    snprintf(want, sizeof(want), "NATS_URL from %s (tools/run)", env);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "Set NATS_URL"));
    /* NATS_URL in the environment wins over the file */
    assert_int_equal(run_at(exe, nats.url, stats, out, err, sizeof(out)), 0);

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* pull stores votes in a stream of its own, pulls and acks them, says
 * how fast, and leaves VOTES as it was and no stream of its own behind
 * (VOTES is a work queue: only the worker may consume it). */
static void test_votectl_pull(void **state)
{
    char *pull[] = {"votectl", "pull", "1200", NULL};
    natsConnection *nc = NULL;
    jsStreamNamesList *names = NULL;
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL;
    uint64_t before;
    json_t *o;
    int fd, status, i;
    pid_t pid;

    assert_int_equal(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    make_stream(nc, 0);
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    before = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    pid = votectl(pull, &fd);
    o = read_json_line(fd);
    waitpid(pid, &status, 0);
    close(fd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "pulled")), 1200);
    assert_true(json_integer_value(json_object_get(o, "per_s")) > 0);
    json_decref(o);
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    assert_int_equal(si->State.Msgs, before);
    assert_int_equal(si->State.Consumers, 0);
    jsStreamInfo_Destroy(si);
    assert_int_equal(js_StreamNames(&names, js, NULL, NULL), NATS_OK);
    for (i = 0; i < names->Count; i++)
        assert_null(strstr(names->List[i], "VOTECTL"));
    jsStreamNamesList_Destroy(names);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

/* load counts what JetStream acknowledged and what it refused: into a
 * VOTES of 20 KB, 1000 votes do not fit; it says how many were stored
 * (exactly what the stream holds) and refused, and exits 1. */
static void test_votectl_load_counts_refusals(void **state)
{
    char *load[] = {"votectl", "load", "1000", "full", NULL};
    struct jstream_settings ss;
    struct jstream_desc d;
    struct fixture f;
    natsConnection *nc = NULL;
    jsStreamInfo *si = NULL;
    jsCtx *js = NULL;
    char out[4096], err[4096];
    unsigned said = 0;
    json_t *o;
    int rc;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    assert_int_equal(natsConnection_ConnectTo(&nc, f.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jstream_settings_default(&ss);
    ss.votes_max_bytes = 20000;
    jstream_votes(&d, &ss, 5000000000LL);
    assert_int_equal(jstream_ensure(js, &d, 1, &said, NULL, 0), 0);
    rc = run_at("tools/votectl", f.url, load, out, err, sizeof(out));
    if (rc != 1)
        fail_msg("votectl load exited %d: %s %s", rc, out, err);
    o = json_loads(out, 0, NULL);
    assert_non_null(o);
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    assert_true(si->State.Msgs > 0 && si->State.Msgs < 1000);
    assert_int_equal(json_integer_value(json_object_get(o, "acknowledged")),
                     si->State.Msgs);
    assert_int_equal(json_integer_value(json_object_get(o, "refused")),
                     1000 - si->State.Msgs);
    assert_int_equal(json_integer_value(json_object_get(o, "first_error_code")),
                     10077); /* maximum bytes exceeded */
    assert_non_null(strstr(err, "refused"));
    jsStreamInfo_Destroy(si);
    json_decref(o);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    fixture_destroy(&f);
}

static void test_votectl_usage(void **state)
{
    char *argv[] = {"votectl", "frobnicate", NULL};
    int fd, status;
    pid_t pid = votectl(argv, &fd);

    waitpid(pid, &status, 0);
    close(fd);
    assert_int_equal(WEXITSTATUS(status), 2);
}

/* vote --from puts an address into a header, and nothing else: a value
 * with a line break (a header of its own) or that is no address exits 2
 * before any connection is made. */
static void test_votectl_vote_from_is_an_address(void **state)
{
    char *bad[] = {"1.2.3.4\r\nX-Injected: 1", "nope", "1.2.3.4, 5.6.7.8"};
    char out[512], err[512], url[64];
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), i;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 8), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", ntohs(sa.sin_port));
    setenv("VOTE_URL", url, 1);
    for (i = 0; i < 3; i++) {
        char *argv[] = {"votectl", "vote", "a", "--from", bad[i], NULL};

        assert_int_equal(
            run_at("tools/votectl", nats.url, argv, out, err, sizeof(out)), 2);
        assert_non_null(strstr(err, "an IPv4 or IPv6 address expected"));
    }
    unsetenv("VOTE_URL");
    assert_int_equal(accept(lfd, NULL, NULL), -1); /* nothing connected */
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_votectl_sub_decodes_votecast),
        cmocka_unit_test(test_votectl_vote_from_is_an_address),
        cmocka_unit_test(test_votectl_load_then_stats),
        cmocka_unit_test(test_votectl_stats_table),
        cmocka_unit_test(test_votectl_deadletters),
        cmocka_unit_test(test_votectl_finds_its_stack),
        cmocka_unit_test(test_votectl_pull),
        cmocka_unit_test(test_votectl_load_counts_refusals),
        cmocka_unit_test(test_votectl_usage),
    };
    int rc;

    if (fixture_start(&nats, FIXTURE_NATS))
        return 1;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    fixture_destroy(&nats);
    nats_Close();
    return rc;
}
