/* wsproto_fuzz.c - libFuzzer target for wsproto_parse(): the input is
 * what a client sends after the handshake. It is cut into frames the way
 * the reader takes them (header judged first, then the payload skipped), and
 * every answer must keep wsproto's promises: no frame over the limits, no
 * message past WSPROTO_MAX_MESSAGE, a refusal always with 1002 or 1009.
 * The first 24 bytes also go through wsproto_accept(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "result/wsproto.h"
#include "tests/fuzz/fuzz.h"

static void check_accept(const uint8_t *data, size_t size)
{
    char key[25], out[WSPROTO_ACCEPT_LEN + 1];

    if (size < 24)
        return;
    memcpy(key, data, 24);
    key[24] = '\0';
    if (wsproto_accept(key, out) == 0 && strlen(out) != WSPROTO_ACCEPT_LEN)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wsproto_state st = {0};
    struct wsproto_frame f;
    uint16_t code = 0;
    size_t off = 0, n;

    check_accept(data, size);
    while (off < size) {
        n = size - off;
        if (n > WSPROTO_HDR_MAX) /* the reader never shows more */
            n = WSPROTO_HDR_MAX;
        switch (wsproto_parse(&st, data + off, n, &f, &code)) {
        case WSPROTO_NEED_MORE:
            return 0;
        case WSPROTO_REFUSE:
            if (code != WSPROTO_CLOSE_PROTOCOL && code != WSPROTO_CLOSE_TOO_BIG)
                abort();
            return 0;
        case WSPROTO_FRAME:
            if (f.hdr_len > n || f.hdr_len < 6 ||
                f.payload_len > WSPROTO_MAX_MESSAGE ||
                st.message_len > WSPROTO_MAX_MESSAGE ||
                (f.opcode >= WSPROTO_OP_CLOSE &&
                 (f.payload_len > WSPROTO_MAX_CONTROL || !f.fin)))
                abort();
            off += f.hdr_len + f.payload_len;
            break;
        default:
            abort();
        }
    }
    return 0;
}
