/* wstest.h - WebSocket test clients for result's tests (testonly).
 *
 * wstest_open() connects with civetweb's client API and records every
 * text frame (count, last one, its "total") and the close code; the
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

#endif
