/* testkit.h - helpers for the worker's tests: publish VoteCasts the way
 * vote does, and compare Postgres with what was published. Test-only;
 * every function returns 0 or -errno and logs nothing. */
#ifndef WORKER_TESTKIT_H
#define WORKER_TESTKIT_H

#include <stddef.h>

#include <nats/nats.h>

struct tk_nats {
    natsConnection *nc;
    jsCtx *js;
};

/* Connects and makes sure stream VOTES exists (lib/jstream's defaults, 5 s
 * duplicates window), like vote and the worker do. */
int tk_nats_open(struct tk_nats *t, const char *url);
void tk_nats_close(struct tk_nats *t);

/* Publishes one VoteCast on votes.<option> (async); msg_id may be NULL. */
int tk_publish(struct tk_nats *t, const char *voter, const char *option,
               const char *msg_id);
/* Publishes raw bytes on subject (async). */
int tk_publish_raw(struct tk_nats *t, const char *subject, const void *data,
                   size_t len);
/* Waits for every PubAck. */
int tk_publish_wait(struct tk_nats *t);

/* Publishes n votes of random options by voters "v0".."v<voters-1>";
 * expect[i] becomes the last option ('a'/'b') voter i was given, or 0. */
int tk_publish_random(struct tk_nats *t, int n, int voters, unsigned seed,
                      char *expect);

/* A query answering one integer; -1 on any error. */
long tk_pg_long(const char *conninfo, const char *sql);

/* 0 when votes holds exactly expect[] (voters "v<i>") and tallies equals
 * SELECT vote, count(*) FROM votes GROUP BY vote; else -EIO, with the
 * first differences on stderr. */
int tk_check_db(const char *conninfo, int voters, const char *expect);

/* Waits up to timeout_ms until consumer "worker" has nothing pending
 * nor unacked. */
int tk_wait_drained(struct tk_nats *t, int timeout_ms);

/* Waits up to timeout_ms for `SELECT count(*) FROM votes` == rows. */
int tk_wait_rows(const char *conninfo, long rows, int timeout_ms);

#endif
