/* loop.c - the viewers' event loop; see loop.h. Once adopted, a viewer
 * is the loop thread's alone (but for its addr entry, under l->mu);
 * l->mu guards the admission counts, the address table, the current
 * snapshot and what other threads hand to the loop (adopted viewers, a
 * broadcast, a close request, stop). */
#include "result/loop.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/mono/mono.h"
#include "result/wsproto.h"

#define READ_CHUNK 512  /* bytes taken from a socket at a time */
#define OWN_MAX    192  /* our 101 (129 bytes) or control frames, queued */
#define OWN_READ   133  /* room needed to read: a pong, a close, a ping */
#define ADDR_MAX   48   /* a printed IPv6 address, and more */
#define ADDR_BKTS  1024 /* buckets of the per-address table */
#define EVENTS     256  /* epoll events taken at once */
/* After our close, what a viewer sends is read and dropped until it hangs
 * up (closing with unread bytes would reset the connection, and could
 * take our close frame with it), but no more than this. */
#define DRAIN_MAX (64 * 1024)

/* An immutable encoded frame shared by the viewers that hold it: the
 * frame is data[WSPROTO_HDR_MAX - hdr ..], the JSON data[WSPROTO_HDR_MAX
 * ..] (NUL-terminated). */
struct snap {
    atomic_int refs;
    size_t len; /* of the JSON */
    size_t hdr; /* of the frame header */
    char data[];
};

/* Viewers from one peer address. */
struct addr {
    char name[ADDR_MAX];
    unsigned n;
    struct addr *next;
};

enum viewer_state {
    V_OPEN,    /* frames both ways */
    V_CLOSING, /* our close is queued: nothing after it */
    V_DRAIN,   /* our close is flushed and our side shut: read to EOF */
};

struct loop_viewer {
    int fd;
    struct addr *addr;        /* NULL when there is no per-address cap */
    struct loop_viewer *next; /* adoption queue, then the viewer list */
    struct loop_viewer *prev;
    uint8_t state;
    uint8_t pinged;        /* a ping of ours is unanswered */
    uint8_t counted;       /* part of close_left */
    uint32_t events;       /* epoll interest as registered */
    struct snap *cur;      /* the frame being written ... */
    size_t cur_off;        /* ... and how much of it went out */
    struct snap *want;     /* the latest snapshot not yet started */
    int64_t last_in;       /* mono ms of the last complete frame read */
    int64_t blocked_since; /* mono ms output first waited, or 0 */
    int64_t drain_since;   /* mono ms our close was flushed */
    uint32_t drained;      /* bytes read and dropped since */
    uint16_t own_len, own_off;
    uint8_t own[OWN_MAX]; /* our bytes, sent between snapshot frames */
    struct wsproto_reader rd;
};

struct loop {
    pthread_mutex_t mu;
    unsigned count, max_clients, max_per_addr, ping_ms;
    int closing;
    uint16_t close_code;
    int close_asked; /* the loop has not yet taken the close request */
    int stop;
    int broadcast; /* a snapshot to send to every viewer */
    struct snap *current;
    struct loop_viewer *adopted; /* handed over, not yet registered */
    struct addr *addrs[ADDR_BKTS];
    atomic_uint close_left; /* viewers whose close is not flushed */
    atomic_int close_taken; /* the loop has queued every close */
    /* the loop thread's own */
    int ep, wake_fd;
    pthread_t thread;
    struct loop_viewer *viewers; /* list */
    struct loop_viewer *dead;    /* freed after each batch of events */
    struct metric *m_clients, *m_frames, *m_dropped, *m_pushes;
};

static void snap_ref(struct snap *s)
{
    atomic_fetch_add(&s->refs, 1);
}

static void snap_unref(struct snap *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        free(s);
}

/* The one encoding of a snapshot: a final text frame. */
static struct snap *snap_new(const char *json, size_t len)
{
    uint8_t hdr[WSPROTO_HDR_MAX];
    struct snap *s = malloc(sizeof(*s) + WSPROTO_HDR_MAX + len + 1);

    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    s->len = len;
    s->hdr = wsproto_header(hdr, WSPROTO_OP_TEXT, len);
    memcpy(s->data + WSPROTO_HDR_MAX - s->hdr, hdr, s->hdr);
    memcpy(s->data + WSPROTO_HDR_MAX, json, len);
    s->data[WSPROTO_HDR_MAX + len] = '\0';
    return s;
}

