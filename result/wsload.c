/* wsload.c - load and latency tool for result's WebSocket (a bench
 * helper: tools/bench runs it for the client-count and latency targets).
 *
 *   wsload --port 5001 --clients 1000 --duration 10
 *       connects N clients (one thread, epoll), counts frames, and prints
 *       one JSON object: clients connected, frames, how many clients ended
 *       on the highest total seen ("updated").
 *   wsload ... --pg "host=127.0.0.1 port=5432 user=postgres" --changes 500
 *          --rate 100
 *       also plays the worker: once every client has its first snapshot,
 *       commits `changes` batches (+1 for "a", NOTIFY votes_changed) at
 *       `rate` a second, and reports the latency from each commit's return
 *       to each client's first frame showing it (p50/p90/p99/max, ms).
 *       It writes tallies directly: use a throwaway database only.
 *   --frames-out FILE   one line per text frame: client, unix ms, total
 *       (to match frames with vote acks taken elsewhere).
 *
 * Answers pings, masks what it sends (as a client must), and closes every
 * connection with a close frame at the end. Exit 0, or 1 when a client
 * failed to connect or was closed early, 2 on bad arguments. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "lib/mono/mono.h"

#define BUF_SIZE    8192
#define MAX_CLIENTS 60000
#define MAX_SAMPLES (16u << 20)

enum { ST_HANDSHAKE, ST_OPEN, ST_CLOSED };

struct client {
    int fd, state;
    size_t len;
    long long total; /* "total" of the last frame, -1 before one */
    uint32_t seen;   /* changes seen (total - base) */
    unsigned frames;
    char buf[BUF_SIZE];
};

struct load {
    const char *host, *path, *pg, *frames_out;
    uint16_t port;
    unsigned nclients, duration_s, changes, rate;
    struct client *clients;
    FILE *out;
    int epfd;
    unsigned connected, failed, closed_early, first_frames;
    unsigned long long frames, bytes;
    long long base;    /* total before the first change */
    uint64_t *ack_ms;  /* [changes]: when each commit returned */
    uint32_t *seen_ms; /* [clients * changes]: first frame showing it */
    volatile int driver_done, started;
    int64_t t0;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Sends a masked client frame (the mask is 0: allowed, and cheap). */
static void send_frame(struct client *c, int opcode, const char *data,
                       size_t len)
{
    unsigned char f[6 + 125];

    if (len > 125)
        len = 125;
    f[0] = (unsigned char)(0x80 | opcode);
    f[1] = (unsigned char)(0x80 | len);
    memset(f + 2, 0, 4);
    memcpy(f + 6, data, len);
    if (write(c->fd, f, 6 + len) < 0)
        c->state = ST_CLOSED;
}

static int open_client(struct load *l, struct client *c)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(l->port)};
    struct epoll_event ev = {.events = EPOLLIN};
    char req[512];
    int n, one = 1;

    c->total = -1;
    if (inet_pton(AF_INET, l->host, &a.sin_addr) != 1)
        return -EINVAL;
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd < 0)
        return -errno;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)))
        return -errno;
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                 l->path, l->host, l->port);
    if (write(c->fd, req, (size_t)n) != n)
        return -EIO;
    fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
    ev.data.ptr = c;
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, c->fd, &ev) ? -errno : 0;
}

static void record_text(struct load *l, struct client *c, const char *p,
                        size_t n)
{
    char tmp[BUF_SIZE + 1];
    const char *t;
    uint32_t k, upto;

    memcpy(tmp, p, n);
    tmp[n] = '\0';
    t = strstr(tmp, "\"total\":");
    c->total = t ? strtoll(t + 8, NULL, 10) : -1;
    if (c->frames++ == 0)
        l->first_frames++;
    l->frames++;
    if (l->out)
        fprintf(l->out, "%ld %llu %lld\n", (long)(c - l->clients),
                (unsigned long long)wall_ms(), c->total);
    if (!l->seen_ms || !l->started || c->total <= l->base)
        return;
    upto = (uint32_t)(c->total - l->base);
    if (upto > l->changes)
        upto = l->changes;
    for (k = c->seen; k < upto; k++)
        l->seen_ms[(size_t)(c - l->clients) * l->changes + k] =
            (uint32_t)(mono_ms() - l->t0) + 1; /* 0: not seen */
    if (upto > c->seen)
        c->seen = upto;
}

/* Length of the frame at p (header + payload), 0 if incomplete. */
static size_t frame_size(const unsigned char *p, size_t n, size_t *hdr,
                         size_t *plen)
{
    size_t h = 2, len;

    if (n < 2)
        return 0;
    len = p[1] & 0x7f;
    if (len == 126) {
        if (n < 4)
            return 0;
        len = ((size_t)p[2] << 8) | p[3];
        h = 4;
    } else if (len == 127) {
        return (size_t)-1; /* never this big from result */
    }
    *hdr = h;
    *plen = len;
    return n >= h + len ? h + len : 0;
}

