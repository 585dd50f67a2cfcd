/* jstream.h - the JetStream streams of the project, described once; the
 * worker makes them exist, and every client checks them the same way
 * before using them (the worker, vote, tests).
 *
 * The settings come from the environment (read by vote and the worker):
 *   NATS_REPLICAS          1..5, replicas of VOTES and DEADLETTER   (1)
 *   VOTES_MAX_AGE_S        oldest vote kept, 0: no limit           (0)
 *   VOTES_MAX_BYTES        VOTES size, 0: no limit        (1073741824)
 *   DEADLETTER_MAX_AGE_S   oldest dead letter kept       (2592000)
 *   DEADLETTER_MAX_BYTES   DEADLETTER size                (268435456)
 *
 * VOTES is a work queue: a vote leaves the stream when the worker acks it
 * (after its commit), so the stream holds only the backlog and its byte
 * limit bites only when the worker falls behind. It discards new messages
 * when full: the publish is refused, so vote answers 503, never a 200 for
 * a vote that is then dropped. A work queue allows one consumer (the
 * worker's); readers use the stream message-get API or a core
 * subscription to votes.>. Deleting messages and purging are denied.
 * DEADLETTER keeps its messages (limits) and discards its oldest (dead
 * letters are diagnostics).
 *
 * One owner: the worker creates the streams when they are missing (vote
 * never does: it waits, answering 503). Settings apply when a stream is
 * created. An existing stream is never recreated nor updated; each
 * client checks it against its description before using it:
 *
 *   refused (-EPERM: the worker does not consume, vote does not publish,
 *   one error line naming the field, readyz says why) where a difference
 *   can lose or leak votes:
 *     subjects     anything but exactly the one filter (extra subjects
 *                  let other publishers add votes or read them back)
 *     republish    a copy of every message to another subject
 *     mirror, sources  messages from another stream
 *     storage      memory: a server restart loses them
 *     sealed       nothing can be stored
 *     retention    other than described. VOTES: interest drops a vote
 *                  nobody's consumer wants (while the worker's consumer is
 *                  missing); limits keeps applied votes until they age
 *                  out, so the stream fills and refuses every vote (the
 *                  layout before work queues: drain it and let the worker
 *                  make it again, README "Moving existing votes")
 *   and for VOTES only:
 *     discard      old: a full stream drops unapplied votes
 *     max_msgs_per_subject  drops the older votes of an option
 *   warned (one warn line per field, used as it is): deny delete/purge
 *     off, and replicas, ages, byte limits and Duplicates window other
 *     than the settings ask. Refusing rather than updating: only admin
 *     may change a stream, and the server refuses to change a retention
 *     or to lift deny delete/purge anyway.
 * Nothing here keeps state; the caller holds the "already said" bits. */
#ifndef LIB_JSTREAM_H
#define LIB_JSTREAM_H

#include <stddef.h>
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
    jsRetentionPolicy retention;
    int queue;             /* VOTES: the checks "for VOTES only" above */
    int64_t duplicates_ns; /* 0: the server's default */
    const char *dup_env;   /* warn when an existing stream's window
                            * differs from this variable's; NULL: don't */
};

/* The defaults above, without reading the environment. */
void jstream_settings_default(struct jstream_settings *s);

/* Reads the variables above. 0, or -EINVAL after logging the bad one. */
int jstream_settings_load(struct jstream_settings *s);

/* VOTES (CONTRACT_STREAM on votes.>, file storage, work queue,
 * Discard=New) with duplicates window dup_ns; s NULL means the defaults. */
void jstream_votes(struct jstream_desc *d, const struct jstream_settings *s,
                   int64_t dup_ns);

/* DEADLETTER (deadletter.>, file storage, limits, Discard=Old). */
void jstream_deadletter(struct jstream_desc *d,
                        const struct jstream_settings *s);

/* Checks an existing stream's configuration c against d by the rules
 * above: 0 (differences that lose nothing warned once each), or -EPERM
 * after one error line per refused field (the first time it is seen),
 * with the first refused field and its value in why. *said: bits the
 * caller keeps across calls, start at 0; a passing check forgets the
 * refusals, so a stream broken again is said again. */
int jstream_verify(const struct jstream_desc *d, const jsStreamConfig *c,
                   unsigned *said, char *why, size_t n);

/* Makes sure stream d exists and may be used: when missing, creates it as
 * described if create (another client may win the race: then its stream
 * is checked), else -ENOENT; an existing stream is checked with
 * jstream_verify(). 0, -ENOENT, -EPERM (refused, why says the field), or
 * -EIO logged (not connected, JetStream off or refusing, e.g. more
 * replicas than JetStream nodes). why may be NULL. */
int jstream_ensure(jsCtx *js, const struct jstream_desc *d, int create,
                   unsigned *said, char *why, size_t n);

#endif
