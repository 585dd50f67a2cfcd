/* settings.c - environment parsing; see settings.h. */
#include "vote/settings.h"

#include <errno.h>
#include <string.h>

#include "lib/config/config.h"

int settings_load(struct settings *s)
{
    long threads, window;
    int rc;

    memset(s, 0, sizeof(*s));
    rc = config_port("PORT", 5000, &s->port);
    if (!rc)
        rc = config_long("VOTE_THREADS", 64, 4, 4096, &threads);
    if (!rc)
        rc = config_long("VOTE_DUPLICATE_WINDOW_S", 5, 1, 3600, &window);
    if (!rc)
        rc = config_url("NATS_URL", "nats://127.0.0.1:4222", "nats", 4222,
                        &s->nats);
    if (!rc)
        rc = config_url("REDIS_URL", "redis://127.0.0.1:6379", "redis", 6379,
                        &s->redis);
    if (!rc)
        rc = config_str("UI_DIR", "", s->ui_dir, sizeof(s->ui_dir));
    if (!rc)
        rc = config_str("OPTION_A", "Cats", s->label_a, sizeof(s->label_a));
    if (!rc)
        rc = config_str("OPTION_B", "Dogs", s->label_b, sizeof(s->label_b));
    if (!rc)
        rc = config_str("LOG_LEVEL", "", s->log_level, sizeof(s->log_level));
    if (rc)
        return -EINVAL;
    s->threads = (unsigned)threads;
    s->dup_window_s = (unsigned)window;
    return 0;
}