static void handle_frames(struct load *l, struct client *c)
{
    const unsigned char *p = (const unsigned char *)c->buf;
    size_t off = 0, size, hdr, plen;
    int op;

    for (;;) {
        size = frame_size(p + off, c->len - off, &hdr, &plen);
        if (size == (size_t)-1 || (size == 0 && c->len >= BUF_SIZE - 1)) {
            c->state = ST_CLOSED;
            return;
        }
        if (size == 0)
            break;
        op = p[off] & 0x0f;
        if (op == 1)
            record_text(l, c, c->buf + off + hdr, plen);
        else if (op == 9)
            send_frame(c, 10, c->buf + off + hdr, plen); /* pong */
        else if (op == 8)
            c->state = ST_CLOSED;
        off += size;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static void handle_handshake(struct load *l, struct client *c)
{
    char *end;

    c->buf[c->len] = '\0';
    end = strstr(c->buf, "\r\n\r\n");
    if (!end)
        return;
    if (strncmp(c->buf, "HTTP/1.1 101", 12) != 0) {
        c->state = ST_CLOSED;
        l->failed++;
        return;
    }
    c->state = ST_OPEN;
    l->connected++;
    end += 4;
    c->len -= (size_t)(end - c->buf);
    memmove(c->buf, end, c->len);
}

static void on_readable(struct load *l, struct client *c)
{
    ssize_t n;

    for (;;) {
        n = read(c->fd, c->buf + c->len, BUF_SIZE - 1 - c->len);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            if (c->state == ST_OPEN)
                l->closed_early++;
            else if (c->state == ST_HANDSHAKE)
                l->failed++;
            c->state = ST_CLOSED;
        }
        if (n <= 0)
            break;
        c->len += (size_t)n;
        l->bytes += (unsigned long long)n;
        if (c->state == ST_HANDSHAKE)
            handle_handshake(l, c);
        if (c->state == ST_OPEN)
            handle_frames(l, c);
        if (c->state == ST_CLOSED)
            break;
    }
    if (c->state == ST_CLOSED)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL);
}

static void poll_once(struct load *l, int ms)
{
    struct epoll_event ev[256];
    int n, i;

    n = epoll_wait(l->epfd, ev, 256, ms);
    for (i = 0; i < n; i++)
        on_readable(l, ev[i].data.ptr);
}

static long long read_total(PGconn *pg)
{
    PGresult *r = PQexec(pg, "SELECT coalesce(sum(count), 0) FROM tallies");
    long long t = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        t = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return t;
}

/* The worker's part: `changes` committed batches at `rate` a second. */
static void *driver_main(void *arg)
{
    struct load *l = arg;
    PGconn *pg = PQconnectdb(l->pg);
    struct timespec gap = {0, (long)(1000000000L / l->rate)};
    PGresult *r;
    unsigned k;

    for (k = 0; k < l->changes && PQstatus(pg) == CONNECTION_OK; k++) {
        r = PQexec(pg, "BEGIN; INSERT INTO tallies VALUES ('a', 1)"
                       " ON CONFLICT (vote) DO UPDATE"
                       " SET count = tallies.count + 1;"
                       " NOTIFY votes_changed; COMMIT");
        l->ack_ms[k] = mono_ms() - l->t0;
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fprintf(stderr, "wsload: %s", PQerrorMessage(pg));
        PQclear(r);
        nanosleep(&gap, NULL);
    }
    PQfinish(pg);
    __atomic_store_n(&l->driver_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

    return x < y ? -1 : x > y;
}

/* Latency samples: first frame showing change k, minus k's commit. */
static void print_latency(struct load *l)
{
    size_t n = 0, missed = 0, i, k;
    uint32_t *s = malloc(sizeof(*s) * (size_t)l->nclients * l->changes + 1);
    uint32_t seen;

    for (i = 0; s && i < l->nclients; i++) {
        for (k = 0; l->clients[i].frames && k < l->changes; k++) {
            seen = l->seen_ms[i * l->changes + k];
            if (!seen--) {
                missed++;
                continue;
            }
            s[n++] = seen > l->ack_ms[k] ? seen - (uint32_t)l->ack_ms[k] : 0;
        }
    }
    if (!s || n == 0) {
        printf(",\"latency_ms\":null,\"missed\":%zu", missed);
        free(s);
        return;
    }
    qsort(s, n, sizeof(*s), cmp_u32);
    printf(",\"changes\":%u,\"latency_ms\":{\"samples\":%zu,\"p50\":%u,"
           "\"p90\":%u,\"p99\":%u,\"max\":%u},\"missed\":%zu",
           l->changes, n, s[n / 2], s[n * 9 / 10], s[n * 99 / 100], s[n - 1],
           missed);
    free(s);
}

static void print_report(struct load *l, uint64_t connect_ms)
{
    long long top = -1;
    unsigned i, updated = 0;

    for (i = 0; i < l->nclients; i++)
        if (l->clients[i].total > top)
            top = l->clients[i].total;
    for (i = 0; i < l->nclients; i++)
        updated += l->clients[i].total == top && top >= 0;
    printf("{\"clients\":%u,\"connected\":%u,\"failed\":%u,"
           "\"closed_early\":%u,\"connect_ms\":%llu,\"frames\":%llu,"
           "\"bytes\":%llu,\"final_total\":%lld,\"updated\":%u",
           l->nclients, l->connected, l->failed, l->closed_early,
           (unsigned long long)connect_ms, l->frames, l->bytes, top, updated);
    if (l->seen_ms)
        print_latency(l);
    printf("}\n");
}

static void usage(void)
{
    fprintf(stderr,
            "usage: wsload [--host H] [--port P] [--path /api/results/ws]\n"
            "              [--clients N] [--duration S] [--frames-out FILE]\n"
            "              [--pg CONNINFO --changes N --rate PER_S]\n");
}

static int parse_args(struct load *l, int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", 1, 0, 'h'},       {"port", 1, 0, 'p'},
        {"path", 1, 0, 'P'},       {"clients", 1, 0, 'c'},
        {"duration", 1, 0, 'd'},   {"pg", 1, 0, 'g'},
        {"changes", 1, 0, 'n'},    {"rate", 1, 0, 'r'},
        {"frames-out", 1, 0, 'o'}, {0, 0, 0, 0}};
    int o;

    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'h':
            l->host = optarg;
            break;
        case 'p':
            l->port = (uint16_t)strtoul(optarg, NULL, 10);
            break;
        case 'P':
            l->path = optarg;
            break;
        case 'c':
            l->nclients = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'd':
            l->duration_s = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'g':
            l->pg = optarg;
            break;
        case 'n':
            l->changes = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'r':
            l->rate = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'o':
            l->frames_out = optarg;
            break;
        default:
            return -EINVAL;
        }
    }
    if (!l->port || !l->nclients || l->nclients > MAX_CLIENTS || !l->rate ||
        (l->pg &&
         (!l->changes || (size_t)l->nclients * l->changes > MAX_SAMPLES)))
        return -EINVAL;
    return 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Connects everyone, then waits up to 10 s for the first snapshots. */
