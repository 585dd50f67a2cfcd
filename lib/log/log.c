/* log.c - JSON-lines logging; see log.h. */
#include "lib/log/log.h"

#include <errno.h>
#include <stdarg.h>
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
    char q[80];
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
    log_emit(LL_ERROR, "config_invalid",
             "\"variable\":\"LOG_LEVEL\",\"value\":%s,"
             "\"error\":\"must be one of debug, info, warn, error\"",
             log_quote(q, sizeof(q), level));
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

const char *log_quote(char *buf, size_t n, const char *s)
{
    size_t o = 0;

    if (n < 8) {
        buf[0] = '\0';
        return buf;
    }
    if (!s) {
        memcpy(buf, "null", 5);
        return buf;
    }
    buf[o++] = '"';
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
        if (o + len + 5 > n) { /* room for ...", NUL */
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        memcpy(buf + o, esc, len);
        o += len;
        s += skip;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
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

void log_emit(int lvl, const char *event, const char *fmt, ...)
{
    char line[1024];
    char ts[40];
    va_list ap;
    int head, body;
    size_t len;

    if (lvl < LL_DEBUG || lvl > LL_ERROR)
        lvl = LL_ERROR;
    format_time(ts, sizeof(ts));
    head = snprintf(line, sizeof(line),
                    "{\"ts\":\"%s\",\"lvl\":\"%s\",\"svc\":\"%s\","
                    "\"event\":\"%s\"",
                    ts, level_names[lvl], svc_name, event);
    if (head < 0 || (size_t)head >= sizeof(line) - 32)
        return;
    len = (size_t)head;
    if (fmt && *fmt) {
        va_start(ap, fmt);
        line[len] = ',';
        body = vsnprintf(line + len + 1, sizeof(line) - len - 1 - 3, fmt, ap);
        va_end(ap);
        /* A cut field could leave broken JSON: drop the fields instead. */
        if (body >= 0 && (size_t)body < sizeof(line) - len - 1 - 3)
            len += 1 + (size_t)body;
        else
            len += (size_t)snprintf(line + len, sizeof(line) - len,
                                    ",\"truncated\":true");
    }
    line[len++] = '}';
    line[len++] = '\n';
    if (write(out_fd, line, len) < 0)
        return; /* nowhere left to report it */
}
