/* votectl - a command-line window on the running app.
 *
 *   votectl sub 'votes.*'        each message, VoteCast decoded, one JSON line
 *   votectl vote a --voter ID    casts a vote through vote's HTTP API
 *          [--from ADDR]         as a browser at ADDR behind a proxy would
 *                                (X-Forwarded-For: ADDR; vote counts it
 *                                only from a trusted proxy: compose/seed)
 *   votectl stats [--json]       streams, the worker consumer, tallies and
 *                                dead letters: a table, or one JSON line
 *   votectl deadletters [--json] each dead letter with its reason
 *   votectl load N PREFIX        publishes N votes at once (benchmarks),
 *                                counts what JetStream acknowledged and
 *                                refused; exit 1 unless all were stored
 *   votectl pull N               stores N votes in a throwaway stream of
 *                                its own, pulls and acks them: NATS alone,
 *                                no Postgres, VOTES untouched (admin)
 *
 * Settings from the environment: NATS_URL (nats://127.0.0.1:4222, or a
 * comma-separated list), NATS_USER and NATS_PASSWORD(_FILE),
 * VOTE_URL (http://127.0.0.1:5000), POSTGRES_HOST/PORT/DB/USER/PASSWORD.
 * What the environment leaves unset comes from the endpoints file of the
 * local stack votectl was installed with (tools/run: RUN_DIR/endpoints.env
 * beside RUN_DIR/bin/votectl, see endpoints.h), then from those defaults. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <civetweb.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <nats/nats.h>

#include "lib/clientaddr/clientaddr.h"
#include "lib/config/config.h"
#include "lib/jspull/jspull.h"
#include "lib/natsconn/natsconn.h"
#include "lib/pgconn/pgconn.h"
#include "lib/shutdown/shutdown.h"
#include "proto/contract.h"
#include "proto/vote.pb-c.h"
#include "tools/endpoints.h"

#define DEADLETTER_SHOW   1000 /* deadletters lists the newest */
#define DEADLETTER_SHOW_S "1000"

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

/* Nothing answered at addr: which address, where it came from, and how to
 * point votectl elsewhere. */
static int unreachable(const char *var, const char *addr, const char *err)
{
    char path[PATH_MAX], origin[PATH_MAX + 64];

    if (endpoints_path(path, sizeof(path)))
        path[0] = '\0';
    endpoints_origin(path[0] ? path : NULL, var, origin, sizeof(origin));
    fprintf(stderr,
            "votectl: %s: %s\n"
            "votectl: %s; is the stack up (tools/run status)? "
            "Set %s to use another address.\n",
            addr, err, origin, var);
    return 1;
}

