/* shutdown.c - signal flag; see shutdown.h. */
#include "lib/shutdown/shutdown.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t *stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    if (stop_flag)
        *stop_flag = 1;
}

int shutdown_install(volatile sig_atomic_t *flag)
{
    struct sigaction sa;

    stop_flag = flag;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
        return -errno;
    sa.sa_handler = SIG_IGN;
    if (sigaction(SIGPIPE, &sa, NULL))
        return -errno;
    return 0;
}

int shutdown_sleep_ms(volatile sig_atomic_t *flag, unsigned ms)
{
    struct timespec slice;
    unsigned step;

    while (ms > 0) {
        if (flag && *flag)
            return -ECANCELED;
        step = ms < 20 ? ms : 20;
        slice.tv_sec = 0;
        slice.tv_nsec = (long)step * 1000000L;
        nanosleep(&slice, NULL);
        ms -= step;
    }
    return (flag && *flag) ? -ECANCELED : 0;
}
