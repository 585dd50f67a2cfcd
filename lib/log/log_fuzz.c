/* log_fuzz.c - libFuzzer target: log lines with fuzzed fields, as outside
 * text (config values, Postgres and Redis errors, URLs) reaches them.
 *
 * Input: the event, NUL, then fields, each a kind byte, the key, NUL and
 * a value: kind % 5 is 0 a string (to the next NUL), 1 an integer and
 * 2 an unsigned one (8 bytes each), 3 a bool (1 byte), 4 an object whose
 * members are the next (byte % 8) fields (one level). Whatever the input,
 * the output must be one line, at most LOG_LINE_MAX bytes, that jansson
 * (which checks UTF-8 too) reads as one object: every field that is
 * there has its value (a string may be cut, ending in "..."), and all of
 * them are there unless the line says "truncated". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/log/log.h"
#include "tests/fuzz/fuzz.h"

#define FIELDS_MAX 24

struct input {
    const char *p, *end; /* *end is a NUL */
};

static const char *next_str(struct input *in)
{
    const char *s = in->p;

    in->p += strlen(s);
    if (in->p < in->end)
        in->p++;
    return s;
}

static int next_byte(struct input *in)
{
    return in->p < in->end ? (unsigned char)*in->p++ : 0;
}

static void next_bytes(struct input *in, void *out, size_t n)
{
    size_t have = (size_t)(in->end - in->p);

    memset(out, 0, n);
    memcpy(out, in->p, have < n ? have : n);
    in->p += have < n ? have : n;
}

/* Up to max fields into f, then LOG_END; an object's members go to
 * inner (NULL inside an object: a null string there instead). */
static void parse(struct input *in, struct log_field *f, size_t max,
                  struct log_field *inner)
{
    unsigned long long u;
    long long i;
    const char *key;
    size_t n = 0;
    int kind;

    for (; n < max && in->p < in->end; n++) {
        kind = next_byte(in) % 5;
        key = next_str(in);
        if (kind == 0) {
            f[n] = LOG_STR(key, next_str(in));
        } else if (kind == 1) {
            next_bytes(in, &i, sizeof(i));
            f[n] = LOG_INT(key, i);
        } else if (kind == 2) {
            next_bytes(in, &u, sizeof(u));
            f[n] = LOG_UINT(key, u >> 1); /* jansson reads to LLONG_MAX */
        } else if (kind == 3) {
            f[n] = LOG_BOOL(key, next_byte(in) & 1);
        } else if (!inner) {
            f[n] = LOG_STR(key, NULL);
        } else {
            f[n] = LOG_OBJ(key, inner);
            parse(in, inner, (size_t)next_byte(in) % 8, NULL);
            inner = NULL;
        }
    }
    f[n] = LOG_END;
}

static int utf8_ok(const char *s)
{
    json_t *j = json_string(s); /* NULL when s is not UTF-8 */

    json_decref(j);
    return j != NULL;
}

/* s as the log wrote it: whole, or cut and ending in "...". */
static int same_or_cut(const char *got, const char *s)
{
    size_t n = strlen(got);

    if (strcmp(got, s) == 0)
        return 1;
    return n >= 3 && strcmp(got + n - 3, "...") == 0 && n - 3 < strlen(s) &&
           memcmp(got, s, n - 3) == 0;
}

/* How many keys of f are key; -1 when one is not UTF-8 (written with
 * U+FFFD, it could turn into any key). */
static int count_key(const struct log_field *f, const char *key)
{
    int n = 0;

    for (; f->kind != LF_END; f++) {
        if (!utf8_ok(f->key))
            return -1;
        n += strcmp(f->key, key) == 0;
    }
    return n;
}

/* Can the field named key be looked up in the output? Only when no other
 * field and no name of the line (names) has that key. */
static int checkable(const struct log_field *all, const char *key,
                     const char *const *names)
{
    for (; names && *names; names++)
        if (strcmp(*names, key) == 0)
            return 0;
    return count_key(all, key) == 1;
}

static int is_str(json_t *v, const char *s)
{
    return json_is_string(v) && same_or_cut(json_string_value(v), s);
}

static void check_fields(json_t *o, const struct log_field *all, int whole,
                         const char *const *names)
{
    const struct log_field *f;
    json_t *v;

    for (f = all; f->kind != LF_END; f++) {
        if (!checkable(all, f->key, names))
            continue;
        v = json_object_get(o, f->key);
        if (!v) {
            FUZZ_CHECK(!whole);
            continue;
        }
        if (f->kind == LF_STR && !f->v.s)
            FUZZ_CHECK(json_is_null(v));
        else if (f->kind == LF_STR && utf8_ok(f->v.s))
            FUZZ_CHECK(is_str(v, f->v.s));
        else if (f->kind == LF_STR)
            FUZZ_CHECK(json_is_string(v));
        else if (f->kind == LF_INT)
            FUZZ_CHECK(json_is_integer(v) && json_integer_value(v) == f->v.i);
        else if (f->kind == LF_UINT)
            FUZZ_CHECK(json_is_integer(v) &&
                       (unsigned long long)json_integer_value(v) == f->v.u);
        else if (f->kind == LF_BOOL)
            FUZZ_CHECK(json_is_boolean(v) && json_is_true(v) == f->v.i);
        else {
            FUZZ_CHECK(json_is_object(v));
            check_fields(v, f->v.obj, whole, NULL);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"ts",    "lvl",       "svc",
                                        "event", "truncated", NULL};
    static int fds[2] = {-1, -1};
    struct log_field top[FIELDS_MAX + 1], inner[FIELDS_MAX + 1];
    char line[LOG_LINE_MAX + 2], *text;
    struct input in;
    const char *event;
    ssize_t n;
    json_t *o;

    if (fds[0] < 0) {
        FUZZ_CHECK(pipe(fds) == 0);
        log_init("fuzz", "debug");
        log_set_fd(fds[1]);
    }
    text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    in.p = text;
    in.end = text + size;
    event = next_str(&in);
    parse(&in, top, FIELDS_MAX, inner);
    log_emit(LL_INFO, event, top);
    n = read(fds[0], line, sizeof(line) - 1);
    FUZZ_CHECK(n > 0 && n <= LOG_LINE_MAX);
    line[n] = '\0';
    FUZZ_CHECK(memchr(line, '\n', (size_t)n) == line + n - 1);
    o = json_loads(line, 0, NULL);
    FUZZ_CHECK(o && json_is_object(o));
    if (count_key(top, "svc") == 0)
        FUZZ_CHECK(is_str(json_object_get(o, "svc"), "fuzz"));
    if (count_key(top, "event") == 0 && utf8_ok(event))
        FUZZ_CHECK(is_str(json_object_get(o, "event"), event));
    check_fields(o, top, !json_object_get(o, "truncated"), names);
    json_decref(o);
    free(text);
    return 0;
}
