/* mono.h - the monotonic clock in milliseconds, deadlines on it for
 * pthread_cond_timedwait() on condition variables made with
 * pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), and sleeps. */
#ifndef LIB_MONO_H
#define LIB_MONO_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since an arbitrary start; never goes back. */
int64_t mono_ms(void);

/* The CLOCK_MONOTONIC time ms milliseconds from now. */
struct timespec mono_deadline(unsigned ms);

/* Sleeps ms milliseconds (less if a signal interrupts). */
void mono_sleep_ms(unsigned ms);

#endif
