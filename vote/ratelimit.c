/* ratelimit.c - token buckets per client address; see ratelimit.h. */
#include "vote/ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define N_SETS  (RATELIMIT_SLOTS / RATELIMIT_WAYS)
#define N_LOCKS 256

struct entry { /* 32 bytes */
    struct clientaddr addr;
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

static unsigned set_of(const struct ratelimit *r, const struct clientaddr *a)
{
    uint64_t hi, lo;

    memcpy(&hi, a->b, 8);
    memcpy(&lo, a->b + 8, 8);
    return (unsigned)(mix(mix(hi ^ r->key) ^ lo) % N_SETS);
}

/* addr's entry in its set, or the one it takes: a free one, else the
 * least recently seen (a fresh, full bucket). */
static struct entry *find(struct ratelimit *r, struct entry *set,
                          const struct clientaddr *a, int64_t now)
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

unsigned ratelimit_take(struct ratelimit *r, const struct clientaddr *a,
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
