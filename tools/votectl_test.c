/* votectl_test.c - the real votectl binary against a throwaway
 * nats-server: `sub` prints each VoteCast as a JSON line, `load` publishes
 * a backlog into the stream, `stats` reports it. */
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
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <nats/nats.h>

#include "proto/vote.pb-c.h"
#include "tests/fixture/fixture.h"

static struct fixture nats;

/* Starts votectl with args; its stdout comes back through *out_fd. */
static pid_t votectl(char *const argv[], int *out_fd)
{
    int fds[2];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        setenv("NATS_URL", nats.url, 1);
        setenv("POSTGRES_PORT", "1", 1); /* no Postgres here: an error */
        execv("tools/votectl", argv);
        _exit(127);
    }
    close(fds[1]);
    *out_fd = fds[0];
    return pid;
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

static void make_stream(natsConnection *nc)
{
    const char *subjects[] = {"votes.>"};
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    jsCtx *js = NULL;

    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsStreamConfig_Init(&cfg);
    cfg.Name = "VOTES";
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    assert_int_equal(js_AddStream(&si, js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
}

static void test_votectl_sub_decodes_votecast(void **state)
{
    Voting__V1__VoteCast v = VOTING__V1__VOTE_CAST__INIT;
    char *argv[] = {"votectl", "sub", "votes.*", NULL};
    natsConnection *nc = NULL;
    uint8_t buf[128];
    json_t *o;
    int fd, status;
    pid_t pid = votectl(argv, &fd);

    assert_int_equal(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
    v.voter_id = "v1";
    v.option = "a";
    v.cast_at_ms = 1234;
    v.origin = "host1";
    v.request_id = "r1";
    usleep(300 * 1000); /* let votectl subscribe */
    assert_int_equal(
        natsConnection_Publish(nc, "votes.a", buf,
                               (int)voting__v1__vote_cast__pack(&v, buf)),
        NATS_OK);
    assert_int_equal(natsConnection_Publish(nc, "votes.b", "junk", 4), NATS_OK);
    natsConnection_Flush(nc);
    o = read_json_line(fd);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "subject")),
                        "votes.a");
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
    natsConnection_Destroy(nc);
}

static void test_votectl_load_then_stats(void **state)
{
    char *load[] = {"votectl", "load", "1000", "t", NULL};
    char *stats[] = {"votectl", "stats", NULL};
    natsConnection *nc = NULL;
    json_t *o, *s;
    int fd, status;
    pid_t pid;

    assert_int_equal(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
    make_stream(nc);
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
    assert_string_equal(json_string_value(json_object_get(s, "name")), "VOTES");
    assert_int_equal(json_integer_value(json_object_get(s, "messages")), 1000);
    /* No consumer and no Postgres yet: each part says so, stats goes on. */
    assert_non_null(json_object_get(json_object_get(o, "consumer"), "error"));
    assert_non_null(json_object_get(json_object_get(o, "tallies"), "error"));
    json_decref(o);
}

/* pull takes the stored votes on a consumer of its own, acks them, says
 * how fast, and leaves no consumer behind. */
static void test_votectl_pull(void **state)
{
    char *load[] = {"votectl", "load", "1200", "p", NULL};
    char *pull[] = {"votectl", "pull", "1200", NULL};
    char *too_many[] = {"votectl", "pull", "999999", NULL};
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL;
    json_t *o;
    int fd, status;
    pid_t pid;

    pid = votectl(load, &fd);
    waitpid(pid, &status, 0);
    close(fd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pid = votectl(pull, &fd);
    o = read_json_line(fd);
    waitpid(pid, &status, 0);
    close(fd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "pulled")), 1200);
    assert_true(json_integer_value(json_object_get(o, "per_s")) > 0);
    json_decref(o);
    assert_int_equal(natsConnection_ConnectTo(&nc, nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    assert_int_equal(js_GetStreamInfo(&si, js, "VOTES", NULL, NULL), NATS_OK);
    assert_int_equal(si->State.Consumers, 0);
    jsStreamInfo_Destroy(si);
    /* More than the stream holds: an error after the wait, not a hang. */
    pid = votectl(too_many, &fd);
    waitpid(pid, &status, 0);
    close(fd);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_votectl_sub_decodes_votecast),
        cmocka_unit_test(test_votectl_load_then_stats),
        cmocka_unit_test(test_votectl_pull),
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
