/* api_test.c - the HTTP and WebSocket side on a real civetweb server with
 * a hub fed by hand (no Postgres): GET /api/results, bad input, a
 * snapshot on connect and after a change, 200 clients, an oversized
 * client frame, a client that never reads, a full server, close frames. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/http/http.h"
#include "result/api.h"
#include "result/hub.h"
#include "lib/mono/mono.h"
#include "result/wstest.h"

#define WS   "/api/results/ws"
#define MANY 200

struct server {
    struct mg_context *ctx;
    struct hub *hub;
    struct http_opts http;
    uint16_t port;
};

static void server_start(struct server *s, unsigned max_clients)
{
    struct hub_opts ho = {.max_clients = max_clients, .write = api_ws_write};

    memset(s, 0, sizeof(*s));
    assert_int_equal(hub_new(&s->hub, &ho), 0);
    s->http.listen = "127.0.0.1:0";
    s->http.threads = max_clients + 8;
    s->http.extra = (const char **)API_WS_OPTIONS;
    assert_int_equal(http_start(&s->ctx, &s->http), 0);
    api_register(s->ctx, s->hub);
    s->port = http_port(s->ctx);
}

static void server_stop(struct server *s)
{
    http_stop(s->ctx);
    assert_int_equal(hub_count(s->hub), 0);
    hub_free(s->hub);
}

/* A snapshot of the real shape whose total is `total`, padded to at
 * least `size` bytes with a long label. */
static void publish(struct server *s, long long total, size_t size)
{
    static char pad[4096];
    char json[4200];
    int n;

    if (size > sizeof(pad) - 1)
        size = sizeof(pad) - 1;
    memset(pad, 'x', size);
    pad[size] = '\0';
    n = snprintf(json, sizeof(json),
                 "{\"options\":[{\"id\":\"a\",\"label\":\"%s\",\"votes\":%lld},"
                 "{\"id\":\"b\",\"label\":\"Dogs\",\"votes\":0}],"
                 "\"total\":%lld,\"as_of\":\"2026-11-27T18:00:00.000Z\"}",
                 pad, total, total);
    assert_int_equal(hub_publish(s->hub, json, (size_t)n, 1), 0);
}

static void test_api_results(void **state)
{
    struct server s;
    char body[1024];

    server_start(&s, 4);
    assert_int_equal(http_request(s.port, "GET /api/results HTTP/1.0\r\n\r\n",
                                  body, sizeof(body)),
                     503);
    assert_non_null(strstr(body, "\"error\""));
    publish(&s, 5, 4);
    assert_int_equal(http_request(s.port, "GET /api/results HTTP/1.0\r\n\r\n",
                                  body, sizeof(body)),
                     200);
    assert_non_null(strstr(body, "\"total\":5,"));
    assert_int_equal(body[0], '{');
    server_stop(&s);
}

static void test_api_bad_requests(void **state)
{
    struct server s;
    char body[1024];

    server_start(&s, 4);
    publish(&s, 1, 4);
    assert_int_equal(
        http_request(s.port, "GET " WS " HTTP/1.0\r\n\r\n", body, sizeof(body)),
        400);
    assert_string_equal(body, "{\"error\":\"WebSocket upgrade required\"}");
    assert_int_equal(http_request(s.port, "GET /api/nope HTTP/1.0\r\n\r\n",
                                  body, sizeof(body)),
                     404);
    assert_string_equal(body, "{\"error\":\"no such path\"}");
    assert_int_equal(http_request(s.port,
                                  "POST /api/results HTTP/1.0\r\n"
                                  "Content-Length: 0\r\n\r\n",
                                  body, sizeof(body)),
                     405);
    assert_non_null(strstr(body, "\"error\""));
    server_stop(&s);
}

static void test_api_ws_snapshot_then_updates(void **state)
{
    struct server s;
    struct wstest w;

    server_start(&s, 4);
    publish(&s, 10, 4);
    assert_int_equal(wstest_open(&w, s.port, WS), 0);
    assert_int_equal(wstest_wait_total(&w, 10, 1000), 0);
    assert_non_null(strstr(w.last, "{\"options\":[{\"id\":\"a\""));
    /* client frames are ignored */
    assert_int_equal(wstest_send(&w, MG_WEBSOCKET_OPCODE_TEXT, "hi", 2), 0);
    publish(&s, 11, 4);
    assert_int_equal(wstest_wait_total(&w, 11, 1000), 0);
    assert_int_equal(w.frames, 2);
    assert_int_equal(w.closed, 0);
    wstest_close(&w);
    server_stop(&s);
}

