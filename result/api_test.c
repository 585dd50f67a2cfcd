/* api_test.c - the HTTP and WebSocket side on a real civetweb server with
 * a hub fed by hand (no Postgres): GET /api/results, bad input, a
 * snapshot on connect and after a change, 200 clients, an oversized
 * client frame, a client that never reads, a full server, close frames;
 * and clients that try to make result buffer what they send (a 400 MB
 * frame header, a huge first fragment, endless continuations: closed at
 * once, this process's RSS flat; 16 MB of small messages: kept, RSS
 * flat), stall mid-frame (dropped within the ping
 * timeout, while a client answering pings stays), or find the hub full
 * (refused and disconnected, their thread free for the next one); and
 * viewers per client address, behind a trusted proxy or not. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/clientaddr/clientaddr.h"
#include "lib/http/http.h"
#include "lib/log/logcapture.h"
#include "lib/mono/mono.h"
#include "result/api.h"
#include "result/loop.h"
#include "result/wsproto.h"
#include "result/wstest.h"

#define WS   "/api/results/ws"
#define MANY 200

struct server {
    struct mg_context *ctx;
    struct loop *loop;
    struct api *api;
    struct http_opts http;
    uint16_t port;
};

/* threads: civetweb's worker threads; ping_ms: 0 for the default;
 * trusted: RESULT_TRUSTED_PROXIES's syntax. */
static void server_start5(struct server *s, unsigned max_clients,
                          unsigned threads, unsigned ping_ms, unsigned per_addr,
                          const char *trusted)
{
    struct loop_opts lo = {.max_clients = max_clients,
                           .ping_ms = ping_ms,
                           .max_per_addr = per_addr};
    struct clientaddr_net nets[CLIENTADDR_MAX_TRUSTED];
    int n, bad;

    memset(s, 0, sizeof(*s));
    n = clientaddr_parse_nets(trusted, nets, CLIENTADDR_MAX_TRUSTED, &bad);
    assert_true(n >= 0);
    assert_int_equal(loop_start(&s->loop, &lo), 0);
    s->http.listen = "127.0.0.1:0";
    s->http.threads = threads;
    assert_int_equal(http_start(&s->ctx, &s->http), 0);
    assert_int_equal(api_start(&s->api, s->ctx, s->loop, nets, n), 0);
    s->port = http_port(s->ctx);
}

static void server_start4(struct server *s, unsigned max_clients,
                          unsigned threads, unsigned ping_ms, unsigned per_addr)
{
    server_start5(s, max_clients, threads, ping_ms, per_addr, "");
}

static void server_start3(struct server *s, unsigned max_clients,
                          unsigned threads, unsigned ping_ms)
{
    server_start4(s, max_clients, threads, ping_ms, 0);
}

static void server_start(struct server *s, unsigned max_clients)
{
    server_start3(s, max_clients, max_clients + 8, 0);
}

/* Every slot is given back once the clients are gone. */
static void server_stop(struct server *s)
{
    int64_t t0 = mono_ms();

    http_stop(s->ctx);
    api_free(s->api);
    while (loop_count(s->loop) > 0 && mono_ms() - t0 < 5000)
        mono_sleep_ms(10);
    assert_int_equal(loop_count(s->loop), 0);
    loop_free(s->loop);
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
    assert_int_equal(loop_publish(s->loop, json, (size_t)n, 1), 0);
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
    assert_int_equal(loop_count(s.loop), MANY);
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
    static char big[WSPROTO_MAX_MESSAGE + 1];
    struct wstest bad, good;
    struct server s;

    server_start(&s, 4);
    publish(&s, 1, 4);
    assert_int_equal(wstest_open(&bad, s.port, WS), 0);
    assert_int_equal(wstest_open(&good, s.port, WS), 0);
    assert_int_equal(wstest_wait_total(&bad, 1, 1000), 0);
    memset(big, 'x', sizeof(big));
    /* result hangs up as soon as it reads the frame's header, so the
     * payload's write may fail: what counts is the close frame. */
    (void)wstest_send(&bad, MG_WEBSOCKET_OPCODE_TEXT, big, sizeof(big));
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
    assert_int_equal(loop_close_all(s.loop, 1001, 1000), 0);
    assert_int_equal(wstest_wait_closed(&w, 2000), 0);
    assert_int_equal(w.close_code, 1001);
    wstest_close(&w);
    server_stop(&s);
}

#define FLOOD        (32u << 20) /* bytes a hostile client tries to push */
#define RSS_SLACK_KB 4096

/* A client on a bare socket, upgraded, about to send what no browser
 * would: this process's RSS before the upgrade, the time after it. */
struct raw {
    int fd;
    long rss0;
    int64_t t0;
};

