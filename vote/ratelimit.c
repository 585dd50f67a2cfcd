/* ratelimit.c - token buckets per client address; see ratelimit.h. */
#include "vote/ratelimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define N_SETS  (RATELIMIT_SLOTS / RATELIMIT_WAYS)
#define N_LOCKS 256

struct entry { /* 32 bytes */
    struct ratelimit_addr addr;
    int64_t seen_ms; /* last refill; 0: a free entry */
    double tokens;
};

struct ratelimit {
    double per_ms; /* tokens a millisecond */
    double burst;
    uint64_t key; /* random: which set an address lands in is not known */
    pthread_mutex_t locks[N_LOCKS];
    struct entry slots[RATELIMIT_SLOTS];
};

int ratelimit_new(struct ratelimit **out, unsigned per_min, unsigned burst)
{
    struct ratelimit *r;
    int i;

    *out = NULL;
    if (per_min == 0 || burst == 0)
        return -EINVAL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    if (getrandom(&r->key, sizeof(r->key), 0) != (ssize_t)sizeof(r->key)) {
        free(r);
        return -EIO;
    }
    r->per_ms = per_min / 60000.0;
    r->burst = burst;
    for (i = 0; i < N_LOCKS; i++)
        pthread_mutex_init(&r->locks[i], NULL);
    *out = r;
    return 0;
}

void ratelimit_free(struct ratelimit *r)
{
    int i;

    if (!r)
        return;
    for (i = 0; i < N_LOCKS; i++)
        pthread_mutex_destroy(&r->locks[i]);
    free(r);
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static unsigned set_of(const struct ratelimit *r,
                       const struct ratelimit_addr *a)
{
    uint64_t hi, lo;

    memcpy(&hi, a->b, 8);
    memcpy(&lo, a->b + 8, 8);
    return (unsigned)(mix(mix(hi ^ r->key) ^ lo) % N_SETS);
}

/* addr's entry in its set, or the one it takes: a free one, else the
 * least recently seen (a fresh, full bucket). */
static struct entry *find(struct ratelimit *r, struct entry *set,
                          const struct ratelimit_addr *a, int64_t now)
{
    struct entry *victim = &set[0];
    int i;

    for (i = 0; i < RATELIMIT_WAYS; i++) {
        if (set[i].seen_ms && memcmp(&set[i].addr, a, sizeof(*a)) == 0)
            return &set[i];
        if (set[i].seen_ms < victim->seen_ms)
            victim = &set[i];
    }
    victim->addr = *a;
    victim->seen_ms = now;
    victim->tokens = r->burst;
    return victim;
}

unsigned ratelimit_take(struct ratelimit *r, const struct ratelimit_addr *a,
                        int64_t now_ms)
{
    unsigned set = set_of(r, a), wait = 0;
    pthread_mutex_t *lock = &r->locks[set % N_LOCKS];
    struct entry *e;
    double t;

    pthread_mutex_lock(lock);
    e = find(r, &r->slots[set * RATELIMIT_WAYS], a, now_ms);
    t = e->tokens;
    if (now_ms > e->seen_ms) {
        t += (double)(now_ms - e->seen_ms) * r->per_ms;
        e->seen_ms = now_ms;
    }
    if (t > r->burst)
        t = r->burst;
    if (t >= 1.0) {
        t -= 1.0;
    } else {
        wait = (unsigned)(((1.0 - t) / r->per_ms + 999.0) / 1000.0);
        wait = wait ? wait : 1;
    }
    e->tokens = t;
    pthread_mutex_unlock(lock);
    return wait;
}

int ratelimit_parse_addr(const char *s, struct ratelimit_addr *out)
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
static int parse_net(const char *s, size_t len, struct ratelimit_net *out)
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
    if (ratelimit_parse_addr(one, &out->addr))
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

int ratelimit_parse_nets(const char *list, struct ratelimit_net *out, int max,
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

static int in_net(const struct ratelimit_addr *a,
                  const struct ratelimit_net *net)
{
    unsigned full = net->bits / 8, rest = net->bits % 8;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));

    if (memcmp(a->b, net->addr.b, full) != 0)
        return 0;
    return rest == 0 || ((a->b[full] ^ net->addr.b[full]) & mask) == 0;
}

static int trusted(const struct ratelimit_addr *a,
                   const struct ratelimit_net *nets, int n)
{
    int i;

    for (i = 0; i < n; i++)
        if (in_net(a, &nets[i]))
            return 1;
    return 0;
}

int ratelimit_client(const char *peer, const char *xff,
                     const struct ratelimit_net *nets, int n,
                     struct ratelimit_addr *out)
{
    struct ratelimit_addr hop;
    const char *end = xff ? xff + strlen(xff) : NULL, *start;
    char one[64];
    size_t len;
    int i;

    if (ratelimit_parse_addr(peer, out))
        return -EINVAL;
    for (i = 0; end && i < RATELIMIT_XFF_MAX && trusted(out, nets, n); i++) {
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
        if (ratelimit_parse_addr(one, &hop))
            return 0;
        *out = hop;
    }
    return 0;
}

const char *ratelimit_format(const struct ratelimit_addr *a, char *out,
                             size_t n)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
                                       0, 0, 0, 0, 0xff, 0xff};

    if (memcmp(a->b, mapped, sizeof(mapped)) == 0)
        inet_ntop(AF_INET, a->b + 12, out, (socklen_t)n);
    else
        inet_ntop(AF_INET6, a->b, out, (socklen_t)n);
    return out;
}
