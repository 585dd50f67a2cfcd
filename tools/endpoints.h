/* endpoints.h - where the local stack that `tools/run up` started listens.
 *
 * tools/run writes $RUN_DIR/endpoints.env (KEY=VALUE lines: NATS_URL,
 * VOTE_URL, POSTGRES_PORT, ...) and installs votectl as $RUN_DIR/bin/votectl,
 * so votectl finds that file next to its own folder. Settings already in the
 * environment win over the file; the file wins over the built-in defaults.
 * Nothing here keeps state. */
#ifndef TOOLS_ENDPOINTS_H
#define TOOLS_ENDPOINTS_H

#include <stddef.h>

#define ENDPOINTS_FILE "endpoints.env"

/* The file beside the folder of the running executable
 * (/x/.data/bin/votectl -> /x/.data/endpoints.env). 0, -ENOENT when that
 * file does not exist, -ENAMETOOLONG. */
int endpoints_path(char *out, size_t n);

/* Each KEY=VALUE of the file goes into the environment unless KEY is
 * already set there to a non-empty value. Blank lines and # comments are
 * skipped; a line without '=' is ignored. 0 or -errno (file unreadable). */
int endpoints_load(const char *path);

/* Where the current value of `name` comes from, for error messages:
 * "NATS_URL from /x/.data/endpoints.env (tools/run)", "NATS_URL from the
 * environment" or "NATS_URL unset: the default". path may be NULL. */
void endpoints_origin(const char *path, const char *name, char *out, size_t n);

#endif
