/* config_fuzz.c - libFuzzer target: environment values through the
 * config readers every service starts with (URLs, integers, ports,
 * strings, secrets from *_FILE files).
 *
 * Input: one byte picks the reader (its value modulo 5: URL, integer,
 * port, string, secret file), the rest is the variable's value (or the
 * secret file's content). Beyond "no crash", a value accepted must hold
 * what the caller relies on: a URL has a host and a port 1-65535, an
 * integer is in range, a secret is one line, a URL as shown
 * (config_redact_url()) holds no '@'. Refusals log one line (to
 * /dev/null here). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/config/config.h"
#include "lib/log/log.h"
#include "tests/fuzz/fuzz.h"

static const char *const SCHEMES[] = {"nats", "redis", "postgres"};

static char secret_path[256];
static char env_url[9000], env_num[9000], env_str[9000];

/* NAME=value in a buffer of its own, handed to putenv(): setenv() keeps
 * every old value (glibc never frees them), which over millions of runs
 * costs gigabytes and most of the time. */
static void put(char *slot, size_t n, const char *name, const char *v)
{
    snprintf(slot, n, "%s=%s", name, v);
    putenv(slot);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *dir = getenv("TEST_TMPDIR");
    int fd;

    snprintf(secret_path, sizeof(secret_path), "%s/config_fuzz.XXXXXX",
             dir && *dir ? dir : "/tmp");
    fd = mkstemp(secret_path);
    if (fd < 0)
        abort();
    close(fd);
    log_set_fd(open("/dev/null", O_WRONLY));
    return 0;
}

static void fuzz_url(const char *v, unsigned pick)
{
    const char *scheme = SCHEMES[pick % 3];
    struct config_url u;
    char shown[600];

    /* what a refusal logs: never a user:password@ part */
    config_redact_url(v, shown, sizeof(shown));
    FUZZ_CHECK(!strchr(shown, '@'));
    if (config_parse_url(v, scheme, 4222, &u))
        return;
    FUZZ_CHECK(strcmp(u.raw, v) == 0);
    FUZZ_CHECK(strcmp(u.scheme, scheme) == 0);
    FUZZ_CHECK(u.host[0] != '\0');
    FUZZ_CHECK(u.port >= 1);
    FUZZ_CHECK(strlen(u.host) < sizeof(u.host));
    FUZZ_CHECK(strlen(u.user) < sizeof(u.user));
    FUZZ_CHECK(strlen(u.password) < sizeof(u.password));
    FUZZ_CHECK(!strpbrk(u.host, "/?#@ \t\r\n"));
    /* config_url() reads the same thing from the environment */
    put(env_url, sizeof(env_url), "FUZZ_URL", v);
    FUZZ_CHECK(config_url("FUZZ_URL", "", scheme, 4222, &u) == 0);
}

static void fuzz_numbers(const char *v)
{
    long x;
    uint16_t port;

    put(env_num, sizeof(env_num), "FUZZ_NUM", v);
    if (config_long("FUZZ_NUM", 7, -5, 1000, &x) == 0)
        FUZZ_CHECK(x >= -5 && x <= 1000);
    if (config_port("FUZZ_NUM", 5000, &port) == 0)
        FUZZ_CHECK(port >= 1);
}

static void fuzz_str(const char *v)
{
    char out[16];

    put(env_str, sizeof(env_str), "FUZZ_STR", v);
    if (config_str("FUZZ_STR", "def", out, sizeof(out)) == 0)
        FUZZ_CHECK(strlen(out) < sizeof(out));
}

/* The secret file holds the raw bytes, as a mounted secret would. */
static void fuzz_secret(const uint8_t *p, size_t n)
{
    char out[64];
    FILE *f = fopen(secret_path, "wb");

    if (!f)
        abort();
    if (n && fwrite(p, 1, n, f) != n)
        abort();
    fclose(f);
    unsetenv("FUZZ_SECRET");
    setenv("FUZZ_SECRET_FILE", secret_path, 1); /* the same value: no leak */
    if (config_secret("FUZZ_SECRET", "", out, sizeof(out)) == 0) {
        FUZZ_CHECK(strlen(out) < sizeof(out));
        FUZZ_CHECK(!strpbrk(out, "\r\n"));
    }
    setenv("FUZZ_SECRET", "both", 1); /* NAME and NAME_FILE: refused */
    FUZZ_CHECK(config_secret("FUZZ_SECRET", "", out, sizeof(out)) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v;

    if (size < 1)
        return 0;
    v = malloc(size); /* the value, cut at a NUL as getenv() would */
    if (!v)
        abort();
    memcpy(v, data + 1, size - 1);
    v[size - 1] = '\0';
    switch (data[0] % 5) {
    case 0:
        fuzz_url(v, data[0] / 5);
        break;
    case 1:
    case 2:
        fuzz_numbers(v);
        break;
    case 3:
        fuzz_str(v);
        break;
    default:
        fuzz_secret(data + 1, size - 1);
    }
    free(v);
    return 0;
}
