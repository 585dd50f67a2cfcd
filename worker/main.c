/* main.c - the worker service: JetStream VOTES -> Postgres, batched and
 * idempotent; see pipeline.h for the loop, consumer.h and store.h for the
 * two sides, docs/architecture.md for the contracts. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include <nats/nats.h>

#include "lib/config/config.h"
#include "lib/http/http.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/pgconn/pgconn.h"
#include "lib/retry/retry.h"
#include "lib/shutdown/shutdown.h"
#include "worker/consumer.h"
#include "worker/pipeline.h"
#include "worker/settings.h"
#include "worker/store.h"

/* AckWait is three times the longest a batch can be held without an
 * in-progress ack: a commit is cancelled after STATEMENT_TIMEOUT_MS, and
 * a dead Postgres connection is noticed within 10 s (tcp_user_timeout,
 * lib/pgconn); while a failed batch is retried, pipeline.c marks it in
 * progress every ACK_WAIT_MS / 3. Equal values would let a slow commit's
 * batch be delivered to another worker as well. */
#define ACK_WAIT_MS          30000
#define STATEMENT_TIMEOUT_MS "10000"
#define FETCH_WAIT_MS        250
#define DUP_WINDOW_MS        5000
#define MIN_MAX_ACK_PENDING  20000

static volatile sig_atomic_t g_stop;

struct worker {
    struct settings cfg;
    struct http_opts ho; /* kept while the server runs; its metrics too */
    struct mg_context *http;
    struct store *store;
    struct consumer *consumer;
    struct pipeline *_Atomic pipe; /* /readyz reads it */
};

/* /readyz: the pipeline's answer once it runs. */
static int ready(void *arg, char *why, size_t n)
{
    struct pipeline *p = atomic_load(&((struct worker *)arg)->pipe);

    if (p)
        return pipeline_ready(p, why, n);
    snprintf(why, n, "starting: connecting to postgres and nats");
    return -EAGAIN;
}

/* Connects to Postgres (keepalives and tcp_user_timeout: lib/pgconn)
 * and brings the schema up to date. */
static int pg_connect(void *arg)
{
    struct worker *w = arg;
    struct pgconn_target t;
    struct pgconn_params p;
    int rc;

    pgconn_target_of(&t, &w->cfg.pg, "worker",
                     "-c statement_timeout=" STATEMENT_TIMEOUT_MS);
    pgconn_params(&p, &t);
    /* expand_dbname = 1 in store_open: POSTGRES_DB could be a conninfo. */
    rc = store_open(&w->store, p.keys, p.vals, (size_t)w->cfg.batch_size);
    if (rc == 0)
        rc = store_migrate(w->store);
    if (rc) {
        store_close(w->store);
        w->store = NULL;
    }
    return rc;
}

static int nats_connect(void *arg)
{
    struct worker *w = arg;
    int batch = w->cfg.batch_size;
    struct consumer_opts o = {
        .conn = &w->cfg.nats,
        .streams = &w->cfg.streams,
        .batch = batch,
        .fetch_wait_ms = FETCH_WAIT_MS,
        .ack_wait_ms = ACK_WAIT_MS,
        .max_ack_pending =
            batch * 16 > MIN_MAX_ACK_PENDING ? batch * 16 : MIN_MAX_ACK_PENDING,
        .dup_window_ms = DUP_WINDOW_MS};

    return consumer_open(&w->consumer, &o);
}

int main(int argc, char **argv)
{
    static struct worker w;
    struct pipeline *p;
    int rc = http_healthcheck_main(argc, argv, "WORKER_PORT", SETTINGS_PORT);

    if (rc >= 0)
        return rc;
    log_init("worker", NULL);
    if (settings_load(&w.cfg) || log_init("worker", w.cfg.log_level))
        return CONFIG_EXIT;
    if (shutdown_install(&g_stop)) {
        log_error("start_failed", LOG_STR("step", "signals"));
        return EXIT_FAILURE;
    }
    rc = EXIT_FAILURE;
    /* Probes first: while it connects, /readyz says what it waits for. */
    w.ho.port = w.cfg.http_port;
    w.ho.threads = 8; /* probes and scrapes, keep-alive included */
    w.ho.ready = ready;
    w.ho.ready_arg = &w;
    if (metrics_new(&w.ho.metrics) || http_start(&w.http, &w.ho))
        goto out_metrics;
    if (retry_backoff("postgres", pg_connect, &w, &RETRY_DEFAULT, &g_stop))
        goto out_http;
    if (retry_backoff("nats", nats_connect, &w, &RETRY_DEFAULT, &g_stop))
        goto out_store;
    if (pipeline_new(&p, w.consumer, w.store, w.ho.metrics, w.cfg.batch_size,
                     ACK_WAIT_MS))
        goto out_consumer;
    atomic_store(&w.pipe, p);
    log_info("ready", LOG_INT("port", w.cfg.http_port),
             LOG_INT("batch", w.cfg.batch_size));
    pipeline_run(p, &g_stop); /* finishes the batch in hand */
    log_info("stopping", LOG_STR("reason", "signal"));
    http_stop(w.http); /* no /readyz may still look at p */
    w.http = NULL;
    pipeline_free(p);
    rc = EXIT_SUCCESS;
out_consumer:
    consumer_close(w.consumer); /* flushes acks; no unsubscribe */
out_store:
    store_close(w.store);
out_http:
    http_stop(w.http);
out_metrics:
    metrics_free(w.ho.metrics);
    nats_Close();
    if (g_stop) /* asked to stop, even before it was ready: not a failure */
        rc = EXIT_SUCCESS;
    log_info("stopped", LOG_INT("exit", rc));
    return rc;
}