static const char *frame_of(const struct snap *s)
{
    return s->data + WSPROTO_HDR_MAX - s->hdr;
}

static void count_metric(struct metric *m)
{
    if (m)
        metrics_add(m, 1);
}

static unsigned addr_hash(const char *s)
{
    unsigned h = 5381;

    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h % ADDR_BKTS;
}

/* The entry of name, made when missing; l->mu is held. */
static struct addr *addr_get(struct loop *l, const char *name)
{
    struct addr **b = &l->addrs[addr_hash(name)], *a;

    for (a = *b; a; a = a->next)
        if (strcmp(a->name, name) == 0)
            return a;
    a = calloc(1, sizeof(*a));
    if (!a)
        return NULL;
    snprintf(a->name, sizeof(a->name), "%s", name);
    a->next = *b;
    *b = a;
    return a;
}

/* l->mu is held. */
static void addr_put(struct loop *l, struct addr *a)
{
    struct addr **p = &l->addrs[addr_hash(a->name)];

    if (--a->n > 0)
        return;
    while (*p != a)
        p = &(*p)->next;
    *p = a->next;
    free(a);
}

static void wake(struct loop *l)
{
    uint64_t one = 1;

    if (write(l->wake_fd, &one, sizeof(one)) != sizeof(one))
        log_error("loop_wake_failed", LOG_INT("errno", errno));
}

int loop_reserve(struct loop *l, const char *addr, struct loop_viewer **out)
{
    struct loop_viewer *v = calloc(1, sizeof(*v));
    int rc = 0;

    *out = NULL;
    if (!v)
        return -ENOMEM;
    v->fd = -1;
    pthread_mutex_lock(&l->mu);
    if (l->closing)
        rc = -ESHUTDOWN;
    else if (l->count >= l->max_clients)
        rc = -EBUSY;
    else if (l->max_per_addr) {
        v->addr = addr_get(l, addr);
        if (!v->addr)
            rc = -ENOMEM;
        else if (v->addr->n >= l->max_per_addr)
            rc = -EUSERS;
        if (v->addr && (++v->addr->n, rc))
            addr_put(l, v->addr);
    }
    if (rc == 0)
        l->count++;
    if (rc == 0 && l->m_clients)
        metrics_set(l->m_clients, l->count);
    pthread_mutex_unlock(&l->mu);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    return 0;
}

/* The slot's counts given back, v freed. */
static void release(struct loop *l, struct loop_viewer *v)
{
    pthread_mutex_lock(&l->mu);
    l->count--;
    if (v->addr)
        addr_put(l, v->addr);
    if (l->m_clients)
        metrics_set(l->m_clients, l->count);
    pthread_mutex_unlock(&l->mu);
    snap_unref(v->cur);
    snap_unref(v->want);
    free(v);
}

void loop_unreserve(struct loop *l, struct loop_viewer *v)
{
    if (v)
        release(l, v);
}

void loop_adopt(struct loop *l, struct loop_viewer *v, int fd,
                const char *accept)
{
    int n = snprintf((char *)v->own, sizeof(v->own),
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);

    v->fd = fd;
    v->own_len = (uint16_t)(n > 0 && (size_t)n < sizeof(v->own) ? n : 0);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    pthread_mutex_lock(&l->mu);
    v->next = l->adopted;
    l->adopted = v;
    pthread_mutex_unlock(&l->mu);
    wake(l);
}

/* Registers the interest v needs: EPOLLIN while there is room for our
 * answers, EPOLLOUT while output waits. */
static void want_events(struct loop *l, struct loop_viewer *v, int blocked)
{
    uint32_t ev = blocked ? EPOLLOUT : 0;
    struct epoll_event e = {.data.ptr = v};

    if (v->state == V_DRAIN || v->own_len <= OWN_MAX - OWN_READ)
        ev |= EPOLLIN;
    if (ev == v->events)
        return;
    e.events = ev;
    epoll_ctl(l->ep, EPOLL_CTL_MOD, v->fd, &e);
    v->events = ev;
}

