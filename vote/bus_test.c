/* bus_test.c - JetStream publishing against a real nats-server -js: the
 * stream is made (or kept), PubAcks complete the right caller, a retried
 * id is stored once, NATS down fails fast and recovers. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "lib/jstream/jstream.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/mono/mono.h"
#include "lib/natsconn/natsconn.h"
#include "proto/contract.h"
#include "tests/fixture/fixture.h"
#include "vote/bus.h"

#define NS 1000000000LL

/* A server list of one URL (bus_open copies it). */
static const struct natsconn *conn_of(const char *url)
{
    static struct natsconn c;
    int bad;

    assert_int_equal(natsconn_parse(&c, url, &bad), 0);
    return &c;
}

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

/* VOTES as the worker makes it (vote never creates it); an existing one
 * is left as it is. */
static void make_stream(const struct fixture *f, unsigned dup_window_s)
{
    struct jstream_desc d;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsStreamInfo *si = NULL;
    unsigned said = 0;

    assert_int_equal(natsConnection_ConnectTo(&nc, f->url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    if (js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL) != NATS_OK) {
        jstream_votes(&d, NULL, (int64_t)dup_window_s * NS);
        assert_int_equal(jstream_ensure(js, &d, 1, &said, NULL, 0), 0);
    }
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

/* A bus on f's server, ready to publish (o->conn is set here). */
static struct bus *open_on(const struct fixture *f, struct bus_opts *o)
{
    struct bus *b;

    make_stream(f, o->dup_window_s);
    o->conn = conn_of(f->url);
    assert_int_equal(bus_open(&b, o), 0);
    assert_int_equal(check_within(b, 5000), 0);
    return b;
}

static jsStreamInfo *stream_info(const struct fixture *f)
{
    natsConnection *nc = NULL;
    jsStreamInfo *si = NULL;
    jsCtx *js = NULL;

    assert_int_equal(natsConnection_ConnectTo(&nc, f->url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
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
    b = open_on(&f, &o);
    si = stream_info(&f);
    assert_int_equal(si->Config->Duplicates, 5 * NS); /* ns, not s */
    assert_int_equal(si->Config->Storage, js_FileStorage);
    jsStreamInfo_Destroy(si);

    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1, "id-1", 2000, &ack),
        0);
    assert_int_equal(ack.seq, 1);
    assert_false(ack.duplicate);
    /* A retry of the same request: acknowledged, not stored again. */
    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1, "id-1", 2000, &ack),
        0);
    assert_int_equal(ack.seq, 1);
    assert_true(ack.duplicate);
    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "b", "y", 1, "id-2", 2000, &ack),
        0);
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

