/* bus_test.c - JetStream publishing against a real nats-server -js: the
 * stream is made (or kept), PubAcks complete the right caller, a retried
 * id is stored once, NATS down fails fast and recovers. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/mono/mono.h"
#include "tests/fixture/fixture.h"
#include "vote/bus.h"

#define NS 1000000000LL

/* bus_check() until it passes (the watch does this in the service). */
static int check_within(struct bus *b, unsigned ms)
{
    int64_t end = mono_ms() + ms;

    while (bus_check(b) != 0) {
        if (mono_ms() > end)
            return -ETIMEDOUT;
        nats_Sleep(20);
    }
    return 0;
}

static jsStreamInfo *stream_info(const struct fixture *f)
{
    natsConnection *nc = NULL;
    jsStreamInfo *si = NULL;
    jsCtx *js = NULL;

    assert_int_equal(natsConnection_ConnectTo(&nc, f->url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    assert_int_equal(js_GetStreamInfo(&si, js, BUS_STREAM, NULL, NULL),
                     NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return si;
}

static void test_bus_publish_and_dedup(void **state)
{
    struct bus_opts o = {.dup_window_s = 5};
    struct fixture f;
    struct bus_ack ack;
    struct bus *b;
    jsStreamInfo *si;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    o.url = f.url;
    assert_int_equal(bus_open(&b, &o), 0);
    assert_int_equal(check_within(b, 5000), 0);
    si = stream_info(&f);
    assert_int_equal(si->Config->Duplicates, 5 * NS); /* ns, not s */
    assert_int_equal(si->Config->Storage, js_FileStorage);
    jsStreamInfo_Destroy(si);

    assert_int_equal(bus_publish(b, "votes.a", "x", 1, "id-1", 2000, &ack), 0);
    assert_int_equal(ack.seq, 1);
    assert_false(ack.duplicate);
    /* A retry of the same request: acknowledged, not stored again. */
    assert_int_equal(bus_publish(b, "votes.a", "x", 1, "id-1", 2000, &ack), 0);
    assert_int_equal(ack.seq, 1);
    assert_true(ack.duplicate);
    assert_int_equal(bus_publish(b, "votes.b", "y", 1, "id-2", 2000, &ack), 0);
    assert_int_equal(ack.seq, 2);
    assert_false(ack.duplicate);
    si = stream_info(&f);
    assert_int_equal(si->State.Msgs, 2);
    jsStreamInfo_Destroy(si);
    /* Outside the stream's subjects: nobody stores it, refused. */
    assert_int_not_equal(bus_publish(b, "other.a", "z", 1, "id-3", 300, &ack),
                         0);
    assert_int_equal(bus_flush(b, 1000), 0);
    bus_close(b);
    fixture_destroy(&f);
}

/* An existing stream keeps its messages; only Duplicates is set. */
static void test_bus_keeps_existing_stream(void **state)
{
    const char *subjects[] = {BUS_SUBJECTS};
    struct bus_opts o = {.dup_window_s = 3};
    natsConnection *nc = NULL;
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    struct fixture f;
    jsCtx *js = NULL;
    struct bus *b;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    assert_int_equal(natsConnection_ConnectTo(&nc, f.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsStreamConfig_Init(&cfg);
    cfg.Name = BUS_STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage; /* Duplicates: the 2-minute default */
    assert_int_equal(js_AddStream(&si, js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    assert_int_equal(js_Publish(NULL, js, "votes.a", "old", 3, NULL, NULL),
                     NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);

    o.url = f.url;
    assert_int_equal(bus_open(&b, &o), 0);
    assert_int_equal(check_within(b, 5000), 0);
    si = stream_info(&f);
    assert_int_equal(si->State.Msgs, 1);
    assert_int_equal(si->Config->Duplicates, 3 * NS);
    jsStreamInfo_Destroy(si);
    bus_close(b);
    fixture_destroy(&f);
}

/* Started with NATS down; fails fast while down; recovers both times. */
static void test_bus_nats_down_and_back(void **state)
{
    struct bus_opts o = {.dup_window_s = 5};
    struct metrics *m;
    struct fixture f;
    struct bus_ack ack;
    struct bus *b;
    char why[160];
    int64_t t0;

    assert_int_equal(metrics_new(&m), 0);
    o.pending = metrics_gauge(m, "pending", "P.");
    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    assert_int_equal(fixture_stop(&f), 0);
    o.url = f.url;
    assert_int_equal(bus_open(&b, &o), 0); /* down: still opens */
    assert_int_equal(bus_check(b), -ENOTCONN);
    assert_int_equal(bus_ready(b, why, sizeof(why)), -ENOTCONN);
    assert_non_null(strstr(why, "nats"));
    t0 = mono_ms();
    assert_int_equal(bus_publish(b, "votes.a", "x", 1, "d-1", 4000, &ack),
                     -ENOTCONN);
    assert_true(mono_ms() - t0 < 100);

    assert_int_equal(fixture_resume(&f), 0);
    assert_int_equal(check_within(b, 5000), 0);
    assert_int_equal(bus_ready(b, why, sizeof(why)), 0);
    assert_int_equal(bus_publish(b, "votes.a", "x", 1, "d-2", 4000, &ack), 0);

    assert_int_equal(fixture_stop(&f), 0);
    t0 = mono_ms();
    while (bus_ready(b, why, sizeof(why)) == 0 && mono_ms() - t0 < 5000)
        nats_Sleep(10);
    assert_int_equal(bus_publish(b, "votes.a", "x", 1, "d-3", 4000, &ack),
                     -ENOTCONN);
    assert_int_equal(fixture_resume(&f), 0);
    assert_int_equal(check_within(b, 5000), 0);
    assert_int_equal(bus_publish(b, "votes.a", "x", 1, "d-4", 4000, &ack), 0);
    assert_int_equal(ack.seq, 2); /* d-1 and d-3 were never stored */
    assert_int_equal(bus_flush(b, 1000), 0);
    assert_true(metric_value(o.pending) == 0);
    bus_close(b);
    metrics_free(m);
    fixture_destroy(&f);
}

struct worker {
    struct bus *b;
    int id;
    int n;
    int ok;
};

static void *publish_many(void *arg)
{
    struct worker *w = arg;
    struct bus_ack ack;
    char id[32];
    int i;

    for (i = 0; i < w->n; i++) {
        snprintf(id, sizeof(id), "w%d-%d", w->id, i);
        if (bus_publish(w->b, "votes.b", id, strlen(id), id, 4000, &ack) == 0)
            w->ok++;
    }
    return NULL;
}

static void run_workers(struct bus *b, int n_threads, int n)
{
    struct worker w[8];
    pthread_t t[8];
    int i;

    for (i = 0; i < n_threads; i++) {
        w[i] = (struct worker){b, i, n, 0};
        assert_int_equal(pthread_create(&t[i], NULL, publish_many, &w[i]), 0);
    }
    for (i = 0; i < n_threads; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].ok, n);
    }
}

/* Many callers at once: each is completed by its own PubAck. Then more
 * callers than MaxPending: js_PublishMsgAsync stalls and gives up
 * (NATS_TIMEOUT, trap 6); bus_publish retries, nothing is lost. */
static void test_bus_concurrent_callers(void **state)
{
    struct bus_opts o = {.dup_window_s = 5};
    struct fixture f;
    struct bus *b;
    jsStreamInfo *si;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    o.url = f.url;
    assert_int_equal(bus_open(&b, &o), 0);
    assert_int_equal(check_within(b, 5000), 0);
    run_workers(b, 8, 500);
    bus_close(b);
    o.max_pending = 1;
    assert_int_equal(bus_open(&b, &o), 0);
    assert_int_equal(check_within(b, 5000), 0);
    run_workers(b, 8, 100); /* ids w0-0.. again: duplicates, not stored */
    si = stream_info(&f);
    assert_int_equal(si->State.Msgs, 4000);
    jsStreamInfo_Destroy(si);
    bus_close(b);
    fixture_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_publish_and_dedup),
        cmocka_unit_test(test_bus_keeps_existing_stream),
        cmocka_unit_test(test_bus_nats_down_and_back),
        cmocka_unit_test(test_bus_concurrent_callers),
    };
    int rc;

    log_init("bus_test", "error");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();
    return rc;
}
