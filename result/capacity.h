/* capacity.h - how many WebSocket clients this host lets one result
 * process hold, so RESULT_MAX_CLIENTS never promises more than that, and
 * is what the host allows when it is not set.
 *
 * A client costs one descriptor and client_bytes of memory (its state in
 * the loop and its socket in the kernel); no thread. capacity_read()
 * gathers what the host allows; the pure capacity_clients() turns that
 * into a number of clients. No state. */
#ifndef RESULT_CAPACITY_H
#define RESULT_CAPACITY_H

#define CAPACITY_NONE (-1)     /* no such limit */
#define CAPACITY_AUTO 1000000L /* RESULT_MAX_CLIENTS unset: what fits */
/* Threads beside civetweb's workers: main, tally, the loop, civetweb's
 * master. */
#define CAPACITY_OWN_THREADS 4

struct capacity_limits {
    long nofile;        /* RLIMIT_NOFILE (soft, raised to the hard), or NONE */
    long long memory;   /* cgroup memory limit (bytes), or NONE */
    long client_bytes;  /* memory one client costs */
    long http_threads;  /* civetweb threads (HTTP connections at once) */
    long fixed_fds;     /* descriptors that are not clients' */
    long long reserved; /* memory for everything but client stacks */
};

/* What fits: requested, or less, with *by naming the limit that bound it
 * ("descriptors", "memory"), or "" when nothing did. */
long capacity_clients(const struct capacity_limits *l, long requested,
                      const char **by);

/* Fills l from the host: descriptors from
 * RLIMIT_NOFILE (raising the soft limit to the hard one); memory from the
 * cgroup's memory.max (v2) or memory.limit_in_bytes (v1). The cost,
 * HTTP and reserve fields are left for the caller. */
void capacity_read(struct capacity_limits *l);

/* What fits of `requested` clients (RESULT_MAX_CLIENTS; CAPACITY_AUTO
 * when unset) on this host: capacity_read() into a copy of costs (its
 * client_bytes, http_threads, fixed_fds and reserved), then
 * capacity_clients(). Logs the sizing, and a warning naming the limit
 * when it clamped a number that was asked for. */
long capacity_fit(const struct capacity_limits *costs, long requested);

#endif
