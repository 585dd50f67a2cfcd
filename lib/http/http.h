/* http.h - what every service's HTTP side shares, over civetweb:
 * starting a server with /healthz, /readyz and /metrics wired, JSON
 * answers and errors, bounded body reads, and the --healthcheck client.
 *
 * Handlers run on civetweb's worker threads; everything here is safe to
 * call from them. Every error a client sees is JSON {"error":"..."}. */
#ifndef LIB_HTTP_H
#define LIB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_WHY_MAX 512 /* room for the reasons of /readyz */

#include <civetweb.h>
#include <jansson.h>

struct metrics;

struct http_opts {
    const char *listen;      /* "127.0.0.1:0", ...; NULL: port */
    uint16_t port;           /* with listen NULL: every address, this port */
    unsigned threads;        /* civetweb worker threads (>= connections) */
    const char *doc_root;    /* static files, or NULL */
    struct metrics *metrics; /* served on /metrics, or NULL */
    /* /readyz: 0 when ready, else -errno with a reason in why (n is
     * HTTP_WHY_MAX). */
    int (*ready)(void *arg, char *why, size_t n);
    void *ready_arg;
    void *user;         /* mg_get_user_data() of the context */
    const char **extra; /* more civetweb options, NULL-terminated pairs */
};

/* Starts the server; o is kept and must outlive it. -EINVAL, logged with
 * civetweb's message, on failure (a port in use included). */
int http_start(struct mg_context **out, const struct http_opts *o);

/* Stops accepting, lets in-flight requests finish, frees. NULL-safe. */
void http_stop(struct mg_context *ctx);

/* The TCP port the server listens on (useful after listening on 0). */
uint16_t http_port(const struct mg_context *ctx);

/* Sends body as JSON with `status`, and decrefs it. extra_headers is
 * NULL or "Name: value\r\n" lines. Returns status, for handlers. */
int http_send_json(struct mg_connection *c, int status, json_t *body,
                   const char *extra_headers);

/* Sends {"error": msg} with `status`. Returns status. */
int http_send_error(struct mg_connection *c, int status, const char *msg);

/* Sends a plain body of `type`. Returns status. */
int http_send_text(struct mg_connection *c, int status, const char *type,
                   const char *body, size_t len);

/* Reads the request body into buf (NUL-terminated) and its length into
 * *len. -E2BIG when it has more than cap - 1 bytes; -EIO on a short read. */
int http_read_body(struct mg_connection *c, char *buf, size_t cap, size_t *len);

/* Sends the raw request req to 127.0.0.1:port with civetweb's client and
 * reads the whole answer (until the server closes: ask with HTTP/1.0) into
 * body, NUL-terminated and cut to n - 1 bytes; body may be NULL. The
 * status, or -ECONNREFUSED. For the health check and tests. */
int http_request(uint16_t port, const char *req, char *body, size_t n);

/* GETs http://127.0.0.1:port/healthz: 0 when it answers 200, else -errno. */
int http_healthcheck(uint16_t port);

/* For main(): with argv[1] == "--healthcheck", probes the port named by
 * port_var (default def_port) and returns the exit code (0 or 1);
 * otherwise returns -1 and main goes on. */
int http_healthcheck_main(int argc, char **argv, const char *port_var,
                          uint16_t def_port);

#endif
