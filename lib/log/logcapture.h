/* logcapture.h - for tests: catches what lib/log writes, so a test can
 * assert on the log lines the code under test emitted. One capture at a
 * time (lib/log has one descriptor); up to a pipe's buffer (64 KiB) may be
 * logged between two drains. */
#ifndef LIB_LOGCAPTURE_H
#define LIB_LOGCAPTURE_H

/* From now on, log lines go to a pipe instead of stdout. */
void logcapture_start(void);

/* What was logged since logcapture_start() or the last drain (at most
 * 16 KiB of it); capture goes on. Valid until the next call. */
const char *logcapture_drain(void);

/* Log lines go to stdout again. */
void logcapture_stop(void);

#endif
