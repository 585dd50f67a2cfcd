/* testkit.c - see testkit.h. */
#include "worker/testkit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "lib/jstream/jstream.h"
#include "proto/contract.h"
#include "proto/vote.pb-c.h"

int tk_nats_open(struct tk_nats *t, const char *url)
{
    struct jstream_desc d;
    unsigned warned = 0;
    jsOptions jo;

    memset(t, 0, sizeof(*t));
    if (natsConnection_ConnectTo(&t->nc, url) != NATS_OK)
        return -ECONNREFUSED;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 8000;
    jo.PublishAsync.StallWait = 5000;
    if (natsConnection_JetStream(&t->js, t->nc, &jo) != NATS_OK)
        return -ENOMEM;
    jstream_votes(&d, NULL, 5000LL * 1000000LL);
    return jstream_ensure(t->js, &d, 1, &warned, NULL, 0);
}

void tk_nats_close(struct tk_nats *t)
{
    jsCtx_Destroy(t->js);
    natsConnection_Destroy(t->nc);
    memset(t, 0, sizeof(*t));
}

int tk_publish_raw(struct tk_nats *t, const char *subject, const void *data,
                   size_t len)
{
    natsStatus s;

    s = js_PublishAsync(t->js, subject, data, (int)len, NULL);
    return s == NATS_OK ? 0 : -EIO;
}

int tk_publish(struct tk_nats *t, const char *voter, const char *option,
               const char *msg_id)
{
    Voting__V1__VoteCast vc = VOTING__V1__VOTE_CAST__INIT;
    uint8_t buf[256];
    char subject[64];
    natsMsg *m = NULL;
    natsStatus s;
    size_t n;

    vc.voter_id = (char *)voter;
    vc.option = (char *)option;
    vc.cast_at_ms = (int64_t)time(NULL) * 1000;
    vc.origin = "testkit";
    vc.request_id = (char *)(msg_id ? msg_id : "");
    n = voting__v1__vote_cast__get_packed_size(&vc);
    if (n > sizeof(buf))
        return -E2BIG;
    voting__v1__vote_cast__pack(&vc, buf);
    snprintf(subject, sizeof(subject), CONTRACT_SUBJECT_PREFIX "%s", option);
    s = natsMsg_Create(&m, subject, NULL, (const char *)buf, (int)n);
    if (s == NATS_OK && msg_id)
        s = natsMsgHeader_Set(m, CONTRACT_HDR_MSG_ID, msg_id);
    if (s == NATS_OK)
        s = js_PublishMsgAsync(t->js, &m, NULL);
    natsMsg_Destroy(m); /* NULL after a successful publish */
    return s == NATS_OK ? 0 : -EIO;
}

int tk_publish_wait(struct tk_nats *t)
{
    return js_PublishAsyncComplete(t->js, NULL) == NATS_OK ? 0 : -EIO;
}

int tk_publish_random(struct tk_nats *t, int n, int voters, unsigned seed,
                      char *expect)
{
    char voter[24];
    int i, v, rc;

    memset(expect, 0, (size_t)voters);
    for (i = 0; i < n; i++) {
        const char *opt = CONTRACT_OPTIONS[rand_r(&seed) % 2];

        v = rand_r(&seed) % voters;
        snprintf(voter, sizeof(voter), "v%d", v);
        rc = tk_publish(t, voter, opt, NULL);
        if (rc)
            return rc;
        expect[v] = opt[0];
    }
    return tk_publish_wait(t);
}

long tk_pg_long(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r;
    long v = -1;

    if (PQstatus(c) == CONNECTION_OK) {
        r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
            !PQgetisnull(r, 0, 0))
            v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
    }
    PQfinish(c);
    return v;
}

/* Compares every row of votes with expect[]. */
static int check_votes(PGconn *c, int voters, const char *expect)
{
    PGresult *r = PQexec(c, "SELECT id, vote FROM votes");
    int i, rows = 0, bad = 0, want = 0;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        return -EIO;
    }
    for (i = 0; i < voters; i++)
        want += expect[i] != 0;
    rows = PQntuples(r);
    if (rows != want) {
        fprintf(stderr, "votes: %d rows, want %d\n", rows, want);
        bad++;
    }
    for (i = 0; i < rows && bad < 5; i++) {
        const char *id = PQgetvalue(r, i, 0), *vote = PQgetvalue(r, i, 1);
        long v = strtol(id + 1, NULL, 10);

        if (id[0] != 'v' || v < 0 || v >= voters || vote[0] != expect[v]) {
            fprintf(stderr, "votes: %s has %s, want %c\n", id, vote,
                    id[0] == 'v' && v >= 0 && v < voters ? expect[v] : '?');
            bad++;
        }
    }
    PQclear(r);
    return bad ? -EIO : 0;
}

static const char TALLY_DIFF[] =
    "SELECT count(*) FROM tallies t FULL JOIN"
    " (SELECT vote, count(*) AS n FROM votes GROUP BY vote) g"
    " ON g.vote = t.vote"
    " WHERE coalesce(t.count, 0) <> coalesce(g.n, 0)";

int tk_check_db(const char *conninfo, int voters, const char *expect)
{
    PGconn *c = PQconnectdb(conninfo);
    int rc = -ECONNREFUSED;
    long diff;

    if (PQstatus(c) == CONNECTION_OK)
        rc = check_votes(c, voters, expect);
    PQfinish(c);
    diff = tk_pg_long(conninfo, TALLY_DIFF);
    if (diff != 0) {
        fprintf(stderr, "tallies: %ld rows differ from the GROUP BY\n", diff);
        rc = -EIO;
    }
    return rc;
}

int tk_wait_rows(const char *conninfo, long rows, int timeout_ms)
{
    struct timespec ts = {0, 50 * 1000000L};
    int waited;

    for (waited = 0; waited <= timeout_ms; waited += 50) {
        if (tk_pg_long(conninfo, "SELECT count(*) FROM votes") == rows)
            return 0;
        nanosleep(&ts, NULL);
    }
    return -ETIMEDOUT;
}

int tk_wait_drained(struct tk_nats *t, int timeout_ms)
{
    struct timespec ts = {0, 50 * 1000000L};
    jsConsumerInfo *ci;
    int waited, done;

    for (waited = 0; waited <= timeout_ms; waited += 50) {
        ci = NULL;
        done = js_GetConsumerInfo(&ci, t->js, CONTRACT_STREAM,
                                  CONTRACT_CONSUMER, NULL, NULL) == NATS_OK &&
               ci->NumPending == 0 && ci->NumAckPending == 0;
        jsConsumerInfo_Destroy(ci);
        if (done)
            return 0;
        nanosleep(&ts, NULL);
    }
    return -ETIMEDOUT;
}
