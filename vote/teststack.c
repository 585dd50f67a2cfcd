/* teststack.c - the service in-process on fixture servers; see
 * teststack.h. */
#include "vote/teststack.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <nats/nats.h>

#include "lib/http/http.h"
#include "lib/jstream/jstream.h"
#include "lib/log/log.h"
#include "lib/mono/mono.h"
#include "proto/vote.pb-c.h"
#include "proto/contract.h"
#include "vote/api.h"
#include "vote/bus.h"
#include "vote/voters.h"
#include "vote/watch.h"

static int check_bus(void *arg)
{
    return bus_check(arg);
}

static int check_redis(void *arg)
{
    return voters_check(arg);
}

/* VOTES as the worker makes it: vote never creates it. */
void teststack_make_stream(struct teststack *s)
{
    struct jstream_desc d;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    unsigned said = 0;

    assert_int_equal(natsConnection_ConnectTo(&nc, s->nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jstream_votes(&d, &s->cfg.streams,
                  (int64_t)s->cfg.dup_window_s * 1000000000LL);
    assert_int_equal(jstream_ensure(js, &d, 1, &said, NULL, 0), 0);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

void teststack_start(struct teststack *s, unsigned threads)
{
    static struct http_opts ho;
    struct watch_dep wd[2] = {{"nats", check_bus, NULL},
                              {"redis", check_redis, NULL}};
    struct bus_opts bo = {0};

    memset(s, 0, sizeof(*s));
    assert_int_equal(fixture_start(&s->nats, FIXTURE_NATS), 0);
    assert_int_equal(fixture_start(&s->redis, FIXTURE_REDIS), 0);
    setenv("NATS_URL", s->nats.url, 1);
    setenv("REDIS_URL", s->redis.url, 1);
    setenv("OPTION_A", "Cats", 1);
    setenv("OPTION_B", "Dogs", 1);
    assert_int_equal(settings_load(&s->cfg), 0);
    teststack_make_stream(s);
    assert_int_equal(metrics_new(&s->metrics), 0);
    bo.conn = &s->cfg.nats;
    bo.streams = &s->cfg.streams;
    bo.dup_window_s = s->cfg.dup_window_s;
    bo.pending = metrics_gauge(s->metrics, "vote_publish_pending", "P.");
    assert_int_equal(bus_open(&s->bus, &bo), 0);
    assert_int_equal(
        voters_open(
            &s->voters, &s->cfg.redis, 500,
            metrics_counter(s->metrics, "vote_redis_errors_total", "R.")),
        0);
    assert_int_equal(api_new(&s->api, s->bus, s->voters, &s->cfg, s->metrics),
                     0);
    wd[0].arg = s->bus;
    wd[1].arg = s->voters;
    assert_int_equal(watch_start(&s->watch, wd, 2), 0);
    memset(&ho, 0, sizeof(ho));
    ho.listen = "127.0.0.1:0";
    ho.threads = threads;
    ho.metrics = s->metrics;
    ho.doc_root = s->cfg.ui_dir[0] ? s->cfg.ui_dir : NULL;
    ho.ready = api_ready;
    ho.ready_arg = s->api;
    assert_int_equal(http_start(&s->http, &ho), 0);
    api_register(s->api, s->http);
    s->port = http_port(s->http);
    assert_int_equal(teststack_wait_ready(s, 200, 10000), 0);
}

void teststack_stop(struct teststack *s)
{
    http_stop(s->http);
    watch_stop(s->watch);
    bus_flush(s->bus, 2000);
    api_free(s->api);
    voters_close(s->voters);
    bus_close(s->bus);
    metrics_free(s->metrics);
    fixture_destroy(&s->nats);
    fixture_destroy(&s->redis);
}

int teststack_wait_ready(struct teststack *s, int status, unsigned ms)
{
    struct testhttp_resp r;
    unsigned waited;

    for (waited = 0; waited <= ms; waited += 50) {
        if (teststack_get(s, "/readyz", "", &r) == status)
            return 0;
        mono_sleep_ms(50);
    }
    return -1;
}

int teststack_post(struct teststack *s, const char *path, const char *type,
                   const char *extra, const char *body, struct testhttp_resp *r)
{
    char req[8192], ct[128] = "";

    if (type)
        snprintf(ct, sizeof(ct), "Content-Type: %s\r\n", type);
    snprintf(req, sizeof(req),
             "POST %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s%s"
             "Content-Length: %zu\r\n\r\n%s",
             path, ct, extra, strlen(body), body);
    return testhttp_once(s->port, req, r);
}

int teststack_get(struct teststack *s, const char *path, const char *extra,
                  struct testhttp_resp *r)
{
    char req[2048];

    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%s\r\n", path,
             extra);
    return testhttp_once(s->port, req, r);
}

static void js_open(struct teststack *s, natsConnection **nc, jsCtx **js)
{
    assert_int_equal(natsConnection_ConnectTo(nc, s->nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(js, *nc, NULL), NATS_OK);
}

static void js_done(natsConnection *nc, jsCtx *js)
{
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

uint64_t teststack_stream_msgs(struct teststack *s)
{
    natsConnection *nc = NULL;
    jsStreamInfo *si = NULL;
    jsCtx *js = NULL;
    uint64_t n;

    js_open(s, &nc, &js);
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    js_done(nc, js);
    return n;
}

void teststack_last_vote(struct teststack *s, const char *subject, char *voter,
                         char *option, char *request_id, char *msg_id, size_t n)
{
    Voting__V1__VoteCast *vc;
    natsConnection *nc = NULL;
    natsMsg *m = NULL;
    jsCtx *js = NULL;
    const char *id = NULL;

    js_open(s, &nc, &js);
    assert_int_equal(
        js_GetLastMsg(&m, js, CONTRACT_STREAM, subject, NULL, NULL), NATS_OK);
    vc = voting__v1__vote_cast__unpack(NULL, (size_t)natsMsg_GetDataLength(m),
                                       (const uint8_t *)natsMsg_GetData(m));
    assert_non_null(vc);
    snprintf(voter, n, "%s", vc->voter_id);
    snprintf(option, n, "%s", vc->option);
    snprintf(request_id, n, "%s", vc->request_id);
    assert_true(vc->cast_at_ms > 1700000000000LL);
    voting__v1__vote_cast__free_unpacked(vc, NULL);
    assert_int_equal(natsMsgHeader_Get(m, CONTRACT_HDR_MSG_ID, &id), NATS_OK);
    snprintf(msg_id, n, "%s", id);
    natsMsg_Destroy(m);
    js_done(nc, js);
}

void teststack_redis_expect(struct teststack *s, const char *voter,
                            const char *want)
{
    redisContext *rc = redisConnect("127.0.0.1", s->redis.port);
    redisReply *r;
    char got[80] = "";
    int i;

    assert_non_null(rc);
    assert_int_equal(rc->err, 0);
    for (i = 0; i < 200; i++) {
        r = redisCommand(rc, "HGET %s %s", VOTERS_KEY, voter);
        assert_non_null(r);
        snprintf(got, sizeof(got), "%s",
                 r->type == REDIS_REPLY_STRING ? r->str : "");
        freeReplyObject(r);
        if (strcmp(got, want) == 0)
            break;
        mono_sleep_ms(10);
    }
    redisFree(rc);
    assert_string_equal(got, want);
}

double teststack_metric(struct teststack *s, const char *name)
{
    static struct testhttp_resp r; /* 10 KB: keep it off the stack */
    char *at;
    size_t len = strlen(name);

    assert_int_equal(teststack_get(s, "/metrics", "", &r), 200);
    for (at = strstr(r.body, name); at; at = strstr(at + 1, name))
        if ((at == r.body || at[-1] == '\n') && at[len] == ' ')
            return strtod(at + len + 1, NULL);
    fail_msg("metric %s not in /metrics", name);
    return -1;
}

double teststack_metric_reach(struct teststack *s, const char *name, double min)
{
    double v = teststack_metric(s, name);
    int i;

    for (i = 0; i < 60 && v < min; i++) {
        mono_sleep_ms(50);
        v = teststack_metric(s, name);
    }
    return v;
}
