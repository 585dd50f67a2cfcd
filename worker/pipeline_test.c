/* pipeline_test.c - the whole loop against real nats-server -js and
 * Postgres: last vote wins in and across batches, redelivery and duplicates
 * change nothing, poison is dead-lettered and the rest goes on, two
 * workers split 100,000 votes exactly, Postgres and NATS restarts lose
 * nothing; a lost or re-created stream or consumer is made again and its
 * new votes win; an idle worker notices a dead Postgres. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <nats/nats.h>

#include "lib/log/log.h"
#include "lib/log/logcapture.h"
#include "lib/natsconn/natsconn.h"
#include "lib/metrics/metrics.h"
#include "lib/mono/mono.h"
#include "tests/fixture/fixture.h"
#include "worker/consumer.h"
#include "worker/pipeline.h"
#include "worker/store.h"
#include "proto/contract.h"
#include "worker/testkit.h"

#define ACK_WAIT_MS 2000
#define DRAIN_MS    40000
#define WAIT_MS     20000 /* for what a quiet machine does in < 1 s */

static struct fixture pg, nats;

/* How workers connect: NULL, to nats.url without a user; or as user
 * "worker" of compose/nats/auth.conf (setup_auth()). */
static const struct natsconn *g_worker_conn;

struct worker {
    struct store *store;
    struct consumer *consumer;
    struct pipeline *pipe;
    struct metrics *metrics;
    pthread_t thread;
    volatile sig_atomic_t stop;
    int running;
};

/* Static, not on a test's stack: teardown() stops the workers a test
 * started, also when a failed assertion left the test function at once. */
static struct worker g_workers[2];

/* Each test's own client of its nats-server (setup() opens it): publishes
 * as vote does, looks at the stream as an operator would. */
static struct tk_nats g_tk;

static void *run_thread(void *arg)
{
    struct worker *w = arg;

    pipeline_run(w->pipe, &w->stop);
    return NULL;
}

/* Starts worker i (0 or 1) on a thread; it runs until worker_stop(), or
 * the test's end (teardown()). */
static struct worker *worker_start(int i)
{
    const char *keys[] = {"dbname", NULL};
    const char *vals[] = {pg.url, NULL};
    struct consumer_opts o = {
        .url = nats.url,
        .batch = 500,
        .fetch_wait_ms = 100,
        .ack_wait_ms = ACK_WAIT_MS,
        .max_ack_pending = 20000,
        .dup_window_ms = 5000,
        .conn = g_worker_conn,
    };
    struct worker *w = &g_workers[i];

    memset(w, 0, sizeof(*w));
    assert_int_equal(store_open(&w->store, keys, vals, 500), 0);
    assert_int_equal(store_migrate(w->store), 0);
    assert_int_equal(consumer_open(&w->consumer, &o), 0);
    assert_int_equal(metrics_new(&w->metrics), 0);
    assert_int_equal(pipeline_new(&w->pipe, w->consumer, w->store, w->metrics,
                                  500, ACK_WAIT_MS),
                     0);
    assert_int_equal(pthread_create(&w->thread, NULL, run_thread, w), 0);
    w->running = 1;
    return w;
}

/* Stops the thread (which commits and acks what it holds) and frees the
 * worker; a no-op for one that is not running. */
static void worker_stop(struct worker *w)
{
    if (!w->running)
        return;
    w->running = 0;
    w->stop = 1;
    pthread_join(w->thread, NULL);
    pipeline_free(w->pipe);
    consumer_close(w->consumer);
    store_close(w->store);
    metrics_free(w->metrics);
}

/* A counter's value in a worker's registry, read from its text form. */
static double metric_of(struct worker *w, const char *name)
{
    char *text, *at, key[96];
    size_t len;
    double v = -1;

    assert_int_equal(metrics_render(w->metrics, &text, &len), 0);
    snprintf(key, sizeof(key), "\n%s ", name);
    at = strstr(text, key);
    if (at)
        v = strtod(at + strlen(key), NULL);
    free(text);
    return v;
}

/* Waits up to WAIT_MS for a counter to reach at least min; its value.
 * A counter moves after the acks it counts are sent, so "drained" on the
 * server does not mean it moved yet. */
