/* pgtest.h - the worker's side of the contract, for result's tests
 * (testonly): its schema, and a committed batch that updates tallies and
 * NOTIFYs CONTRACT_PG_CHANNEL in the same transaction. */
#ifndef RESULT_PGTEST_H
#define RESULT_PGTEST_H

/* Runs sql on a new connection to conninfo; 0 or -EIO. */
int pgtest_exec(const char *conninfo, const char *sql);

/* The worker's tables (votes, tallies), as it creates them. */
int pgtest_schema(const char *conninfo);

/* One batch: adds da to "a" and db to "b" in tallies, then NOTIFY;
 * notify = 0 leaves the NOTIFY out (a missed notification). */
int pgtest_batch(const char *conninfo, long da, long db, int notify);

#endif
