/* mono.h - the monotonic clock in milliseconds, condition variables that
 * wait on it (mono_cond_init), deadlines for their
 * pthread_cond_timedwait(), and sleeps. */
#ifndef LIB_MONO_H
#define LIB_MONO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds since an arbitrary start; never goes back. */
int64_t mono_ms(void);

/* Initialises *cv to time its waits on CLOCK_MONOTONIC, the clock of
 * mono_deadline(); release with pthread_cond_destroy(). 0 or -errno. */
int mono_cond_init(pthread_cond_t *cv);

/* The CLOCK_MONOTONIC time ms milliseconds from now, for
 * pthread_cond_timedwait() on a cv made by mono_cond_init(). */
struct timespec mono_deadline(unsigned ms);

/* Sleeps ms milliseconds (less if a signal interrupts). */
void mono_sleep_ms(unsigned ms);

/* 1 at most once every ms milliseconds per slot *last (start it at 0),
 * else 0; any number of threads may share a slot. For log lines an event
 * can repeat thousands of times a second (a flood of refusals). */
int mono_due(_Atomic int64_t *last, unsigned ms);

#endif