static uint64_t connect_all(struct load *l)
{
    int64_t t = mono_ms(), end;
    unsigned i;

    for (i = 0; i < l->nclients; i++) {
        if (open_client(l, &l->clients[i])) {
            l->clients[i].state = ST_CLOSED;
            l->failed++;
        }
        if (i % 64 == 63)
            poll_once(l, 0);
    }
    end = mono_ms() + 10000;
    while (l->first_frames < l->nclients - l->failed && mono_ms() < end)
        poll_once(l, 50);
    return mono_ms() - t;
}

static void run_changes(struct load *l)
{
    PGconn *pg = PQconnectdb(l->pg);
    pthread_t driver;
    int64_t end;

    l->base = read_total(pg);
    PQfinish(pg);
    l->ack_ms = calloc(l->changes, sizeof(*l->ack_ms));
    l->seen_ms = calloc((size_t)l->nclients * l->changes, sizeof(uint32_t));
    if (l->base < 0 || !l->ack_ms || !l->seen_ms) {
        fprintf(stderr, "wsload: no tallies at %s\n", l->pg);
        exit(1);
    }
    l->started = 1;
    pthread_create(&driver, NULL, driver_main, l);
    while (!__atomic_load_n(&l->driver_done, __ATOMIC_ACQUIRE))
        poll_once(l, 20);
    pthread_join(driver, NULL);
    end = mono_ms() + 2000; /* the last frames */
    while (mono_ms() < end)
        poll_once(l, 20);
}

int main(int argc, char **argv)
{
    struct load l = {.host = "127.0.0.1",
                     .path = "/api/results/ws",
                     .port = 5000,
                     .nclients = 1,
                     .rate = 100};
    uint64_t connect_ms;
    int64_t end;
    unsigned i;

    if (parse_args(&l, argc, argv)) {
        usage();
        return 2;
    }
    raise_nofile();
    l.clients = calloc(l.nclients, sizeof(*l.clients));
    l.epfd = epoll_create1(0);
    if (!l.clients || l.epfd < 0)
        return 1;
    if (l.frames_out)
        l.out = fopen(l.frames_out, "w");
    l.t0 = mono_ms();
    connect_ms = connect_all(&l);
    if (l.pg)
        run_changes(&l);
    end = mono_ms() + (int64_t)l.duration_s * 1000;
    while (mono_ms() < end)
        poll_once(&l, 50);
    print_report(&l, connect_ms);
    for (i = 0; i < l.nclients; i++) {
        if (l.clients[i].state == ST_OPEN)
            send_frame(&l.clients[i], 8, "\x03\xe8", 2);
        if (l.clients[i].fd > 0)
            close(l.clients[i].fd);
    }
    if (l.out)
        fclose(l.out);
    return (l.failed || l.closed_early) ? 1 : 0;
}
