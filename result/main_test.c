/* main_test.c - the result binary against a throwaway Postgres, with the
 * worker's schema and batches written by its own store (result/pgtest):
 * zeros without a schema, a committed batch pushed to a WebSocket client
 * within 1 s, 200 clients all updated, a Postgres restart (readyz
 * follows, pushes resume), --healthcheck, bad config (exit 2),
 * SIGTERM (close frames, exit 0 within 10 s, no leak under ASan),
 * RESULT_MAX_CLIENTS clamped to the descriptors the process may open, a
 * 400 MB frame header (closed at once, the server's RSS flat) and a
 * client stalled mid-frame (dropped after RESULT_WS_PING_MS x 2). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>
#include <cmocka.h>

#include "lib/http/http.h"
#include "lib/mono/mono.h"
#include "result/pgtest.h"
#include "result/wstest.h"
#include "tests/fixture/fixture.h"

#define WS   "/api/results/ws"
#define MANY 200

static struct fixture pg;
static char bin[512];
static pid_t server;
static uint16_t port;

/* Runs the binary with env (NULL-terminated "K=V") and args. */
static pid_t spawn(char *const *env, const char *arg)
{
    char *argv[] = {bin, (char *)arg, NULL};
    pid_t pid = fork();

    if (pid == 0) {
        execve(bin, argv, env);
        _exit(127);
    }
    return pid;
}

