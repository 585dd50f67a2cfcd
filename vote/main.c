/* main.c - the vote service: takes votes over HTTP, makes each durable in
 * JetStream before answering, and remembers each voter's choice in Redis.
 * See docs/architecture.md and api.h. */
#include <stdlib.h>

#include <nats/nats.h>

#include "lib/config/config.h"
#include "lib/http/http.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/shutdown/shutdown.h"
#include "vote/api.h"
#include "vote/bus.h"
#include "vote/settings.h"
#include "vote/voters.h"
#include "vote/watch.h"

#define REDIS_TIMEOUT_MS 500
#define FLUSH_MS         3000

static volatile sig_atomic_t g_stop;

struct deps {
    struct metrics *metrics;
    struct bus *bus;
    struct voters *voters;
    struct api *api;
    struct watch *watch;
};

static int check_bus(void *arg)
{
    return bus_check(arg);
}

static int check_redis(void *arg)
{
    return voters_check(arg);
}

/* Everything but the HTTP server; NATS and Redis may be down. */
static int deps_open(struct deps *d, const struct settings *cfg)
{
    struct watch_dep wd[2] = {{"nats", check_bus, NULL},
                              {"redis", check_redis, NULL}};
    struct bus_opts bo = {.conn = &cfg->nats,
                          .streams = &cfg->streams,
                          .dup_window_s = cfg->dup_window_s};
    struct metric *redis_errors;
    const char *step;

    step = "metrics";
    if (metrics_new(&d->metrics))
        goto out_failed;
    bo.pending = metrics_gauge(d->metrics, "vote_publish_pending",
                               "Publishes waiting for their PubAck.");
    redis_errors = metrics_counter(
        d->metrics, "vote_redis_errors_total",
        "Redis writes or reads that failed or were skipped (Redis down).");
    if (!bo.pending || !redis_errors)
        goto out_failed;
    step = "nats";
    if (bus_open(&d->bus, &bo))
        goto out_failed;
    step = "redis";
    if (voters_open(&d->voters, &cfg->redis, REDIS_TIMEOUT_MS, redis_errors))
        goto out_failed;
    step = "api";
    if (api_new(&d->api, d->bus, d->voters, cfg, d->metrics))
        goto out_failed;
    wd[0].arg = d->bus;
    wd[1].arg = d->voters;
    step = "watch";
    if (watch_start(&d->watch, wd, 2))
        goto out_failed;
    return 0;

out_failed: /* deps_close() releases what was made */
    log_error("start_failed", LOG_STR("step", step));
    return -1;
}

static void deps_close(struct deps *d)
{
    watch_stop(d->watch);
    if (d->bus && bus_flush(d->bus, FLUSH_MS))
        log_warn("flush_timeout", LOG_INT("ms", FLUSH_MS));
    api_free(d->api);
    voters_close(d->voters);
    bus_close(d->bus);
    metrics_free(d->metrics);
}

int main(int argc, char **argv)
{
    struct deps d = {0};
    struct settings cfg;
    struct http_opts ho = {0};
    struct mg_context *http = NULL;
    int rc = http_healthcheck_main(argc, argv, "PORT", SETTINGS_PORT);

    if (rc >= 0)
        return rc;
    log_init("vote", NULL);
    if (settings_load(&cfg) || log_init("vote", cfg.log_level))
        return CONFIG_EXIT;
    if (shutdown_install(&g_stop)) {
        log_error("start_failed", LOG_STR("step", "signals"));
        return EXIT_FAILURE;
    }
    rc = EXIT_FAILURE;
    /* No spinning on nats.c's locks: with more request threads than cores
     * the spins only burn the CPU the lock holder needs (+15% votes/s). */
    nats_Open(0);
    if (deps_open(&d, &cfg))
        goto out;
    ho.port = cfg.port;
    ho.threads = cfg.threads;
    ho.doc_root = cfg.ui_dir[0] ? cfg.ui_dir : NULL;
    ho.metrics = d.metrics;
    ho.ready = api_ready;
    ho.ready_arg = d.api;
    if (http_start(&http, &ho))
        goto out;
    api_register(d.api, http);
    log_info("listening", LOG_INT("port", cfg.port),
             LOG_INT("threads", cfg.threads),
             LOG_INT("rate_per_min", cfg.rate_per_min),
             LOG_INT("rate_burst", cfg.rate_burst),
             LOG_INT("trusted_proxies", cfg.n_trusted));
    while (!g_stop)
        shutdown_sleep_ms(&g_stop, 1000);
    log_info("stopping", LOG_STR("in_flight", "finishing"));
    http_stop(http); /* stops accepting; in-flight requests finish */
    rc = EXIT_SUCCESS;
out:
    deps_close(&d);
    nats_Close();
    log_info("stopped", LOG_INT("exit", rc));
    return rc;
}
