/* log.h - one JSON object per line on stdout, written with one write(2).
 *
 *   log_info("vote_published", "\"option\":%s,\"seq\":%llu", q, seq);
 *   {"ts":"2026-11-27T18:00:00.123Z","lvl":"info","svc":"vote",
 *    "event":"vote_published","option":"a","seq":42}
 *
 * The format adds the event's own fields (already JSON: quote strings with
 * log_quote()). Thread-safe: each line is built on the stack and written at
 * once. log_init() is called once, before any thread starts. */
#ifndef LIB_LOG_H
#define LIB_LOG_H

#include <stddef.h>

enum { LL_DEBUG, LL_INFO, LL_WARN, LL_ERROR }; /* not LOG_*: syslog.h */

extern int log_min_level;

/* Names the service and sets the level from `level` (debug, info, warn,
 * error; NULL or "" means info). -EINVAL, logged, on any other word. */
int log_init(const char *svc, const char *level);

/* Where lines go (stdout by default); for tests. */
void log_set_fd(int fd);

void log_emit(int lvl, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes `s` as a JSON string literal, quotes included, into buf and
 * returns buf. NULL becomes null; a string too long for buf is cut and ends
 * in "...". */
const char *log_quote(char *buf, size_t n, const char *s);

#define log_at(lvl, ev, ...)                                                   \
    do {                                                                       \
        if ((lvl) >= log_min_level)                                            \
            log_emit((lvl), (ev), __VA_ARGS__);                                \
    } while (0)
#define log_debug(ev, ...) log_at(LL_DEBUG, (ev), __VA_ARGS__)
#define log_info(ev, ...)  log_at(LL_INFO, (ev), __VA_ARGS__)
#define log_warn(ev, ...)  log_at(LL_WARN, (ev), __VA_ARGS__)
#define log_error(ev, ...) log_at(LL_ERROR, (ev), __VA_ARGS__)

#endif
