/* natsconn.h - where and as whom every NATS client of the project connects.
 *
 * One place reads the environment for the connection:
 *   NATS_URL            one URL or a comma-separated list of them
 *                       (nats://n1:4222,nats://n2:4222,nats://n3:4222);
 *                       each may carry user:password@
 *   NATS_USER           with NATS_PASSWORD or NATS_PASSWORD_FILE
 * and natsconn_apply() puts the whole list and the credentials on a
 * caller's natsOptions: nats.c then moves to another server of the list
 * when the one it uses dies.
 *
 * A client with a NATS_USER takes its replies (request replies, PubAcks,
 * pulled messages) on inboxes of its own, _INBOX_<user>.>, not _INBOX.>:
 * the server's permissions (compose/nats/auth.conf) let each user
 * subscribe to its own inboxes only, so no service can read the replies
 * meant for another, the votes the worker pulls among them. NATS_USER is
 * therefore one subject token: letters, digits, '-' and '_'. The connection
 * name, the reconnect policy and the callbacks stay with each caller.
 *
 * Credentials are never printed: `redacted` is the server list without
 * user or password, for /readyz, logs and metrics; one URL (e.g.
 * natsConnection_GetConnectedUrl()) goes through config_redact_url(). A struct
 * natsconn is a plain value (copy it freely); nothing here keeps state. */
#ifndef LIB_NATSCONN_H
#define LIB_NATSCONN_H

#include <stddef.h>

#include <nats/nats.h>

#define NATSCONN_MAX_SERVERS  8
#define NATSCONN_DEFAULT_URL  "nats://127.0.0.1:4222"
#define NATSCONN_DEFAULT_PORT 4222

struct natsconn {
    int n_servers;
    char servers[NATSCONN_MAX_SERVERS][512]; /* as given: may hold secrets */
    char user[64];                           /* NATS_USER, "" for none */
    char password[128];                      /* NATS_PASSWORD(_FILE) */
    char redacted[1024]; /* "nats://n1:4222,nats://n2:4222" */
};

/* Parses a server list without reading the environment nor logging.
 * 0, or -EINVAL with the 1-based index of the first bad entry in *bad
 * (0 when the list as a whole is wrong: empty, too long, too many). */
int natsconn_parse(struct natsconn *c, const char *list, int *bad);

/* Reads NATS_URL (default NATSCONN_DEFAULT_URL), NATS_USER and
 * NATS_PASSWORD / NATS_PASSWORD_FILE. 0, or -EINVAL after logging one
 * config_invalid line that names the variable (and never a password). */
int natsconn_load(struct natsconn *c);

/* "_INBOX_<user>": where a user's replies arrive ("_INBOX" without a
 * user, or for c NULL). Returns out. */
#define NATSCONN_INBOX_MAX 80
const char *natsconn_inbox(const struct natsconn *c, char *out, size_t n);

/* Sets the server list, the user and its inbox prefix on o. NATS_OK or
 * nats.c's status. */
natsStatus natsconn_apply(const struct natsconn *c, natsOptions *o);

/* What a nats.c status means as -errno, for callers that return -errno
 * (0 for NATS_OK; nats_GetLastError() has the details):
 *   -ECONNREFUSED  no server of the list could be reached
 *   -ENOTCONN      connection closed, lost, not yet made, or stale
 *   -EACCES        authentication failed (user or password)
 *   -EPERM         not permitted (the user's permissions)
 *   -ETIMEDOUT     no answer in time
 *   -ENOENT        not found, or no responders to a request
 *   -EINVAL        a bad argument, subject, timeout or address
 *   -EMSGSIZE      payload over the server's maximum
 *   -ENOBUFS       a slow consumer, or a buffer too small
 *   -ENOMEM        out of memory, and only then
 *   -EPROTO        protocol or TLS mismatch, sequence mismatch
 *   -ESHUTDOWN     draining
 *   -EOPNOTSUPP    the server does not support it
 *   -EIO           anything else (an error answered by the server). */
int natsconn_errno(natsStatus s);

#endif
