/* voter_fuzz.c - libFuzzer target: where GET /api/vote finds the voter, a
 * query string and a Cookie header, through ballot_query_voter() and
 * ballot_cookie_voter().
 *
 * Input: "QUERY\nCOOKIE" (the part before the first newline is the query
 * string, the rest the Cookie header; with no newline, the whole input is
 * both). An id that comes back must pass contract_voter_ok(), be the
 * whole query value (a %00 must not cut it short), and the check must
 * agree with its definition: 1-64 of [A-Za-z0-9_-]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proto/contract.h"
#include "vote/ballot.h"
#include "tests/fuzz/fuzz.h"

/* The rule of ballot.h spelled out a second way, character by character. */
static int id_rule(const char *s)
{
    size_t i;

    for (i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return i >= 1 && i <= CONTRACT_VOTER_MAX;
}

/* The value of voter_id in query string qs, %XX and '+' decoded, into
 * out (n bytes); its length, or -1 when there is none or it is not
 * decodable. A reference for what ballot_query_voter() must accept. */
static long query_value(const char *qs, char *out, size_t n)
{
    const char *p = qs, *v;
    size_t o = 0;

    while (strncasecmp(p, "voter_id=", 9) != 0) { /* as civetweb */
        p = strchr(p, '&');
        if (!p)
            return -1;
        p++;
    }
    for (v = p + 9; *v && *v != '&' && o < n; v++) {
        unsigned x;

        if (*v == '%') {
            if (sscanf(v + 1, "%2x", &x) != 1 || !v[1] || !v[2] ||
                !strchr("0123456789abcdefABCDEF", v[1]) ||
                !strchr("0123456789abcdefABCDEF", v[2]))
                return -1;
            out[o++] = (char)x;
            v += 2;
        } else {
            out[o++] = *v == '+' ? ' ' : *v;
        }
    }
    return o < n ? (long)o : -1;
}

static char *copy(const uint8_t *p, size_t n)
{
    char *s = malloc(n + 1);

    if (!s)
        abort();
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t qlen = nl ? (size_t)(nl - data) : size;
    char *qs = copy(data, qlen);
    char *cookie = nl ? copy(nl + 1, size - qlen - 1) : copy(data, size);
    char out[CONTRACT_VOTER_MAX + 1], ref[CONTRACT_VOTER_MAX + 1];
    long n;

    FUZZ_CHECK(contract_voter_ok(qs) == id_rule(qs));
    if (ballot_query_voter(qs, cookie, out, sizeof(out)) == 0) {
        FUZZ_CHECK(out[0] == '\0' || id_rule(out));
        /* an id taken from the query is the whole value, NULs and all */
        n = query_value(qs, ref, sizeof(ref));
        if (n >= 0)
            FUZZ_CHECK((size_t)n == strlen(out) && memcmp(ref, out, n) == 0);
    }
    if (ballot_query_voter(NULL, cookie, out, sizeof(out)) == 0)
        FUZZ_CHECK(out[0] == '\0' || id_rule(out));
    if (ballot_cookie_voter(cookie, out, sizeof(out)) == 0)
        FUZZ_CHECK(out[0] == '\0' || id_rule(out));
    else
        FUZZ_CHECK(out[0] == '\0');
    free(cookie);
    free(qs);
    return 0;
}
