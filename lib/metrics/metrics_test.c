/* metrics_test.c - the text format, label families, histograms, and
 * counts that stay exact under concurrent updates. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/metrics/metrics.h"

static void test_metrics_counter_and_gauge_text(void **state)
{
    struct metrics *m;
    struct metric *a, *b, *g;
    char *text;
    size_t len;

    assert_int_equal(metrics_new(&m), 0);
    a = metrics_counter(m, "votes_total{option=\"a\"}", "Votes taken.");
    b = metrics_counter(m, "votes_total{option=\"b\"}", "Votes taken.");
    g = metrics_gauge(m, "ready", "1 when ready.");
    metrics_add(a, 3);
    metrics_add(b, 1);
    metrics_set(g, 1);
    metrics_gauge_add(g, -0.5);
    assert_int_equal(metrics_render(m, &text, &len), 0);
    assert_int_equal(strlen(text), len);
    assert_string_equal(text, "# HELP votes_total Votes taken.\n"
                              "# TYPE votes_total counter\n"
                              "votes_total{option=\"a\"} 3\n"
                              "votes_total{option=\"b\"} 1\n"
                              "# HELP ready 1 when ready.\n"
                              "# TYPE ready gauge\n"
                              "ready 0.5\n");
    free(text);
    metrics_free(m);
}

static void test_metrics_histogram_buckets(void **state)
{
    static const double bounds[] = {0.001, 0.01, 0.1};
    struct metrics *m;
    struct metric *h;
    char *text;
    size_t len;

    assert_int_equal(metrics_new(&m), 0);
    h = metrics_histogram(m, "latency_seconds", "Latency.", bounds, 3);
    assert_non_null(h);
    metrics_observe(h, 0.0005);
    metrics_observe(h, 0.01);
    metrics_observe(h, 5);
    assert_int_equal(metrics_render(m, &text, &len), 0);
    assert_non_null(strstr(text, "latency_seconds_bucket{le=\"0.001\"} 1\n"));
    assert_non_null(strstr(text, "latency_seconds_bucket{le=\"0.01\"} 2\n"));
    assert_non_null(strstr(text, "latency_seconds_bucket{le=\"0.1\"} 2\n"));
    assert_non_null(strstr(text, "latency_seconds_bucket{le=\"+Inf\"} 3\n"));
    assert_non_null(strstr(text, "latency_seconds_sum 5.0105\n"));
    assert_non_null(strstr(text, "latency_seconds_count 3\n"));
    free(text);
    metrics_free(m);
}

static void test_metrics_registry_full(void **state)
{
    struct metrics *m;
    int i;

    assert_int_equal(metrics_new(&m), 0);
    for (i = 0; i < METRICS_MAX; i++)
        assert_non_null(metrics_counter(m, "c", "c"));
    assert_null(metrics_counter(m, "c", "c"));
    metrics_free(m);
}

struct race {
    struct metric *c, *g, *h;
};

static void *hammer(void *arg)
{
    struct race *r = arg;
    int i;

    for (i = 0; i < 100000; i++) {
        metrics_add(r->c, 1);
        metrics_gauge_add(r->g, 1);
        metrics_observe(r->h, 1);
    }
    return NULL;
}

/* A part used without a registry gets NULL metrics from the registering
 * calls; updates on them do nothing: no crash, and no other metric of a
 * live registry moves. */
static void test_metrics_null_is_a_no_op(void **state)
{
    static const double bounds[] = {1};
    struct metrics *m;
    struct metric *c;
    char *before, *after;
    size_t len;

    assert_null(metrics_counter(NULL, "c_total", "c"));
    assert_null(metrics_gauge(NULL, "g", "g"));
    assert_null(metrics_histogram(NULL, "h", "h", bounds, 1));
    assert_int_equal(metrics_new(&m), 0);
    c = metrics_counter(m, "c_total", "c");
    assert_non_null(metrics_gauge(m, "g", "g"));
    assert_non_null(metrics_histogram(m, "h", "h", bounds, 1));
    metrics_add(c, 2);
    assert_int_equal(metrics_render(m, &before, &len), 0);
    metrics_add(NULL, 1);
    metrics_set(NULL, 1.5);
    metrics_gauge_add(NULL, -2);
    metrics_observe(NULL, 0.01);
    assert_int_equal(metrics_render(m, &after, &len), 0);
    assert_string_equal(after, before);
    assert_true(metrics_value(c) == 2.0);
    free(before);
    free(after);
    metrics_free(m);
}

static void test_metrics_concurrent_updates_exact(void **state)
{
    static const double bounds[] = {1};
    struct metrics *m;
    struct race r;
    pthread_t t[4];
    char *text;
    size_t len;
    int i;

    assert_int_equal(metrics_new(&m), 0);
    r.c = metrics_counter(m, "c_total", "c");
    r.g = metrics_gauge(m, "g", "g");
    r.h = metrics_histogram(m, "h", "h", bounds, 1);
    for (i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer, &r), 0);
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_true(metrics_value(r.c) == 400000.0);
    assert_true(metrics_value(r.g) == 400000.0);
    assert_int_equal(metrics_render(m, &text, &len), 0);
    assert_non_null(strstr(text, "h_count 400000\n"));
    assert_non_null(strstr(text, "h_sum 400000\n"));
    free(text);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_counter_and_gauge_text),
        cmocka_unit_test(test_metrics_histogram_buckets),
        cmocka_unit_test(test_metrics_registry_full),
        cmocka_unit_test(test_metrics_null_is_a_no_op),
        cmocka_unit_test(test_metrics_concurrent_updates_exact),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