static double wait_metric(struct worker *w, const char *name, double min)
{
    int64_t until = mono_ms() + WAIT_MS;
    double v;

    for (;;) {
        v = metric_of(w, name);
        if (v >= min || mono_ms() >= until)
            return v;
        mono_sleep_ms(20);
    }
}

/* Deletes the worker's durable consumer (consumer NULL: the stream), as
 * an operator would. nats-server 2.9.10 may answer a delete with an error
 * while the consumer's files are being written ("unlinkat ... directory
 * not empty", seen under load) after it has dropped it already: the
 * operator tries again, and "not found" then means it went. */
static void delete_js(struct tk_nats *t, const char *consumer)
{
    int64_t until = mono_ms() + WAIT_MS;
    jsErrCode jerr = 0, gone;
    natsStatus s;
    int tries;

    gone = consumer ? JSConsumerNotFoundErr : JSStreamNotFoundErr;
    for (tries = 0;; tries++) {
        jerr = 0;
        s = consumer ? js_DeleteConsumer(t->js, CONTRACT_STREAM, consumer, NULL,
                                         &jerr)
                     : js_DeleteStream(t->js, CONTRACT_STREAM, NULL, &jerr);
        if (s == NATS_OK || (tries > 0 && jerr == gone) || mono_ms() >= until)
            break;
        fprintf(stderr, "delete %s: %s, jerr %d: %s; again\n",
                consumer ? consumer : CONTRACT_STREAM, natsStatus_GetText(s),
                (int)jerr, nats_GetLastError(NULL));
        mono_sleep_ms(100);
    }
    assert_true(s == NATS_OK || jerr == gone);
}

static int setup_group(void **state)
{
    log_init("worker", "warn");
    return fixture_start(&pg, FIXTURE_PG);
}

static int teardown_group(void **state)
{
    fixture_destroy(&pg);
    nats_Close();
    return 0;
}

/* Each test: a fresh nats-server and g_tk on it, empty tables. */
static int setup(void **state)
{
    PGconn *c = PQconnectdb(pg.url);
    int rc;

    PQclear(PQexec(c, "TRUNCATE votes, tallies"));
    PQfinish(c);
    rc = fixture_start(&nats, FIXTURE_NATS);
    if (rc)
        return rc;
    rc = tk_nats_open(&g_tk, nats.url);
    if (rc) {
        tk_nats_close(&g_tk);
        fixture_destroy(&nats);
    }
    return rc;
}

/* As setup(), with the users and rights of compose/nats/auth.conf:
 * g_tk is admin, workers are user "worker". */
static int setup_auth(void **state)
{
    static struct natsconn as_worker;
    char url[sizeof(nats.url) + 32];
    PGconn *c = PQconnectdb(pg.url);
    int rc, bad;

    PQclear(PQexec(c, "TRUNCATE votes, tallies"));
    PQfinish(c);
    setenv("NATS_VOTE_PASSWORD", "vote-pw", 1);
    setenv("NATS_WORKER_PASSWORD", "worker-pw", 1);
    setenv("NATS_DEBUG_PASSWORD", "debug-pw", 1);
    setenv("NATS_ADMIN_PASSWORD", "admin-pw", 1);
    rc = fixture_start_auth(&nats, "compose/nats/auth.conf");
    if (rc)
        return rc;
    snprintf(url, sizeof(url), "nats://admin:admin-pw@127.0.0.1:%u", nats.port);
    rc = tk_nats_open(&g_tk, url);
    if (rc == 0)
        rc = natsconn_parse(&as_worker, nats.url, &bad);
    if (rc) {
        tk_nats_close(&g_tk);
        fixture_destroy(&nats);
        return rc;
    }
    snprintf(as_worker.user, sizeof(as_worker.user), "worker");
    snprintf(as_worker.password, sizeof(as_worker.password), "worker-pw");
    g_worker_conn = &as_worker;
    return 0;
}

/* Stops the test's workers (each commits and acks what it holds), then
 * its NATS. */
static int teardown(void **state)
{
    if (nats.pid)
        kill(nats.pid, SIGCONT); /* paused by a failed test */
    worker_stop(&g_workers[0]);
    worker_stop(&g_workers[1]);
    tk_nats_close(&g_tk);
    fixture_destroy(&nats);
    g_worker_conn = NULL;
    return 0;
}

