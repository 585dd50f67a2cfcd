/* jspull_test.c - pulling against a real nats-server -js: batches and
 * the prefetch hand out every message once, leftovers wait for the next
 * fetch, a stored empty message with a Status header is a message (not a
 * server status), and a deleted consumer is reported as -ENOENT. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <nats/nats.h>

#include "lib/jspull/jspull.h"
#include "tests/fixture/fixture.h"

static struct fixture nats;

struct conn {
    natsConnection *nc;
    jsCtx *js;
    struct jspull *p;
};

static void open_conn(struct conn *c, int batch)
{
    const char *subjects[] = {"t.>"};
    jsStreamConfig sc;
    jsConsumerConfig cc;
    jsConsumerInfo *ci = NULL;
    natsStatus err;

    memset(c, 0, sizeof(*c));
    assert_int_equal(natsConnection_ConnectTo(&c->nc, nats.url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&c->js, c->nc, NULL), NATS_OK);
    jsStreamConfig_Init(&sc);
    sc.Name = "T";
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    assert_int_equal(js_AddStream(NULL, c->js, &sc, NULL, NULL), NATS_OK);
    jsConsumerConfig_Init(&cc);
    cc.Durable = "d";
    cc.AckPolicy = js_AckExplicit;
    assert_int_equal(js_AddConsumer(&ci, c->js, "T", &cc, NULL, NULL), NATS_OK);
    jsConsumerInfo_Destroy(ci);
    assert_int_equal(
        jspull_open(&c->p, c->nc, "T", "d", "_INBOX_t", batch, 300, &err), 0);
}

static void close_conn(struct conn *c)
{
    js_DeleteStream(c->js, "T", NULL, NULL);
    jspull_nak_leftovers(c->p);
    natsConnection_Close(c->nc);
    jspull_free(c->p);
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
}

static void publish_n(struct conn *c, int n)
{
    char data[16];
    int i;

    for (i = 0; i < n; i++) {
        snprintf(data, sizeof(data), "m%d", i);
        assert_int_equal(
            js_Publish(NULL, c->js, "t.x", data, (int)strlen(data), NULL, NULL),
            NATS_OK);
    }
}

/* Fetches until -ETIMEDOUT, acking; returns how many came. */
static int drain(struct conn *c, int *seen, int n)
{
    natsMsgList list;
    natsStatus err;
    int got = 0, i, k;

    while (jspull_fetch(c->p, &list, &err) == 0) {
        for (i = 0; i < list.Count; i++) {
            k = -1;
            sscanf(natsMsg_GetData(list.Msgs[i]), "m%d", &k);
            assert_true(k >= 0 && k < n);
            seen[k]++;
            assert_int_equal(jspull_reply(c->nc, list.Msgs[i], "+ACK"), 0);
        }
        got += list.Count;
        natsMsgList_Destroy(&list);
    }
    return got;
}

static void test_jspull_batches_and_prefetch(void **state)
{
    static int seen[1234];
    struct conn c;
    int i;

    open_conn(&c, 100);
    publish_n(&c, 1234);
    assert_int_equal(drain(&c, seen, 1234), 1234);
    for (i = 0; i < 1234; i++)
        assert_int_equal(seen[i], 1);
    close_conn(&c);
}

/* Messages stored while a waiting request is open come after that fetch
 * returned: they wait in the inbox and the next fetches take them, a
 * batch at a time (the case natsSubscription_Fetch overflows on). */
static void test_jspull_leftovers(void **state)
{
    static int seen[50];
    natsMsgList list;
    natsStatus err;
    struct conn c;
    int got, i;

    open_conn(&c, 10);
    assert_int_equal(jspull_fetch(c.p, &list, &err), -ETIMEDOUT);
    publish_n(&c, 3);
    assert_int_equal(jspull_fetch(c.p, &list, &err), 0);
    got = list.Count;
    for (i = 0; i < list.Count; i++)
        jspull_reply(c.nc, list.Msgs[i], "+ACK");
    natsMsgList_Destroy(&list);
    publish_n(&c, 50); /* some of them answer the last waiting request */
    got = drain(&c, seen, 50);
    assert_int_equal(got, 50);
    for (i = 3; i < 50; i++)
        assert_int_equal(seen[i], 1);
    close_conn(&c);
}

/* A stored message that looks like a server status (empty, Status
 * header) has a reply subject: it is handed out, to be acked or ended. */
static void test_jspull_status_lookalike_is_a_message(void **state)
{
    natsMsgList list;
    natsStatus err;
    natsMsg *m = NULL;
    struct conn c;

    open_conn(&c, 10);
    assert_int_equal(natsMsg_Create(&m, "t.x", NULL, NULL, 0), NATS_OK);
    assert_int_equal(natsMsgHeader_Set(m, "Status", "404"), NATS_OK);
    assert_int_equal(js_PublishMsg(NULL, c.js, m, NULL, NULL), NATS_OK);
    natsMsg_Destroy(m);
    publish_n(&c, 1);
    assert_int_equal(jspull_fetch(c.p, &list, &err), 0);
    assert_int_equal(list.Count, 2);
    assert_int_equal(natsMsg_GetDataLength(list.Msgs[0]), 0);
    assert_int_equal(jspull_reply(c.nc, list.Msgs[0], "+TERM"), 0);
    assert_int_equal(jspull_reply(c.nc, list.Msgs[1], "+ACK"), 0);
    natsMsgList_Destroy(&list);
    assert_int_equal(jspull_fetch(c.p, &list, &err), -ETIMEDOUT);
    close_conn(&c);
}

static void test_jspull_consumer_gone(void **state)
{
    natsMsgList list;
    natsStatus err;
    struct conn c;
    int rc, i;

    open_conn(&c, 10);
    assert_int_equal(js_DeleteConsumer(c.js, "T", "d", NULL, NULL), NATS_OK);
    for (i = 0, rc = 0; i < 5 && rc != -ENOENT; i++)
        rc = jspull_fetch(c.p, &list, &err);
    assert_int_equal(rc, -ENOENT);
    close_conn(&c);
}

static int setup(void **state)
{
    return fixture_start(&nats, FIXTURE_NATS);
}

static int teardown(void **state)
{
    fixture_destroy(&nats);
    nats_Close();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jspull_batches_and_prefetch),
        cmocka_unit_test(test_jspull_leftovers),
        cmocka_unit_test(test_jspull_status_lookalike_is_a_message),
        cmocka_unit_test(test_jspull_consumer_gone),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
