/* jstream.c - stream descriptions and their creation; see jstream.h. */
#include "lib/jstream/jstream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "lib/config/config.h"
#include "lib/log/log.h"
#include "proto/contract.h"

#define NS_PER_S     1000000000LL
#define MAX_AGE_S    (100LL * 365 * 24 * 3600) /* a century */
#define MAX_BYTES    (1LL << 50)               /* a petabyte */
#define DEF_AGE_S    2592000LL                 /* 30 days */
#define DEF_VOTES_B  1073741824LL              /* 1 GiB */
#define DEF_DL_BYTES 268435456LL               /* 256 MiB */

enum { W_REPLICAS = 1, W_AGE = 2, W_BYTES = 4, W_DISCARD = 8, W_DUP = 16 };

void jstream_settings_default(struct jstream_settings *s)
{
    s->replicas = 1;
    s->votes_max_age_s = DEF_AGE_S;
    s->votes_max_bytes = DEF_VOTES_B;
    s->dl_max_age_s = DEF_AGE_S;
    s->dl_max_bytes = DEF_DL_BYTES;
}

int jstream_settings_load(struct jstream_settings *s)
{
    long r, va, vb, da, db;

    if (config_long("NATS_REPLICAS", 1, 1, 5, &r) ||
        config_long("VOTES_MAX_AGE_S", DEF_AGE_S, 0, MAX_AGE_S, &va) ||
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
}

static void log_failed(const char *stream, natsStatus s, jsErrCode jerr,
                       const char *detail)
{
    char q[100], qd[300];

    log_warn("stream_check_failed",
             "\"stream\":\"%s\",\"error\":%s,\"code\":%d,\"detail\":%s", stream,
             log_quote(q, sizeof(q), natsStatus_GetText(s)), (int)jerr,
             log_quote(qd, sizeof(qd), detail));
}

static natsStatus create(jsCtx *js, const struct jstream_desc *d,
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
    s = js_AddStream(&si, js, &cfg, NULL, jerr);
    jsStreamInfo_Destroy(si);
    if (s == NATS_OK)
        log_info("stream_created",
                 "\"stream\":\"%s\",\"replicas\":%d,\"max_age_s\":%lld,"
                 "\"max_bytes\":%lld,\"discard\":\"%s\",\"duplicates_s\":%lld",
                 d->name, d->replicas, (long long)(d->max_age_ns / NS_PER_S),
                 (long long)d->max_bytes,
                 d->discard == js_DiscardNew ? "new" : "old",
                 (long long)(d->duplicates_ns / NS_PER_S));
    return s;
}

/* One warn line, the first time bit is seen differing. */
static void differs(const struct jstream_desc *d, unsigned *warned,
                    unsigned bit, const char *setting, long long has,
                    long long asked)
{
    if (has == asked || (*warned & bit))
        return;
    *warned |= bit;
    log_warn("stream_settings_differ",
             "\"stream\":\"%s\",\"setting\":\"%s\",\"has\":%lld,"
             "\"asked\":%lld,\"note\":\"an existing stream is left as it is\"",
             d->name, setting, has, asked);
}

static void compare(const struct jstream_desc *d, const jsStreamConfig *c,
                    unsigned *warned)
{
    char age[64], bytes[64];

    snprintf(age, sizeof(age), "%s_MAX_AGE_S", d->env);
    snprintf(bytes, sizeof(bytes), "%s_MAX_BYTES", d->env);
    differs(d, warned, W_REPLICAS, "NATS_REPLICAS",
            c->Replicas > 0 ? c->Replicas : 1, d->replicas);
    differs(d, warned, W_AGE, age, c->MaxAge / NS_PER_S,
            d->max_age_ns / NS_PER_S);
    differs(d, warned, W_BYTES, bytes, c->MaxBytes > 0 ? c->MaxBytes : 0,
            d->max_bytes > 0 ? d->max_bytes : 0);
    if (d->dup_env)
        differs(d, warned, W_DUP, d->dup_env, c->Duplicates / NS_PER_S,
                d->duplicates_ns / NS_PER_S);
    if (c->Discard != d->discard && !(*warned & W_DISCARD)) {
        *warned |= W_DISCARD;
        log_warn("stream_settings_differ",
                 "\"stream\":\"%s\",\"setting\":\"discard\",\"has\":\"%s\","
                 "\"asked\":\"%s\"",
                 d->name, c->Discard == js_DiscardNew ? "new" : "old",
                 d->discard == js_DiscardNew ? "new" : "old");
    }
}

int jstream_ensure(jsCtx *js, const struct jstream_desc *d, unsigned *warned)
{
    char detail[256];
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus s;

    s = js_GetStreamInfo(&si, js, d->name, NULL, &jerr);
    if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) {
        s = create(js, d, &jerr);
        if (s == NATS_OK)
            return 0;
        snprintf(detail, sizeof(detail), "%s", nats_GetLastError(NULL));
        /* Another client may have created it meanwhile. */
        if (js_GetStreamInfo(&si, js, d->name, NULL, NULL) != NATS_OK) {
            log_failed(d->name, s, jerr, detail);
            return -EIO;
        }
    } else if (s != NATS_OK) {
        log_failed(d->name, s, jerr, nats_GetLastError(NULL));
        return -EIO;
    }
    compare(d, si->Config, warned);
    jsStreamInfo_Destroy(si);
    return 0;
}
