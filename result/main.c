/* main.c - result: live vote results over HTTP and WebSocket.
 *
 * The tally thread LISTENs to Postgres and reads the tallies; each read
 * becomes the current snapshot, and each change is pushed by the loop
 * (one thread, epoll) to every WebSocket viewer; civetweb serves HTTP with
 * a small fixed pool and hands each upgraded socket to the loop (api.h).
 * RESULT_MAX_CLIENTS defaults to, and is clamped to, what the host can
 * hold (capacity.h). See docs/architecture.md. */
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>

#include "lib/config/config.h"
#include "lib/http/http.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/shutdown/shutdown.h"
#include "result/api.h"
#include "result/capacity.h"
#include "result/loop.h"
#include "result/settings.h"
#include "result/tally.h"
#include "result/wsproto.h"

#define HTTP_THREADS 32          /* civetweb's pool: HTTP connections at once */
#define FD_HEADROOM  128         /* listeners, Postgres, logs, static files */
#define CLIENT_BYTES (16 * 1024) /* a viewer's state and kernel socket */
#define MEM_RESERVED (32LL << 20) /* heap, HTTP threads' stacks, code */

static volatile sig_atomic_t g_stop;

struct app {
    const char *labels[CONTRACT_N_OPTIONS];
    struct loop *loop;
    struct tally *tally;
    struct api *api;
};

/* What a client costs and what is kept aside (see capacity.h). */
static const struct capacity_limits COSTS = {.client_bytes = CLIENT_BYTES,
                                             .http_threads = HTTP_THREADS,
                                             .fixed_fds = FD_HEADROOM,
                                             .reserved = MEM_RESERVED};

/* On the tally thread, after every read of the tallies. */
static void on_read(void *arg, const struct tally_counts *c)
{
    struct app *app = arg;
    char buf[API_SNAPSHOT_MAX];
    size_t len;

    if (tally_format(c, app->labels, buf, sizeof(buf), &len)) {
        log_error("snapshot_format_failed");
        return;
    }
    loop_publish(app->loop, buf, len, c->changed);
    if (c->changed)
        log_debug("snapshot_pushed",
                  LOG_INT("total", c->votes[0] + c->votes[1]));
}

static int start_tally(struct app *app, const struct settings *c,
                       struct metrics *m)
{
    struct tally_opts o = {
        .pg = &c->pg, .metrics = m, .on_read = on_read, .arg = app};

    return tally_start(&app->tally, &o);
}

int main(int argc, char **argv)
{
    struct settings cfg;
    struct app app = {0};
    struct http_opts hopts = {0};
    struct loop_opts lopts = {0};
    struct mg_context *ctx;
    struct metrics *m;
    int i, rc;

    rc = http_healthcheck_main(argc, argv, "PORT", SETTINGS_PORT);
    if (rc >= 0)
        return rc;
    mallopt(M_ARENA_MAX, 2); /* before any thread: RSS, not speed */
    log_init("result", NULL);
    if (settings_load(&cfg) || log_init("result", cfg.log_level))
        return CONFIG_EXIT;
    settings_size(&cfg, capacity_fit(&COSTS, cfg.max_clients));
    if (shutdown_install(&g_stop)) {
        log_error("start_failed", LOG_STR("step", "signals"));
        return EXIT_FAILURE;
    }
    rc = EXIT_FAILURE;
    for (i = 0; i < CONTRACT_N_OPTIONS; i++)
        app.labels[i] = cfg.labels.of[i];
    if (metrics_new(&m))
        return rc;
    lopts.max_clients = (unsigned)cfg.max_clients;
    lopts.max_per_addr = (unsigned)cfg.max_per_addr;
    lopts.ping_ms = (unsigned)cfg.ws_ping_ms;
    lopts.metrics = m;
    if (loop_start(&app.loop, &lopts))
        goto out_metrics;
    if (start_tally(&app, &cfg, m))
        goto out_loop;
    hopts.port = cfg.port;
    hopts.threads = HTTP_THREADS;
    hopts.doc_root = cfg.ui_dir[0] ? cfg.ui_dir : NULL;
    hopts.metrics = m;
    hopts.ready = tally_ready;
    hopts.ready_arg = app.tally;
    if (http_start(&ctx, &hopts))
        goto out_tally;
    if (api_start(&app.api, ctx, app.loop, cfg.trusted, cfg.n_trusted)) {
        http_stop(ctx);
        goto out_tally;
    }
    log_info("listening", LOG_INT("port", cfg.port),
             LOG_INT("max_clients", cfg.max_clients),
             LOG_INT("max_per_addr", cfg.max_per_addr),
             LOG_INT("trusted_proxies", cfg.n_trusted));
    while (!g_stop)
        shutdown_sleep_ms(&g_stop, 1000);
    api_close(app.api, app.loop, ctx, WSPROTO_CLOSE_GOING, LOOP_CLOSE_WAIT_MS);
    rc = EXIT_SUCCESS;
out_tally:
    tally_stop(app.tally);
out_loop:
    loop_free(app.loop);
out_metrics:
    metrics_free(m);
    log_info("stopped", LOG_INT("exit", rc));
    return rc;
}
