/* settings.c - reads the worker's environment; see settings.h. */
#include "worker/settings.h"

#include <errno.h>
#include <string.h>

#include "lib/config/config.h"
#include "lib/jstream/jstream.h"
#include "lib/natsconn/natsconn.h"
#include "lib/pgconn/pgconn.h"

int settings_load(struct settings *s)
{
    long batch;

    memset(s, 0, sizeof(*s));
    if (config_str("LOG_LEVEL", "info", s->log_level, sizeof(s->log_level)) ||
        natsconn_load(&s->nats) || jstream_settings_load(&s->streams) ||
        pgconn_load(&s->pg) ||
        config_port("WORKER_PORT", SETTINGS_PORT, &s->http_port) ||
        config_long("BATCH_SIZE", 500, 1, SETTINGS_MAX_BATCH, &batch))
        return -EINVAL;
    s->batch_size = (int)batch;
    return 0;
}
