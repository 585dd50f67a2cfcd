/* failover_test.c - vote's bus on a 3-node JetStream cluster with
 * NATS_REPLICAS=3: votes are published steadily, the node that leads
 * VOTES (and holds vote's connection) is killed with -9, publishing
 * resumes within a bound, and every vote that was acknowledged is in the
 * stream; the others failed (503), never a success that is missing. The
 * longest gap between two acknowledged votes is printed. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "lib/http/http.h"
#include "lib/jstream/jstream.h"
#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "lib/natsconn/natsconn.h"
#include "proto/contract.h"
#include "tests/fixture/fixture.h"
#include "vote/bus.h"

#define THREADS   4
#define MAX_VOTES 200000
#define RESUME_MS 30000 /* the bound: publishing is back within this */

struct run {
    struct bus *b;
    atomic_int stop;
    atomic_int_fast64_t last_ok_ms; /* when the latest PubAck came */
    atomic_int_fast64_t max_gap_ms; /* longest time without a PubAck */
    atomic_int ok_after_kill;
    atomic_int_fast64_t kill_ms;
    pthread_mutex_t mu;
    int n;                   /* votes tried, under mu */
    uint64_t seq[MAX_VOTES]; /* seq[i]: PubAck of vote i, or 0 (failed) */
};

static void note_ok(struct run *r, uint64_t *slot, uint64_t seq)
{
    int64_t now = mono_ms(), last = atomic_exchange(&r->last_ok_ms, now);

    *slot = seq;
    if (now - last > atomic_load(&r->max_gap_ms))
        atomic_store(&r->max_gap_ms, now - last);
    if (atomic_load(&r->kill_ms) && now > atomic_load(&r->kill_ms))
        atomic_fetch_add(&r->ok_after_kill, 1);
}

static void *publisher(void *arg)
{
    struct run *r = arg;
    struct bus_ack ack;
    char id[32];
    int i;

    while (!atomic_load(&r->stop)) {
        pthread_mutex_lock(&r->mu);
        i = r->n < MAX_VOTES ? r->n++ : -1;
        pthread_mutex_unlock(&r->mu);
        if (i < 0)
            break;
        snprintf(id, sizeof(id), "f%d", i);
        if (bus_publish(r->b, CONTRACT_SUBJECT_PREFIX "a", id, strlen(id), id,
                        2000, &ack) == 0)
            note_ok(r, &r->seq[i], ack.seq);
        else
            nats_Sleep(5); /* a refused vote: the client would retry */
    }
    return NULL;
}

static jsCtx *js_on(const char *urls, natsConnection **nc)
{
    struct natsconn conn;
    natsOptions *o = NULL;
    jsCtx *js = NULL;
    int bad;

    assert_int_equal(natsconn_parse(&conn, urls, &bad), 0);
    assert_int_equal(natsOptions_Create(&o), NATS_OK);
    assert_int_equal(natsconn_apply(&conn, o), NATS_OK);
    assert_int_equal(natsConnection_Connect(nc, o), NATS_OK);
    natsOptions_Destroy(o);
    assert_int_equal(natsConnection_JetStream(&js, *nc, NULL), NATS_OK);
    return js;
}

/* The node that leads VOTES, from its cluster info; -1 while none. */
static int leader(const struct fixture_cluster *c, jsCtx *js)
{
    jsStreamInfo *si = NULL;
    int i = -1;

    if (js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL) == NATS_OK &&
        si->Cluster)
        i = fixture_cluster_index(c, si->Cluster->Leader);
    jsStreamInfo_Destroy(si);
    return i;
}

/* The node vote's connection ("name": "vote") is on, from /connz. */
static int vote_node(const struct fixture_cluster *c)
{
    static char body[65536];
    int i;

    for (i = 0; i < c->n; i++)
        if (http_request(c->node[i].mon_port, "GET /connz HTTP/1.0\r\n\r\n",
                         body, sizeof(body)) == 200 &&
            strstr(body, "\"name\": \"vote\""))
            return i;
    return -1;
}

/* Asks the leader of VOTES to step down until the node vote is connected
 * to leads it: killing that one node fails over both the stream and the
 * client. */
static int lead_from(const struct fixture_cluster *c, natsConnection *nc,
                     jsCtx *js, int want)
{
    natsMsg *reply;
    int tries, now;
    int64_t end;

    for (tries = 0; tries < 20; tries++) {
        for (end = mono_ms() + 10000; (now = leader(c, js)) < 0;)
            if (mono_ms() > end)
                return -1;
            else
                nats_Sleep(100);
        if (now == want)
            return now;
        reply = NULL;
        natsConnection_RequestString(
            &reply, nc, "$JS.API.STREAM.LEADER.STEPDOWN." CONTRACT_STREAM, "",
            5000);
        natsMsg_Destroy(reply);
        nats_Sleep(500);
    }
    return leader(c, js);
}

