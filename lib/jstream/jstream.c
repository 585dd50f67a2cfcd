/* jstream.c - stream descriptions and their creation; see jstream.h. */
#include "lib/jstream/jstream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/config/config.h"
#include "lib/log/log.h"
#include "proto/contract.h"

#define NS_PER_S  1000000000LL
#define MAX_AGE_S (100LL * 365 * 24 * 3600) /* a century */
#define MAX_BYTES (1LL << 50)               /* a petabyte */
#define DEF_AGE_S 2592000LL                 /* 30 days */
/* No age limit on VOTES: a vote leaves it once applied, and an age would
 * only drop votes not applied yet (answered 200). */
#define DEF_VOTES_AGE_S 0LL
#define DEF_VOTES_B     1073741824LL /* 1 GiB */
#define DEF_DL_BYTES    268435456LL  /* 256 MiB */

/* Bits of *said: warnings (kept), refusals (forgotten when it passes). */
enum {
    W_REPLICAS = 1 << 0,
    W_AGE = 1 << 1,
    W_BYTES = 1 << 2,
    W_DUP = 1 << 3,
    W_DENY = 1 << 5,
    R_SUBJECTS = 1 << 8,
    R_REPUBLISH = 1 << 9,
    R_MIRROR = 1 << 10,
    R_SOURCES = 1 << 11,
    R_STORAGE = 1 << 12,
    R_SEALED = 1 << 13,
    R_RETENTION = 1 << 14,
    R_DISCARD = 1 << 15,
    R_PER_SUBJECT = 1 << 16,
    R_ALL = 0xff00,
};

void jstream_settings_default(struct jstream_settings *s)
{
    s->replicas = 1;
    s->votes_max_age_s = DEF_VOTES_AGE_S;
    s->votes_max_bytes = DEF_VOTES_B;
    s->dl_max_age_s = DEF_AGE_S;
    s->dl_max_bytes = DEF_DL_BYTES;
}

int jstream_settings_load(struct jstream_settings *s)
{
    long r, va, vb, da, db;

    if (config_long("NATS_REPLICAS", 1, 1, 5, &r) ||
        config_long("VOTES_MAX_AGE_S", DEF_VOTES_AGE_S, 0, MAX_AGE_S, &va) ||
        config_long("VOTES_MAX_BYTES", DEF_VOTES_B, 0, MAX_BYTES, &vb) ||
        config_long("DEADLETTER_MAX_AGE_S", DEF_AGE_S, 0, MAX_AGE_S, &da) ||
        config_long("DEADLETTER_MAX_BYTES", DEF_DL_BYTES, 0, MAX_BYTES, &db))
        return -EINVAL;
    s->replicas = (int)r;
    s->votes_max_age_s = va;
    s->votes_max_bytes = vb;
    s->dl_max_age_s = da;
    s->dl_max_bytes = db;
    return 0;
}

static void describe(struct jstream_desc *d, int replicas, int64_t age_s,
                     int64_t bytes)
{
    d->replicas = replicas;
    d->max_age_ns = age_s * NS_PER_S; /* ns, trap 7 */
    d->max_bytes = bytes > 0 ? bytes : -1;
}

void jstream_votes(struct jstream_desc *d, const struct jstream_settings *s,
                   int64_t dup_ns)
{
    struct jstream_settings def;

    if (!s) {
        jstream_settings_default(&def);
        s = &def;
    }
    memset(d, 0, sizeof(*d));
    d->name = CONTRACT_STREAM;
    d->subjects = CONTRACT_SUBJECTS;
    d->env = "VOTES";
    describe(d, s->replicas, s->votes_max_age_s, s->votes_max_bytes);
    d->discard = js_DiscardNew;
    d->retention = js_WorkQueuePolicy;
    d->queue = 1;
    d->duplicates_ns = dup_ns;
}

void jstream_deadletter(struct jstream_desc *d,
                        const struct jstream_settings *s)
{
    struct jstream_settings def;

    if (!s) {
        jstream_settings_default(&def);
        s = &def;
    }
    memset(d, 0, sizeof(*d));
    d->name = CONTRACT_DL_STREAM;
    d->subjects = CONTRACT_DL_SUBJECTS;
    d->env = "DEADLETTER";
    describe(d, s->replicas, s->dl_max_age_s, s->dl_max_bytes);
    d->discard = js_DiscardOld;
    d->retention = js_LimitsPolicy;
}

