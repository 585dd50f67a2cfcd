/* main_test.c - the vote binary as a process: bad config exits 2 naming
 * the variable (never a password); starts with NATS and Redis down (not ready,
 * says why) and recovers, through a NATS_URL list whose first node never
 * answers, and never shows a password; --healthcheck; SIGTERM with votes in
 * flight exits 0 within 10 s, and every vote it answered 200 is in the stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
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

#include "lib/jstream/jstream.h"
#include "lib/mono/mono.h"
#include "proto/contract.h"
#include "tests/fixture/fixture.h"
#include "vote/testhttp.h"

#define BIN "vote/vote"

/* Runs BIN with args and extra env ("NAME=value", NULL-terminated), its
 * output to log. */
static pid_t spawn(char *const args[], const char *const env[], const char *log)
{
    pid_t pid = fork();
    char *argv[4] = {BIN, NULL, NULL, NULL};
    int fd, i;

    if (pid != 0)
        return pid;
    for (i = 0; env[i]; i++)
        putenv((char *)env[i]);
    for (i = 0; args[i] && i < 2; i++)
        argv[i + 1] = args[i];
    fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execv(BIN, argv);
    _exit(127);
}

/* Waits for pid at most ms; its exit code, or -1 (then killed). */
static int wait_exit(pid_t pid, unsigned ms)
{
    int64_t end = mono_ms() + ms;
    int status;

    while (mono_ms() < end) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        mono_sleep_ms(20);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

static int file_has(const char *path, const char *text)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, text) != NULL;
}

/* Runs BIN with one bad variable: exit 2, and the log names it. */
static void bad_config(const char *assignment, const char *variable,
                       const char *hidden)
{
    const char *env[] = {assignment, NULL};
    char *args[] = {NULL};
    char log[] = "/tmp/vote-main-test.XXXXXX", want[96];
    int fd = mkstemp(log);

    close(fd);
    snprintf(want, sizeof(want), "\"variable\":\"%s\"", variable);
    assert_int_equal(wait_exit(spawn(args, env, log), 5000), 2);
    assert_true(file_has(log, want));
    if (hidden && file_has(log, hidden))
        fail_msg("%s: the log shows %s", assignment, hidden);
    unlink(log);
}

static void test_main_bad_config_exits_2(void **state)
{
    bad_config("VOTE_DUPLICATE_WINDOW_S=5s", "VOTE_DUPLICATE_WINDOW_S", NULL);
    bad_config("LOG_LEVEL=loud", "LOG_LEVEL", NULL); /* main's log_init */
    bad_config("VOTE_RATE_PER_MIN=lots", "VOTE_RATE_PER_MIN", NULL);
    bad_config("VOTE_RATE_BURST=0", "VOTE_RATE_BURST", NULL);
    bad_config("VOTE_TRUSTED_PROXIES=vote-ui", "VOTE_TRUSTED_PROXIES", NULL);
    /* an unparsable REDIS_URL was logged verbatim, password included */
    bad_config("REDIS_URL=redis://vote:Pa55word-x@redis:6379x", "REDIS_URL",
               "Pa55word");
    bad_config("REDIS_URL=redis://vote:Pa55word-x@@redis", "REDIS_URL",
               "Pa55word");
}

static int get(uint16_t port, const char *path, struct testhttp_resp *r)
{
    char req[256];

    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: t\r\n"
             "Connection: close\r\n\r\n",
             path);
    return testhttp_once(port, req, r);
}

static int wait_status(uint16_t port, const char *path, int status, unsigned ms)
{
    struct testhttp_resp r;
    int64_t end = mono_ms() + ms;

    while (mono_ms() < end) {
        if (get(port, path, &r) == status)
            return 0;
        mono_sleep_ms(50);
    }
    return -1;
}

struct poster {
    uint16_t port;
    atomic_int ok, refused;
};

/* Votes until the server goes away. */
static void *post_loop(void *arg)
{
    struct poster *p = arg;
    struct testhttp_resp *r = calloc(1, sizeof(*r));
    char req[256], voter[16];
    int i;

    for (i = 0; r; i++) {
        snprintf(voter, sizeof(voter), "m%d", i);
        if (testhttp_vote_request(req, sizeof(req), "Connection: close\r\n",
                                  "a", voter) == 0 &&
            testhttp_once(p->port, req, r) == 200)
            atomic_fetch_add(&p->ok, 1);
        else if (++p->refused > 20) /* gone */
            break;
    }
    free(r);
    return NULL;
}