/* Ends v: its socket closed, its slot freed after this batch. A viewer
 * that ended normally (closed, gone) is logged at debug; one we dropped
 * is logged and counted. */
static void end_viewer(struct loop *l, struct loop_viewer *v, const char *why,
                       int dropped)
{
    if (v->fd < 0)
        return;
    if (dropped) {
        log_info("ws_dropped", LOG_STR("reason", why));
        count_metric(l->m_dropped);
    } else {
        log_debug("ws_closed", LOG_STR("reason", why));
    }
    if (v->counted) {
        v->counted = 0;
        atomic_fetch_sub(&l->close_left, 1);
    }
    epoll_ctl(l->ep, EPOLL_CTL_DEL, v->fd, NULL);
    close(v->fd);
    v->fd = -1;
    if (v->prev)
        v->prev->next = v->next;
    else
        l->viewers = v->next;
    if (v->next)
        v->next->prev = v->prev;
    v->next = l->dead;
    l->dead = v;
}

/* Appends our bytes after what is queued; 0, or -ENOSPC. */
static int own_put(struct loop_viewer *v, const uint8_t *p, size_t n)
{
    if (v->own_off > 0 && v->own_off == v->own_len)
        v->own_off = v->own_len = 0;
    if (v->own_off > 0) {
        memmove(v->own, v->own + v->own_off, v->own_len - v->own_off);
        v->own_len = (uint16_t)(v->own_len - v->own_off);
        v->own_off = 0;
    }
    if (n > sizeof(v->own) - v->own_len)
        return -ENOSPC;
    memcpy(v->own + v->own_len, p, n);
    v->own_len = (uint16_t)(v->own_len + n);
    return 0;
}

static int own_control(struct loop_viewer *v, int op, const uint8_t *p,
                       size_t n)
{
    uint8_t f[WSPROTO_HDR_MAX + WSPROTO_MAX_CONTROL];
    size_t h = wsproto_header(f, op, n);

    if (n)
        memcpy(f + h, p, n);
    return own_put(v, f, h + n);
}

/* Queues our close after the frame being written; nothing follows it. */
static void close_flushed(struct loop *l, struct loop_viewer *v);

static void queue_close(struct loop *l, struct loop_viewer *v, uint16_t code)
{
    uint8_t b[2] = {(uint8_t)(code >> 8), (uint8_t)code};

    if (v->state != V_OPEN)
        return;
    v->state = V_CLOSING;
    snap_unref(v->want);
    v->want = NULL;
    if (own_control(v, WSPROTO_OP_CLOSE, b, 2))
        close_flushed(l, v); /* no room: cannot happen, see OWN_READ */
}

/* Our close went out whole: shut our side, read the rest. */
static void close_flushed(struct loop *l, struct loop_viewer *v)
{
    v->state = V_DRAIN;
    v->drain_since = mono_ms();
    shutdown(v->fd, SHUT_WR);
    if (v->counted) {
        v->counted = 0;
        atomic_fetch_sub(&l->close_left, 1);
    }
}

/* What to send next, in order, in at most two pieces (one sendmsg): the
 * frame in progress, then our bytes queued behind it; or our bytes, then
 * the latest snapshot. Returns the number of pieces. */
static int gather(struct loop_viewer *v, struct iovec *iov)
{
    size_t own = (size_t)(v->own_len - v->own_off);
    int k = 0;

    if (v->cur) {
        iov[k].iov_base = (void *)(frame_of(v->cur) + v->cur_off);
        iov[k++].iov_len = v->cur->hdr + v->cur->len - v->cur_off;
    }
    if (own) {
        iov[k].iov_base = v->own + v->own_off;
        iov[k++].iov_len = own;
    }
    if (!v->cur && v->want) {
        iov[k].iov_base = (void *)frame_of(v->want);
        iov[k++].iov_len = v->want->hdr + v->want->len;
    }
    return k;
}

/* Takes n bytes of the frame in progress; 0 when it is done. */
static size_t take_frame(struct loop *l, struct loop_viewer *v, size_t n)
{
    size_t left = v->cur->hdr + v->cur->len - v->cur_off;

    if (n < left) {
        v->cur_off += n;
        return 0;
    }
    snap_unref(v->cur);
    v->cur = NULL;
    count_metric(l->m_frames);
    return n - left;
}

