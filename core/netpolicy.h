/* core/netpolicy.h: the PULL egress policy as pure data and decisions: which network addresses
 * the server may fetch a PULL source from. No I/O: addresses arrive as bytes or text, the
 * policy (the --pull-allow list and this server's own listen addresses) is a value filled by
 * the caller (net/data/egress.c at start).
 *
 * An address is refused when it is loopback, link-local, private (RFC 1918, RFC 4193, the old
 * site-local fec0::/10), CGNAT (100.64/10), multicast, unspecified, broadcast or otherwise
 * special (240/4, 192.0.0.0/24, 198.18/15, 100::/64, IPv4-compatible ::/96); IPv6 forms that
 * carry an IPv4 address (IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96, 6to4 2002::/16) are
 * judged by the IPv4 address they carry. This server's own listen addresses are refused too.
 * An address inside a --pull-allow CIDR is allowed whatever its class, with one exception: the
 * server's own listen endpoint (its listen address and port: a pull from itself) is always
 * refused. The documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32)
 * route nowhere and are left public (tests use them as "somewhere public"). */
#ifndef CORE_NETPOLICY_H
#define CORE_NETPOLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/common.h"

#define NP_ALLOW_MAX 64    /* --pull-allow CIDRs at most */
#define NP_SELF_MAX 64     /* own listen addresses remembered at most */
#define NP_ADDR_TEXT 48    /* an address as text, with the NUL (INET6_ADDRSTRLEN is 46) */
#define NP_WHY_MAX 160     /* a parse error's explanation */

/* One address. family 4: b[0..3] in network order; family 6: b[0..15]. */
typedef struct {
    uint8_t family;
    uint8_t b[16];
} np_addr_t;

/* A network: the bits of `a` past `len` are zero. */
typedef struct {
    np_addr_t a;
    uint8_t len;
} np_cidr_t;

/* What an address is. NP_PUBLIC is the only class a pull may reach without --pull-allow. */
typedef enum {
    NP_PUBLIC,
    NP_LOOPBACK,
    NP_LINK_LOCAL,
    NP_PRIVATE,
    NP_CGNAT,
    NP_MULTICAST,
    NP_UNSPECIFIED,
    NP_BROADCAST,
    NP_RESERVED,
    NP_OWN_ADDRESS,  /* one of this server's listen addresses */
    NP_OWN_ENDPOINT, /* this server's listen address and port: a pull from itself */
    NP_CLASS_COUNT
} np_class_t;

const char *np_class_name(np_class_t c); /* "loopback", "private", ..., for logs */

/* An address from its bytes: len 4 (IPv4) or 16 (IPv6), network order. C_ERR otherwise. */
int np_addr_from_bytes(np_addr_t *out, const void *bytes, size_t len);
/* Parses a literal strictly: IPv4 as four decimal numbers 0..255 without leading zeros; IPv6
 * as RFC 4291 text (no brackets, no zone). C_ERR for anything else. */
int np_addr_parse(const char *s, np_addr_t *out);
/* The canonical text (inet_ntop's); "?" if out is too small. */
void np_addr_format(const np_addr_t *a, char *out, size_t size);
/* The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d) stands for; others as they
 * are. Connecting to the mapped form reaches the IPv4 address, so both must be judged alike. */
np_addr_t np_addr_unmap(const np_addr_t *a);
/* Whether a host name (from a URI, without brackets) is a number in a form other resolvers
 * read as an IPv4 address ("127.1", "0x7f.0.0.1", "2130706433", "127.0.0.1."): its last label
 * is all digits or 0x + hex digits (WHATWG URL "ends in a number"). Such a host is neither a
 * strict literal nor a name and is refused. */
bool np_host_is_numeric(const char *host);

/* "ADDR/LEN" strictly: LEN in 0..32 (IPv4) or 0..128 (IPv6), no bits set past LEN. An
 * IPv4-mapped IPv6 network with LEN >= 96 becomes the IPv4 network it maps. C_ERR with why
 * filled (a sentence naming the value). */
int np_cidr_parse(const char *s, np_cidr_t *out, char *why, size_t whysize);
/* "CIDR[,CIDR...]" appended to list[*n..max); C_ERR with why filled on the first bad one,
 * an empty element, or more than max in all (*n unchanged then). */
int np_cidr_list_parse(const char *s, np_cidr_t *list, size_t max, size_t *n, char *why,
                       size_t whysize);
/* Whether a (unmapped) lies in c (families must agree). */
bool np_cidr_contains(const np_cidr_t *c, const np_addr_t *a);

/* The class of an address by itself (no allow list, no own addresses). */
np_class_t np_classify(const np_addr_t *a);

/* The policy of one server process. */
typedef struct {
    np_cidr_t allow[NP_ALLOW_MAX];
    size_t nallow;
    np_addr_t self[NP_SELF_MAX]; /* own listen addresses (all local ones if listening on any) */
    size_t nself;
    int self_port;               /* the listen port; 0: none */
    bool self_any;               /* listening on 0.0.0.0 or ::: every loopback address with
                                    self_port reaches this server too */
} netpolicy_t;

/* The decision for a connection to a:port. NP_PUBLIC: allowed (a public address, or one
 * inside --pull-allow). Anything else: refused, and the class says why (for logs only). */
np_class_t netpolicy_check(const netpolicy_t *p, const np_addr_t *a, int port);

#endif