/* An existing stream keeps its messages and its settings. */
static void test_bus_keeps_existing_stream(void **state)
{
    const char *subjects[] = {CONTRACT_SUBJECTS};
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
    cfg.Name = CONTRACT_STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage; /* Duplicates: the 2-minute default */
    cfg.Discard = js_DiscardNew;
    cfg.Retention = js_WorkQueuePolicy;
    assert_int_equal(js_AddStream(&si, js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    assert_int_equal(
        js_Publish(NULL, js, CONTRACT_SUBJECT_PREFIX "a", "old", 3, NULL, NULL),
        NATS_OK);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);

    b = open_on(&f, &o);
    si = stream_info(&f);
    assert_int_equal(si->State.Msgs, 1);
    /* vote may not change VOTES: it keeps the server's 2-minute window
     * (vote warns that it differs from VOTE_DUPLICATE_WINDOW_S). */
    assert_int_equal(si->Config->Duplicates, 120 * NS);
    jsStreamInfo_Destroy(si);
    bus_close(b);
    fixture_destroy(&f);
}

/* vote never makes VOTES: while it is missing, readyz says so and a
 * publish fails at once (503); once the worker made it, votes go in. A
 * stream that could leak votes (a republish) is refused the same way. */
static void test_bus_stream_missing_or_refused(void **state)
{
    const char *subjects[] = {CONTRACT_SUBJECTS};
    struct bus_opts o = {.dup_window_s = 5};
    natsConnection *nc = NULL;
    jsStreamConfig cfg;
    jsRePublish rp;
    jsStreamInfo *si = NULL;
    struct fixture f;
    struct bus_ack ack;
    jsCtx *js = NULL;
    struct bus *b;
    char why[200];
    int64_t t0;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    o.conn = conn_of(f.url);
    assert_int_equal(bus_open(&b, &o), 0);
    t0 = mono_ms();
    while (bus_check(b) == -ENOTCONN && mono_ms() - t0 < 5000)
        nats_Sleep(20);
    assert_int_equal(bus_check(b), -ENOENT);
    assert_int_equal(bus_ready(b, why, sizeof(why)), -ENOENT);
    assert_non_null(strstr(why, "missing"));
    t0 = mono_ms();
    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1, "m-1", 4000, &ack),
        -ENOENT);
    assert_true(mono_ms() - t0 < 100);
    assert_int_equal(natsConnection_ConnectTo(&nc, f.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    assert_int_not_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                         NATS_OK); /* vote made nothing */

    /* Made by someone else, with a republish of every vote: refused. */
    jsStreamConfig_Init(&cfg);
    cfg.Name = CONTRACT_STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_WorkQueuePolicy;
    cfg.Discard = js_DiscardNew;
    jsRePublish_Init(&rp);
    rp.Source = ">";
    rp.Destination = "leak.>";
    cfg.RePublish = &rp;
    assert_int_equal(js_AddStream(&si, js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    assert_int_equal(bus_check(b), -EPERM);
    assert_int_equal(bus_ready(b, why, sizeof(why)), -EPERM);
    assert_non_null(strstr(why, "republish"));
    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1, "m-2", 4000, &ack),
        -EPERM);
    assert_int_equal(js_DeleteStream(js, CONTRACT_STREAM, NULL, NULL), NATS_OK);
    nats_Sleep(300);

    make_stream(&f, 5);
    assert_int_equal(check_within(b, 5000), 0);
    assert_int_equal(bus_ready(b, why, sizeof(why)), 0);
    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1, "m-3", 4000, &ack),
        0);
    assert_int_equal(ack.seq, 1);
    assert_int_equal(bus_flush(b, 1000), 0);
    bus_close(b);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
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
    o.conn = conn_of(f.url);
    assert_int_equal(bus_open(&b, &o), 0); /* down: still opens */
    assert_int_equal(bus_check(b), -ENOTCONN);
    assert_int_equal(bus_ready(b, why, sizeof(why)), -ENOTCONN);
    assert_non_null(strstr(why, "nats"));
    t0 = mono_ms();
    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1, "d-1", 4000, &ack),
        -ENOTCONN);
    assert_true(mono_ms() - t0 < 100);

    assert_int_equal(fixture_resume(&f), 0);
    make_stream(&f, 5); /* the worker's part */
    assert_int_equal(check_within(b, 5000), 0);
    assert_int_equal(bus_ready(b, why, sizeof(why)), 0);
    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1, "d-2", 4000, &ack),
        0);

    assert_int_equal(fixture_stop(&f), 0);
    t0 = mono_ms();
    while (bus_ready(b, why, sizeof(why)) == 0 && mono_ms() - t0 < 5000)
        nats_Sleep(10);
    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1, "d-3", 4000, &ack),
        -ENOTCONN);
    assert_int_equal(fixture_resume(&f), 0);
    assert_int_equal(check_within(b, 5000), 0);
    assert_int_equal(
        bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1, "d-4", 4000, &ack),
        0);
    assert_int_equal(ack.seq, 2); /* d-1 and d-3 were never stored */
    assert_int_equal(bus_flush(b, 1000), 0);
    assert_true(metrics_value(o.pending) == 0);
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
        if (bus_publish(w->b, CONTRACT_SUBJECT_PREFIX "b", id, strlen(id), id,
                        4000, &ack) == 0)
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
    b = open_on(&f, &o);
    run_workers(b, 8, 500);
    bus_close(b);
    o.max_pending = 1;
    b = open_on(&f, &o);
    run_workers(b, 8, 100); /* ids w0-0.. again: duplicates, not stored */
    si = stream_info(&f);
    assert_int_equal(si->State.Msgs, 4000);
    jsStreamInfo_Destroy(si);
    bus_close(b);
    fixture_destroy(&f);
}

