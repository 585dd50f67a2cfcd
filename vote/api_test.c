/* api_test.c - every endpoint of the service in-process, against real
 * nats-server -js and redis-server: votes land on votes.<option> as the
 * right VoteCast and in Redis; the bad-input list; methods and paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <nats/nats.h>

#include "lib/log/log.h"
#include "proto/contract.h"
#include "vote/api.h"
#include "vote/teststack.h"

#define JSON "application/json"
#define FORM "application/x-www-form-urlencoded"

static struct teststack g_stack;
static char g_ui[64];

static int setup(void **state)
{
    char path[96];
    FILE *f;

    snprintf(g_ui, sizeof(g_ui), "/tmp/vote-ui.XXXXXX");
    assert_non_null(mkdtemp(g_ui));
    snprintf(path, sizeof(path), "%s/index.html", g_ui);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("<h1>vote page</h1>\n", f);
    fclose(f);
    setenv("UI_DIR", g_ui, 1);
    teststack_start(&g_stack, 16);
    *state = &g_stack;
    return 0;
}

static int teardown(void **state)
{
    char path[96];

    teststack_stop(&g_stack);
    snprintf(path, sizeof(path), "%s/index.html", g_ui);
    unlink(path);
    rmdir(g_ui);
    return 0;
}

static json_t *parse_body(const struct testhttp_resp *r)
{
    json_t *j = json_loads(r->body, 0, NULL);

    if (!j)
        fail_msg("not JSON: %s", r->body);
    return j;
}

static void test_api_vote_lands_in_stream_and_redis(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;
    char voter[80], option[80], req_id[80], msg_id[80], cookie[256], got[80],
        hdr[160];
    json_t *j;

    assert_int_equal(
        teststack_post(s, "/api/vote", JSON, "", "{\"vote\":\"a\"}", &r), 200);
    j = parse_body(&r);
    assert_string_equal(json_string_value(json_object_get(j, "vote")), "a");
    assert_non_null(json_string_value(json_object_get(j, "hostname")));
    snprintf(voter, sizeof(voter), "%s",
             json_string_value(json_object_get(j, "voter_id")));
    json_decref(j);
    assert_int_equal(strlen(voter), 16); /* new voter: 64-bit hex */
    assert_int_equal(testhttp_header(&r, "Set-Cookie", cookie, sizeof(cookie)),
                     0);
    snprintf(hdr, sizeof(hdr),
             "voter_id=%s; Path=/; Max-Age=31536000; "
             "HttpOnly; SameSite=Lax",
             voter);
    assert_string_equal(cookie, hdr);

    /* On votes.a, as the VoteCast of this request. */
    teststack_last_vote(s, CONTRACT_SUBJECT_PREFIX "a", got, option, req_id,
                        msg_id, sizeof(option));
    assert_string_equal(got, voter);
    assert_string_equal(option, "a");
    assert_string_equal(req_id, msg_id); /* request id = Nats-Msg-Id */
    assert_true(strlen(msg_id) > 16);
    teststack_redis_expect(s, voter, "a");

    /* GET /api/vote with the cookie: this voter's choice. */
    snprintf(hdr, sizeof(hdr), "Cookie: voter_id=%s\r\n", voter);
    assert_int_equal(teststack_get(s, "/api/vote", hdr, &r), 200);
    j = parse_body(&r);
    assert_string_equal(json_string_value(json_object_get(j, "voter_id")),
                        voter);
    assert_string_equal(json_string_value(json_object_get(j, "vote")), "a");
    json_decref(j);
    assert_true(teststack_metric(s, "vote_votes_total{option=\"a\"}") >= 1);
}

static void test_api_voter_from_json_and_cookie(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;
    char got[80], opt[80], rid[80], mid[80];
    json_t *j;

    assert_int_equal(teststack_post(s, "/api/vote", JSON, "",
                                    "{\"vote\":\"b\",\"voter_id\":\"alice\"}",
                                    &r),
                     200);
    teststack_redis_expect(s, "alice", "b");
    teststack_last_vote(s, CONTRACT_SUBJECT_PREFIX "b", got, opt, rid, mid,
                        sizeof(got));
    assert_string_equal(got, "alice");
    assert_string_equal(opt, "b");
    /* A form with the cookie: same voter, changes the vote. */
    assert_int_equal(teststack_post(s, "/api/vote", FORM,
                                    "Cookie: voter_id=alice\r\n", "vote=a", &r),
                     200);
    teststack_redis_expect(s, "alice", "a");
    assert_int_equal(teststack_get(s, "/api/vote?voter_id=alice", "", &r), 200);
    j = parse_body(&r);
    assert_string_equal(json_string_value(json_object_get(j, "vote")), "a");
    json_decref(j);
    /* Nobody: null. */
    assert_int_equal(teststack_get(s, "/api/vote", "", &r), 200);
    assert_string_equal(r.body, "{\"voter_id\":null,\"vote\":null}");
    assert_int_equal(teststack_get(s, "/api/vote?voter_id=nobody", "", &r),
                     200);
    assert_string_equal(r.body, "{\"voter_id\":\"nobody\",\"vote\":null}");
}