static void log_failed(const char *stream, natsStatus s, jsErrCode jerr,
                       const char *detail)
{
    log_warn("stream_check_failed", LOG_STR("stream", stream),
             LOG_STR("error", natsStatus_GetText(s)), LOG_INT("code", jerr),
             LOG_STR("detail", detail));
}

static natsStatus create_stream(jsCtx *js, const struct jstream_desc *d,
                                jsErrCode *jerr)
{
    const char *subjects[] = {d->subjects};
    jsStreamInfo *si = NULL;
    jsStreamConfig cfg;
    natsStatus s;

    jsStreamConfig_Init(&cfg);
    cfg.Name = d->name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = d->replicas;
    cfg.MaxAge = d->max_age_ns;
    cfg.MaxBytes = d->max_bytes;
    cfg.Discard = d->discard;
    cfg.Duplicates = d->duplicates_ns;
    cfg.Retention = d->retention;
    cfg.DenyDelete = true; /* nobody takes a stored message out */
    cfg.DenyPurge = true;
    s = js_AddStream(&si, js, &cfg, NULL, jerr);
    jsStreamInfo_Destroy(si);
    if (s == NATS_OK)
        log_info(
            "stream_created", LOG_STR("stream", d->name),
            LOG_INT("replicas", d->replicas),
            LOG_INT("max_age_s", d->max_age_ns / NS_PER_S),
            LOG_INT("max_bytes", d->max_bytes),
            LOG_STR("discard", d->discard == js_DiscardNew ? "new" : "old"),
            LOG_INT("duplicates_s", d->duplicates_ns / NS_PER_S),
            LOG_STR("retention", d->retention == js_WorkQueuePolicy
                                     ? "workqueue"
                                     : "limits"));
    return s;
}

/* One warn line, the first time bit is seen differing. */
static void differs(const struct jstream_desc *d, unsigned *said, unsigned bit,
                    const char *setting, long long has, long long asked)
{
    if (has == asked || (*said & bit))
        return;
    *said |= bit;
    log_warn("stream_settings_differ", LOG_STR("stream", d->name),
             LOG_STR("setting", setting), LOG_INT("has", has),
             LOG_INT("asked", asked),
             LOG_STR("note", "an existing stream is left as it is"));
}

/* The differences that lose nothing: warned once each. */
static void compare(const struct jstream_desc *d, const jsStreamConfig *c,
                    unsigned *said)
{
    char age[64], bytes[64];

    snprintf(age, sizeof(age), "%s_MAX_AGE_S", d->env);
    snprintf(bytes, sizeof(bytes), "%s_MAX_BYTES", d->env);
    differs(d, said, W_REPLICAS, "NATS_REPLICAS",
            c->Replicas > 0 ? c->Replicas : 1, d->replicas);
    differs(d, said, W_AGE, age, c->MaxAge / NS_PER_S,
            d->max_age_ns / NS_PER_S);
    differs(d, said, W_BYTES, bytes, c->MaxBytes > 0 ? c->MaxBytes : 0,
            d->max_bytes > 0 ? d->max_bytes : 0);
    if (d->dup_env)
        differs(d, said, W_DUP, d->dup_env, c->Duplicates / NS_PER_S,
                d->duplicates_ns / NS_PER_S);
    if ((!c->DenyDelete || !c->DenyPurge) && !(*said & W_DENY)) {
        *said |= W_DENY;
        log_warn("stream_settings_differ", LOG_STR("stream", d->name),
                 LOG_STR("setting", "deny_delete_purge"), LOG_BOOL("has", 0),
                 LOG_BOOL("asked", 1));
    }
}