/* SIGSTOP, and waits until the process is stopped indeed ('T'). */
static void freeze(pid_t pid)
{
    char path[64], stat[256], *close_paren;
    FILE *f;
    size_t n;
    int i;

    assert_int_equal(kill(pid, SIGSTOP), 0);
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    for (i = 0; i < 500; i++) {
        f = fopen(path, "r");
        assert_non_null(f);
        n = fread(stat, 1, sizeof(stat) - 1, f);
        fclose(f);
        stat[n] = '\0';
        close_paren = strrchr(stat, ')');
        if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'T')
            return;
        nats_Sleep(2);
    }
    fail_msg("pid %d did not stop", (int)pid);
}

/* bus_close while PubAcks are still due (the server is frozen): when
 * they come, after the caller freed the pending metric, nothing of ours
 * runs any more (under ASan a write to the freed metric fails this). */
static void test_bus_close_with_pubacks_due(void **state)
{
    struct bus_opts o = {.dup_window_s = 5};
    struct metrics *m;
    struct fixture f;
    struct bus_ack ack;
    struct bus *b;
    int64_t t0;

    assert_int_equal(metrics_new(&m), 0);
    o.pending = metrics_gauge(m, "pending", "P.");
    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    b = open_on(&f, &o);
    freeze(f.pid);
    assert_int_equal(bus_publish(b, CONTRACT_SUBJECT_PREFIX "a", "x", 1,
                                 "late-1", 300, &ack),
                     -ETIMEDOUT);
    assert_true(metrics_value(o.pending) >= 1);
    t0 = mono_ms();
    bus_close(b);
    assert_true(mono_ms() - t0 < 10000);
    metrics_free(m);
    assert_int_equal(kill(f.pid, SIGCONT), 0); /* the PubAck goes out now */
    nats_Sleep(1000);
    fixture_destroy(&f);
}

#define STRESS_THREADS 8
#define STRESS_MAX     20000

/* One publishing thread of the restart test: what it was answered. */
struct stresser {
    struct bus *b;
    int id;
    atomic_int *stop;
    atomic_int done; /* the thread returned */
    int sent, ok, failed;
    uint64_t *seq; /* seq[i]: the PubAck's sequence of request i, or 0 */
};

static void *stress_loop(void *arg)
{
    struct stresser *w = arg;
    struct bus_ack ack;
    char id[32];

    for (; !atomic_load(w->stop) && w->sent < STRESS_MAX; w->sent++) {
        snprintf(id, sizeof(id), "s%d-%d", w->id, w->sent);
        if (bus_publish(w->b, CONTRACT_SUBJECT_PREFIX "a", id, strlen(id), id,
                        1500, &ack) == 0) {
            w->seq[w->sent] = ack.seq;
            w->ok++;
        } else {
            w->failed++;
            if (!atomic_load(w->stop))
                nats_Sleep(1); /* not a busy loop while NATS is down */
        }
    }
    atomic_store(&w->done, 1);
    return NULL;
}

/* Each request answered 0 names, by its sequence, a stored message whose
 * data is that request's own id: its PubAck reached its own caller. */
