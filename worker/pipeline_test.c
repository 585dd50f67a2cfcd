/* pipeline_test.c - the whole loop against real nats-server -js and
 * Postgres: last vote wins in and across batches, redelivery and duplicates
 * change nothing, poison is dead-lettered and the rest goes on, two
 * workers split 100,000 votes exactly, Postgres and NATS restarts lose
 * nothing. */
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
#include "lib/metrics/metrics.h"
#include "lib/mono/mono.h"
#include "tests/fixture/fixture.h"
#include "worker/consumer.h"
#include "worker/pipeline.h"
#include "worker/store.h"
#include "worker/testkit.h"

#define ACK_WAIT_MS 2000
#define DRAIN_MS    40000

static struct fixture pg, nats;

struct worker {
    struct store *store;
    struct consumer *consumer;
    struct pipeline *pipe;
    struct metrics *metrics;
    pthread_t thread;
    volatile sig_atomic_t stop;
};

static void *run_thread(void *arg)
{
    struct worker *w = arg;

    pipeline_run(w->pipe, &w->stop);
    return NULL;
}

static void worker_start(struct worker *w)
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
    };

    memset(w, 0, sizeof(*w));
    assert_int_equal(store_open(&w->store, keys, vals, 500), 0);
    assert_int_equal(store_migrate(w->store), 0);
    assert_int_equal(consumer_open(&w->consumer, &o), 0);
    assert_int_equal(metrics_new(&w->metrics), 0);
    assert_int_equal(pipeline_new(&w->pipe, w->consumer, w->store, w->metrics,
                                  500, ACK_WAIT_MS),
                     0);
    assert_int_equal(pthread_create(&w->thread, NULL, run_thread, w), 0);
}