/* Waits until the pipeline reports ready (want 0) or not ready (want 1). */
static int wait_ready(struct worker *w, int want, int timeout_ms, char *why)
{
    int64_t until = mono_ms() + timeout_ms;

    while (mono_ms() < until) {
        if ((pipeline_ready(w->pipe, why, 128) != 0) == want)
            return 0;
        mono_sleep_ms(20);
    }
    return -ETIMEDOUT;
}

/* Publishes n more random votes (tk_publish_random) by voters
 * v0..v<voters-1>, who voted before: the later votes win, so expect[i]
 * becomes voter i's new vote where there is one. */
static void publish_more(int n, int voters, unsigned seed, char *expect)
{
    static char more[2000];
    int i;

    assert_true(voters <= (int)sizeof(more));
    assert_int_equal(tk_publish_random(&g_tk, n, voters, seed, more), 0);
    for (i = 0; i < voters; i++)
        if (more[i])
            expect[i] = more[i];
}

/* Waits up to WAIT_MS until the worker has committed some votes. */
static int wait_some_rows(void)
{
    int64_t until = mono_ms() + WAIT_MS;

    while (tk_pg_long(pg.url, "SELECT count(*) FROM votes") <= 0) {
        if (mono_ms() >= until)
            return -ETIMEDOUT;
        mono_sleep_ms(5);
    }
    return 0;
}

static void test_pipeline_a_then_b(void **state)
{
    char expect[3] = {'b', 'b', 0};

    assert_int_equal(tk_publish(&g_tk, "v0", "a", NULL), 0);
    assert_int_equal(tk_publish(&g_tk, "v0", "b", NULL), 0); /* one batch */
    assert_int_equal(tk_publish(&g_tk, "v1", "a", NULL), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    worker_start(0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_publish(&g_tk, "v1", "b", NULL), 0); /* next batch */
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 3, expect), 0);
    assert_int_equal(tk_pg_long(pg.url, "SELECT count FROM tallies"
                                        " WHERE vote = 'b'"),
                     2);
}

