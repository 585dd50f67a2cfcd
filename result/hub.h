/* hub.h - the WebSocket clients of one result instance, and the latest
 * snapshot each one still has to get.
 *
 * Every client has a one-frame slot and its own writer thread: a publish
 * only swaps the new snapshot into each slot (a slow client's older,
 * unsent one is dropped) and wakes the writers, so a client that stops
 * reading holds up nobody but itself and always gets the latest state
 * when it can. A client whose write fails gets no more frames (the write
 * function ends its connection: api.c's shuts the socket down).
 *
 * The hub knows nothing of civetweb: it builds each RFC 6455 frame once
 * per snapshot (server frames are unmasked, so every client gets the same
 * bytes) and hands whole frames to o->write, one send each, called on the
 * client's writer thread only (never two at once for one client). hub_new()
 * hands *out to the caller; hub_free() after the last hub_remove(). All
 * functions are thread-safe. */
#ifndef RESULT_HUB_H
#define RESULT_HUB_H

#include <stddef.h>
#include <stdint.h>

#define HUB_WRITER_STACK (128 * 1024) /* bytes of stack of a writer thread */

#define HUB_OP_TEXT  1 /* WebSocket opcodes */
#define HUB_OP_CLOSE 8

struct metrics;
struct hub;
struct hub_client;

struct hub_opts {
    unsigned max_clients;
    /* Sends one whole frame; 0, or -errno. May block (a slow client). */
    int (*write)(void *conn, const char *frame, size_t len);
    struct metrics *metrics; /* NULL, or gauges/counters go here */
};

int hub_new(struct hub **out, const struct hub_opts *o);

/* Frees the hub; every client must have been removed. NULL-safe. */
void hub_free(struct hub *h);

/* Registers conn and starts its writer; the current snapshot, if any, is
 * its first frame. -EBUSY when max_clients are connected, -ESHUTDOWN
 * after hub_close_all(), -ENOMEM / -EAGAIN. */
int hub_add(struct hub *h, void *conn, struct hub_client **out);

/* Unregisters c, waits for its writer to finish (a write in flight
 * included), frees c. NULL-safe. */
void hub_remove(struct hub *h, struct hub_client *c);

/* Makes json (copied) the current snapshot; with broadcast, also queues
 * it to every client. 0 or -ENOMEM. */
int hub_publish(struct hub *h, const char *json, size_t len, int broadcast);

/* Copies the current snapshot, NUL-terminated, into buf. -ENODATA before
 * the first publish, -ENOSPC when buf is too small. */
int hub_current(struct hub *h, char *buf, size_t n, size_t *len);

unsigned hub_count(struct hub *h);
int hub_full(struct hub *h); /* 1 when no more clients are taken */

/* Sends a close frame (code, e.g. 1001 "going away") to every client
 * instead of any pending snapshot, refuses new clients, and waits up to
 * wait_ms for the frames to be written. Returns how many were not. */
unsigned hub_close_all(struct hub *h, uint16_t code, unsigned wait_ms);

#endif
