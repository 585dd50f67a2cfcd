/* rfc6455_test.c - RFC 6455 conformance, one case per rule of sections 5
 * (framing) and 7 (closing) that a client can break or rely on, each
 * through the real server (civetweb, api.c's hand-over, the loop) on a
 * real socket: the client sends the frames of the table, and the test
 * reads what the server answers: a close frame with the code the RFC
 * asks for, then the end of the connection; or a pong; or nothing (the
 * connection stays open). */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/http/http.h"
#include "lib/mono/mono.h"
#include "result/api.h"
#include "result/loop.h"
#include "result/wsproto.h"
#include "result/wstest.h"

#define WS      "/api/results/ws"
#define QUIET   300 /* ms an open connection must stay quiet */
#define WAIT_MS 3000

/* How a frame's length is written: shortest, or forced longer (not
 * minimal), or 64 bits with the top bit set. */
enum enc { MIN, LEN16, LEN64, TOPBIT };

struct frame {
    uint8_t b0; /* FIN, RSV, opcode */
    enum enc enc;
    int unmasked;
    const char *payload;
    size_t len;
};

enum expect { CLOSE, PONG, OPEN };

struct rfc_case {
    const char *rule;
    struct frame f[3];
    enum expect expect;
    int code;         /* CLOSE: the code */
    const char *pong; /* PONG: its payload */
};

#define F(b0, p)                                                               \
    {                                                                          \
        (b0), MIN, 0, (p), sizeof(p) - 1                                       \
    }
#define FE(b0, enc, p)                                                         \
    {                                                                          \
        (b0), (enc), 0, (p), sizeof(p) - 1                                     \
    }
#define CLOSE_F(c1, c2, r) F(0x88, c1 c2 r)

