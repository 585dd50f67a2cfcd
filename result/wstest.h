/* wstest.h - WebSocket test clients for result's tests (testonly).
 *
 * wstest_open() connects with civetweb's client API and records every
 * text frame (count, last one, its "total") and the close code, and
 * answers pings (as browsers do); the
 * waits block until a condition holds or the timeout passes (-ETIMEDOUT).
 * wstest_raw_open() does the handshake on a bare socket with a small
 * receive buffer and returns the fd: a client that never reads. */
#ifndef RESULT_WSTEST_H
#define RESULT_WSTEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct mg_connection;

struct wstest {
    struct mg_connection *conn;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned frames; /* text frames received */
    long long total; /* "total" of the last one, or -1 */
    char last[4096]; /* the last one */
    int closed;      /* the connection ended */
    int close_code;  /* from the server's close frame */
    unsigned pings;  /* pings answered */
};

int wstest_open(struct wstest *w, uint16_t port, const char *path);
int wstest_wait_frames(struct wstest *w, unsigned n, unsigned timeout_ms);
int wstest_wait_total(struct wstest *w, long long total, unsigned timeout_ms);
int wstest_wait_closed(struct wstest *w, unsigned timeout_ms);
/* Sends a frame (masked, as a client must). */
int wstest_send(struct wstest *w, int opcode, const char *data, size_t len);
/* Says goodbye (a close frame), then frees the connection. */
void wstest_close(struct wstest *w);

/* A handshaken socket that will never be read; -errno on failure. */
int wstest_raw_open(uint16_t port, const char *path, int rcvbuf);

/* Raw clients that misbehave on purpose. wstest_raw_upgrade() sends the
 * RFC's example handshake and reads the answer's head: the fd, and the
 * status in *status (101 only with the right Sec-WebSocket-Accept). */
int wstest_raw_upgrade(uint16_t port, const char *path, int *status);

/* The same from local address src (NULL: any; "127.0.0.2": another
 * client of this host), with an X-Forwarded-For header when xff is not
 * NULL. The fd is the viewer: close it to leave. */
int wstest_upgrade_from(uint16_t port, const char *path, const char *src,
                        const char *xff, int *status);

/* A masked client frame header (first byte b0, mask key 0) into
 * h[WSPROTO_HDR_MAX]; its length. */
size_t wstest_client_header(uint8_t *h, int b0, uint64_t len);

/* Waits until the server ends the connection (EOF or reset), reading and
 * dropping what comes; notes a close frame's code in *close_code (may be
 * NULL). 0, or -ETIMEDOUT. */
int wstest_wait_hangup(int fd, unsigned ms, int *close_code);

/* Sends up to total bytes of junk, never blocking, until the server
 * hangs up or ms pass; how many bytes went out. */
size_t wstest_flood(int fd, size_t total, unsigned ms);

/* VmRSS of pid (0: this process) in KiB, or -1. */
long wstest_rss_kb(int pid);

#endif
