/* tally.h - reads the vote tallies from Postgres and follows changes.
 *
 * A tally runs one thread that owns one PGconn: it LISTENs on the worker's
 * channel (CONTRACT_PG_CHANNEL), reads `SELECT vote, count FROM tallies` (a
 * missing table reads as zeros), and calls the caller's on_read with the
 * counts after every read. Reads are coalesced: at most one per
 * TALLY_MIN_GAP_MS, always one after the last notification, and one every
 * refresh_ms even without any (a missed NOTIFY). A lost connection is
 * reopened with backoff and LISTEN issued again.
 *
 * tally_start() hands *out to the caller; tally_stop() joins and frees.
 * on_read runs on the tally thread; tally_connected() from any thread. */
#ifndef RESULT_TALLY_H
#define RESULT_TALLY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/pgconn/pgconn.h"
#include "proto/contract.h"

#define TALLY_MIN_GAP_MS 50 /* at most 20 reads (and pushes) a second */

struct metrics;

struct tally_counts {
    int64_t votes[CONTRACT_N_OPTIONS]; /* by CONTRACT_OPTIONS' index */
    struct timespec as_of;             /* CLOCK_REALTIME of the read */
    int changed;                       /* differs from the last read */
};

struct tally_opts {
    const struct pgconn_env *pg; /* where (lib/pgconn); copied */
    unsigned refresh_ms;         /* safety refresh; 0 means 5000 */
    struct metrics *metrics;     /* NULL, or counters are registered here */
    void (*on_read)(void *arg, const struct tally_counts *c);
    void *arg;
};

struct tally;

/* Starts the thread; it connects in the background (see
 * tally_connected()). o->pg is copied. 0 or -errno. */
int tally_start(struct tally **out, const struct tally_opts *o);

/* 1 while the connection is up and LISTEN was issued, else 0. */
int tally_connected(const struct tally *t);

/* http_opts.ready for a server whose readiness is the tally's (arg is the
 * struct tally): 0, or -ECONNREFUSED with why "postgres: not connected". */
int tally_ready(void *arg, char *why, size_t n);

/* Stops the thread (within ~100 ms, or once a query in flight ends) and
 * frees. NULL-safe. */
void tally_stop(struct tally *t);

struct pg_conn; /* libpq's PGconn */

/* Reads the tallies once on conn into c->votes and c->as_of (zeros when
 * the table is missing). 0, or -EIO: the caller reconnects. */
int tally_read_once(struct pg_conn *conn, struct tally_counts *c);

/* The snapshot JSON {"options":[{"id","label","votes"}..],"total","as_of"}
 * for labels[CONTRACT_N_OPTIONS] into buf. 0, or -ENOSPC / -ENOMEM. */
int tally_format(const struct tally_counts *c, const char *const *labels,
                 char *buf, size_t n, size_t *len);

#endif
