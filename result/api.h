/* api.h - result's HTTP side, on a lib/http server:
 *   GET /api/results      the current snapshot (503 before the first read)
 *   GET /api/results/ws   WebSocket: the current snapshot on connect, then
 *                         every published change (see loop.h); a plain GET
 *                         there is a 400, and a 503 with Retry-After when
 *                         the viewers are at RESULT_MAX_CLIENTS or the
 *                         client's address at RESULT_MAX_PER_ADDR (the
 *                         peer's, or behind one of RESULT_TRUSTED_PROXIES
 *                         the one X-Forwarded-For names: lib/clientaddr).
 *
 * civetweb reads the upgrade request and checks its key and version;
 * api.c then takes the socket away from civetweb and hands it to the
 * loop (loop.h), which answers the 101 and owns the WebSocket from there
 * on, so a viewer holds no civetweb thread. Why result runs the frames
 * itself: civetweb 1.15 reads a whole frame into memory before a handler
 * sees it (it allocates what the header announces, up to ~2 GiB) and has
 * no way to refuse a frame on its header; and it gives each WebSocket a
 * thread for its whole life. Bytes a client sends before it has the 101
 * are lost (civetweb read them with the request): clients must wait for
 * it, and browsers do.
 *
 * api_start() hands *out to the caller. Stopping: api_close() (close
 * frames to every viewer, then the server stopped, a freed), then
 * loop_free(). The loop must outlive the server. */
#ifndef RESULT_API_H
#define RESULT_API_H

#include <stddef.h>
#include <stdint.h>

#include <civetweb.h>

#include "lib/clientaddr/clientaddr.h"

#define API_SNAPSHOT_MAX    4096  /* bytes of one snapshot JSON */
#define API_DEFAULT_PING_MS 10000 /* see loop.h: pings, and drops at twice */

struct loop;
struct api;

/* Adds the handlers to a started server; viewers are counted per client
 * address, trusted[n] (copied) being the proxies whose X-Forwarded-For
 * is believed. 0 or -errno. */
int api_start(struct api **out, struct mg_context *ctx, struct loop *l,
              const struct clientaddr_net *trusted, int n);

/* After http_stop(). NULL-safe. */
void api_free(struct api *a);

/* The whole stop: a close frame (code, e.g. 1001 "going away") to every
 * viewer of l, flushed within wait_ms; the server ctx stopped; a freed.
 * Logs what it did. */
void api_close(struct api *a, struct loop *l, struct mg_context *ctx,
               uint16_t code, unsigned wait_ms);

#endif