/* VOTES as the worker makes it: vote never does. */
static void make_votes(const struct fixture *f)
{
    struct jstream_desc d;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    unsigned said = 0;

    assert_int_equal(natsConnection_ConnectTo(&nc, f->url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jstream_votes(&d, NULL, 5000000000LL);
    assert_int_equal(jstream_ensure(js, &d, 1, &said, NULL, 0), 0);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

static uint64_t stream_msgs(const struct fixture *f)
{
    natsConnection *nc = NULL;
    jsStreamInfo *si = NULL;
    jsCtx *js = NULL;
    uint64_t n;

    assert_int_equal(natsConnection_ConnectTo(&nc, f->url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return n;
}

static void test_main_lifecycle(void **state)
{
    struct fixture nats, redis;
    struct testhttp_resp r;
    struct poster p = {0};
    char port_env[32], nats_env[200], redis_env[200],
        log[] = "/tmp/vote-main-test.XXXXXX";
    const char *env[] = {port_env, nats_env, redis_env, NULL};
    char *none[] = {NULL}, *hc[] = {"--healthcheck", NULL};
    pthread_t t;
    int64_t t0;
    pid_t pid;
    int fd = mkstemp(log);

    close(fd);
    assert_int_equal(fixture_start(&nats, FIXTURE_NATS), 0);
    assert_int_equal(fixture_start(&redis, FIXTURE_REDIS), 0);
    assert_int_equal(fixture_stop(&nats), 0);
    assert_int_equal(fixture_stop(&redis), 0);
    p.port = fixture_free_port();
    snprintf(port_env, sizeof(port_env), "PORT=%u", p.port);
    /* A list: a node that is never up (with credentials, which no answer
     * and no log line may show), and the real one. */
    snprintf(nats_env, sizeof(nats_env),
             "NATS_URL=nats://u:hush@127.0.0.1:%u,%s", fixture_free_port(),
             nats.url);
    snprintf(redis_env, sizeof(redis_env), "REDIS_URL=%s", redis.url);

    /* Both down: alive, not ready, says why; retries in the log. */
    pid = spawn(none, env, log);
    assert_int_equal(wait_status(p.port, "/healthz", 200, 10000), 0);
    assert_int_equal(get(p.port, "/readyz", &r), 503);
    assert_non_null(strstr(r.body, "nats"));
    assert_non_null(strstr(r.body, nats.url));
    assert_null(strstr(r.body, "hush"));
    assert_int_equal(wait_exit(spawn(hc, env, "/dev/null"), 5000), 0);
    assert_int_equal(fixture_resume(&nats), 0);
    assert_int_equal(fixture_resume(&redis), 0);
    /* Up, but no VOTES yet: vote waits for the worker to make it, says
     * so, and answers a vote 503 at once. */
    t0 = mono_ms();
    while (!file_has(log, "\"event\":\"stream_missing\"") &&
           mono_ms() - t0 < 10000)
        mono_sleep_ms(50);
    assert_int_equal(get(p.port, "/readyz", &r), 503);
    assert_non_null(strstr(r.body, "missing"));
    {
        char req[256], retry[16];

        assert_int_equal(testhttp_vote_request(req, sizeof(req),
                                               "Connection: close\r\n", "a",
                                               "early"),
                         0);
        t0 = mono_ms();
        assert_int_equal(testhttp_once(p.port, req, &r), 503);
        assert_true(mono_ms() - t0 < 1000); /* at once, not after 4 s */
        assert_int_equal(
            testhttp_header(&r, "Retry-After", retry, sizeof(retry)), 0);
        assert_non_null(strstr(r.body, "\"error\""));
    }
    make_votes(&nats);
    assert_int_equal(wait_status(p.port, "/readyz", 200, 10000), 0);
    assert_true(file_has(log, "\"event\":\"retrying\""));
    assert_true(file_has(log, "\"event\":\"recovered\""));

    /* SIGTERM with votes flowing. */
    assert_int_equal(pthread_create(&t, NULL, post_loop, &p), 0);
    mono_sleep_ms(500);
    t0 = mono_ms();
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid, 10000), 0);
    assert_true(mono_ms() - t0 < 10000);
    pthread_join(t, NULL);
    assert_true(atomic_load(&p.ok) > 0);
    assert_true(stream_msgs(&nats) >= (uint64_t)atomic_load(&p.ok));
    assert_true(file_has(log, "\"event\":\"stopped\""));
    assert_false(file_has(log, "hush"));
    /* Nothing listens any more: the healthcheck fails. */
    assert_int_equal(wait_exit(spawn(hc, env, "/dev/null"), 5000), 1);
    unlink(log);
    fixture_destroy(&nats);
    fixture_destroy(&redis);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_main_bad_config_exits_2),
        cmocka_unit_test(test_main_lifecycle),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);

    nats_Close();
    return rc;
}
