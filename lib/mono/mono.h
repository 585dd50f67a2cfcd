/* mono.h - the monotonic clock in milliseconds, deadlines on it for
 * pthread_cond_timedwait() on condition variables made with
 * pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), and sleeps. */
#ifndef LIB_MONO_H
#define LIB_MONO_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds since an arbitrary start; never goes back. */
int64_t mono_ms(void);

/* The CLOCK_MONOTONIC time ms milliseconds from now. */
struct timespec mono_deadline(unsigned ms);

/* Sleeps ms milliseconds (less if a signal interrupts). */
void mono_sleep_ms(unsigned ms);

/* 1 at most once every ms milliseconds per slot *last (start it at 0),
 * else 0; any number of threads may share a slot. For log lines an event
 * can repeat thousands of times a second (a flood of refusals). */
int mono_due(_Atomic int64_t *last, unsigned ms);

#endif
