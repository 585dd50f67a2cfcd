/* jspull.h - takes messages from a JetStream pull consumer the way the
 * worker does: requests to $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>
 * over core NATS, replies on an inbox of its own, never with
 * natsSubscription_Fetch() (see jspull.c for the nats.c 3.4.1 overflow).
 * Used by the worker and by `votectl pull`.
 *
 * jspull_open() hands *out to the caller and subscribes on the caller's
 * connection, which stays the caller's. At the end: jspull_nak_leftovers()
 * while the connection is up, natsConnection_Close(), then jspull_free()
 * (destroying a subscription before the close can hang in 3.4.1). One
 * thread uses a jspull; messages fetched belong to the caller
 * (natsMsgList_Destroy). */
#ifndef LIB_JSPULL_H
#define LIB_JSPULL_H

#include <stdint.h>

#include <nats/nats.h>

struct jspull;

/* batch: most messages per fetch; wait_ms: longest wait for a fetch when
 * nothing is there; inbox_prefix: where the messages arrive, the
 * connection's (natsconn_inbox(): "_INBOX_worker"), NULL for "_INBOX".
 * 0, -ENOMEM or -EIO (*err tells the NATS status). */
int jspull_open(struct jspull **out, natsConnection *nc, const char *stream,
                const char *consumer, const char *inbox_prefix, int batch,
                int wait_ms, natsStatus *err);

/* Up to batch messages into *list (allocated here), returning as soon as
 * the backlog is empty and waiting up to wait_ms only when nothing is
 * there. A full batch asks for the next one at once (a prefetch), so the
 * server sends it while the caller works. 0 with list->Count > 0;
 * -ETIMEDOUT when none came; -ENOENT when the server said the consumer is
 * not there (deleted, or its stream: re-create it and fetch again);
 * -EIO with *err on other errors. Messages the server sent that did not
 * fit stay in the inbox for the next call. */
int jspull_fetch(struct jspull *p, natsMsgList *list, natsStatus *err);

/* At shutdown: up to a batch of what was delivered and not yet fetched,
 * waiting for what is still due (the prefetch, up to 1 s, or until the
 * last waiting request expires); asks for no more. Same returns; call
 * until -ETIMEDOUT. */
int jspull_fetch_delivered(struct jspull *p, natsMsgList *list,
                           natsStatus *err);

/* Acknowledgements: what natsMsg_Ack() and friends send, as plain
 * publishes to the message's reply subject (buffered; flush the
 * connection to send them now). what: "+ACK", "-NAK", "+WPI", "+TERM".
 * 0, -EINVAL (no reply subject) or -EIO. */
int jspull_reply(natsConnection *nc, natsMsg *m, const char *what);

/* Hands back (NAK) whatever waits in the inbox, for a clean shutdown. */
void jspull_nak_leftovers(struct jspull *p);

void jspull_free(struct jspull *p); /* NULL-safe; after the close */

#endif