static void worker_stop(struct worker *w)
{
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

/* Each test: a fresh nats-server, empty tables. */
static int setup(void **state)
{
    PGconn *c = PQconnectdb(pg.url);

    PQclear(PQexec(c, "TRUNCATE votes, tallies"));
    PQfinish(c);
    return fixture_start(&nats, FIXTURE_NATS);
}

static int teardown(void **state)
{
    fixture_destroy(&nats);
    return 0;
}

static void test_pipeline_a_then_b(void **state)
{
    struct tk_nats t;
    struct worker w;
    char expect[3] = {'b', 'b', 0};

    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    assert_int_equal(tk_publish(&t, "v0", "a", NULL), 0);
    assert_int_equal(tk_publish(&t, "v0", "b", NULL), 0); /* one batch */
    assert_int_equal(tk_publish(&t, "v1", "a", NULL), 0);
    assert_int_equal(tk_publish_wait(&t), 0);
    worker_start(&w);
    assert_int_equal(tk_wait_drained(&t, DRAIN_MS), 0);
    assert_int_equal(tk_publish(&t, "v1", "b", NULL), 0); /* next batch */
    assert_int_equal(tk_publish_wait(&t), 0);
    assert_int_equal(tk_wait_drained(&t, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 3, expect), 0);
    assert_int_equal(tk_pg_long(pg.url, "SELECT count FROM tallies"
                                        " WHERE vote = 'b'"),
                     2);
    worker_stop(&w);
    tk_nats_close(&t);
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

static void replay_everything(struct tk_nats *t)
{
    assert_int_equal(js_DeleteConsumer(t->js, "VOTES", "worker", NULL, NULL),
                     NATS_OK);
}

static void test_pipeline_redelivery_and_duplicates(void **state)
{
    static char expect[300];
    struct tk_nats t;
    struct worker w;
    double applied;

    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    assert_int_equal(tk_publish_random(&t, 2000, 300, 7, expect), 0);
    /* Same Nats-Msg-Id twice: the stream keeps one. A second copy under
     * another id is a real duplicate: same vote, later sequence. */
    assert_int_equal(tk_publish(&t, "v0", "a", "req-1"), 0);
    assert_int_equal(tk_publish(&t, "v0", "a", "req-1"), 0);
    assert_int_equal(tk_publish(&t, "v0", "a", "req-2"), 0);
    assert_int_equal(tk_publish_wait(&t), 0);
    expect[0] = 'a';
    fetch_without_ack(nats.url, 300);
    worker_start(&w);
    assert_int_equal(tk_wait_drained(&t, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 300, expect), 0);
    applied = metric_of(&w, "worker_votes_applied_total");
    worker_stop(&w);

    /* Everything delivered again from the start: nothing changes. */
    replay_everything(&t);
    worker_start(&w);
    assert_int_equal(tk_wait_drained(&t, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 300, expect), 0);
    assert_true(metric_of(&w, "worker_messages_acked_total") >= 2000);
    assert_true(metric_of(&w, "worker_votes_applied_total") == 0);
    assert_true(applied > 0);
    worker_stop(&w);
    tk_nats_close(&t);
}

static void test_pipeline_poison_is_deadlettered(void **state)
{
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    char expect[2] = {'b', 'a'};
    natsSubscription *dl = NULL;
    jsStreamInfo *si = NULL;
    struct tk_nats t;
    struct worker w;
    natsMsg *m;
    const char *reason;
    int i;

    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    assert_int_equal(
        natsConnection_SubscribeSync(&dl, t.nc, "deadletter.votes"), NATS_OK);
    assert_int_equal(natsConnection_Flush(t.nc), NATS_OK);
    assert_int_equal(tk_publish(&t, "v0", "a", NULL), 0);
    assert_int_equal(tk_publish_raw(&t, "votes.a", junk, sizeof(junk)), 0);
    assert_int_equal(tk_publish(&t, "bad voter", "a", NULL), 0);
    assert_int_equal(tk_publish(&t, "v0", "c", NULL), 0);
    assert_int_equal(tk_publish(&t, "v0", "b", NULL), 0);
    assert_int_equal(tk_publish(&t, "v1", "a", NULL), 0);
    assert_int_equal(tk_publish_wait(&t), 0);
    worker_start(&w);
    assert_int_equal(tk_wait_drained(&t, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 2, expect), 0);
    for (i = 0; i < 3; i++) {
        assert_int_equal(natsSubscription_NextMsg(&m, dl, 5000), NATS_OK);
        assert_int_equal(
            natsMsgHeader_Get(m, "Voting-Deadletter-Reason", &reason), NATS_OK);
        assert_string_equal(reason, i == 0   ? "not_a_votecast"
                                    : i == 1 ? "bad_voter_id"
                                             : "unknown_option");
        natsMsg_Destroy(m);
    }
    assert_true(metric_of(&w, "worker_deadletters_total") == 3);
    /* Kept in the DEADLETTER stream, not only sent to whoever listens. */
    assert_int_equal(js_GetStreamInfo(&si, t.js, "DEADLETTER", NULL, NULL),
                     NATS_OK);
    assert_int_equal(si->State.Msgs, 3);
    jsStreamInfo_Destroy(si);
    /* Terminated: never delivered again. */
    assert_int_equal(natsSubscription_NextMsg(&m, dl, ACK_WAIT_MS + 500),
                     NATS_TIMEOUT);
    natsSubscription_Destroy(dl);
    worker_stop(&w);
    tk_nats_close(&t);
}

static void test_pipeline_two_workers_100k(void **state)
{
    static char expect[5000];
    struct tk_nats t;
    struct worker w[2];

    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    worker_start(&w[0]);
    worker_start(&w[1]);
    assert_int_equal(tk_publish_random(&t, 100000, 5000, 42, expect), 0);
    assert_int_equal(tk_wait_drained(&t, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 5000, expect), 0);
    fprintf(stderr, "two workers: acked %.0f + %.0f\n",
            metric_of(&w[0], "worker_messages_acked_total"),
            metric_of(&w[1], "worker_messages_acked_total"));
    worker_stop(&w[0]);
    worker_stop(&w[1]);
    tk_nats_close(&t);
}

static void test_pipeline_postgres_restart(void **state)
{
    static char expect[2000], more[2000];
    char why[128];
    struct tk_nats t;
    struct worker w;
    int i;

    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    worker_start(&w);
    assert_int_equal(tk_publish_random(&t, 20000, 2000, 3, expect), 0);
    while (tk_pg_long(pg.url, "SELECT count(*) FROM votes") <= 0)
        mono_sleep_ms(5);
    assert_int_equal(fixture_stop(&pg), 0); /* mid-stream */
    assert_int_equal(tk_publish_random(&t, 20000, 2000, 4, more), 0);
    for (i = 0; i < 2000; i++)
        if (more[i])
            expect[i] = more[i];
    mono_sleep_ms(1500);
    assert_int_not_equal(pipeline_ready(w.pipe, why, sizeof(why)), 0);
    assert_non_null(strstr(why, "postgres"));
    assert_int_equal(fixture_resume(&pg), 0);
    assert_int_equal(tk_wait_drained(&t, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 2000, expect), 0);
    assert_int_equal(pipeline_ready(w.pipe, why, sizeof(why)), 0);
    assert_true(metric_of(&w, "worker_pg_errors_total") > 0);
    worker_stop(&w);
    tk_nats_close(&t);
}

static void test_pipeline_nats_restart(void **state)
{
    static char expect[1000], more[1000];
    struct tk_nats t;
    struct worker w;
    int i;

    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    worker_start(&w);
    assert_int_equal(tk_publish_random(&t, 5000, 1000, 5, expect), 0);
    tk_nats_close(&t);
    assert_int_equal(fixture_stop(&nats), 0);
    mono_sleep_ms(500);
    assert_int_equal(fixture_resume(&nats), 0);
    assert_int_equal(tk_nats_open(&t, nats.url), 0);
    assert_int_equal(tk_publish_random(&t, 5000, 1000, 6, more), 0);
    for (i = 0; i < 1000; i++)
        if (more[i])
            expect[i] = more[i];
    assert_int_equal(tk_wait_drained(&t, DRAIN_MS), 0);
    assert_int_equal(tk_check_db(pg.url, 1000, expect), 0);
    worker_stop(&w);
    tk_nats_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
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
    };

    return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
