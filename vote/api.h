/* api.h - the vote service's HTTP handlers (over lib/http):
 *
 *   POST /api/vote, POST /   cast a vote (JSON or form; 303 for a browser
 *                            form post); 200 only after the PubAck
 *   GET  /api/vote           this voter's choice, from Redis
 *   GET  /api/options        option ids and labels
 *   GET  /                   index.html of UI_DIR, when set
 *
 * A vote is published as a VoteCast on votes.<option>, then recorded in
 * Redis; a Redis failure is counted and logged, and the vote still counts.
 * With VOTE_RATE_PER_MIN set, each client address (the peer, or behind
 * VOTE_TRUSTED_PROXIES what X-Forwarded-For names; see ratelimit.h) casts
 * at most that many a minute after a burst of VOTE_RATE_BURST; a vote over
 * it gets 429 with Retry-After and is not published.
 *
 * api_new() keeps the pointers it is given (they must outlive the api) and
 * registers its metrics in m; hands *out to the caller, release with
 * api_free() after the HTTP server has stopped. */
#ifndef VOTE_API_H
#define VOTE_API_H

#include <stddef.h>

#include <civetweb.h>

#define API_BODY_MAX      4096 /* bytes; more is a 413 */
#define API_PUBLISH_MS    4000 /* wait for a PubAck, retries included */
#define API_RETRY_AFTER_S 2

struct api;
struct bus;
struct voters;
struct metrics;
struct settings;

int api_new(struct api **out, struct bus *bus, struct voters *voters,
            const struct settings *cfg, struct metrics *m);
void api_free(struct api *a); /* NULL-safe */

/* Adds the handlers to a server started with http_start(). */
void api_register(struct api *a, struct mg_context *ctx);

/* The /readyz callback of http_opts (arg is the api): JetStream and Redis
 * usable; why names each of the two that is not. */
int api_ready(void *arg, char *why, size_t n);

#endif
