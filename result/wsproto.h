/* wsproto.h - the parts of RFC 6455 that result needs, with no I/O: the
 * handshake's Sec-WebSocket-Accept, the decision on each frame a client
 * sends (taken on its header alone, before any payload is read), and the
 * header of a frame result sends, and the stateful reader that turns a
 * client's bytes, however the reads cut them, into the events result
 * answers (ping, pong, close, a refusal with its close code). Pure: bytes
 * in, answer out; wsproto_fuzz.c fuzzes wsproto_parse() and the reader
 * (split and coalesced reads).
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
#define WSPROTO_CLOSE_BAD_DATA 1007 /* not UTF-8 where text is due */
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
 * message or a new message inside one, a length not in its shortest
 * encoding or with the 64-bit top bit set; and (1009) a data frame that
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

/* A close code a peer may send (RFC 6455 7.4): 1000-1003, 1007-1011,
 * 3000-4999. */
int wsproto_close_code_ok(unsigned code);

/* The stateful reader: one per connection, zeroed at connect. It keeps
 * a frame's header until it is whole (then judged by wsproto_parse()),
 * a control frame's payload (125 bytes at most), and where a text
 * message's UTF-8 stands; data payloads are checked and dropped. */
struct wsproto_reader {
    struct wsproto_state st;
    struct wsproto_frame f;
    uint8_t hdr[WSPROTO_HDR_MAX];
    uint8_t hdr_have;
    uint8_t in_payload;
    uint8_t text;     /* the open message is text: its UTF-8 is checked */
    uint8_t utf8;     /* UTF-8 decoder state (0: at a character boundary) */
    uint16_t ctl_len; /* bytes of a control payload (ctl), after an event */
    uint16_t code;    /* the close code to send, after CLOSE or REFUSE */
    size_t payload_have;
    uint8_t ctl[WSPROTO_MAX_CONTROL]; /* unmasked control payload */
};

enum wsproto_event {
    WSPROTO_EV_MORE,   /* all n bytes taken: read more */
    WSPROTO_EV_PING,   /* ctl[ctl_len] is the payload to pong */
    WSPROTO_EV_PONG,   /* the client is alive */
    WSPROTO_EV_DATA,   /* a data frame was read (and dropped) */
    WSPROTO_EV_CLOSE,  /* the client's close: answer with code */
    WSPROTO_EV_REFUSE, /* a rule was broken: close with code, read no more */
};

/* Takes bytes from p[0..n) up to and including the next event, and says
 * how many in *used; call again with the rest. After CLOSE or REFUSE the
 * connection reads nothing more. CLOSE's code is the client's own when
 * valid, 1000 when it sent none, 1002 for a bad code or a 1-byte payload,
 * 1007 for a reason that is not UTF-8. */
enum wsproto_event wsproto_read(struct wsproto_reader *r, const uint8_t *p,
                                size_t n, size_t *used);

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: base64 of the
 * SHA-1 of key + the RFC's GUID, into out[WSPROTO_ACCEPT_LEN + 1]. 0, or
 * -EINVAL when key is not 24 base64 characters (a 16-byte nonce). */
int wsproto_accept(const char *key, char *out);

#endif
