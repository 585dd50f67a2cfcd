/* apply_votes.c - Postgres alone doing the worker's part of a drain, as a
 * reference for tools/bench's P2: COUNT generated votes for voters
 * PREFIX-0..PREFIX-(COUNT-1), options alternating as `votectl load` makes
 * them, applied in batches of BATCH_SIZE (500, as the worker) through
 * worker/store.c's own store_apply_send()/store_apply_wait() (the same
 * prepared statement, one transaction a batch), the next batch made while
 * Postgres commits the last. No NATS. Connects like the worker (lib/pgconn
 * variables) and creates the schema if missing; point it at a database of
 * its own (POSTGRES_DB) so the rows it adds do not change the drain.
 *   apply_votes COUNT PREFIX
 * prints one JSON line: {"applied":N,"changed":C,"batch":B,"ms":T,
 * "per_s":R}. Exit 0, 1 on a Postgres error, 2 on bad arguments. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/config/config.h"
#include "lib/log/log.h"
#include "lib/pgconn/pgconn.h"
#include "proto/contract.h"
#include "worker/decode.h"
#include "worker/settings.h"
#include "worker/store.h"

static int64_t now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Votes first..first+n-1 into v, as the worker would have them after
 * decode: seq is the stream sequence (first + 1 on), one stream epoch. */
static int make_batch(struct vote *v, size_t n, long first, const char *prefix,
                      int64_t epoch)
{
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        long x = first + (long)i;

        memset(&v[i], 0, sizeof(v[i]));
        k = snprintf(v[i].voter, sizeof(v[i].voter), "%s-%ld", prefix, x);
        if (k < 0 || (size_t)k >= sizeof(v[i].voter))
            return -E2BIG;
        snprintf(v[i].option, sizeof(v[i].option), "%s",
                 CONTRACT_OPTIONS[x & 1]);
        v[i].seq = (uint64_t)x + 1;
        v[i].epoch = epoch;
    }
    return 0;
}

/* Applies count votes in batches, the next one made while Postgres
 * commits the one sent. 0 or the store's -errno. */
static int apply_all(struct store *s, struct vote *v[2], size_t batch,
                     long count, const char *prefix, size_t *changed)
{
    int64_t epoch = (int64_t)time(NULL) * 1000000000LL;
    long sent = 0;
    size_t n, got;
    int cur = 0, rc;

    *changed = 0;
    n = (size_t)(count < (long)batch ? count : (long)batch);
    rc = make_batch(v[cur], n, 0, prefix, epoch);
    while (rc == 0 && sent < count) {
        rc = store_apply_send(s, v[cur], n);
        if (rc)
            break;
        sent += (long)n;
        n = (size_t)(count - sent < (long)batch ? count - sent : (long)batch);
        if (n)
            rc = make_batch(v[cur ^ 1], n, sent, prefix, epoch);
        if (store_apply_wait(s, &got) || rc)
            return rc ? rc : -EIO;
        *changed += got;
        cur ^= 1;
    }
    return rc;
}

static int open_store(struct store **s, size_t batch)
{
    struct pgconn_env env;
    struct pgconn_target t;
    struct pgconn_params p;

    if (pgconn_load(&env))
        return -EINVAL;
    /* The worker's connection (worker/main.c's pg_connect). */
    pgconn_target_of(&t, &env, "apply_votes", "-c statement_timeout=30000");
    pgconn_params(&p, &t);
    return store_open(s, p.keys, p.vals, batch);
}

int main(int argc, char **argv)
{
    struct store *s = NULL;
    struct vote *v[2] = {NULL, NULL};
    size_t changed = 0;
    long count, batch;
    char *end;
    int64_t t0;
    int rc = 2;

    log_init("apply_votes", "warn"); /* the result alone on stdout */
    count = argc == 3 ? strtol(argv[1], &end, 10) : 0;
    if (count < 1 || *end) {
        fprintf(stderr, "usage: apply_votes COUNT PREFIX (POSTGRES_* and"
                        " BATCH_SIZE from the environment)\n");
        return 2;
    }
    if (config_long("BATCH_SIZE", 500, 1, SETTINGS_MAX_BATCH, &batch))
        return 2;
    v[0] = calloc((size_t)batch, sizeof(*v[0]));
    v[1] = calloc((size_t)batch, sizeof(*v[1]));
    if (!v[0] || !v[1])
        goto out;
    rc = 1;
    if (open_store(&s, (size_t)batch) || store_migrate(s))
        goto out;
    t0 = now_ms();
    if (apply_all(s, v, (size_t)batch, count, argv[2], &changed))
        goto out;
    t0 = now_ms() - t0;
    printf("{\"applied\":%ld,\"changed\":%zu,\"batch\":%ld,\"ms\":%lld,"
           "\"per_s\":%lld}\n",
           count, changed, batch, (long long)t0,
           (long long)(t0 > 0 ? count * 1000 / t0 : 0));
    rc = 0;
out:
    store_close(s);
    free(v[0]);
    free(v[1]);
    return rc;
}