/* n bytes went out, in gather()'s order. */
static void sent(struct loop *l, struct loop_viewer *v, size_t n)
{
    size_t own = (size_t)(v->own_len - v->own_off);

    if (v->cur) {
        n = take_frame(l, v, n);
        if (v->cur)
            return;
    }
    if (n < own) {
        v->own_off = (uint16_t)(v->own_off + n);
        return;
    }
    v->own_off = v->own_len = 0;
    n -= own;
    if (n > 0) { /* into the latest snapshot: it is now in progress */
        v->cur = v->want;
        v->want = NULL;
        v->cur_off = 0;
        take_frame(l, v, n);
    }
}

/* Writes what v has queued until done or the socket is full. */
static void flush(struct loop *l, struct loop_viewer *v)
{
    struct iovec iov[2];
    struct msghdr m = {.msg_iov = iov};
    ssize_t n;

    if (v->state == V_DRAIN)
        return;
    while ((m.msg_iovlen = (size_t)gather(v, iov)) > 0) {
        n = sendmsg(v->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            sent(l, v, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!v->blocked_since)
                v->blocked_since = mono_ms();
            want_events(l, v, 1);
            return;
        }
        end_viewer(l, v, "write_failed", 1);
        return;
    }
    v->blocked_since = 0;
    if (v->state == V_CLOSING)
        close_flushed(l, v);
    want_events(l, v, 0);
}

/* Acts on one event of v's reader; 0 to go on, -1 when reading stops. */
static int on_event(struct loop *l, struct loop_viewer *v,
                    enum wsproto_event ev)
{
    v->last_in = mono_ms();
    v->pinged = 0;
    switch (ev) {
    case WSPROTO_EV_PING:
        own_control(v, WSPROTO_OP_PONG, v->rd.ctl, v->rd.ctl_len);
        return 0;
    case WSPROTO_EV_CLOSE:
        queue_close(l, v, v->rd.code);
        return -1;
    case WSPROTO_EV_REFUSE:
        log_info("ws_dropped", LOG_STR("reason", "refused"),
                 LOG_INT("code", v->rd.code));
        count_metric(l->m_dropped);
        queue_close(l, v, v->rd.code);
        return -1;
    default:
        return 0;
    }
}

/* Reads what v sent: peeked, judged event by event while there is room
 * for our answers, and only the bytes judged are taken off the socket. */
static void on_readable(struct loop *l, struct loop_viewer *v)
{
    uint8_t buf[READ_CHUNK];
    size_t off = 0, used;
    ssize_t n;
    int flags = v->state == V_DRAIN ? 0 : MSG_PEEK;

    n = recv(v->fd, buf, sizeof(buf), flags | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        end_viewer(l, v, v->state == V_OPEN ? "gone" : "closed", 0);
        return;
    }
    if (n < 0)
        return;
    if (v->state == V_DRAIN) {
        v->drained += (uint32_t)n;
        if (v->drained > DRAIN_MAX)
            end_viewer(l, v, "closed", 0);
        return;
    }
    while (off < (size_t)n && v->state == V_OPEN &&
           v->own_len <= OWN_MAX - OWN_READ) {
        enum wsproto_event ev =
            wsproto_read(&v->rd, buf + off, (size_t)n - off, &used);

        off += used;
        if (ev != WSPROTO_EV_MORE && on_event(l, v, ev))
            break;
    }
    if (v->state != V_OPEN)
        off = (size_t)n; /* nothing after a close is read */
    if (off > 0 && recv(v->fd, buf, off, MSG_DONTWAIT) < 0)
        end_viewer(l, v, "gone", 0);
    else
        flush(l, v);
}

