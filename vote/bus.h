/* bus.h - publishes votes to JetStream, stream VOTES (subjects votes.>,
 * proto/contract.h).
 *
 * One NATS connection that (re)connects forever in the background with
 * capped backoff; bus_open() succeeds while NATS is down. Publishes are
 * asynchronous (js_PublishMsgAsync) with a Nats-Msg-Id header, and each
 * caller waits only for the PubAck of its own message: the AckHandler finds
 * the waiting caller by the natsMsg it was given (and its Nats-Msg-Id), and
 * a message the library gives back at a disconnect fails its caller first.
 * Many threads publish at once on one connection, so no thread waits on a
 * private round trip. A list of servers (struct natsconn) is a cluster:
 * the connection moves to another node when one dies.
 *
 * bus_open() hands *out to the caller; release with bus_close(). All other
 * calls are thread-safe. */
#ifndef VOTE_BUS_H
#define VOTE_BUS_H

#include <stddef.h>
#include <stdint.h>

struct bus;
struct metric;
struct natsconn;
struct jstream_settings;

struct bus_opts {
    const struct natsconn *conn; /* servers and credentials, copied */
    const struct jstream_settings *streams; /* copied; NULL: defaults */
    unsigned dup_window_s;                  /* stream Duplicates, seconds */
    unsigned max_pending;   /* in-flight async publishes, 0: 4096 */
    struct metric *pending; /* gauge of publishes awaiting a PubAck */
};

struct bus_ack {
    uint64_t seq;  /* stream sequence */
    int duplicate; /* the msg id was seen in the window: not stored again */
    int err_code;  /* JetStream error code after -EIO, else 0 */
};

/* Starts connecting; 0 even when NATS is down (see bus_check), -errno on
 * bad options or no memory (natsconn_errno()). o is copied. */
int bus_open(struct bus **out, const struct bus_opts *o);

/* Checks the stream by lib/jstream's rules; never creates it (the worker
 * owns the streams). 0 when connected and the stream is there and may be
 * used; -ENOENT while it is missing and -EPERM while it is refused
 * (publishes fail at once with the same, readyz says why, the log says it
 * once); -ENOTCONN while NATS is unreachable; -EIO when JetStream does not
 * answer. Cheap once it has succeeded. */
int bus_check(struct bus *b);

/* For /readyz: 0 when bus_check() last succeeded and the connection is
 * up, else -errno and a reason in why. */
int bus_ready(struct bus *b, char *why, size_t n);

/* Publishes data on subject with header Nats-Msg-Id: msg_id and waits for
 * its PubAck, retrying with the same id (so at most one copy is stored)
 * until timeout_ms. 0 with *ack filled; -ENOTCONN when NATS is not
 * connected (fails fast); -ETIMEDOUT without a PubAck in time; -EAGAIN when
 * too many publishes are pending; -ENOENT when no stream takes the subject
 * (or the last bus_check() found VOTES missing); -EPERM when it refused it;
 * -EIO when JetStream answers an error (ack->err_code says which); any
 * other failure of nats.c as natsconn_errno() says it. */
int bus_publish(struct bus *b, const char *subject, const void *data,
                size_t len, const char *msg_id, unsigned timeout_ms,
                struct bus_ack *ack);

/* Waits up to timeout_ms for every pending publish to be acknowledged.
 * 0, -ETIMEDOUT, or what natsconn_errno() makes of another failure. */
int bus_flush(struct bus *b, unsigned timeout_ms);

/* Closes the connection and frees. NULL-safe. Call bus_flush() first. */
void bus_close(struct bus *b);

#endif
