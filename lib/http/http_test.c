/* http_test.c - a real civetweb server on a free loopback port, probed
 * over real HTTP: probes, JSON errors, body limits, --healthcheck. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "lib/http/http.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"

struct fixture {
    struct mg_context *ctx;
    struct metrics *metrics;
    struct http_opts opts;
    int ready;
    uint16_t port;
};

static int ready_cb(void *arg, char *why, size_t n)
{
    struct fixture *f = arg;

    if (f->ready)
        return 0;
    snprintf(why, n, "nats: connection refused");
    return -ECONNREFUSED;
}

/* Echoes the body length, or 413 past 16 bytes. */
static int on_echo(struct mg_connection *c, void *arg)
{
    char buf[17];
    size_t len;
    int rc = http_read_body(c, buf, sizeof(buf), &len);

    if (rc == -E2BIG)
        return http_send_error(c, 413, "body too large");
    if (rc)
        return http_send_error(c, 400, "bad body");
    return http_send_json(c, 200, json_pack("{s:i}", "len", (int)len),
                          "Retry-After: 1\r\n");
}

static int setup(void **state)
{
    static struct fixture f;

    memset(&f, 0, sizeof(f));
    assert_int_equal(metrics_new(&f.metrics), 0);
    metric_add(metrics_counter(f.metrics, "hits_total", "Hits."), 5);
    f.opts.listen = "127.0.0.1:0";
    f.opts.threads = 4;
    f.opts.metrics = f.metrics;
    f.opts.ready = ready_cb;
    f.opts.ready_arg = &f;
    assert_int_equal(http_start(&f.ctx, &f.opts), 0);
    mg_set_request_handler(f.ctx, "/echo$", on_echo, NULL);
    f.port = http_port(f.ctx);
    assert_true(f.port > 0);
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    http_stop(f->ctx);
    metrics_free(f->metrics);
    return 0;
}

/* Sends one GET /healthz on fd and reads its whole answer into buf. */
static void healthz_on(int fd, char *buf, size_t n)
{
    static const char req[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    size_t got = 0;
    ssize_t r;

    assert_int_equal(write(fd, req, sizeof(req) - 1), sizeof(req) - 1);
    while (!strstr(buf, "{\"status\":\"ok\"}") && got < n - 1) {
        r = read(fd, buf + got, n - 1 - got);
        assert_true(r > 0);
        got += (size_t)r;
        buf[got] = '\0';
    }
}

/* A client keeping its connection idle for a second (longer than
 * civetweb's default 500 ms) can still use it, and is told how long the
 * server keeps it. */
static void test_http_keep_alive(void **state)
{
    struct fixture *f = *state;
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(f->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char buf[1024] = "";

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    healthz_on(fd, buf, sizeof(buf));
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    assert_non_null(strstr(buf, "\r\nKeep-Alive: timeout=2\r\n"));
    nanosleep(&(struct timespec){1, 200000000}, NULL);
    buf[0] = '\0';
    healthz_on(fd, buf, sizeof(buf));
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    close(fd);
}

static void test_http_probes(void **state)
{
    struct fixture *f = *state;
    char body[1024];

    assert_int_equal(http_request(f->port, "GET /healthz HTTP/1.0\r\n\r\n",
                                  body, sizeof(body)),
                     200);
    assert_string_equal(body, "{\"status\":\"ok\"}");
    f->ready = 0;
    assert_int_equal(http_request(f->port, "GET /readyz HTTP/1.0\r\n\r\n", body,
                                  sizeof(body)),
                     503);
    assert_non_null(strstr(body, "nats: connection refused"));
    f->ready = 1;
    assert_int_equal(http_request(f->port, "GET /readyz HTTP/1.0\r\n\r\n", body,
                                  sizeof(body)),
                     200);
    assert_int_equal(http_request(f->port, "GET /metrics HTTP/1.0\r\n\r\n",
                                  body, sizeof(body)),
                     200);
    assert_non_null(strstr(body, "hits_total 5\n"));
}

static void test_http_errors_are_json(void **state)
{
    struct fixture *f = *state;
    char body[1024];

    assert_int_equal(http_request(f->port, "GET /nowhere HTTP/1.0\r\n\r\n",
                                  body, sizeof(body)),
                     404);
    assert_string_equal(body, "{\"error\":\"no such path\"}");
    assert_int_equal(http_request(f->port,
                                  "POST /healthz HTTP/1.0\r\n"
                                  "Content-Length: 0\r\n\r\n",
                                  body, sizeof(body)),
                     405);
    assert_non_null(strstr(body, "\"error\""));
}

static void test_http_body_limit(void **state)
{
    struct fixture *f = *state;
    char body[1024];

    assert_int_equal(http_request(f->port,
                                  "POST /echo HTTP/1.0\r\n"
                                  "Content-Length: 16\r\n\r\n"
                                  "0123456789abcdef",
                                  body, sizeof(body)),
                     200);
    assert_string_equal(body, "{\"len\":16}");
    assert_int_equal(http_request(f->port,
                                  "POST /echo HTTP/1.0\r\n"
                                  "Content-Length: 17\r\n\r\n"
                                  "0123456789abcdefg",
                                  body, sizeof(body)),
                     413);
    assert_int_equal(http_request(f->port,
                                  "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: close\r\n"
                                  "Transfer-Encoding: chunked\r\n\r\n"
                                  "11\r\n0123456789abcdefg\r\n0\r\n\r\n",
                                  body, sizeof(body)),
                     413);
}

/* A request civetweb cannot parse (here: the bytes after a body shorter
 * than they said, then the client hangs up) ends in civetweb's error
 * callback with a NULL request method: the server must live on. */
static void test_http_garbage_request(void **state)
{
    struct fixture *f = *state;
    struct timespec pause = {0, 200000000};
    char body[1024];

    assert_int_equal(http_request(f->port,
                                  "POST /echo HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Length: 1\r\n\r\nxyz",
                                  body, sizeof(body)),
                     200);
    nanosleep(&pause, NULL);
    assert_int_equal(http_request(f->port, "GET /healthz HTTP/1.0\r\n\r\n",
                                  body, sizeof(body)),
                     200);
}

static void test_http_healthcheck_client(void **state)
{
    struct fixture *f = *state;
    char port[8];
    char *argv[] = {"svc", "--healthcheck", NULL};
    char *plain[] = {"svc", NULL};

    assert_int_equal(http_healthcheck(f->port), 0);
    snprintf(port, sizeof(port), "%u", f->port);
    setenv("T_PORT", port, 1);
    assert_int_equal(http_healthcheck_main(2, argv, "T_PORT", 1), 0);
    assert_int_equal(http_healthcheck_main(1, plain, "T_PORT", 1), -1);
    setenv("T_PORT", "1", 1); /* nothing listens on port 1 */
    assert_int_equal(http_healthcheck_main(2, argv, "T_PORT", 1), 1);
    setenv("T_PORT", "x", 1);
    assert_int_equal(http_healthcheck_main(2, argv, "T_PORT", 1), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_probes),
        cmocka_unit_test(test_http_keep_alive),
        cmocka_unit_test(test_http_errors_are_json),
        cmocka_unit_test(test_http_body_limit),
        cmocka_unit_test(test_http_garbage_request),
        cmocka_unit_test(test_http_healthcheck_client),
    };

    log_init("http_test", "error");
    return cmocka_run_group_tests(tests, setup, teardown);
}
