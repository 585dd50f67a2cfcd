/* hub_test.c - the hub with fake connections: slots, broadcast, a client
 * whose writes block, a full hub, close frames, a failed write. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "result/hub.h"
#include "lib/mono/mono.h"
#include "result/wstest.h"

#define MANY     50
#define WAIT_MS  20000 /* for what takes milliseconds on a quiet machine */
#define QUIET_MS 300   /* how long a frame that must not come is given */

/* What one fake connection was sent. */
struct fake {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int block; /* writes wait while set */
    int fail;  /* writes fail while set */
    unsigned calls, frames, closes;
    int close_code;
    char last[64];
};

/* Takes one whole unmasked frame apart (payloads < 64 KiB). */
static int fake_write(void *conn, const char *frame, size_t len)
{
    const unsigned char *p = (const unsigned char *)frame;
    size_t hdr = (p[1] & 0x7f) == 126 ? 4 : 2;
    struct fake *f = conn;

    assert_true(len >= hdr && (p[0] & 0x80));
    pthread_mutex_lock(&f->mu);
    while (f->block)
        pthread_cond_wait(&f->cv, &f->mu);
    f->calls++;
    pthread_cond_broadcast(&f->cv);
    if (f->fail) {
        pthread_mutex_unlock(&f->mu);
        return -EIO;
    }
    if ((p[0] & 0x0f) == HUB_OP_CLOSE) {
        f->closes++;
        f->close_code = (p[2] << 8) | p[3];
    } else {
        snprintf(f->last, sizeof(f->last), "%.*s", (int)(len - hdr),
                 frame + hdr);
        f->frames++;
    }
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static void fake_init(struct fake *f)
{
    pthread_condattr_t attr;

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* mono_deadline() */
    pthread_cond_init(&f->cv, &attr);
    pthread_condattr_destroy(&attr);
}

static void fake_set_block(struct fake *f, int block)
{
    pthread_mutex_lock(&f->mu);
    f->block = block;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

/* Waits up to ms for the fake's last frame to be `want`. */
static int fake_wait_last(struct fake *f, const char *want, unsigned ms)
{
    int64_t end = mono_ms() + ms;
    struct timespec tick = {0, 1000000L};
    int ok;

    for (;;) {
        pthread_mutex_lock(&f->mu);
        ok = strcmp(f->last, want) == 0;
        pthread_mutex_unlock(&f->mu);
        if (ok || mono_ms() >= end)
            return ok ? 0 : -ETIMEDOUT;
        nanosleep(&tick, NULL);
    }
}

static struct hub *new_hub(unsigned max)
{
    struct hub_opts o = {.max_clients = max, .write = fake_write};
    struct hub *h;

    assert_int_equal(hub_new(&h, &o), 0);
    return h;
}

static void publish(struct hub *h, const char *s, int broadcast)
{
    assert_int_equal(hub_publish(h, s, strlen(s), broadcast), 0);
}

static void test_hub_current(void **state)
{
    struct hub *h = new_hub(4);
    char buf[8];
    size_t len;

    assert_int_equal(hub_current(h, buf, sizeof(buf), &len), -ENODATA);
    publish(h, "{\"x\":1}", 0);
    assert_int_equal(hub_current(h, buf, sizeof(buf), &len), 0);
    assert_string_equal(buf, "{\"x\":1}");
    assert_int_equal(len, 7);
    publish(h, "{\"x\":100}", 1);
    assert_int_equal(hub_current(h, buf, sizeof(buf), &len), -ENOSPC);
    hub_free(h);
}

/* Adds client f after making `first` the current snapshot (no broadcast):
 * f gets it as its first frame. */
static struct hub_client *add_client(struct hub *h, struct fake *f,
                                     const char *first)
{
    struct hub_client *c;

    fake_init(f);
    publish(h, first, 0);
    assert_int_equal(hub_add(h, f, &c), 0);
    assert_int_equal(fake_wait_last(f, first, WAIT_MS), 0);
    return c;
}

static void test_hub_new_client_gets_current(void **state)
{
    struct hub *h = new_hub(4);
    struct hub_client *c;
    struct fake f;

    c = add_client(h, &f, "first");
    assert_int_equal(hub_count(h), 1);
    hub_remove(h, c);
    assert_int_equal(hub_count(h), 0);
    assert_int_equal(f.frames, 1);
    hub_free(h);
}

static void test_hub_broadcast_reaches_all(void **state)
{
    static struct fake f[MANY];
    struct hub_client *c[MANY];
    struct hub *h = new_hub(MANY);
    char s[16];
    int i;

    for (i = 0; i < MANY; i++) {
        fake_init(&f[i]);
        assert_int_equal(hub_add(h, &f[i], &c[i]), 0);
    }
    for (i = 1; i <= 100; i++) {
        snprintf(s, sizeof(s), "%d", i);
        publish(h, s, 1);
    }
    for (i = 0; i < MANY; i++) {
        assert_int_equal(fake_wait_last(&f[i], "100", WAIT_MS), 0);
        assert_true(f[i].frames >= 1 && f[i].frames <= 100);
    }
    for (i = 0; i < MANY; i++)
        hub_remove(h, c[i]);
    hub_free(h);
}

/* One client's writes hang; the others still get every change (were
 * they queued behind it, they would never get one), and the hung one
 * gets only the latest when it wakes up. */
static void test_hub_blocked_client_does_not_delay_others(void **state)
{
    static struct fake f[10];
    struct hub_client *c[10];
    struct hub *h = new_hub(10);
    char s[16];
    int i, k;

    for (i = 0; i < 10; i++) {
        fake_init(&f[i]);
        assert_int_equal(hub_add(h, &f[i], &c[i]), 0);
    }
    fake_set_block(&f[0], 1);
    for (k = 1; k <= 20; k++) {
        snprintf(s, sizeof(s), "%d", k);
        publish(h, s, 1);
        for (i = 1; i < 10; i++)
            assert_int_equal(fake_wait_last(&f[i], s, WAIT_MS), 0);
    }
    assert_int_equal(f[0].frames, 0);
    fake_set_block(&f[0], 0);
    assert_int_equal(fake_wait_last(&f[0], "20", WAIT_MS), 0);
    assert_true(f[0].frames <= 2); /* the one in flight, then the latest */
    for (i = 0; i < 10; i++)
        hub_remove(h, c[i]);
    hub_free(h);
}

static void test_hub_full_then_close_all(void **state)
{
    static struct fake f[3];
    struct hub_client *c[3], *extra;
    struct hub *h = new_hub(2);
    int i;

    for (i = 0; i < 3; i++)
        fake_init(&f[i]);
    publish(h, "s", 1);
    assert_int_equal(hub_add(h, &f[0], &c[0]), 0);
    assert_int_equal(hub_add(h, &f[1], &c[1]), 0);
    assert_int_equal(hub_full(h), 1);
    assert_int_equal(hub_add(h, &f[2], &extra), -EBUSY);
    assert_null(extra);
    assert_int_equal(hub_close_all(h, 1001, WAIT_MS), 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(f[i].closes, 1);
        assert_int_equal(f[i].close_code, 1001);
    }
    publish(h, "after", 1); /* nothing may follow a close frame */
    hub_remove(h, c[0]);
    assert_int_equal(hub_add(h, &f[2], &extra), -ESHUTDOWN);
    hub_remove(h, c[1]);
    for (i = 0; i < 2; i++)
        assert_string_not_equal(f[i].last, "after");
    hub_free(h);
}

/* Waits up to ms until f's write was called at least n times; 0 or
 * -ETIMEDOUT. */
static int fake_wait_calls(struct fake *f, unsigned n, unsigned ms)
{
    struct timespec dl = mono_deadline(ms);
    int rc = 0;

    pthread_mutex_lock(&f->mu);
    while (f->calls < n && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&f->cv, &f->mu, &dl);
    rc = f->calls >= n ? 0 : -ETIMEDOUT;
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* After a failed write, the client is never written to again. A third
 * write, if the hub made one, would come within milliseconds: QUIET_MS
 * lets it show. A slow machine can only hide it, never fail a correct
 * hub. */
static void test_hub_failed_write_stops_frames(void **state)
{
    struct hub *h = new_hub(2);
    struct hub_client *c;
    struct fake f;

    c = add_client(h, &f, "one");
    pthread_mutex_lock(&f.mu);
    f.fail = 1;
    pthread_mutex_unlock(&f.mu);
    publish(h, "two", 1);
    assert_int_equal(fake_wait_calls(&f, 2, WAIT_MS), 0);
    publish(h, "three", 1);
    assert_int_equal(fake_wait_calls(&f, 3, QUIET_MS), -ETIMEDOUT);
    hub_remove(h, c);
    assert_int_equal(f.calls, 2);
    hub_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hub_current),
        cmocka_unit_test(test_hub_new_client_gets_current),
        cmocka_unit_test(test_hub_broadcast_reaches_all),
        cmocka_unit_test(test_hub_blocked_client_does_not_delay_others),
        cmocka_unit_test(test_hub_full_then_close_all),
        cmocka_unit_test(test_hub_failed_write_stops_frames),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
