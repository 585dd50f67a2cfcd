/* teststack.h - the vote service in-process for tests: a throwaway
 * nats-server -js and redis-server (tests/fixture), bus, voters, watch
 * and api behind lib/http on a free loopback port, plus probes that look
 * at the stream and the Redis hash directly. Call from main's thread
 * (fixtures are its children). */
#ifndef VOTE_TESTSTACK_H
#define VOTE_TESTSTACK_H

#include <stdint.h>

#include "lib/metrics/metrics.h"
#include "tests/fixture/fixture.h"
#include "vote/settings.h"
#include "vote/testhttp.h"

struct bus;
struct voters;
struct api;
struct watch;
struct mg_context;

struct teststack {
    struct fixture nats;
    struct fixture redis;
    struct settings cfg;
    struct metrics *metrics;
    struct bus *bus;
    struct voters *voters;
    struct api *api;
    struct watch *watch;
    struct mg_context *http;
    uint16_t port;
};

/* Makes VOTES as the worker does (vote never creates it). Asserts. */
void teststack_make_stream(struct teststack *s);

/* Starts everything (VOTES included) and waits until /readyz answers
 * 200. Asserts. */
void teststack_start(struct teststack *s, unsigned threads);
void teststack_stop(struct teststack *s); /* and destroys the fixtures */

/* Polls GET /readyz until it answers `status` (at most ms). 0 or -1. */
int teststack_wait_ready(struct teststack *s, int status, unsigned ms);

/* POSTs body to path with a Content-Type (NULL: none) and extra header
 * lines ("" or "Name: v\r\n..."). Returns the status. */
int teststack_post(struct teststack *s, const char *path, const char *type,
                   const char *extra, const char *body,
                   struct testhttp_resp *r);

/* GETs path with extra header lines. Returns the status. */
int teststack_get(struct teststack *s, const char *path, const char *extra,
                  struct testhttp_resp *r);

/* Messages in stream VOTES (by a separate connection). */
uint64_t teststack_stream_msgs(struct teststack *s);

/* Decodes the last message on subject into voter/option/request_id and
 * its Nats-Msg-Id header. Asserts. */
void teststack_last_vote(struct teststack *s, const char *subject, char *voter,
                         char *option, char *request_id, char *msg_id,
                         size_t n);

/* Asserts that HGET voters voter, read from Redis directly, becomes want
 * within 2 s (the service writes Redis after it answers). */
void teststack_redis_expect(struct teststack *s, const char *voter,
                            const char *want);

/* Waits up to 3 s for the metric to reach at least min; its last value. */
double teststack_metric_reach(struct teststack *s, const char *name,
                              double min);

/* A counter or gauge from GET /metrics, by its full name. */
double teststack_metric(struct teststack *s, const char *name);

#endif
