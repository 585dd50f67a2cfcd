/* api.h - result's HTTP side, on a lib/http server:
 *   GET /api/results      the current snapshot (503 before the first read)
 *   GET /api/results/ws   WebSocket: the current snapshot on connect, then
 *                         every published change (see hub.h); a plain GET
 *                         there is a 400, and a 503 when the hub is full.
 * The WebSocket's frames are read and written by result itself (ws.h says
 * why): a client message larger than WSPROTO_MAX_MESSAGE closes that
 * connection (close code 1009) before its payload is read.
 *
 * api_start() hands *out to the caller. Stopping: hub_close_all(), then
 * api_stop() (the WebSocket readers end), then http_stop(), then
 * api_free(); api_close() does all four. The hub must outlive the
 * server. */
#ifndef RESULT_API_H
#define RESULT_API_H

#include <stddef.h>
#include <stdint.h>

#include <civetweb.h>

#define API_SNAPSHOT_MAX    4096  /* bytes of one snapshot JSON */
#define API_DEFAULT_PING_MS 10000 /* see ws.h: pings, and drops at twice */

struct hub;
struct api;

struct api_opts {
    unsigned ping_ms; /* ws.h's T; 0 for API_DEFAULT_PING_MS */
};

/* Adds the handlers to a started server. 0 or -errno. */
int api_start(struct api **out, struct mg_context *ctx, struct hub *h,
              const struct api_opts *o);

/* Ends every WebSocket reader and refuses new WebSockets. */
void api_stop(struct api *a);

/* After http_stop(). NULL-safe. */
void api_free(struct api *a);

/* The whole stop: a close frame (code, e.g. 1001 "going away") to every
 * client of h within wait_ms, the readers ended, the server ctx stopped,
 * a freed. Logs what it did. */
void api_close(struct api *a, struct hub *h, struct mg_context *ctx,
               uint16_t code, unsigned wait_ms);

/* hub_opts.write: one whole frame to a struct ws_conn, within its
 * timeout. */
int api_ws_write(void *conn, const char *frame, size_t len);

#endif
