/* pgconn.c - see pgconn.h. */
#include "lib/pgconn/pgconn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/config/config.h"

int pgconn_load(struct pgconn_env *e)
{
    memset(e, 0, sizeof(*e));
    if (config_str("POSTGRES_HOST", "127.0.0.1", e->host, sizeof(e->host)) ||
        config_port("POSTGRES_PORT", 5432, &e->port) ||
        config_str("POSTGRES_DB", "postgres", e->db, sizeof(e->db)) ||
        config_str("POSTGRES_USER", "postgres", e->user, sizeof(e->user)) ||
        config_secret("POSTGRES_PASSWORD", "", e->password,
                      sizeof(e->password)))
        return -EINVAL;
    return 0;
}

void pgconn_target_of(struct pgconn_target *t, const struct pgconn_env *e,
                      const char *application_name, const char *options)
{
    memset(t, 0, sizeof(*t));
    t->host = e->host;
    t->port = e->port;
    t->dbname = e->db;
    t->user = e->user;
    t->password = e->password;
    t->application_name = application_name;
    t->options = options;
}

static void add(struct pgconn_params *p, int *n, const char *k, const char *v)
{
    p->keys[*n] = k;
    p->vals[*n] = v;
    (*n)++;
}

void pgconn_params(struct pgconn_params *p, const struct pgconn_target *t)
{
    int n = 0;

    memset(p, 0, sizeof(*p));
    snprintf(p->port, sizeof(p->port), "%u", t->port);
    add(p, &n, "host", t->host);
    add(p, &n, "port", p->port);
    add(p, &n, "dbname", t->dbname);
    add(p, &n, "user", t->user);
    add(p, &n, "password", t->password);
    add(p, &n, "application_name", t->application_name);
    add(p, &n, "connect_timeout", "5");
    add(p, &n, "keepalives", "1");
    add(p, &n, "keepalives_idle", "10");
    add(p, &n, "keepalives_interval", "5");
    add(p, &n, "keepalives_count", "3");
    add(p, &n, "tcp_user_timeout", "10000");
    if (t->options)
        add(p, &n, "options", t->options);
    p->keys[n] = NULL;
    p->vals[n] = NULL;
}

const char *pgconn_param(const struct pgconn_params *p, const char *key)
{
    int i;

    for (i = 0; p->keys[i]; i++)
        if (strcmp(p->keys[i], key) == 0)
            return p->vals[i];
    return NULL;
}
