/* wstest.c - WebSocket test clients; see wstest.h. */
#include "result/wstest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>

#include "lib/mono/mono.h"
#include "result/wsproto.h"

static long long parse_total(const char *s)
{
    const char *p = strstr(s, "\"total\":");

    return p ? strtoll(p + 8, NULL, 10) : -1;
}

static int on_data(struct mg_connection *c, int bits, char *data, size_t len,
                   void *arg)
{
    struct wstest *w = arg;
    int op = bits & 0x0f;

    pthread_mutex_lock(&w->mu);
    if (op == MG_WEBSOCKET_OPCODE_TEXT) {
        if (len >= sizeof(w->last))
            len = sizeof(w->last) - 1;
        memcpy(w->last, data, len);
        w->last[len] = '\0';
        w->total = parse_total(w->last);
        w->frames++;
    } else if (op == MG_WEBSOCKET_OPCODE_PING) {
        /* as browsers do; result drops clients that never answer */
        mg_websocket_client_write(c, MG_WEBSOCKET_OPCODE_PONG, data, len);
        w->pings++;
    } else if (op == MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE && len >= 2) {
        w->close_code = ((unsigned char)data[0] << 8) | (unsigned char)data[1];
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 1;
}

static void on_close(const struct mg_connection *c, void *arg)
{
    struct wstest *w = arg;

    pthread_mutex_lock(&w->mu);
    w->closed = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int wstest_open(struct wstest *w, uint16_t port, const char *path)
{
    char ebuf[128];

    memset(w, 0, sizeof(*w));
    w->total = -1;
    pthread_mutex_init(&w->mu, NULL);
    if (mono_cond_init(&w->cv)) /* for mono_deadline() */
        return -ENOMEM;
    w->conn =
        mg_connect_websocket_client("127.0.0.1", port, 0, ebuf, sizeof(ebuf),
                                    path, NULL, on_data, on_close, w);
    return w->conn ? 0 : -ECONNREFUSED;
}

/* Waits until pred(w, arg) holds; w->mu is held around pred. */
static int wait_for(struct wstest *w, int (*pred)(struct wstest *, long long),
                    long long arg, unsigned timeout_ms)
{
    struct timespec dl = mono_deadline(timeout_ms);
    int rc = 0;

    pthread_mutex_lock(&w->mu);
    while (!pred(w, arg) && rc == 0)
        rc = pthread_cond_timedwait(&w->cv, &w->mu, &dl);
    rc = pred(w, arg) ? 0 : -ETIMEDOUT;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

static int has_frames(struct wstest *w, long long n)
{
    return w->frames >= (unsigned)n;
}

static int has_total(struct wstest *w, long long total)
{
    return w->total == total;
}

static int is_closed(struct wstest *w, long long unused)
{
    return w->closed;
}

int wstest_wait_frames(struct wstest *w, unsigned n, unsigned timeout_ms)
{
    return wait_for(w, has_frames, n, timeout_ms);
}

int wstest_wait_total(struct wstest *w, long long total, unsigned timeout_ms)
{
    return wait_for(w, has_total, total, timeout_ms);
}

int wstest_wait_closed(struct wstest *w, unsigned timeout_ms)
{
    return wait_for(w, is_closed, 0, timeout_ms);
}

int wstest_send(struct wstest *w, int opcode, const char *data, size_t len)
{
    return mg_websocket_client_write(w->conn, opcode, data, len) > 0 ? 0 : -EIO;
}

void wstest_close(struct wstest *w)
{
    if (!w->conn)
        return;
    /* The server hangs up on a close frame, which wakes our reader at
     * once; without it mg_close_connection() waits out a 2 s poll. */
    if (!w->closed)
        mg_websocket_client_write(w->conn, MG_WEBSOCKET_OPCODE_CONNECTION_CLOSE,
                                  "\x03\xe8", 2);
    wstest_wait_closed(w, 3000);
    mg_close_connection(w->conn);
    w->conn = NULL;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

/* Reads the handshake answer up to the blank line; 0 on a 101. */
static int read_upgrade(int fd)
{
    char buf[1024];
    size_t got = 0;
    ssize_t n;

    while (got < sizeof(buf) - 1) {
        n = read(fd, buf + got, 1); /* byte by byte: leave frames unread */
        if (n <= 0)
            return -EIO;
        got++;
        buf[got] = '\0';
        if (got >= 4 && memcmp(buf + got - 4, "\r\n\r\n", 4) == 0)
            return strncmp(buf, "HTTP/1.1 101", 12) == 0 ? 0 : -EPROTO;
    }
    return -EPROTO;
}

int wstest_raw_open(uint16_t port, const char *path, int rcvbuf)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    char req[512];
    int fd, n, rc;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        rc = -errno;
        goto out_close;
    }
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                 path);
    if (write(fd, req, (size_t)n) != n) {
        rc = -EIO;
        goto out_close;
    }
    rc = read_upgrade(fd);
    if (rc)
        goto out_close;
    return fd;

out_close:
    close(fd);
    return rc;
}

long wstest_rss_kb(int pid)
{
    char line[256], path[64];
    long kb = -1;
    FILE *f;

    if (pid)
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/status");
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

/* Binds fd to the local address src (127.0.0.2: any of 127/8 is this
 * host's). 0 or -errno. */
static int bind_from(int fd, const char *src)
{
    struct sockaddr_in a = {.sin_family = AF_INET};

    if (inet_pton(AF_INET, src, &a.sin_addr) != 1)
        return -EINVAL;
    return bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
}

int wstest_upgrade_from(uint16_t port, const char *path, const char *src,
                        const char *xff, int *status)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    char buf[1024], fwd[256] = "";
    size_t got = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ssize_t n;

    *status = 0;
    if (fd < 0)
        return -errno;
    if (xff)
        snprintf(fwd, sizeof(fwd), "X-Forwarded-For: %s\r\n", xff);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    n = snprintf(buf, sizeof(buf),
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
                 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                 path, fwd);
    if ((src && bind_from(fd, src)) ||
        connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
        write(fd, buf, (size_t)n) != n) {
        close(fd);
        return -ECONNREFUSED;
    }
    while (got < sizeof(buf) - 1) { /* byte by byte: leave frames unread */
        if (read(fd, buf + got, 1) != 1)
            break;
        buf[++got] = '\0';
        if (got >= 4 && memcmp(buf + got - 4, "\r\n\r\n", 4) == 0) {
            *status = (int)strtol(buf + 9, NULL, 10);
            if (*status == 101 &&
                !strstr(buf, "Sec-WebSocket-Accept: "
                             "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"))
                *status = -1; /* a wrong key */
            break;
        }
    }
    return fd;
}

int wstest_raw_upgrade(uint16_t port, const char *path, int *status)
{
    return wstest_upgrade_from(port, path, NULL, NULL, status);
}

size_t wstest_client_header(uint8_t *h, int b0, uint64_t len)
{
    size_t n = wsproto_header(h, b0 & 0x0f, len);

    h[0] = (uint8_t)b0;
    h[1] |= 0x80;
    memset(h + n, 0, 4);
    return n + 4;
}

int wstest_wait_hangup(int fd, unsigned ms, int *close_code)
{
    int64_t end = mono_ms() + ms;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint8_t buf[4096];
    ssize_t n, i;

    while (mono_ms() < end) {
        if (poll(&p, 1, 50) <= 0)
            continue;
        n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n <= 0 && !(n < 0 && errno == EAGAIN))
            return 0;
        for (i = 0; close_code && i + 3 < n; i++)
            if (buf[i] == 0x88 && buf[i + 1] >= 2 && buf[i + 1] < 126)
                *close_code = buf[i + 2] << 8 | buf[i + 3];
    }
    return -ETIMEDOUT;
}

size_t wstest_flood(int fd, size_t total, unsigned ms)
{
    static const uint8_t junk[64 * 1024];
    int64_t end = mono_ms() + ms;
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    size_t sent = 0, n;
    ssize_t w;

    while (sent < total && mono_ms() < end) {
        n = total - sent < sizeof(junk) ? total - sent : sizeof(junk);
        w = send(fd, junk, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            sent += (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            poll(&p, 1, 50);
        } else {
            break; /* EPIPE, ECONNRESET: the server hung up */
        }
    }
    return sent;
}
