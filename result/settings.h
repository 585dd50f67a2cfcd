/* settings.h - result's environment, read once at start.
 *
 * settings_load() fills a caller-owned struct that is read-only after; a
 * bad variable is logged by lib/config (one line naming it),
 * settings_load() returns -EINVAL and main exits with CONFIG_EXIT. It has
 * no other effect: main gives log_level to log_init() itself. */
#ifndef RESULT_SETTINGS_H
#define RESULT_SETTINGS_H

#include <stdint.h>

#include "lib/clientaddr/clientaddr.h"
#include "lib/labels/labels.h"
#include "lib/pgconn/pgconn.h"
#include "result/capacity.h"

#define SETTINGS_PORT 5000 /* PORT unset; --healthcheck too */
/* RESULT_MAX_PER_ADDR unset: max_clients / SETTINGS_PER_ADDR_SHARE (at
 * least 1) once max_clients is sized; see docs/decisions.md. */
#define SETTINGS_PER_ADDR_AUTO  (-1L)
#define SETTINGS_PER_ADDR_SHARE 4

struct settings {
    char log_level[16];   /* LOG_LEVEL, info */
    uint16_t port;        /* PORT, 5000 */
    struct pgconn_env pg; /* POSTGRES_* (lib/pgconn) */
    char ui_dir[512];     /* UI_DIR, "": no static files */
    struct labels labels; /* OPTION_A, OPTION_B (lib/labels) */
    /* RESULT_MAX_CLIENTS, 1..1000000; unset: what the descriptor limit
     * (and a cgroup memory limit) allows, CAPACITY_AUTO until sized */
    long max_clients;
    /* RESULT_MAX_PER_ADDR, 0..1000000 (0: no cap); unset: a quarter of
     * max_clients, SETTINGS_PER_ADDR_AUTO until sized */
    long max_per_addr;
    long ws_ping_ms; /* RESULT_WS_PING_MS, 100..3600000 */
    /* RESULT_TRUSTED_PROXIES (lib/clientaddr), none */
    int n_trusted;
    struct clientaddr_net trusted[CLIENTADDR_MAX_TRUSTED];
};

/* Reads the variables above; stops at the first bad one. 0 or -EINVAL. */
int settings_load(struct settings *s);

/* Sets max_clients once sized (capacity_fit()), and max_per_addr from it
 * when RESULT_MAX_PER_ADDR was unset. */
void settings_size(struct settings *s, long max_clients);

#endif
