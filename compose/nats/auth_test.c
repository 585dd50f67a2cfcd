/* auth_test.c - who may do what on NATS, by effect: a real nats-server
 * -js loaded with compose/nats/auth.conf, a client per user, and for each
 * refused request what the server did not do (no consumer made or
 * changed, no message stored in VOTES, no reply read), for each allowed
 * one that it works.
 *
 * Requests are raw JetStream API calls (core NATS request/reply with a
 * JSON body), so every form of a call is tried, not only the one a client
 * library happens to send. A refused request gets no answer (the server
 * drops it and tells the client "Permissions Violation"): each client
 * counts those, and checks of state are made as admin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "tests/fixture/fixture.h"

#define AUTH_CONF  "compose/nats/auth.conf"
#define REQ_MS     2000 /* an allowed request is answered well within */
#define REFUSED_MS 200  /* a refused one: the violation is the proof */
#define SETTLE_MS  300  /* for a push consumer to deliver, were it made */
#define N_VOTES    3

static struct fixture nats;

struct client {
    natsConnection *nc;
    int violations; /* "Permissions Violation" errors from the server */
};

static struct client admin, vote, worker, debug;

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus s,
                     void *arg)
{
    struct client *c = arg;

    if (s == NATS_NOT_PERMITTED)
        c->violations++;
}

/* Connects as user (password "<user>-pw"), replies on _INBOX_<user> as
 * lib/natsconn sets it; inbox NULL: the default _INBOX. */
static void connect_as(struct client *c, const char *user, const char *inbox)
{
    natsOptions *o = NULL;
    char pw[32];

    snprintf(pw, sizeof(pw), "%s-pw", user);
    memset(c, 0, sizeof(*c));
    assert_int_equal(natsOptions_Create(&o), NATS_OK);
    assert_int_equal(natsOptions_SetURL(o, nats.url), NATS_OK);
    assert_int_equal(natsOptions_SetUserInfo(o, user, pw), NATS_OK);
    if (inbox)
        assert_int_equal(natsOptions_SetCustomInboxPrefix(o, inbox), NATS_OK);
    assert_int_equal(natsOptions_SetErrorHandler(o, on_error, c), NATS_OK);
    assert_int_equal(natsConnection_Connect(&c->nc, o), NATS_OK);
    natsOptions_Destroy(o);
}

static void disconnect(struct client *c)
{
    natsConnection_Destroy(c->nc);
    c->nc = NULL;
}