static void test_api_ws_many_clients(void **state)
{
    static struct wstest w[MANY];
    struct server s;
    int64_t t0;
    int i;

    server_start(&s, MANY);
    publish(&s, 1, 4);
    for (i = 0; i < MANY; i++)
        assert_int_equal(wstest_open(&w[i], s.port, WS), 0);
    for (i = 0; i < MANY; i++)
        assert_int_equal(wstest_wait_total(&w[i], 1, 2000), 0);
    assert_int_equal(hub_count(s.hub), MANY);
    t0 = mono_ms();
    publish(&s, 2, 4);
    for (i = 0; i < MANY; i++)
        assert_int_equal(wstest_wait_total(&w[i], 2, 1000), 0);
    print_message("%d clients updated in %lu ms\n", MANY,
                  (unsigned long)(mono_ms() - t0));
    for (i = 0; i < MANY; i++)
        wstest_close(&w[i]);
    server_stop(&s);
}

static void test_api_ws_oversized_frame_closes_one(void **state)
{
    static char big[API_MAX_CLIENT_FRAME + 1];
    struct wstest bad, good;
    struct server s;

    server_start(&s, 4);
    publish(&s, 1, 4);
    assert_int_equal(wstest_open(&bad, s.port, WS), 0);
    assert_int_equal(wstest_open(&good, s.port, WS), 0);
    assert_int_equal(wstest_wait_total(&bad, 1, 1000), 0);
    memset(big, 'x', sizeof(big));
    assert_int_equal(
        wstest_send(&bad, MG_WEBSOCKET_OPCODE_TEXT, big, sizeof(big)), 0);
    assert_int_equal(wstest_wait_closed(&bad, 2000), 0);
    assert_int_equal(bad.close_code, 1009);
    publish(&s, 2, 4);
    assert_int_equal(wstest_wait_total(&good, 2, 1000), 0);
    assert_int_equal(good.closed, 0);
    wstest_close(&bad);
    wstest_close(&good);
    server_stop(&s);
}

/* A client that never reads, flooded until its writes block, while the
 * others still get every published state within 1 s. */
static void test_api_ws_stuck_client_delays_nobody(void **state)
{
    struct wstest w[10];
    struct server s;
    int64_t t0;
    long long k;
    int fd, i;

    server_start(&s, 16);
    publish(&s, 0, 4);
    fd = wstest_raw_open(s.port, WS, 4096);
    assert_true(fd >= 0);
    for (i = 0; i < 10; i++)
        assert_int_equal(wstest_open(&w[i], s.port, WS), 0);
    for (k = 1; k <= 3000; k++) {
        publish(&s, k, 3000); /* 9 MB: far past the socket buffers */
        if (k % 500)
            continue;
        t0 = mono_ms();
        for (i = 0; i < 10; i++)
            assert_int_equal(wstest_wait_total(&w[i], k, 1000), 0);
        print_message("state %lld on all readers in %lu ms\n", k,
                      (unsigned long)(mono_ms() - t0));
    }
    close(fd);
    for (i = 0; i < 10; i++)
        wstest_close(&w[i]);
    server_stop(&s);
}

static void test_api_ws_full_server_refuses(void **state)
{
    struct wstest a, b, c;
    struct server s;
    char body[256];

    server_start(&s, 2);
    publish(&s, 1, 4);
    assert_int_equal(wstest_open(&a, s.port, WS), 0);
    assert_int_equal(wstest_open(&b, s.port, WS), 0);
    assert_int_equal(wstest_wait_total(&b, 1, 1000), 0);
    assert_int_equal(wstest_open(&c, s.port, WS), -ECONNREFUSED);
    /* plain HTTP still has threads */
    assert_int_equal(http_request(s.port, "GET /api/results HTTP/1.0\r\n\r\n",
                                  body, sizeof(body)),
                     200);
    wstest_close(&a);
    wstest_close(&b);
    server_stop(&s);
}

static void test_api_close_all_sends_close_frames(void **state)
{
    struct wstest w;
    struct server s;

    server_start(&s, 4);
    publish(&s, 1, 4);
    assert_int_equal(wstest_open(&w, s.port, WS), 0);
    assert_int_equal(wstest_wait_total(&w, 1, 1000), 0);
    assert_int_equal(hub_close_all(s.hub, 1001, 1000), 0);
    assert_int_equal(wstest_wait_closed(&w, 2000), 0);
    assert_int_equal(w.close_code, 1001);
    wstest_close(&w);
    server_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_results),
        cmocka_unit_test(test_api_bad_requests),
        cmocka_unit_test(test_api_ws_snapshot_then_updates),
        cmocka_unit_test(test_api_ws_many_clients),
        cmocka_unit_test(test_api_ws_oversized_frame_closes_one),
        cmocka_unit_test(test_api_ws_stuck_client_delays_nobody),
        cmocka_unit_test(test_api_ws_full_server_refuses),
        cmocka_unit_test(test_api_close_all_sends_close_frames),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
