/* log.h - one JSON object per line on stdout, written with one write(2).
 *
 *   log_info("vote_published", LOG_STR("option", opt), LOG_UINT("seq", seq));
 *   {"ts":"2026-11-27T18:00:00.123Z","lvl":"info","svc":"vote",
 *    "event":"vote_published","option":"a","seq":42}
 *
 * Callers pass typed fields and never write JSON: the library escapes
 * every string (quotes, backslash, control characters; a byte that is not
 * UTF-8 becomes U+FFFD) and writes NULL as null. A string takes at most
 * LOG_STR_MAX bytes, quotes included: a longer one is cut and ends in
 * "...". A line takes at most LOG_LINE_MAX bytes: a field that does not
 * fit is left out with all after it (a string is cut instead, if its name
 * fits), and the line ends in "truncated":true; it stays valid JSON.
 * Fields are read during the call only. Thread-safe: each line is built
 * on the stack and written at once. log_init() is called once, before any
 * thread starts. */
#ifndef LIB_LOG_H
#define LIB_LOG_H

enum { LL_DEBUG, LL_INFO, LL_WARN, LL_ERROR }; /* not LOG_*: syslog.h */

#define LOG_LINE_MAX 1024 /* bytes, newline included */
#define LOG_STR_MAX  512  /* bytes of one string, quotes included */

extern int log_min_level;

/* Names the service and sets the level from `level` (debug, info, warn,
 * error; NULL or "" means info). -EINVAL, logged, on any other word. */
int log_init(const char *svc, const char *level);

/* Where lines go (stdout by default); for tests. */
void log_set_fd(int fd);

enum log_kind { LF_END, LF_STR, LF_INT, LF_UINT, LF_BOOL, LF_OBJ };

/* One "key":value member; build it with the LOG_* macros below. */
struct log_field {
    const char *key;
    enum log_kind kind;
    union {
        const char *s;
        long long i;
        unsigned long long u;
        const struct log_field *obj; /* ends with LOG_END */
    } v;
};

#define LOG_STR(k, x)  ((struct log_field){(k), LF_STR, {.s = (x)}})
#define LOG_INT(k, x)  ((struct log_field){(k), LF_INT, {.i = (x)}})
#define LOG_UINT(k, x) ((struct log_field){(k), LF_UINT, {.u = (x)}})
#define LOG_BOOL(k, x) ((struct log_field){(k), LF_BOOL, {.i = !!(x)}})
/* A nested object: x points at fields that end with LOG_END. */
#define LOG_OBJ(k, x) ((struct log_field){(k), LF_OBJ, {.obj = (x)}})
#define LOG_END       ((struct log_field){NULL, LF_END, {.i = 0}})

/* Writes one line; fields ends with LOG_END. */
void log_emit(int lvl, const char *event, const struct log_field *fields);

/* log_info("event", field, ...): the fields are evaluated only when lvl
 * is logged. */
#define log_at(lvl, ...) log_fields_at((lvl), __VA_ARGS__, LOG_END)
#define log_fields_at(lvl, ev, ...)                                            \
    do {                                                                       \
        if ((lvl) >= log_min_level)                                            \
            log_emit((lvl), (ev), (const struct log_field[]){__VA_ARGS__});    \
    } while (0)
#define log_debug(...) log_at(LL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_at(LL_INFO, __VA_ARGS__)
#define log_warn(...)  log_at(LL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LL_ERROR, __VA_ARGS__)

#endif
