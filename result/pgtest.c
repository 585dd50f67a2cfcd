/* pgtest.c - the worker's side of the contract; see pgtest.h. */
#include "result/pgtest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <libpq-fe.h>

#include "proto/contract.h"
#include "worker/decode.h"
#include "worker/store.h"

/* A schema whose pg_notify() does nothing, searched before pg_catalog by
 * the sessions of a batch whose NOTIFY is to be lost. */
#define QUIET_SCHEMA "pgtest_quiet"
#define QUIET_SQL                                                              \
    "CREATE SCHEMA IF NOT EXISTS " QUIET_SCHEMA ";"                            \
    "CREATE OR REPLACE FUNCTION " QUIET_SCHEMA ".pg_notify(text, text)"        \
    " RETURNS void LANGUAGE plpgsql AS 'BEGIN END'"
#define QUIET_OPTIONS "-c search_path=" QUIET_SCHEMA ",pg_catalog,public"

static unsigned long next_voter; /* voter ids are never reused */

int pgtest_exec(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r;
    int rc = -EIO;

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "pgtest: %s", PQerrorMessage(c));
        goto out_finish;
    }
    r = PQexec(c, sql);
    if (PQresultStatus(r) == PGRES_COMMAND_OK ||
        PQresultStatus(r) == PGRES_TUPLES_OK)
        rc = 0;
    else
        fprintf(stderr, "pgtest: %s", PQerrorMessage(c));
    PQclear(r);
out_finish:
    PQfinish(c);
    return rc;
}

/* The worker's store on conninfo; quiet: with QUIET_OPTIONS. */
static int open_store(struct store **s, const char *conninfo, size_t max,
                      int quiet)
{
    const char *keys[] = {"dbname", quiet ? "options" : NULL, NULL};
    const char *vals[] = {conninfo, QUIET_OPTIONS, NULL};

    return store_open(s, keys, vals, max ? max : 1) ? -EIO : 0;
}

int pgtest_schema(const char *conninfo)
{
    struct store *s;
    int rc = open_store(&s, conninfo, 1, 0);

    if (rc)
        return rc;
    rc = store_migrate(s) ? -EIO : 0;
    store_close(s);
    return rc;
}

/* Appends n votes for option to v[*at...], as decode and the consumer
 * make them: a valid voter id, a stream sequence, a time. */
static void add_votes(struct vote *v, size_t *at, const char *option, long n)
{
    long i;

    for (i = 0; i < n; i++, (*at)++) {
        next_voter++;
        snprintf(v[*at].voter, sizeof(v[*at].voter), "pgtest-%lu", next_voter);
        snprintf(v[*at].option, sizeof(v[*at].option), "%s", option);
        v[*at].seq = next_voter;
        v[*at].epoch = 1;
        v[*at].cast_at_ms = (int64_t)time(NULL) * 1000;
    }
}

static int apply(const char *conninfo, const char *o1, long n1, const char *o2,
                 long n2, int notify)
{
    size_t n = 0, changed;
    struct store *s = NULL;
    struct vote *v = calloc((size_t)(n1 + n2) + 1, sizeof(*v));
    int rc = -EIO;

    if (!v)
        return -ENOMEM;
    add_votes(v, &n, o1, n1);
    add_votes(v, &n, o2, n2);
    if (!notify && pgtest_exec(conninfo, QUIET_SQL))
        goto out_free;
    if (open_store(&s, conninfo, n, !notify))
        goto out_free;
    if (store_apply(s, v, n, &changed) == 0 && changed == n)
        rc = 0;
    else
        fprintf(stderr, "pgtest: the batch of %zu votes changed %zu\n", n,
                changed);
    store_close(s);
out_free:
    free(v);
    return rc;
}

int pgtest_votes(const char *conninfo, const char *option, long n, int notify)
{
    return apply(conninfo, option, n, option, 0, notify);
}

int pgtest_batch(const char *conninfo, long da, long db, int notify)
{
    return apply(conninfo, CONTRACT_OPTION_A, da, CONTRACT_OPTION_B, db,
                 notify);
}
