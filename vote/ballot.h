/* ballot.h - turns the body and cookie of a vote request into a checked
 * ballot: a known option id and a safe voter id. Pure functions, no I/O
 * but getrandom(2); thread-safe.
 *
 * Option ids are the contract's (proto/contract.h: "a" and "b"); an id
 * is checked here before it becomes part of a NATS subject. A voter id
 * is 1-64 characters of [A-Za-z0-9_-], because it goes into a cookie and a
 * header. Error messages are static strings meant for the client. */
#ifndef VOTE_BALLOT_H
#define VOTE_BALLOT_H

#include <stddef.h>

#include "proto/contract.h"

#define BALLOT_JSON_DEPTH 8 /* arrays/objects in a JSON body; more is 400 */
enum ballot_format { BALLOT_JSON, BALLOT_FORM };

struct ballot {
    char option[CONTRACT_OPTION_ID_MAX]; /* one of CONTRACT_OPTIONS */
    char voter_id[CONTRACT_VOTER_MAX + 1];
    int new_voter; /* the id was made up here */
    enum ballot_format format;
};

/* A new random voter id, 16 hex digits (64 bits from getrandom). out must
 * hold 17 bytes. 0 or -errno. */
int ballot_new_voter_id(char *out, size_t n);

/* Reads the voter id from a Cookie header (NULL: none) into out: 0 and ""
 * when there is no voter_id cookie, 0 and the id, or -EINVAL when it is
 * malformed or there are two voter_id cookies. */
int ballot_cookie_voter(const char *cookie, char *out, size_t n);

/* The voter of a GET /api/vote: voter_id from the query string qs (API
 * clients), else from the Cookie header (either may be NULL). 0 with the id
 * or "" when there is none, -EINVAL when the one given is malformed. */
int ballot_query_voter(const char *qs, const char *cookie, char *out, size_t n);

/* Parses body (len bytes, NUL-terminated) as JSON {"vote":..,"voter_id":..}
 * or as a form "vote=..", chosen by content_type (NULL: guessed from the
 * body). The voter is the JSON voter_id, else the cookie's, else new.
 * 0, or -EINVAL with *why set. */
int ballot_parse(struct ballot *b, const char *content_type, const char *body,
                 size_t len, const char *cookie, const char **why);

#endif
