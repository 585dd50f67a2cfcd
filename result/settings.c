/* settings.c - reads result's environment; see settings.h. */
#include "result/settings.h"

#include <errno.h>
#include <string.h>

#include "lib/config/config.h"
#include "lib/labels/labels.h"
#include "result/api.h"

int settings_load(struct settings *s)
{
    memset(s, 0, sizeof(*s));
    if (config_str("LOG_LEVEL", "info", s->log_level, sizeof(s->log_level)) ||
        config_port("PORT", SETTINGS_PORT, &s->port) || pgconn_load(&s->pg) ||
        config_str("UI_DIR", "", s->ui_dir, sizeof(s->ui_dir)) ||
        labels_load(&s->labels) ||
        config_long("RESULT_MAX_CLIENTS", CAPACITY_AUTO, 1, CAPACITY_AUTO,
                    &s->max_clients) ||
        config_long("RESULT_MAX_PER_ADDR", SETTINGS_PER_ADDR_AUTO, 0,
                    CAPACITY_AUTO, &s->max_per_addr) ||
        config_long("RESULT_WS_PING_MS", API_DEFAULT_PING_MS, 100, 3600000,
                    &s->ws_ping_ms) ||
        clientaddr_load("RESULT_TRUSTED_PROXIES", s->trusted, &s->n_trusted))
        return -EINVAL;
    return 0;
}

void settings_size(struct settings *s, long max_clients)
{
    s->max_clients = max_clients;
    if (s->max_per_addr != SETTINGS_PER_ADDR_AUTO)
        return;
    s->max_per_addr = max_clients / SETTINGS_PER_ADDR_SHARE;
    if (s->max_per_addr < 1)
        s->max_per_addr = 1;
}
