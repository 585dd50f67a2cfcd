/* wsreader_fuzz.c - libFuzzer target for the stateful reader,
 * wsproto_read(): the input's first byte picks how the rest (what a client
 * sends after the handshake) is cut into reads; the same bytes go through
 * one reader in a single read (coalesced) and through another in those
 * pieces (split, as the socket may deliver them). Both must see the same
 * events with the same codes and ping payloads, always make progress, and
 * keep wsproto's promises: a refusal is 1002, 1007 or 1009; a close
 * answers with a code a peer may send; a control payload is <= 125 bytes;
 * nothing is read after a close or a refusal. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result/wsproto.h"
#include "tests/fuzz/fuzz.h"

#define EVENTS_MAX 4096

struct trace {
    size_t n;
    uint8_t ev[EVENTS_MAX];
    uint16_t code[EVENTS_MAX];
    uint32_t ping_sum[EVENTS_MAX]; /* of the ping payload */
    int ended;
};

static void record(struct trace *t, const struct wsproto_reader *r,
                   enum wsproto_event ev)
{
    uint32_t sum = 0;
    size_t i;

    FUZZ_CHECK(r->ctl_len <= WSPROTO_MAX_CONTROL);
    if (ev == WSPROTO_EV_REFUSE)
        FUZZ_CHECK(r->code == WSPROTO_CLOSE_PROTOCOL ||
                   r->code == WSPROTO_CLOSE_BAD_DATA ||
                   r->code == WSPROTO_CLOSE_TOO_BIG);
    if (ev == WSPROTO_EV_CLOSE)
        FUZZ_CHECK(wsproto_close_code_ok(r->code));
    if (ev == WSPROTO_EV_PING)
        for (i = 0; i < r->ctl_len; i++)
            sum = sum * 31 + r->ctl[i];
    if (t->n < EVENTS_MAX) {
        t->ev[t->n] = (uint8_t)ev;
        t->code[t->n] = ev == WSPROTO_EV_PING ? 0 : r->code;
        t->ping_sum[t->n] = sum;
        t->n++;
    }
    if (ev == WSPROTO_EV_CLOSE || ev == WSPROTO_EV_REFUSE)
        t->ended = 1;
}

/* Runs p[0..n) through r as one read; stops at the end of the connection. */
static void feed(struct wsproto_reader *r, struct trace *t, const uint8_t *p,
                 size_t n)
{
    enum wsproto_event ev;
    size_t used;

    while (n > 0 && !t->ended) {
        ev = wsproto_read(r, p, n, &used);
        FUZZ_CHECK(used <= n);
        FUZZ_CHECK(used > 0); /* progress, always */
        p += used;
        n -= used;
        if (ev == WSPROTO_EV_MORE)
            FUZZ_CHECK(n == 0);
        else
            record(t, r, ev);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct trace whole, split;
    struct wsproto_reader a, b;
    unsigned seed;
    size_t off = 0, piece;

    if (size < 1)
        return 0;
    seed = data[0];
    data++;
    size--;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&whole, 0, sizeof(whole));
    memset(&split, 0, sizeof(split));
    feed(&a, &whole, data, size);
    while (off < size && !split.ended) {
        seed = seed * 1103515245u + 12345u;
        piece = 1 + (seed >> 16) % 17; /* 1..17 bytes a read */
        if (piece > size - off)
            piece = size - off;
        feed(&b, &split, data + off, piece);
        off += piece;
    }
    FUZZ_CHECK(whole.n == split.n && whole.ended == split.ended);
    FUZZ_CHECK(memcmp(whole.ev, split.ev, whole.n) == 0);
    FUZZ_CHECK(memcmp(whole.code, split.code, whole.n * 2) == 0);
    FUZZ_CHECK(memcmp(whole.ping_sum, split.ping_sum, whole.n * 4) == 0);
    return 0;
}
