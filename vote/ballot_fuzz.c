/* ballot_fuzz.c - libFuzzer target: a vote request's Content-Type, Cookie
 * and body through ballot_parse(), as POST /api/vote and POST / get them.
 *
 * Input: "TYPE\nCOOKIE\nBODY" (an empty TYPE or COOKIE line means the
 * header is absent; BODY is every byte after the second newline, NULs
 * included). Beyond "no crash", it checks what vote relies on afterwards:
 * an accepted ballot has a known option and a voter id that is safe in a
 * cookie, a header and a NATS message; a refused one says why. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/contract.h"
#include "vote/ballot.h"
#include "tests/fuzz/fuzz.h"

/* A malloc'd NUL-terminated copy of the next line of [*p, end), or of the
 * rest when there is no newline; *p moves past it. */
static char *take_line(const uint8_t **p, const uint8_t *end)
{
    const uint8_t *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl ? nl : end) - *p);
    char *s = malloc(n + 1);

    if (!s)
        abort();
    memcpy(s, *p, n);
    s[n] = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

static void check_ballot(const struct ballot *b, int rc, const char *why)
{
    if (rc) {
        FUZZ_CHECK(why && why[0]);
        return;
    }
    FUZZ_CHECK(contract_option_index(b->option) >= 0);
    FUZZ_CHECK(contract_voter_ok(b->voter_id));
    FUZZ_CHECK(b->format == BALLOT_JSON || b->format == BALLOT_FORM);
    if (b->new_voter)
        FUZZ_CHECK(strlen(b->voter_id) == 16 &&
                   strspn(b->voter_id, "0123456789abcdef") == 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    char *type = take_line(&p, end);
    char *cookie = take_line(&p, end);
    size_t len = (size_t)(end - p);
    char *body = malloc(len + 1); /* what http_read_body() hands over */
    const char *why = NULL;
    struct ballot b;
    int rc;

    if (!body)
        abort();
    memcpy(body, p, len);
    body[len] = '\0';
    rc = ballot_parse(&b, type[0] ? type : NULL, body, len,
                      cookie[0] ? cookie : NULL, &why);
    check_ballot(&b, rc, why);
    free(body);
    free(cookie);
    free(type);
    return 0;
}
