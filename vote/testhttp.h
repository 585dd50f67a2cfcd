/* testhttp.h - a minimal HTTP/1.1 client for the vote tests: raw
 * requests over a keep-alive loopback connection, answers parsed into
 * status, headers and body. Test-only; one connection per thread. */
#ifndef VOTE_TESTHTTP_H
#define VOTE_TESTHTTP_H

#include <stddef.h>
#include <stdint.h>

struct testhttp_resp {
    int status;
    char headers[2048]; /* the raw header lines */
    char body[8192];
};

struct testhttp {
    int fd;
    uint16_t port;
};

int testhttp_connect(struct testhttp *h, uint16_t port);
/* The same from a local address of the client's choice (127.0.0.2: any
 * of 127/8 is this host's); NULL: the kernel's choice. */
int testhttp_connect_from(struct testhttp *h, const char *from, uint16_t port);
void testhttp_close(struct testhttp *h);

/* Sends req (a whole raw request) and reads one answer. 0 or -errno. */
int testhttp_send(struct testhttp *h, const char *req, struct testhttp_resp *r);

/* One request on a fresh connection; returns the status, or -1. */
int testhttp_once(uint16_t port, const char *req, struct testhttp_resp *r);
int testhttp_once_from(const char *from, uint16_t port, const char *req,
                       struct testhttp_resp *r);

/* A raw POST /api/vote of option for voter (a JSON body) into req[n],
 * with extra header lines ("" or "Name: v\r\n..."). 0, or -ENOSPC. */
int testhttp_vote_request(char *req, size_t n, const char *extra,
                          const char *option, const char *voter);

/* The value of header `name` in r (case-insensitive) into out; 0 or
 * -ENOENT. */
int testhttp_header(const struct testhttp_resp *r, const char *name, char *out,
                    size_t n);

#endif
