/* shutdown.h - turns SIGTERM and SIGINT into a flag the main loop polls.
 *
 * The handler only stores 1 into the flag: no work in signal context.
 * SIGPIPE is ignored, so a peer that hangs up gives EPIPE, not death. */
#ifndef LIB_SHUTDOWN_H
#define LIB_SHUTDOWN_H

#include <signal.h>

/* Installs the handlers; `flag` must outlive the process (a static). */
int shutdown_install(volatile sig_atomic_t *flag);

/* Sleeps ms milliseconds, waking every 20 ms to look at *flag.
 * 0 after the whole sleep, -ECANCELED as soon as *flag is set. */
int shutdown_sleep_ms(volatile sig_atomic_t *flag, unsigned ms);

#endif
