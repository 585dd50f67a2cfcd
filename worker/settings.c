/* settings.c - reads the worker's environment; see settings.h. */
#include "worker/settings.h"

#include <errno.h>
#include <string.h>

#include "lib/config/config.h"

static int load_pg(struct settings *s)
{
    if (config_str("POSTGRES_HOST", "127.0.0.1", s->pg_host,
                   sizeof(s->pg_host)) ||
        config_port("POSTGRES_PORT", 5432, &s->pg_port) ||
        config_str("POSTGRES_DB", "postgres", s->pg_db, sizeof(s->pg_db)) ||
        config_str("POSTGRES_USER", "postgres", s->pg_user,
                   sizeof(s->pg_user)) ||
        config_secret("POSTGRES_PASSWORD", "", s->pg_password,
                      sizeof(s->pg_password)))
        return -EINVAL;
    return 0;
}

int settings_load(struct settings *s)
{
    struct config_url url;
    long batch;

    memset(s, 0, sizeof(*s));
    if (config_str("LOG_LEVEL", "info", s->log_level, sizeof(s->log_level)))
        return -EINVAL;
    if (config_url("NATS_URL", "nats://127.0.0.1:4222", "nats", 4222, &url))
        return -EINVAL;
    memcpy(s->nats_url, url.raw, sizeof(url.raw));
    if (load_pg(s))
        return -EINVAL;
    if (config_port("WORKER_PORT", 8080, &s->http_port))
        return -EINVAL;
    if (config_long("BATCH_SIZE", 500, 1, SETTINGS_MAX_BATCH, &batch))
        return -EINVAL;
    s->batch_size = (int)batch;
    return 0;
}
