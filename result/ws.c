/* ws.c - a WebSocket on a socket of our own; see ws.h. */
#include "result/ws.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "result/wsproto.h"

#define READ_CHUNK    512  /* bytes taken from the socket at a time */
#define CLOSE_WAIT_MS 1000 /* for our last close frame */

void ws_conn_init(struct ws_conn *c, int fd, unsigned timeout_ms)
{
    memset(c, 0, sizeof(*c));
    c->fd = fd;
    c->timeout_ms = timeout_ms;
    pthread_mutex_init(&c->mu, NULL);
}

void ws_conn_destroy(struct ws_conn *c)
{
    pthread_mutex_destroy(&c->mu);
}

/* The port and printed address of a socket address. */
static int addr_of(const struct sockaddr_storage *sa, char *host, size_t n)
{
    const struct sockaddr_in *v4 = (const struct sockaddr_in *)sa;
    const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)sa;

    if (sa->ss_family == AF_INET) {
        if (host)
            inet_ntop(AF_INET, &v4->sin_addr, host, (socklen_t)n);
        return ntohs(v4->sin_port);
    }
    if (sa->ss_family == AF_INET6) {
        if (host)
            inet_ntop(AF_INET6, &v6->sin6_addr, host, (socklen_t)n);
        return ntohs(v6->sin6_port);
    }
    return -1;
}

/* Is fd the TCP connection remote -> local_port? */
static int is_conn(int fd, const char *remote_addr, int remote_port,
                   int local_port)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    char host[INET6_ADDRSTRLEN];

    if (getpeername(fd, (struct sockaddr *)&sa, &len) ||
        addr_of(&sa, NULL, 0) != remote_port)
        return 0;
    if (addr_of(&sa, host, sizeof(host)) < 0 || strcmp(host, remote_addr))
        return 0;
    len = sizeof(sa);
    if (getsockname(fd, (struct sockaddr *)&sa, &len))
        return 0;
    return addr_of(&sa, NULL, 0) == local_port;
}

int ws_find_socket(const char *remote_addr, int remote_port, int local_port)
{
    struct dirent *e;
    DIR *d = opendir("/proc/self/fd");
    int fd = -ENOENT, n;

    if (!d)
        return -errno;
    while (fd < 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        n = (int)strtol(e->d_name, NULL, 10);
        if (n != dirfd(d) && is_conn(n, remote_addr, remote_port, local_port))
            fd = n;
    }
    closedir(d);
    return fd;
}

/* Sends all of buf before deadline (mono ms); c->mu is held. */
static int send_all(int fd, const uint8_t *buf, size_t len, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int64_t left;
    ssize_t n;

    while (len > 0) {
        n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        left = deadline - mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        poll(&p, 1, (int)left);
    }
    return 0;
}

