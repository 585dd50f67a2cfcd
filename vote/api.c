/* api.c - HTTP handlers of the vote service; see api.h. */
#include "vote/api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/clientaddr/clientaddr.h"
#include "lib/http/http.h"
#include "lib/log/log.h"
#include "lib/metrics/metrics.h"
#include "lib/mono/mono.h"
#include "proto/contract.h"
#include "proto/vote.pb-c.h"
#include "vote/ballot.h"
#include "vote/bus.h"
#include "vote/ratelimit.h"
#include "vote/settings.h"
#include "vote/voters.h"

#define COOKIE_MAX_AGE "31536000" /* one year */
#define MSG_ID_MAX     48
#define BODY_TOO_LARGE                                                         \
    "request body too large: at most " CONTRACT_STR(API_BODY_MAX) " bytes"

static const double LATENCY_BOUNDS[] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

struct api {
    struct bus *bus;
    struct voters *voters;
    const struct settings *cfg;
    char hostname[256];
    char instance[17]; /* random, prefixes message ids */
    atomic_uint_fast64_t next_id;
    struct metric *votes[CONTRACT_N_OPTIONS];
    struct metric *publish_errors;
    struct metric *bad_requests;
    struct metric *latency;
    struct metric *rate_limited;
    struct ratelimit *limit;      /* NULL: no limit (VOTE_RATE_PER_MIN=0) */
    _Atomic int64_t last_pub_log; /* rate limit of the error log, ms */
    _Atomic int64_t last_limit_log;
};

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int register_metrics(struct api *a, struct metrics *m)
{
    char name[64];
    int i;

    for (i = 0; i < CONTRACT_N_OPTIONS; i++) {
        snprintf(name, sizeof(name), "vote_votes_total{option=\"%s\"}",
                 CONTRACT_OPTIONS[i]);
        a->votes[i] =
            metrics_counter(m, name, "Votes acknowledged by JetStream.");
    }
    a->publish_errors =
        metrics_counter(m, "vote_publish_errors_total",
                        "Votes refused with 503: no PubAck from JetStream.");
    a->bad_requests = metrics_counter(m, "vote_bad_requests_total",
                                      "Vote requests refused with 4xx.");
    a->rate_limited = metrics_counter(
        m, "vote_rate_limited_total",
        "Votes refused with 429: over VOTE_RATE_PER_MIN for the address.");
    a->latency = metrics_histogram(
        m, "vote_request_duration_seconds", "Time to answer POST /api/vote.",
        LATENCY_BOUNDS, sizeof(LATENCY_BOUNDS) / sizeof(LATENCY_BOUNDS[0]));
    for (i = 0; i < CONTRACT_N_OPTIONS; i++)
        if (!a->votes[i])
            return -ENOMEM;
    return a->publish_errors && a->bad_requests && a->latency && a->rate_limited
               ? 0
               : -ENOMEM;
}

int api_new(struct api **out, struct bus *bus, struct voters *voters,
            const struct settings *cfg, struct metrics *m)
{
    struct api *a = calloc(1, sizeof(*a));
    uint64_t r;

    *out = NULL;
    if (!a)
        return -ENOMEM;
    a->bus = bus;
    a->voters = voters;
    a->cfg = cfg;
    if (gethostname(a->hostname, sizeof(a->hostname)))
        snprintf(a->hostname, sizeof(a->hostname), "vote");
    a->hostname[sizeof(a->hostname) - 1] = '\0';
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r) ||
        register_metrics(a, m) ||
        (cfg->rate_per_min &&
         ratelimit_new(&a->limit, cfg->rate_per_min, cfg->rate_burst))) {
        free(a);
        return -EIO;
    }
    snprintf(a->instance, sizeof(a->instance), "%016" PRIx64, r);
    *out = a;
    return 0;
}

void api_free(struct api *a)
{
    if (a)
        ratelimit_free(a->limit);
    free(a);
}

int api_ready(void *arg, char *why, size_t n)
{
    struct api *a = arg;
    char nats[HTTP_WHY_MAX / 2], redis[HTTP_WHY_MAX / 2];
    int rc_nats = bus_ready(a->bus, nats, sizeof(nats));
    int rc_redis = voters_ready(a->voters, redis, sizeof(redis));

    if (rc_nats && rc_redis)
        snprintf(why, n, "%s; %s", nats, redis);
    else if (rc_nats || rc_redis)
        snprintf(why, n, "%s", rc_nats ? nats : redis);
    return rc_nats ? rc_nats : rc_redis;
}

static const char *method(struct mg_connection *c)
{
    return mg_get_request_info(c)->request_method;
}

static int is_get(struct mg_connection *c)
{
    return strcmp(method(c), "GET") == 0 || strcmp(method(c), "HEAD") == 0;
}

static int send_405(struct mg_connection *c, const char *allow)
{
    char hdr[64];

    snprintf(hdr, sizeof(hdr), "Allow: %s\r\n", allow);
    return http_send_json(
        c, 405, json_pack("{s:s}", "error", "method not allowed here"), hdr);
}

