/* settings.h - the vote service's environment, read once at start.
 *
 * settings_load() fills a caller-owned struct that is read-only after; a
 * bad variable is logged by lib/config (one line naming it),
 * settings_load() returns -EINVAL and main exits with CONFIG_EXIT. It has
 * no other effect: main gives log_level to log_init() itself. */
#ifndef VOTE_SETTINGS_H
#define VOTE_SETTINGS_H

#include <stdint.h>

#include "lib/clientaddr/clientaddr.h"
#include "lib/config/config.h"
#include "lib/jstream/jstream.h"
#include "lib/labels/labels.h"
#include "lib/natsconn/natsconn.h"

#define SETTINGS_PORT 5000 /* PORT unset; --healthcheck too */

struct settings {
    uint16_t port;                   /* PORT, SETTINGS_PORT */
    unsigned threads;                /* VOTE_THREADS, 64 */
    unsigned dup_window_s;           /* VOTE_DUPLICATE_WINDOW_S, 5 */
    struct natsconn nats;            /* NATS_URL, NATS_USER, ... */
    struct jstream_settings streams; /* NATS_REPLICAS, VOTES_MAX_*, ... */
    struct config_url redis;         /* REDIS_URL, REDIS_USER, ... */
    char ui_dir[256];                /* UI_DIR, "" when unset */
    struct labels labels;            /* OPTION_A, OPTION_B (lib/labels) */
    char log_level[16];              /* LOG_LEVEL, info */
    unsigned rate_per_min;           /* VOTE_RATE_PER_MIN, 0: no limit */
    unsigned rate_burst;             /* VOTE_RATE_BURST, 20 */
    int n_trusted;                   /* VOTE_TRUSTED_PROXIES, none */
    struct clientaddr_net trusted[CLIENTADDR_MAX_TRUSTED];
};

/* Reads the variables above; stops at the first bad one. 0 or -EINVAL. */
int settings_load(struct settings *s);

#endif
