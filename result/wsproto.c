/* wsproto.c - RFC 6455 frame headers and the handshake key; see
 * wsproto.h. SHA-1 (FIPS 180-4) is here, small, for the one 60-byte
 * input the handshake hashes: no crypto library for that. */
#include "result/wsproto.h"

#include <errno.h>
#include <string.h>

#define GUID    "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define KEY_LEN 24 /* base64 of 16 bytes */

static int is_control(int opcode)
{
    return opcode >= WSPROTO_OP_CLOSE;
}

static int known_opcode(int op)
{
    return op == WSPROTO_OP_CONT || op == WSPROTO_OP_TEXT ||
           op == WSPROTO_OP_BINARY || op == WSPROTO_OP_CLOSE ||
           op == WSPROTO_OP_PING || op == WSPROTO_OP_PONG;
}

/* The payload length field: 7 bits, or 16 / 64 bits after it. Returns
 * the header length without the mask key, or 0 when n is too short. */
static size_t read_length(const uint8_t *buf, size_t n, uint64_t *len)
{
    unsigned b = buf[1] & 0x7f;
    int i;

    if (b < 126) {
        *len = b;
        return 2;
    }
    if (b == 126) {
        if (n < 4)
            return 0;
        *len = ((uint64_t)buf[2] << 8) | buf[3];
        return 4;
    }
    if (n < 10)
        return 0;
    *len = 0;
    for (i = 2; i < 10; i++)
        *len = (*len << 8) | buf[i];
    return 10;
}

/* RFC 6455 5.2: the shortest encoding of the length, and a 64-bit
 * length's top bit clear. 0 or 1002. */
static uint16_t check_length(size_t hdr, uint64_t len)
{
    if ((hdr == 4 && len < 126) || (hdr == 10 && len <= 0xffff) || (len >> 63))
        return WSPROTO_CLOSE_PROTOCOL;
    return 0;
}

/* Fragmentation and size rules for a whole header. 0 or a close code. */
static uint16_t check_frame(const struct wsproto_state *st, int fin, int op,
                            uint64_t len)
{
    if (is_control(op))
        return (!fin || len > WSPROTO_MAX_CONTROL) ? WSPROTO_CLOSE_PROTOCOL : 0;
    if (op == WSPROTO_OP_CONT && !st->in_message)
        return WSPROTO_CLOSE_PROTOCOL;
    if (op != WSPROTO_OP_CONT && st->in_message)
        return WSPROTO_CLOSE_PROTOCOL;
    if (len > WSPROTO_MAX_MESSAGE ||
        st->message_len + len > WSPROTO_MAX_MESSAGE)
        return WSPROTO_CLOSE_TOO_BIG;
    return 0;
}

enum wsproto_verdict wsproto_parse(struct wsproto_state *st, const uint8_t *buf,
                                   size_t n, struct wsproto_frame *f,
                                   uint16_t *close_code)
{
    uint64_t len;
    size_t hdr;
    int fin, op;

    if (n < 2)
        return WSPROTO_NEED_MORE;
    fin = (buf[0] & 0x80) != 0;
    op = buf[0] & 0x0f;
    /* Decided on the first two bytes where possible. */
    if ((buf[0] & 0x70) || !(buf[1] & 0x80) || !known_opcode(op)) {
        *close_code = WSPROTO_CLOSE_PROTOCOL;
        return WSPROTO_REFUSE;
    }
    hdr = read_length(buf, n, &len);
    if (hdr == 0)
        return WSPROTO_NEED_MORE;
    *close_code = check_length(hdr, len);
    if (!*close_code)
        *close_code = check_frame(st, fin, op, len);
    if (*close_code)
        return WSPROTO_REFUSE;
    if (n < hdr + 4)
        return WSPROTO_NEED_MORE;
    f->fin = fin;
    f->opcode = op;
    f->hdr_len = hdr + 4;
    f->payload_len = (size_t)len;
    memcpy(f->mask, buf + hdr, 4);
    if (!is_control(op)) {
        st->message_len = fin ? 0 : st->message_len + len;
        st->in_message = !fin;
    }
    return WSPROTO_FRAME;
}

void wsproto_unmask(const struct wsproto_frame *f, uint8_t *p, size_t len,
                    size_t off)
{
    size_t i;

    for (i = 0; i < len; i++)
        p[i] ^= f->mask[(off + i) & 3];
}

