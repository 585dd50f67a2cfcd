/* capacity.c - host limits -> WebSocket clients; see capacity.h. */
#include "result/capacity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/log/log.h"

long capacity_clients(const struct capacity_limits *l, long requested,
                      const char **by)
{
    long n = requested, fit;

    *by = "";
    if (l->nofile != CAPACITY_NONE) {
        fit = l->nofile - l->fixed_fds - l->http_threads;
        if (fit < n) {
            n = fit;
            *by = "descriptors";
        }
    }
    if (l->memory != CAPACITY_NONE && l->client_bytes > 0) {
        fit = (long)((l->memory - l->reserved) / l->client_bytes);
        if (fit < n) {
            n = fit;
            *by = "memory";
        }
    }
    return n < 1 ? 1 : n; /* one client, even on a starved host */
}

/* The first number in a file, or CAPACITY_NONE ("max", missing). */
static long long read_number(const char *path, const char *fmt)
{
    long long v;
    FILE *f = fopen(path, "r");
    int ok;

    if (!f)
        return CAPACITY_NONE;
    ok = fscanf(f, fmt, &v) == 1;
    fclose(f);
    return ok ? v : CAPACITY_NONE;
}

/* The folder of this process's cgroup for a v1 controller ("memory"),
 * or the v2 one (controller ""); "" when there is none. */
static void cgroup_dir(const char *controller, char *dir, size_t n)
{
    char line[512], *ctrls, *path;
    FILE *f = fopen("/proc/self/cgroup", "r");

    dir[0] = '\0';
    if (!f)
        return;
    while (!dir[0] && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        ctrls = strchr(line, ':'); /* "id:controllers:path" */
        path = ctrls ? strchr(ctrls + 1, ':') : NULL;
        if (!path)
            continue;
        *path++ = '\0';
        ctrls++;
        if (controller[0] ? strstr(ctrls, controller) == NULL : ctrls[0])
            continue;
        if (snprintf(dir, n, "/sys/fs/cgroup%s%s%.400s",
                     controller[0] ? "/" : "", controller,
                     strcmp(path, "/") ? path : "") >= (int)n)
            dir[0] = '\0';
    }
    fclose(f);
}

/* A number from the v2 cgroup, else from the v1 controller's. */
static long long cgroup_file(const char *v2_name, const char *controller,
                             const char *v1_name)
{
    char dir[512], path[640];
    long long v = CAPACITY_NONE;

    cgroup_dir("", dir, sizeof(dir));
    if (dir[0]) {
        snprintf(path, sizeof(path), "%s/%s", dir, v2_name);
        v = read_number(path, "%lld");
    }
    if (v != CAPACITY_NONE)
        return v;
    cgroup_dir(controller, dir, sizeof(dir));
    if (!dir[0])
        return CAPACITY_NONE;
    snprintf(path, sizeof(path), "%s/%s", dir, v1_name);
    return read_number(path, "%lld");
}

static long nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl))
        return CAPACITY_NONE;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return rl.rlim_cur == RLIM_INFINITY ? CAPACITY_NONE : (long)rl.rlim_cur;
}

void capacity_read(struct capacity_limits *l)
{
    long long mem;

    l->nofile = nofile();
    mem = cgroup_file("memory.max", "memory", "memory.limit_in_bytes");
    /* v2 says "max", v1 a huge number, for no limit */
    l->memory = (mem > 0 && mem < (1LL << 50)) ? mem : CAPACITY_NONE;
}

long capacity_fit(const struct capacity_limits *costs, long requested)
{
    struct capacity_limits l = *costs;
    const char *by;
    long n;

    capacity_read(&l);
    n = capacity_clients(&l, requested, &by);
    if (n < requested && requested != CAPACITY_AUTO)
        log_warn("max_clients_clamped",
                 LOG_STR("variable", "RESULT_MAX_CLIENTS"),
                 LOG_INT("requested", requested), LOG_INT("allowed", n),
                 LOG_STR("limited_by", by),
                 LOG_STR("hint", "serve more viewers with more result "
                                 "replicas"));
    log_info("sized", LOG_INT("max_clients", n),
             LOG_BOOL("auto", requested == CAPACITY_AUTO),
             LOG_STR("limited_by", by),
             LOG_INT("threads", l.http_threads + CAPACITY_OWN_THREADS),
             LOG_INT("client_kb", (n * l.client_bytes) >> 10),
             LOG_INT("descriptors", n + l.fixed_fds + l.http_threads),
             LOG_INT("nofile", l.nofile), LOG_INT("memory_limit", l.memory));
    return n;
}