static const struct rfc_case CASES[] = {
    {"5.1 a client frame must be masked",
     {{0x81, MIN, 1, "hi", 2}},
     CLOSE,
     1002,
     NULL},
    {"5.2 RSV1 without an extension", {F(0xc1, "hi")}, CLOSE, 1002, NULL},
    {"5.2 RSV2 without an extension", {F(0xa1, "hi")}, CLOSE, 1002, NULL},
    {"5.2 RSV3 without an extension", {F(0x91, "hi")}, CLOSE, 1002, NULL},
    {"5.2 reserved data opcode 0x3", {F(0x83, "hi")}, CLOSE, 1002, NULL},
    {"5.2 reserved control opcode 0xB", {F(0x8b, "")}, CLOSE, 1002, NULL},
    {"5.2 16-bit length for < 126 bytes",
     {FE(0x81, LEN16, "hi")},
     CLOSE,
     1002,
     NULL},
    {"5.2 64-bit length for < 65536 bytes",
     {FE(0x81, LEN64, "hi")},
     CLOSE,
     1002,
     NULL},
    {"5.2 64-bit length with the top bit set",
     {FE(0x82, TOPBIT, "")},
     CLOSE,
     1002,
     NULL},
    {"5.4 continuation with no message open",
     {F(0x80, "hi")},
     CLOSE,
     1002,
     NULL},
    {"5.4 new message inside a fragmented one",
     {F(0x01, "a"), F(0x81, "b")},
     CLOSE,
     1002,
     NULL},
    {"5.4 control frame between fragments is answered",
     {F(0x01, "a"), F(0x89, "mid"), F(0x80, "b")},
     PONG,
     0,
     "mid"},
    {"5.4 fragmented text, whole",
     {F(0x01, "ab"), F(0x80, "cd")},
     OPEN,
     0,
     NULL},
    {"5.5 control payload over 125 bytes",
     {F(0x89, "0123456789012345678901234567890123456789012345678901234567"
              "8901234567890123456789012345678901234567890123456789012345"
              "678901234567890")},
     CLOSE,
     1002,
     NULL},
    {"5.5 fragmented control frame", {F(0x09, "x")}, CLOSE, 1002, NULL},
    {"5.5.1 close without a body is answered 1000",
     {F(0x88, "")},
     CLOSE,
     1000,
     NULL},
    {"5.5.1 close code and reason are echoed",
     {CLOSE_F("\x03", "\xe8", "bye")},
     CLOSE,
     1000,
     NULL},
    {"5.5.1 close with a 1-byte body", {F(0x88, "\x03")}, CLOSE, 1002, NULL},
    {"5.5.1 nothing after a close is read",
     {F(0x88, ""), F(0x89, "late")},
     CLOSE,
     1000,
     NULL},
    {"5.5.2 ping is answered with its payload",
     {F(0x89, "hello")},
     PONG,
     0,
     "hello"},
    {"5.5.3 unsolicited pong is ignored", {F(0x8a, "x")}, OPEN, 0, NULL},
    {"5.6 text must be UTF-8", {F(0x81, "\xc3\x28")}, CLOSE, 1007, NULL},
    {"5.6 UTF-8 overlong form", {F(0x81, "\xc0\xaf")}, CLOSE, 1007, NULL},
    {"5.6 UTF-8 surrogate", {F(0x81, "\xed\xa0\x80")}, CLOSE, 1007, NULL},
    {"5.6 UTF-8 split across fragments",
     {F(0x01, "\xe2\x82"), F(0x80, "\xac")},
     OPEN,
     0,
     NULL},
    {"5.6 text ending mid-character",
     {F(0x01, "a\xe2"), F(0x80, "\x82")},
     CLOSE,
     1007,
     NULL},
    {"5.6 binary need not be UTF-8", {F(0x82, "\xff\xfe")}, OPEN, 0, NULL},
    {"7.1.6 close reason must be UTF-8",
     {CLOSE_F("\x03", "\xe8", "\xff")},
     CLOSE,
     1007,
     NULL},
    {"7.4.1 close code 999", {CLOSE_F("\x03", "\xe7", "")}, CLOSE, 1002, NULL},
    {"7.4.1 close code 1004 (reserved)",
     {CLOSE_F("\x03", "\xec", "")},
     CLOSE,
     1002,
     NULL},
    {"7.4.1 close code 1005 (never sent)",
     {CLOSE_F("\x03", "\xed", "")},
     CLOSE,
     1002,
     NULL},
    {"7.4.1 close code 1006 (never sent)",
     {CLOSE_F("\x03", "\xee", "")},
     CLOSE,
     1002,
     NULL},
    {"7.4.1 close code 1015 (never sent)",
     {CLOSE_F("\x03", "\xf7", "")},
     CLOSE,
     1002,
     NULL},
    {"7.4.2 close code 2000 (unassigned)",
     {CLOSE_F("\x07", "\xd0", "")},
     CLOSE,
     1002,
     NULL},
    {"7.4.2 close code 5000 (out of range)",
     {CLOSE_F("\x13", "\x88", "")},
     CLOSE,
     1002,
     NULL},
    {"7.4.1 close code 1001 is echoed",
     {CLOSE_F("\x03", "\xe9", "")},
     CLOSE,
     1001,
     NULL},
    {"7.4.2 close code 3000 is echoed",
     {CLOSE_F("\x0b", "\xb8", "")},
     CLOSE,
     3000,
     NULL},
    {"7.4.2 close code 4999 is echoed",
     {CLOSE_F("\x13", "\x87", "")},
     CLOSE,
     4999,
     NULL},
    {"10.4 a message over 1 KiB (result's limit)",
     {{0x82, LEN16, 0, NULL, 2000}},
     CLOSE,
     1009,
     NULL},
};

/* A client frame with mask key 0x01020304 (so masking shows). */
static size_t encode(const struct frame *f, uint8_t *out)
{
    static const uint8_t key[4] = {1, 2, 3, 4};
    size_t n = 0, i;
    uint64_t len = f->len;

    out[n++] = f->b0;
    if (f->enc == MIN && len < 126) {
        out[n++] = (uint8_t)len;
    } else if (f->enc == LEN16 || (f->enc == MIN && len <= 0xffff)) {
        out[n++] = 126;
        out[n++] = (uint8_t)(len >> 8);
        out[n++] = (uint8_t)len;
    } else {
        if (f->enc == TOPBIT)
            len |= 1ULL << 63;
        out[n++] = 127;
        for (i = 0; i < 8; i++)
            out[n++] = (uint8_t)(len >> (56 - 8 * i));
    }
    if (!f->unmasked) {
        out[1] |= 0x80;
        memcpy(out + n, key, 4);
        n += 4;
    }
    for (i = 0; f->payload && i < f->len; i++)
        out[n + i] = (uint8_t)(f->payload[i] ^ (f->unmasked ? 0 : key[i & 3]));
    return n + (f->payload ? f->len : 0);
}