/* A request: the answer's body (free it), or NULL when none came. */
static char *req(struct client *c, const char *subject, const char *json,
                 int wait_ms)
{
    natsMsg *m = NULL;
    char *out;

    if (natsConnection_RequestString(&m, c->nc, subject, json ? json : "",
                                     wait_ms) != NATS_OK)
        return NULL;
    out = strndup(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
    natsMsg_Destroy(m);
    return out;
}

/* A request that must be answered without an error; its answer. */
static char *req_ok(struct client *c, const char *subject, const char *json)
{
    char *out = req(c, subject, json, REQ_MS);

    assert_non_null(out);
    if (strstr(out, "\"error\""))
        fail_msg("%s: %s", subject, out);
    return out;
}

/* A request that must be refused: no answer, one more violation. */
static void req_refused(struct client *c, const char *subject, const char *json)
{
    int before = c->violations;
    char *out = req(c, subject, json, REFUSED_MS);

    if (out)
        fail_msg("%s was answered: %s", subject, out);
    natsConnection_FlushTimeout(c->nc, REQ_MS);
    assert_true(c->violations > before);
}

/* The value after "key": in a JSON text, as a number (-999 when absent). */
static long long json_num(const char *json, const char *key)
{
    char k[64];
    const char *at;

    snprintf(k, sizeof(k), "\"%s\":", key);
    at = strstr(json, k);
    return at ? strtoll(at + strlen(k), NULL, 10) : -999;
}

/* VOTES' message count, as admin sees it. */
static long long votes_msgs(void)
{
    char *info = req_ok(&admin, "$JS.API.STREAM.INFO.VOTES", NULL);
    long long n = json_num(strstr(info, "\"state\""), "messages");

    free(info);
    return n;
}

/* The consumer names of VOTES, as admin sees them (free it). */
static char *consumer_names(void)
{
    return req_ok(&admin, "$JS.API.CONSUMER.NAMES.VOTES", NULL);
}

/* The worker's consumer as the worker makes it (worker/consumer.c). */
#define WORKER_CONSUMER                                                        \
    "{\"stream_name\":\"VOTES\",\"config\":{\"durable_name\":\"worker\","      \
    "\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\","                  \
    "\"ack_wait\":30000000000,\"max_deliver\":-1,\"max_ack_pending\":"         \
    "20000,\"replay_policy\":\"instant\"}}"

static int setup(void **state)
{
    const char *users[] = {"VOTE", "WORKER", "DEBUG", "ADMIN"};
    char var[32], pw[32];
    int i, rc;

    /* auth.conf reads the passwords from the environment */
    for (i = 0; i < 4; i++) {
        snprintf(var, sizeof(var), "NATS_%s_PASSWORD", users[i]);
        snprintf(pw, sizeof(pw), "%s-pw", users[i]);
        for (char *p = pw; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        setenv(var, pw, 1);
    }
    rc = fixture_start_auth(&nats, AUTH_CONF);
    if (rc)
        return rc;
    connect_as(&admin, "admin", NULL);
    connect_as(&vote, "vote", "_INBOX_vote");
    connect_as(&worker, "worker", "_INBOX_worker");
    connect_as(&debug, "debug", "_INBOX_debug");
    free(req_ok(&admin, "$JS.API.STREAM.CREATE.VOTES",
                "{\"name\":\"VOTES\",\"subjects\":[\"votes.>\"],"
                "\"storage\":\"file\",\"duplicate_window\":5000000000}"));
    for (i = 0; i < N_VOTES; i++) {
        natsMsg *ack = NULL;
        assert_int_equal(natsConnection_RequestString(&ack, vote.nc, "votes.a",
                                                      "a vote", REQ_MS),
                         NATS_OK);
        natsMsg_Destroy(ack);
    }
    assert_int_equal(votes_msgs(), N_VOTES);
    return 0;
}

static int teardown(void **state)
{
    disconnect(&debug);
    disconnect(&worker);
    disconnect(&vote);
    disconnect(&admin);
    fixture_destroy(&nats);
    return 0;
}

/* Creates the worker's consumer as the worker does. */
static void worker_makes_its_consumer(void)
{
    char *names;

    free(req_ok(&worker, "$JS.API.CONSUMER.DURABLE.CREATE.VOTES.worker",
                WORKER_CONSUMER));
    names = consumer_names();
    assert_non_null(strstr(names, "\"worker\""));
    free(names);
}

/* Every way of asking for a consumer: the 2.9 create with a name in the
 * subject (with and without a filter token), the durable create; then
 * the same config as an ephemeral. */
static const char *const CREATE_FORMS[] = {
    "$JS.API.CONSUMER.CREATE.VOTES.%s",
    "$JS.API.CONSUMER.CREATE.VOTES.%s.votes.a",
    "$JS.API.CONSUMER.DURABLE.CREATE.VOTES.%s",
};

static void create_refused(struct client *c, const char *name,
                           const char *config)
{
    char subject[128], body[512];
    size_t i;

    snprintf(body, sizeof(body),
             "{\"stream_name\":\"VOTES\",\"config\":{\"durable_name\":\"%s\","
             "%s}}",
             name, config);
    for (i = 0; i < sizeof(CREATE_FORMS) / sizeof(CREATE_FORMS[0]); i++) {
        snprintf(subject, sizeof(subject), CREATE_FORMS[i], name);
        req_refused(c, subject, body);
    }
    /* the same without a name: an ephemeral consumer */
    snprintf(body, sizeof(body), "{\"stream_name\":\"VOTES\",\"config\":{%s}}",
             config);
    req_refused(c, "$JS.API.CONSUMER.CREATE.VOTES", body);
}

/* A push consumer delivering to votes.b would copy every stored vote into
 * VOTES again (new sequences: the worker would take them for the newest
 * votes); to deadletter.votes, into DEADLETTER. */
static void test_debug_makes_no_push_consumer(void **state)
{
    const char *targets[] = {"votes.b", "deadletter.votes"};
    char config[256], *names;
    int i;

    for (i = 0; i < 2; i++) {
        snprintf(config, sizeof(config),
                 "\"deliver_subject\":\"%s\",\"deliver_policy\":\"all\","
                 "\"ack_policy\":\"none\"",
                 targets[i]);
        create_refused(&debug, "copy", config);
    }
    natsConnection_FlushTimeout(admin.nc, REQ_MS);
    nats_Sleep(SETTLE_MS);
    assert_int_equal(votes_msgs(), N_VOTES);
    names = consumer_names();
    assert_null(strstr(names, "\"copy\""));
    free(names);
}

/* Each change that would lose votes the worker was answered for. */
static const char *const TAMPER[] = {
    "\"ack_policy\":\"explicit\",\"max_deliver\":1",
    "\"ack_policy\":\"explicit\",\"inactive_threshold\":1000000000",
    "\"ack_policy\":\"none\"",
    "\"ack_policy\":\"explicit\",\"filter_subject\":\"votes.a\"",
};

static void check_worker_consumer_unchanged(void)
{
    char *info = req_ok(&admin, "$JS.API.CONSUMER.INFO.VOTES.worker", NULL);
    const char *config = strstr(info, "\"config\"");

    assert_non_null(config);
    assert_int_equal(json_num(config, "max_deliver"), -1);
    assert_non_null(strstr(config, "\"ack_policy\":\"explicit\""));
    assert_null(strstr(config, "filter_subject\":\"votes"));
    assert_int_equal(json_num(config, "inactive_threshold"), -999);
    free(info);
}

static void test_debug_cannot_change_worker_consumer(void **state)
{
    size_t i;

    worker_makes_its_consumer();
    for (i = 0; i < sizeof(TAMPER) / sizeof(TAMPER[0]); i++)
        create_refused(&debug, "worker", TAMPER[i]);
    req_refused(&debug, "$JS.API.CONSUMER.DELETE.VOTES.worker", NULL);
    check_worker_consumer_unchanged();
}

/* While the worker's consumer is missing (deleted by an operator, or
 * before the first start), nobody else may make it for the worker to
 * find. */
static void test_debug_cannot_precreate_worker_consumer(void **state)
{
    size_t i;
    char *names;

    for (i = 0; i < sizeof(TAMPER) / sizeof(TAMPER[0]); i++)
        create_refused(&debug, "worker", TAMPER[i]);
    names = consumer_names();
    assert_null(strstr(names, "\"worker\""));
    free(names);
}

/* The replies of a client on the default inbox prefix (the nats CLI as
 * admin) are not debug's to read. */
static void test_debug_reads_no_other_inbox(void **state)
{
    natsSubscription *sub = NULL;
    natsMsg *m = NULL;
    int before = debug.violations;

    assert_int_equal(natsConnection_SubscribeSync(&sub, debug.nc, "_INBOX.>"),
                     NATS_OK);
    natsConnection_FlushTimeout(debug.nc, REQ_MS);
    free(req_ok(&admin, "$JS.API.STREAM.INFO.VOTES", NULL));
    assert_int_not_equal(natsSubscription_NextMsg(&m, sub, SETTLE_MS), NATS_OK);
    assert_true(debug.violations > before);
    natsSubscription_Destroy(sub);
}

static void test_debug_publishes_no_vote(void **state)
{
    int before = debug.violations;

    assert_int_equal(natsConnection_PublishString(debug.nc, "votes.b", "x"),
                     NATS_OK);
    assert_int_equal(
        natsConnection_PublishString(debug.nc, "deadletter.votes", "x"),
        NATS_OK);
    natsConnection_FlushTimeout(debug.nc, REQ_MS);
    nats_Sleep(SETTLE_MS);
    assert_true(debug.violations >= before + 2);
    assert_int_equal(votes_msgs(), N_VOTES);
}

/* nats-server sends an API answer to whatever reply subject the request
 * names, unchecked: with "votes.b" there, VOTES stores the answer. What
 * debug may call answers JSON (the worker sets it aside as poison), never
 * a stored message as it is: a direct get would, so a stream allowing
 * direct gets would store a byte-identical copy of an old vote. */
static void test_debug_answers_stored_are_never_votes(void **state)
{
    static const char *const calls[][2] = {
        {"$JS.API.STREAM.MSG.GET.VOTES", "{\"seq\":1}"},
        {"$JS.API.STREAM.INFO.VOTES", ""},
        {"$JS.API.DIRECT.GET.VOTES", "{\"seq\":1}"},
        {"$JS.API.DIRECT.GET.VOTES.votes.a", ""},
    };
    long long before, after, seq;
    char body[64], *cfg, *m;
    int violations = debug.violations;
    size_t i;

    free(req_ok(&admin, "$JS.API.STREAM.UPDATE.VOTES",
                "{\"name\":\"VOTES\",\"subjects\":[\"votes.>\"],"
                "\"storage\":\"file\",\"duplicate_window\":5000000000,"
                "\"allow_direct\":true}"));
    cfg = req_ok(&admin, "$JS.API.STREAM.INFO.VOTES", NULL);
    assert_non_null(strstr(cfg, "\"allow_direct\":true"));
    free(cfg);
    before = votes_msgs();
    for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
        assert_int_equal(natsConnection_PublishRequestString(
                             debug.nc, calls[i][0], "votes.b", calls[i][1]),
                         NATS_OK);
    natsConnection_FlushTimeout(debug.nc, REQ_MS);
    nats_Sleep(SETTLE_MS);
    after = votes_msgs();
    fprintf(stderr, "answers stored in VOTES: %lld\n", after - before);
    assert_true(after - before <= 2); /* MSG.GET's, INFO's */
    for (seq = before + 1; seq <= after; seq++) {
        snprintf(body, sizeof(body), "{\"seq\":%lld}", seq);
        m = req_ok(&admin, "$JS.API.STREAM.MSG.GET.VOTES", body);
        /* base64 of '{"': a JSON answer, not a VoteCast */
        if (!strstr(m, "\"data\":\"eyJ"))
            fail_msg("stored answer %lld is not JSON: %s", seq, m);
        free(m);
    }
    assert_int_equal(debug.violations, violations + 2); /* the direct gets */
}

/* What debug is for: state, stored messages, the live votes. */
static void test_debug_may_look(void **state)
{
    natsSubscription *sub = NULL;
    natsMsg *m = NULL, *ack = NULL;
    char *out;

    worker_makes_its_consumer();
    out = req_ok(&debug, "$JS.API.STREAM.INFO.VOTES", NULL);
    assert_int_equal(json_num(strstr(out, "\"state\""), "messages"), N_VOTES);
    free(out);
    out = req_ok(&debug, "$JS.API.STREAM.MSG.GET.VOTES", "{\"seq\":2}");
    assert_non_null(strstr(out, "\"subject\":\"votes.a\""));
    free(out);
    free(req_ok(&debug, "$JS.API.STREAM.NAMES", NULL));
    free(req_ok(&debug, "$JS.API.STREAM.LIST", NULL));
    free(req_ok(&debug, "$JS.API.CONSUMER.NAMES.VOTES", NULL));
    free(req_ok(&debug, "$JS.API.CONSUMER.LIST.VOTES", NULL));
    free(req_ok(&debug, "$JS.API.CONSUMER.INFO.VOTES.worker", NULL));
    free(req_ok(&debug, "$JS.API.INFO", NULL));

    assert_int_equal(natsConnection_SubscribeSync(&sub, debug.nc, "votes.>"),
                     NATS_OK);
    natsConnection_FlushTimeout(debug.nc, REQ_MS);
    assert_int_equal(
        natsConnection_RequestString(&ack, vote.nc, "votes.b", "seen", REQ_MS),
        NATS_OK);
    natsMsg_Destroy(ack);
    assert_int_equal(natsSubscription_NextMsg(&m, sub, REQ_MS), NATS_OK);
    assert_string_equal(natsMsg_GetSubject(m), "votes.b");
    natsMsg_Destroy(m);
    natsSubscription_Destroy(sub);
    assert_int_equal(debug.violations, 0);
}

/* vote publishes votes and nothing else of JetStream's that writes. */
static void test_vote_changes_no_consumer_nor_stream(void **state)
{
    char *info, *names;
    size_t i;

    worker_makes_its_consumer();
    for (i = 0; i < sizeof(TAMPER) / sizeof(TAMPER[0]); i++)
        create_refused(&vote, "worker", TAMPER[i]);
    create_refused(&vote, "copy",
                   "\"deliver_subject\":\"votes.b\",\"ack_policy\":\"none\"");
    create_refused(&vote, "mine", "\"ack_policy\":\"explicit\"");
    req_refused(&vote, "$JS.API.CONSUMER.DELETE.VOTES.worker", NULL);
    req_refused(&vote, "$JS.API.STREAM.UPDATE.VOTES",
                "{\"name\":\"VOTES\",\"subjects\":[\"votes.>\"],"
                "\"max_msgs\":1}");
    req_refused(&vote, "$JS.API.STREAM.PURGE.VOTES", NULL);
    req_refused(&vote, "$JS.API.STREAM.DELETE.VOTES", NULL);
    req_refused(&vote, "$JS.API.STREAM.MSG.DELETE.VOTES", "{\"seq\":1}");
    req_refused(&vote, "$JS.API.STREAM.CREATE.OTHER",
                "{\"name\":\"OTHER\",\"subjects\":[\"other\"]}");
    check_worker_consumer_unchanged();
    names = consumer_names();
    assert_null(strstr(names, "\"copy\""));
    assert_null(strstr(names, "\"mine\""));
    free(names);
    info = req_ok(&admin, "$JS.API.STREAM.INFO.VOTES", NULL);
    assert_int_equal(json_num(strstr(info, "\"config\""), "max_msgs"), -1);
    free(info);
    assert_int_equal(votes_msgs(), N_VOTES);
}

/* The worker may replace its own consumer (worker/consumer.c deletes one
 * that differs), and no other. */
static void test_worker_replaces_only_its_consumer(void **state)
{
    char *names;

    free(req_ok(&admin, "$JS.API.CONSUMER.DURABLE.CREATE.VOTES.other",
                "{\"stream_name\":\"VOTES\",\"config\":{\"durable_name\":"
                "\"other\",\"ack_policy\":\"explicit\"}}"));
    worker_makes_its_consumer();
    req_refused(&worker, "$JS.API.CONSUMER.DELETE.VOTES.other", NULL);
    create_refused(&worker, "other", "\"ack_policy\":\"none\"");
    free(req_ok(&worker, "$JS.API.CONSUMER.DELETE.VOTES.worker", NULL));
    names = consumer_names();
    assert_null(strstr(names, "\"worker\""));
    assert_non_null(strstr(names, "\"other\""));
    free(names);
    worker_makes_its_consumer();
    req_refused(&worker, "votes.a", NULL);
    assert_int_equal(votes_msgs(), N_VOTES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_debug_makes_no_push_consumer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_debug_cannot_change_worker_consumer, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_debug_cannot_precreate_worker_consumer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debug_reads_no_other_inbox, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_debug_publishes_no_vote, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_debug_answers_stored_are_never_votes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_debug_may_look, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_vote_changes_no_consumer_nor_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_replaces_only_its_consumer,
                                        setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
