/* jstream_test.c - the stream settings (defaults, values, refusals naming
 * the variable) and jstream_ensure() against a real nats-server -js:
 * created as described, an existing stream left as it is and each
 * difference warned once, a refused creation reported. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "lib/config/testenv.h"
#include "lib/jstream/jstream.h"
#include "lib/log/log.h"
#include "lib/log/logcapture.h"
#include "proto/contract.h"
#include "tests/fixture/fixture.h"

#define NS 1000000000LL

static const char *const VARS[] = {
    "NATS_REPLICAS",        "VOTES_MAX_AGE_S",      "VOTES_MAX_BYTES",
    "DEADLETTER_MAX_AGE_S", "DEADLETTER_MAX_BYTES", NULL};

static int load(void)
{
    struct jstream_settings s;

    return jstream_settings_load(&s);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
        n++;
    return n;
}

static void test_jstream_settings(void **state)
{
    static const char *const env[] = {"NATS_REPLICAS=3", "VOTES_MAX_BYTES=0",
                                      "DEADLETTER_MAX_AGE_S=60", NULL};
    static const struct testenv_bad bad[] = {
        {"NATS_REPLICAS", "0"},         {"NATS_REPLICAS", "6"},
        {"NATS_REPLICAS", "three"},     {"VOTES_MAX_AGE_S", "-1"},
        {"VOTES_MAX_BYTES", "1G"},      {"DEADLETTER_MAX_AGE_S", "1d"},
        {"DEADLETTER_MAX_BYTES", "-5"},
    };
    struct jstream_settings s;

    assert_int_equal(jstream_settings_load(&s), 0);
    assert_int_equal(s.replicas, 1);
    assert_int_equal(s.votes_max_age_s, 0); /* applied votes leave anyway */
    assert_int_equal(s.votes_max_bytes, 1073741824);
    assert_int_equal(s.dl_max_age_s, 2592000);
    assert_int_equal(s.dl_max_bytes, 268435456);
    testenv_set(env);
    assert_int_equal(jstream_settings_load(&s), 0);
    assert_int_equal(s.replicas, 3);
    assert_int_equal(s.votes_max_bytes, 0);
    assert_int_equal(s.dl_max_age_s, 60);
    testenv_refused(VARS, bad, sizeof(bad) / sizeof(bad[0]), load);
}

static void connect_js(const struct fixture *f, natsConnection **nc, jsCtx **js)
{
    assert_int_equal(natsConnection_ConnectTo(nc, f->url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(js, *nc, NULL), NATS_OK);
}

static void test_jstream_creates_as_described(void **state)
{
    struct jstream_settings s;
    struct jstream_desc d;
    natsConnection *nc = NULL;
    jsStreamInfo *si = NULL;
    struct fixture f;
    jsCtx *js = NULL;
    unsigned warned = 0;

    jstream_settings_default(&s);
    s.votes_max_age_s = 3600;
    s.dl_max_bytes = 0; /* no limit */
    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    connect_js(&f, &nc, &js);
    jstream_votes(&d, &s, 5 * NS);
    assert_int_equal(jstream_ensure(js, &d, 1, &warned, NULL, 0), 0);
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    assert_string_equal(si->Config->Subjects[0], CONTRACT_SUBJECTS);
    assert_int_equal(si->Config->Storage, js_FileStorage);
    assert_int_equal(si->Config->Replicas, 1);
    assert_int_equal(si->Config->MaxAge, 3600 * NS);
    assert_int_equal(si->Config->MaxBytes, 1073741824);
    assert_int_equal(si->Config->Discard, js_DiscardNew);
    assert_int_equal(si->Config->Retention, js_WorkQueuePolicy);
    assert_true(si->Config->DenyDelete && si->Config->DenyPurge);
    assert_int_equal(si->Config->Duplicates, 5 * NS);
    jsStreamInfo_Destroy(si);

    jstream_deadletter(&d, &s);
    assert_int_equal(jstream_ensure(js, &d, 1, &warned, NULL, 0), 0);
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_DL_STREAM, NULL, NULL),
                     NATS_OK);
    assert_string_equal(si->Config->Subjects[0], CONTRACT_DL_SUBJECTS);
    assert_int_equal(si->Config->MaxAge, 2592000 * NS);
    assert_int_equal(si->Config->MaxBytes, -1);
    assert_int_equal(si->Config->Discard, js_DiscardOld);
    assert_int_equal(si->Config->Retention, js_LimitsPolicy);
    jsStreamInfo_Destroy(si);
    assert_int_equal(warned, 0); /* as described: nothing to say */
    assert_null(strstr(logcapture_drain(), "stream_settings_differ"));
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    fixture_destroy(&f);
}

/* A stream made elsewhere with other limits: used as it is, each
 * difference warned once however often it is checked. */
