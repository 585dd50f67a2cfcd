/* loop_test.c - the loop with viewers on socketpairs (the test reads the
 * other end as a client would): the current snapshot, the 101 and the
 * snapshot on adoption, a broadcast to many, a viewer that never reads
 * (coalesced to the latest, delays nobody, dropped after T), the caps
 * (max_clients, max_per_addr), close frames for all on shutdown. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/mono/mono.h"
#include "result/loop.h"
#include "result/wsproto.h"

#define MANY    50
#define WAIT_MS 5000
#define ACCEPT  "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* The client end of one viewer, and what it has read. */
struct peer {
    int fd;
    uint8_t buf[8192];
    size_t have;
    char last[128]; /* payload of the last text frame */
    unsigned frames;
    int close_code;
};

static struct loop *start(unsigned max, unsigned per_addr, unsigned ping_ms)
{
    struct loop_opts o = {
        .max_clients = max, .max_per_addr = per_addr, .ping_ms = ping_ms};
    struct loop *l;

    assert_int_equal(loop_start(&l, &o), 0);
    return l;
}

static void publish(struct loop *l, const char *s)
{
    assert_int_equal(loop_publish(l, s, strlen(s), 1), 0);
}

/* A viewer from addr on a socketpair; the test keeps the client end. */
static void adopt(struct loop *l, struct peer *p, const char *addr, int rcvbuf)
{
    struct loop_viewer *v;
    int sv[2];

    memset(p, 0, sizeof(*p));
    assert_int_equal(loop_reserve(l, addr, &v), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (rcvbuf)
        setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    p->fd = sv[1];
    loop_adopt(l, v, sv[0], ACCEPT);
}

/* Takes whole frames (and the 101 head) off the front of p->buf. */
static void parse(struct peer *p)
{
    uint8_t *end;
    size_t hdr, len;

    if (p->have >= 4 && memcmp(p->buf, "HTTP", 4) == 0) {
        end = memmem(p->buf, p->have, "\r\n\r\n", 4);
        if (!end)
            return;
        assert_non_null(memmem(p->buf, p->have, ACCEPT, strlen(ACCEPT)));
        hdr = (size_t)(end + 4 - p->buf);
        memmove(p->buf, p->buf + hdr, p->have - hdr);
        p->have -= hdr;
    }
    while (p->have >= 2) {
        hdr = (p->buf[1] & 0x7f) == 126 ? 4 : 2;
        len = hdr == 4 ? (size_t)(p->buf[2] << 8 | p->buf[3]) : p->buf[1];
        if (p->have < hdr + len)
            return;
        assert_int_equal(p->buf[1] & 0x80, 0); /* servers never mask */
        if ((p->buf[0] & 0x0f) == WSPROTO_OP_TEXT) {
            snprintf(p->last, sizeof(p->last), "%.*s", (int)len,
                     (char *)p->buf + hdr);
            p->frames++;
        } else if ((p->buf[0] & 0x0f) == WSPROTO_OP_CLOSE) {
            p->close_code = p->buf[hdr] << 8 | p->buf[hdr + 1];
        }
        memmove(p->buf, p->buf + hdr + len, p->have - hdr - len);
        p->have -= hdr + len;
    }
}

/* Reads until the last text frame is want (or a close, if want is NULL);
 * 0, or -ETIMEDOUT; 1 when the loop hung up. */
static int wait_for(struct peer *p, const char *want, unsigned ms)
{
    struct pollfd pf = {.fd = p->fd, .events = POLLIN};
    int64_t end = mono_ms() + ms;
    ssize_t n;

    for (;;) {
        parse(p);
        if (want ? strncmp(p->last, want, sizeof(p->last) - 1) == 0
                 : p->close_code != 0)
            return 0;
        if (mono_ms() >= end)
            return -ETIMEDOUT;
        if (poll(&pf, 1, 50) <= 0)
            continue;
        n = read(p->fd, p->buf + p->have, sizeof(p->buf) - p->have);
        if (n <= 0)
            return 1;
        p->have += (size_t)n;
    }
}

static void test_loop_current(void **state)
{
    struct loop *l = start(4, 0, 0);
    char buf[8];
    size_t len;

    assert_int_equal(loop_current(l, buf, sizeof(buf), &len), -ENODATA);
    publish(l, "{\"a\":1}");
    assert_int_equal(loop_current(l, buf, sizeof(buf), &len), 0);
    assert_string_equal(buf, "{\"a\":1}");
    assert_int_equal(len, 7);
    publish(l, "{\"a\":100}");
    assert_int_equal(loop_current(l, buf, sizeof(buf), &len), -ENOSPC);
    loop_free(l);
}

static void test_loop_viewer_gets_101_then_current(void **state)
{
    struct loop *l = start(4, 0, 0);
    struct peer p;

    publish(l, "{\"n\":1}");
    adopt(l, &p, "10.0.0.1", 0);
    assert_int_equal(wait_for(&p, "{\"n\":1}", WAIT_MS), 0);
    assert_int_equal(p.frames, 1);
    assert_int_equal(loop_count(l), 1);
    close(p.fd); /* gone: the slot comes back */
    for (int i = 0; i < 100 && loop_count(l); i++)
        mono_sleep_ms(10);
    assert_int_equal(loop_count(l), 0);
    loop_free(l);
}

static void test_loop_broadcast_reaches_all(void **state)
{
    static struct peer p[MANY];
    struct loop *l = start(MANY, 0, 0);
    int i;

    publish(l, "{\"n\":0}");
    for (i = 0; i < MANY; i++)
        adopt(l, &p[i], "10.0.0.1", 0);
    for (i = 0; i < MANY; i++)
        assert_int_equal(wait_for(&p[i], "{\"n\":0}", WAIT_MS), 0);
    publish(l, "{\"n\":1}");
    for (i = 0; i < MANY; i++) {
        assert_int_equal(wait_for(&p[i], "{\"n\":1}", WAIT_MS), 0);
        assert_int_equal(p[i].frames, 2);
        close(p[i].fd);
    }
    loop_free(l);
}

/* One viewer stops reading: the others get every snapshot at once; when
 * it reads again it gets the latest, not every one it missed. */
static void test_loop_blocked_viewer_coalesced(void **state)
{
    struct loop *l = start(4, 0, 0);
    struct peer slow, fast;
    char json[80];
    int k;

    adopt(l, &slow, "10.0.0.1", 1024);
    adopt(l, &fast, "10.0.0.2", 0);
    for (k = 1; k <= 3000; k++) {
        snprintf(json, sizeof(json), "{\"n\":%d,\"pad\":\"%040d\"}", k, 0);
        publish(l, json);
        if (k % 500 == 0)
            assert_int_equal(wait_for(&fast, json, WAIT_MS), 0);
    }
    assert_int_equal(wait_for(&slow, json, WAIT_MS), 0);
    print_message("slow viewer got %u of 3000 frames, ending on the last\n",
                  slow.frames);
    assert_true(slow.frames < 3000);
    close(slow.fd);
    close(fast.fd);
    loop_free(l);
}

/* A viewer that answers but takes nothing for T is dropped (its socket
 * stays full: "write_stalled" in the log); one that reads stays. */
static void test_loop_stalled_viewer_dropped(void **state)
{
    struct loop *l = start(4, 0, 300);
    struct peer stuck, ok;
    char big[3000];
    int64_t t0;
    int k = 0;

    memset(big, 'x', sizeof(big));
    big[0] = '"';
    big[sizeof(big) - 2] = '"';
    big[sizeof(big) - 1] = '\0';
    adopt(l, &stuck, "10.0.0.1", 1024);
    adopt(l, &ok, "10.0.0.2", 0);
    t0 = mono_ms();
    while (loop_count(l) == 2 && mono_ms() - t0 < WAIT_MS) {
        snprintf(big + 1, 12, "%010d", ++k); /* a new snapshot each time */
        big[11] = 'x';
        publish(l, big); /* fills the stuck one's socket */
        assert_int_equal(wait_for(&ok, big, WAIT_MS), 0);
        /* a masked, empty pong: ok is alive */
        assert_int_equal(write(ok.fd, "\x8a\x80\0\0\0\0", 6), 6);
        /* stuck is alive too: it sends, it just never reads */
        (void)send(stuck.fd, "\x8a\x80\0\0\0\0", 6, MSG_NOSIGNAL);
        mono_sleep_ms(5);
    }
    print_message("stalled viewer dropped after %ld ms (T 300 ms)\n",
                  (long)(mono_ms() - t0));
    assert_int_equal(loop_count(l), 1);
    assert_true(mono_ms() - t0 >= 300);
    close(stuck.fd);
    close(ok.fd);
    loop_free(l);
}

static void test_loop_caps(void **state)
{
    struct loop *l = start(3, 2, 0);
    struct loop_viewer *v[4];

    assert_int_equal(loop_reserve(l, "10.0.0.1", &v[0]), 0);
    assert_int_equal(loop_reserve(l, "10.0.0.1", &v[1]), 0);
    assert_int_equal(loop_reserve(l, "10.0.0.1", &v[2]), -EUSERS);
    assert_int_equal(loop_reserve(l, "10.0.0.2", &v[2]), 0);
    assert_int_equal(loop_reserve(l, "10.0.0.3", &v[3]), -EBUSY);
    assert_int_equal(loop_count(l), 3);
    loop_unreserve(l, v[0]);
    assert_int_equal(loop_reserve(l, "10.0.0.1", &v[0]), 0);
    loop_unreserve(l, v[0]);
    loop_unreserve(l, v[1]);
    loop_unreserve(l, v[2]);
    assert_int_equal(loop_count(l), 0);
    loop_free(l);
}

static void test_loop_close_all(void **state)
{
    struct loop *l = start(4, 0, 0);
    struct loop_viewer *extra;
    struct peer p[2];
    int i;

    publish(l, "{\"n\":1}");
    for (i = 0; i < 2; i++) {
        adopt(l, &p[i], "10.0.0.1", 0);
        assert_int_equal(wait_for(&p[i], "{\"n\":1}", WAIT_MS), 0);
    }
    assert_int_equal(loop_close_all(l, 1001, WAIT_MS), 0);
    for (i = 0; i < 2; i++) {
        assert_int_equal(wait_for(&p[i], NULL, WAIT_MS), 0);
        assert_int_equal(p[i].close_code, 1001);
        close(p[i].fd);
    }
    assert_int_equal(loop_reserve(l, "10.0.0.1", &extra), -ESHUTDOWN);
    loop_free(l);
}

/* Shutdown with a slow viewer in the middle of a frame: the frame is
 * finished, then the close frame is sent whole, then the connection ends
 * (the close is never cut short). */
static void test_loop_close_after_frame_in_flight(void **state)
{
    struct loop *l = start(4, 0, 0);
    struct peer slow;
    char big[3000];
    int k;

    memset(big, 'y', sizeof(big));
    big[0] = '"';
    big[sizeof(big) - 2] = '"';
    big[sizeof(big) - 1] = '\0';
    adopt(l, &slow, "10.0.0.1", 1024);
    for (k = 0; k < 200; k++) { /* far more than the socket holds */
        snprintf(big + 1, 12, "%010d", k);
        big[11] = 'y';
        publish(l, big);
    }
    mono_sleep_ms(100);
    assert_true(loop_close_all(l, 1001, 0) <= 1); /* not flushed yet */
    assert_int_equal(wait_for(&slow, NULL, WAIT_MS), 0);
    assert_int_equal(slow.close_code, 1001);
    assert_true(slow.frames >= 1);
    /* then our side is shut: EOF once the client has read everything */
    assert_int_equal(wait_for(&slow, "never", WAIT_MS), 1);
    close(slow.fd);
    loop_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_current),
        cmocka_unit_test(test_loop_viewer_gets_101_then_current),
        cmocka_unit_test(test_loop_broadcast_reaches_all),
        cmocka_unit_test(test_loop_blocked_viewer_coalesced),
        cmocka_unit_test(test_loop_stalled_viewer_dropped),
        cmocka_unit_test(test_loop_caps),
        cmocka_unit_test(test_loop_close_all),
        cmocka_unit_test(test_loop_close_after_frame_in_flight),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