size_t wsproto_header(uint8_t *out, int opcode, uint64_t len)
{
    int i;

    out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

int wsproto_close_code_ok(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1011) ||
           (code >= 3000 && code <= 4999);
}

/* UTF-8 (RFC 3629) one byte at a time. States: 0 at a boundary, 1-3
 * continuation bytes still due, 4-7 a second byte with a narrower range
 * (no overlong forms, no surrogates, nothing past U+10FFFF), 8 invalid. */
static uint8_t utf8_step(uint8_t st, uint8_t b)
{
    switch (st) {
    case 0:
        if (b < 0x80)
            return 0;
        if (b >= 0xc2 && b <= 0xdf)
            return 1;
        if (b == 0xe0)
            return 4;
        if (b == 0xed)
            return 5;
        if (b >= 0xe1 && b <= 0xef)
            return 2;
        if (b == 0xf0)
            return 6;
        if (b >= 0xf1 && b <= 0xf3)
            return 3;
        return b == 0xf4 ? 7 : 8;
    case 1:
    case 2:
    case 3:
        return (b >= 0x80 && b <= 0xbf) ? st - 1 : 8;
    case 4:
        return (b >= 0xa0 && b <= 0xbf) ? 1 : 8;
    case 5:
        return (b >= 0x80 && b <= 0x9f) ? 1 : 8;
    case 6:
        return (b >= 0x90 && b <= 0xbf) ? 2 : 8;
    case 7:
        return (b >= 0x80 && b <= 0x8f) ? 2 : 8;
    default:
        return 8;
    }
}

/* Takes header bytes from p; the number used, or -1 when refused. */
static long take_header(struct wsproto_reader *r, const uint8_t *p, size_t n)
{
    size_t take = sizeof(r->hdr) - r->hdr_have;
    size_t before = r->hdr_have;

    if (take > n)
        take = n;
    memcpy(r->hdr + r->hdr_have, p, take);
    r->hdr_have = (uint8_t)(r->hdr_have + take);
    switch (wsproto_parse(&r->st, r->hdr, r->hdr_have, &r->f, &r->code)) {
    case WSPROTO_NEED_MORE:
        return (long)take;
    case WSPROTO_REFUSE:
        return -1;
    default:
        r->hdr_have = 0;
        r->in_payload = 1;
        r->payload_have = 0;
        if (r->f.opcode == WSPROTO_OP_TEXT ||
            r->f.opcode == WSPROTO_OP_BINARY) {
            r->text = r->f.opcode == WSPROTO_OP_TEXT;
            r->utf8 = 0;
        }
        return (long)(r->f.hdr_len - before);
    }
}

/* Payload bytes: a control frame's are kept, a text message's checked. 0,
 * or -1 on bad UTF-8. */
static int take_payload(struct wsproto_reader *r, const uint8_t *p, size_t n)
{
    size_t i, at = r->payload_have;

    r->payload_have += n;
    if (r->f.opcode >= WSPROTO_OP_CLOSE) {
        memcpy(r->ctl + at, p, n);
        wsproto_unmask(&r->f, r->ctl + at, n, at);
        return 0;
    }
    if (!r->text)
        return 0;
    for (i = 0; i < n; i++)
        r->utf8 = utf8_step(r->utf8, p[i] ^ r->f.mask[(at + i) & 3]);
    return r->utf8 == 8 ? -1 : 0;
}

/* The client's close (RFC 6455 5.5.1, 7.4): which code to answer. */
static enum wsproto_event close_frame(struct wsproto_reader *r)
{
    uint8_t st = 0;
    size_t i;

    if (r->ctl_len == 0) {
        r->code = WSPROTO_CLOSE_NORMAL;
        return WSPROTO_EV_CLOSE;
    }
    r->code = (uint16_t)(r->ctl_len >= 2 ? r->ctl[0] << 8 | r->ctl[1] : 0);
    if (!wsproto_close_code_ok(r->code)) {
        r->code = WSPROTO_CLOSE_PROTOCOL;
        return WSPROTO_EV_REFUSE;
    }
    for (i = 2; i < r->ctl_len; i++)
        st = utf8_step(st, r->ctl[i]);
    if (st != 0) {
        r->code = WSPROTO_CLOSE_BAD_DATA;
        return WSPROTO_EV_REFUSE;
    }
    return WSPROTO_EV_CLOSE;
}