static void on_io(struct loop *l, struct loop_viewer *v, uint32_t events)
{
    if (v->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        on_readable(l, v);
    if (v->fd >= 0 && (events & EPOLLOUT))
        flush(l, v);
}

/* Pings, and drops: silent for 2 T, stuck on a write for T, or not
 * ending within LOOP_CLOSE_WAIT_MS of our close. */
static void sweep(struct loop *l, int64_t now)
{
    struct loop_viewer *v, *next;

    for (v = l->viewers; v; v = next) {
        next = v->next;
        if (v->state == V_DRAIN) {
            if (now - v->drain_since >= LOOP_CLOSE_WAIT_MS)
                end_viewer(l, v, "closed", 0);
        } else if (v->blocked_since && now - v->blocked_since >= l->ping_ms) {
            end_viewer(l, v, "write_stalled", 1);
        } else if (now - v->last_in >= 2 * (int64_t)l->ping_ms) {
            end_viewer(l, v, "timeout", 1);
        } else if (!v->pinged && now - v->last_in >= l->ping_ms &&
                   v->state == V_OPEN) {
            v->pinged = 1;
            own_control(v, WSPROTO_OP_PING, NULL, 0);
            flush(l, v);
        }
    }
}

/* A handed-over viewer joins: the 101, then the current snapshot. */
static void join(struct loop *l, struct loop_viewer *v, struct snap *cur,
                 uint16_t close_code)
{
    struct epoll_event e = {.events = 0, .data.ptr = v};

    v->last_in = mono_ms();
    v->prev = NULL;
    v->next = l->viewers;
    if (l->viewers)
        l->viewers->prev = v;
    l->viewers = v;
    if (epoll_ctl(l->ep, EPOLL_CTL_ADD, v->fd, &e)) {
        end_viewer(l, v, "epoll_failed", 1);
        return;
    }
    v->want = cur;
    if (cur)
        snap_ref(cur);
    if (close_code) {
        v->counted = 1;
        atomic_fetch_add(&l->close_left, 1);
        queue_close(l, v, close_code);
    }
    flush(l, v);
}

/* A new snapshot for every viewer: it replaces an unstarted older one. */
static void offer_all(struct loop *l, struct snap *s)
{
    struct loop_viewer *v, *next;

    for (v = l->viewers; v; v = next) {
        next = v->next; /* flush() may end v */
        if (v->state != V_OPEN)
            continue;
        snap_unref(v->want);
        v->want = s;
        snap_ref(s);
        flush(l, v);
    }
}

static void close_all(struct loop *l, uint16_t code)
{
    struct loop_viewer *v, *next;

    for (v = l->viewers; v; v = next) {
        next = v->next;
        if (v->state != V_OPEN)
            continue;
        v->counted = 1;
        atomic_fetch_add(&l->close_left, 1);
        queue_close(l, v, code);
        flush(l, v);
    }
}

/* What other threads handed over since the last look. */
static void take_work(struct loop *l)
{
    struct loop_viewer *v, *adopted;
    struct snap *cur, *push = NULL;
    uint16_t code = 0, asked = 0;
    uint64_t n;

    if (read(l->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_error("loop_wake_read_failed", LOG_INT("errno", errno));
    pthread_mutex_lock(&l->mu);
    adopted = l->adopted;
    l->adopted = NULL;
    cur = l->current;
    if (cur)
        snap_ref(cur);
    if (l->broadcast && cur) {
        push = cur;
        snap_ref(push);
    }
    l->broadcast = 0;
    code = l->closing ? l->close_code : 0;
    asked = (uint16_t)l->close_asked;
    l->close_asked = 0;
    pthread_mutex_unlock(&l->mu);
    if (push && !asked)
        offer_all(l, push);
    if (asked) {
        close_all(l, code);
        atomic_store(&l->close_taken, 1);
    }
    while (adopted) {
        v = adopted;
        adopted = v->next;
        join(l, v, cur, code);
    }
    snap_unref(push);
    snap_unref(cur);
}

static void bury(struct loop *l)
{
    struct loop_viewer *v;

    while (l->dead) {
        v = l->dead;
        l->dead = v->next;
        release(l, v);
    }
}

static void *loop_main(void *arg)
{
    struct loop *l = arg;
    struct epoll_event ev[EVENTS];
    int64_t next_sweep = mono_ms() + l->ping_ms / 4;
    int i, n, tick = (int)(l->ping_ms / 4 < 250 ? l->ping_ms / 4 : 250);

    for (;;) {
        n = epoll_wait(l->ep, ev, EVENTS, tick);
        for (i = 0; i < n; i++)
            if (ev[i].data.ptr == l)
                take_work(l);
            else
                on_io(l, ev[i].data.ptr, ev[i].events);
        if (mono_ms() >= next_sweep) {
            sweep(l, mono_ms());
            next_sweep = mono_ms() + tick;
        }
        bury(l);
        pthread_mutex_lock(&l->mu);
        n = l->stop;
        pthread_mutex_unlock(&l->mu);
        if (n)
            return NULL;
    }
}

int loop_start(struct loop **out, const struct loop_opts *o)
{
    struct epoll_event e = {.events = EPOLLIN};
    struct loop *l;
    int rc;

    *out = NULL;
    l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    pthread_mutex_init(&l->mu, NULL);
    l->max_clients = o->max_clients;
    l->max_per_addr = o->max_per_addr;
    l->ping_ms = o->ping_ms ? o->ping_ms : 10000;
    if (o->metrics) {
        l->m_clients = metrics_gauge(o->metrics, "result_ws_clients",
                                     "WebSocket clients connected.");
        l->m_frames = metrics_counter(o->metrics, "result_ws_frames_total",
                                      "Snapshot frames written.");
        l->m_dropped = metrics_counter(
            o->metrics, "result_ws_dropped_total",
            "Clients dropped: a refused frame, a stalled write, silence.");
        l->m_pushes = metrics_counter(o->metrics, "result_pushes_total",
                                      "Snapshots broadcast to all clients.");
    }
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e.data.ptr = l;
    if (l->ep < 0 || l->wake_fd < 0 ||
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake_fd, &e)) {
        rc = -errno;
        goto out_close;
    }
    rc = -pthread_create(&l->thread, NULL, loop_main, l);
    if (rc)
        goto out_close;
    *out = l;
    return 0;

out_close:
    if (l->ep >= 0)
        close(l->ep);
    if (l->wake_fd >= 0)
        close(l->wake_fd);
    pthread_mutex_destroy(&l->mu);
    free(l);
    return rc;
}

void loop_free(struct loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_mutex_unlock(&l->mu);
    wake(l);
    pthread_join(l->thread, NULL);
    take_work(l); /* viewers handed over at the last moment */
    while (l->viewers)
        end_viewer(l, l->viewers, "stopped", 0);
    bury(l);
    snap_unref(l->current);
    close(l->ep);
    close(l->wake_fd);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int loop_publish(struct loop *l, const char *json, size_t len, int broadcast)
{
    struct snap *s, *old;

    if (len > LOOP_SNAPSHOT_MAX)
        return -EMSGSIZE;
    s = snap_new(json, len);
    if (!s)
        return -ENOMEM;
    pthread_mutex_lock(&l->mu);
    old = l->current;
    l->current = s;
    l->broadcast |= broadcast;
    pthread_mutex_unlock(&l->mu);
    snap_unref(old);
    if (broadcast) {
        count_metric(l->m_pushes);
        wake(l);
    }
    return 0;
}

int loop_current(struct loop *l, char *buf, size_t n, size_t *len)
{
    int rc = 0;

    pthread_mutex_lock(&l->mu);
    if (!l->current) {
        rc = -ENODATA;
    } else if (l->current->len >= n) {
        rc = -ENOSPC;
    } else {
        memcpy(buf, l->current->data + WSPROTO_HDR_MAX, l->current->len + 1);
        *len = l->current->len;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

unsigned loop_count(struct loop *l)
{
    unsigned n;

    pthread_mutex_lock(&l->mu);
    n = l->count;
    pthread_mutex_unlock(&l->mu);
    return n;
}

unsigned loop_close_all(struct loop *l, uint16_t code, unsigned wait_ms)
{
    int64_t until = mono_ms() + wait_ms;

    pthread_mutex_lock(&l->mu);
    if (!l->closing) {
        l->closing = 1;
        l->close_code = code;
        l->close_asked = 1;
    }
    pthread_mutex_unlock(&l->mu);
    wake(l);
    while (mono_ms() < until &&
           (!atomic_load(&l->close_taken) || atomic_load(&l->close_left)))
        mono_sleep_ms(10);
    return atomic_load(&l->close_taken) ? atomic_load(&l->close_left)
                                        : loop_count(l);
}
