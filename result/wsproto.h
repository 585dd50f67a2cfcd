/* wsproto.h - the parts of RFC 6455 that result needs, with no I/O: the
 * handshake's Sec-WebSocket-Accept, the decision on each frame a client
 * sends (taken on its header alone, before any payload is read), and the
 * header of a frame result sends. Pure functions: bytes in, answer out;
 * wsproto_fuzz.c fuzzes wsproto_parse().
 *
 * Clients of /api/results/ws have nothing to say but pings, pongs and
 * close: a message (all its fragments) larger than WSPROTO_MAX_MESSAGE
 * bytes is refused with 1009 as soon as the header that crosses the limit
 * is seen, so no client can make result buffer more than that. */
#ifndef RESULT_WSPROTO_H
#define RESULT_WSPROTO_H

#include <stddef.h>
#include <stdint.h>

#define WSPROTO_MAX_MESSAGE 1024 /* payload bytes in one client message */
#define WSPROTO_MAX_CONTROL 125  /* payload bytes in a control frame */
#define WSPROTO_HDR_MAX     14   /* 2 + 8 (length) + 4 (mask key) */
#define WSPROTO_ACCEPT_LEN  28   /* base64 of a SHA-1 */

#define WSPROTO_OP_CONT   0x0
#define WSPROTO_OP_TEXT   0x1
#define WSPROTO_OP_BINARY 0x2
#define WSPROTO_OP_CLOSE  0x8
#define WSPROTO_OP_PING   0x9
#define WSPROTO_OP_PONG   0xa

#define WSPROTO_CLOSE_NORMAL   1000
#define WSPROTO_CLOSE_GOING    1001
#define WSPROTO_CLOSE_PROTOCOL 1002
#define WSPROTO_CLOSE_TOO_BIG  1009

/* What one connection remembers between frames: a fragmented message
 * still open, and its payload bytes so far. Zero it at connect. */
struct wsproto_state {
    int in_message;
    uint64_t message_len;
};

/* One client frame's header. */
struct wsproto_frame {
    int fin;
    int opcode;
    size_t hdr_len;     /* bytes of header, mask key included */
    size_t payload_len; /* never more than WSPROTO_MAX_MESSAGE */
    uint8_t mask[4];
};

enum wsproto_verdict {
    WSPROTO_NEED_MORE, /* the header is not complete: read more */
    WSPROTO_FRAME,     /* *f holds the header; st is updated */
    WSPROTO_REFUSE,    /* close the connection with *close_code */
};

/* Looks at the first n bytes of a client frame (buf holds the header and
 * possibly more). Refuses (1002) what a client must not send: reserved
 * bits (no extension is negotiated), an unmasked frame, an unknown
 * opcode, a fragmented or long control frame, a continuation outside a
 * message or a new message inside one; and (1009) a data frame that
 * takes its message past WSPROTO_MAX_MESSAGE. st is only changed on
 * WSPROTO_FRAME. */
enum wsproto_verdict wsproto_parse(struct wsproto_state *st, const uint8_t *buf,
                                   size_t n, struct wsproto_frame *f,
                                   uint16_t *close_code);

/* Unmasks len payload bytes in place; off is the offset of p[0] in the
 * frame's payload. */
void wsproto_unmask(const struct wsproto_frame *f, uint8_t *p, size_t len,
                    size_t off);

/* Writes the header of a final, unmasked frame (as servers send) into
 * out[WSPROTO_HDR_MAX]; returns its length. */
size_t wsproto_header(uint8_t *out, int opcode, uint64_t len);

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: base64 of the
 * SHA-1 of key + the RFC's GUID, into out[WSPROTO_ACCEPT_LEN + 1]. 0, or
 * -EINVAL when key is not 24 base64 characters (a 16-byte nonce). */
int wsproto_accept(const char *key, char *out);

#endif