/* Every vote answered with a PubAck names, by its sequence, a message in
 * the stream that is that vote. */
static int check_acked(struct run *r, jsCtx *js)
{
    natsMsg *m;
    char id[32];
    int i, ok = 0;

    for (i = 0; i < r->n; i++) {
        if (!r->seq[i])
            continue;
        snprintf(id, sizeof(id), "f%d", i);
        m = NULL;
        if (js_GetMsg(&m, js, CONTRACT_STREAM, r->seq[i], NULL, NULL) !=
            NATS_OK)
            fail_msg("vote %s was acknowledged (seq %llu) and is lost", id,
                     (unsigned long long)r->seq[i]);
        if (natsMsg_GetDataLength(m) != (int)strlen(id) ||
            memcmp(natsMsg_GetData(m), id, strlen(id)) != 0)
            fail_msg("seq %llu of %s holds %.*s", (unsigned long long)r->seq[i],
                     id, natsMsg_GetDataLength(m), natsMsg_GetData(m));
        natsMsg_Destroy(m);
        ok++;
    }
    return ok;
}

static void wait_acks(struct run *r, int n, unsigned ms)
{
    int64_t end = mono_ms() + ms;
    int ok, i;

    do {
        nats_Sleep(100);
        pthread_mutex_lock(&r->mu);
        for (ok = 0, i = 0; i < r->n; i++)
            ok += r->seq[i] != 0;
        pthread_mutex_unlock(&r->mu);
    } while (ok < n && mono_ms() < end);
    assert_true(ok >= n);
}

static void test_failover_leader_killed(void **state)
{
    static struct run r;
    struct fixture_cluster c;
    struct jstream_settings ss;
    struct jstream_desc d;
    unsigned said = 0;
    struct natsconn conn;
    struct bus_opts o = {.dup_window_s = 5};
    natsConnection *nc = NULL;
    pthread_t t[THREADS];
    jsCtx *js;
    int64_t end;
    int i, bad, victim, acked;

    assert_int_equal(fixture_cluster_start(&c, 3), 0);
    setenv("NATS_REPLICAS", "3", 1);
    assert_int_equal(jstream_settings_load(&ss), 0);
    unsetenv("NATS_REPLICAS");
    assert_int_equal(ss.replicas, 3);
    assert_int_equal(natsconn_parse(&conn, c.urls, &bad), 0);
    o.conn = &conn;
    o.streams = &ss;
    js = js_on(c.urls, &nc);
    jstream_votes(&d, &ss, 5000LL * 1000000LL); /* the worker's part */
    for (end = mono_ms() + 30000; jstream_ensure(js, &d, 1, &said, NULL, 0);) {
        assert_true(mono_ms() < end); /* until the cluster has a leader */
        nats_Sleep(200);
    }
    assert_int_equal(bus_open(&r.b, &o), 0);
    for (end = mono_ms() + 30000; bus_check(r.b) != 0;) {
        assert_true(mono_ms() < end);
        nats_Sleep(100);
    }
    pthread_mutex_init(&r.mu, NULL);
    atomic_store(&r.last_ok_ms, mono_ms());
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, publisher, &r), 0);
    wait_acks(&r, 200, 20000);

    victim = lead_from(&c, nc, js, vote_node(&c));
    assert_true(victim >= 0);
    print_message("killing n%d (leads VOTES; vote on n%d)\n", victim,
                  vote_node(&c));
    atomic_store(&r.max_gap_ms, 0); /* the gap of interest: from here */
    atomic_store(&r.kill_ms, mono_ms());
    assert_int_equal(fixture_kill(&c.node[victim]), 0);
    for (end = mono_ms() + RESUME_MS; atomic_load(&r.ok_after_kill) < 100;) {
        if (mono_ms() > end)
            fail_msg("no publishing %d ms after the kill", RESUME_MS);
        nats_Sleep(50);
    }
    atomic_store(&r.stop, 1);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(bus_flush(r.b, 5000), 0);
    bus_close(r.b);

    /* Read back from the nodes still up. */
    natsConnection_Destroy(nc);
    jsCtx_Destroy(js);
    nc = NULL;
    js = js_on(c.urls, &nc);
    for (end = mono_ms() + 20000; leader(&c, js) < 0;) {
        assert_true(mono_ms() < end);
        nats_Sleep(100);
    }
    acked = check_acked(&r, js);
    print_message("failover: %d votes tried, %d acknowledged and all in the "
                  "stream; longest gap without a PubAck %lld ms\n",
                  r.n, acked, (long long)atomic_load(&r.max_gap_ms));
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    pthread_mutex_destroy(&r.mu);
    fixture_cluster_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failover_leader_killed),
    };
    int rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    log_init("failover_test", "warn");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();
    return rc;
}
