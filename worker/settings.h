/* settings.h - the worker's environment, read once at start.
 *
 * settings_load() fills a caller-owned struct that is read-only after;
 * a bad variable is logged by lib/config (one line naming it) and
 * settings_load() returns -EINVAL, and main exits with CONFIG_EXIT. */
#ifndef WORKER_SETTINGS_H
#define WORKER_SETTINGS_H

#include <stdint.h>

#include "lib/jstream/jstream.h"
#include "lib/natsconn/natsconn.h"
#include "lib/pgconn/pgconn.h"

#define SETTINGS_MAX_BATCH 5000

struct settings {
    char log_level[16];
    struct natsconn nats; /* NATS_URL, NATS_USER, NATS_PASSWORD(_FILE) */
    struct jstream_settings streams; /* NATS_REPLICAS, *_MAX_AGE_S, ... */
    struct pgconn_env pg; /* POSTGRES_HOST/PORT/DB/USER/PASSWORD(_FILE) */
    uint16_t http_port;
    int batch_size;
};

/* NATS_URL (a list), NATS_USER, NATS_PASSWORD(_FILE), NATS_REPLICAS,
 * VOTES_ and DEADLETTER_ MAX_AGE_S and MAX_BYTES (lib/jstream),
 * POSTGRES_HOST/PORT/DB/USER/PASSWORD(+_FILE) (lib/pgconn), WORKER_PORT,
 * BATCH_SIZE (1..SETTINGS_MAX_BATCH), LOG_LEVEL. 0 or -EINVAL. */
int settings_load(struct settings *s);

#endif
