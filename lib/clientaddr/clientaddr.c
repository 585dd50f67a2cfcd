/* clientaddr.c - the client's address behind trusted proxies; see
 * clientaddr.h. */
#include "lib/clientaddr/clientaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config/config.h"

int clientaddr_parse(const char *s, struct clientaddr *out)
{
    struct in_addr v4;

    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, s, &v4) == 1) {
        out->b[10] = 0xff;
        out->b[11] = 0xff;
        memcpy(out->b + 12, &v4, 4);
        return 0;
    }
    return inet_pton(AF_INET6, s, out->b) == 1 ? 0 : -EINVAL;
}

/* One entry "addr[/bits]" of [s, s+len), blanks trimmed. */
static int parse_net(const char *s, size_t len, struct clientaddr_net *out)
{
    char one[64], *slash, *end;
    long bits;
    int v4;

    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof(one))
        return -EINVAL;
    memcpy(one, s, len);
    one[len] = '\0';
    slash = strchr(one, '/');
    if (slash)
        *slash = '\0';
    v4 = strchr(one, ':') == NULL;
    if (clientaddr_parse(one, &out->addr))
        return -EINVAL;
    out->bits = 128;
    if (!slash)
        return 0;
    bits = strtol(slash + 1, &end, 10);
    if (end == slash + 1 || *end || bits < 0 || bits > (v4 ? 32 : 128))
        return -EINVAL;
    out->bits = (unsigned)bits + (v4 ? 96 : 0);
    return 0;
}

int clientaddr_parse_nets(const char *list, struct clientaddr_net *out, int max,
                          int *bad)
{
    const char *p = list, *comma;
    int n = 0;

    *bad = 0;
    if (!list || !*list)
        return 0;
    for (;;) {
        comma = strchr(p, ',');
        if (n >= max)
            return -EINVAL;
        if (parse_net(p, comma ? (size_t)(comma - p) : strlen(p), &out[n])) {
            *bad = n + 1;
            return -EINVAL;
        }
        n++;
        if (!comma)
            return n;
        p = comma + 1;
    }
}

int clientaddr_load(const char *name, struct clientaddr_net *out, int *n)
{
    const char *list = getenv(name);
    char why[128];
    int bad;

    *n = clientaddr_parse_nets(list, out, CLIENTADDR_MAX_TRUSTED, &bad);
    if (*n >= 0)
        return 0;
    *n = 0;
    if (bad)
        snprintf(why, sizeof(why),
                 "entry %d is not an IP address or a CIDR block like "
                 "10.0.0.0/8 (a list is comma-separated)",
                 bad);
    else
        snprintf(why, sizeof(why), "at most %d entries",
                 CLIENTADDR_MAX_TRUSTED);
    return config_invalid(name, list, why);
}

static int in_net(const struct clientaddr *a, const struct clientaddr_net *net)
{
    unsigned full = net->bits / 8, rest = net->bits % 8;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));

    if (memcmp(a->b, net->addr.b, full) != 0)
        return 0;
    return rest == 0 || ((a->b[full] ^ net->addr.b[full]) & mask) == 0;
}

static int trusted(const struct clientaddr *a,
                   const struct clientaddr_net *nets, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (in_net(a, &nets[i]))
            return 1;
    return 0;
}

int clientaddr_get(const char *peer, const char *xff,
                   const struct clientaddr_net *nets, int n,
                   struct clientaddr *out)
{
    struct clientaddr hop;
    const char *end = xff ? xff + strlen(xff) : NULL, *start;
    char one[64];
    size_t len;
    int i;

    if (clientaddr_parse(peer, out))
        return -EINVAL;
    for (i = 0; end && i < CLIENTADDR_XFF_MAX && trusted(out, nets, n); i++) {
        if (end == xff)
            return 0; /* every entry trusted: the left-most */
        start = end;
        while (start > xff && start[-1] != ',')
            start--;
        len = (size_t)(end - start);
        end = start > xff ? start - 1 : xff;
        while (len && (*start == ' ' || *start == '\t'))
            start++, len--;
        while (len && (start[len - 1] == ' ' || start[len - 1] == '\t'))
            len--;
        if (len == 0 || len >= sizeof(one))
            return 0; /* the hop that sent it */
        memcpy(one, start, len);
        one[len] = '\0';
        if (clientaddr_parse(one, &hop))
            return 0;
        *out = hop;
    }
    return 0;
}

const char *clientaddr_format(const struct clientaddr *a, char *out, size_t n)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    if (memcmp(a->b, mapped, sizeof(mapped)) == 0)
        inet_ntop(AF_INET, a->b + 12, out, (socklen_t)n);
    else
        inet_ntop(AF_INET6, a->b, out, (socklen_t)n);
    return out;
}