/* What the server sent after the 101: the first non-text frame (its
 * opcode, payload) and whether the connection then ended. */
struct seen {
    int op; /* 0: none */
    char payload[128];
    size_t len;
    int ended;
};

static void read_answer(int fd, unsigned ms, struct seen *s)
{
    uint8_t buf[4096];
    size_t have = 0, h, len;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int64_t end = mono_ms() + ms;
    ssize_t n;

    memset(s, 0, sizeof(*s));
    while (mono_ms() < end && !s->ended) {
        if (poll(&p, 1, 20) <= 0)
            continue;
        n = read(fd, buf + have, sizeof(buf) - have);
        if (n <= 0) {
            s->ended = 1;
            break;
        }
        have += (size_t)n;
        while (have >= 2 && !s->op) {
            h = (buf[1] & 0x7f) == 126 ? 4 : 2;
            len = h == 4 ? (size_t)(buf[2] << 8 | buf[3]) : buf[1];
            if (have < h + len)
                break;
            if ((buf[0] & 0x0f) != WSPROTO_OP_TEXT) {
                s->op = buf[0] & 0x0f;
                s->len = len < sizeof(s->payload) ? len : sizeof(s->payload);
                memcpy(s->payload, buf + h, s->len);
            }
            memmove(buf, buf + h + len, have - h - len);
            have -= h + len;
        }
        if (s->op == WSPROTO_OP_PONG)
            break; /* then stays open: checked apart */
    }
}

static void run_case(uint16_t port, const struct rfc_case *c)
{
    uint8_t out[4096];
    struct seen s;
    size_t n = 0;
    int fd, status = 0, i;

    fd = wstest_raw_upgrade(port, WS, &status);
    assert_int_equal(status, 101);
    for (i = 0; i < 3 && c->f[i].b0; i++)
        n += encode(&c->f[i], out + n);
    assert_int_equal(send(fd, out, n, MSG_NOSIGNAL), (ssize_t)n);
    read_answer(fd, c->expect == CLOSE ? WAIT_MS : QUIET, &s);
    print_message(
        "%-52s -> op %d code %d%s\n", c->rule, s.op,
        s.len >= 2 ? (uint8_t)s.payload[0] << 8 | (uint8_t)s.payload[1] : 0,
        s.ended ? ", ended" : "");
    switch (c->expect) {
    case CLOSE:
        assert_int_equal(s.op, WSPROTO_OP_CLOSE);
        assert_int_equal(s.len, 2); /* the code alone, nothing after it */
        assert_int_equal((uint8_t)s.payload[0] << 8 | (uint8_t)s.payload[1],
                         c->code);
        /* the server ends the TCP connection once its close is out */
        if (!s.ended) {
            shutdown(fd, SHUT_WR); /* as a client would, after the echo */
            read_answer(fd, WAIT_MS, &s);
            assert_true(s.ended);
        }
        break;
    case PONG:
        assert_int_equal(s.op, WSPROTO_OP_PONG);
        assert_int_equal(s.len, strlen(c->pong));
        assert_memory_equal(s.payload, c->pong, s.len);
        read_answer(fd, QUIET, &s);
        assert_false(s.ended);
        break;
    case OPEN:
        assert_int_equal(s.op, 0);
        assert_false(s.ended);
        break;
    }
    close(fd);
}

static void test_rfc6455_table(void **state)
{
    struct loop_opts lo = {.max_clients = 8};
    struct http_opts ho = {.listen = "127.0.0.1:0", .threads = 4};
    struct mg_context *ctx;
    struct loop *l;
    struct api *a;
    size_t i;

    assert_int_equal(loop_start(&l, &lo), 0);
    assert_int_equal(http_start(&ctx, &ho), 0);
    assert_int_equal(api_start(&a, ctx, l, NULL, 0), 0);
    assert_int_equal(loop_publish(l, "{\"total\":1}", 11, 1), 0);
    for (i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++)
        run_case(http_port(ctx), &CASES[i]);
    http_stop(ctx);
    api_free(a);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc6455_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
