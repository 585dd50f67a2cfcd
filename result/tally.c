/* tally.c - Postgres side of result: LISTEN, read tallies, reconnect.
 * See tally.h. The thread owns the PGconn; other threads only read the
 * `up` flag. */
#include "result/tally.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/mono/mono.h"
#include "lib/pgconn/pgconn.h"
#include "lib/retry/retry.h"

#define WAIT_SLICE_MS      100 /* how often the thread looks at `stop` */
#define DEFAULT_REFRESH_MS 5000
#define THREAD_STACK       (256 * 1024)

struct tally {
    struct pgconn_env pg;
    unsigned refresh_ms;
    void (*on_read)(void *arg, const struct tally_counts *c);
    void *arg;
    PGconn *conn;
    struct tally_counts last;
    int have_last;
    volatile sig_atomic_t stop;
    atomic_int up; /* read from any thread */
    pthread_t thread;
    struct metric *m_reads, *m_notifies, *m_errors, *m_up;
};

static int is_missing_table(const PGresult *r)
{
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    return state && strcmp(state, "42P01") == 0;
}

int tally_read_once(struct pg_conn *conn, struct tally_counts *c)
{
    PGresult *r;
    int i, k;

    memset(c->votes, 0, sizeof(c->votes));
    clock_gettime(CLOCK_REALTIME, &c->as_of);
    r = PQexec(conn, "SELECT vote, count FROM tallies");
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (i = 0; i < PQntuples(r); i++) {
            k = contract_option_index(PQgetvalue(r, i, 0));
            if (k >= 0)
                c->votes[k] = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        }
        PQclear(r);
        return 0;
    }
    if (is_missing_table(r)) {
        PQclear(r);
        return 0;
    }
    log_warn("pg_read_failed", LOG_STR("error", PQerrorMessage(conn)));
    PQclear(r);
    return -EIO;
}

static void set_up(struct tally *t, int up)
{
    atomic_store(&t->up, up);
    metrics_set(t->m_up, up);
}

int tally_connected(const struct tally *t)
{
    return atomic_load(&t->up);
}

int tally_ready(void *arg, char *why, size_t n)
{
    if (tally_connected(arg))
        return 0;
    snprintf(why, n, "postgres: not connected");
    return -ECONNREFUSED;
}

static void disconnect(struct tally *t)
{
    if (t->conn && tally_connected(t) && !t->stop)
        log_warn("pg_disconnected", LOG_STR("host", t->pg.host));
    set_up(t, 0);
    PQfinish(t->conn); /* NULL-safe */
    t->conn = NULL;
}

/* Server notices (e.g. "terminating connection") as log lines, not
 * libpq's default plain text on stderr. */
static void on_notice(void *arg, const char *msg)
{
    log_info("pg_notice", LOG_STR("message", msg));
}

/* One connection attempt, for retry_backoff(): connect (keepalives and
 * tcp_user_timeout: lib/pgconn), then LISTEN. */
static int pg_connect(void *arg)
{
    struct tally *t = arg;
    struct pgconn_target target;
    struct pgconn_params p;
    PGresult *r;
    int ok;

    pgconn_target_of(&target, &t->pg, "result", NULL);
    pgconn_params(&p, &target);
    t->conn = PQconnectdbParams(p.keys, p.vals, 0);
    if (PQstatus(t->conn) != CONNECTION_OK)
        goto out_finish;
    PQsetNoticeProcessor(t->conn, on_notice, NULL);
    r = PQexec(t->conn, "LISTEN " CONTRACT_PG_CHANNEL);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        goto out_finish;
    set_up(t, 1);
    log_info("pg_connected", LOG_STR("host", t->pg.host),
             LOG_INT("port", t->pg.port));
    return 0;

out_finish:
    PQfinish(t->conn);
    t->conn = NULL;
    return -ECONNREFUSED;
}

/* Reads once and hands the counts to on_read. */
static int read_and_report(struct tally *t)
{
    struct tally_counts c;
    int rc = tally_read_once(t->conn, &c);

    if (rc) {
        metrics_add(t->m_errors, 1);
        return rc;
    }
    c.changed =
        !t->have_last || memcmp(c.votes, t->last.votes, sizeof(c.votes)) != 0;
    t->last = c;
    t->have_last = 1;
    metrics_add(t->m_reads, 1);
    t->on_read(t->arg, &c);
    return 0;
}

/* Notifications already received; frees them. */
static int drain_notifies(struct tally *t)
{
    PGnotify *n;
    int count = 0;

    for (n = PQnotifies(t->conn); n; n = PQnotifies(t->conn)) {
        PQfreemem(n);
        count++;
    }
    metrics_add(t->m_notifies, (uint64_t)count);
    return count;
}

