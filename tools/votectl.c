/* votectl - a command-line window on the running app.
 *
 *   votectl sub 'votes.*'        each message, VoteCast decoded, one JSON line
 *   votectl vote a --voter ID    casts a vote through vote's HTTP API
 *   votectl stats                streams, the worker consumer, and tallies
 *   votectl load N PREFIX        publishes N votes at once (benchmarks)
 *   votectl pull N               pulls and acks N stored votes on a
 *                                throwaway consumer: NATS alone, no Postgres
 *
 * Settings from the environment: NATS_URL (nats://127.0.0.1:4222),
 * VOTE_URL (http://127.0.0.1:5000), POSTGRES_HOST/PORT/DB/USER/PASSWORD. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <nats/nats.h>

#include "lib/config/config.h"
#include "lib/shutdown/shutdown.h"
#include "proto/vote.pb-c.h"

static volatile sig_atomic_t g_stop;

static void print_json(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT);

    if (s)
        printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static int fail(const char *what, const char *detail)
{
    fprintf(stderr, "votectl: %s: %s\n", what, detail);
    return 1;
}

static int nats_connect(natsConnection **nc)
{
    char url[256];
    natsStatus s;

    if (config_str("NATS_URL", "nats://127.0.0.1:4222", url, sizeof(url)))
        return CONFIG_EXIT;
    s = natsConnection_ConnectTo(nc, url);
    if (s != NATS_OK)
        return fail(url, natsStatus_GetText(s));
    return 0;
}

/* One message as JSON: the VoteCast fields, or why it isn't one. */
static json_t *describe(natsMsg *m)
{
    const char *data = natsMsg_GetData(m);
    int len = natsMsg_GetDataLength(m);
    const char *msg_id = NULL, *reason = NULL;
    Voting__V1__VoteCast *v;
    json_t *o;

    natsMsgHeader_Get(m, "Nats-Msg-Id", &msg_id);
    o = json_pack("{s:s,s:i}", "subject", natsMsg_GetSubject(m), "bytes", len);
    if (msg_id)
        json_object_set_new(o, "msg_id", json_string(msg_id));
    v = voting__v1__vote_cast__unpack(NULL, (size_t)len, (const uint8_t *)data);
    if (!v) {
        json_object_set_new(o, "error", json_string("not a VoteCast"));
    } else {
        json_object_set_new(o, "voter_id", json_string(v->voter_id));
        json_object_set_new(o, "option", json_string(v->option));
        json_object_set_new(o, "cast_at_ms", json_integer(v->cast_at_ms));
        json_object_set_new(o, "origin", json_string(v->origin));
        json_object_set_new(o, "request_id", json_string(v->request_id));
        voting__v1__vote_cast__free_unpacked(v, NULL);
    }
    /* Dead letters say why they were set aside. */
    if (natsMsgHeader_Get(m, "Voting-Deadletter-Reason", &reason) == NATS_OK)
        json_object_set_new(o, "deadletter_reason", json_string(reason));
    return o;
}

static int cmd_sub(const char *subject)
{
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    natsMsg *m = NULL;
    natsStatus s;
    int rc = nats_connect(&nc);

    if (rc)
        return rc;
    s = natsConnection_SubscribeSync(&sub, nc, subject);
    if (s != NATS_OK) {
        natsConnection_Destroy(nc);
        return fail(subject, natsStatus_GetText(s));
    }
    fprintf(stderr, "votectl: listening on %s (Ctrl-C stops)\n", subject);
    while (!g_stop) {
        s = natsSubscription_NextMsg(&m, sub, 200);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK)
            break;
        print_json(describe(m));
        natsMsg_Destroy(m);
    }
    natsConnection_Close(nc);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(nc);
    return s == NATS_OK || s == NATS_TIMEOUT ? 0 : 1;
}

static int cmd_vote(const char *option, const char *voter)
{
    struct config_url u;
    struct mg_connection *c;
    char ebuf[256], reply[1024], *body;
    int n, got = 0, status;
    json_t *req;

    if (config_url("VOTE_URL", "http://127.0.0.1:5000", "http", 80, &u))
        return CONFIG_EXIT;
    req = voter ? json_pack("{s:s,s:s}", "vote", option, "voter_id", voter)
                : json_pack("{s:s}", "vote", option);
    body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!body)
        return fail("vote", "out of memory");
    n = (int)strlen(body);
    mg_init_library(0);
    c = mg_download(u.host, u.port, 0, ebuf, sizeof(ebuf),
                    "POST /api/vote HTTP/1.0\r\nHost: %s\r\n"
                    "Content-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n%s",
                    u.host, n, body);
    free(body);
    if (!c)
        return fail(u.raw, ebuf);
    status = mg_get_response_info(c)->status_code;
    while ((n = mg_read(c, reply + got, sizeof(reply) - 1 - (size_t)got)) > 0)
        got += n;
    reply[got] = '\0';
    mg_close_connection(c);
    printf("%d %s\n", status, reply);
    return status == 200 ? 0 : 1;
}

