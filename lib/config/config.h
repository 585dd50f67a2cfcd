/* config.h - reads settings from the environment, once, at start.
 *
 * Every reader takes the variable's name and a default, and on a bad value
 * logs one line naming the variable (event "config_invalid") and returns
 * -EINVAL; main then exits with CONFIG_EXIT. Nothing here keeps state. */
#ifndef LIB_CONFIG_H
#define LIB_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_EXIT 2 /* exit code for invalid configuration */

/* A parsed URL: scheme://[user][:password]@host[:port][/path]. */
struct config_url {
    char raw[512];
    char scheme[16];
    char user[64];
    char password[128];
    char host[256];
    uint16_t port;
};

/* String: the variable, or def when unset or empty. -EINVAL if too long. */
int config_str(const char *name, const char *def, char *out, size_t n);

/* Integer in [min, max]. */
int config_long(const char *name, long def, long min, long max, long *out);

/* TCP port, 1..65535. */
int config_port(const char *name, uint16_t def, uint16_t *out);

/* URL whose scheme must be `scheme`; a missing port becomes def_port. A
 * value refused is logged through config_redact_url(). */
int config_url(const char *name, const char *def, const char *scheme,
               uint16_t def_port, struct config_url *out);

/* Secret: the variable itself, or the first line of the file that
 * NAME_FILE names (as the official images do). Setting both is an error. */
int config_secret(const char *name, const char *def, char *out, size_t n);

/* Logs the config_invalid line for name (value shown as given: pass
 * "(not shown)" for a secret) and returns -EINVAL. */
int config_invalid(const char *name, const char *value, const char *why);

/* Parses `raw` as config_url() does, without logging. 0 or -EINVAL. */
int config_parse_url(const char *raw, const char *scheme, uint16_t def_port,
                     struct config_url *out);

/* Copies url into out without its user:password@ (everything between
 * "scheme://" and the last '@'), for logs, /readyz and config errors of
 * any URL, parsable or not (NATS_URL's entries, REDIS_URL...). out is ""
 * when it does not fit. */
void config_redact_url(const char *url, char *out, size_t n);

#endif
