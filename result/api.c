/* api.c - civetweb handlers for /api/results and its WebSocket; see
 * api.h. Each WebSocket holds one civetweb worker thread (its reader, in
 * ws_serve()) and one hub writer thread. */
#include "result/api.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/http/http.h"
#include "lib/log/log.h"
#include "result/hub.h"
#include "result/ws.h"
#include "result/wsproto.h"

#define WS_PATH "/api/results/ws"

struct api {
    struct hub *hub;
    unsigned ping_ms;
    int stop_pipe[2]; /* [0] turns readable at api_stop() */
    atomic_int stopping;
};

int api_ws_write(void *conn, const char *frame, size_t len)
{
    return ws_write(conn, frame, len);
}

static int is_get(struct mg_connection *c)
{
    const char *m = mg_get_request_info(c)->request_method;

    return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

static int on_results(struct mg_connection *c, void *arg)
{
    struct api *a = arg;
    char buf[API_SNAPSHOT_MAX];
    size_t len;
    int rc;

    if (!is_get(c))
        return http_send_error(c, 405, "use GET for /api/results");
    rc = hub_current(a->hub, buf, sizeof(buf), &len);
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

struct admit {
    struct api *api;
    struct ws_conn *conn;
    struct hub_client *client;
};

/* Under the connection's write lock, before the 101: the hub slot and the
 * writer thread, or a refusal. */
static int admit(void *arg)
{
    struct admit *ad = arg;

    if (atomic_load(&ad->api->stopping))
        return -ESHUTDOWN;
    return hub_add(ad->api->hub, ad->conn, &ad->client);
}

/* One WebSocket, from the 101 to the end, on the socket fd. */
static void serve(struct api *a, struct mg_connection *c, int fd,
                  const char *accept)
{
    struct ws_conn wc;
    struct admit ad = {.api = a, .conn = &wc};
    enum ws_end end;
    int rc;

    ws_conn_init(&wc, fd, a->ping_ms);
    rc = ws_handshake(&wc, accept, admit, &ad);
    if (rc == -EBUSY || rc == -ESHUTDOWN || rc == -EAGAIN || rc == -ENOMEM) {
        log_warn("ws_refused", "\"error\":%d", rc);
        http_send_json(
            c, 503,
            json_pack("{s:s}", "error",
                      rc == -EBUSY ? "too many clients" : "try again later"),
            "Retry-After: 1\r\n");
    } else if (rc == 0) {
        end = ws_serve(&wc, a->stop_pipe[0]);
        if (end == WS_END_REFUSED || end == WS_END_TIMEOUT ||
            end == WS_END_WRITE_FAILED)
            log_info("ws_dropped", "\"reason\":\"%s\"", ws_end_name(end));
        else
            log_debug("ws_closed", "\"reason\":\"%s\"", ws_end_name(end));
    }
    if (rc && ad.client)
        shutdown(fd, SHUT_RDWR);   /* the 101 failed: end the writer's sends */
    hub_remove(a->hub, ad.client); /* NULL-safe */
    ws_conn_destroy(&wc);
}

/* civetweb calls this for an upgrade on WS_PATH once the key and version
 * are checked, with the connection not yet answered. The whole WebSocket
 * runs here; returning 1 tells civetweb not to do its own handshake, and
 * it then closes the connection. civetweb hands the connection as const,
 * and its own handlers write through it: so do we. */
static int on_ws_connect(const struct mg_connection *cc, void *arg)
{
    struct mg_connection *c = (struct mg_connection *)cc;
    const struct mg_request_info *ri = mg_get_request_info(c);
    const char *key = mg_get_header(c, "Sec-WebSocket-Key");
    char accept[WSPROTO_ACCEPT_LEN + 1];
    int fd;

    if (!key || wsproto_accept(key, accept)) {
        http_send_error(c, 400, "bad Sec-WebSocket-Key");
        return 1;
    }
    fd = ws_find_socket(ri->remote_addr, ri->remote_port, ri->server_port);
    if (fd < 0) {
        log_error("ws_socket_not_found", "\"error\":%d", fd);
        http_send_error(c, 500, "WebSocket unavailable");
        return 1;
    }
    serve(arg, c, fd, accept);
    return 1;
}

int api_start(struct api **out, struct mg_context *ctx, struct hub *h,
              const struct api_opts *o)
{
    struct api *a;

    *out = NULL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    if (pipe2(a->stop_pipe, O_CLOEXEC)) {
        free(a);
        return -errno;
    }
    a->hub = h;
    a->ping_ms = o && o->ping_ms ? o->ping_ms : API_DEFAULT_PING_MS;
    mg_set_request_handler(ctx, "/api/results$", on_results, a);
    mg_set_request_handler(ctx, WS_PATH "$", on_ws_plain, a);
    mg_set_websocket_handler(ctx, WS_PATH "$", on_ws_connect, NULL, NULL, NULL,
                             a);
    *out = a;
    return 0;
}

void api_stop(struct api *a)
{
    atomic_store(&a->stopping, 1);
    if (write(a->stop_pipe[1], "x", 1) != 1)
        log_error("api_stop_failed", "\"errno\":%d", errno);
}

void api_free(struct api *a)
{
    if (!a)
        return;
    close(a->stop_pipe[0]);
    close(a->stop_pipe[1]);
    free(a);
}

void api_close(struct api *a, struct hub *h, struct mg_context *ctx,
               uint16_t code, unsigned wait_ms)
{
    unsigned left;

    log_info("stopping", "\"clients\":%u", hub_count(h));
    left = hub_close_all(h, code, wait_ms);
    if (left)
        log_warn("close_frames_unsent", "\"clients\":%u", left);
    api_stop(a); /* readers end and remove their clients */
    http_stop(ctx);
    api_free(a);
}
