/* ballot.c - vote request parsing and checks; see ballot.h. */
#include "vote/ballot.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include <civetweb.h>
#include <jansson.h>

const char *const BALLOT_OPTIONS[BALLOT_N_OPTIONS] = {"a", "b"};

int ballot_option_index(const char *id)
{
    int i;

    for (i = 0; id && i < BALLOT_N_OPTIONS; i++)
        if (strcmp(id, BALLOT_OPTIONS[i]) == 0)
            return i;
    return -1;
}

int ballot_voter_id_ok(const char *s)
{
    size_t n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "abcdefghijklmnopqrstuvwxyz0123456789_-");

    return n >= 1 && n <= BALLOT_ID_MAX && s[n] == '\0';
}

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

int ballot_cookie_voter(const char *cookie, char *out, size_t n)
{
    int len;

    out[0] = '\0';
    if (!cookie)
        return 0;
    len = mg_get_cookie(cookie, "voter_id", out, n);
    if (len == -1)
        return 0;
    if (len < 0 || !ballot_voter_id_ok(out)) {
        out[0] = '\0';
        return -EINVAL;
    }
    return 0;
}

/* Copies an option id that passed ballot_option_index() into b. */
static int take_option(struct ballot *b, const char *id, const char **why)
{
    if (ballot_option_index(id) < 0) {
        *why = "unknown option: vote must be \"a\" or \"b\"";
        return -EINVAL;
    }
    snprintf(b->option, sizeof(b->option), "%.7s", id);
    return 0;
}

static int parse_json(struct ballot *b, const char *body, size_t len,
                      const char **why)
{
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *vote, *voter;
    int rc = -EINVAL;

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
        *why = "unknown option: vote must be \"a\" or \"b\"";
        goto out_decref;
    }
    if (voter && (!json_is_string(voter) ||
                  !ballot_voter_id_ok(json_string_value(voter)))) {
        *why = "bad voter_id: use 1-64 characters of A-Z a-z 0-9 _ -";
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
    char vote[8];
    int n = mg_get_var(body, len, "vote", vote, sizeof(vote));

    if (n == -1) {
        *why = "missing option: send the form field vote=a or vote=b";
        return -EINVAL;
    }
    if (n < 0 || (size_t)n != strlen(vote)) {
        *why = "unknown option: vote must be \"a\" or \"b\"";
        return -EINVAL;
    }
    return take_option(b, vote, why);
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
    if (strncasecmp(type, "application/json", 16) == 0) {
        *out = BALLOT_JSON;
        return 0;
    }
    if (strncasecmp(type, "application/x-www-form-urlencoded", 33) == 0) {
        *out = BALLOT_FORM;
        return 0;
    }
    return -EINVAL;
}

int ballot_parse(struct ballot *b, const char *content_type, const char *body,
                 size_t len, const char *cookie, const char **why)
{
    char from_cookie[BALLOT_ID_MAX + 1];
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
        *why = "bad voter_id cookie: use 1-64 characters of A-Z a-z 0-9 _ -";
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
