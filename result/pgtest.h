/* pgtest.h - the worker's side of the contract, for result's tests
 * (testonly), through the worker's own code (worker/store.c): its schema
 * (store_migrate) and its batches (store_apply: votes upserted, tallies
 * moved and CONTRACT_PG_CHANNEL NOTIFYed in one transaction). Each call
 * opens its own connection to conninfo and closes it; not thread-safe. */
#ifndef RESULT_PGTEST_H
#define RESULT_PGTEST_H

/* Runs sql on a new connection to conninfo; 0 or -EIO. */
int pgtest_exec(const char *conninfo, const char *sql);

/* The worker's tables, made by the worker's migrations. 0 or -EIO. */
int pgtest_schema(const char *conninfo);

/* One batch of the worker: n new voters (each id never used before in
 * this process) vote for option (any id of at most 7 bytes, "zz" too).
 * notify = 0 loses the batch's NOTIFY on its way (a missed notification):
 * the same statement, with pg_notify() shadowed for its session. 0 or
 * -EIO. */
int pgtest_votes(const char *conninfo, const char *option, long n, int notify);

/* pgtest_votes() for "a" and "b" in one batch: tallies grow by da and db. */
int pgtest_batch(const char *conninfo, long da, long db, int notify);

#endif
