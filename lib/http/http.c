/* http.c - civetweb glue; see http.h. */
#include "lib/http/http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/config/config.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"

/* A HEAD request gets headers only. The method is NULL when civetweb
 * reports an error before it could parse the request line. */
static int is_head(struct mg_connection *c)
{
    const char *m = mg_get_request_info(c)->request_method;

    return m && strcmp(m, "HEAD") == 0;
}

/* How long an idle keep-alive connection stays open, and the hint sent
 * to clients: node and undici close their idle sockets a second before
 * the hint, so they never send on a socket the server is closing (with
 * civetweb's silent 500 ms, 1-3 requests in 10,000 failed ECONNRESET).
 * Short, as civetweb holds a thread for each open connection. */
#define KEEP_ALIVE_S "2"

/* Sends status, headers and body with one write: civetweb's
 * mg_response_header_*() make one send() a header line, and with
 * tcp_nodelay each becomes a packet (measured: 9 sends a vote). */
static int send_response(struct mg_connection *c, int status, const char *type,
                         const char *extra_headers, const char *body,
                         size_t len)
{
    char head[1024];
    int n;

    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "Cache-Control: no-store\r\n"
                 "Keep-Alive: timeout=" KEEP_ALIVE_S "\r\n"
                 "%s\r\n",
                 status, mg_get_response_code_text(c, status), type, len,
                 extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof(head)) {
        status = 500;
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 500 Internal Server Error\r\n"
                     "Content-Length: 0\r\n\r\n");
        len = 0;
    }
    if (is_head(c) || len == 0) {
        mg_write(c, head, (size_t)n);
    } else if ((size_t)n + len <= 4096) {
        char all[4096];

        memcpy(all, head, (size_t)n);
        memcpy(all + n, body, len);
        mg_write(c, all, (size_t)n + len);
    } else {
        mg_write(c, head, (size_t)n);
        mg_write(c, body, len);
    }
    return status;
}

int http_send_text(struct mg_connection *c, int status, const char *type,
                   const char *body, size_t len)
{
    return send_response(c, status, type, NULL, body, len);
}

int http_send_json(struct mg_connection *c, int status, json_t *body,
                   const char *extra_headers)
{
    char *text = json_dumps(body, JSON_COMPACT);

    json_decref(body);
    if (!text)
        return send_response(c, 500, "application/json", NULL,
                             "{\"error\":\"out of memory\"}", 25);
    status = send_response(c, status, "application/json", extra_headers, text,
                           strlen(text));
    free(text);
    return status;
}

int http_send_error(struct mg_connection *c, int status, const char *msg)
{
    return http_send_json(c, status, json_pack("{s:s}", "error", msg), NULL);
}

