/* settings.h - the vote service's configuration, read from the
 * environment once at start (see docs/conventions.md) and read-only
 * after. */
#ifndef VOTE_SETTINGS_H
#define VOTE_SETTINGS_H

#include <stdint.h>

#include "lib/clientaddr/clientaddr.h"
#include "lib/config/config.h"
#include "lib/jstream/jstream.h"
#include "lib/natsconn/natsconn.h"
#include "proto/contract.h"

struct settings {
    uint16_t port;                    /* PORT, 5000 */
    unsigned threads;                 /* VOTE_THREADS, 64 */
    unsigned dup_window_s;            /* VOTE_DUPLICATE_WINDOW_S, 5 */
    struct natsconn nats;             /* NATS_URL, NATS_USER, ... */
    struct jstream_settings streams;  /* NATS_REPLICAS, VOTES_MAX_*, ... */
    struct config_url redis;          /* REDIS_URL, REDIS_USER, ... */
    char ui_dir[256];                 /* UI_DIR, "" when unset */
    char label_a[CONTRACT_LABEL_MAX]; /* OPTION_A, "Cats" */
    char label_b[CONTRACT_LABEL_MAX]; /* OPTION_B, "Dogs" */
    char log_level[16];               /* LOG_LEVEL, "" means info */
    unsigned rate_per_min;            /* VOTE_RATE_PER_MIN, 0: no limit */
    unsigned rate_burst;              /* VOTE_RATE_BURST, 20 */
    int n_trusted;                    /* VOTE_TRUSTED_PROXIES, none */
    struct clientaddr_net trusted[CLIENTADDR_MAX_TRUSTED];
};

/* 0, or -EINVAL after logging the first bad variable. */
int settings_load(struct settings *s);

#endif