static void raw_upgrade(struct raw *r, uint16_t port)
{
    int status = 0;

    r->rss0 = wstest_rss_kb(0);
    r->fd = wstest_raw_upgrade(port, WS, &status);
    assert_int_equal(status, 101);
    r->t0 = mono_ms();
}

/* After the hostile bytes: hung up on promptly with close_code, little
 * sent, this process's RSS flat (and the hub slot given back: see
 * server_stop()). */
static void expect_refused(struct raw *r, size_t sent, int close_code)
{
    int code = 0, rc = wstest_wait_hangup(r->fd, 5000, &code);
    long grew = wstest_rss_kb(0) - r->rss0;

    print_message("%s after %lu ms, %zu bytes sent, RSS %+ld KiB\n",
                  rc ? "still open" : "hung up",
                  (unsigned long)(mono_ms() - r->t0), sent, grew);
    assert_true(grew < RSS_SLACK_KB);
    assert_int_equal(rc, 0);
    assert_true(sent < FLOOD);
    if (code) /* a reset may beat the close frame to us */
        assert_int_equal(code, close_code);
    close(r->fd);
}

/* A frame header that announces 400 MB (b0: its first byte), then a
 * flood of junk for its payload: closed with 1009 at once. */
static void expect_400mb_refused(int b0)
{
    uint8_t h[WSPROTO_HDR_MAX];
    struct server s;
    struct raw r;
    size_t n;

    server_start(&s, 4);
    publish(&s, 1, 4);
    raw_upgrade(&r, s.port);
    n = wstest_client_header(h, b0, 400u << 20);
    assert_int_equal(send(r.fd, h, n, MSG_NOSIGNAL), (ssize_t)n);
    expect_refused(&r, wstest_flood(r.fd, FLOOD, 10000), 1009);
    server_stop(&s);
}

static void test_api_ws_400mb_frame_header_closed_at_once(void **state)
{
    expect_400mb_refused(0x82); /* binary, FIN */
}

static void test_api_ws_huge_first_fragment_closed_at_once(void **state)
{
    expect_400mb_refused(0x01); /* text, more to come */
}

/* Each fragment is small; together they pass the limit, and the client
 * goes on sending more of them. */
static void test_api_ws_many_continuations_closed(void **state)
{
    static uint8_t frames[256 * 1024];
    struct server s;
    size_t n = 0, sent = 0;
    struct raw r;
    ssize_t w;
    int i;

    n += wstest_client_header(frames, 0x01, 100);
    n += 100;
    while (n + 106 <= sizeof(frames)) {
        n += wstest_client_header(frames + n, 0x00, 100); /* continuation */
        n += 100;
    }
    server_start(&s, 4);
    publish(&s, 1, 4);
    raw_upgrade(&r, s.port);
    for (i = 0; i < 128 && sent < FLOOD; i++) { /* up to 32 MB of them */
        w = send(r.fd, frames, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EAGAIN) {
            struct pollfd p = {.fd = r.fd, .events = POLLOUT};
            poll(&p, 1, 100);
            continue;
        }
        if (w <= 0)
            break;
        sent += (size_t)w;
        if ((size_t)w < n)
            break; /* frames now cut mid-way: stop here */
    }
    expect_refused(&r, sent, 1009);
    server_stop(&s);
}

/* Small whole messages are fine, however many: read and dropped, the
 * client stays, this process's RSS stays flat. */
static void test_api_ws_many_small_messages_kept_flat(void **state)
{
    static uint8_t frames[64 * 1024];
    struct server s;
    struct wstest good;
    size_t n = 0, sent = 0;
    struct raw r;
    int code = 0;
    ssize_t w;

    while (n + 14 <= sizeof(frames)) { /* 8-byte text messages */
        n += wstest_client_header(frames + n, 0x81, 8);
        memcpy(frames + n, "12345678", 8);
        n += 8;
    }
    server_start(&s, 4);
    publish(&s, 1, 4);
    assert_int_equal(wstest_open(&good, s.port, WS), 0);
    raw_upgrade(&r, s.port);
    while (sent < (16u << 20)) { /* 16 MB of them, blocking sends */
        w = send(r.fd, frames, n, MSG_NOSIGNAL);
        assert_int_equal(w, (ssize_t)n);
        sent += (size_t)w;
    }
    print_message("%zu bytes of small messages, RSS %+ld KiB\n", sent,
                  wstest_rss_kb(0) - r.rss0);
    assert_true(wstest_rss_kb(0) - r.rss0 < RSS_SLACK_KB);
    assert_int_equal(loop_count(s.loop), 2);
    publish(&s, 2, 4);
    assert_int_equal(wstest_wait_total(&good, 2, 2000), 0);
    assert_int_equal(wstest_wait_hangup(r.fd, 100, &code), -ETIMEDOUT);
    close(r.fd);
    wstest_close(&good);
    server_stop(&s);
}

