/* natsconn_test.c - the server list and credentials: good lists, every
 * kind of bad entry (named in the error line), secrets never printed, and
 * a connection through the list to the one server that is up. */
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
#include "lib/log/log.h"
#include "lib/log/logcapture.h"
#include "lib/natsconn/natsconn.h"
#include "tests/fixture/fixture.h"

static const char *const VARS[] = {"NATS_URL", "NATS_USER", "NATS_PASSWORD",
                                   "NATS_PASSWORD_FILE", NULL};

static void test_natsconn_parse_lists(void **state)
{
    struct natsconn c;
    int bad;

    assert_int_equal(natsconn_parse(&c, "nats://n1:4222", &bad), 0);
    assert_int_equal(c.n_servers, 1);
    assert_string_equal(c.servers[0], "nats://n1:4222");
    assert_string_equal(c.redacted, "nats://n1:4222");
    assert_int_equal(
        natsconn_parse(&c, "nats://n1:4222, nats://n2 ,nats://[::1]:4333",
                       &bad),
        0);
    assert_int_equal(c.n_servers, 3);
    assert_string_equal(c.servers[1], "nats://n2");
    assert_string_equal(c.redacted,
                        "nats://n1:4222,nats://n2:4222,nats://[::1]:4333");
    /* Credentials in a URL go to nats.c, never into the redacted form. */
    assert_int_equal(
        natsconn_parse(&c, "nats://u:s3cret@n1:4222,nats://n2:4222", &bad), 0);
    assert_string_equal(c.servers[0], "nats://u:s3cret@n1:4222");
    assert_string_equal(c.redacted, "nats://n1:4222,nats://n2:4222");
}

/* Each bad list is refused, with the number of the bad entry (0: the
 * list as a whole). */
static void test_natsconn_parse_bad_entries(void **state)
{
    static const struct {
        const char *list;
        int bad;
    } cases[] = {
        {"", 0},
        {"http://n1:4222", 1},
        {"nats://n1:4222,,nats://n2", 2},
        {"nats://n1,nats://n2:99999", 2},
        {"nats://n1,", 2},
        {"nats://:4222", 1},
        {"nats://a b:4222", 1},
        {"nats://1,nats://2,nats://3,nats://4,nats://5,"
         "nats://6,nats://7,nats://8,nats://9",
         0},
    };
    struct natsconn c;
    size_t i;
    int bad;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bad = -1;
        if (natsconn_parse(&c, cases[i].list, &bad) != -EINVAL)
            fail_msg("\"%s\" was accepted", cases[i].list);
        if (bad != cases[i].bad)
            fail_msg("\"%s\": bad entry %d, not %d", cases[i].list, bad,
                     cases[i].bad);
    }
}

static void test_natsconn_load_env(void **state)
{
    struct natsconn c;
    const char *log;

    assert_int_equal(natsconn_load(&c), 0);
    assert_string_equal(c.redacted, NATSCONN_DEFAULT_URL);
    assert_string_equal(c.user, "");

    setenv("NATS_URL", "nats://u:hush@n1:4222,nats://n2:bad", 1);
    assert_int_equal(natsconn_load(&c), -EINVAL);
    log = logcapture_drain();
    assert_non_null(strstr(log, "\"variable\":\"NATS_URL\""));
    assert_non_null(strstr(log, "entry 2"));
    assert_null(strstr(log, "hush")); /* never print a password */

    setenv("NATS_URL", "nats://n1:4222,nats://n2:4222", 1);
    setenv("NATS_USER", "vote", 1);
    setenv("NATS_PASSWORD", "hush", 1);
    assert_int_equal(natsconn_load(&c), 0);
    assert_string_equal(c.user, "vote");
    assert_string_equal(c.password, "hush");
    assert_null(strstr(c.redacted, "hush"));
    assert_null(strstr(c.redacted, "vote"));

    unsetenv("NATS_PASSWORD");
    assert_int_equal(natsconn_load(&c), -EINVAL);
    assert_non_null(
        strstr(logcapture_drain(), "\"variable\":\"NATS_PASSWORD\""));

    setenv("NATS_PASSWORD", "hush", 1);
    setenv("NATS_URL", "nats://a:b@n1:4222", 1);
    assert_int_equal(natsconn_load(&c), -EINVAL); /* two sources: which? */
    assert_non_null(strstr(logcapture_drain(), "\"variable\":\"NATS_USER\""));

    setenv("NATS_URL", "nats://n1:4222", 1);
    setenv("NATS_USER", "vote.*", 1); /* its inbox prefix: one token */
    assert_int_equal(natsconn_load(&c), -EINVAL);
    assert_non_null(strstr(logcapture_drain(), "\"variable\":\"NATS_USER\""));

    unsetenv("NATS_USER");
    assert_int_equal(natsconn_load(&c), -EINVAL); /* a password, no user */
    log = logcapture_drain();
    assert_non_null(strstr(log, "\"variable\":\"NATS_USER\""));
    assert_null(strstr(log, "hush"));
}