static void check_owned(const struct fixture *f, struct stresser *w)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsMsg *m;
    char id[32];
    int t, i;

    assert_int_equal(natsConnection_ConnectTo(&nc, f->url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    for (t = 0; t < STRESS_THREADS; t++) {
        for (i = 0; i < w[t].sent; i++) {
            if (!w[t].seq[i])
                continue;
            snprintf(id, sizeof(id), "s%d-%d", t, i);
            m = NULL;
            assert_int_equal(
                js_GetMsg(&m, js, CONTRACT_STREAM, w[t].seq[i], NULL, NULL),
                NATS_OK);
            if (natsMsg_GetDataLength(m) != (int)strlen(id) ||
                memcmp(natsMsg_GetData(m), id, strlen(id)) != 0)
                fail_msg("%s was answered with seq %llu, which holds %.*s", id,
                         (unsigned long long)w[t].seq[i],
                         natsMsg_GetDataLength(m), natsMsg_GetData(m));
            natsMsg_Destroy(m);
        }
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

/* Many publishes in flight while NATS restarts again and again: each
 * request gets one answer, in bounded time, and a success is the PubAck
 * of that request's own message (waiters are found by identity, and a
 * message taken back at a disconnect takes its waiter out first). */
static void test_bus_restarts_under_load(void **state)
{
    struct stresser w[STRESS_THREADS];
    pthread_t t[STRESS_THREADS];
    atomic_int stop = 0;
    struct bus_opts o = {.dup_window_s = 5};
    struct fixture f;
    struct bus *b;
    int64_t end;
    int i, round, ok = 0, failed = 0;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    b = open_on(&f, &o);
    for (i = 0; i < STRESS_THREADS; i++) {
        w[i] = (struct stresser){.b = b, .id = i, .stop = &stop};
        w[i].seq = calloc(STRESS_MAX, sizeof(uint64_t));
        assert_non_null(w[i].seq);
        assert_int_equal(pthread_create(&t[i], NULL, stress_loop, &w[i]), 0);
    }
    for (round = 0; round < 12; round++) {
        nats_Sleep(300);
        if (round % 4 == 2) { /* frozen: callers time out, then a burst */
            freeze(f.pid);
            nats_Sleep(1700);
            assert_int_equal(kill(f.pid, SIGCONT), 0);
            continue;
        }
        if (round % 4 == 3) { /* hung, then dead: messages taken back */
            freeze(f.pid);
            nats_Sleep(700);
        }
        if (round % 4 == 1 || round % 4 == 3)
            assert_int_equal(fixture_kill(&f), 0);
        else
            assert_int_equal(fixture_stop(&f), 0);
        nats_Sleep(100);
        assert_int_equal(fixture_resume(&f), 0);
        assert_int_equal(check_within(b, 10000), 0);
    }
    nats_Sleep(300);
    atomic_store(&stop, 1);
    end = mono_ms() + 20000; /* generous: every answer is due in 1.5 s */
    for (i = 0; i < STRESS_THREADS; i++) {
        while (!atomic_load(&w[i].done) && mono_ms() < end)
            nats_Sleep(20);
        if (!atomic_load(&w[i].done))
            fail_msg("publisher %d still waits for an answer", i);
        pthread_join(t[i], NULL);
        ok += w[i].ok;
        failed += w[i].failed;
        assert_int_equal(w[i].ok + w[i].failed, w[i].sent);
    }
    assert_true(ok > 0);
    print_message("restart test: %d acknowledged, %d refused\n", ok, failed);
    assert_int_equal(bus_flush(b, 5000), 0);
    check_owned(&f, w);
    bus_close(b);
    for (i = 0; i < STRESS_THREADS; i++)
        free(w[i].seq);
    fixture_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_publish_and_dedup),
        cmocka_unit_test(test_bus_keeps_existing_stream),
        cmocka_unit_test(test_bus_stream_missing_or_refused),
        cmocka_unit_test(test_bus_nats_down_and_back),
        cmocka_unit_test(test_bus_concurrent_callers),
        cmocka_unit_test(test_bus_restarts_under_load),
        cmocka_unit_test(test_bus_close_with_pubacks_due),
    };
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0); /* a crash keeps what was printed */
    log_init("bus_test", "error");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();
    return rc;
}
