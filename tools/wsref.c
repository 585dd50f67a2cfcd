/* wsref.c - tools/bench's reference for P4: the least a server can do to
 * hold N WebSockets and update them, with none of result's logic. One
 * thread, epoll, nonblocking sockets:
 *   GET /api/results/ws (upgrade)  101, then {"total":T} as a text frame
 *   GET /api/results               {"total":T}
 *   POST /api/vote                 T+1, the new frame written once to every
 *                                  WebSocket, then 200
 * so tools/bench-ws.mjs's `clients` mode runs against it unchanged. A
 * frame that does not fit a socket is dropped (a reference, not a
 * server). Usage: wsref PORT (listens on 127.0.0.1). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "result/wsproto.h"

#define REQ_MAX 2048 /* bytes of one request head */
#define EVENTS  256

/* One connection: the request head until it is whole, then a WebSocket. */
struct conn {
    int fd;
    int ws;
    size_t have;
    char req[REQ_MAX];
    struct conn *next; /* WebSockets */
};

struct ref {
    int ep, lfd;
    long long total;
    struct conn *viewers;
    size_t n_viewers;
};

static void send_all(int fd, const void *p, size_t n)
{
    if (send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)n)
        return; /* dropped: see the file's comment */
}

/* {"total":T} as a frame into out; its length. */
static size_t frame(const struct ref *r, uint8_t *out, size_t n)
{
    char json[64];
    int len = snprintf(json, sizeof(json), "{\"total\":%lld}", r->total);
    size_t h = wsproto_header(out, WSPROTO_OP_TEXT, (uint64_t)len);

    if (h + (size_t)len > n)
        return 0;
    memcpy(out + h, json, (size_t)len);
    return h + (size_t)len;
}

static void answer(int fd, const char *status, const char *body)
{
    char out[256];
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     status, strlen(body), body);

    send_all(fd, out, (size_t)n);
}

static void upgrade(struct ref *r, struct conn *c, const char *key)
{
    char accept[WSPROTO_ACCEPT_LEN + 1], key24[32], out[256];
    uint8_t f[64];
    size_t fl;
    int n;

    snprintf(key24, sizeof(key24), "%.24s", key);
    if (wsproto_accept(key24, accept)) {
        answer(c->fd, "400 Bad Request", "{}");
        return;
    }
    n = snprintf(out, sizeof(out),
                 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                 accept);
    send_all(c->fd, out, (size_t)n);
    fl = frame(r, f, sizeof(f));
    send_all(c->fd, f, fl);
    c->ws = 1;
    c->next = r->viewers;
    r->viewers = c;
    r->n_viewers++;
}

/* A vote: the new total, encoded once, written to every viewer. */
static void vote(struct ref *r, int fd)
{
    struct conn *v;
    uint8_t f[64];
    size_t fl;

    r->total++;
    fl = frame(r, f, sizeof(f));
    for (v = r->viewers; v; v = v->next)
        if (v->fd >= 0)
            send_all(v->fd, f, fl);
    answer(fd, "200 OK", "{\"ok\":true}");
}

static void request(struct ref *r, struct conn *c)
{
    char body[64];
    const char *key = strcasestr(c->req, "Sec-WebSocket-Key: ");

    if (strncmp(c->req, "GET /api/results/ws", 19) == 0 && key) {
        upgrade(r, c, key + 19);
    } else if (strncmp(c->req, "POST /api/vote", 14) == 0) {
        vote(r, c->fd);
    } else {
        snprintf(body, sizeof(body), "{\"total\":%lld}", r->total);
        answer(c->fd, "200 OK", body);
    }
    c->have = 0; /* keep-alive: the next request (bodies are ignored) */
}

static void on_readable(struct ref *r, struct conn *c)
{
    char junk[512];
    ssize_t n;

    if (c->ws) { /* what viewers send is dropped */
        n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
            epoll_ctl(r->ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1; /* stays in the list, skipped */
        }
        return;
    }
    n = recv(c->fd, c->req + c->have, sizeof(c->req) - 1 - c->have,
             MSG_DONTWAIT);
    if (n <= 0) {
        if (n == 0 || errno != EAGAIN) {
            close(c->fd);
            free(c);
        }
        return;
    }
    c->have += (size_t)n;
    c->req[c->have] = '\0';
    if (strstr(c->req, "\r\n\r\n"))
        request(r, c);
    else if (c->have == sizeof(c->req) - 1)
        c->have = 0;
}

static void on_accept(struct ref *r)
{
    struct epoll_event e = {.events = EPOLLIN};
    struct conn *c;
    int fd, one = 1;

    while ((fd = accept4(r->lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
        c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        c->fd = fd;
        e.data.ptr = c;
        epoll_ctl(r->ep, EPOLL_CTL_ADD, fd, &e);
    }
}

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 4096))
        return -1;
    return fd;
}

int main(int argc, char **argv)
{
    struct epoll_event ev[EVENTS], e = {.events = EPOLLIN};
    struct ref r = {0};
    int i, n;

    if (argc != 2) {
        fprintf(stderr, "usage: wsref PORT\n");
        return 2;
    }
    r.lfd = listen_on((int)strtol(argv[1], NULL, 10));
    r.ep = epoll_create1(0);
    if (r.lfd < 0 || r.ep < 0) {
        perror("wsref");
        return 1;
    }
    e.data.ptr = NULL;
    epoll_ctl(r.ep, EPOLL_CTL_ADD, r.lfd, &e);
    for (;;) {
        n = epoll_wait(r.ep, ev, EVENTS, -1);
        for (i = 0; i < n; i++)
            if (!ev[i].data.ptr)
                on_accept(&r);
            else
                on_readable(&r, ev[i].data.ptr);
    }
}
