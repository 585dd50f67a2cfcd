/* ballot.c - vote request parsing and checks; see ballot.h. */
#include "vote/ballot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <civetweb.h>
#include <jansson.h>

#define OPTIONS_HINT                                                           \
    "vote must be \"" CONTRACT_OPTION_A "\" or \"" CONTRACT_OPTION_B "\""

int ballot_new_voter_id(char *out, size_t n)
{
    unsigned long long r;

    if (n < 17)
        return -EINVAL;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        return -EIO;
    snprintf(out, n, "%016llx", r);
    return 0;
}

/* How many cookies of the header are named voter_id (where mg_get_cookie
 * looks: at the start, or after ' ' or ';'). */
static int voter_cookies(const char *cookie)
{
    const char *p = cookie;
    int n = 0;

    while ((p = strstr(p, "voter_id=")) != NULL) {
        if (p == cookie || p[-1] == ' ' || p[-1] == ';')
            n++;
        p++;
    }
    return n;
}

int ballot_cookie_voter(const char *cookie, char *out, size_t n)
{
    int len;

    out[0] = '\0';
    if (!cookie)
        return 0;
    len = mg_get_cookie(cookie, "voter_id", out, n);
    if (len == -1)
        return 0;
    if (len < 0 || !contract_voter_ok(out) || voter_cookies(cookie) > 1) {
        out[0] = '\0';
        return -EINVAL;
    }
    return 0;
}

int ballot_query_voter(const char *qs, const char *cookie, char *out, size_t n)
{
    int len;

    out[0] = '\0';
    if (qs) {
        len = mg_get_var(qs, strlen(qs), "voter_id", out, n);
        if (len >= 0) /* a %00 inside would cut the id short */
            return (size_t)len == strlen(out) && contract_voter_ok(out)
                       ? 0
                       : -EINVAL;
        if (len != -1)
            return -EINVAL;
    }
    return ballot_cookie_voter(cookie, out, n);
}

/* Copies an option id of the contract into b. */
static int take_option(struct ballot *b, const char *id, const char **why)
{
    if (contract_option_index(id) < 0) {
        *why = "unknown option: " OPTIONS_HINT;
        return -EINVAL;
    }
    snprintf(b->option, sizeof(b->option), "%s", id);
    return 0;
}

/* 1 when arrays and objects nest deeper than BALLOT_JSON_DEPTH in the
 * len bytes at s (brackets inside strings aside). jansson recurses once a
 * level, up to 2048, and civetweb's 100 KB handler stacks do not hold
 * that: a 4 KB body of "[[[[..." killed vote. */
static int json_too_deep(const char *s, size_t len)
{
    int depth = 0, in_string = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        if (in_string && s[i] == '\\')
            i++;
        else if (s[i] == '"')
            in_string = !in_string;
        else if (!in_string && (s[i] == '[' || s[i] == '{') &&
                 ++depth > BALLOT_JSON_DEPTH)
            return 1;
        else if (!in_string && (s[i] == ']' || s[i] == '}'))
            depth--;
    }
    return 0;
}

static int parse_json(struct ballot *b, const char *body, size_t len,
                      const char **why)
{
    json_t *root, *vote, *voter;
    int rc = -EINVAL;

    if (json_too_deep(body, len)) {
        *why = "malformed JSON: nested too deep; send {\"vote\":\"a\"}";
        return -EINVAL;
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!root || !json_is_object(root)) {
        *why = "malformed JSON: send an object like {\"vote\":\"a\"}";
        goto out_decref;
    }
    vote = json_object_get(root, "vote");
    voter = json_object_get(root, "voter_id");
    if (!vote) {
        *why = "missing option: send {\"vote\":\"a\"} or {\"vote\":\"b\"}";
        goto out_decref;
    }
    if (!json_is_string(vote) ||
        json_string_length(vote) != strlen(json_string_value(vote))) {
        *why = "unknown option: " OPTIONS_HINT;
        goto out_decref;
    }
    if (voter && (!json_is_string(voter) ||
                  !contract_voter_ok(json_string_value(voter)))) {
        *why = "bad voter_id: use " CONTRACT_VOTER_RULE;
        goto out_decref;
    }
    if (voter)
        snprintf(b->voter_id, sizeof(b->voter_id), "%s",
                 json_string_value(voter));
    rc = take_option(b, json_string_value(vote), why);
out_decref:
    json_decref(root);
    return rc;
}

static int parse_form(struct ballot *b, const char *body, size_t len,
                      const char **why)
{
    char vote[CONTRACT_OPTION_ID_MAX];
    int n = mg_get_var(body, len, "vote", vote, sizeof(vote));

    if (n == -1) {
        *why = "missing option: send the form field vote=a or vote=b";
        return -EINVAL;
    }
    if (n < 0 || (size_t)n != strlen(vote)) {
        *why = "unknown option: " OPTIONS_HINT;
        return -EINVAL;
    }
    return take_option(b, vote, why);
}

/* 1 when the media type of Content-Type `type` is `want`, parameters
 * (";charset=...") aside: "application/jsonp" is not JSON. */
static int is_type(const char *type, const char *want)
{
    size_t n = strlen(want);

    return strncasecmp(type, want, n) == 0 &&
           (type[n] == '\0' || type[n] == ';' || type[n] == ' ' ||
            type[n] == '\t');
}

/* JSON or form, from the Content-Type, else from the first byte. */
static int pick_format(const char *type, const char *body,
                       enum ballot_format *out)
{
    if (!type || !*type) {
        body += strspn(body, " \t\r\n");
        *out = body[0] == '{' ? BALLOT_JSON : BALLOT_FORM;
        return 0;
    }
    if (is_type(type, "application/json")) {
        *out = BALLOT_JSON;
        return 0;
    }
    if (is_type(type, "application/x-www-form-urlencoded")) {
        *out = BALLOT_FORM;
        return 0;
    }
    return -EINVAL;
}

int ballot_parse(struct ballot *b, const char *content_type, const char *body,
                 size_t len, const char *cookie, const char **why)
{
    char from_cookie[CONTRACT_VOTER_MAX + 1];
    int rc;

    memset(b, 0, sizeof(*b));
    if (pick_format(content_type, body, &b->format)) {
        *why = "unsupported Content-Type: send application/json or a form";
        return -EINVAL;
    }
    rc = b->format == BALLOT_JSON ? parse_json(b, body, len, why)
                                  : parse_form(b, body, len, why);
    if (rc)
        return rc;
    if (b->voter_id[0])
        return 0;
    if (ballot_cookie_voter(cookie, from_cookie, sizeof(from_cookie))) {
        *why = "bad voter_id cookie: use " CONTRACT_VOTER_RULE;
        return -EINVAL;
    }
    if (from_cookie[0]) {
        snprintf(b->voter_id, sizeof(b->voter_id), "%s", from_cookie);
        return 0;
    }
    b->new_voter = 1;
    if (ballot_new_voter_id(b->voter_id, sizeof(b->voter_id))) {
        *why = "could not make a voter id";
        return -EIO;
    }
    return 0;
}
