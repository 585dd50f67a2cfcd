/* log.c - JSON-lines logging; see log.h. */
#include "lib/log/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int log_min_level = LL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static char svc_name[32] = "app";
static int out_fd = STDOUT_FILENO;

int log_init(const char *svc, const char *level)
{
    int i;

    snprintf(svc_name, sizeof(svc_name), "%s", svc);
    if (!level || !*level) {
        log_min_level = LL_INFO;
        return 0;
    }
    for (i = LL_DEBUG; i <= LL_ERROR; i++) {
        if (strcmp(level, level_names[i]) == 0) {
            log_min_level = i;
            return 0;
        }
    }
    log_error("config_invalid", LOG_STR("variable", "LOG_LEVEL"),
              LOG_STR("value", level),
              LOG_STR("error", "must be one of debug, info, warn, error"));
    return -EINVAL;
}

void log_set_fd(int fd)
{
    out_fd = fd;
}

/* The length (2-4) of the well-formed UTF-8 character at s, or 0 (RFC
 * 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n, i;

    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4;
    else
        return 0;
    if (s[0] == 0xE0)
        lo = 0xA0;
    else if (s[0] == 0xED)
        hi = 0x9F;
    else if (s[0] == 0xF0)
        lo = 0x90;
    else if (s[0] == 0xF4)
        hi = 0x8F;
    for (i = 1; i < n; i++, lo = 0x80, hi = 0xBF)
        if (s[i] < lo || s[i] > hi)
            return 0;
    return n;
}

/* A line being built: fields stop at `end`, which keeps room for what
 * closes the line (the objects open, "truncated":true, "}\n"). */
struct line {
    char buf[LOG_LINE_MAX];
    size_t len, end;
    int full; /* a field did not fit: the rest are left out */
};

static const char TRUNCATED[] = ",\"truncated\":true";

static int put(struct line *l, const char *s, size_t n)
{
    if (l->len + n > l->end)
        return -1;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return 0;
}

static int put_lit(struct line *l, const char *s)
{
    return put(l, s, strlen(s));
}

/* Writes s as a JSON string in at most max bytes (or what is left of the
 * line), cut at a character and ending in "..." when it does not fit.
 * NULL is written null. 0, 1 when cut, -1 when nothing fits. */
static int put_str(struct line *l, const char *s, size_t max)
{
    size_t room = l->end - l->len < max ? l->end - l->len : max;
    char *out = l->buf + l->len;
    size_t o = 0;
    int cut = 0;

    if (!s)
        return put_lit(l, "null");
    if (room < 5) /* "..." */
        return -1;
    out[o++] = '"';
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        size_t len, skip = 0;

        if (c == '"' || c == '\\')
            len = (size_t)snprintf(esc, sizeof(esc), "\\%c", c);
        else if (c < 0x20)
            len = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
        else if (c < 0x80)
            len = (size_t)snprintf(esc, sizeof(esc), "%c", c);
        else if ((len = utf8_len((const unsigned char *)s)) > 0) {
            memcpy(esc, s, len); /* one character, never cut in two */
            skip = len - 1;
        } else
            len = (size_t)snprintf(esc, sizeof(esc), "\\ufffd");
        if (o + len + 4 > room) { /* room for ..." */
            memcpy(out + o, "...", 3);
            o += 3;
            cut = 1;
            break;
        }
        memcpy(out + o, esc, len);
        o += len;
        s += skip;
    }
    out[o++] = '"';
    l->len += o;
    return cut;
}

static void put_fields(struct line *l, const struct log_field *f, int first);

/* The value of f; -1 when it does not fit. */
static int put_value(struct line *l, const struct log_field *f)
{
    char num[24];
    size_t room = l->end - l->len;
    int rc;

    switch (f->kind) {
    case LF_STR:
        rc = put_str(l, f->v.s, LOG_STR_MAX);
        if (rc == 1 && room < LOG_STR_MAX)
            l->full = 1; /* cut by the end of the line */
        return rc < 0 ? -1 : 0;
    case LF_INT:
        return put(l, num, (size_t)snprintf(num, sizeof(num), "%lld", f->v.i));
    case LF_UINT:
        return put(l, num, (size_t)snprintf(num, sizeof(num), "%llu", f->v.u));
    case LF_BOOL:
        return put_lit(l, f->v.i ? "true" : "false");
    case LF_OBJ:
        if (l->len + 2 > l->end) /* {} */
            return -1;
        l->buf[l->len++] = '{';
        l->end--; /* keeps room for the closing brace */
        put_fields(l, f->v.obj, 1);
        l->end++;
        return put_lit(l, "}");
    default:
        return put_lit(l, "null");
    }
}

/* ,"key":value for each field until LOG_END, as long as they fit: one
 * that does not is taken out whole, and marks the line full. */
static void put_fields(struct line *l, const struct log_field *f, int first)
{
    size_t mark;

    for (; f->kind != LF_END && !l->full; f++, first = 0) {
        mark = l->len;
        if ((!first && put_lit(l, ",")) ||
            put_str(l, f->key ? f->key : "null", LOG_STR_MAX) != 0 ||
            put_lit(l, ":") || put_value(l, f)) {
            l->len = mark;
            l->full = 1;
        }
    }
}

static size_t format_time(char *buf, size_t n)
{
    struct timespec ts;
    struct tm tm;
    size_t len;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    len = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    len +=
        (size_t)snprintf(buf + len, n - len, ".%03ldZ", ts.tv_nsec / 1000000);
    return len;
}

void log_emit(int lvl, const char *event, const struct log_field *fields)
{
    struct line l;
    char ts[40];

    if (lvl < LL_DEBUG || lvl > LL_ERROR)
        lvl = LL_ERROR;
    l.len = 0;
    l.end = sizeof(l.buf) - (sizeof(TRUNCATED) - 1) - 2; /* }\n */
    l.full = 0;
    format_time(ts, sizeof(ts));
    put_lit(&l, "{\"ts\":\"");
    put_lit(&l, ts);
    put_lit(&l, "\",\"lvl\":\"");
    put_lit(&l, level_names[lvl]);
    put_lit(&l, "\",\"svc\":");
    put_str(&l, svc_name, LOG_STR_MAX);
    put_lit(&l, ",\"event\":");
    put_str(&l, event, LOG_STR_MAX);
    put_fields(&l, fields, 0);
    if (l.full) {
        memcpy(l.buf + l.len, TRUNCATED, sizeof(TRUNCATED) - 1);
        l.len += sizeof(TRUNCATED) - 1;
    }
    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    if (write(out_fd, l.buf, l.len) < 0)
        return; /* nowhere left to report it */
}