int http_read_body(struct mg_connection *c, char *buf, size_t cap, size_t *len)
{
    long long declared = mg_get_request_info(c)->content_length;
    size_t got = 0;
    int n;

    *len = 0;
    if (declared >= (long long)cap)
        return -E2BIG;
    while (got < cap - 1) {
        n = mg_read(c, buf + got, cap - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    if (got == cap - 1 && declared < 0 && mg_read(c, buf + got, 1) > 0)
        return -E2BIG;
    if (declared >= 0 && got != (size_t)declared)
        return -EIO;
    *len = got;
    return 0;
}

static int is_get(struct mg_connection *c)
{
    const char *m = mg_get_request_info(c)->request_method;

    return m && (strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0);
}

static int on_healthz(struct mg_connection *c, void *arg)
{
    if (!is_get(c))
        return http_send_error(c, 405, "use GET for /healthz");
    return http_send_json(c, 200, json_pack("{s:s}", "status", "ok"), NULL);
}

static int on_readyz(struct mg_connection *c, void *arg)
{
    const struct http_opts *o = arg;
    char why[HTTP_WHY_MAX] = "";

    if (!is_get(c))
        return http_send_error(c, 405, "use GET for /readyz");
    if (o->ready && o->ready(o->ready_arg, why, sizeof(why)) != 0)
        return http_send_json(
            c, 503, json_pack("{s:b,s:s}", "ready", 0, "reason", why), NULL);
    return http_send_json(c, 200, json_pack("{s:b}", "ready", 1), NULL);
}

#define READY_METRIC                                                           \
    "# HELP service_ready 1 when /readyz answers 200, 0 while it waits.\n"     \
    "# TYPE service_ready gauge\n"                                             \
    "service_ready %d\n"

static int on_metrics(struct mg_connection *c, void *arg)
{
    const struct http_opts *o = arg;
    char *text, *more, why[HTTP_WHY_MAX];
    size_t len;
    int status, ready, n;

    if (!is_get(c))
        return http_send_error(c, 405, "use GET for /metrics");
    if (metrics_render(o->metrics, &text, &len))
        return http_send_error(c, 500, "out of memory");
    /* /readyz as a gauge: a "not ready" alert needs no extra prober. */
    ready = !o->ready || o->ready(o->ready_arg, why, sizeof(why)) == 0;
    more = realloc(text, len + sizeof(READY_METRIC));
    if (!more) {
        free(text);
        return http_send_error(c, 500, "out of memory");
    }
    text = more;
    n = snprintf(text + len, sizeof(READY_METRIC), READY_METRIC, ready);
    len += (size_t)n;
    status = http_send_text(c, 200, "text/plain; version=0.0.4", text, len);
    free(text);
    return status;
}

/* civetweb's own errors (no such file, bad request...) as JSON too. */
static int on_error(struct mg_connection *c, int status, const char *msg)
{
    const char *text = status == 404   ? "no such path"
                       : status == 405 ? "method not allowed"
                                       : msg;

    http_send_error(c, status, text);
    return 0;
}

/* Before any handler: a body with two lengths (two Content-Length, or one
 * and Transfer-Encoding) is refused, not guessed: a proxy in front may
 * have read it the other way (request smuggling). So is a WebSocket
 * upgrade by another method than GET, which civetweb would grant. 1 when
 * answered. */
static int on_begin(struct mg_connection *c)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    const char *upgrade = mg_get_header(c, "Upgrade");
    int lengths = 0, chunked = 0, i;

    if (upgrade && strcasecmp(upgrade, "websocket") == 0 &&
        (!ri->request_method || strcmp(ri->request_method, "GET") != 0)) {
        http_send_error(c, 400, "a WebSocket opens with GET");
        return 1;
    }

    for (i = 0; i < ri->num_headers; i++) {
        if (strcasecmp(ri->http_headers[i].name, "Content-Length") == 0)
            lengths++;
        else if (strcasecmp(ri->http_headers[i].name, "Transfer-Encoding") == 0)
            chunked++;
    }
    if (lengths + chunked <= 1)
        return 0;
    http_send_error(c, 400,
                    "send one Content-Length, or Transfer-Encoding alone");
    return 1;
}

/* The listen/threads/doc_root options, then the caller's extras; num
 * holds the text of the port and of the number of threads. */
static int build_options(const struct http_opts *o, char num[2][16],
                         const char **opts, size_t cap)
{
    size_t k = 0, i;

    snprintf(num[0], sizeof(num[0]), "%u", o->port);
    snprintf(num[1], sizeof(num[1]), "%u", o->threads ? o->threads : 32);
    opts[k++] = "listening_ports";
    opts[k++] = o->listen ? o->listen : num[0];
    opts[k++] = "num_threads";
    opts[k++] = num[1];
    opts[k++] = "request_timeout_ms";
    opts[k++] = "30000";
    opts[k++] = "enable_keep_alive";
    opts[k++] = "yes";
    opts[k++] = "keep_alive_timeout_ms";
    opts[k++] = KEEP_ALIVE_S "000";
    /* Without it a keep-alive answer sent in two writes waits ~40 ms for
     * the peer's delayed ACK (Nagle). */
    opts[k++] = "tcp_nodelay";
    opts[k++] = "1";
    opts[k++] = "listen_backlog";
    opts[k++] = "1024";
    opts[k++] = "connection_queue";
    opts[k++] = "1024";
    /* Paths are matched as sent: decoded, "/api/vote%00x" became
     * "/api/vote" cut at the NUL. Query strings are decoded by readers. */
    opts[k++] = "decode_url";
    opts[k++] = "no";
    if (o->doc_root) {
        opts[k++] = "document_root";
        opts[k++] = o->doc_root;
        /* A folder without index.html is a 403, not a list of its files
         * (the pages' common/ is such a folder). */
        opts[k++] = "enable_directory_listing";
        opts[k++] = "no";
    }
    for (i = 0; o->extra && o->extra[i]; i += 2) {
        if (k + 3 > cap)
            return -EINVAL;
        opts[k++] = o->extra[i];
        opts[k++] = o->extra[i + 1];
    }
    opts[k] = NULL;
    return 0;
}

int http_start(struct mg_context **out, const struct http_opts *o)
{
    struct mg_callbacks cb;
    const char *opts[48];
    char num[2][16], ebuf[256];
    struct mg_init_data init;
    struct mg_error_data err;
    struct mg_context *ctx;

    *out = NULL;
    if (build_options(o, num, opts, 48))
        return -EINVAL;
    mg_init_library(MG_FEATURES_WEBSOCKET);
    memset(&cb, 0, sizeof(cb));
    cb.http_error = on_error;
    cb.begin_request = on_begin;
    memset(&init, 0, sizeof(init));
    init.callbacks = &cb;
    init.user_data = o->user;
    init.configuration_options = opts;
    memset(&err, 0, sizeof(err));
    ebuf[0] = '\0';
    err.text = ebuf;
    err.text_buffer_size = sizeof(ebuf);
    ctx = mg_start2(&init, &err);
    if (!ctx) {
        log_error("http_start_failed", LOG_STR("listen", opts[1]),
                  LOG_STR("error", ebuf),
                  LOG_STR("hint", "is another process listening on that "
                                  "port?"));
        return -EINVAL; /* civetweb 1.15 says "Failed to setup server
                           ports", never why: no errno to give */
    }
    mg_set_request_handler(ctx, "/healthz$", on_healthz, NULL);
    mg_set_request_handler(ctx, "/readyz$", on_readyz, (void *)o);
    if (o->metrics)
        mg_set_request_handler(ctx, "/metrics$", on_metrics, (void *)o);
    *out = ctx;
    return 0;
}

void http_stop(struct mg_context *ctx)
{
    if (ctx)
        mg_stop(ctx);
}

uint16_t http_port(const struct mg_context *ctx)
{
    struct mg_server_port ports[4];
    int n = mg_get_server_ports(ctx, 4, ports);

    return n > 0 ? (uint16_t)ports[0].port : 0;
}

int http_request(uint16_t port, const char *req, char *body, size_t n)
{
    struct mg_connection *c;
    char ebuf[128];
    size_t got = 0;
    int status, r;

    c = mg_download("127.0.0.1", port, 0, ebuf, sizeof(ebuf), "%s", req);
    if (!c)
        return -ECONNREFUSED;
    status = mg_get_response_info(c)->status_code;
    while (body && got + 1 < n && (r = mg_read(c, body + got, n - 1 - got)) > 0)
        got += (size_t)r;
    if (body && n > 0)
        body[got] = '\0';
    mg_close_connection(c);
    return status;
}

int http_healthcheck(uint16_t port)
{
    int status;

    mg_init_library(0);
    status = http_request(
        port, "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", NULL, 0);
    if (status < 0)
        return status;
    return status == 200 ? 0 : -EIO;
}

int http_healthcheck_main(int argc, char **argv, const char *port_var,
                          uint16_t def_port)
{
    uint16_t port;

    if (argc < 2 || strcmp(argv[1], "--healthcheck") != 0)
        return -1;
    if (config_port(port_var, def_port, &port))
        return CONFIG_EXIT;
    return http_healthcheck(port) == 0 ? 0 : 1;
}
