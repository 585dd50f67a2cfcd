/* ws.h - one server-side WebSocket on a socket result reads and writes
 * itself, with its own limits and deadlines.
 *
 * Why not civetweb's WebSocket: civetweb 1.15 reads a whole frame into
 * memory before a handler sees it (it allocates what the header
 * announces, up to ~2 GiB, and waits for slow bytes with no limit), and it
 * has no option or callback to refuse a frame on its header. So result
 * keeps civetweb for HTTP and for accepting the connection, takes the
 * upgrade in the WebSocket connect handler (civetweb has checked the key
 * and version by then), answers the 101 itself and runs the frames here:
 * each header is judged by wsproto_parse() before its payload is read,
 * reads go through a fixed 512-byte buffer, and the kernel's socket buffer
 * is all that holds what a client sends. Patching and building civetweb
 * would also work, but would mean carrying a fork of it.
 *
 * civetweb 1.15 has no call that returns a connection's socket and
 * mg_read() stops at the (empty) request body, so ws_find_socket() finds
 * the socket by its addresses among the process's descriptors. Bytes a
 * client sends before it has the 101 are lost (civetweb read them with
 * the request): clients must wait for it, and browsers do.
 *
 * Timing, with T = the ping interval: a client that sends no complete
 * frame for T gets a ping; one that sends no complete frame for another T
 * (a stall mid-frame included, however slowly its bytes come) is dropped,
 * and so is one that takes longer than T to accept a frame we write.
 *
 * Threads: ws_serve() runs on the connection's own (civetweb) thread;
 * ws_write() may be called from any thread, one frame at a time. */
#ifndef RESULT_WS_H
#define RESULT_WS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct ws_conn {
    int fd;              /* not owned: civetweb closes it */
    unsigned timeout_ms; /* T above */
    pthread_mutex_t mu;  /* one frame at a time; guards closed */
    int closed;          /* a close frame went out or a write failed */
    int failed;          /* a write failed */
};

/* Why ws_serve() returned. */
enum ws_end {
    WS_END_CLIENT_CLOSE = 1, /* the client's close frame, answered */
    WS_END_GONE,             /* the peer closed or reset the connection */
    WS_END_REFUSED,          /* a frame broke wsproto's rules: closed with it */
    WS_END_TIMEOUT,          /* no complete frame for 2 T */
    WS_END_WRITE_FAILED,     /* a write failed or took longer than T */
    WS_END_STOP,             /* stop_fd became readable */
};

void ws_conn_init(struct ws_conn *c, int fd, unsigned timeout_ms);
void ws_conn_destroy(struct ws_conn *c);

/* Finds the descriptor of the TCP connection from remote_addr (as
 * civetweb prints it) and remote_port to local_port. The fd, or -ENOENT
 * (or -errno when /proc/self/fd cannot be read). */
int ws_find_socket(const char *remote_addr, int remote_port, int local_port);

/* Under the write lock (so nothing else is written first): calls
 * admit(arg) and, when it returns 0, sends the 101 answer with accept as
 * Sec-WebSocket-Accept. Returns admit's error (nothing sent: the caller
 * answers with an HTTP error), or -errno when the 101 failed. */
int ws_handshake(struct ws_conn *c, const char *accept, int (*admit)(void *arg),
                 void *arg);

/* Sends one whole frame within T; 0 or -errno. After a failure, or once a
 * close frame went out, every later write fails with -EPIPE; a failure
 * also shuts the socket down, which ends ws_serve(). */
int ws_write(struct ws_conn *c, const void *frame, size_t len);

/* Reads and answers client frames until the connection ends: pongs to
 * pings, an echoed close to a close, pings when the client is quiet,
 * close code 1002 or 1009 for a refused frame; data frames are read and
 * dropped. Ends with the socket shut down (civetweb closes it). stop_fd:
 * a descriptor that becomes readable when the server stops. */
enum ws_end ws_serve(struct ws_conn *c, int stop_fd);

const char *ws_end_name(enum ws_end e);

#endif
