/* settings.h - the worker's environment, read once at start.
 *
 * settings_load() fills a caller-owned struct that is read-only after; a
 * bad variable is logged by lib/config (one line naming it),
 * settings_load() returns -EINVAL and main exits with CONFIG_EXIT. It has
 * no other effect: main gives log_level to log_init() itself. */
#ifndef WORKER_SETTINGS_H
#define WORKER_SETTINGS_H

#include <stdint.h>

#include "lib/jstream/jstream.h"
#include "lib/natsconn/natsconn.h"
#include "lib/pgconn/pgconn.h"

#define SETTINGS_MAX_BATCH 5000
#define SETTINGS_PORT      8080 /* WORKER_PORT unset; --healthcheck too */

struct settings {
    char log_level[16]; /* LOG_LEVEL, info */
    /* NATS_URL (a list), NATS_USER, NATS_PASSWORD(_FILE) */
    struct natsconn nats;
    /* NATS_REPLICAS, VOTES_ and DEADLETTER_ MAX_AGE_S and MAX_BYTES */
    struct jstream_settings streams;
    struct pgconn_env pg; /* POSTGRES_HOST/PORT/DB/USER/PASSWORD(_FILE) */
    uint16_t http_port;   /* WORKER_PORT, 8080 */
    int batch_size;       /* BATCH_SIZE, 500, 1..SETTINGS_MAX_BATCH */
};

/* Reads the variables above; stops at the first bad one. 0 or -EINVAL. */
int settings_load(struct settings *s);

#endif
