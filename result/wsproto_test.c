/* wsproto_test.c - wsproto on known bytes: the RFC's handshake example,
 * frame headers accepted, refused (with their close codes) and judged
 * before the payload, fragmented messages and their size limit, lengths
 * in their shortest encoding, the stateful reader (byte by byte, UTF-8,
 * close codes), and the headers result sends. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "result/wsproto.h"

static enum wsproto_verdict parse(struct wsproto_state *st, const char *hex,
                                  size_t n, struct wsproto_frame *f,
                                  uint16_t *code)
{
    *code = 0;
    return wsproto_parse(st, (const uint8_t *)hex, n, f, code);
}

static void test_wsproto_accept_rfc_example(void **state)
{
    char out[WSPROTO_ACCEPT_LEN + 1];

    assert_int_equal(wsproto_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(wsproto_accept("short==", out), -EINVAL);
    assert_int_equal(wsproto_accept("dGhlIHNhbXBsZSBub25jZQ=!", out), -EINVAL);
    assert_int_equal(wsproto_accept("dGhlIHNhbXBsZSBub25j\"Q==", out), -EINVAL);
}

static void test_wsproto_small_text(void **state)
{
    struct wsproto_state st = {0};
    struct wsproto_frame f;
    uint16_t code;
    uint8_t p[2] = {'h' ^ 1, 'i' ^ 2};

    assert_int_equal(parse(&st, "\x81\x82", 2, &f, &code), WSPROTO_NEED_MORE);
    assert_int_equal(parse(&st, "\x81\x82\x01\x02\x03\x04", 6, &f, &code),
                     WSPROTO_FRAME);
    assert_int_equal(f.opcode, WSPROTO_OP_TEXT);
    assert_int_equal(f.fin, 1);
    assert_int_equal(f.hdr_len, 6);
    assert_int_equal(f.payload_len, 2);
    wsproto_unmask(&f, p, 2, 0);
    assert_memory_equal(p, "hi", 2);
    assert_int_equal(st.in_message, 0);
}

/* 400 MB announced: refused on the length bytes, before the mask key. */
static void test_wsproto_huge_refused_on_header(void **state)
{
    struct wsproto_state st = {0};
    struct wsproto_frame f;
    uint16_t code;

    assert_int_equal(
        parse(&st, "\x82\xff\x00\x00\x00\x00\x19\x00\x00\x00", 10, &f, &code),
        WSPROTO_REFUSE);
    assert_int_equal(code, WSPROTO_CLOSE_TOO_BIG);
    assert_int_equal(parse(&st, "\x81\xfe\x04\x01", 4, &f, &code),
                     WSPROTO_REFUSE); /* 1025 */
    assert_int_equal(code, WSPROTO_CLOSE_TOO_BIG);
    assert_int_equal(parse(&st, "\x81\xfe\x04\x00", 4, &f, &code),
                     WSPROTO_NEED_MORE); /* 1024: allowed, needs the mask */
}

static void test_wsproto_fragments_count_toward_limit(void **state)
{
    struct wsproto_state st = {0};
    struct wsproto_frame f;
    uint16_t code;
    int i;

    /* 4 x 255 = 1020 bytes in fragments, a ping between them */
    assert_int_equal(parse(&st, "\x01\xfe\x00\xff\0\0\0\0", 8, &f, &code),
                     WSPROTO_FRAME);
    assert_int_equal(parse(&st, "\x89\x80\0\0\0\0", 6, &f, &code),
                     WSPROTO_FRAME);
    for (i = 0; i < 3; i++)
        assert_int_equal(parse(&st, "\x00\xfe\x00\xff\0\0\0\0", 8, &f, &code),
                         WSPROTO_FRAME);
    assert_int_equal(st.message_len, 1020);
    /* 5 more bytes cross 1024, even in a final frame */
    assert_int_equal(parse(&st, "\x80\x85", 2, &f, &code), WSPROTO_REFUSE);
    assert_int_equal(code, WSPROTO_CLOSE_TOO_BIG);
    assert_int_equal(parse(&st, "\x80\x84\0\0\0\0", 6, &f, &code),
                     WSPROTO_FRAME);
    assert_int_equal(st.in_message, 0);
    assert_int_equal(st.message_len, 0);
}

static void test_wsproto_protocol_errors(void **state)
{
    static const char *const bad[] = {
        "\x81\x02",         /* unmasked */
        "\xc1\x80",         /* RSV1 */
        "\x83\x80",         /* opcode 3 */
        "\x09\x80",         /* fragmented ping */
        "\x89\xfe\x00\x7e", /* 126-byte ping */
        "\x80\x80",         /* continuation without a message */
    };
    struct wsproto_state st = {0};
    struct wsproto_frame f;
    uint16_t code;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(&st, bad[i], 4, &f, &code), WSPROTO_REFUSE);
        assert_int_equal(code, WSPROTO_CLOSE_PROTOCOL);
    }
    assert_int_equal(parse(&st, "\x01\x80\0\0\0\0", 6, &f, &code),
                     WSPROTO_FRAME);
    assert_int_equal(parse(&st, "\x81\x80\0\0\0\0", 6, &f, &code),
                     WSPROTO_REFUSE); /* new message inside one */
    assert_int_equal(code, WSPROTO_CLOSE_PROTOCOL);
}

