/* api.c - civetweb handlers for /api/results and its WebSocket, and the
 * hand-over of an upgraded socket to the loop; see api.h. */
#include "result/api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/http/http.h"
#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "result/loop.h"
#include "result/wsproto.h"

#define WS_PATH "/api/results/ws"
/* Bytes after mg_get_request_info()'s struct where the socket is looked
 * for (see find_socket()). */
#define SOCK_SPAN 64

struct api {
    struct loop *loop;
    atomic_long sock_off; /* where civetweb keeps the socket; -1 unknown */
    int n_trusted;        /* RESULT_TRUSTED_PROXIES */
    struct clientaddr_net trusted[CLIENTADDR_MAX_TRUSTED];
    _Atomic int64_t last_refused_log; /* ws_refused: once a second */
    atomic_long refused_quiet;        /* refusals since that line */
};

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
    rc = loop_current(a->loop, buf, sizeof(buf), &len);
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

/* The port and printed address of a socket address. */
static int addr_of(const struct sockaddr_storage *sa, char *host, size_t n)
{
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;

    if (sa->ss_family == AF_INET) {
        inet_ntop(AF_INET, &v4->sin_addr, host, (socklen_t)n);
        return ntohs(v4->sin_port);
    }
    if (sa->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &v6->sin6_addr, host, (socklen_t)n);
        return ntohs(v6->sin6_port);
    }
    return -1;
}

/* Is fd the TCP connection of this request (peer address and port, our
 * port)? */
static int is_conn(int fd, const struct mg_request_info *ri)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    char host[INET6_ADDRSTRLEN];

    if (getpeername(fd, (struct sockaddr *)&sa, &len) ||
        addr_of(&sa, host, sizeof(host)) != ri->remote_port ||
        strcmp(host, ri->remote_addr))
        return 0;
    len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len))
        return 0;
    return addr_of(&sa, host, sizeof(host)) == ri->server_port;
}

static int sock_at(const struct mg_request_info *ri, long off)
{
    int fd;

    memcpy(&fd, (const char *)ri + off, sizeof(fd));
    return fd > 2 && is_conn(fd, ri) ? fd : -1;
}

/* The socket of civetweb's connection. civetweb 1.15 has no call that
 * returns it; its struct mg_connection holds it a few fields after the
 * request_info that mg_get_request_info() points to (and the public
 * response_info), at an offset that depends on build options. So the
 * ints there are tried once, the one that is this very connection (peer
 * address and port, our port) is remembered, and every later connection
 * is checked the same way: O(1), and a civetweb built otherwise gets a
 * 500 and a log line, never a wrong socket. */
static int find_socket(struct api *a, const struct mg_request_info *ri)
{
    long base = (long)(sizeof(*ri) + sizeof(struct mg_response_info));
    long off = atomic_load(&a->sock_off), o;
    int fd;

    if (off >= 0)
        return sock_at(ri, off);
    for (o = base; o < base + SOCK_SPAN; o += (long)sizeof(int)) {
        fd = sock_at(ri, o);
        if (fd >= 0) {
            atomic_store(&a->sock_off, o);
            log_debug("ws_socket_found", LOG_INT("offset", o));
            return fd;
        }
    }
    return -1;
}

/* Takes the connection away from civetweb: a copy of the socket is ours,
 * and civetweb's descriptor number now names an unconnected socket, which
 * it shuts down and closes as it ends the request, leaving ours alone. */
static int take_socket(int fd)
{
    int mine = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int dummy, rc;

    if (mine < 0)
        return -errno;
    dummy = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (dummy < 0 || dup2(dummy, fd) < 0) {
        rc = -errno;
        close(mine);
        if (dummy >= 0)
            close(dummy);
        return rc;
    }
    close(dummy);
    return mine;
}

/* The last X-Forwarded-For header (the one the nearest proxy wrote), or
 * NULL. */
static const char *forwarded_for(const struct mg_request_info *ri)
{
    const char *v = NULL;
    int i;

    for (i = 0; i < ri->num_headers; i++)
        if (strcasecmp(ri->http_headers[i].name, "X-Forwarded-For") == 0)
            v = ri->http_headers[i].value;
    return v;
}