static int send_503(struct mg_connection *c, const char *msg)
{
    char hdr[40];

    snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n", API_RETRY_AFTER_S);
    return http_send_json(c, 503, json_pack("{s:s}", "error", msg), hdr);
}

/* Packs the VoteCast and publishes it on votes.<option>; 0 after the
 * PubAck. */
static int publish(struct api *a, const struct ballot *b, const char *msg_id)
{
    Voting__V1__VoteCast vc = VOTING__V1__VOTE_CAST__INIT;
    uint8_t buf[256];
    char subject[32];
    struct bus_ack ack;
    size_t len;

    vc.voter_id = (char *)b->voter_id;
    vc.option = (char *)b->option;
    vc.cast_at_ms = wall_ms();
    vc.origin = a->hostname;
    vc.request_id = (char *)msg_id;
    if (voting__v1__vote_cast__get_packed_size(&vc) > sizeof(buf))
        return -E2BIG;
    len = voting__v1__vote_cast__pack(&vc, buf);
    snprintf(subject, sizeof(subject), CONTRACT_SUBJECT_PREFIX "%s", b->option);
    return bus_publish(a->bus, subject, buf, len, msg_id, API_PUBLISH_MS, &ack);
}

static void publish_failed(struct api *a, int rc)
{
    metrics_add(a->publish_errors, 1);
    if (mono_due(&a->last_pub_log, 1000))
        log_warn("publish_failed", LOG_STR("error", strerror(-rc)),
                 LOG_INT("answer", 503));
}

/* 200 with the ballot, or 303 to / for a browser's form post. */
static int send_cast(struct api *a, struct mg_connection *c,
                     const struct ballot *b)
{
    const char *accept = mg_get_header(c, "Accept");
    int browser =
        b->format == BALLOT_FORM && accept && strstr(accept, "text/html");
    char hdr[256];

    snprintf(hdr, sizeof(hdr),
             "%sSet-Cookie: voter_id=%s; Path=/; Max-Age=" COOKIE_MAX_AGE
             "; HttpOnly; SameSite=Lax\r\n",
             browser ? "Location: /\r\n" : "", b->voter_id);
    return http_send_json(c, browser ? 303 : 200,
                          json_pack("{s:s,s:s,s:s}", "voter_id", b->voter_id,
                                    "vote", b->option, "hostname", a->hostname),
                          hdr);
}

/* The last X-Forwarded-For header (the one the nearest proxy wrote), or
 * NULL. */
static const char *forwarded_for(struct mg_connection *c)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    const char *v = NULL;
    int i;

    for (i = 0; i < ri->num_headers; i++)
        if (strcasecmp(ri->http_headers[i].name, "X-Forwarded-For") == 0)
            v = ri->http_headers[i].value;
    return v;
}

/* 0 when the client's address may vote now; else the 429 is sent and its
 * handler's answer returned. */
static int over_limit(struct api *a, struct mg_connection *c)
{
    const struct settings *cfg = a->cfg;
    struct clientaddr who;
    char hdr[40], msg[192], shown[64];
    unsigned wait;

    if (clientaddr_get(mg_get_request_info(c)->remote_addr, forwarded_for(c),
                       cfg->trusted, cfg->n_trusted, &who))
        return 0; /* no peer address (not over TCP/IP): nothing to count */
    wait = ratelimit_take(a->limit, &who, mono_ms());
    if (!wait)
        return 0;
    metrics_add(a->rate_limited, 1);
    clientaddr_format(&who, shown, sizeof(shown));
    if (mono_due(&a->last_limit_log, 1000))
        log_warn("rate_limited", LOG_STR("client", shown),
                 LOG_INT("retry_after_s", wait));
    snprintf(hdr, sizeof(hdr), "Retry-After: %u\r\n", wait);
    snprintf(msg, sizeof(msg),
             "too many votes from your address (%s): at most %u a minute; "
             "retry in %u s",
             shown, cfg->rate_per_min, wait);
    return http_send_json(c, 429, json_pack("{s:s}", "error", msg), hdr);
}

static int bad_request(struct api *a, struct mg_connection *c, int status,
                       const char *why)
{
    metrics_add(a->bad_requests, 1);
    return http_send_error(c, status, why);
}

/* The Cookie header; several are joined with "; " into buf (as HTTP/2
 * proxies send them), so that a voter_id in each counts as two. NULL when
 * there is none; "voter_id=" (malformed) when they do not fit in buf. */
static const char *cookies(struct mg_connection *c, char *buf, size_t n)
{
    const struct mg_request_info *ri = mg_get_request_info(c);
    size_t len = 0;
    int i, seen = 0;

    for (i = 0; i < ri->num_headers; i++)
        seen += strcasecmp(ri->http_headers[i].name, "Cookie") == 0;
    if (seen < 2)
        return mg_get_header(c, "Cookie");
    for (i = 0, seen = 0; i < ri->num_headers; i++) {
        if (strcasecmp(ri->http_headers[i].name, "Cookie") != 0)
            continue;
        len += (size_t)snprintf(buf + len, n - len, "%s%s", seen++ ? "; " : "",
                                ri->http_headers[i].value);
        if (len >= n)
            return "voter_id=";
    }
    return buf;
}

