/* main.c - result: live vote results over HTTP and WebSocket.
 *
 * The tally thread LISTENs to Postgres and reads the tallies; each read
 * becomes the current snapshot, and each change is pushed by the hub to
 * every WebSocket client; civetweb serves HTTP and accepts the WebSockets,
 * whose frames result handles itself (ws.h). RESULT_MAX_CLIENTS is clamped
 * to what the host can hold (capacity.h). See docs/architecture.md. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config/config.h"
#include "lib/http/http.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/shutdown/shutdown.h"
#include "result/api.h"
#include "result/capacity.h"
#include "result/hub.h"
#include "result/settings.h"
#include "result/tally.h"

#define HTTP_HEADROOM 32   /* worker threads kept for plain HTTP */
#define FD_HEADROOM   128  /* listeners, Postgres, logs, static files */
#define CLOSE_GOING   1001 /* WebSocket "going away" */
#define CLOSE_WAIT_MS 1000
/* A civetweb thread's stack, fixed by Debian's build of civetweb 1.15. */
#define CIVETWEB_STACK (100 * 1024)
#define MEM_RESERVED   (48LL << 20) /* heap, socket buffers, code */

static volatile sig_atomic_t g_stop;

struct app {
    const char *labels[CONTRACT_N_OPTIONS];
    struct hub *hub;
    struct tally *tally;
    struct api *api;
};

/* What a client costs and what is kept aside (see capacity.h). */
static const struct capacity_limits COSTS = {.client_stack = CIVETWEB_STACK +
                                                             HUB_WRITER_STACK,
                                             .http_threads = HTTP_HEADROOM,
                                             .fixed_fds = FD_HEADROOM,
                                             .reserved = MEM_RESERVED};

/* On the tally thread, after every read of the tallies. */
static void on_read(void *arg, const struct tally_counts *c)
{
    struct app *app = arg;
    char buf[API_SNAPSHOT_MAX];
    size_t len;

    if (tally_format(c, app->labels, buf, sizeof(buf), &len)) {
        log_error("snapshot_format_failed", "%s", "");
        return;
    }
    hub_publish(app->hub, buf, len, c->changed);
    if (c->changed)
        log_debug("snapshot_pushed", "\"total\":%lld",
                  (long long)(c->votes[0] + c->votes[1]));
}

static int start_tally(struct app *app, const struct settings *c,
                       struct metrics *m)
{
    struct tally_opts o = {
        .pg = &c->pg, .metrics = m, .on_read = on_read, .arg = app};

    return tally_start(&app->tally, &o);
}

/* Every option of the server beyond lib/http's: listen, threads, UI_DIR. */
static int start_http(struct mg_context **ctx, struct http_opts *o,
                      const struct settings *c, char *listen, size_t n)
{
    snprintf(listen, n, "%u", c->port);
    o->listen = listen;
    o->threads = (unsigned)c->max_clients + HTTP_HEADROOM;
    o->doc_root = c->ui_dir[0] ? c->ui_dir : NULL;
    return http_start(ctx, o);
}

int main(int argc, char **argv)
{
    struct settings cfg;
    struct app app = {0};
    struct http_opts hopts = {0};
    struct hub_opts bopts = {.write = api_ws_write};
    struct api_opts aopts = {0};
    struct mg_context *ctx;
    struct metrics *m;
    char listen[16];
    int rc = EXIT_FAILURE;

    rc = http_healthcheck_main(argc, argv, "PORT", SETTINGS_DEFAULT_PORT);
    if (rc >= 0)
        return rc;
    rc = EXIT_FAILURE;
    mallopt(M_ARENA_MAX, 2); /* before any thread: RSS, not speed */
    if (settings_load(&cfg))
        return CONFIG_EXIT;
    cfg.max_clients = capacity_fit(&COSTS, cfg.max_clients);
    shutdown_install(&g_stop);
    app.labels[0] = cfg.label_a;
    app.labels[1] = cfg.label_b;
    if (metrics_new(&m))
        return EXIT_FAILURE;
    bopts.max_clients = (unsigned)cfg.max_clients;
    bopts.metrics = m;
    if (hub_new(&app.hub, &bopts))
        goto out_metrics;
    if (start_tally(&app, &cfg, m))
        goto out_hub;
    hopts.metrics = m;
    hopts.ready = tally_ready;
    hopts.ready_arg = app.tally;
    if (start_http(&ctx, &hopts, &cfg, listen, sizeof(listen)))
        goto out_tally;
    aopts.ping_ms = (unsigned)cfg.ws_ping_ms;
    if (api_start(&app.api, ctx, app.hub, &aopts)) {
        http_stop(ctx);
        goto out_tally;
    }
    log_info("listening", "\"port\":%u,\"max_clients\":%ld", cfg.port,
             cfg.max_clients);
    while (!g_stop)
        shutdown_sleep_ms(&g_stop, 1000);
    api_close(app.api, app.hub, ctx, CLOSE_GOING, CLOSE_WAIT_MS);
    rc = EXIT_SUCCESS;
out_tally:
    tally_stop(app.tally);
out_hub:
    hub_free(app.hub);
out_metrics:
    metrics_free(m);
    log_info("stopped", "\"exit\":%d", rc);
    return rc;
}
