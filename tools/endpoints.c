/* endpoints.c - see endpoints.h. */
#include "tools/endpoints.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int endpoints_path(char *out, size_t n)
{
    char exe[PATH_MAX], *slash;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    int w;

    if (len <= 0)
        return -ENOENT;
    exe[len] = '\0';
    /* /x/.data/bin/votectl -> /x/.data */
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(exe, '/');
    if (!slash)
        return -ENOENT;
    *slash = '\0';
    w = snprintf(out, n, "%s/%s", exe, ENDPOINTS_FILE);
    if (w < 0 || (size_t)w >= n)
        return -ENAMETOOLONG;
    return access(out, R_OK) == 0 ? 0 : -ENOENT;
}

/* Splits "KEY=VALUE\n" in place; NULL key for blanks, comments, junk. */
static void split(char *line, char **key, char **val)
{
    char *eq;

    *key = NULL;
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '#' || line[0] == '\0')
        return;
    eq = strchr(line, '=');
    if (!eq || eq == line)
        return;
    *eq = '\0';
    *key = line;
    *val = eq + 1;
}

int endpoints_load(const char *path)
{
    char line[1024], *key, *val;
    const char *cur;
    FILE *f = fopen(path, "r");

    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        split(line, &key, &val);
        if (!key)
            continue;
        cur = getenv(key);
        if (!cur || !*cur)
            setenv(key, val, 1);
    }
    fclose(f);
    return 0;
}

/* 1 when the file sets name to value. */
static int file_has(const char *path, const char *name, const char *value)
{
    char line[1024], *key, *val;
    FILE *f = path ? fopen(path, "r") : NULL;
    int found = 0;

    if (!f)
        return 0;
    while (!found && fgets(line, sizeof(line), f)) {
        split(line, &key, &val);
        found = key && strcmp(key, name) == 0 && strcmp(val, value) == 0;
    }
    fclose(f);
    return found;
}

void endpoints_origin(const char *path, const char *name, char *out, size_t n)
{
    const char *cur = getenv(name);

    if (!cur || !*cur)
        snprintf(out, n, "%s unset: the default", name);
    else if (file_has(path, name, cur))
        snprintf(out, n, "%s from %s (tools/run)", name, path);
    else
        snprintf(out, n, "%s from the environment", name);
}