/* Half a frame, then nothing: dropped within 2 pings' time; a client
 * that answers pings is still there. */
static void test_api_ws_stalled_mid_frame_dropped(void **state)
{
    struct server s;
    struct wstest good;
    uint8_t h[WSPROTO_HDR_MAX + 10] = {0};
    struct raw r;
    size_t n;

    server_start3(&s, 4, 12, 300);
    publish(&s, 1, 4);
    assert_int_equal(wstest_open(&good, s.port, WS), 0);
    raw_upgrade(&r, s.port);
    n = wstest_client_header(h, 0x81, 100);
    assert_int_equal(send(r.fd, h, n + 10, MSG_NOSIGNAL), (ssize_t)(n + 10));
    assert_int_equal(wstest_wait_hangup(r.fd, 10000, NULL), 0);
    print_message("stalled client dropped after %lu ms (ping 300 ms)\n",
                  (unsigned long)(mono_ms() - r.t0));
    assert_true(mono_ms() - r.t0 >= 300);
    close(r.fd);
    assert_true(good.pings > 0);
    publish(&s, 2, 4);
    assert_int_equal(wstest_wait_total(&good, 2, 2000), 0);
    assert_int_equal(good.closed, 0);
    wstest_close(&good);
    server_stop(&s);
}

/* Two slots and one spare civetweb thread: each extra client is refused
 * and disconnected, so the spare thread serves the next one (and the log
 * says so once a second, not once a refusal); when a client leaves, a new
 * one gets in. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    while ((hay = strstr(hay, needle)) != NULL) {
        n++;
        hay += strlen(needle);
    }
    return n;
}

#define REFUSALS 20

static void test_api_ws_full_hub_drops_extra(void **state)
{
    struct wstest a, b, c;
    struct server s;
    int status, fd, i, lines;
    int64_t t0;

    server_start3(&s, 2, 3, 0);
    publish(&s, 1, 4);
    assert_int_equal(wstest_open(&a, s.port, WS), 0);
    assert_int_equal(wstest_open(&b, s.port, WS), 0);
    assert_int_equal(wstest_wait_total(&b, 1, 1000), 0);
    logcapture_start();
    t0 = mono_ms();
    for (i = 0; i < REFUSALS; i++) {
        fd = wstest_raw_upgrade(s.port, WS, &status);
        assert_int_equal(status, 503);
        assert_int_equal(wstest_wait_hangup(fd, 5000, NULL), 0);
        close(fd);
    }
    /* one ws_refused line a second at most, whatever the flood */
    lines = count_of(logcapture_drain(), "\"event\":\"ws_refused\"");
    logcapture_stop();
    assert_true(lines >= 1 && lines <= (mono_ms() - t0) / 1000 + 1);
    assert_int_equal(loop_count(s.loop), 2);
    wstest_close(&a);
    t0 = mono_ms(); /* the client may see the hang-up before the slot frees */
    while (loop_count(s.loop) > 1 && mono_ms() - t0 < 5000)
        mono_sleep_ms(10);
    assert_int_equal(wstest_open(&c, s.port, WS), 0);
    assert_int_equal(wstest_wait_total(&c, 1, 2000), 0);
    wstest_close(&b);
    wstest_close(&c);
    server_stop(&s);
}

/* The whole answer to an upgrade on a bare socket, until the server
 * hangs up (or 5 s). */
