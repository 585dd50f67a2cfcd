/* settings.h - result's environment, read once at start.
 *
 * settings_load() fills a caller-owned struct that is read-only after; a
 * bad variable is logged by lib/config (one line naming it), and main
 * exits with CONFIG_EXIT. */
#ifndef RESULT_SETTINGS_H
#define RESULT_SETTINGS_H

#include <stdint.h>

#include "lib/pgconn/pgconn.h"
#include "proto/contract.h"
#include "result/capacity.h"

#define SETTINGS_DEFAULT_PORT 5000

struct settings {
    char log_level[16];               /* LOG_LEVEL, info */
    uint16_t port;                    /* PORT, 5000 */
    struct pgconn_env pg;             /* POSTGRES_* (lib/pgconn) */
    char ui_dir[512];                 /* UI_DIR, "": no static files */
    char label_a[CONTRACT_LABEL_MAX]; /* OPTION_A, Cats */
    char label_b[CONTRACT_LABEL_MAX]; /* OPTION_B, Dogs */
    /* RESULT_MAX_CLIENTS, 1..1000000; unset: what the descriptor limit
     * (and a cgroup memory limit) allows, CAPACITY_AUTO until sized */
    long max_clients;
    long max_per_addr; /* RESULT_MAX_PER_ADDR, 0..1000000 (0: no cap) */
    long ws_ping_ms;   /* RESULT_WS_PING_MS, 100..3600000 */
};

/* Reads the variables above (and LOG_LEVEL first, so that later errors
 * are logged at that level). 0 or -EINVAL. */
int settings_load(struct settings *s);

#endif
