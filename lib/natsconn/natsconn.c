/* natsconn.c - the NATS server list and credentials; see natsconn.h. */
#include "lib/natsconn/natsconn.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config/config.h"
#include "lib/log/log.h"

/* Appends the redacted form of one parsed entry to c->redacted. */
static int add_redacted(struct natsconn *c, const struct config_url *u)
{
    size_t used = strlen(c->redacted);
    int len;

    len =
        snprintf(c->redacted + used, sizeof(c->redacted) - used, "%s%s://%s:%u",
                 used ? "," : "", u->scheme, u->host, u->port);
    return (len < 0 || (size_t)len >= sizeof(c->redacted) - used) ? -EINVAL : 0;
}

/* One entry of the list: [start, start+len), blanks around it trimmed. */
static int add_server(struct natsconn *c, const char *start, size_t len)
{
    struct config_url u;
    char one[512];

    while (len && (*start == ' ' || *start == '\t'))
        start++, len--;
    while (len && (start[len - 1] == ' ' || start[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof(one) || c->n_servers >= NATSCONN_MAX_SERVERS)
        return -EINVAL;
    memcpy(one, start, len);
    one[len] = '\0';
    if (config_parse_url(one, "nats", NATSCONN_DEFAULT_PORT, &u) ||
        u.host[0] == '\0')
        return -EINVAL;
    memcpy(c->servers[c->n_servers++], one, len + 1);
    return add_redacted(c, &u);
}

int natsconn_parse(struct natsconn *c, const char *list, int *bad)
{
    const char *p = list, *comma;
    int i = 0;

    memset(c, 0, sizeof(*c));
    *bad = 0;
    if (!list || !*list)
        return -EINVAL;
    for (;;) {
        comma = strchr(p, ',');
        i++;
        if (add_server(c, p, comma ? (size_t)(comma - p) : strlen(p))) {
            *bad = i <= NATSCONN_MAX_SERVERS ? i : 0;
            return -EINVAL;
        }
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static int has_userinfo(const struct natsconn *c)
{
    struct config_url u;
    int i;

    for (i = 0; i < c->n_servers; i++)
        if (config_parse_url(c->servers[i], "nats", NATSCONN_DEFAULT_PORT,
                             &u) == 0 &&
            (u.user[0] || u.password[0]))
            return 1;
    return 0;
}

/* The list with every entry redacted, for an error message. */
static void redact_list(const char *list, char *out, size_t n)
{
    char one[512], red[512];
    size_t used = 0, len;
    int w;

    out[0] = '\0';
    for (;;) {
        len = strcspn(list, ",");
        snprintf(one, sizeof(one), "%.*s", (int)len, list);
        config_redact_url(one, red, sizeof(red));
        w = snprintf(out + used, n - used, "%s%s", used ? "," : "", red);
        if (w < 0 || (size_t)w >= n - used || !list[len])
            return;
        used += (size_t)w;
        list += len + 1;
    }
}

static int load_url(struct natsconn *c)
{
    const char *raw = getenv("NATS_URL");
    char shown[300], why[200];
    int bad;

    if (!raw || !*raw)
        raw = NATSCONN_DEFAULT_URL;
    if (natsconn_parse(c, raw, &bad) == 0)
        return 0;
    redact_list(raw, shown, sizeof(shown));
    if (bad)
        snprintf(why, sizeof(why),
                 "entry %d is not a URL like nats://host:4222 (a list is "
                 "comma-separated)",
                 bad);
    else
        snprintf(why, sizeof(why),
                 "must be one URL like nats://host:4222 or a comma-separated "
                 "list of at most %d",
                 NATSCONN_MAX_SERVERS);
    return config_invalid("NATS_URL", shown, why);
}

/* "" (no user) or one subject token (the inbox prefix is built from it). */
static int user_ok(const char *u)
{
    for (; *u; u++)
        if (!isalnum((unsigned char)*u) && *u != '-' && *u != '_')
            return 0;
    return 1;
}

int natsconn_load(struct natsconn *c)
{
    if (load_url(c) || config_str("NATS_USER", "", c->user, sizeof(c->user)) ||
        config_secret("NATS_PASSWORD", "", c->password, sizeof(c->password)))
        return -EINVAL;
    if (!user_ok(c->user))
        return config_invalid(
            "NATS_USER", c->user,
            "must be one subject token: letters, digits, - and _");
    if (c->password[0] && !c->user[0])
        return config_invalid("NATS_USER", "",
                              "must be set with NATS_PASSWORD");
    if (c->user[0] && !c->password[0])
        return config_invalid(
            "NATS_PASSWORD", "(not shown)",
            "must be set (or NATS_PASSWORD_FILE) with NATS_USER");
    if (c->user[0] && has_userinfo(c))
        return config_invalid(
            "NATS_USER", c->user,
            "set credentials either in NATS_URL or in NATS_USER "
            "and NATS_PASSWORD, not both");
    return 0;
}

const char *natsconn_inbox(const struct natsconn *c, char *out, size_t n)
{
    if (c && c->user[0])
        snprintf(out, n, "_INBOX_%s", c->user);
    else
        snprintf(out, n, "_INBOX");
    return out;
}

natsStatus natsconn_apply(const struct natsconn *c, natsOptions *o)
{
    const char *list[NATSCONN_MAX_SERVERS];
    natsStatus s;
    int i;

    for (i = 0; i < c->n_servers; i++)
        list[i] = c->servers[i];
    s = natsOptions_SetServers(o, list, c->n_servers);
    if (s == NATS_OK && c->user[0])
        s = natsOptions_SetUserInfo(o, c->user, c->password);
    if (s == NATS_OK && c->user[0]) {
        char prefix[NATSCONN_INBOX_MAX];

        s = natsOptions_SetCustomInboxPrefix(
            o, natsconn_inbox(c, prefix, sizeof(prefix)));
    }
    return s;
}

int natsconn_errno(natsStatus s)
{
    switch (s) {
    case NATS_OK:
        return 0;
    case NATS_NO_SERVER:
        return -ECONNREFUSED;
    case NATS_CONNECTION_CLOSED:
    case NATS_CONNECTION_DISCONNECTED:
    case NATS_NOT_YET_CONNECTED:
    case NATS_STALE_CONNECTION:
        return -ENOTCONN;
    case NATS_CONNECTION_AUTH_FAILED:
        return -EACCES;
    case NATS_NOT_PERMITTED:
        return -EPERM;
    case NATS_TIMEOUT:
        return -ETIMEDOUT;
    case NATS_NOT_FOUND:
    case NATS_NO_RESPONDERS:
        return -ENOENT;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT:
    case NATS_INVALID_TIMEOUT:
    case NATS_INVALID_SUBSCRIPTION:
    case NATS_INVALID_QUEUE_NAME:
    case NATS_ADDRESS_MISSING:
        return -EINVAL;
    case NATS_MAX_PAYLOAD:
        return -EMSGSIZE;
    case NATS_SLOW_CONSUMER:
    case NATS_INSUFFICIENT_BUFFER:
        return -ENOBUFS;
    case NATS_NO_MEMORY:
        return -ENOMEM;
    case NATS_PROTOCOL_ERROR:
    case NATS_LINE_TOO_LONG:
    case NATS_SECURE_CONNECTION_WANTED:
    case NATS_SECURE_CONNECTION_REQUIRED:
    case NATS_SSL_ERROR:
    case NATS_MISMATCH:
        return -EPROTO;
    case NATS_DRAINING:
        return -ESHUTDOWN;
    case NATS_NO_SERVER_SUPPORT:
        return -EOPNOTSUPP;
    default:
        return -EIO;
    }
}
