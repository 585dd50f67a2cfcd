/* jstream.h - the JetStream streams of the project, described once and
 * made to exist the same way by every client (vote, worker, tests).
 *
 * The settings come from the environment (read by vote and the worker):
 *   NATS_REPLICAS          1..5, replicas of VOTES and DEADLETTER   (1)
 *   VOTES_MAX_AGE_S        oldest vote kept, 0: no limit     (2592000)
 *   VOTES_MAX_BYTES        VOTES size, 0: no limit        (1073741824)
 *   DEADLETTER_MAX_AGE_S   oldest dead letter kept       (2592000)
 *   DEADLETTER_MAX_BYTES   DEADLETTER size                (268435456)
 * VOTES discards new messages when full: the publish is refused, so vote
 * answers 503, never a 200 for a vote that is then dropped. DEADLETTER
 * discards its oldest (dead letters are diagnostics).
 *
 * Settings apply when a stream is created. An existing stream is never
 * recreated nor changed (but for VOTES' Duplicates window, which vote
 * sets): where its replicas or limits differ from the settings, one warn
 * line per setting says which, the value it has and the value asked.
 * Nothing here keeps state; the caller holds the "already warned" bits. */
#ifndef LIB_JSTREAM_H
#define LIB_JSTREAM_H

#include <stdint.h>

#include <nats/nats.h>

struct jstream_settings {
    int replicas;            /* NATS_REPLICAS */
    int64_t votes_max_age_s; /* VOTES_MAX_AGE_S, 0: no limit */
    int64_t votes_max_bytes; /* VOTES_MAX_BYTES, 0: no limit */
    int64_t dl_max_age_s;    /* DEADLETTER_MAX_AGE_S */
    int64_t dl_max_bytes;    /* DEADLETTER_MAX_BYTES */
};

/* What one stream should be. Times in nanoseconds, as JetStream has them;
 * max_age_ns 0 and max_bytes -1 mean no limit. */
struct jstream_desc {
    const char *name;     /* "VOTES" */
    const char *subjects; /* one filter: "votes.>" */
    const char *env;      /* prefix of its settings: "VOTES" */
    int replicas;
    int64_t max_age_ns;
    int64_t max_bytes;
    jsDiscardPolicy discard;
    int64_t duplicates_ns; /* 0: the server's default */
    const char *dup_env;   /* warn when an existing stream's window
                            * differs from this variable's; NULL: don't */
};

/* The defaults above, without reading the environment. */
void jstream_settings_default(struct jstream_settings *s);

/* Reads the variables above. 0, or -EINVAL after logging the bad one. */
int jstream_settings_load(struct jstream_settings *s);

/* VOTES (CONTRACT_STREAM on votes.>, file storage, Discard=New) with
 * duplicates window dup_ns; s NULL means the defaults. */
void jstream_votes(struct jstream_desc *d, const struct jstream_settings *s,
                   int64_t dup_ns);

/* DEADLETTER (deadletter.>, file storage, Discard=Old). */
void jstream_deadletter(struct jstream_desc *d,
                        const struct jstream_settings *s);

/* Makes sure stream d exists: creates it as described when missing
 * (another client may win the race: then its stream is used), else keeps
 * it and warns once per differing setting (*warned: bits the caller keeps
 * across calls, start at 0). 0, or -EIO logged (not connected, JetStream
 * off or refusing, e.g. more replicas than JetStream nodes). */
int jstream_ensure(jsCtx *js, const struct jstream_desc *d, unsigned *warned);

#endif