static json_t *streams_json(jsCtx *js)
{
    jsStreamInfoList *list = NULL;
    json_t *arr = json_array();
    jsErrCode jerr = 0;
    int i;

    if (js_Streams(&list, js, NULL, &jerr) != NATS_OK)
        return arr;
    for (i = 0; i < list->Count; i++) {
        jsStreamInfo *si = list->List[i];

        json_array_append_new(
            arr, json_pack("{s:s,s:I,s:I,s:I,s:I}", "name", si->Config->Name,
                           "messages", (json_int_t)si->State.Msgs, "bytes",
                           (json_int_t)si->State.Bytes, "last_seq",
                           (json_int_t)si->State.LastSeq, "consumers",
                           (json_int_t)si->State.Consumers));
    }
    jsStreamInfoList_Destroy(list);
    return arr;
}

static json_t *consumer_json(jsCtx *js)
{
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, js, "VOTES", "worker", NULL, &jerr);
    json_t *o;

    if (s != NATS_OK)
        return json_pack("{s:s}", "error", natsStatus_GetText(s));
    o = json_pack("{s:s,s:I,s:I,s:I,s:I,s:I}", "name", ci->Name, "pending",
                  (json_int_t)ci->NumPending, "ack_pending",
                  (json_int_t)ci->NumAckPending, "redelivered",
                  (json_int_t)ci->NumRedelivered, "delivered_seq",
                  (json_int_t)ci->Delivered.Stream, "ack_floor_seq",
                  (json_int_t)ci->AckFloor.Stream);
    jsConsumerInfo_Destroy(ci);
    return o;
}

static json_t *tallies_json(void)
{
    char host[256], db[64], user[64], pw[128], port[8];
    const char *keys[] = {
        "host", "port", "dbname", "user", "password", "connect_timeout", NULL};
    const char *vals[] = {host, port, db, user, pw, "3", NULL};
    json_t *o = json_object();
    PGconn *c;
    PGresult *r;
    int i;

    if (config_str("POSTGRES_HOST", "127.0.0.1", host, sizeof(host)) ||
        config_str("POSTGRES_PORT", "5432", port, sizeof(port)) ||
        config_str("POSTGRES_DB", "postgres", db, sizeof(db)) ||
        config_str("POSTGRES_USER", "postgres", user, sizeof(user)) ||
        config_secret("POSTGRES_PASSWORD", "", pw, sizeof(pw)))
        return json_pack("{s:s}", "error", "bad Postgres settings");
    c = PQconnectdbParams(keys, vals, 0);
    r = PQstatus(c) == CONNECTION_OK
            ? PQexec(c, "SELECT vote, count FROM tallies ORDER BY vote")
            : NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        json_decref(o);
        o = json_pack("{s:s}", "error", PQerrorMessage(c));
    } else {
        for (i = 0; i < PQntuples(r); i++)
            json_object_set_new(o, PQgetvalue(r, i, 0),
                                json_integer(atoll(PQgetvalue(r, i, 1))));
    }
    PQclear(r);
    PQfinish(c);
    return o;
}

static int cmd_stats(void)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    int rc = nats_connect(&nc);
    json_t *o;

    if (rc)
        return rc;
    if (natsConnection_JetStream(&js, nc, NULL) != NATS_OK) {
        natsConnection_Destroy(nc);
        return fail("jetstream", "not available");
    }
    o = json_pack("{s:o,s:o,s:o}", "streams", streams_json(js), "consumer",
                  consumer_json(js), "tallies", tallies_json());
    print_json(o);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return 0;
}

/* Publishes n VoteCasts for voters PREFIX-0.. PREFIX-(n-1), alternating
 * a and b, asynchronously, each with its Nats-Msg-Id: a backlog for the
 * benchmark, published the way vote publishes. */