static int cast(struct api *a, struct mg_connection *c)
{
    char body[API_BODY_MAX + 1], msg_id[MSG_ID_MAX], jar[1024];
    double start = now_s();
    struct ballot b;
    const char *why = NULL;
    size_t len;
    int rc;

    rc = http_read_body(c, body, sizeof(body), &len);
    if (rc == -E2BIG)
        return bad_request(a, c, 413, BODY_TOO_LARGE);
    if (rc)
        return bad_request(a, c, 400, "could not read the request body");
    rc = a->limit ? over_limit(a, c) : 0;
    if (rc)
        return rc;
    if (ballot_parse(&b, mg_get_header(c, "Content-Type"), body, len,
                     cookies(c, jar, sizeof(jar)), &why))
        return bad_request(a, c, 400, why);
    snprintf(msg_id, sizeof(msg_id), "%s-%" PRIxFAST64, a->instance,
             atomic_fetch_add(&a->next_id, 1));
    rc = publish(a, &b, msg_id);
    if (rc) {
        publish_failed(a, rc);
        return send_503(c, "the vote could not be stored right now; "
                           "please retry");
    }
    metrics_add(a->votes[contract_option_index(b.option)], 1);
    /* Queued for Redis; a write lost there is counted and logged by
     * voters and loses no vote: JetStream has it. */
    voters_record(a->voters, b.voter_id, b.option);
    rc = send_cast(a, c, &b);
    metrics_observe(a->latency, now_s() - start);
    return rc;
}

static int current(struct api *a, struct mg_connection *c)
{
    char voter[CONTRACT_VOTER_MAX + 1], choice[16], jar[1024];
    int rc;

    if (ballot_query_voter(mg_get_request_info(c)->query_string,
                           cookies(c, jar, sizeof(jar)), voter, sizeof(voter)))
        return bad_request(a, c, 400, "bad voter_id: use " CONTRACT_VOTER_RULE);
    if (!voter[0])
        return http_send_json(c, 200,
                              json_pack("{s:n,s:n}", "voter_id", "vote"), NULL);
    rc = voters_get(a->voters, voter, choice, sizeof(choice));
    if (rc)
        return send_503(c, "your vote cannot be looked up right now");
    if (contract_option_index(choice) < 0)
        return http_send_json(
            c, 200, json_pack("{s:s,s:n}", "voter_id", voter, "vote"), NULL);
    return http_send_json(
        c, 200, json_pack("{s:s,s:s}", "voter_id", voter, "vote", choice),
        NULL);
}

static int exact(struct mg_connection *c, const char *path)
{
    return strcmp(mg_get_request_info(c)->local_uri, path) == 0;
}

static int on_vote(struct mg_connection *c, void *arg)
{
    if (!exact(c, "/api/vote"))
        return http_send_error(c, 404, "no such path");
    if (strcmp(method(c), "POST") == 0)
        return cast(arg, c);
    if (is_get(c))
        return current(arg, c);
    return send_405(c, "GET, HEAD, POST");
}

static int on_options(struct mg_connection *c, void *arg)
{
    const struct api *a = arg;

    if (!exact(c, "/api/options"))
        return http_send_error(c, 404, "no such path");
    if (!is_get(c))
        return send_405(c, "GET, HEAD");
    return http_send_json(
        c, 200,
        json_pack("{s:[{s:s,s:s},{s:s,s:s}]}", "options", "id",
                  CONTRACT_OPTION_A, "label", a->cfg->labels.of[0], "id",
                  CONTRACT_OPTION_B, "label", a->cfg->labels.of[1]),
        NULL);
}

/* POST / is the classic form post; GET / falls through to UI_DIR. */
static int on_root(struct mg_connection *c, void *arg)
{
    struct api *a = arg;

    if (strcmp(method(c), "POST") == 0)
        return cast(a, c);
    if (is_get(c) && a->cfg->ui_dir[0])
        return 0;
    if (is_get(c))
        return http_send_error(c, 404, "no such path (UI_DIR is not set)");
    return send_405(c, "GET, HEAD, POST");
}

static int on_unknown_api(struct mg_connection *c, void *arg)
{
    return http_send_error(c, 404, "no such path");
}

void api_register(struct api *a, struct mg_context *ctx)
{
    /* civetweb 1.15 tries exact URIs, then "uri/..." prefixes, then
     * patterns: so /api/vote/x reaches on_vote, which checks the path. */
    mg_set_request_handler(ctx, "/api/vote", on_vote, a);
    mg_set_request_handler(ctx, "/api/options", on_options, a);
    mg_set_request_handler(ctx, "/api", on_unknown_api, a);
    mg_set_request_handler(ctx, "/$", on_root, a);
}
