/* main.c - result: live vote results over HTTP and WebSocket.
 *
 * The tally thread LISTENs to Postgres and reads the tallies; each read
 * becomes the current snapshot, and each change is pushed by the hub to
 * every WebSocket client; civetweb serves HTTP. See ../shared/DESIGN.md. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "lib/config/config.h"
#include "lib/http/http.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/shutdown/shutdown.h"
#include "result/api.h"
#include "result/hub.h"
#include "result/tally.h"

#define DEFAULT_PORT  5000
#define HTTP_HEADROOM 32   /* worker threads kept for plain HTTP */
#define FD_HEADROOM   128  /* listeners, Postgres, logs, static files */
#define CLOSE_GOING   1001 /* WebSocket "going away" */
#define CLOSE_WAIT_MS 1000

static volatile sig_atomic_t g_stop;

struct result_config {
    uint16_t port, pg_port;
    char pg_host[256], pg_db[64], pg_user[64], pg_password[128];
    char ui_dir[512], label_a[128], label_b[128], log_level[16];
    long max_clients;
};

struct app {
    const char *labels[TALLY_OPTIONS];
    struct hub *hub;
    struct tally *tally;
};

static int config_load(struct result_config *c)
{
    if (config_str("LOG_LEVEL", "info", c->log_level, sizeof(c->log_level)) ||
        log_init("result", c->log_level))
        return -EINVAL;
    if (config_port("PORT", DEFAULT_PORT, &c->port) ||
        config_str("POSTGRES_HOST", "127.0.0.1", c->pg_host,
                   sizeof(c->pg_host)) ||
        config_port("POSTGRES_PORT", 5432, &c->pg_port) ||
        config_str("POSTGRES_DB", "postgres", c->pg_db, sizeof(c->pg_db)) ||
        config_str("POSTGRES_USER", "postgres", c->pg_user,
                   sizeof(c->pg_user)) ||
        config_secret("POSTGRES_PASSWORD", "", c->pg_password,
                      sizeof(c->pg_password)) ||
        config_str("UI_DIR", "", c->ui_dir, sizeof(c->ui_dir)) ||
        config_str("OPTION_A", "Cats", c->label_a, sizeof(c->label_a)) ||
        config_str("OPTION_B", "Dogs", c->label_b, sizeof(c->label_b)) ||
        config_long("RESULT_MAX_CLIENTS", 1000, 1, 60000, &c->max_clients))
        return -EINVAL;
    return 0;
}

/* Each WebSocket costs a socket; raise the soft limit to the hard one. */
static void raise_nofile(long need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need)
        log_warn("nofile_low",
                 "\"limit\":%llu,\"needed\":%ld,\"hint\":\"raise ulimit -n "
                 "(compose: ulimits nofile) or lower RESULT_MAX_CLIENTS\"",
                 (unsigned long long)rl.rlim_cur, need);
}

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

static int ready(void *arg, char *why, size_t n)
{
    struct app *app = arg;

    if (tally_connected(app->tally))
        return 0;
    snprintf(why, n, "postgres: not connected");
    return -ECONNREFUSED;
}

static int start_tally(struct app *app, const struct result_config *c,
                       struct metrics *m)
{
    char port[8];
    struct tally_opts o = {.host = c->pg_host,
                           .port = port,
                           .dbname = c->pg_db,
                           .user = c->pg_user,
                           .password = c->pg_password,
                           .metrics = m,
                           .on_read = on_read,
                           .arg = app};

    snprintf(port, sizeof(port), "%u", c->pg_port);
    return tally_start(&app->tally, &o);
}

/* Every option of the server beyond lib/http's: listen, threads, UI_DIR. */
static int start_http(struct mg_context **ctx, struct http_opts *o,
                      const struct result_config *c, char *listen, size_t n)
{
    snprintf(listen, n, "%u", c->port);
    o->listen = listen;
    o->threads = (unsigned)c->max_clients + HTTP_HEADROOM;
    o->doc_root = c->ui_dir[0] ? c->ui_dir : NULL;
    o->extra = (const char **)API_WS_OPTIONS;
    return http_start(ctx, o);
}

static void shut_down(struct app *app, struct mg_context *ctx)
{
    unsigned left;

    log_info("stopping", "\"clients\":%u", hub_count(app->hub));
    left = hub_close_all(app->hub, CLOSE_GOING, CLOSE_WAIT_MS);
    if (left)
        log_warn("close_frames_unsent", "\"clients\":%u", left);
    http_stop(ctx); /* readers end, close handlers remove the clients */
}

int main(int argc, char **argv)
{
    struct result_config cfg = {0};
    struct app app = {0};
    struct http_opts hopts = {0};
    struct hub_opts bopts = {.write = api_ws_write};
    struct mg_context *ctx;
    struct metrics *m;
    char listen[16];
    int rc = EXIT_FAILURE;

    rc = http_healthcheck_main(argc, argv, "PORT", DEFAULT_PORT);
    if (rc >= 0)
        return rc;
    rc = EXIT_FAILURE;
    mallopt(M_ARENA_MAX, 2); /* before any thread: RSS, not speed */
    if (config_load(&cfg))
        return CONFIG_EXIT;
    raise_nofile(cfg.max_clients + HTTP_HEADROOM + FD_HEADROOM);
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
    hopts.ready = ready;
    hopts.ready_arg = &app;
    if (start_http(&ctx, &hopts, &cfg, listen, sizeof(listen)))
        goto out_tally;
    api_register(ctx, app.hub);
    log_info("listening", "\"port\":%u,\"max_clients\":%ld", cfg.port,
             cfg.max_clients);
    while (!g_stop)
        shutdown_sleep_ms(&g_stop, 1000);
    shut_down(&app, ctx);
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
