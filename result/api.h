/* api.h - result's HTTP side, on a lib/http server:
 *   GET /api/results      the current snapshot (503 before the first read)
 *   GET /api/results/ws   WebSocket: the current snapshot on connect, then
 *                         every published change (see hub.h); a plain GET
 *                         there is a 400.
 * Client frames are ignored; one larger than API_MAX_CLIENT_FRAME closes
 * that connection (close code 1009). The hub must outlive the server. */
#ifndef RESULT_API_H
#define RESULT_API_H

#include <stddef.h>

#include <civetweb.h>

#define API_MAX_CLIENT_FRAME 1024
#define API_SNAPSHOT_MAX     4096 /* bytes of one snapshot JSON */

struct hub;

/* The civetweb options the WebSocket side needs (ping/pong to drop dead
 * peers), NULL-terminated pairs, for http_opts.extra. */
extern const char *const API_WS_OPTIONS[];

/* Adds the handlers to a started server. */
void api_register(struct mg_context *ctx, struct hub *h);

/* hub_opts.write over civetweb: one whole frame, one send. */
int api_ws_write(void *conn, const char *frame, size_t len);

#endif
