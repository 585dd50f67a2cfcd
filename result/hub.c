/* hub.c - client table, latest-snapshot slots, one writer per client.
 * See hub.h. Lock order: hub->mu, then a client's mu. */
#include "result/hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log/log.h"
#include "lib/metrics/metrics.h"

#define CLOSE_REASON "server shutting down"

#define HDR_MAX 4 /* frame header: payloads up to 64 KiB */

/* An immutable snapshot shared by the slots that hold it: its frame is
 * data[HDR_MAX - hdr ..], its JSON data[HDR_MAX ..]. */
struct snap {
    atomic_int refs;
    size_t len; /* of the JSON */
    size_t hdr; /* of the frame header */
    char data[];
};

struct hub_client {
    struct hub *hub;
    void *conn;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct snap *pending; /* the slot: latest unsent snapshot */
    int close_code;       /* a close frame to send, or 0 */
    int closed;           /* close frame sent: nothing after it */
    int dead;             /* a write failed */
    int stop;
    pthread_t thread;
    struct hub_client *prev, *next;
};

struct hub {
    pthread_mutex_t mu;
    struct hub_client *clients; /* list */
    unsigned count, max_clients;
    int closing;
    struct snap *current;
    int (*write)(void *conn, const char *frame, size_t len);
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

static void count_metric(struct metric *m)
{
    if (m)
        metrics_add(m, 1);
}

int hub_new(struct hub **out, const struct hub_opts *o)
{
    struct hub *h;

    *out = NULL;
    h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    pthread_mutex_init(&h->mu, NULL);
    h->max_clients = o->max_clients;
    h->write = o->write;
    if (o->metrics) {
        h->m_clients = metrics_gauge(o->metrics, "result_ws_clients",
                                     "WebSocket clients connected.");
        h->m_frames = metrics_counter(o->metrics, "result_ws_frames_total",
                                      "Snapshot frames written.");
        h->m_dropped = metrics_counter(o->metrics, "result_ws_dropped_total",
                                       "Clients dropped on a failed write.");
        h->m_pushes = metrics_counter(o->metrics, "result_pushes_total",
                                      "Snapshots broadcast to all clients.");
    }
    *out = h;
    return 0;
}

void hub_free(struct hub *h)
{
    if (!h)
        return;
    snap_unref(h->current);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* A close frame: the code, big-endian, then a reason (< 126 bytes). */
static int send_close(struct hub_client *c, int code)
{
    char f[4 + sizeof(CLOSE_REASON)];

    f[0] = (char)(0x80 | HUB_OP_CLOSE);
    f[1] = (char)(2 + sizeof(CLOSE_REASON) - 1);
    f[2] = (char)((code >> 8) & 0xff);
    f[3] = (char)(code & 0xff);
    memcpy(f + 4, CLOSE_REASON, sizeof(CLOSE_REASON) - 1);
    return c->hub->write(c->conn, f, 4 + sizeof(CLOSE_REASON) - 1);
}

/* Sends what the slot holds; c->mu is held, and dropped while writing. */
static void write_one(struct hub_client *c)
{
    struct snap *s = c->pending;
    int code = c->close_code;
    int rc;

    c->pending = NULL;
    c->close_code = 0;
    if (code)
        c->closed = 1;
    pthread_mutex_unlock(&c->mu);
    if (code)
        rc = send_close(c, code);
    else
        rc =
            c->hub->write(c->conn, s->data + HDR_MAX - s->hdr, s->hdr + s->len);
    snap_unref(s);
    pthread_mutex_lock(&c->mu);
    if (rc) {
        c->dead = 1;
        count_metric(c->hub->m_dropped);
        log_debug("ws_write_failed", "\"error\":%d", rc);
    } else if (!code) {
        count_metric(c->hub->m_frames);
    }
}

static void *writer_main(void *arg)
{
    struct hub_client *c = arg;

    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        if (c->dead || c->closed || (!c->pending && !c->close_code)) {
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        write_one(c);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static struct hub_client *client_new(struct hub *h, void *conn)
{
    struct hub_client *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->hub = h;
    c->conn = conn;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    return c;
}

static void client_free(struct hub_client *c)
{
    snap_unref(c->pending);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static int start_writer(struct hub_client *c)
{
    pthread_attr_t attr;
    int rc;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, HUB_WRITER_STACK); /* writes need little */
    rc = pthread_create(&c->thread, &attr, writer_main, c);
    pthread_attr_destroy(&attr);
    return -rc;
}

static int admit(struct hub *h)
{
    if (h->closing)
        return -ESHUTDOWN;
    if (h->count >= h->max_clients)
        return -EBUSY;
    return 0;
}

int hub_add(struct hub *h, void *conn, struct hub_client **out)
{
    struct hub_client *c;
    int rc;

    *out = NULL;
    c = client_new(h, conn);
    if (!c)
        return -ENOMEM;
    pthread_mutex_lock(&h->mu);
    rc = admit(h);
    if (rc)
        goto out_unlock;
    c->pending = h->current; /* set before the writer can look */
    if (c->pending)
        snap_ref(c->pending);
    rc = start_writer(c);
    if (rc)
        goto out_unlock;
    c->next = h->clients;
    if (h->clients)
        h->clients->prev = c;
    h->clients = c;
    h->count++;
    metrics_set(h->m_clients, h->count);
    pthread_mutex_unlock(&h->mu);
    *out = c;
    return 0;

out_unlock:
    pthread_mutex_unlock(&h->mu);
    client_free(c);
    return rc;
}

void hub_remove(struct hub *h, struct hub_client *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&h->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        h->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    h->count--;
    metrics_set(h->m_clients, h->count);
    pthread_mutex_unlock(&h->mu);
    pthread_mutex_lock(&c->mu);
    c->stop = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    client_free(c);
}

/* Puts s in c's slot (dropping an unsent older one) and wakes c. */
static void offer(struct hub_client *c, struct snap *s)
{
    struct snap *old;

    snap_ref(s);
    pthread_mutex_lock(&c->mu);
    old = c->pending;
    c->pending = s;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    snap_unref(old);
}

/* A text frame of json, built once for every client. */
static struct snap *snap_new(const char *json, size_t len)
{
    struct snap *s;
    char *hdr;

    s = malloc(sizeof(*s) + HDR_MAX + len + 1);
    if (!s)
        return NULL;
    s->refs = 1;
    s->len = len;
    s->hdr = len < 126 ? 2 : 4;
    hdr = s->data + HDR_MAX - s->hdr;
    hdr[0] = (char)(0x80 | HUB_OP_TEXT); /* FIN, text */
    if (len < 126) {
        hdr[1] = (char)len;
    } else {
        hdr[1] = 126;
        hdr[2] = (char)(len >> 8);
        hdr[3] = (char)(len & 0xff);
    }
    memcpy(s->data + HDR_MAX, json, len);
    s->data[HDR_MAX + len] = '\0';
    return s;
}

int hub_publish(struct hub *h, const char *json, size_t len, int broadcast)
{
    struct hub_client *c;
    struct snap *s, *old;

    if (len > 0xffff)
        return -EMSGSIZE;
    s = snap_new(json, len);
    if (!s)
        return -ENOMEM;
    pthread_mutex_lock(&h->mu);
    old = h->current;
    h->current = s;
    if (broadcast) {
        for (c = h->clients; c; c = c->next)
            offer(c, s);
        count_metric(h->m_pushes);
    }
    pthread_mutex_unlock(&h->mu);
    snap_unref(old);
    return 0;
}

int hub_current(struct hub *h, char *buf, size_t n, size_t *len)
{
    int rc = 0;

    pthread_mutex_lock(&h->mu);
    if (!h->current) {
        rc = -ENODATA;
    } else if (h->current->len >= n) {
        rc = -ENOSPC;
    } else {
        memcpy(buf, h->current->data + HDR_MAX, h->current->len + 1);
        *len = h->current->len;
    }
    pthread_mutex_unlock(&h->mu);
    return rc;
}

unsigned hub_count(struct hub *h)
{
    unsigned n;

    pthread_mutex_lock(&h->mu);
    n = h->count;
    pthread_mutex_unlock(&h->mu);
    return n;
}

int hub_full(struct hub *h)
{
    int rc;

    pthread_mutex_lock(&h->mu);
    rc = admit(h) != 0;
    pthread_mutex_unlock(&h->mu);
    return rc;
}

/* Clients whose close frame is still to be written. */
static unsigned unclosed(struct hub *h)
{
    struct hub_client *c;
    unsigned n = 0;

    pthread_mutex_lock(&h->mu);
    for (c = h->clients; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        n += !c->closed && !c->dead;
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return n;
}

unsigned hub_close_all(struct hub *h, uint16_t code, unsigned wait_ms)
{
    struct timespec tick = {0, 10 * 1000000L};
    struct hub_client *c;
    unsigned left, waited;

    pthread_mutex_lock(&h->mu);
    h->closing = 1;
    for (c = h->clients; c; c = c->next) {
        pthread_mutex_lock(&c->mu);
        snap_unref(c->pending);
        c->pending = NULL;
        c->close_code = code;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_unlock(&h->mu);
    for (waited = 0;; waited += 10) {
        left = unclosed(h);
        if (left == 0 || waited >= wait_ms)
            return left;
        nanosleep(&tick, NULL);
    }
}
