/* ballot.h - turns the body and cookie of a vote request into a checked
 * ballot: a known option id and a safe voter id. Pure functions, no I/O
 * but getrandom(2); thread-safe.
 *
 * Option ids are "a" and "b" (labels are configuration, ids are not); an
 * id is checked here before it becomes part of a NATS subject. A voter id
 * is 1-64 characters of [A-Za-z0-9_-], because it goes into a cookie and a
 * header. Error messages are static strings meant for the client. */
#ifndef VOTE_BALLOT_H
#define VOTE_BALLOT_H

#include <stddef.h>

#define BALLOT_ID_MAX    64
#define BALLOT_N_OPTIONS 2

extern const char *const BALLOT_OPTIONS[BALLOT_N_OPTIONS]; /* "a", "b" */

enum ballot_format { BALLOT_JSON, BALLOT_FORM };

struct ballot {
    char option[8]; /* "a" or "b" */
    char voter_id[BALLOT_ID_MAX + 1];
    int new_voter; /* the id was made up here */
    enum ballot_format format;
};

/* The index of option `id` in BALLOT_OPTIONS, or -1. */
int ballot_option_index(const char *id);

/* 1 when s is 1-64 characters of [A-Za-z0-9_-]. */
int ballot_voter_id_ok(const char *s);

/* A new random voter id, 16 hex digits (64 bits from getrandom). out must
 * hold 17 bytes. 0 or -errno. */
int ballot_new_voter_id(char *out, size_t n);

/* Reads the voter id from a Cookie header (NULL: none) into out: 0 and ""
 * when there is no voter_id cookie, 0 and the id, or -EINVAL when it is
 * malformed. */
int ballot_cookie_voter(const char *cookie, char *out, size_t n);

/* Parses body (len bytes, NUL-terminated) as JSON {"vote":..,"voter_id":..}
 * or as a form "vote=..", chosen by content_type (NULL: guessed from the
 * body). The voter is the JSON voter_id, else the cookie's, else new.
 * 0, or -EINVAL with *why set. */
int ballot_parse(struct ballot *b, const char *content_type, const char *body,
                 size_t len, const char *cookie, const char **why);

#endif
