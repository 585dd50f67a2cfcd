/* loop.h - every WebSocket viewer of one result process, on one thread
 * with epoll, once civetweb has handed over the upgraded socket.
 *
 * A viewer costs its socket and one struct of a few hundred bytes (no
 * thread, no buffer of its own beyond a small one for our control frames).
 * Each snapshot is encoded once, as a whole frame (header included), and
 * shared by reference: every viewer holds at most the frame it is writing
 * and the latest one it has still to start (a newer snapshot replaces an
 * unstarted older one: coalescing). Writes never block: a viewer whose
 * socket is full waits for EPOLLOUT while the others go on, and one that
 * takes longer than T (the ping interval) to take what is queued for it
 * is dropped.
 *
 * The frames a viewer sends are read through a 512-byte buffer and judged
 * by wsproto's reader (header before payload; 1002, 1007 and 1009 per RFC
 * 6455). A viewer that sends no complete frame for T gets a ping, and is
 * dropped after another T. Every close is written and flushed before the
 * socket is shut down (then read to its end, or for LOOP_CLOSE_WAIT_MS).
 *
 * Threads: the loop runs on its own thread. loop_reserve(), loop_adopt(),
 * loop_unreserve() (civetweb's handlers), loop_publish() (the tally
 * thread), loop_current(), loop_count() and loop_close_all() may be
 * called from any thread; they hand work to the loop through a mutex and
 * an eventfd. loop_start() hands *out to the caller; loop_free() stops the
 * thread and closes what is left. */
#ifndef RESULT_LOOP_H
#define RESULT_LOOP_H

#include <stddef.h>
#include <stdint.h>

#define LOOP_CLOSE_WAIT_MS 1000   /* for a viewer to end after our close */
#define LOOP_SNAPSHOT_MAX  0xffff /* bytes of one snapshot's JSON */

struct metrics;
struct loop;
struct loop_viewer;

struct loop_opts {
    unsigned max_clients;    /* viewers at once (reserved ones included) */
    unsigned max_per_addr;   /* viewers from one peer address; 0: no cap */
    unsigned ping_ms;        /* T above */
    struct metrics *metrics; /* NULL, or gauges/counters go here */
};

/* Starts the loop's thread. 0 or -errno. */
int loop_start(struct loop **out, const struct loop_opts *o);

/* Stops the thread, closes every socket still held, frees. NULL-safe. */
void loop_free(struct loop *l);

/* Takes a viewer's slot for a connection from peer address addr, before
 * the 101 is sent. -EBUSY when max_clients are taken, -EUSERS when addr
 * has max_per_addr, -ESHUTDOWN after loop_close_all(), -ENOMEM. */
int loop_reserve(struct loop *l, const char *addr, struct loop_viewer **out);

/* Gives a reserved slot back (the upgrade failed). NULL-safe. */
void loop_unreserve(struct loop *l, struct loop_viewer *v);

/* Hands the socket fd of reserved viewer v to the loop, which owns and
 * closes it from now on: it sends the 101 with accept as
 * Sec-WebSocket-Accept, then the current snapshot, then every change. */
void loop_adopt(struct loop *l, struct loop_viewer *v, int fd,
                const char *accept);

/* Makes json (copied, at most LOOP_SNAPSHOT_MAX bytes) the current
 * snapshot; with broadcast, also sends it to every viewer. 0, -EMSGSIZE
 * or -ENOMEM. */
int loop_publish(struct loop *l, const char *json, size_t len, int broadcast);

/* Copies the current snapshot, NUL-terminated, into buf. -ENODATA before
 * the first publish, -ENOSPC when buf is too small. */
int loop_current(struct loop *l, char *buf, size_t n, size_t *len);

unsigned loop_count(struct loop *l); /* viewers, reserved ones included */

/* Sends a close frame with code (e.g. 1001 "going away") to every viewer
 * after the frame it is writing, refuses new viewers, and waits up to
 * wait_ms for the close frames to be flushed. Returns how many were not. */
unsigned loop_close_all(struct loop *l, uint16_t code, unsigned wait_ms);

#endif