/* One connection to the first server of NATS_URL that answers. */
static int nats_connect(natsConnection **nc)
{
    struct natsconn conn;
    natsOptions *o = NULL;
    natsStatus s;

    if (natsconn_load(&conn))
        return CONFIG_EXIT;
    s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsconn_apply(&conn, o);
    if (s == NATS_OK)
        s = natsOptions_SetName(o, "votectl");
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, o);
    natsOptions_Destroy(o);
    if (s != NATS_OK)
        return unreachable("NATS_URL", conn.redacted, natsStatus_GetText(s));
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

    natsMsgHeader_Get(m, CONTRACT_HDR_MSG_ID, &msg_id);
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
    if (natsMsgHeader_Get(m, CONTRACT_HDR_REASON, &reason) == NATS_OK)
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
    /* "listening" once the server has the subscription (a round trip) */
    if (natsConnection_Flush(nc) != NATS_OK) {
        natsSubscription_Destroy(sub);
        natsConnection_Destroy(nc);
        return fail(subject, "the server did not confirm the subscription");
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

/* voter, from: NULL when not given. from must be an address (it goes into
 * a header: nothing else may). */
static int cmd_vote(const char *option, const char *voter, const char *from)
{
    struct config_url u;
    struct clientaddr addr;
    struct mg_connection *c;
    char ebuf[256], reply[1024], xff[CLIENTADDR_TEXT_MAX + 24] = "", *body;
    int n, got = 0, status;
    json_t *req;

    if (from) {
        if (clientaddr_parse(from, &addr)) {
            fprintf(stderr,
                    "votectl: vote --from \"%.64s\": an IPv4 or IPv6 "
                    "address expected\n",
                    from);
            return CONFIG_EXIT;
        }
        snprintf(xff, sizeof(xff), "X-Forwarded-For: %s\r\n", from);
    }
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
                    "POST /api/vote HTTP/1.0\r\nHost: %s\r\n%s"
                    "Content-Type: application/json\r\n"
                    "Content-Length: %d\r\n\r\n%s",
                    u.host, xff, n, body);
    free(body);
    if (!c)
        return unreachable("VOTE_URL", u.raw, ebuf);
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
        const char *leader =
            si->Cluster && si->Cluster->Leader ? si->Cluster->Leader : "";

        json_array_append_new(
            arr,
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:I,s:s}", "name", si->Config->Name,
                      "messages", (json_int_t)si->State.Msgs, "bytes",
                      (json_int_t)si->State.Bytes, "last_seq",
                      (json_int_t)si->State.LastSeq, "consumers",
                      (json_int_t)si->State.Consumers, "replicas",
                      (json_int_t)si->Config->Replicas, "leader", leader));
    }
    jsStreamInfoList_Destroy(list);
    return arr;
}

static json_t *consumer_json(jsCtx *js)
{
    jsConsumerInfo *ci = NULL;
    jsErrCode jerr = 0;
    natsStatus s = js_GetConsumerInfo(&ci, js, CONTRACT_STREAM,
                                      CONTRACT_CONSUMER, NULL, &jerr);
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
    struct pgconn_env env;
    struct pgconn_target t;
    struct pgconn_params p;
    json_t *o;
    PGconn *c;
    PGresult *r;
    int i;

    if (pgconn_load(&env))
        return json_pack("{s:s}", "error", "bad Postgres settings");
    pgconn_target_of(&t, &env, "votectl", NULL);
    pgconn_params(&p, &t);
    o = json_object();
    c = PQconnectdbParams(p.keys, p.vals, 0);
    r = PQstatus(c) == CONNECTION_OK
            ? PQexec(c, "SELECT vote, count FROM tallies ORDER BY vote")
            : NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        json_decref(o);
        o = json_pack("{s:s,s:s,s:s}", "error", PQerrorMessage(c), "host",
                      env.host, "port", p.port);
    } else {
        for (i = 0; i < PQntuples(r); i++)
            json_object_set_new(o, PQgetvalue(r, i, 0),
                                json_integer(atoll(PQgetvalue(r, i, 1))));
    }
    PQclear(r);
    PQfinish(c);
    return o;
}

/* Messages in the DEADLETTER stream (0 without one). */
static json_int_t deadletter_count(json_t *streams)
{
    size_t i;
    json_t *st;

    json_array_foreach(streams, i, st)
    {
        if (strcmp(json_string_value(json_object_get(st, "name")),
                   CONTRACT_DL_STREAM) == 0)
            return json_integer_value(json_object_get(st, "messages"));
    }
    return 0;
}