static void upgrade_answer(uint16_t port, char *out, size_t n)
{
    static const char req[] =
        "GET " WS " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct pollfd p;
    size_t got = 0;
    int64_t end = mono_ms() + 5000;
    ssize_t r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, req, sizeof(req) - 1, 0), sizeof(req) - 1);
    p.fd = fd;
    p.events = POLLIN;
    while (got + 1 < n && mono_ms() < end) {
        if (poll(&p, 1, 100) <= 0)
            continue;
        r = read(fd, out + got, n - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    out[got] = '\0';
    close(fd);
}

/* RESULT_MAX_PER_ADDR 2: a third viewer from the same address gets a 503
 * with Retry-After and a JSON reason, while the server has room; when one
 * leaves, the next one gets in. */
static void test_api_ws_per_address_cap(void **state)
{
    struct wstest a, b, c;
    struct server s;
    char out[1024];
    int64_t t0;

    server_start4(&s, 8, 8, 0, 2);
    publish(&s, 1, 4);
    assert_int_equal(wstest_open(&a, s.port, WS), 0);
    assert_int_equal(wstest_open(&b, s.port, WS), 0);
    assert_int_equal(wstest_wait_total(&b, 1, 1000), 0);
    upgrade_answer(s.port, out, sizeof(out));
    assert_non_null(strstr(out, "HTTP/1.1 503 "));
    assert_non_null(strstr(out, "Retry-After: 1\r\n"));
    assert_non_null(
        strstr(out, "{\"error\":\"too many clients from your address\"}"));
    assert_int_equal(loop_count(s.loop), 2);
    wstest_close(&a);
    t0 = mono_ms();
    while (loop_count(s.loop) > 1 && mono_ms() - t0 < 5000)
        mono_sleep_ms(10);
    assert_int_equal(wstest_open(&c, s.port, WS), 0);
    assert_int_equal(wstest_wait_total(&c, 1, 2000), 0);
    wstest_close(&b);
    wstest_close(&c);
    server_stop(&s);
}

/* An upgrade from local address src with X-Forwarded-For xff (or none):
 * its status (101, 503); the viewer's fd into fds[*n] when admitted. */
static int viewer_from(struct server *s, const char *src, const char *xff,
                       int *fds, int *n)
{
    int status, fd = wstest_upgrade_from(s->port, WS, src, xff, &status);

    assert_true(fd >= 0);
    if (status == 101)
        fds[(*n)++] = fd;
    else
        close(fd);
    return status;
}

static void wait_count(struct server *s, unsigned want)
{
    int64_t t0 = mono_ms();

    while (loop_count(s->loop) != want && mono_ms() - t0 < 5000)
        mono_sleep_ms(10);
    assert_int_equal(loop_count(s->loop), want);
}

/* RESULT_MAX_PER_ADDR 2 counted on the client's address, with
 * RESULT_TRUSTED_PROXIES=127.0.0.3 (a proxy), clients on distinct
 * loopback addresses: 127.0.0.2 is capped at 2 while 127.0.0.4 still
 * gets in; its own X-Forwarded-For changes nothing (not a proxy); through
 * the proxy each forwarded address counts on its own (the proxy's third
 * viewer gets in), and a forwarded 127.0.0.2 meets 127.0.0.2's cap; once
 * 127.0.0.2's viewers leave, it gets in again. */
static void test_api_ws_per_client_address(void **state)
{
    struct server s;
    int a[4], others[8], na = 0, no = 0, i;

    server_start5(&s, 32, 8, 0, 2, "127.0.0.3");
    publish(&s, 1, 4);
    assert_int_equal(viewer_from(&s, "127.0.0.2", NULL, a, &na), 101);
    assert_int_equal(viewer_from(&s, "127.0.0.2", NULL, a, &na), 101);
    assert_int_equal(viewer_from(&s, "127.0.0.2", NULL, a, &na), 503);
    assert_int_equal(viewer_from(&s, "127.0.0.2", "198.51.100.9", a, &na), 503);
    assert_int_equal(viewer_from(&s, "127.0.0.4", NULL, others, &no), 101);
    assert_int_equal(viewer_from(&s, "127.0.0.3", "198.51.100.7", others, &no),
                     101);
    assert_int_equal(
        viewer_from(&s, "127.0.0.3", "6.6.6.6, 198.51.100.7", others, &no),
        101);
    assert_int_equal(viewer_from(&s, "127.0.0.3", "198.51.100.7", others, &no),
                     503);
    assert_int_equal(viewer_from(&s, "127.0.0.3", "198.51.100.8", others, &no),
                     101);
    assert_int_equal(viewer_from(&s, "127.0.0.3", "127.0.0.2", others, &no),
                     503);
    assert_int_equal(na, 2);
    assert_int_equal(no, 4);
    wait_count(&s, 6);
    for (i = 0; i < na; i++)
        close(a[i]);
    wait_count(&s, 4);
    na = 0;
    assert_int_equal(viewer_from(&s, "127.0.0.2", NULL, a, &na), 101);
    assert_int_equal(viewer_from(&s, "127.0.0.3", "127.0.0.2", a, &na), 101);
    assert_int_equal(viewer_from(&s, "127.0.0.2", NULL, a, &na), 503);
    for (i = 0; i < na; i++)
        close(a[i]);
    for (i = 0; i < no; i++)
        close(others[i]);
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
        cmocka_unit_test(test_api_ws_400mb_frame_header_closed_at_once),
        cmocka_unit_test(test_api_ws_huge_first_fragment_closed_at_once),
        cmocka_unit_test(test_api_ws_many_continuations_closed),
        cmocka_unit_test(test_api_ws_many_small_messages_kept_flat),
        cmocka_unit_test(test_api_ws_stalled_mid_frame_dropped),
        cmocka_unit_test(test_api_ws_full_hub_drops_extra),
        cmocka_unit_test(test_api_ws_per_address_cap),
        cmocka_unit_test(test_api_ws_per_client_address),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