/* Messages stored in VOTES now. */
static uint64_t stream_msgs(struct tk_nats *t)
{
    jsStreamInfo *si = NULL;
    uint64_t n;

    assert_int_equal(js_GetStreamInfo(&si, t->js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
}

/* A worker that fetched and died: its messages come again after AckWait. */
static void fetch_without_ack(const char *url, int n)
{
    struct consumer_opts o = {.url = url,
                              .batch = n,
                              .fetch_wait_ms = 1000,
                              .ack_wait_ms = ACK_WAIT_MS,
                              .max_ack_pending = 20000,
                              .dup_window_ms = 5000};
    struct consumer *c;
    natsMsgList list;

    assert_int_equal(consumer_open(&c, &o), 0);
    assert_int_equal(consumer_fetch(c, &list), 0);
    assert_true(list.Count > 0);
    natsMsgList_Destroy(&list);
    consumer_close(c);
}

static void test_pipeline_redelivery_and_duplicates(void **state)
{
    static char expect[300];
    struct worker *w;
    double applied;

    assert_int_equal(tk_publish_random(&g_tk, 2000, 300, 7, expect), 0);
    /* Same Nats-Msg-Id twice: the stream keeps one. A second copy under
     * another id is a real duplicate: same vote, later sequence. */
    assert_int_equal(tk_publish(&g_tk, "v0", "a", "req-1"), 0);
    assert_int_equal(tk_publish(&g_tk, "v0", "a", "req-1"), 0);
    assert_int_equal(tk_publish(&g_tk, "v0", "a", "req-2"), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    expect[0] = 'a';
    fetch_without_ack(nats.url, 300);
    w = worker_start(0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 300, expect), 0);
    applied = metric_of(w, "worker_votes_applied_total");
    assert_true(wait_metric(w, "worker_messages_acked_total", 2002) >= 2002);
    worker_stop(w);
    assert_true(applied > 0);
    /* VOTES is a work queue: every applied (acked) vote left it, so
     * nothing is there to deliver again, and nothing fills it. */
    assert_int_equal(stream_msgs(&g_tk), 0);
}

static void test_pipeline_poison_is_deadlettered(void **state)
{
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    char expect[2] = {'b', 'a'};
    natsSubscription *dl = NULL;
    jsStreamInfo *si = NULL;
    struct worker *w;
    natsMsg *m;
    const char *reason;
    int i;

    assert_int_equal(
        natsConnection_SubscribeSync(&dl, g_tk.nc, CONTRACT_DL_SUBJECT),
        NATS_OK);
    assert_int_equal(natsConnection_Flush(g_tk.nc), NATS_OK);
    assert_int_equal(tk_publish(&g_tk, "v0", "a", NULL), 0);
    assert_int_equal(
        tk_publish_raw(&g_tk, CONTRACT_SUBJECT_PREFIX "a", junk, sizeof(junk)),
        0);
    assert_int_equal(tk_publish(&g_tk, "bad voter", "a", NULL), 0);
    assert_int_equal(tk_publish(&g_tk, "v0", "c", NULL), 0);
    assert_int_equal(tk_publish(&g_tk, "v0", "b", NULL), 0);
    assert_int_equal(tk_publish(&g_tk, "v1", "a", NULL), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    w = worker_start(0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 2, expect), 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(natsSubscription_NextMsg(&m, dl, WAIT_MS), NATS_OK);
        assert_int_equal(natsMsgHeader_Get(m, CONTRACT_HDR_REASON, &reason),
                         NATS_OK);
        assert_string_equal(reason, i == 0   ? "not_a_votecast"
                                    : i == 1 ? "bad_voter_id"
                                             : "unknown_option");
        natsMsg_Destroy(m);
    }
    assert_true(wait_metric(w, "worker_deadletters_total", 3) == 3);
    /* Kept in the DEADLETTER stream, not only sent to whoever listens. */
    assert_int_equal(
        js_GetStreamInfo(&si, g_tk.js, CONTRACT_DL_STREAM, NULL, NULL),
        NATS_OK);
    assert_int_equal(si->State.Msgs, 3);
    jsStreamInfo_Destroy(si);
    /* Terminated: never delivered again. */
    assert_int_equal(natsSubscription_NextMsg(&m, dl, ACK_WAIT_MS + 500),
                     NATS_TIMEOUT);
    natsSubscription_Destroy(dl);
}

static void test_pipeline_two_workers_100k(void **state)
{
    static char expect[5000];
    struct worker *w0, *w1;

    w0 = worker_start(0);
    w1 = worker_start(1);
    assert_int_equal(tk_publish_random(&g_tk, 100000, 5000, 42, expect), 0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 5000, expect), 0);
    fprintf(stderr, "two workers: acked %.0f + %.0f\n",
            metric_of(w0, "worker_messages_acked_total"),
            metric_of(w1, "worker_messages_acked_total"));
}

static void test_pipeline_postgres_restart(void **state)
{
    static char expect[2000];
    char why[128];
    struct worker *w;

    w = worker_start(0);
    assert_int_equal(tk_publish_random(&g_tk, 20000, 2000, 3, expect), 0);
    assert_int_equal(wait_some_rows(), 0);
    assert_int_equal(fixture_stop(&pg), 0); /* mid-stream */
    publish_more(20000, 2000, 4, expect);
    assert_int_equal(wait_ready(w, 1, WAIT_MS, why), 0);
    assert_non_null(strstr(why, "postgres"));
    assert_int_equal(fixture_resume(&pg), 0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 2000, expect), 0);
    assert_int_equal(wait_ready(w, 0, WAIT_MS, why), 0);
    assert_true(metric_of(w, "worker_pg_errors_total") > 0);
}

static void test_pipeline_nats_restart(void **state)
{
    static char expect[1000];

    worker_start(0);
    assert_int_equal(tk_publish_random(&g_tk, 5000, 1000, 5, expect), 0);
    tk_nats_close(&g_tk);
    assert_int_equal(fixture_stop(&nats), 0);
    mono_sleep_ms(500); /* NATS away for a while, not an assertion */
    assert_int_equal(fixture_resume(&nats), 0);
    assert_int_equal(tk_nats_open(&g_tk, nats.url), 0);
    publish_more(5000, 1000, 6, expect);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 1000, expect), 0);
}

/* The epoch the workers recorded, and the one of the stream now. */
static long noted_epoch(void)
{
    return tk_pg_long(pg.url, "SELECT epoch FROM worker_stream");
}