static json_int_t num(json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static void print_streams(json_t *streams)
{
    json_t *st;
    size_t i;

    printf("%-12s %12s %14s %8s  %s\n", "stream", "messages", "bytes",
           "replicas", "leader");
    json_array_foreach(streams, i, st)
    {
        const char *leader = json_string_value(json_object_get(st, "leader"));

        printf("%-12s %12" JSON_INTEGER_FORMAT " %14" JSON_INTEGER_FORMAT
               " %8" JSON_INTEGER_FORMAT "  %s\n",
               json_string_value(json_object_get(st, "name")),
               num(st, "messages"), num(st, "bytes"), num(st, "replicas"),
               leader && *leader ? leader : "(single server)");
    }
    if (json_array_size(streams) == 0)
        printf("(no streams yet: the worker creates VOTES at its start)\n");
}

static void print_tallies(json_t *t)
{
    const char *key, *err = json_string_value(json_object_get(t, "error"));
    json_t *v;

    printf("\ntallies (Postgres)\n");
    if (err) {
        printf("  %s", err);
        if (err[0] == '\0' || err[strlen(err) - 1] != '\n')
            printf("\n");
        return;
    }
    if (json_object_size(t) == 0)
        printf("  no votes yet\n");
    json_object_foreach(t, key, v)
    {
        printf("  %-10s %12" JSON_INTEGER_FORMAT "\n", key,
               json_integer_value(v));
    }
}

/* The stats of cmd_stats() as a short table for people. */
static void print_table(json_t *o)
{
    json_t *c = json_object_get(o, "consumer");
    const char *err = json_string_value(json_object_get(c, "error"));
    json_int_t dl = num(o, "deadletters");

    print_streams(json_object_get(o, "streams"));
    printf("\nconsumer VOTES/worker: ");
    if (err)
        printf("%s\n", err);
    else
        printf("pending %" JSON_INTEGER_FORMAT
               ", ack pending %" JSON_INTEGER_FORMAT
               ", redelivered %" JSON_INTEGER_FORMAT "\n",
               num(c, "pending"), num(c, "ack_pending"), num(c, "redelivered"));
    print_tallies(json_object_get(o, "tallies"));
    printf("\ndead letters: %" JSON_INTEGER_FORMAT "%s\n", dl,
           dl ? " (votectl deadletters lists them)" : "");
    fflush(stdout);
}

static int cmd_stats(int as_json)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    int rc = nats_connect(&nc);
    json_t *o, *streams;

    if (rc)
        return rc;
    if (natsConnection_JetStream(&js, nc, NULL) != NATS_OK) {
        natsConnection_Destroy(nc);
        return fail("jetstream", "not available");
    }
    streams = streams_json(js);
    o = json_pack("{s:o,s:o,s:o,s:I}", "streams", streams, "consumer",
                  consumer_json(js), "tallies", tallies_json(), "deadletters",
                  deadletter_count(streams));
    if (as_json) {
        print_json(o);
    } else {
        print_table(o);
        json_decref(o);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return 0;
}

/* One stored dead letter: seq, time, original subject, reason, payload. */
static json_t *deadletter_json(natsMsg *m, uint64_t seq)
{
    const char *orig = NULL;
    json_t *o = describe(m);
    int64_t ns = natsMsg_GetTime(m);
    char when[32];
    time_t secs = (time_t)(ns / 1000000000);
    struct tm tm;

    json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    if (ns > 0 && gmtime_r(&secs, &tm) &&
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
        json_object_set_new(o, "time", json_string(when));
    if (natsMsgHeader_Get(m, CONTRACT_HDR_ORIGINAL_SUBJECT, &orig) == NATS_OK)
        json_object_set_new(o, "original_subject", json_string(orig));
    return o;
}

static void print_deadletter(json_t *o)
{
    const char *subj =
        json_string_value(json_object_get(o, "original_subject"));
    const char *reason =
        json_string_value(json_object_get(o, "deadletter_reason"));
    const char *when = json_string_value(json_object_get(o, "time"));

    printf("%8" JSON_INTEGER_FORMAT "  %-20s  %-12s  %" JSON_INTEGER_FORMAT
           " bytes  %s\n",
           num(o, "seq"), when ? when : "-", subj ? subj : "-", num(o, "bytes"),
           reason ? reason : "(no reason recorded)");
}

/* Prints the newest DEADLETTER_SHOW messages of the stream si describes. */
static void list_deadletters(jsCtx *js, const jsStreamInfo *si, int as_json)
{
    uint64_t seq, first = si->State.FirstSeq, last = si->State.LastSeq;
    jsErrCode je = 0;

    if (last >= DEADLETTER_SHOW && last - DEADLETTER_SHOW + 1 > first)
        first = last - DEADLETTER_SHOW + 1;
    if (!as_json && si->State.Msgs == 0)
        printf("no dead letters\n");
    else if (!as_json)
        printf("%" PRIu64 " dead letters%s\n%8s  %-20s  %-12s  %s\n",
               si->State.Msgs,
               si->State.Msgs > DEADLETTER_SHOW
                   ? " (the newest " DEADLETTER_SHOW_S ")"
                   : "",
               "seq", "time (UTC)", "subject", "size, reason");
    for (seq = first; seq && seq <= last && !g_stop; seq++) {
        natsMsg *m = NULL;
        json_t *o;

        if (js_GetMsg(&m, js, CONTRACT_DL_STREAM, seq, NULL, &je) != NATS_OK)
            continue; /* deleted */
        o = deadletter_json(m, seq);
        natsMsg_Destroy(m);
        if (as_json) {
            print_json(o);
        } else {
            print_deadletter(o);
            json_decref(o);
        }
    }
}

/* The newest dead letters, oldest first: seq, time, original subject,
 * size and reason; --json: one JSON line each. */
static int cmd_deadletters(int as_json)
{
    natsConnection *nc = NULL;
    jsStreamInfo *si = NULL;
    jsCtx *js = NULL;
    jsErrCode je = 0;
    natsStatus s;
    int rc = nats_connect(&nc);

    if (rc)
        return rc;
    s = natsConnection_JetStream(&js, nc, NULL);
    if (s == NATS_OK)
        s = js_GetStreamInfo(&si, js, CONTRACT_DL_STREAM, NULL, &je);
    if (s == NATS_NOT_FOUND || je == JSStreamNotFoundErr) {
        fprintf(stderr, "votectl: no %s stream yet: no dead letters\n",
                CONTRACT_DL_STREAM);
        s = NATS_OK;
    } else if (s == NATS_OK) {
        list_deadletters(js, si, as_json);
    }
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    if (s != NATS_OK)
        return fail(CONTRACT_DL_STREAM, natsStatus_GetText(s));
    return 0;
}

/* What JetStream answered to the async publishes of load and pull. */
struct acks {
    _Atomic long acked, refused;
    _Atomic int first_code; /* JetStream error code of the first refusal */
};

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae,
                   void *closure)
{
    struct acks *a = closure;
    int none = 0;

    natsMsg_Destroy(msg); /* first: counted means done with */
    if (pa) {
        atomic_fetch_add(&a->acked, 1);
    } else {
        atomic_fetch_add(&a->refused, 1);
        atomic_compare_exchange_strong(&a->first_code, &none,
                                       pae && pae->ErrCode ? (int)pae->ErrCode
                                                           : -1);
    }
}

/* PublishAsyncComplete() returns before the handler of the last answer
 * has run: waits (up to 5 s) until each sent message was counted, then a
 * moment for nats.c to free that answer (destroying the connection
 * before it does leaves it allocated: seen by LeakSanitizer). */
static void await_counted(const struct acks *a, long sent)
{
    int i;

    for (i = 0;
         i < 500 && atomic_load(&a->acked) + atomic_load(&a->refused) < sent;
         i++)
        nats_Sleep(10);
    nats_Sleep(50);
}

/* Publishes n VoteCasts for voters PREFIX-0.. PREFIX-(n-1) on
 * SUBJECTS-PREFIX a and b alternately, asynchronously, each with its
 * Nats-Msg-Id, the way vote publishes; counts the answers into *a.
 * Returns how many were sent; *s says why it stopped early. */
static long publish_n(jsCtx *js, long n, const char *prefix,
                      const char *subjects, natsStatus *s)
{
    Voting__V1__VoteCast v = VOTING__V1__VOTE_CAST__INIT;
    char id[96], subject[96], option[CONTRACT_OPTION_ID_MAX];
    uint8_t buf[256];
    long i;

    *s = NATS_OK;
    v.origin = "votectl";
    for (i = 0; i < n && *s == NATS_OK && !g_stop; i++) {
        natsMsg *m = NULL;

        snprintf(id, sizeof(id), "%s-%ld", prefix, i);
        v.voter_id = id;
        v.request_id = id;
        snprintf(option, sizeof(option), "%s", CONTRACT_OPTIONS[i & 1]);
        v.option = option;
        v.cast_at_ms = 0;
        snprintf(subject, sizeof(subject), "%s%s", subjects, v.option);
        *s = natsMsg_Create(&m, subject, NULL, (const char *)buf,
                            (int)voting__v1__vote_cast__pack(&v, buf));
        if (*s == NATS_OK)
            *s = natsMsgHeader_Set(m, CONTRACT_HDR_MSG_ID, id);
        if (*s == NATS_OK)
            *s = js_PublishMsgAsync(js, &m, NULL);
        /* MaxPending stayed full past StallWait: let it drain, resend. */
        while (*s == NATS_TIMEOUT && !g_stop) {
            js_PublishAsyncComplete(js, NULL);
            *s = js_PublishMsgAsync(js, &m, NULL);
        }
        natsMsg_Destroy(m); /* NULL once the library owns it */
        if (*s != NATS_OK)
            break;
    }
    return i;
}

/* A JetStream context whose async publishes are counted into a. */
static natsStatus counted_js(natsConnection *nc, struct acks *a, jsCtx **js)
{
    jsOptions jo;

    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 8192;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = a;
    return natsConnection_JetStream(js, nc, &jo);
}

/* Sent, acknowledged (stored, or a duplicate of a stored one), refused
 * (e.g. the stream is full: 10077), unanswered. 0 only when every vote
 * was acknowledged. */
static int report_load(long sent, struct acks *a, natsStatus s)
{
    long acked = atomic_load(&a->acked), refused = atomic_load(&a->refused);
    long unanswered = sent - acked - refused;

    print_json(json_pack("{s:I,s:I,s:I,s:I,s:i}", "sent", (json_int_t)sent,
                         "acknowledged", (json_int_t)acked, "refused",
                         (json_int_t)refused, "unanswered",
                         (json_int_t)unanswered, "first_error_code",
                         atomic_load(&a->first_code)));
    fprintf(stderr,
            "votectl: %ld votes acknowledged by JetStream, %ld refused, "
            "%ld unanswered (of %ld sent)\n",
            acked, refused, unanswered, sent);
    if (s != NATS_OK)
        return fail("load", natsStatus_GetText(s));
    return refused || unanswered ? 1 : 0;
}

/* Publishes n VoteCasts for voters PREFIX-0.. PREFIX-(n-1), alternating
 * a and b: a backlog for the benchmark, published the way vote publishes.
 * Counts what JetStream acknowledged and what it refused (a full VOTES),
 * prints both, and exits 1 unless every vote was acknowledged. */
static int cmd_load(const char *count, const char *prefix)
{
    struct acks a = {0};
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    char *end;
    long n = strtol(count, &end, 10), sent = 0;
    natsStatus s;
    int rc;

    if (*end || n < 1)
        return fail("load", "COUNT must be a positive number");
    rc = nats_connect(&nc);
    if (rc)
        return rc;
    s = counted_js(nc, &a, &js);
    if (s == NATS_OK)
        sent = publish_n(js, n, prefix, CONTRACT_SUBJECT_PREFIX, &s);
    if (js) {
        jsPubOptions po;

        jsPubOptions_Init(&po);
        po.MaxWait = 30000;
        if (s == NATS_OK)
            s = js_PublishAsyncComplete(js, &po);
        else
            js_PublishAsyncComplete(js, &po);
        await_counted(&a, sent);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return report_load(sent, &a, s == NATS_TIMEOUT ? NATS_OK : s);
}

#define PULL_BATCH   500
#define PULL_WAIT_MS 5000
#define PULL_STREAM  "VOTECTL_PULL"

/* A stream of votectl's own, configured as VOTES is (file storage, work
 * queue): VOTES admits one consumer, the worker's, and nothing else may
 * take votes from it. Named PULL_STREAM-<pid> on votectl.pull.<pid>.>. */
static natsStatus add_pull_stream(jsCtx *js, char *name, size_t n,
                                  char *subjects, size_t ns)
{
    char filter[96];
    const char *subj[] = {filter};
    jsStreamInfo *si = NULL;
    jsStreamConfig cfg;
    natsStatus s;

    snprintf(name, n, PULL_STREAM "-%ld", (long)getpid());
    snprintf(subjects, ns, "votectl.pull.%ld.", (long)getpid());
    snprintf(filter, sizeof(filter), "%s>", subjects);
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subj;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_WorkQueuePolicy;
    cfg.Discard = js_DiscardNew;
    cfg.Duplicates = 5 * 1000000000LL;
    s = js_AddStream(&si, js, &cfg, NULL, NULL);
    jsStreamInfo_Destroy(si);
    return s;
}

/* A pull consumer on stream (deleted with it). */
static natsStatus add_pull_consumer(jsCtx *js, const char *stream)
{
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;
    natsStatus s;

    jsConsumerConfig_Init(&cc);
    cc.Durable = "pull";
    cc.AckPolicy = js_AckExplicit;
    cc.DeliverPolicy = js_DeliverAll;
    cc.MaxAckPending = 4 * PULL_BATCH;
    s = js_AddConsumer(&ci, js, stream, &cc, NULL, NULL);
    jsConsumerInfo_Destroy(ci);
    return s;
}

/* Pulls and acks until n came (more may come: they are left unacked);
 * NATS_TIMEOUT when the stream ran dry first. */
static natsStatus pull_n(natsConnection *nc, struct jspull *p, long n,
                         long *got)
{
    natsStatus s = NATS_OK;
    natsMsgList list;
    int i, rc = 0;

    while (s == NATS_OK && *got < n && !g_stop) {
        rc = jspull_fetch(p, &list, &s);
        if (rc == -ETIMEDOUT || rc == -ENOENT)
            return NATS_TIMEOUT;
        if (rc)
            return s == NATS_OK ? NATS_ERR : s;
        for (i = 0; i < list.Count && *got < n && rc == 0; i++, (*got)++)
            rc = jspull_reply(nc, list.Msgs[i], "+ACK");
        natsMsgList_Destroy(&list);
        if (rc)
            s = NATS_ERR;
    }
    return s;
}

/* Stores n votes in a stream of its own, then times pulling them in
 * batches of PULL_BATCH through a consumer (lib/jspull, as the worker
 * does: a prefetch after each full batch, no natsSubscription_Fetch) and
 * acking each: the NATS half of the worker's work without Postgres, to
 * see how fast NATS alone hands votes out on this machine. VOTES is
 * never touched. Needs a NATS user that may create streams (admin, as
 * tools/bench runs it); the stream goes at the end. One JSON line. */
static int cmd_pull(const char *count)
{
    char stream[64], subjects[64], inbox[NATSCONN_INBOX_MAX], *end;
    struct acks a = {0};
    struct natsconn conn;
    natsConnection *nc = NULL;
    struct jspull *p = NULL;
    jsCtx *js = NULL;
    long n = strtol(count, &end, 10), got = 0;
    natsStatus s;
    int64_t t0 = 0;
    int rc, made = 0;

    if (*end || n < 1)
        return fail("pull", "COUNT must be a positive number");
    if (natsconn_load(&conn))
        return CONFIG_EXIT;
    rc = nats_connect(&nc);
    if (rc)
        return rc;
    s = counted_js(nc, &a, &js);
    if (s == NATS_OK)
        s = add_pull_stream(js, stream, sizeof(stream), subjects,
                            sizeof(subjects));
    made = s == NATS_OK;
    if (s == NATS_OK)
        publish_n(js, n, "pull", subjects, &s);
    if (s == NATS_OK)
        s = js_PublishAsyncComplete(js, NULL);
    await_counted(&a, n);
    if (s == NATS_OK && atomic_load(&a.acked) < n)
        s = NATS_ERR;
    if (s == NATS_OK)
        s = add_pull_consumer(js, stream);
    if (s == NATS_OK && jspull_open(&p, nc, stream, "pull",
                                    natsconn_inbox(&conn, inbox, sizeof(inbox)),
                                    PULL_BATCH, PULL_WAIT_MS, &s))
        s = s == NATS_OK ? NATS_NO_MEMORY : s;
    t0 = nats_Now();
    if (s == NATS_OK)
        s = pull_n(nc, p, n, &got);
    if (s == NATS_OK)
        s = natsConnection_Flush(nc);
    t0 = nats_Now() - t0;
    if (made)
        js_DeleteStream(js, stream, NULL, NULL);
    natsConnection_Close(nc); /* before the subscription goes */
    jspull_free(p);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    if (!made && s != NATS_OK)
        return fail("pull", "could not make a stream of its own (it needs a "
                            "NATS user that may create streams, e.g. admin)");
    if (s != NATS_OK)
        return fail("pull", natsStatus_GetText(s));
    print_json(json_pack("{s:I,s:I,s:I}", "pulled", (json_int_t)got, "ms",
                         (json_int_t)t0, "per_s",
                         (json_int_t)(t0 > 0 ? got * 1000 / t0 : 0)));
    return 0;
}

static int usage(void);

/* votectl vote OPTION, then argv[0..argc-1]: [--voter ID] [--from ADDR]. */
static int vote_args(int argc, char **argv, const char *option)
{
    const char *voter = NULL, *from = NULL;
    int i;

    for (i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--voter") == 0 && !voter)
            voter = argv[i + 1];
        else if (strcmp(argv[i], "--from") == 0 && !from)
            from = argv[i + 1];
        else
            return usage();
    }
    return i == argc ? cmd_vote(option, voter, from) : usage();
}

static int usage(void)
{
    fprintf(stderr, "usage: votectl sub SUBJECT\n"
                    "       votectl vote OPTION [--voter ID] [--from ADDR]\n"
                    "       votectl stats [--json]\n"
                    "       votectl deadletters [--json]\n"
                    "       votectl load COUNT PREFIX\n"
                    "       votectl pull COUNT\n");
    return CONFIG_EXIT;
}

int main(int argc, char **argv)
{
    char endpoints[PATH_MAX];
    int rc;

    shutdown_install(&g_stop);
    if (endpoints_path(endpoints, sizeof(endpoints)) == 0)
        endpoints_load(endpoints);
    if (argc == 3 && strcmp(argv[1], "sub") == 0)
        rc = cmd_sub(argv[2]);
    else if (argc >= 3 && strcmp(argv[1], "vote") == 0)
        rc = vote_args(argc - 3, argv + 3, argv[2]);
    else if (argc == 4 && strcmp(argv[1], "load") == 0)
        rc = cmd_load(argv[2], argv[3]);
    else if (argc == 3 && strcmp(argv[1], "pull") == 0)
        rc = cmd_pull(argv[2]);
    else if (argc == 2 && strcmp(argv[1], "stats") == 0)
        rc = cmd_stats(0);
    else if (argc == 3 && strcmp(argv[1], "stats") == 0 &&
             strcmp(argv[2], "--json") == 0)
        rc = cmd_stats(1);
    else if (argc == 2 && strcmp(argv[1], "deadletters") == 0)
        rc = cmd_deadletters(0);
    else if (argc == 3 && strcmp(argv[1], "deadletters") == 0 &&
             strcmp(argv[2], "--json") == 0)
        rc = cmd_deadletters(1);
    else
        rc = usage();
    /* Until the library's threads are gone: the one that handles PubAcks
     * frees its last message after our handler has counted it. */
    nats_CloseAndWait(2000);
    return rc;
}
