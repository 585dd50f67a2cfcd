/* pgconn.h - the connection parameters every service uses to reach
 * Postgres, for PQconnectdbParams(keys, vals, 0): where to connect, plus
 * what makes a dead or silent peer an error within seconds instead of
 * the kernel's minutes or hours:
 *
 *   connect_timeout      5 s for a connection attempt
 *   keepalives_idle      10 s of silence before the first TCP keepalive,
 *   keepalives_interval  then every 5 s,
 *   keepalives_count     3 unanswered ones: the connection is dead (~25 s)
 *   tcp_user_timeout     10 s for sent data to be acknowledged (a query or
 *                        a commit into a silent network fails after 10 s,
 *                        not after ~15 minutes of retransmissions)
 *
 * Where to connect comes from the environment, read by pgconn_load() for
 * every program that talks to Postgres (worker, result, votectl):
 *
 *   POSTGRES_HOST       127.0.0.1
 *   POSTGRES_PORT       5432
 *   POSTGRES_DB         postgres (the worker also takes a conninfo here)
 *   POSTGRES_USER       postgres
 *   POSTGRES_PASSWORD   "", or the first line of POSTGRES_PASSWORD_FILE
 *
 * pgconn_load() and pgconn_params() fill caller-owned structs; the
 * params' arrays point into the struct and into the strings given, which
 * must outlive the connect call (libpq copies them). No allocation, no
 * state, thread-safe. */
#ifndef LIB_PGCONN_H
#define LIB_PGCONN_H

#include <stdint.h>

#define PGCONN_MAX_PARAMS 16

/* The variables above, as read. */
struct pgconn_env {
    char host[256];
    uint16_t port;
    char db[256];
    char user[64];
    char password[128];
};

/* Reads the variables above into e. 0, or -EINVAL after lib/config logged
 * the bad variable (the caller exits with CONFIG_EXIT). */
int pgconn_load(struct pgconn_env *e);

struct pgconn_target {
    const char *host;
    uint16_t port;
    const char *dbname;
    const char *user;
    const char *password;
    const char *application_name;
    const char *options; /* server options ("-c statement_timeout=..."), or
                            NULL */
};

struct pgconn_params {
    const char *keys[PGCONN_MAX_PARAMS]; /* NULL-terminated */
    const char *vals[PGCONN_MAX_PARAMS];
    char port[8];
};

void pgconn_params(struct pgconn_params *p, const struct pgconn_target *t);

/* The target of e, for application_name (and server options, or NULL). */
void pgconn_target_of(struct pgconn_target *t, const struct pgconn_env *e,
                      const char *application_name, const char *options);

/* The value of keyword key in p, or NULL (for logs and tests). */
const char *pgconn_param(const struct pgconn_params *p, const char *key);

#endif
