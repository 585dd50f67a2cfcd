/* testhttp.c - test HTTP client; see testhttp.h. */
#include "vote/testhttp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int testhttp_connect(struct testhttp *h, uint16_t port)
{
    return testhttp_connect_from(h, NULL, port);
}

int testhttp_connect_from(struct testhttp *h, const char *from, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    struct sockaddr_in src = {.sin_family = AF_INET};
    struct timeval tv = {15, 0};
    int one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    h->port = port;
    h->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (h->fd < 0)
        return -errno;
    setsockopt(h->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (from && (inet_pton(AF_INET, from, &src.sin_addr) != 1 ||
                 bind(h->fd, (struct sockaddr *)&src, sizeof(src)))) {
        close(h->fd);
        h->fd = -1;
        return -EADDRNOTAVAIL;
    }
    if (connect(h->fd, (struct sockaddr *)&a, sizeof(a))) {
        close(h->fd);
        h->fd = -1;
        return -ECONNREFUSED;
    }
    return 0;
}

void testhttp_close(struct testhttp *h)
{
    if (h->fd >= 0)
        close(h->fd);
    h->fd = -1;
}

static int send_all(int fd, const char *p, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int testhttp_header(const struct testhttp_resp *r, const char *name, char *out,
                    size_t n)
{
    size_t len = strlen(name);
    const char *p = r->headers;

    while ((p = strchr(p, '\n')) != NULL) {
        p++;
        if (strncasecmp(p, name, len) == 0 && p[len] == ':') {
            p += len + 1;
            p += strspn(p, " ");
            snprintf(out, n, "%.*s", (int)strcspn(p, "\r\n"), p);
            return 0;
        }
    }
    return -ENOENT;
}

/* Reads until the end of the headers; the rest read goes to the body. */
static int read_answer(struct testhttp *h, struct testhttp_resp *r)
{
    static __thread char buf[sizeof(r->headers) + sizeof(r->body)];
    size_t got = 0, hlen, blen, want;
    char clen[24], *end = NULL;
    ssize_t n;

    while (!end) {
        n = recv(h->fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            return -EIO;
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end && got >= sizeof(r->headers) - 1)
            return -E2BIG;
    }
    hlen = (size_t)(end - buf) + 2;
    memcpy(r->headers, buf, hlen);
    r->headers[hlen] = '\0';
    if (sscanf(r->headers, "HTTP/1.%*d %d", &r->status) != 1)
        return -EPROTO;
    want = testhttp_header(r, "Content-Length", clen, sizeof(clen)) == 0
               ? strtoul(clen, NULL, 10)
               : 0;
    if (want >= sizeof(r->body))
        return -E2BIG;
    blen = got - hlen - 2;
    memcpy(r->body, end + 4, blen);
    while (blen < want) {
        n = recv(h->fd, r->body + blen, want - blen, 0);
        if (n <= 0)
            return -EIO;
        blen += (size_t)n;
    }
    r->body[blen] = '\0';
    return 0;
}

int testhttp_send(struct testhttp *h, const char *req, struct testhttp_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->status = -1;
    if (send_all(h->fd, req, strlen(req)))
        return -EIO;
    return read_answer(h, r);
}

int testhttp_vote_request(char *req, size_t n, const char *extra,
                          const char *option, const char *voter)
{
    char body[192];
    int len;

    len = snprintf(body, sizeof(body), "{\"vote\":\"%s\",\"voter_id\":\"%s\"}",
                   option, voter);
    if (len < 0 || (size_t)len >= sizeof(body))
        return -ENOSPC;
    len = snprintf(req, n,
                   "POST /api/vote HTTP/1.1\r\nHost: t\r\n%s"
                   "Content-Type: application/json\r\nContent-Length: %d\r\n"
                   "\r\n%s",
                   extra, len, body);
    return (len < 0 || (size_t)len >= n) ? -ENOSPC : 0;
}

int testhttp_once(uint16_t port, const char *req, struct testhttp_resp *r)
{
    return testhttp_once_from(NULL, port, req, r);
}

int testhttp_once_from(const char *from, uint16_t port, const char *req,
                       struct testhttp_resp *r)
{
    struct testhttp h;
    int rc;

    memset(r, 0, sizeof(*r));
    r->status = -1;
    if (testhttp_connect_from(&h, from, port))
        return -1;
    rc = testhttp_send(&h, req, r);
    testhttp_close(&h);
    return rc ? -1 : r->status;
}