/* A browser posting the form without JavaScript gets 303 back to /. */
static void test_api_browser_form_redirects(void **state)
{
    struct teststack *s = *state;
    const char *html = "Accept: text/html,application/xhtml+xml\r\n";
    struct testhttp_resp r;
    char loc[64], cookie[200];
    uint64_t before = teststack_stream_msgs(s);

    assert_int_equal(teststack_post(s, "/api/vote", FORM, html, "vote=b", &r),
                     303);
    assert_int_equal(testhttp_header(&r, "Location", loc, sizeof(loc)), 0);
    assert_string_equal(loc, "/");
    assert_int_equal(testhttp_header(&r, "Set-Cookie", cookie, sizeof(cookie)),
                     0);
    assert_non_null(strstr(cookie, "voter_id="));
    assert_int_equal(teststack_post(s, "/", FORM, html, "vote=a", &r), 303);
    assert_int_equal(teststack_post(s, "/", FORM, "", "vote=a", &r), 200);
    assert_int_equal(teststack_stream_msgs(s), before + 3);
}

static void test_api_options_and_probes(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;

    assert_int_equal(teststack_get(s, "/api/options", "", &r), 200);
    assert_string_equal(r.body, "{\"options\":[{\"id\":\"a\",\"label\":"
                                "\"Cats\"},{\"id\":\"b\",\"label\":"
                                "\"Dogs\"}]}");
    assert_int_equal(teststack_get(s, "/healthz", "", &r), 200);
    assert_int_equal(teststack_get(s, "/readyz", "", &r), 200);
    assert_int_equal(teststack_get(s, "/metrics", "", &r), 200);
    assert_non_null(strstr(r.body, "vote_publish_pending "));
    assert_non_null(strstr(r.body, "vote_request_duration_seconds_bucket"));
    assert_non_null(strstr(r.body, "vote_publish_errors_total "));
    assert_non_null(strstr(r.body, "vote_redis_errors_total "));
    /* UI_DIR is served at / */
    assert_int_equal(teststack_get(s, "/", "", &r), 200);
    assert_string_equal(r.body, "<h1>vote page</h1>\n");
    assert_int_equal(teststack_get(s, "/index.html", "", &r), 200);
}

/* Each refused with its status and a JSON error; nothing published. */
static void test_api_bad_input(void **state)
{
    static const struct {
        const char *type, *extra, *body;
        int status;
    } cases[] = {
        {JSON, "", "{\"vote\":", 400},
        {JSON, "", "not json", 400},
        {JSON, "", "{}", 400},
        {JSON, "", "{\"vote\":\"c\"}", 400},
        {JSON, "", "{\"vote\":\"a.>\"}", 400},
        {JSON, "", "{\"vote\":null}", 400},
        {FORM, "", "vote=", 400},
        {FORM, "", "choice=a", 400},
        {FORM, "", "vote=zzz", 400},
        {JSON, "", "{\"vote\":\"a\",\"voter_id\":\"\"}", 400},
        {JSON, "", "{\"vote\":\"a\",\"voter_id\":\"has space\"}", 400},
        {JSON, "", "{\"vote\":\"a\",\"voter_id\":\"x\\r\\nSet-Cookie: y\"}",
         400},
        {JSON, "",
         "{\"vote\":\"a\",\"voter_id\":\"0123456789012345678901"
         "2345678901234567890123456789012345678901234\"}",
         400}, /* 65 characters */
        {JSON, "Cookie: voter_id=bad.id\r\n", "{\"vote\":\"a\"}", 400},
        {"text/plain", "", "vote=a", 400},
    };
    struct teststack *s = *state;
    static char big[API_BODY_MAX + 64];
    struct testhttp_resp r;
    uint64_t before = teststack_stream_msgs(s);
    char want[64];
    json_t *j;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (teststack_post(s, "/api/vote", cases[i].type, cases[i].extra,
                           cases[i].body, &r) != cases[i].status)
            fail_msg("case %zu (%s): %d %s", i, cases[i].body, r.status,
                     r.body);
        j = parse_body(&r);
        assert_true(json_string_length(json_object_get(j, "error")) > 10);
        json_decref(j);
    }
    /* 4 KiB is the limit: one byte more is a 413. */
    memset(big, ' ', API_BODY_MAX + 1);
    memcpy(big, "{\"vote\":\"a\"}", 12);
    big[API_BODY_MAX + 1] = '\0';
    assert_int_equal(teststack_post(s, "/api/vote", JSON, "", big, &r), 413);
    assert_non_null(strstr(r.body, "\"error\""));
    snprintf(want, sizeof(want), "at most %d bytes\"", API_BODY_MAX);
    assert_non_null(strstr(r.body, want));
    big[API_BODY_MAX] = '\0';
    assert_int_equal(teststack_post(s, "/api/vote", JSON, "", big, &r), 200);
    assert_int_equal(teststack_stream_msgs(s), before + 1);
    assert_int_equal(teststack_get(s, "/api/vote?voter_id=a%20b", "", &r), 400);
    snprintf(want, sizeof(want), "use 1-%d characters", CONTRACT_VOTER_MAX);
    assert_non_null(strstr(r.body, want));
}

