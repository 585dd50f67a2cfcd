/* metrics.h - Prometheus text-format counters, gauges and histograms.
 *
 * Register every metric at start (metrics_counter() etc. return pointers
 * owned by the registry, valid until metrics_free()); after that, updates
 * and metrics_render() are thread-safe and lock-free. A name may carry
 * labels: "votes_total{option=\"a\"}"; metrics of one family share HELP. */
#ifndef LIB_METRICS_H
#define LIB_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX         64 /* metrics per registry */
#define METRICS_MAX_BUCKETS 16 /* bucket bounds per histogram */

struct metrics;
struct metric;

int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m); /* NULL-safe */

/* NULL when the registry is full or an argument is bad. */
struct metric *metrics_counter(struct metrics *m, const char *name,
                               const char *help);
struct metric *metrics_gauge(struct metrics *m, const char *name,
                             const char *help);
struct metric *metrics_histogram(struct metrics *m, const char *name,
                                 const char *help, const double *bounds,
                                 size_t n_bounds);

/* Updates; a NULL metric (a part used without a registry) is a no-op. */
void metrics_add(struct metric *c, uint64_t n);     /* counter */
void metrics_set(struct metric *g, double v);       /* gauge */
void metrics_gauge_add(struct metric *g, double d); /* gauge, may be < 0 */
void metrics_observe(struct metric *h, double v);   /* histogram */
double metrics_value(const struct metric *x);       /* counter/gauge; tests */

/* The whole registry as text; *out is malloc'd, the caller frees it. */
int metrics_render(struct metrics *m, char **out, size_t *len);

#endif