/* One frame under the lock; a failure ends the connection. */
static int write_frame(struct ws_conn *c, const uint8_t *frame, size_t len,
                       unsigned wait_ms)
{
    int rc;

    pthread_mutex_lock(&c->mu);
    if (c->closed) {
        pthread_mutex_unlock(&c->mu);
        return -EPIPE;
    }
    rc = send_all(c->fd, frame, len, mono_ms() + wait_ms);
    if (rc || (frame[0] & 0x0f) == WSPROTO_OP_CLOSE)
        c->closed = 1;
    if (rc) {
        c->failed = 1;
        shutdown(c->fd, SHUT_RDWR); /* wakes ws_serve() */
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int ws_write(struct ws_conn *c, const void *frame, size_t len)
{
    return write_frame(c, frame, len, c->timeout_ms);
}

int ws_handshake(struct ws_conn *c, const char *accept, int (*admit)(void *arg),
                 void *arg)
{
    char head[256];
    int n, rc;

    n = snprintf(head, sizeof(head),
                 "HTTP/1.1 101 Switching Protocols\r\n"
                 "Upgrade: websocket\r\n"
                 "Connection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: %s\r\n\r\n",
                 accept);
    if (n < 0 || (size_t)n >= sizeof(head))
        return -EINVAL;
    pthread_mutex_lock(&c->mu);
    rc = admit(arg);
    if (rc == 0)
        rc = send_all(c->fd, (const uint8_t *)head, (size_t)n,
                      mono_ms() + c->timeout_ms);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/* A control frame of ours: code (if any) then payload. */
static int send_control(struct ws_conn *c, int op, const uint8_t *payload,
                        size_t len, unsigned wait_ms)
{
    uint8_t f[WSPROTO_HDR_MAX + WSPROTO_MAX_CONTROL];
    size_t h = wsproto_header(f, op, len);

    if (len)
        memcpy(f + h, payload, len);
    return write_frame(c, f, h + len, wait_ms);
}

static void send_close(struct ws_conn *c, uint16_t code)
{
    uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};

    send_control(c, WSPROTO_OP_CLOSE, b, 2, CLOSE_WAIT_MS);
}

/* What the reader knows of the frame in progress. */
struct reader {
    struct wsproto_state st;
    struct wsproto_frame f;
    uint8_t hdr[WSPROTO_HDR_MAX];
    size_t hdr_have;
    int in_payload;
    size_t payload_have;
    uint8_t ctl[WSPROTO_MAX_CONTROL]; /* a control frame's payload */
    uint16_t close_code;              /* of a refused frame */
    int frames;                       /* complete frames in this read */
};

/* A complete frame: answer pings and close. 0 to go on, or how it ends. */
static int frame_done(struct reader *r, struct ws_conn *c)
{
    size_t len = r->f.payload_len;
    uint16_t code;

    r->in_payload = 0;
    r->frames++;
    if (r->f.opcode < WSPROTO_OP_CLOSE || r->f.opcode == WSPROTO_OP_PONG)
        return 0; /* data is dropped; a pong only proves life */
    wsproto_unmask(&r->f, r->ctl, len, 0);
    if (r->f.opcode == WSPROTO_OP_PING)
        return send_control(c, WSPROTO_OP_PONG, r->ctl, len, c->timeout_ms)
                   ? WS_END_WRITE_FAILED
                   : 0;
    /* Close: echo the client's code (RFC 6455 5.5.1) when it may be sent
     * (1000-4999 but 1004-1006 and 1015), else 1000 or 1002. */
    code = len >= 2 ? (uint16_t)(r->ctl[0] << 8 | r->ctl[1])
                    : WSPROTO_CLOSE_NORMAL;
    if (code < 1000 || code > 4999 || (code >= 1004 && code <= 1006) ||
        code == 1015 || len == 1)
        code = WSPROTO_CLOSE_PROTOCOL;
    send_close(c, code);
    return WS_END_CLIENT_CLOSE;
}

/* Takes header bytes from p; the number used, or -1 when refused. */
static long take_header(struct reader *r, const uint8_t *p, size_t n)
{
    size_t take = sizeof(r->hdr) - r->hdr_have;
    size_t before = r->hdr_have;

    if (take > n)
        take = n;
    memcpy(r->hdr + r->hdr_have, p, take);
    r->hdr_have += take;
    switch (wsproto_parse(&r->st, r->hdr, r->hdr_have, &r->f, &r->close_code)) {
    case WSPROTO_NEED_MORE:
        return (long)take;
    case WSPROTO_REFUSE:
        return -1;
    default:
        r->hdr_have = 0;
        r->in_payload = 1;
        r->payload_have = 0;
        return (long)(r->f.hdr_len - before);
    }
}

/* Runs n received bytes through the frame reader. 0, or how it ends. */
static int feed(struct reader *r, struct ws_conn *c, const uint8_t *p, size_t n)
{
    size_t take;
    long used;
    int rc;

    while (n > 0) {
        if (!r->in_payload) {
            used = take_header(r, p, n);
            if (used < 0)
                return WS_END_REFUSED;
            p += used;
            n -= (size_t)used;
            if (!r->in_payload || r->f.payload_len > 0)
                continue;
        } else {
            take = r->f.payload_len - r->payload_have;
            if (take > n)
                take = n;
            if (r->f.opcode >= WSPROTO_OP_CLOSE)
                memcpy(r->ctl + r->payload_have, p, take);
            r->payload_have += take;
            p += take;
            n -= take;
            if (r->payload_have < r->f.payload_len)
                continue;
        }
        rc = frame_done(r, c);
        if (rc)
            return rc;
    }
    return 0;
}

/* Waits for input until the next ping or drop time. 1 readable (or a
 * poll error: the read will say), 0 time is up, -1 stop. */
static int wait_input(int fd, int stop_fd, int64_t until)
{
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                          {.fd = stop_fd, .events = POLLIN}};
    int64_t left;
    int n;

    for (;;) {
        left = until - mono_ms();
        if (left <= 0)
            return 0;
        n = poll(p, 2, (int)left);
        if (n < 0)
            return 1;
        if (n == 0)
            continue; /* poll rounds: check the clock again */
        return p[1].revents ? -1 : 1;
    }
}

/* One read; 0 to go on, or how it ends. */
static int read_some(struct reader *r, struct ws_conn *c)
{
    uint8_t buf[READ_CHUNK];
    ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n == 0)
        return WS_END_GONE;
    if (n < 0)
        return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                   ? 0
                   : WS_END_GONE;
    return feed(r, c, buf, (size_t)n);
}

enum ws_end ws_serve(struct ws_conn *c, int stop_fd)
{
    struct reader r;
    int64_t last = mono_ms(); /* of the last complete frame */
    int pinged = 0, rc = 0, w;

    memset(&r, 0, sizeof(r));
    while (rc == 0) {
        w = wait_input(c->fd, stop_fd, last + c->timeout_ms * (pinged + 1));
        if (w < 0) {
            rc = WS_END_STOP;
        } else if (w > 0) {
            r.frames = 0;
            rc = read_some(&r, c);
            if (r.frames) {
                last = mono_ms();
                pinged = 0;
            }
        } else if (pinged) {
            rc = WS_END_TIMEOUT;
        } else {
            pinged = 1;
            if (send_control(c, WSPROTO_OP_PING, NULL, 0, c->timeout_ms))
                rc = WS_END_WRITE_FAILED;
        }
    }
    if (rc == WS_END_REFUSED)
        send_close(c, r.close_code);
    pthread_mutex_lock(&c->mu);
    if (rc == WS_END_GONE && c->failed)
        rc = WS_END_WRITE_FAILED; /* our own shutdown after a bad write */
    pthread_mutex_unlock(&c->mu);
    shutdown(c->fd, SHUT_RDWR);
    return (enum ws_end)rc;
}

const char *ws_end_name(enum ws_end e)
{
    static const char *const names[] = {
        "?",       "client_close", "gone", "refused",
        "timeout", "write_failed", "stop"};

    return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}