static long stream_epoch(struct tk_nats *t)
{
    jsStreamInfo *si = NULL;
    long e;

    assert_int_equal(js_GetStreamInfo(&si, t->js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    e = (long)si->Created;
    jsStreamInfo_Destroy(si);
    return e;
}

/* Votes by voters v0..v<n-1>, alternating options from `first`. */
static void vote_all(struct tk_nats *t, int n, char first, char *expect)
{
    char voter[16], opt[2] = {0};
    int i;

    for (i = 0; i < n; i++) {
        snprintf(voter, sizeof(voter), "v%d", i);
        opt[0] = (char)(i % 2 ? 'a' + 'b' - first : first);
        assert_int_equal(tk_publish(t, voter, opt, NULL), 0);
        expect[i] = opt[0];
    }
    assert_int_equal(tk_publish_wait(t), 0);
}

/* A stored empty message with a Status header looks like a server status
 * but has a reply subject: it is dead-lettered like any other poison, not
 * dropped unacked and redelivered forever, and the votes behind it go on. */
static void test_pipeline_status_lookalike_is_ended(void **state)
{
    char expect[2] = {'b', 0};
    struct worker *w;
    natsMsg *m = NULL;

    w = worker_start(0);
    assert_int_equal(
        natsMsg_Create(&m, CONTRACT_SUBJECT_PREFIX "a", NULL, NULL, 0),
        NATS_OK);
    assert_int_equal(natsMsgHeader_Set(m, "Status", "404"), NATS_OK);
    assert_int_equal(js_PublishMsg(NULL, g_tk.js, m, NULL, NULL), NATS_OK);
    natsMsg_Destroy(m);
    assert_int_equal(tk_publish(&g_tk, "v0", "b", NULL), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 1, expect), 0);
    assert_true(wait_metric(w, "worker_deadletters_total", 1) == 1);
}

/* The durable deleted by hand, then the whole stream: the worker makes
 * them again and carries on; votes cast on the new stream (sequences from
 * 1 again) win over the rows of the old one; the epoch is recorded. */
static void test_pipeline_consumer_and_stream_deleted(void **state)
{
    char expect[40], why[128];
    struct worker *w;
    jsStreamInfo *si;
    int i;

    w = worker_start(0);
    vote_all(&g_tk, 40, 'a', expect);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 40, expect), 0);
    assert_int_equal(noted_epoch(), stream_epoch(&g_tk));

    delete_js(&g_tk, CONTRACT_CONSUMER);
    vote_all(&g_tk, 10, 'b', expect);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 40, expect), 0);

    delete_js(&g_tk, NULL);
    /* Not ready, and says why, until it is back (2 s at least: see
     * consumer.c, recreate()). */
    assert_int_equal(wait_ready(w, 1, WAIT_MS, why), 0);
    assert_non_null(strstr(why, "missing"));
    for (i = 0; i < 400; i++) { /* the worker makes it again */
        si = NULL;
        if (js_GetStreamInfo(&si, g_tk.js, CONTRACT_STREAM, NULL, NULL) ==
            NATS_OK)
            break;
        mono_sleep_ms(50);
    }
    assert_non_null(si);
    jsStreamInfo_Destroy(si);
    vote_all(&g_tk, 20, 'b', expect); /* seqs 1..20, below the old ones */
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 40, expect), 0);
    assert_int_equal(noted_epoch(), stream_epoch(&g_tk));
    assert_int_equal(wait_ready(w, 0, WAIT_MS, why), 0);
}

/* NATS loses its data (server stopped, store deleted, started again)
 * while Postgres keeps its rows: two workers reconnect, make the stream
 * and consumer again, and the new votes of old voters win although their
 * sequences are lower; tallies stay equal to the votes table. */
static void test_pipeline_nats_data_lost(void **state)
{
    static char expect[100];
    char cmd[128];
    long before;

    worker_start(0);
    worker_start(1);
    assert_int_equal(tk_publish_random(&g_tk, 600, 100, 21, expect), 0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 100, expect), 0);
    before = noted_epoch();
    assert_int_equal(before, stream_epoch(&g_tk));
    tk_nats_close(&g_tk);

    assert_int_equal(fixture_stop(&nats), 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/js'", nats.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(fixture_resume(&nats), 0);

    assert_int_equal(tk_nats_open(&g_tk, nats.url), 0);
    publish_more(100, 100, 22, expect);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 100, expect), 0);
    assert_true(noted_epoch() > before);
    assert_int_equal(noted_epoch(), stream_epoch(&g_tk));
}