/* One refused field: an error line the first time, and why. */
static void refuse(const struct jstream_desc *d, unsigned *said, unsigned bit,
                   const char *field, const char *has, char *why, size_t n,
                   int *refused)
{
    if (!*refused && why)
        snprintf(why, n, "stream %s refused: %s is %s", d->name, field, has);
    *refused = 1;
    if (*said & bit)
        return;
    *said |= bit;
    log_error("stream_refused", LOG_STR("stream", d->name),
              LOG_STR("field", field), LOG_STR("has", has),
              LOG_STR("note", "it can lose or leak votes: not used until an "
                              "operator fixes it (docs/decisions.md)"));
}

static int same_subjects(const struct jstream_desc *d, const jsStreamConfig *c)
{
    return c->SubjectsLen == 1 && c->Subjects[0] &&
           strcmp(c->Subjects[0], d->subjects) == 0;
}

static const char *retention_name(jsRetentionPolicy r)
{
    return r == js_InterestPolicy    ? "interest"
           : r == js_WorkQueuePolicy ? "workqueue"
                                     : "limits";
}

int jstream_verify(const struct jstream_desc *d, const jsStreamConfig *c,
                   unsigned *said, char *why, size_t n)
{
    char has[128];
    int refused = 0;

    snprintf(has, sizeof(has), "%s%s", c->SubjectsLen > 0 ? c->Subjects[0] : "",
             c->SubjectsLen > 1 ? " and more" : "");
    if (c->RePublish)
        refuse(d, said, R_REPUBLISH, "republish",
               c->RePublish->Destination ? c->RePublish->Destination : "set",
               why, n, &refused);
    if (c->Mirror)
        refuse(d, said, R_MIRROR, "mirror",
               c->Mirror->Name ? c->Mirror->Name : "set", why, n, &refused);
    if (c->SourcesLen > 0)
        refuse(d, said, R_SOURCES, "sources",
               c->Sources[0]->Name ? c->Sources[0]->Name : "set", why, n,
               &refused);
    if (!c->Mirror && !same_subjects(d, c)) /* a mirror has none */
        refuse(d, said, R_SUBJECTS, "subjects", has, why, n, &refused);
    if (c->Storage != js_FileStorage)
        refuse(d, said, R_STORAGE, "storage", "memory", why, n, &refused);
    if (c->Sealed)
        refuse(d, said, R_SEALED, "sealed", "true", why, n, &refused);
    if (c->Retention != d->retention)
        refuse(d, said, R_RETENTION, "retention", retention_name(c->Retention),
               why, n, &refused);
    if (d->queue && c->Discard != js_DiscardNew)
        refuse(d, said, R_DISCARD, "discard", "old", why, n, &refused);
    snprintf(has, sizeof(has), "%lld", (long long)c->MaxMsgsPerSubject);
    if (d->queue && c->MaxMsgsPerSubject > 0)
        refuse(d, said, R_PER_SUBJECT, "max_msgs_per_subject", has, why, n,
               &refused);
    if (refused)
        return -EPERM;
    *said &= ~(unsigned)R_ALL;
    compare(d, c, said);
    return 0;
}

int jstream_ensure(jsCtx *js, const struct jstream_desc *d, int create,
                   unsigned *said, char *why, size_t n)
{
    char detail[256];
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s;
    int rc;

    s = js_GetStreamInfo(&si, js, d->name, NULL, &jerr);
    if ((s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) && !create) {
        if (why)
            snprintf(why, n, "stream %s missing (the worker creates it)",
                     d->name);
        return -ENOENT;
    }
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        s = create_stream(js, d, &jerr);
        if (s == NATS_OK) {
            *said &= ~(unsigned)R_ALL;
            return 0;
        }
        snprintf(detail, sizeof(detail), "%s", nats_GetLastError(NULL));
        /* Another client may have created it meanwhile. */
        if (js_GetStreamInfo(&si, js, d->name, NULL, NULL) != NATS_OK) {
            log_failed(d->name, s, jerr, detail);
            if (why)
                snprintf(why, n, "stream %s could not be created", d->name);
            return -EIO;
        }
    } else if (s != NATS_OK) {
        log_failed(d->name, s, jerr, nats_GetLastError(NULL));
        if (why)
            snprintf(why, n, "stream %s could not be checked", d->name);
        return -EIO;
    }
    rc = jstream_verify(d, si->Config, said, why, n);
    jsStreamInfo_Destroy(si);
    return rc;
}
