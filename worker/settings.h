/* settings.h - the worker's environment, read once at start.
 *
 * settings_load() fills a caller-owned struct that is read-only after;
 * a bad variable is logged by lib/config (one line naming it) and
 * settings_load() returns -EINVAL, and main exits with CONFIG_EXIT. */
#ifndef WORKER_SETTINGS_H
#define WORKER_SETTINGS_H

#include <stdint.h>

#define SETTINGS_MAX_BATCH 5000

struct settings {
    char log_level[16];
    char nats_url[512];
    char pg_host[256];
    uint16_t pg_port;
    char pg_db[64];
    char pg_user[64];
    char pg_password[128];
    uint16_t http_port;
    int batch_size;
};

/* NATS_URL, POSTGRES_HOST/PORT/DB/USER/PASSWORD(+_FILE), WORKER_PORT,
 * BATCH_SIZE (1..SETTINGS_MAX_BATCH), LOG_LEVEL. 0 or -EINVAL. */
int settings_load(struct settings *s);

#endif
