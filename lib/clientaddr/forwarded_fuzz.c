/* forwarded_fuzz.c - libFuzzer target: which client address vote and result
 * count, clientaddr_get() on a trusted proxy list (clientaddr_parse_nets()), a
 * peer and an X-Forwarded-For header, all untrusted input but the list.
 *
 * Input: "TRUSTED\nPEER\nXFF" (missing parts are empty; no XFF line: no
 * header). The answer must be what a second, plainer walk gives: the peer
 * when it is not trusted; else, entry by entry from the right (at most
 * CLIENTADDR_XFF_MAX), the first that is not trusted, stopping at the hop
 * before an entry that does not parse; and it prints back to itself. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "lib/clientaddr/clientaddr.h"

static int in_nets(const struct clientaddr *a,
                   const struct clientaddr_net *nets, int n)
{
    unsigned bit;
    int i, same;

    for (i = 0; i < n; i++) {
        same = 1;
        for (bit = 0; bit < nets[i].bits && same; bit++)
            same = ((a->b[bit / 8] ^ nets[i].addr.b[bit / 8]) &
                    (0x80 >> (bit % 8))) == 0;
        if (same)
            return 1;
    }
    return 0;
}

/* The walk of clientaddr.h, entry by entry off the end of a copy. */
static void reference(const struct clientaddr *peer, char *xff,
                      const struct clientaddr_net *nets, int n,
                      struct clientaddr *out)
{
    struct clientaddr hop;
    char *comma, *p, *e;
    int k;

    *out = *peer;
    for (k = 0; xff && k < CLIENTADDR_XFF_MAX; k++) {
        if (!in_nets(out, nets, n))
            return;
        comma = strrchr(xff, ',');
        p = comma ? comma + 1 : xff;
        p += strspn(p, " \t");
        e = p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (e - p >= 64 || clientaddr_parse(p, &hop) != 0)
            return;
        *out = hop;
        if (!comma)
            return;
        *comma = '\0';
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct clientaddr_net nets[CLIENTADDR_MAX_TRUSTED];
    struct clientaddr peer_addr, got, want, back;
    char *s = malloc(size + 1), *peer, *xff = NULL, *copy = NULL;
    char shown[64];
    int n, bad;

    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    peer = strchr(s, '\n');
    if (peer) {
        *peer++ = '\0';
        xff = strchr(peer, '\n');
        if (xff)
            *xff++ = '\0';
    } else {
        peer = s + size;
    }
    n = clientaddr_parse_nets(s, nets, CLIENTADDR_MAX_TRUSTED, &bad);
    FUZZ_CHECK(n >= -22 && n <= CLIENTADDR_MAX_TRUSTED);
    if (n < 0) {
        FUZZ_CHECK(bad >= 0 && bad <= CLIENTADDR_MAX_TRUSTED);
        n = 0;
    }
    if (clientaddr_get(peer, xff, nets, n, &got)) {
        FUZZ_CHECK(clientaddr_parse(peer, &peer_addr) != 0);
        free(s);
        return 0;
    }
    FUZZ_CHECK(clientaddr_parse(peer, &peer_addr) == 0);
    if (xff) {
        copy = strdup(xff);
        if (!copy)
            abort();
    }
    reference(&peer_addr, copy, nets, n, &want);
    FUZZ_CHECK(memcmp(&got, &want, sizeof(got)) == 0);
    if (!in_nets(&peer_addr, nets, n))
        FUZZ_CHECK(memcmp(&got, &peer_addr, sizeof(got)) == 0);
    clientaddr_format(&got, shown, sizeof(shown));
    FUZZ_CHECK(clientaddr_parse(shown, &back) == 0);
    FUZZ_CHECK(memcmp(&got, &back, sizeof(got)) == 0);
    free(copy);
    free(s);
    return 0;
}
