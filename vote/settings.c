/* settings.c - environment parsing; see settings.h. */
#include "vote/settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config/config.h"
#include "lib/jstream/jstream.h"
#include "lib/labels/labels.h"
#include "lib/natsconn/natsconn.h"

/* REDIS_URL, then REDIS_USER and REDIS_PASSWORD(_FILE): the credentials
 * vote AUTHs with (an ACL user, compose/redis/users.acl). Either in the
 * URL or in the variables, not both. */
static int load_redis(struct config_url *u)
{
    char user[sizeof(u->user)], password[sizeof(u->password)];

    if (config_url("REDIS_URL", "redis://127.0.0.1:6379", "redis", 6379, u) ||
        config_str("REDIS_USER", "", user, sizeof(user)) ||
        config_secret("REDIS_PASSWORD", "", password, sizeof(password)))
        return -EINVAL;
    if (!user[0] && !password[0])
        return 0;
    if (u->user[0] || u->password[0])
        return config_invalid("REDIS_USER", user,
                              "set credentials either in REDIS_URL or in "
                              "REDIS_USER and REDIS_PASSWORD, not both");
    if (!password[0])
        return config_invalid("REDIS_PASSWORD", "(not shown)",
                              "must be set (or REDIS_PASSWORD_FILE) with "
                              "REDIS_USER");
    memcpy(u->user, user, sizeof(user));
    memcpy(u->password, password, sizeof(password));
    return 0;
}

/* VOTE_RATE_PER_MIN, VOTE_RATE_BURST, VOTE_TRUSTED_PROXIES. */
static int load_rate(struct settings *s)
{
    long per_min, burst;

    if (config_long("VOTE_RATE_PER_MIN", 0, 0, 1000000, &per_min) ||
        config_long("VOTE_RATE_BURST", 20, 1, 1000000, &burst))
        return -EINVAL;
    s->rate_per_min = (unsigned)per_min;
    s->rate_burst = (unsigned)burst;
    return clientaddr_load("VOTE_TRUSTED_PROXIES", s->trusted, &s->n_trusted);
}

int settings_load(struct settings *s)
{
    long threads, window;

    memset(s, 0, sizeof(*s));
    if (config_str("LOG_LEVEL", "info", s->log_level, sizeof(s->log_level)) ||
        config_port("PORT", SETTINGS_PORT, &s->port) ||
        config_long("VOTE_THREADS", 64, 4, 4096, &threads) ||
        config_long("VOTE_DUPLICATE_WINDOW_S", 5, 1, 3600, &window) ||
        natsconn_load(&s->nats) || jstream_settings_load(&s->streams) ||
        load_redis(&s->redis) ||
        config_str("UI_DIR", "", s->ui_dir, sizeof(s->ui_dir)) ||
        labels_load(&s->labels) || load_rate(s))
        return -EINVAL;
    s->threads = (unsigned)threads;
    s->dup_window_s = (unsigned)window;
    return 0;
}