static void test_api_methods_and_paths(void **state)
{
    struct teststack *s = *state;
    struct testhttp_resp r;
    char allow[64];

    assert_int_equal(testhttp_once(s->port,
                                   "DELETE /api/vote HTTP/1.1\r\n"
                                   "Host: t\r\nConnection: close"
                                   "\r\n\r\n",
                                   &r),
                     405);
    assert_int_equal(testhttp_header(&r, "Allow", allow, sizeof(allow)), 0);
    assert_non_null(strstr(allow, "POST"));
    assert_non_null(strstr(r.body, "\"error\""));
    assert_int_equal(teststack_post(s, "/api/options", JSON, "", "{}", &r),
                     405);
    assert_non_null(strstr(r.body, "\"error\""));
    assert_int_equal(testhttp_once(s->port,
                                   "PUT / HTTP/1.1\r\nHost: t\r\n"
                                   "Connection: close\r\n"
                                   "Content-Length: 0\r\n\r\n",
                                   &r),
                     405);
    assert_int_equal(teststack_get(s, "/api/nope", "", &r), 404);
    assert_string_equal(r.body, "{\"error\":\"no such path\"}");
    assert_int_equal(teststack_get(s, "/api/vote/x", "", &r), 404);
    assert_int_equal(teststack_get(s, "/api", "", &r), 404);
    assert_string_equal(r.body, "{\"error\":\"no such path\"}");
    assert_int_equal(teststack_get(s, "/nope.html", "", &r), 404);
    assert_non_null(strstr(r.body, "\"error\""));
    assert_int_equal(teststack_post(s, "/healthz", JSON, "", "{}", &r), 405);
}

/* Two Cookie headers are read as one (joined with "; ", as HTTP/2
 * proxies send them): a voter_id in each is refused, and nothing is
 * published (found by tests/hostile: the first header's voter voted). */
static void test_api_two_cookie_headers(void **state)
{
    struct teststack *s = *state;
    const char *two = "Cookie: voter_id=alice\r\nCookie: voter_id=bob\r\n";
    struct testhttp_resp r;
    uint64_t before = teststack_stream_msgs(s);

    assert_int_equal(
        teststack_post(s, "/api/vote", JSON, two, "{\"vote\":\"a\"}", &r), 400);
    assert_non_null(strstr(r.body, "voter_id cookie"));
    assert_int_equal(teststack_get(s, "/api/vote", two, &r), 400);
    assert_int_equal(teststack_stream_msgs(s), before);
    assert_int_equal(teststack_post(s, "/api/vote", JSON,
                                    "Cookie: theme=dark\r\n"
                                    "Cookie: voter_id=bob\r\n",
                                    "{\"vote\":\"b\"}", &r),
                     200);
    assert_non_null(strstr(r.body, "\"voter_id\":\"bob\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_api_vote_lands_in_stream_and_redis),
        cmocka_unit_test(test_api_voter_from_json_and_cookie),
        cmocka_unit_test(test_api_browser_form_redirects),
        cmocka_unit_test(test_api_options_and_probes),
        cmocka_unit_test(test_api_bad_input),
        cmocka_unit_test(test_api_methods_and_paths),
        cmocka_unit_test(test_api_two_cookie_headers),
    };
    int rc;

    log_init("api_test", "error");
    rc = cmocka_run_group_tests(tests, setup, teardown);
    nats_Close();
    return rc;
}
