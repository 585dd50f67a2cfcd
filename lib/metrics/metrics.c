/* metrics.c - Prometheus metrics; see metrics.h. Values are atomics, so
 * hot paths never take a lock; doubles are stored as their bit pattern. */
#include "lib/metrics/metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { KIND_COUNTER, KIND_GAUGE, KIND_HISTOGRAM };

struct metric {
    enum kind kind;
    char name[128];
    char help[160];
    _Atomic uint64_t value; /* counter count, or gauge double bits */
    double bounds[METRICS_MAX_BUCKETS];
    size_t n_bounds;
    _Atomic uint64_t buckets[METRICS_MAX_BUCKETS + 1]; /* last: +Inf */
    _Atomic uint64_t sum_bits;
};

struct metrics {
    struct metric items[METRICS_MAX];
    size_t n;
};

static uint64_t to_bits(double v)
{
    uint64_t b;

    memcpy(&b, &v, sizeof(b));
    return b;
}

static double from_bits(uint64_t b)
{
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

static void add_double(_Atomic uint64_t *slot, double d)
{
    uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(
        slot, &old, to_bits(from_bits(old) + d), memory_order_relaxed,
        memory_order_relaxed))
        ;
}

int metrics_new(struct metrics **out)
{
    *out = calloc(1, sizeof(**out));
    return *out ? 0 : -ENOMEM;
}

void metrics_free(struct metrics *m)
{
    free(m);
}

static struct metric *add(struct metrics *m, enum kind kind, const char *name,
                          const char *help)
{
    struct metric *x;

    if (!m || m->n == METRICS_MAX || strlen(name) >= sizeof(x->name) ||
        strlen(help) >= sizeof(x->help))
        return NULL;
    x = &m->items[m->n++];
    x->kind = kind;
    snprintf(x->name, sizeof(x->name), "%s", name);
    snprintf(x->help, sizeof(x->help), "%s", help);
    return x;
}

struct metric *metrics_counter(struct metrics *m, const char *name,
                               const char *help)
{
    return add(m, KIND_COUNTER, name, help);
}

struct metric *metrics_gauge(struct metrics *m, const char *name,
                             const char *help)
{
    struct metric *g = add(m, KIND_GAUGE, name, help);

    if (g)
        atomic_store(&g->value, to_bits(0.0));
    return g;
}

struct metric *metrics_histogram(struct metrics *m, const char *name,
                                 const char *help, const double *bounds,
                                 size_t n_bounds)
{
    struct metric *h;

    if (n_bounds > METRICS_MAX_BUCKETS || strchr(name, '{'))
        return NULL;
    h = add(m, KIND_HISTOGRAM, name, help);
    if (!h)
        return NULL;
    memcpy(h->bounds, bounds, n_bounds * sizeof(*bounds));
    h->n_bounds = n_bounds;
    atomic_store(&h->sum_bits, to_bits(0.0));
    return h;
}

void metrics_add(struct metric *c, uint64_t n)
{
    if (!c)
        return;
    atomic_fetch_add_explicit(&c->value, n, memory_order_relaxed);
}

void metrics_set(struct metric *g, double v)
{
    if (!g)
        return;
    atomic_store_explicit(&g->value, to_bits(v), memory_order_relaxed);
}

void metrics_gauge_add(struct metric *g, double d)
{
    if (!g)
        return;
    add_double(&g->value, d);
}

void metrics_observe(struct metric *h, double v)
{
    size_t i = 0;

    if (!h)
        return;
    while (i < h->n_bounds && v > h->bounds[i])
        i++;
    atomic_fetch_add_explicit(&h->buckets[i], 1, memory_order_relaxed);
    add_double(&h->sum_bits, v);
}

double metrics_value(const struct metric *x)
{
    uint64_t v = atomic_load_explicit(&x->value, memory_order_relaxed);

    return x->kind == KIND_COUNTER ? (double)v : from_bits(v);
}

/* A growing output buffer; on allocation failure `failed` sticks. */
struct out {
    char *buf;
    size_t len, cap;
    int failed;
};

static void put(struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        if (o->failed)
            return;
        va_start(ap, fmt);
        n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < o->cap - o->len) {
            o->len += (size_t)n;
            return;
        }
        o->cap = o->cap * 2 + (size_t)(n > 0 ? n : 0);
        o->buf = realloc(o->buf, o->cap);
        o->failed = o->buf == NULL;
    }
}

static const char *kind_name(enum kind k)
{
    return k == KIND_COUNTER ? "counter"
           : k == KIND_GAUGE ? "gauge"
                             : "histogram";
}

/* True when an earlier metric already printed this family's HELP. */
static int family_seen(const struct metrics *m, size_t i)
{
    size_t flen = strcspn(m->items[i].name, "{");
    size_t j;

    for (j = 0; j < i; j++)
        if (strcspn(m->items[j].name, "{") == flen &&
            strncmp(m->items[j].name, m->items[i].name, flen) == 0)
            return 1;
    return 0;
}

static void render_histogram(struct out *o, const struct metric *h)
{
    uint64_t cum = 0;
    size_t i;

    for (i = 0; i <= h->n_bounds; i++) {
        cum += atomic_load_explicit(&h->buckets[i], memory_order_relaxed);
        if (i < h->n_bounds)
            put(o, "%s_bucket{le=\"%g\"} %llu\n", h->name, h->bounds[i],
                (unsigned long long)cum);
        else
            put(o, "%s_bucket{le=\"+Inf\"} %llu\n", h->name,
                (unsigned long long)cum);
    }
    put(o, "%s_sum %.9g\n%s_count %llu\n", h->name,
        from_bits(atomic_load(&h->sum_bits)), h->name, (unsigned long long)cum);
}

int metrics_render(struct metrics *m, char **out, size_t *len)
{
    struct out o = {.buf = malloc(4096), .cap = 4096};
    size_t i;

    o.failed = o.buf == NULL;
    for (i = 0; i < m->n; i++) {
        const struct metric *x = &m->items[i];
        int flen = (int)strcspn(x->name, "{");

        if (!family_seen(m, i))
            put(&o, "# HELP %.*s %s\n# TYPE %.*s %s\n", flen, x->name, x->help,
                flen, x->name, kind_name(x->kind));
        if (x->kind == KIND_HISTOGRAM)
            render_histogram(&o, x);
        else
            put(&o, "%s %.17g\n", x->name, metrics_value(x));
    }
    if (o.failed) {
        free(o.buf);
        return -ENOMEM;
    }
    *out = o.buf;
    *len = o.len;
    return 0;
}