static void test_natsconn_password_file(void **state)
{
    char path[256];
    struct natsconn c;

    testenv_file(path, sizeof(path), "from-file\n");
    setenv("NATS_USER", "worker", 1);
    setenv("NATS_PASSWORD_FILE", path, 1);
    assert_int_equal(natsconn_load(&c), 0);
    assert_string_equal(c.password, "from-file");
    unlink(path);
}

/* The list reaches nats.c: the first server is down, the second one
 * takes the connection. */
static void test_natsconn_apply_connects_through_list(void **state)
{
    natsConnection *nc = NULL;
    natsOptions *o = NULL;
    struct fixture f;
    struct natsconn c;
    char list[256], url[256];
    int bad;

    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    snprintf(list, sizeof(list), "nats://127.0.0.1:%u,%s", fixture_free_port(),
             f.url);
    assert_int_equal(natsconn_parse(&c, list, &bad), 0);
    assert_int_equal(natsOptions_Create(&o), NATS_OK);
    assert_int_equal(natsOptions_SetNoRandomize(o, true), NATS_OK);
    assert_int_equal(natsconn_apply(&c, o), NATS_OK);
    assert_int_equal(natsConnection_Connect(&nc, o), NATS_OK);
    assert_int_equal(natsConnection_GetConnectedUrl(nc, url, sizeof(url)),
                     NATS_OK);
    assert_string_equal(url, f.url);
    natsConnection_Destroy(nc);
    natsOptions_Destroy(o);
    fixture_destroy(&f);
}

/* Statuses as -errno: a table check, then what nats.c really answers when
 * nothing listens, when a JetStream context is asked of no connection
 * (bus.c and consumer.c used to call any such failure -ENOMEM), when
 * nobody answers a request and when a stream is not there. */
static void test_natsconn_errno(void **state)
{
    natsConnection *nc = NULL;
    natsMsg *reply = NULL;
    jsStreamInfo *si = NULL;
    jsCtx *js = NULL;
    struct fixture f;
    char url[64];

    assert_int_equal(natsconn_errno(NATS_OK), 0);
    assert_int_equal(natsconn_errno(NATS_NO_MEMORY), -ENOMEM);
    assert_int_equal(natsconn_errno(NATS_CONNECTION_AUTH_FAILED), -EACCES);
    assert_int_equal(natsconn_errno(NATS_CONNECTION_CLOSED), -ENOTCONN);
    assert_int_equal(natsconn_errno(NATS_ERR), -EIO);
    snprintf(url, sizeof(url), "nats://127.0.0.1:%u", fixture_free_port());
    assert_int_equal(natsconn_errno(natsConnection_ConnectTo(&nc, url)),
                     -ECONNREFUSED);
    assert_int_equal(natsconn_errno(natsConnection_JetStream(&js, NULL, NULL)),
                     -EINVAL);
    assert_int_equal(fixture_start(&f, FIXTURE_NATS), 0);
    assert_int_equal(natsConnection_ConnectTo(&nc, f.url), NATS_OK);
    assert_int_equal(natsconn_errno(natsConnection_RequestString(
                         &reply, nc, "nobody.listens", "?", 2000)),
                     -ENOENT);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    assert_int_equal(
        natsconn_errno(js_GetStreamInfo(&si, js, "MISSING", NULL, NULL)),
        -ENOENT);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    fixture_destroy(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_natsconn_parse_lists),
        cmocka_unit_test(test_natsconn_parse_bad_entries),
        TESTENV_UNIT_TEST(test_natsconn_load_env, VARS),
        TESTENV_UNIT_TEST(test_natsconn_password_file, VARS),
        cmocka_unit_test(test_natsconn_apply_connects_through_list),
        cmocka_unit_test(test_natsconn_errno),
    };
    int rc;

    log_init("natsconn_test", "info");
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    nats_Close();
    return rc;
}
