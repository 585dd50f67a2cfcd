/* config.c - environment settings; see config.h. */
#include "lib/config/config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log/log.h"

int config_invalid(const char *name, const char *value, const char *why)
{
    log_error("config_invalid", LOG_STR("variable", name),
              LOG_STR("value", value), LOG_STR("error", why));
    return -EINVAL;
}

static const char *env_or(const char *name, const char *def)
{
    const char *v = getenv(name);

    return (v && *v) ? v : def;
}

static int copy_checked(const char *src, char *out, size_t n)
{
    int len = snprintf(out, n, "%s", src ? src : "");

    return (len < 0 || (size_t)len >= n) ? -EINVAL : 0;
}

int config_str(const char *name, const char *def, char *out, size_t n)
{
    const char *v = env_or(name, def);
    char why[64];

    if (copy_checked(v, out, n) == 0)
        return 0;
    snprintf(why, sizeof(why), "longer than %zu characters", n - 1);
    return config_invalid(name, v, why);
}

int config_long(const char *name, long def, long min, long max, long *out)
{
    const char *v = getenv(name);
    char why[96];
    char *end;
    long x;

    if (!v || !*v) {
        *out = def;
        return 0;
    }
    errno = 0;
    x = strtol(v, &end, 10);
    if (errno || end == v || *end != '\0' || x < min || x > max) {
        snprintf(why, sizeof(why), "must be a whole number from %ld to %ld",
                 min, max);
        return config_invalid(name, v, why);
    }
    *out = x;
    return 0;
}

int config_port(const char *name, uint16_t def, uint16_t *out)
{
    long x;
    int rc = config_long(name, def, 1, 65535, &x);

    if (rc == 0)
        *out = (uint16_t)x;
    return rc;
}

/* Splits "host[:port]" (host may be "[v6]") into out->host, out->port. */
static int parse_hostport(const char *s, size_t len, uint16_t def_port,
                          struct config_url *out)
{
    const char *colon = NULL;
    char port[8];
    char *end;
    long p;
    size_t i;

    for (i = 0; i < len; i++)
        if (s[i] == ':')
            colon = s + i;
    if (s[0] == '[' && colon && memchr(colon, ']', (size_t)(s + len - colon)))
        colon = NULL;
    if (!colon)
        colon = s + len;
    if (colon == s || (size_t)(colon - s) >= sizeof(out->host))
        return -EINVAL;
    memcpy(out->host, s, (size_t)(colon - s));
    out->host[colon - s] = '\0';
    out->port = def_port;
    if (colon == s + len)
        return 0;
    if ((size_t)(s + len - colon - 1) >= sizeof(port) || colon + 1 == s + len)
        return -EINVAL;
    memcpy(port, colon + 1, (size_t)(s + len - colon - 1));
    port[s + len - colon - 1] = '\0';
    p = strtol(port, &end, 10);
    if (*end || p < 1 || p > 65535)
        return -EINVAL;
    out->port = (uint16_t)p;
    return 0;
}

static int parse_userinfo(const char *s, size_t len, struct config_url *out)
{
    const char *colon = memchr(s, ':', len);
    size_t ulen = colon ? (size_t)(colon - s) : len;
    size_t plen = colon ? len - ulen - 1 : 0;

    if (ulen >= sizeof(out->user) || plen >= sizeof(out->password))
        return -EINVAL;
    memcpy(out->user, s, ulen);
    out->user[ulen] = '\0';
    if (colon)
        memcpy(out->password, colon + 1, plen);
    out->password[plen] = '\0';
    return 0;
}

int config_parse_url(const char *raw, const char *scheme, uint16_t def_port,
                     struct config_url *out)
{
    size_t slen = strlen(scheme);
    const char *auth, *at, *end;

    memset(out, 0, sizeof(*out));
    if (copy_checked(raw, out->raw, sizeof(out->raw)) ||
        copy_checked(scheme, out->scheme, sizeof(out->scheme)))
        return -EINVAL;
    if (strncmp(raw, scheme, slen) != 0 || strncmp(raw + slen, "://", 3) != 0)
        return -EINVAL;
    auth = raw + slen + 3;
    if (strpbrk(auth, " \t\r\n"))
        return -EINVAL;
    end = auth + strcspn(auth, "/?#");
    at = memchr(auth, '@', (size_t)(end - auth));
    if (at && memchr(at + 1, '@', (size_t)(end - at - 1)))
        return -EINVAL; /* a second '@': host and userinfo are ambiguous */
    if (at && parse_userinfo(auth, (size_t)(at - auth), out))
        return -EINVAL;
    if (at)
        auth = at + 1;
    return parse_hostport(auth, (size_t)(end - auth), def_port, out);
}

void config_redact_url(const char *url, char *out, size_t n)
{
    size_t k = strspn(url, "abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
    const char *host, *at;
    int len;

    /* kept: a scheme (RFC 3986 letters) and its "://"; dropped: up to
     * the last '@', which a password holding '/', '?', '#' or "://"
     * would hide from a parse of the authority (found by fuzzing) */
    host = k && strncmp(url + k, "://", 3) == 0 ? url + k + 3 : url;
    at = strrchr(url, '@');
    if (!at)
        len = snprintf(out, n, "%s", url);
    else
        len = snprintf(out, n, "%.*s%s", (int)(host - url), url, at + 1);
    if (n && (len < 0 || (size_t)len >= n))
        out[0] = '\0';
}

int config_url(const char *name, const char *def, const char *scheme,
               uint16_t def_port, struct config_url *out)
{
    const char *v = env_or(name, def);
    char why[96], shown[512];

    if (config_parse_url(v, scheme, def_port, out) == 0)
        return 0;
    snprintf(why, sizeof(why), "must be a URL like %s://host:%u", scheme,
             def_port);
    config_redact_url(v, shown, sizeof(shown));
    return config_invalid(name, shown[0] ? shown : "(too long to show)", why);
}

/* Reads the first line of `path` into out. */
static int read_secret_file(const char *path, char *out, size_t n)
{
    FILE *f = fopen(path, "r");
    int rc = 0;

    if (!f)
        return -errno;
    if (!fgets(out, (int)n, f))
        out[0] = '\0';
    else if (!strchr(out, '\n') && !feof(f) && fgetc(f) != EOF)
        rc = -E2BIG;
    out[strcspn(out, "\r\n")] = '\0';
    fclose(f);
    return rc;
}

int config_secret(const char *name, const char *def, char *out, size_t n)
{
    char file_var[96];
    const char *path;
    int rc;

    snprintf(file_var, sizeof(file_var), "%s_FILE", name);
    path = getenv(file_var);
    if (!path || !*path) {
        if (copy_checked(env_or(name, def), out, n) == 0)
            return 0;
        return config_invalid(name, "(not shown)", "the secret is too long");
    }
    if (getenv(name) && *getenv(name))
        return config_invalid(file_var, path,
                              "set only one of NAME and NAME_FILE");
    rc = read_secret_file(path, out, n);
    if (rc == -E2BIG)
        return config_invalid(file_var, path,
                              "the secret in this file is too long");
    if (rc)
        return config_invalid(file_var, path, strerror(-rc));
    return 0;
}
