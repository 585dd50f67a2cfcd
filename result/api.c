/* api.c - civetweb handlers for /api/results and its WebSocket; see
 * api.h. Each WebSocket holds one civetweb worker thread (its reader) and
 * one hub writer thread. */
#include "result/api.h"

#include <errno.h>
#include <string.h>

#include "lib/http/http.h"
#include "lib/log/log.h"
#include "result/hub.h"

#define WS_PATH         "/api/results/ws"
#define CLOSE_TOO_BIG   1009
#define CLOSE_TRY_LATER 1013

/* A silent peer gets a ping every 10 s and is dropped after 6 unanswered
 * (civetweb's MG_MAX_UNANSWERED_PING), as is one that stopped reading.
 * lib/http turns tcp_nodelay on: civetweb sends a frame's header and
 * payload with two send()s, and with Nagle the payload would wait for the
 * peer's delayed ACK. */
const char *const API_WS_OPTIONS[] = {"enable_websocket_ping_pong", "yes",
                                      "websocket_timeout_ms", "10000", NULL};

int api_ws_write(void *conn, const char *frame, size_t len)
{
    int rc;

    /* The lock civetweb's own mg_websocket_write() takes (its pings). */
    mg_lock_connection(conn);
    rc = mg_write(conn, frame, len);
    mg_unlock_connection(conn);
    return (rc > 0 && (size_t)rc == len) ? 0 : -EIO;
}

static int is_get(struct mg_connection *c)
{
    const char *m = mg_get_request_info(c)->request_method;

    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static int on_results(struct mg_connection *c, void *arg)
{
    char buf[API_SNAPSHOT_MAX];
    size_t len;
    int rc;

    if (!is_get(c))
        return http_send_error(c, 405, "use GET for /api/results");
    rc = hub_current(arg, buf, sizeof(buf), &len);
    if (rc == -ENODATA)
        return http_send_json(
            c, 503, json_pack("{s:s}", "error", "results not available yet"),
            "Retry-After: 1\r\n");
    if (rc)
        return http_send_error(c, 500, "snapshot too large");
    return http_send_text(c, 200, "application/json", buf, len);
}

/* The WebSocket path without an upgrade. */
static int on_ws_plain(struct mg_connection *c, void *arg)
{
    return http_send_error(c, 400, "WebSocket upgrade required");
}

/* Before the handshake: a full hub gets a 503 instead of a 101. */
static int on_ws_connect(const struct mg_connection *c, void *arg)
{
    if (!hub_full(arg))
        return 0;
    http_send_json((struct mg_connection *)c, 503,
                   json_pack("{s:s}", "error", "too many clients"),
                   "Retry-After: 1\r\n");
    return 1;
}

static void send_close(struct mg_connection *c, int code, const char *why)
{
    char buf[64];
    size_t n = strlen(why);

    if (n > sizeof(buf) - 2)
        n = sizeof(buf) - 2;
    buf[0] = (char)((code >> 8) & 0xff);
    buf[1] = (char)(code & 0xff);
    memcpy(buf + 2, why, n);
    mg_websocket_write(c, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE, buf, n + 2);
}

static void on_ws_ready(struct mg_connection *c, void *arg)
{
    struct hub_client *hc;
    int rc = hub_add(arg, c, &hc);

    if (rc) {
        log_warn("ws_refused", "\"error\":%d", rc);
        send_close(c, CLOSE_TRY_LATER, "try again later");
        return;
    }
    mg_set_user_connection_data(c, hc);
}

static int on_ws_data(struct mg_connection *c, int bits, char *data, size_t len,
                      void *arg)
{
    if ((bits & 0x0f) == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE)
        return 0;
    if (len > API_MAX_CLIENT_FRAME) {
        log_info("ws_frame_too_large", "\"bytes\":%zu", len);
        send_close(c, CLOSE_TOO_BIG, "frame too large");
        return 0;
    }
    return 1; /* ignored */
}

static void on_ws_close(const struct mg_connection *c, void *arg)
{
    hub_remove(arg, mg_get_user_connection_data(c));
}

void api_register(struct mg_context *ctx, struct hub *h)
{
    mg_set_request_handler(ctx, "/api/results$", on_results, h);
    mg_set_request_handler(ctx, WS_PATH "$", on_ws_plain, h);
    mg_set_websocket_handler(ctx, WS_PATH "$", on_ws_connect, on_ws_ready,
                             on_ws_data, on_ws_close, h);
}
