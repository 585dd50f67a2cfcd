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
#include "lib/mono/mono.h"

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
    metrics_add(metrics_counter(f.metrics, "hits_total", "Hits."), 5);
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

/* Opens a connection to the fixture's server. */
static int connect_to(const struct fixture *f)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons(f->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

/* A client keeping its connection idle for over a second (civetweb's
 * default keeps it 500 ms) can still use it, and is told how long the
 * server keeps it (2 s). The idle time is measured: an attempt that a
 * loaded machine made idle for nearly 2 s proves nothing either way, and
 * is made again on a new connection. */
static void test_http_keep_alive(void **state)
{
    struct fixture *f = *state;
    char buf[1024];
    int64_t idle = 0;
    int fd, tries;

    for (tries = 0; tries < 5; tries++) {
        fd = connect_to(f);
        buf[0] = '\0';
        healthz_on(fd, buf, sizeof(buf));
        assert_non_null(strstr(buf, "HTTP/1.1 200"));
        assert_non_null(strstr(buf, "\r\nKeep-Alive: timeout=2\r\n"));
        idle = mono_ms();
        mono_sleep_ms(1200);
        idle = mono_ms() - idle;
        if (idle < 1800)
            break;
        close(fd);
    }
    assert_true(idle >= 1200 && idle < 1800);
    buf[0] = '\0';
    healthz_on(fd, buf, sizeof(buf));
    assert_non_null(strstr(buf, "HTTP/1.1 200"));
    close(fd);
}

/* Sends req to the fixture's server and fails, naming the request line,
 * unless the answer has that status. The body, valid until the next call. */
static const char *answer(const struct fixture *f, const char *req, int status)
{
    static char body[1024];
    int got = http_request(f->port, req, body, sizeof(body));

    if (got != status)
        fail_msg("%.*s: status %d, not %d", (int)strcspn(req, "\r"), req, got,
                 status);
    return body;
}

static void test_http_probes(void **state)
{
    struct fixture *f = *state;
    const char *body;

    body = answer(f, "GET /healthz HTTP/1.0\r\n\r\n", 200);
    assert_string_equal(body, "{\"status\":\"ok\"}");
    f->ready = 0;
    body = answer(f, "GET /readyz HTTP/1.0\r\n\r\n", 503);
    assert_non_null(strstr(body, "nats: connection refused"));
    f->ready = 1;
    answer(f, "GET /readyz HTTP/1.0\r\n\r\n", 200);
    body = answer(f, "GET /metrics HTTP/1.0\r\n\r\n", 200);
    assert_non_null(strstr(body, "hits_total 5\n"));
    /* /readyz as a gauge, for alerts */
    assert_non_null(
        strstr(body, "# TYPE service_ready gauge\nservice_ready 1\n"));
    f->ready = 0;
    body = answer(f, "GET /metrics HTTP/1.0\r\n\r\n", 200);
    assert_non_null(strstr(body, "service_ready 0\n"));
    f->ready = 1;
}

static void test_http_errors_are_json(void **state)
{
    struct fixture *f = *state;
    const char *body;

    body = answer(f, "GET /nowhere HTTP/1.0\r\n\r\n", 404);
    assert_string_equal(body, "{\"error\":\"no such path\"}");
    body =
        answer(f, "POST /healthz HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 405);
    assert_non_null(strstr(body, "\"error\""));
}

static void test_http_body_limit(void **state)
{
    struct fixture *f = *state;
    const char *body;

    body = answer(
        f, "POST /echo HTTP/1.0\r\nContent-Length: 16\r\n\r\n0123456789abcdef",
        200);
    assert_string_equal(body, "{\"len\":16}");
    answer(f,
           "POST /echo HTTP/1.0\r\nContent-Length: 17\r\n\r\n0123456789abcdefg",
           413);
    answer(f,
           "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           "Transfer-Encoding: chunked\r\n\r\n"
           "11\r\n0123456789abcdefg\r\n0\r\n\r\n",
           413);
}

/* A request civetweb cannot parse (here: the bytes after a body shorter
 * than they said, then the client hangs up) ends in civetweb's error
 * callback with a NULL request method: the server must live on. */
static void test_http_garbage_request(void **state)
{
    struct fixture *f = *state;
    struct timespec pause = {0, 200000000};

    answer(f, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nxyz",
           200);
    nanosleep(&pause, NULL);
    answer(f, "GET /healthz HTTP/1.0\r\n\r\n", 200);
}

/* A %00 in the path used to be decoded and cut the path short there, so
 * "/healthz%00x" reached /healthz and "POST /api/vote%00" cast a vote
 * (found by tests/hostile). Paths are matched as sent. */
static void test_http_nul_in_path(void **state)
{
    struct fixture *f = *state;
    const char *body;

    body = answer(f, "GET /healthz%00x HTTP/1.0\r\n\r\n", 404);
    assert_non_null(strstr(body, "\"error\""));
    answer(f, "POST /echo%00 HTTP/1.0\r\nContent-Length: 0\r\n\r\n", 404);
    answer(f, "GET /healthz?x=%00 HTTP/1.0\r\n\r\n", 200);
}

/* Two lengths for one body (or a length and chunks) is how requests are
 * smuggled past a proxy: refused, not guessed (found by tests/hostile:
 * civetweb took the first Content-Length). */
static void test_http_ambiguous_length(void **state)
{
    struct fixture *f = *state;
    const char *body;

    body = answer(f,
                  "POST /echo HTTP/1.0\r\n"
                  "Content-Length: 2\r\nContent-Length: 5\r\n\r\nab",
                  400);
    assert_non_null(strstr(body, "Content-Length"));
    answer(f,
           "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n\r\n"
           "2\r\nab\r\n0\r\n\r\n",
           400);
    answer(f, "POST /echo HTTP/1.0\r\nContent-Length: 2\r\n\r\nab", 200);
}

/* RFC 6455 opens a WebSocket with a GET only; civetweb upgraded a POST
 * too (found by tests/hostile). */
static void test_http_websocket_needs_get(void **state)
{
    struct fixture *f = *state;
    const char *body;

    body = answer(f,
                  "POST /echo HTTP/1.1\r\nHost: x\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Version: 13\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Content-Length: 0\r\n\r\n",
                  400);
    assert_non_null(strstr(body, "GET"));
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

/* A TCP port free on every address, as the kernel picks one. */
static uint16_t free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Without listen, the server listens on every address at port (as the
 * services do), and a second server on that port is refused. */
static void test_http_port_alone(void **state)
{
    struct http_opts o = {.port = free_port(), .threads = 2};
    struct mg_context *ctx = NULL, *again = NULL;

    assert_int_equal(http_start(&ctx, &o), 0);
    assert_int_equal(http_port(ctx), o.port);
    assert_int_equal(http_healthcheck(o.port), 0);
    /* (-EINVAL: civetweb's error text does not say the port is taken) */
    assert_true(http_start(&again, &o) < 0);
    assert_null(again);
    http_stop(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_probes),
        cmocka_unit_test(test_http_keep_alive),
        cmocka_unit_test(test_http_errors_are_json),
        cmocka_unit_test(test_http_body_limit),
        cmocka_unit_test(test_http_nul_in_path),
        cmocka_unit_test(test_http_ambiguous_length),
        cmocka_unit_test(test_http_websocket_needs_get),
        cmocka_unit_test(test_http_garbage_request),
        cmocka_unit_test(test_http_healthcheck_client),
        cmocka_unit_test(test_http_port_alone),
    };

    log_init("http_test", "error");
    return cmocka_run_group_tests(tests, setup, teardown);
}