/* RFC 6455 5.2: the shortest length encoding, and no 64-bit top bit. */
static void test_wsproto_length_encoding(void **state)
{
    struct wsproto_state st = {0};
    struct wsproto_frame f;
    uint16_t code;

    assert_int_equal(parse(&st, "\x82\xfe\x00\x7d", 4, &f, &code),
                     WSPROTO_REFUSE); /* 125 in 16 bits */
    assert_int_equal(code, WSPROTO_CLOSE_PROTOCOL);
    assert_int_equal(parse(&st, "\x82\xff\0\0\0\0\0\0\xff\xff", 10, &f, &code),
                     WSPROTO_REFUSE); /* 65535 in 64 bits */
    assert_int_equal(code, WSPROTO_CLOSE_PROTOCOL);
    assert_int_equal(parse(&st, "\x82\xff\x80\0\0\0\0\0\0\0", 10, &f, &code),
                     WSPROTO_REFUSE); /* top bit */
    assert_int_equal(code, WSPROTO_CLOSE_PROTOCOL);
    assert_int_equal(parse(&st, "\x82\xfe\x00\x7e\0\0\0\0", 8, &f, &code),
                     WSPROTO_FRAME); /* 126 in 16 bits: the shortest */
}

/* The reader, one byte a read: a ping's payload comes whole, once. */
static void test_wsproto_reader_byte_by_byte(void **state)
{
    static const uint8_t ping[] = {0x89, 0x83,    1,       2,      3,
                                   4,    'a' ^ 1, 'b' ^ 2, 'c' ^ 3};
    struct wsproto_reader r = {0};
    size_t i, used;
    int pings = 0;

    for (i = 0; i < sizeof(ping); i++) {
        enum wsproto_event ev = wsproto_read(&r, ping + i, 1, &used);

        assert_int_equal(used, 1);
        if (ev == WSPROTO_EV_PING) {
            pings++;
            assert_int_equal(r.ctl_len, 3);
            assert_memory_equal(r.ctl, "abc", 3);
        } else {
            assert_int_equal(ev, WSPROTO_EV_MORE);
        }
    }
    assert_int_equal(pings, 1);
}

/* Text must be UTF-8 (1007), checked across fragments; close codes. */
static void test_wsproto_reader_utf8_and_close(void **state)
{
    static const uint8_t euro_split[] = {0x01, 0x82, 0, 0, 0, 0, 0xe2, 0x82,
                                         0x80, 0x81, 0, 0, 0, 0, 0xac};
    static const uint8_t bad[] = {0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28};
    static const uint8_t close_1005[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xed};
    static const uint8_t close_ok[] = {0x88, 0x83, 0, 0, 0, 0, 0x0b, 0xb8, 'x'};
    struct wsproto_reader r = {0};
    size_t used;

    assert_int_equal(wsproto_read(&r, euro_split, sizeof(euro_split), &used),
                     WSPROTO_EV_DATA);
    assert_int_equal(
        wsproto_read(&r, euro_split + used, sizeof(euro_split) - used, &used),
        WSPROTO_EV_DATA);
    memset(&r, 0, sizeof(r));
    assert_int_equal(wsproto_read(&r, bad, sizeof(bad), &used),
                     WSPROTO_EV_REFUSE);
    assert_int_equal(r.code, WSPROTO_CLOSE_BAD_DATA);
    memset(&r, 0, sizeof(r));
    assert_int_equal(wsproto_read(&r, close_1005, sizeof(close_1005), &used),
                     WSPROTO_EV_REFUSE);
    assert_int_equal(r.code, WSPROTO_CLOSE_PROTOCOL);
    memset(&r, 0, sizeof(r));
    assert_int_equal(wsproto_read(&r, close_ok, sizeof(close_ok), &used),
                     WSPROTO_EV_CLOSE);
    assert_int_equal(r.code, 3000);
}

static void test_wsproto_server_headers(void **state)
{
    uint8_t h[WSPROTO_HDR_MAX];

    assert_int_equal(wsproto_header(h, WSPROTO_OP_PONG, 5), 2);
    assert_memory_equal(h, "\x8a\x05", 2);
    assert_int_equal(wsproto_header(h, WSPROTO_OP_TEXT, 300), 4);
    assert_memory_equal(h, "\x81\x7e\x01\x2c", 4);
    assert_int_equal(wsproto_header(h, WSPROTO_OP_TEXT, 70000), 10);
    assert_memory_equal(h, "\x81\x7f\0\0\0\0\0\x01\x11\x70", 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wsproto_accept_rfc_example),
        cmocka_unit_test(test_wsproto_small_text),
        cmocka_unit_test(test_wsproto_huge_refused_on_header),
        cmocka_unit_test(test_wsproto_fragments_count_toward_limit),
        cmocka_unit_test(test_wsproto_protocol_errors),
        cmocka_unit_test(test_wsproto_length_encoding),
        cmocka_unit_test(test_wsproto_reader_byte_by_byte),
        cmocka_unit_test(test_wsproto_reader_utf8_and_close),
        cmocka_unit_test(test_wsproto_server_headers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
