/* natsconn_fuzz.c - libFuzzer target: NATS_URL as a server list through
 * natsconn_parse(), and any text through config_redact_url(), which is what
 * logs and /readyz show of it.
 *
 * Input: the NATS_URL value (cut at a NUL, as getenv() would). Beyond "no
 * crash": a list accepted has 1 to NATSCONN_MAX_SERVERS servers that each
 * parse as a nats:// URL, and no shown form of it (the redacted list, or
 * one entry through config_redact_url()) keeps a user:password@ part. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config/config.h"
#include "lib/natsconn/natsconn.h"
#include "tests/fuzz/fuzz.h"

/* 1 when the entry that starts s (up to a comma) holds no '@'. */
static int no_userinfo(const char *s)
{
    const char *at = strchr(s, '@');
    const char *comma = strchr(s, ',');

    return !at || (comma && comma < at);
}

static void check_list(const char *list)
{
    struct natsconn c;
    struct config_url u;
    const char *p;
    int bad, i;

    if (natsconn_parse(&c, list, &bad)) {
        FUZZ_CHECK(bad >= 0 && bad <= NATSCONN_MAX_SERVERS);
        return;
    }
    FUZZ_CHECK(c.n_servers >= 1 && c.n_servers <= NATSCONN_MAX_SERVERS);
    for (i = 0; i < c.n_servers; i++)
        FUZZ_CHECK(config_parse_url(c.servers[i], "nats", NATSCONN_DEFAULT_PORT,
                                    &u) == 0);
    for (p = c.redacted; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        FUZZ_CHECK(no_userinfo(p));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), out[600];
    const char *entry;

    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    check_list(s);
    /* what redact_list() does with each entry of a list it refused */
    config_redact_url(s, out, sizeof(out));
    FUZZ_CHECK(strlen(out) < sizeof(out));
    entry = strchr(s, ',') ? NULL : s;
    if (entry && out[0])
        FUZZ_CHECK(no_userinfo(out));
    free(s);
    return 0;
}
