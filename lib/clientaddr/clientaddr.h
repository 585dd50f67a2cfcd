/* clientaddr.h - which address a request comes from: the peer's, or, when
 * the peer is a trusted proxy, the address that proxy says it forwarded
 * for (X-Forwarded-For). vote counts votes per minute on it, result its
 * WebSocket viewers (docs/decisions.md, "The client's address").
 *
 * No state, no allocation: the caller owns every struct. Thread-safe. */
#ifndef LIB_CLIENTADDR_H
#define LIB_CLIENTADDR_H

#include <stddef.h>
#include <stdint.h>

#define CLIENTADDR_MAX_TRUSTED 16 /* entries of a trusted proxy list */
#define CLIENTADDR_XFF_MAX     16 /* X-Forwarded-For entries looked at */
#define CLIENTADDR_TEXT_MAX    46 /* INET6_ADDRSTRLEN: clientaddr_format() */

/* An IPv6 address; IPv4 is stored mapped (::ffff:a.b.c.d). */
struct clientaddr {
    uint8_t b[16];
};

/* An address block: bits 0..128 of addr (IPv4 /n is ::ffff:0:0/96+n). */
struct clientaddr_net {
    struct clientaddr addr;
    unsigned bits;
};

/* Parses an IPv4 or IPv6 address (no port, no brackets). 0 or -EINVAL. */
int clientaddr_parse(const char *s, struct clientaddr *out);

/* Parses a comma-separated list of addresses and CIDR blocks
 * ("127.0.0.1,10.0.0.0/8,fd00::/8"; blanks around entries allowed) into
 * out[max]. The count, or -EINVAL (*bad: the 1-based entry at fault, 0
 * when there are more than max). "" is an empty list. */
int clientaddr_parse_nets(const char *list, struct clientaddr_net *out, int max,
                          int *bad);

/* Reads the trusted proxy list from the environment variable name (unset
 * or "": none) into out[CLIENTADDR_MAX_TRUSTED], its count into *n. 0, or
 * -EINVAL (*n 0) after lib/config's config_invalid line naming the
 * variable and the entry at fault. */
int clientaddr_load(const char *name, struct clientaddr_net *out, int *n);

/* The client's address: the peer's, or, when the peer is within one of
 * trusted[n], the right-most X-Forwarded-For entry (xff may be NULL) that
 * is not itself trusted; if every entry is trusted, the left-most one; an
 * entry that does not parse ends the walk at the hop that sent it.
 * 0, or -EINVAL when peer does not parse. */
int clientaddr_get(const char *peer, const char *xff,
                   const struct clientaddr_net *trusted, int n,
                   struct clientaddr *out);

/* The address as text ("127.0.0.1", "2001:db8::1") into out (n >=
 * CLIENTADDR_TEXT_MAX). Returns out. */
const char *clientaddr_format(const struct clientaddr *a, char *out, size_t n);

#endif