/* Postgres goes away while the worker has nothing to do: readyz turns
 * not-ready within seconds (not at the next vote), and ready again once
 * Postgres is back; votes then flow. */
static void test_pipeline_idle_postgres_down(void **state)
{
    char why[128];
    struct worker *w;

    w = worker_start(0);
    assert_int_equal(tk_publish(&g_tk, "v0", "a", NULL), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    assert_int_equal(tk_wait_rows(pg.url, 1, WAIT_MS), 0);
    assert_int_equal(wait_ready(w, 0, WAIT_MS, why), 0);
    assert_int_equal(fixture_stop(&pg), 0);
    assert_int_equal(wait_ready(w, 1, WAIT_MS, why), 0);
    assert_non_null(strstr(why, "postgres"));
    assert_int_equal(fixture_resume(&pg), 0);
    assert_int_equal(wait_ready(w, 0, WAIT_MS, why), 0);
    assert_int_equal(tk_publish(&g_tk, "v1", "b", NULL), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    assert_int_equal(tk_wait_rows(pg.url, 2, WAIT_MS), 0);
}

/* A server that stops answering for a while (paused, or too loaded to
 * answer a pull within the fetch wait) still has the consumer: the worker
 * carries on without calling it missing (no warning, no re-creation, no
 * not-ready), and the votes cast meanwhile arrive. */
static void test_pipeline_slow_server_is_not_a_lost_consumer(void **state)
{
    char expect[2] = {'a', 'b'};
    const char *logged;

    worker_start(0);
    assert_int_equal(tk_publish(&g_tk, "v0", "a", NULL), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    assert_int_equal(tk_wait_rows(pg.url, 1, WAIT_MS), 0);
    logcapture_start();
    assert_int_equal(kill(nats.pid, SIGSTOP), 0); /* fetches: 100 ms */
    mono_sleep_ms(1500);
    assert_int_equal(kill(nats.pid, SIGCONT), 0);
    assert_int_equal(tk_publish(&g_tk, "v1", "b", NULL), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 2, expect), 0);
    logged = logcapture_drain();
    logcapture_stop();
    if (strstr(logged, "consumer_missing"))
        fprintf(stderr, "logged: %s\n", logged);
    assert_null(strstr(logged, "consumer_missing"));
}

/* A consumer "worker" made by someone else (here admin) with settings
 * that lose votes: a filter on votes.a (votes for b never come),
 * MaxDeliver 1 (a vote handed back never comes again), a 1 s AckWait.
 * (Ack policy none, the worst, nats-server refuses on a work-queue
 * stream: checked first.) The worker, with its own rights only, logs
 * each difference and puts its own settings back (in place or by
 * replacing it); every acknowledged vote, before and after, ends up in
 * Postgres. */
static void test_pipeline_tampered_consumer_replaced(void **state)
{
    static char expect[200];
    jsConsumerInfo *ci = NULL;
    jsConsumerConfig cc;
    const char *logged;

    assert_int_equal(tk_publish_random(&g_tk, 1000, 200, 11, expect), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    jsConsumerConfig_Init(&cc);
    cc.Durable = CONTRACT_CONSUMER;
    cc.AckPolicy = js_AckNone;
    assert_int_not_equal(
        js_AddConsumer(&ci, g_tk.js, CONTRACT_STREAM, &cc, NULL, NULL),
        NATS_OK);
    cc.AckPolicy = js_AckExplicit;
    cc.FilterSubject = "votes.a";
    cc.MaxDeliver = 1;
    cc.AckWait = 1000000000LL;
    cc.MaxAckPending = 20000;
    assert_int_equal(
        js_AddConsumer(&ci, g_tk.js, CONTRACT_STREAM, &cc, NULL, NULL),
        NATS_OK);
    jsConsumerInfo_Destroy(ci);
    ci = NULL;

    logcapture_start();
    worker_start(0);
    publish_more(1000, 200, 12, expect);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 200, expect), 0);
    logged = logcapture_drain();
    logcapture_stop();
    fprintf(stderr, "logged: %s\n", logged);
    assert_non_null(strstr(logged, "\"event\":\"consumer_config_differs\""));
    assert_non_null(strstr(logged, "\"filter_subject\":{\"found\":"
                                   "\"votes.a\",\"want\":\"\"}"));
    assert_non_null(
        strstr(logged, "\"max_deliver\":{\"found\":1,\"want\":-1}"));
    /* nats-server 2.9.10 takes these changes as an update, in place */
    assert_true(strstr(logged, "\"event\":\"consumer_updated\"") ||
                strstr(logged, "\"event\":\"consumer_replaced\""));

    assert_int_equal(js_GetConsumerInfo(&ci, g_tk.js, CONTRACT_STREAM,
                                        CONTRACT_CONSUMER, NULL, NULL),
                     NATS_OK);
    assert_int_equal(ci->Config->AckPolicy, js_AckExplicit);
    assert_true(!ci->Config->FilterSubject || !ci->Config->FilterSubject[0]);
    assert_int_equal(ci->Config->MaxDeliver, -1);
    jsConsumerInfo_Destroy(ci);
}

/* What nats-server can change in place (ack wait, max ack pending) is
 * updated: the consumer keeps its position, nothing is delivered again. */
static void test_pipeline_consumer_settings_updated(void **state)
{
    char expect[3] = {'a', 'b', 0};
    jsConsumerInfo *ci = NULL, *up = NULL;
    jsConsumerConfig cc;
    const char *logged;
    struct worker *w;

    assert_int_equal(tk_publish(&g_tk, "v0", "a", NULL), 0);
    assert_int_equal(tk_publish(&g_tk, "v1", "b", NULL), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    w = worker_start(0);
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    worker_stop(w);
    assert_int_equal(js_GetConsumerInfo(&ci, g_tk.js, CONTRACT_STREAM,
                                        CONTRACT_CONSUMER, NULL, NULL),
                     NATS_OK);
    cc = *ci->Config;
    cc.AckWait = 100LL * 1000000LL;
    cc.MaxAckPending = 3;
    assert_int_equal(
        js_UpdateConsumer(&up, g_tk.js, CONTRACT_STREAM, &cc, NULL, NULL),
        NATS_OK);
    jsConsumerInfo_Destroy(up);
    jsConsumerInfo_Destroy(ci); /* cc's strings were ci's */
    ci = NULL;

    logcapture_start();
    w = worker_start(0);
    assert_int_equal(tk_publish(&g_tk, "v1", "a", NULL), 0);
    assert_int_equal(tk_publish_wait(&g_tk), 0);
    expect[1] = 'a';
    assert_int_equal(tk_wait_drained(&g_tk, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 2, expect), 0);
    logged = logcapture_drain();
    logcapture_stop();
    assert_non_null(strstr(logged, "\"ack_wait\":{\"found\":100000000,\"want\":"
                                   "2000000000}"));
    assert_non_null(
        strstr(logged, "\"max_ack_pending\":{\"found\":3,\"want\":20000}"));
    assert_non_null(strstr(logged, "\"event\":\"consumer_updated\""));
    assert_null(strstr(logged, "consumer_replaced"));
    /* the position kept: only the new vote was delivered */
    assert_true(wait_metric(w, "worker_messages_acked_total", 1) == 1);
    assert_int_equal(js_GetConsumerInfo(&ci, g_tk.js, CONTRACT_STREAM,
                                        CONTRACT_CONSUMER, NULL, NULL),
                     NATS_OK);
    assert_int_equal(ci->Config->AckWait, 2000LL * 1000000LL);
    assert_int_equal(ci->Config->MaxAckPending, 20000);
    jsConsumerInfo_Destroy(ci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_pipeline_tampered_consumer_replaced, setup_auth, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_consumer_settings_updated,
                                        setup_auth, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_a_then_b, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_redelivery_and_duplicates,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_poison_is_deadlettered,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_two_workers_100k, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_postgres_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_nats_restart, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_status_lookalike_is_ended,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pipeline_consumer_and_stream_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_nats_data_lost, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_idle_postgres_down, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_pipeline_slow_server_is_not_a_lost_consumer, setup, teardown),
    };

    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