static int cmd_load(const char *count, const char *prefix)
{
    Voting__V1__VoteCast v = VOTING__V1__VOTE_CAST__INIT;
    natsConnection *nc = NULL;
    jsOptions jo;
    jsCtx *js = NULL;
    char id[96], *end;
    uint8_t buf[256];
    long n = strtol(count, &end, 10), i;
    natsStatus s = NATS_OK;
    int rc;

    if (*end || n < 1)
        return fail("load", "COUNT must be a positive number");
    rc = nats_connect(&nc);
    if (rc)
        return rc;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 8192;
    natsConnection_JetStream(&js, nc, &jo);
    v.origin = "votectl";
    for (i = 0; i < n && s == NATS_OK && !g_stop; i++) {
        natsMsg *m = NULL;

        snprintf(id, sizeof(id), "%s-%ld", prefix, i);
        v.voter_id = id;
        v.request_id = id;
        v.option = (i & 1) ? "b" : "a";
        v.cast_at_ms = 0;
        s = natsMsg_Create(&m, (i & 1) ? "votes.b" : "votes.a", NULL,
                           (const char *)buf,
                           (int)voting__v1__vote_cast__pack(&v, buf));
        if (s == NATS_OK)
            s = natsMsgHeader_Set(m, "Nats-Msg-Id", id);
        if (s == NATS_OK)
            s = js_PublishMsgAsync(js, &m, NULL);
        /* MaxPending stayed full past StallWait: let it drain, resend. */
        while (s == NATS_TIMEOUT && !g_stop) {
            js_PublishAsyncComplete(js, NULL);
            s = js_PublishMsgAsync(js, &m, NULL);
        }
        natsMsg_Destroy(m); /* NULL once the library owns it */
    }
    if (s == NATS_OK)
        s = js_PublishAsyncComplete(js, NULL);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    if (s != NATS_OK)
        return fail("load", natsStatus_GetText(s));
    fprintf(stderr, "votectl: published %ld votes\n", i);
    return 0;
}

#define PULL_BATCH 500

/* Pulls n stored votes in batches of PULL_BATCH through a consumer of its
 * own (natsSubscription_Fetch, one batch at a time) and acks each one: the
 * NATS half of the worker's work without Postgres, to see how fast NATS
 * alone hands votes out on this machine. The consumer is deleted at the
 * end, and by the server after 30 s if votectl dies. Prints one JSON line. */
static int cmd_pull(const char *count)
{
    natsConnection *nc = NULL;
    natsSubscription *sub = NULL;
    jsCtx *js = NULL;
    jsSubOptions so;
    jsErrCode je = 0;
    char durable[48], *end;
    long n = strtol(count, &end, 10), got = 0;
    natsStatus s;
    int64_t t0;
    int rc, i;

    if (*end || n < 1)
        return fail("pull", "COUNT must be a positive number");
    rc = nats_connect(&nc);
    if (rc)
        return rc;
    snprintf(durable, sizeof(durable), "votectl-pull-%ld", (long)getpid());
    jsSubOptions_Init(&so);
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.DeliverPolicy = js_DeliverAll;
    so.Config.MaxAckPending = 4 * PULL_BATCH;
    so.Config.InactiveThreshold = 30 * 1000000000LL;
    s = natsConnection_JetStream(&js, nc, NULL);
    if (s == NATS_OK)
        s = js_PullSubscribe(&sub, js, "votes.>", durable, NULL, &so, &je);
    t0 = nats_Now();
    while (s == NATS_OK && got < n && !g_stop) {
        natsMsgList list = {0};
        int want = n - got < PULL_BATCH ? (int)(n - got) : PULL_BATCH;

        s = natsSubscription_Fetch(&list, sub, want, 5000, &je);
        for (i = 0; s == NATS_OK && i < list.Count; i++)
            s = natsMsg_Ack(list.Msgs[i], NULL);
        got += list.Count;
        natsMsgList_Destroy(&list);
    }
    if (s == NATS_OK)
        s = natsConnection_Flush(nc);
    t0 = nats_Now() - t0;
    if (js)
        js_DeleteConsumer(js, "VOTES", durable, NULL, NULL);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    if (s != NATS_OK)
        return fail("pull", s == NATS_TIMEOUT ? "fewer votes stored than COUNT"
                                              : natsStatus_GetText(s));
    print_json(json_pack("{s:I,s:I,s:I}", "pulled", (json_int_t)got, "ms",
                         (json_int_t)t0, "per_s",
                         (json_int_t)(t0 > 0 ? got * 1000 / t0 : 0)));
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: votectl sub SUBJECT\n"
                    "       votectl vote OPTION [--voter ID]\n"
                    "       votectl stats\n"
                    "       votectl load COUNT PREFIX\n"
                    "       votectl pull COUNT\n");
    return CONFIG_EXIT;
}

int main(int argc, char **argv)
{
    int rc;

    shutdown_install(&g_stop);
    if (argc == 3 && strcmp(argv[1], "sub") == 0)
        rc = cmd_sub(argv[2]);
    else if (argc == 3 && strcmp(argv[1], "vote") == 0)
        rc = cmd_vote(argv[2], NULL);
    else if (argc == 5 && strcmp(argv[1], "vote") == 0 &&
             strcmp(argv[3], "--voter") == 0)
        rc = cmd_vote(argv[2], argv[4]);
    else if (argc == 4 && strcmp(argv[1], "load") == 0)
        rc = cmd_load(argv[2], argv[3]);
    else if (argc == 3 && strcmp(argv[1], "pull") == 0)
        rc = cmd_pull(argv[2]);
    else if (argc == 2 && strcmp(argv[1], "stats") == 0)
        rc = cmd_stats();
    else
        rc = usage();
    nats_Close();
    return rc;
}
