/* capacity.h - how many WebSocket clients this host lets one result
 * process hold, so RESULT_MAX_CLIENTS never promises more than that.
 *
 * A client costs CAPACITY_THREADS_PER_CLIENT threads (its civetweb worker,
 * which reads it, and its hub writer), one descriptor, and the stacks of
 * those threads. capacity_read() gathers what the host allows; the pure
 * capacity_clients() turns that into a number of clients. No state. */
#ifndef RESULT_CAPACITY_H
#define RESULT_CAPACITY_H

#define CAPACITY_THREADS_PER_CLIENT 2
#define CAPACITY_NONE               (-1) /* no such limit */

struct capacity_limits {
    long threads;       /* more threads this process may start, or NONE */
    long nofile;        /* RLIMIT_NOFILE (soft, raised to the hard), or NONE */
    long long memory;   /* cgroup memory limit (bytes), or NONE */
    long client_stack;  /* stack bytes a client's threads reserve */
    long http_threads;  /* civetweb threads kept for plain HTTP */
    long fixed_fds;     /* descriptors that are not clients' */
    long long reserved; /* memory for everything but client stacks */
};

/* What fits: requested, or less, with *by naming the limit that bound it
 * ("threads", "descriptors", "memory"), or "" when nothing did. */
long capacity_clients(const struct capacity_limits *l, long requested,
                      const char **by);

/* Fills l from the host: threads from /proc/sys/kernel/threads-max less
 * the threads running (/proc/loadavg), RLIMIT_NPROC (when not root) less
 * ours, and the cgroup's pids.max less pids.current; descriptors from
 * RLIMIT_NOFILE (raising the soft limit to the hard one); memory from the
 * cgroup's memory.max (v2) or memory.limit_in_bytes (v1). The stack,
 * HTTP and reserve fields are left for the caller. */
void capacity_read(struct capacity_limits *l);

/* What fits of `requested` clients (RESULT_MAX_CLIENTS) on this host:
 * capacity_read() into a copy of costs (its client_stack, http_threads,
 * fixed_fds and reserved), then capacity_clients(). Logs the sizing, and
 * a warning naming the limit when it clamped. */
long capacity_fit(const struct capacity_limits *costs, long requested);

#endif