/* The client's address as text into out[CLIENTADDR_TEXT_MAX]: what the
 * per-address cap counts. The peer's as civetweb gives it when that does
 * not parse (a Unix socket). */
static const char *client_of(const struct api *a,
                             const struct mg_request_info *ri, char *out)
{
    struct clientaddr who;

    if (clientaddr_get(ri->remote_addr, forwarded_for(ri), a->trusted,
                       a->n_trusted, &who))
        return ri->remote_addr;
    return clientaddr_format(&who, out, CLIENTADDR_TEXT_MAX);
}

/* Answers 503. One ws_refused line a second at most, with the number of
 * refusals it stands for: a flood of sockets must not flood the log. */
static void refuse(struct api *a, struct mg_connection *c, int rc,
                   const char *client)
{
    const char *why = rc == -EBUSY    ? "too many clients"
                      : rc == -EUSERS ? "too many clients from your address"
                                      : "try again later";

    if (mono_due(&a->last_refused_log, 1000))
        log_warn("ws_refused", LOG_INT("error", rc), LOG_STR("why", why),
                 LOG_STR("client", client),
                 LOG_INT("refused", atomic_exchange(&a->refused_quiet, 0) + 1));
    else
        atomic_fetch_add(&a->refused_quiet, 1);
    http_send_json(c, 503, json_pack("{s:s}", "error", why),
                   "Retry-After: 1\r\n");
}

/* civetweb calls this for an upgrade on WS_PATH once the key and version
 * are checked, with the connection not yet answered; returning 1 tells it
 * not to do its own handshake, and it then ends the connection (by then
 * an empty one, see take_socket()). civetweb hands the connection as
 * const, and its own handlers write through it: so do we. */
static int on_ws_connect(const struct mg_connection *cc, void *arg)
{
    struct mg_connection *c = (struct mg_connection *)cc;
    const char *key = mg_get_header(c, "Sec-WebSocket-Key");
    char accept[WSPROTO_ACCEPT_LEN + 1], who[CLIENTADDR_TEXT_MAX];
    const char *client;
    struct api *a = arg;
    struct loop_viewer *v;
    int fd, rc;

    if (!key || wsproto_accept(key, accept)) {
        http_send_error(c, 400, "bad Sec-WebSocket-Key");
        return 1;
    }
    fd = find_socket(a, mg_get_request_info(c));
    if (fd < 0) {
        log_error("ws_socket_not_found", LOG_STR("hint", "civetweb build"));
        http_send_error(c, 500, "WebSocket unavailable");
        return 1;
    }
    client = client_of(a, mg_get_request_info(c), who);
    rc = loop_reserve(a->loop, client, &v);
    if (rc) {
        refuse(a, c, rc, client);
        return 1;
    }
    fd = take_socket(fd);
    if (fd < 0) {
        loop_unreserve(a->loop, v);
        log_error("ws_takeover_failed", LOG_INT("error", fd));
        http_send_error(c, 500, "WebSocket unavailable");
        return 1;
    }
    loop_adopt(a->loop, v, fd, accept);
    return 1;
}

int api_start(struct api **out, struct mg_context *ctx, struct loop *l,
              const struct clientaddr_net *trusted, int n)
{
    struct api *a;

    *out = NULL;
    if (n < 0 || n > CLIENTADDR_MAX_TRUSTED)
        return -EINVAL;
    a = calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->loop = l;
    a->n_trusted = n;
    if (n)
        memcpy(a->trusted, trusted, (size_t)n * sizeof(*trusted));
    atomic_init(&a->sock_off, -1);
    mg_set_request_handler(ctx, "/api/results$", on_results, a);
    mg_set_request_handler(ctx, WS_PATH "$", on_ws_plain, a);
    mg_set_websocket_handler(ctx, WS_PATH "$", on_ws_connect, NULL, NULL, NULL,
                             a);
    *out = a;
    return 0;
}

void api_free(struct api *a)
{
    free(a);
}

void api_close(struct api *a, struct loop *l, struct mg_context *ctx,
               uint16_t code, unsigned wait_ms)
{
    unsigned left;

    log_info("stopping", LOG_INT("clients", loop_count(l)));
    left = loop_close_all(l, code, wait_ms);
    if (left)
        log_warn("close_frames_unsent", LOG_INT("clients", left));
    http_stop(ctx);
    api_free(a);
}