/* A whole frame was read. */
static enum wsproto_event frame_end(struct wsproto_reader *r)
{
    r->in_payload = 0;
    switch (r->f.opcode) {
    case WSPROTO_OP_PING:
        r->ctl_len = (uint16_t)r->f.payload_len;
        return WSPROTO_EV_PING;
    case WSPROTO_OP_PONG:
        return WSPROTO_EV_PONG;
    case WSPROTO_OP_CLOSE:
        r->ctl_len = (uint16_t)r->f.payload_len;
        return close_frame(r);
    default:
        if (r->f.fin && r->text && r->utf8 != 0) {
            r->code = WSPROTO_CLOSE_BAD_DATA; /* ends mid-character */
            return WSPROTO_EV_REFUSE;
        }
        return WSPROTO_EV_DATA;
    }
}

enum wsproto_event wsproto_read(struct wsproto_reader *r, const uint8_t *p,
                                size_t n, size_t *used)
{
    size_t off = 0, take;
    long k;

    while (off < n) {
        if (!r->in_payload) {
            k = take_header(r, p + off, n - off);
            if (k < 0)
                break;
            off += (size_t)k;
            if (!r->in_payload || r->f.payload_len > 0)
                continue;
        } else {
            take = r->f.payload_len - r->payload_have;
            if (take > n - off)
                take = n - off;
            if (take_payload(r, p + off, take)) {
                r->code = WSPROTO_CLOSE_BAD_DATA;
                break;
            }
            off += take;
            if (r->payload_have < r->f.payload_len)
                continue;
        }
        *used = off;
        return frame_end(r);
    }
    *used = n;
    return off < n ? WSPROTO_EV_REFUSE : WSPROTO_EV_MORE;
}

/* SHA-1 of a message shorter than 120 bytes (two blocks at most). */
static uint32_t rol(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
    uint32_t w[80], a, b, c, d, e, f, k, t;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (i = 16; i < 80; i++)
        w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
    for (i = 0; i < 80; i++) {
        if (i < 20)
            f = (b & c) | (~b & d), k = 0x5a827999;
        else if (i < 40)
            f = b ^ c ^ d, k = 0x6ed9eba1;
        else if (i < 60)
            f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
        else
            f = b ^ c ^ d, k = 0xca62c1d6;
        t = rol(a, 5) + f + e + k + w[i];
        e = d, d = c, c = rol(b, 30), b = a, a = t;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1_short(const uint8_t *msg, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
                     0xc3d2e1f0};
    uint8_t buf[128] = {0};
    size_t blocks = len + 9 > 64 ? 2 : 1;
    uint64_t bits = (uint64_t)len * 8;
    int i;

    memcpy(buf, msg, len);
    buf[len] = 0x80;
    for (i = 0; i < 8; i++)
        buf[blocks * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
    sha1_block(h, buf);
    if (blocks == 2)
        sha1_block(h, buf + 64);
    for (i = 0; i < 20; i++)
        out[i] = (uint8_t)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static const char B64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void base64_20(const uint8_t in[20], char *out)
{
    uint32_t v;
    int i, o = 0;

    for (i = 0; i < 18; i += 3) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64[(v >> 18) & 63];
        out[o++] = B64[(v >> 12) & 63];
        out[o++] = B64[(v >> 6) & 63];
        out[o++] = B64[v & 63];
    }
    v = (uint32_t)in[18] << 16 | (uint32_t)in[19] << 8;
    out[o++] = B64[(v >> 18) & 63];
    out[o++] = B64[(v >> 12) & 63];
    out[o++] = B64[(v >> 6) & 63];
    out[o++] = '=';
    out[o] = '\0';
}

/* 24 characters of base64 ending in "==": 16 bytes. */
static int valid_key(const char *key)
{
    size_t i;

    if (strlen(key) != KEY_LEN || strcmp(key + KEY_LEN - 2, "==") != 0)
        return 0;
    for (i = 0; i < KEY_LEN - 2; i++)
        if (!strchr(B64, key[i]) || key[i] == '\0')
            return 0;
    return 1;
}

int wsproto_accept(const char *key, char *out)
{
    uint8_t msg[KEY_LEN + sizeof(GUID)], sha[20];

    if (!valid_key(key))
        return -EINVAL;
    memcpy(msg, key, KEY_LEN);
    memcpy(msg + KEY_LEN, GUID, sizeof(GUID) - 1);
    sha1_short(msg, KEY_LEN + sizeof(GUID) - 1, sha);
    base64_20(sha, out);
    return 0;
}