/* Exit status of pid within ms, or -ETIMEDOUT (then killed). */
static int wait_exit(pid_t pid, unsigned ms)
{
    int64_t end = mono_ms() + ms;
    struct timespec tick = {0, 10 * 1000000L};
    int status;

    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (mono_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -ETIMEDOUT;
        }
        nanosleep(&tick, NULL);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int get(const char *path, char *body, size_t n)
{
    char req[256];

    body[0] = '\0';
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
    return http_request(port, req, body, n);
}

static int wait_status(const char *path, int want, unsigned ms)
{
    int64_t end = mono_ms() + ms;
    struct timespec tick = {0, 50 * 1000000L};
    char body[512];

    while (get(path, body, sizeof(body)) != want) {
        if (mono_ms() > end)
            return -ETIMEDOUT;
        nanosleep(&tick, NULL);
    }
    return 0;
}

static int group_setup(void **state)
{
    static char e_port[32], e_pg[32], e_asan[256];
    static char *env[] = {e_port, e_pg, "RESULT_MAX_CLIENTS=250",
                          /* every client below is 127.0.0.1: no cap (it
                           * would be 62); api_test crosses it */
                          "RESULT_MAX_PER_ADDR=0", "RESULT_WS_PING_MS=1000",
                          "OPTION_A=Cats", "OPTION_B=Dogs", NULL, NULL};

    if (fixture_binary(bin, sizeof(bin), "result/result") ||
        fixture_start(&pg, FIXTURE_PG))
        return -1;
    if (getenv("ASAN_OPTIONS")) { /* leaks in the server fail the test */
        snprintf(e_asan, sizeof(e_asan), "ASAN_OPTIONS=%s",
                 getenv("ASAN_OPTIONS"));
        env[7] = e_asan;
    }
    port = fixture_free_port();
    snprintf(e_port, sizeof(e_port), "PORT=%u", port);
    snprintf(e_pg, sizeof(e_pg), "POSTGRES_PORT=%u", pg.port);
    server = spawn(env, NULL);
    return wait_status("/readyz", 200, 20000);
}

static int group_teardown(void **state)
{
    if (server > 0) {
        kill(server, SIGKILL);
        waitpid(server, NULL, 0);
    }
    fixture_destroy(&pg);
    return 0;
}

static void test_main_bad_config_exits_2(void **state)
{
    char *env[] = {"RESULT_MAX_CLIENTS=lots", NULL};
    char *proxies[] = {"RESULT_TRUSTED_PROXIES=result-ui", NULL};
    char *level[] = {"LOG_LEVEL=loud", NULL}; /* main's log_init */

    assert_int_equal(wait_exit(spawn(env, NULL), 5000), 2);
    assert_int_equal(wait_exit(spawn(proxies, NULL), 5000), 2);
    assert_int_equal(wait_exit(spawn(level, NULL), 5000), 2);
}

static void test_main_healthcheck(void **state)
{
    char e_port[32], *env[] = {e_port, NULL};

    snprintf(e_port, sizeof(e_port), "PORT=%u", port);
    assert_int_equal(wait_exit(spawn(env, "--healthcheck"), 5000), 0);
    snprintf(e_port, sizeof(e_port), "PORT=%u", fixture_free_port());
    assert_int_equal(wait_exit(spawn(env, "--healthcheck"), 5000), 1);
}

static void test_main_no_schema_reads_zeros(void **state)
{
    char body[512];

    assert_int_equal(get("/api/results", body, sizeof(body)), 200);
    assert_non_null(strstr(body, "{\"options\":[{\"id\":\"a\",\"label\":"
                                 "\"Cats\",\"votes\":0},{\"id\":\"b\","
                                 "\"label\":\"Dogs\",\"votes\":0}],"
                                 "\"total\":0,\"as_of\":\""));
    assert_int_equal(get(WS, body, sizeof(body)), 400);
}

static void test_main_batch_pushed_within_1s(void **state)
{
    struct wstest w;
    char body[512];
    int64_t t0;

    assert_int_equal(wstest_open(&w, port, WS), 0);
    assert_int_equal(wstest_wait_total(&w, 0, 1000), 0);
    assert_int_equal(pgtest_schema(pg.url), 0);
    t0 = mono_ms();
    assert_int_equal(pgtest_batch(pg.url, 2, 1, 1), 0);
    assert_int_equal(wstest_wait_total(&w, 3, 1000), 0);
    print_message("commit -> frame: %lu ms\n", (unsigned long)(mono_ms() - t0));
    assert_non_null(strstr(w.last, "{\"id\":\"a\",\"label\":\"Cats\","
                                   "\"votes\":2}"));
    assert_int_equal(get("/api/results", body, sizeof(body)), 200);
    assert_non_null(strstr(body, "\"total\":3,"));
    wstest_close(&w);
}

static void test_main_many_clients_updated(void **state)
{
    static struct wstest w[MANY];
    int64_t t0;
    int i;

    for (i = 0; i < MANY; i++)
        assert_int_equal(wstest_open(&w[i], port, WS), 0);
    for (i = 0; i < MANY; i++)
        assert_int_equal(wstest_wait_total(&w[i], 3, 2000), 0);
    t0 = mono_ms();
    assert_int_equal(pgtest_batch(pg.url, 1, 0, 1), 0);
    for (i = 0; i < MANY; i++)
        assert_int_equal(wstest_wait_total(&w[i], 4, 1000), 0);
    print_message("%d clients updated in %lu ms\n", MANY,
                  (unsigned long)(mono_ms() - t0));
    for (i = 0; i < MANY; i++)
        wstest_close(&w[i]);
}

static void test_main_postgres_restart(void **state)
{
    struct wstest w;

    assert_int_equal(wstest_open(&w, port, WS), 0);
    assert_int_equal(wstest_wait_total(&w, 4, 1000), 0);
    assert_int_equal(fixture_stop(&pg), 0);
    assert_int_equal(wait_status("/readyz", 503, 10000), 0);
    assert_int_equal(wait_status("/api/results", 200, 100), 0); /* last */
    assert_int_equal(fixture_resume(&pg), 0);
    assert_int_equal(wait_status("/readyz", 200, 15000), 0);
    assert_int_equal(pgtest_batch(pg.url, 0, 2, 1), 0);
    assert_int_equal(wstest_wait_total(&w, 6, 1000), 0);
    assert_int_equal(w.closed, 0);
    wstest_close(&w);
}

static void test_main_400mb_frame_header_rss_flat(void **state)
{
    uint8_t h[16];
    long rss0 = wstest_rss_kb(server), grew;
    int status, code = 0, fd = wstest_raw_upgrade(port, WS, &status);
    size_t n, sent;
    int64_t t0;

    assert_int_equal(status, 101);
    t0 = mono_ms();
    n = wstest_client_header(h, 0x82, 400u << 20);
    assert_int_equal(send(fd, h, n, MSG_NOSIGNAL), (ssize_t)n);
    sent = wstest_flood(fd, 32u << 20, 10000);
    assert_int_equal(wstest_wait_hangup(fd, 5000, &code), 0);
    grew = wstest_rss_kb(server) - rss0;
    print_message("hung up after %lu ms, %zu bytes sent, server RSS %+ld "
                  "KiB\n",
                  (unsigned long)(mono_ms() - t0), sent, grew);
    assert_true(grew < 4096);
    assert_true(sent < (32u << 20));
    close(fd);
}

static void test_main_stalled_client_dropped(void **state)
{
    uint8_t h[16 + 10] = {0};
    int status, fd = wstest_raw_upgrade(port, WS, &status);
    int64_t t0 = mono_ms();
    size_t n;

    assert_int_equal(status, 101);
    n = wstest_client_header(h, 0x81, 100);
    assert_int_equal(send(fd, h, n + 10, MSG_NOSIGNAL), (ssize_t)(n + 10));
    assert_int_equal(wstest_wait_hangup(fd, 15000, NULL), 0);
    print_message("stalled client dropped after %lu ms (ping 1000 ms)\n",
                  (unsigned long)(mono_ms() - t0));
    assert_true(mono_ms() - t0 >= 1000);
    close(fd);
}

/* Reads the child's stdout until a line with want, or ms pass. */
static int read_until(int fd, const char *want, char *out, size_t n,
                      unsigned ms)
{
    int64_t end = mono_ms() + ms;
    size_t got = 0;
    ssize_t r;

    out[0] = '\0';
    while (got + 1 < n && mono_ms() < end && !strstr(out, want)) {
        r = read(fd, out + got, n - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        out[got] = '\0';
    }
    return strstr(out, want) ? 0 : -ETIMEDOUT;
}

/* Starts result with RLIMIT_NOFILE 1024 and max (a RESULT_MAX_CLIENTS=
 * entry, or NULL) until it listens; what it printed, into out. */
static void run_sized(const char *max, char *out, size_t n)
{
    struct rlimit rl = {1024, 1024};
    char e_port[32], e_pg[32];
    char *env[] = {e_port, e_pg, (char *)max, NULL};
    char *argv[] = {bin, NULL};
    int p[2];
    pid_t pid;

    snprintf(e_port, sizeof(e_port), "PORT=%u", fixture_free_port());
    snprintf(e_pg, sizeof(e_pg), "POSTGRES_PORT=%u", pg.port);
    assert_int_equal(pipe(p), 0);
    pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        setrlimit(RLIMIT_NOFILE, &rl);
        execve(bin, argv, env);
        _exit(127);
    }
    close(p[1]);
    assert_int_equal(read_until(p[0], "\"event\":\"listening\"", out, n, 20000),
                     0);
    kill(pid, SIGTERM);
    assert_int_equal(wait_exit(pid, 10000), 0);
    close(p[0]);
}

/* 60,000 clients asked, 1,024 descriptors allowed: clamped to what fits
 * (1024 - 128 for the rest - 32 HTTP connections), with a warning; and a
 * fixed pool of threads whatever the number of clients. */
static void test_main_max_clients_clamped(void **state)
{
    char out[8192];

    run_sized("RESULT_MAX_CLIENTS=60000", out, sizeof(out));
    assert_non_null(strstr(out, "\"event\":\"max_clients_clamped\","
                                "\"variable\":\"RESULT_MAX_CLIENTS\","
                                "\"requested\":60000,\"allowed\":864,"
                                "\"limited_by\":\"descriptors\""));
    assert_non_null(strstr(out, "\"event\":\"sized\",\"max_clients\":864,"
                                "\"auto\":false,\"limited_by\":"
                                "\"descriptors\",\"threads\":36,"));
}

/* RESULT_MAX_CLIENTS unset: as many as the descriptors allow, said at
 * start, with no warning; RESULT_MAX_PER_ADDR unset: a quarter of that. */
static void test_main_max_clients_default_fits_nofile(void **state)
{
    char out[8192];

    run_sized(NULL, out, sizeof(out));
    assert_null(strstr(out, "max_clients_clamped"));
    assert_non_null(strstr(out, "\"event\":\"sized\",\"max_clients\":864,"
                                "\"auto\":true,"));
    assert_non_null(strstr(out, "\"event\":\"listening\",\"port\":"));
    assert_non_null(strstr(out, "\"max_clients\":864,\"max_per_addr\":216,"
                                "\"trusted_proxies\":0"));
}

static void test_main_sigterm_closes_clients(void **state)
{
    struct wstest w[3];
    int64_t t0;
    int i;

    for (i = 0; i < 3; i++) {
        assert_int_equal(wstest_open(&w[i], port, WS), 0);
        assert_int_equal(wstest_wait_total(&w[i], 6, 1000), 0);
    }
    t0 = mono_ms();
    kill(server, SIGTERM);
    for (i = 0; i < 3; i++) {
        assert_int_equal(wstest_wait_closed(&w[i], 5000), 0);
        assert_int_equal(w[i].close_code, 1001);
    }
    assert_int_equal(wait_exit(server, 10000), 0);
    server = 0;
    print_message("SIGTERM -> exit: %lu ms\n", (unsigned long)(mono_ms() - t0));
    for (i = 0; i < 3; i++)
        wstest_close(&w[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_main_bad_config_exits_2),
        cmocka_unit_test(test_main_healthcheck),
        cmocka_unit_test(test_main_no_schema_reads_zeros),
        cmocka_unit_test(test_main_batch_pushed_within_1s),
        cmocka_unit_test(test_main_many_clients_updated),
        cmocka_unit_test(test_main_postgres_restart),
        cmocka_unit_test(test_main_max_clients_clamped),
        cmocka_unit_test(test_main_max_clients_default_fits_nofile),
        cmocka_unit_test(test_main_400mb_frame_header_rss_flat),
        cmocka_unit_test(test_main_stalled_client_dropped),
        cmocka_unit_test(test_main_sigterm_closes_clients),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