static void test_jstream_keeps_existing(void **state)
{
    const char *subjects[] = {CONTRACT_SUBJECTS};
    struct jstream_settings s;
    struct jstream_desc d;
    natsConnection *nc = NULL;
    jsStreamInfo *si = NULL;
    jsStreamConfig cfg;
    struct fixture f;
    jsCtx *js = NULL;
    const char *log;
    unsigned warned = 0;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    connect_js(&f, &nc, &js);
    jsStreamConfig_Init(&cfg);
    cfg.Name = CONTRACT_STREAM;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_WorkQueuePolicy;
    cfg.Discard = js_DiscardNew;
    cfg.MaxBytes = 4096;
    assert_int_equal(js_AddStream(&si, js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    assert_int_equal(
        js_Publish(NULL, js, CONTRACT_SUBJECT_PREFIX "a", "old", 3, NULL, NULL),
        NATS_OK);

    jstream_settings_default(&s);
    jstream_votes(&d, &s, 5 * NS);
    assert_int_equal(jstream_ensure(js, &d, 1, &warned, NULL, 0), 0);
    assert_int_equal(jstream_ensure(js, &d, 1, &warned, NULL, 0), 0);
    log = logcapture_drain();
    assert_int_equal(count(log, "\"setting\":\"VOTES_MAX_BYTES\""), 1);
    assert_non_null(strstr(log, "\"has\":4096,\"asked\":1073741824"));
    assert_int_equal(count(log, "\"setting\":\"VOTES_MAX_AGE_S\""), 0);
    assert_int_equal(count(log, "\"setting\":\"deny_delete_purge\""), 1);
    assert_int_equal(count(log, "NATS_REPLICAS"), 0); /* same: 1 */
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    assert_int_equal(si->State.Msgs, 1);
    assert_int_equal(si->Config->MaxBytes, 4096); /* left as it was */
    assert_int_equal(si->Config->Duplicates, 120 * NS);
    jsStreamInfo_Destroy(si);

    /* vote may not change the stream (NATS permissions): a Duplicates
     * window other than VOTE_DUPLICATE_WINDOW_S is only warned about. */
    d.dup_env = "VOTE_DUPLICATE_WINDOW_S";
    assert_int_equal(jstream_ensure(js, &d, 1, &warned, NULL, 0), 0);
    log = logcapture_drain();
    assert_non_null(strstr(log, "\"setting\":\"VOTE_DUPLICATE_WINDOW_S\""));
    assert_non_null(strstr(log, "\"has\":120,\"asked\":5"));
    assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                     NATS_OK);
    assert_int_equal(si->Config->Duplicates, 120 * NS);
    assert_int_equal(si->Config->MaxBytes, 4096);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    fixture_destroy(&f);
}

/* Three replicas on one node: refused, and the log says why. */
static void test_jstream_refused(void **state)
{
    struct jstream_settings s;
    struct jstream_desc d;
    natsConnection *nc = NULL;
    struct fixture f;
    jsCtx *js = NULL;
    unsigned warned = 0;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    connect_js(&f, &nc, &js);
    jstream_settings_default(&s);
    s.replicas = 3;
    jstream_votes(&d, &s, 5 * NS);
    assert_int_equal(jstream_ensure(js, &d, 1, &warned, NULL, 0), -EIO);
    assert_non_null(strstr(logcapture_drain(), "stream_check_failed"));
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    fixture_destroy(&f);
}

enum variant {
    V_REPUBLISH,
    V_EXTRA_SUBJECT,
    V_INTEREST,
    V_MEMORY,
    V_SOURCES,
    V_MIRROR,
    V_DISCARD_OLD,
    V_PER_SUBJECT,
    V_LIMITS,
    N_VARIANTS
};

/* The field each variant must be refused for. */
static const char *const REFUSED_FIELD[N_VARIANTS] = {
    "republish", "subjects", "retention", "storage",
    "sources",   "mirror",   "discard",   "max_msgs_per_subject",
    "retention"};

/* VOTES as described, but for one difference that can lose or leak votes
 * (mirror and sources need a stream OTHER to copy from). */
static void add_variant(jsCtx *js, enum variant v)
{
    const char *one[] = {CONTRACT_SUBJECTS};
    const char *two[] = {CONTRACT_SUBJECTS, "ballots.>"};
    jsStreamSource src, *srcs[] = {&src};
    jsStreamInfo *si = NULL;
    jsStreamConfig cfg;
    jsRePublish rp;

    jsStreamConfig_Init(&cfg);
    cfg.Name = CONTRACT_STREAM;
    cfg.Subjects = one;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Retention = js_WorkQueuePolicy;
    cfg.Discard = js_DiscardNew;
    cfg.DenyDelete = cfg.DenyPurge = true;
    jsRePublish_Init(&rp);
    jsStreamSource_Init(&src);
    src.Name = "OTHER";
    if (v == V_REPUBLISH) {
        rp.Source = ">";
        rp.Destination = "copy.>";
        cfg.RePublish = &rp;
    } else if (v == V_EXTRA_SUBJECT) {
        cfg.Subjects = two;
        cfg.SubjectsLen = 2;
    } else if (v == V_INTEREST) {
        cfg.Retention = js_InterestPolicy;
    } else if (v == V_MEMORY) {
        cfg.Storage = js_MemoryStorage;
    } else if (v == V_SOURCES) {
        cfg.Sources = srcs;
        cfg.SourcesLen = 1;
    } else if (v == V_MIRROR) {
        cfg.Subjects = NULL;
        cfg.SubjectsLen = 0;
        cfg.Retention = js_LimitsPolicy;
        cfg.Mirror = &src;
    } else if (v == V_DISCARD_OLD) {
        cfg.Discard = js_DiscardOld;
    } else if (v == V_PER_SUBJECT) {
        cfg.MaxMsgsPerSubject = 1;
    } else if (v == V_LIMITS) {
        cfg.Retention = js_LimitsPolicy;
    }
    assert_int_equal(js_AddStream(&si, js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
}

/* Each difference that can lose or leak votes is refused: -EPERM, one
 * error line naming the field (once however often it is checked), why
 * names it, the stream is left as it is (no update, no re-creation);
 * VOTES as described passes again afterwards. A missing stream is not
 * created by a client that may not (vote). */
static void test_jstream_refuses(void **state)
{
    const char *other[] = {"other.>"};
    struct jstream_desc d;
    natsConnection *nc = NULL;
    jsStreamInfo *si = NULL;
    jsStreamConfig cfg;
    struct fixture f;
    jsCtx *js = NULL;
    const char *log;
    unsigned said = 0;
    char why[200];
    int v;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    connect_js(&f, &nc, &js);
    jstream_votes(&d, NULL, 5 * NS);
    assert_int_equal(jstream_ensure(js, &d, 0, &said, why, sizeof(why)),
                     -ENOENT);
    assert_non_null(strstr(why, "missing"));
    assert_int_not_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                         NATS_OK);
    jsStreamConfig_Init(&cfg);
    cfg.Name = "OTHER";
    cfg.Subjects = other;
    cfg.SubjectsLen = 1;
    assert_int_equal(js_AddStream(&si, js, &cfg, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    for (v = 0; v < N_VARIANTS; v++) {
        char field[64];

        print_message("variant %s\n", REFUSED_FIELD[v]);
        add_variant(js, (enum variant)v);
        said = 0;
        assert_int_equal(jstream_ensure(js, &d, 1, &said, why, sizeof(why)),
                         -EPERM);
        assert_int_equal(jstream_ensure(js, &d, 1, &said, why, sizeof(why)),
                         -EPERM);
        assert_non_null(strstr(why, REFUSED_FIELD[v]));
        log = logcapture_drain();
        snprintf(field, sizeof(field), "\"field\":\"%s\"", REFUSED_FIELD[v]);
        assert_int_equal(count(log, field), 1);
        assert_int_equal(count(log, "stream_refused"),
                         v == V_MIRROR ? 2 : 1); /* + its retention */
        assert_int_equal(js_GetStreamInfo(&si, js, CONTRACT_STREAM, NULL, NULL),
                         NATS_OK);
        assert_int_equal(si->Config->Retention != js_WorkQueuePolicy,
                         v == V_INTEREST || v == V_MIRROR || v == V_LIMITS);
        jsStreamInfo_Destroy(si);
        assert_int_equal(js_DeleteStream(js, CONTRACT_STREAM, NULL, NULL),
                         NATS_OK);
        /* As described: accepted, and the refusal is forgotten. */
        nats_Sleep(100);
        assert_int_equal(jstream_ensure(js, &d, 1, &said, why, sizeof(why)), 0);
        assert_int_equal(said & 0xff00u, 0);
        logcapture_drain();
        assert_int_equal(js_DeleteStream(js, CONTRACT_STREAM, NULL, NULL),
                         NATS_OK);
        nats_Sleep(100);
    }
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    fixture_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TESTENV_UNIT_TEST(test_jstream_settings, VARS),
        TESTENV_UNIT_TEST(test_jstream_creates_as_described, VARS),
        TESTENV_UNIT_TEST(test_jstream_keeps_existing, VARS),
        TESTENV_UNIT_TEST(test_jstream_refused, VARS),
        TESTENV_UNIT_TEST(test_jstream_refuses, VARS),
    };
    int rc;

    log_init("jstream_test", "info");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();
    return rc;
}