/* Waits up to ms for a notification: >0 got some, 0 none, -EIO lost. */
static int wait_notify(struct tally *t, int ms)
{
    struct pollfd pfd = {.fd = PQsocket(t->conn), .events = POLLIN};
    int n = drain_notifies(t);

    if (n)
        return n;
    if (pfd.fd < 0)
        return -EIO;
    n = poll(&pfd, 1, ms);
    if (n < 0)
        return errno == EINTR ? 0 : -EIO;
    if (n == 0)
        return 0;
    if (!PQconsumeInput(t->conn) || PQstatus(t->conn) != CONNECTION_OK)
        return -EIO;
    return drain_notifies(t);
}

/* Serves one connection until it fails (-EIO) or stop (0). */
static int serve(struct tally *t)
{
    int64_t now, last_read = 0, next_refresh = 0;
    int dirty = 1, rc;
    long wait;

    while (!t->stop) {
        now = mono_ms();
        if (dirty && now >= last_read + TALLY_MIN_GAP_MS) {
            rc = read_and_report(t);
            if (rc)
                return rc;
            last_read = now;
            next_refresh = now + t->refresh_ms;
            dirty = 0;
            continue;
        }
        if (!dirty && now >= next_refresh) {
            dirty = 1; /* the safety refresh */
            continue;
        }
        wait = dirty ? (long)(last_read + TALLY_MIN_GAP_MS - now)
                     : (long)(next_refresh - now);
        rc = wait_notify(t, wait < WAIT_SLICE_MS ? (int)wait : WAIT_SLICE_MS);
        if (rc < 0)
            return rc;
        if (rc > 0)
            dirty = 1;
    }
    return 0;
}

static void *tally_main(void *arg)
{
    struct tally *t = arg;

    while (!t->stop) {
        if (retry_backoff("postgres", pg_connect, t, &RETRY_DEFAULT, &t->stop))
            break;
        serve(t);
        disconnect(t);
    }
    return NULL;
}

static void register_metrics(struct tally *t, struct metrics *m)
{
    if (!m)
        return;
    t->m_reads = metrics_counter(m, "result_pg_reads_total",
                                 "Reads of the tallies table.");
    t->m_notifies = metrics_counter(m, "result_pg_notifications_total",
                                    "NOTIFY " CONTRACT_PG_CHANNEL " received.");
    t->m_errors = metrics_counter(m, "result_pg_errors_total",
                                  "Failed reads (then a reconnect).");
    t->m_up = metrics_gauge(m, "result_pg_up",
                            "1 while connected to Postgres and listening.");
}

int tally_start(struct tally **out, const struct tally_opts *o)
{
    pthread_attr_t attr;
    struct tally *t;
    int rc;

    *out = NULL;
    t = calloc(1, sizeof(*t));
    if (!t)
        return -ENOMEM;
    t->pg = *o->pg;
    t->refresh_ms = o->refresh_ms ? o->refresh_ms : DEFAULT_REFRESH_MS;
    t->on_read = o->on_read;
    t->arg = o->arg;
    register_metrics(t, o->metrics);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    rc = -pthread_create(&t->thread, &attr, tally_main, t);
    pthread_attr_destroy(&attr);
    if (rc)
        goto out_free;
    *out = t;
    return 0;

out_free:
    free(t);
    return rc;
}

void tally_stop(struct tally *t)
{
    if (!t)
        return;
    t->stop = 1;
    pthread_join(t->thread, NULL);
    disconnect(t);
    free(t);
}

/* "2026-11-27T18:00:00.123Z" */
static void format_time(const struct timespec *ts, char *buf, size_t n)
{
    struct tm tm;
    size_t k;

    gmtime_r(&ts->tv_sec, &tm);
    k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%03ldZ", ts->tv_nsec / 1000000L);
}

int tally_format(const struct tally_counts *c, const char *const *labels,
                 char *buf, size_t n, size_t *len)
{
    json_t *opts = json_array(), *o;
    json_int_t total = 0;
    char as_of[40];
    size_t need;
    int i;

    for (i = 0; i < CONTRACT_N_OPTIONS; i++) {
        json_array_append_new(
            opts, json_pack("{s:s,s:s,s:I}", "id", CONTRACT_OPTIONS[i], "label",
                            labels[i], "votes", (json_int_t)c->votes[i]));
        total += c->votes[i];
    }
    format_time(&c->as_of, as_of, sizeof(as_of));
    o = json_pack("{s:o,s:I,s:s}", "options", opts, "total", total, "as_of",
                  as_of);
    if (!o)
        return -ENOMEM;
    need = json_dumpb(o, buf, n, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (need == 0)
        return -ENOMEM;
    if (need >= n)
        return -ENOSPC;
    buf[need] = '\0';
    *len = need;
    return 0;
}
