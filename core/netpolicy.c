/* core/netpolicy.c: address classification, CIDR parsing and the PULL egress decision
 * (contract in core/netpolicy.h). The special ranges are one table per family, searched in
 * order (the more specific entries first); IPv6 forms that carry an IPv4 address are judged by
 * that address before the table is consulted. */
#include "core/netpolicy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

static const char *const class_names[NP_CLASS_COUNT] = {
    [NP_PUBLIC] = "public",
    [NP_LOOPBACK] = "loopback",
    [NP_LINK_LOCAL] = "link-local",
    [NP_PRIVATE] = "private",
    [NP_CGNAT] = "shared address space (CGNAT)",
    [NP_MULTICAST] = "multicast",
    [NP_UNSPECIFIED] = "unspecified",
    [NP_BROADCAST] = "broadcast",
    [NP_RESERVED] = "reserved",
    [NP_OWN_ADDRESS] = "this server's own listen address",
    [NP_OWN_ENDPOINT] = "this server's own listen address and port",
};

const char *np_class_name(np_class_t c) {
    return (unsigned)c < NP_CLASS_COUNT ? class_names[c] : "unknown";
}

typedef struct {
    uint8_t prefix[16];
    uint8_t len;
    np_class_t cls;
} range_t;

/* First match wins: 255.255.255.255 before 240/4. */
static const range_t v4_ranges[] = {
    {{0, 0, 0, 0}, 8, NP_UNSPECIFIED},       /* "this network" */
    {{127, 0, 0, 0}, 8, NP_LOOPBACK},
    {{10, 0, 0, 0}, 8, NP_PRIVATE},
    {{172, 16, 0, 0}, 12, NP_PRIVATE},
    {{192, 168, 0, 0}, 16, NP_PRIVATE},
    {{100, 64, 0, 0}, 10, NP_CGNAT},
    {{169, 254, 0, 0}, 16, NP_LINK_LOCAL},
    {{224, 0, 0, 0}, 4, NP_MULTICAST},
    {{255, 255, 255, 255}, 32, NP_BROADCAST},
    {{240, 0, 0, 0}, 4, NP_RESERVED},
    {{192, 0, 0, 0}, 24, NP_RESERVED},       /* IETF protocol assignments (DS-Lite, ...) */
    {{198, 18, 0, 0}, 15, NP_RESERVED},      /* benchmarking, often used inside networks */
};

/* ::ffff:0:0/96, 64:ff9b::/96 and 2002::/16 are handled before this table. */
static const range_t v6_ranges[] = {
    {{0}, 128, NP_UNSPECIFIED},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, NP_LOOPBACK},
    {{0}, 96, NP_RESERVED},                  /* IPv4-compatible (deprecated) */
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, NP_RESERVED}, /* local-use NAT64 */
    {{0x01, 0x00}, 64, NP_RESERVED},         /* discard-only */
    {{0xfe, 0x80}, 10, NP_LINK_LOCAL},
    {{0xfe, 0xc0}, 10, NP_PRIVATE},          /* site-local (deprecated) */
    {{0xfc, 0x00}, 7, NP_PRIVATE},           /* unique local */
    {{0xff, 0x00}, 8, NP_MULTICAST},
};

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const uint8_t nat64_prefix[12] = {0x00, 0x64, 0xff, 0x9b};

/* Whether the first len bits of a and b agree. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned len) {
    unsigned full = len / 8, rest = len % 8;
    if (memcmp(a, b, full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

int np_addr_from_bytes(np_addr_t *out, const void *bytes, size_t len) {
    if (!out || !bytes || (len != 4 && len != 16)) return C_ERR;
    memset(out, 0, sizeof(*out));
    out->family = len == 4 ? 4 : 6;
    memcpy(out->b, bytes, len);
    return C_OK;
}

/* Four decimal numbers 0..255, no leading zeros, no sign, nothing else. */
static int parse_v4(const char *s, uint8_t out[4]) {
    for (int i = 0; i < 4; i++) {
        if (i > 0 && *s++ != '.') return C_ERR;
        if (*s < '0' || *s > '9') return C_ERR;
        if (*s == '0' && s[1] >= '0' && s[1] <= '9') return C_ERR; /* leading zero */
        unsigned v = 0;
        int digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*s++ - '0');
            digits++;
        }
        if (digits > 3 || v > 255) return C_ERR;
        out[i] = (uint8_t)v;
    }
    return *s == '\0' ? C_OK : C_ERR;
}

int np_addr_parse(const char *s, np_addr_t *out) {
    if (!s || !out) return C_ERR;
    memset(out, 0, sizeof(*out));
    if (strchr(s, ':')) {
        /* inet_pton is strict already (no zone, no brackets; its embedded IPv4 part refuses
         * leading zeros); it is pure and needs no network. */
        if (strlen(s) >= NP_ADDR_TEXT || inet_pton(AF_INET6, s, out->b) != 1) return C_ERR;
        out->family = 6;
        return C_OK;
    }
    if (parse_v4(s, out->b) != C_OK) return C_ERR;
    out->family = 4;
    return C_OK;
}

void np_addr_format(const np_addr_t *a, char *out, size_t size) {
    char buf[NP_ADDR_TEXT];
    if (!a || (a->family != 4 && a->family != 6) ||
        !inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->b, buf, sizeof(buf)) ||
        copy_str(out, size, buf) != C_OK)
        copy_str(out, size, "?");
}

np_addr_t np_addr_unmap(const np_addr_t *a) {
    np_addr_t u = *a;
    if (a->family == 6 && memcmp(a->b, v4_mapped_prefix, 12) == 0) {
        memset(&u, 0, sizeof(u));
        u.family = 4;
        memcpy(u.b, a->b + 12, 4);
    }
    return u;
}

bool np_host_is_numeric(const char *host) {
    if (!host || !*host) return false;
    size_t end = strlen(host);
    if (host[end - 1] == '.') end--; /* one trailing dot: the root */
    size_t start = end;
    while (start > 0 && host[start - 1] != '.') start--;
    if (start == end) return false;
    const char *l = host + start;
    size_t n = end - start;
    size_t i = 0;
    bool hex = n >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X');
    if (hex) i = 2;
    for (; i < n; i++) {
        char c = l[i];
        bool digit = c >= '0' && c <= '9';
        bool hexletter = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!digit && !(hex && hexletter)) return false;
    }
    return true;
}

bool np_cidr_contains(const np_cidr_t *c, const np_addr_t *a) {
    np_addr_t u = np_addr_unmap(a);
    return c->a.family == u.family && prefix_equal(c->a.b, u.b, c->len);
}

static int why_fail(char *why, size_t size, const char *fmt, const char *v) {
    if (why && size) snprintf(why, size, fmt, v);
    return C_ERR;
}

int np_cidr_parse(const char *s, np_cidr_t *out, char *why, size_t whysize) {
    char addr[NP_ADDR_TEXT];
    if (!s || !out) return why_fail(why, whysize, "%s: no value", "");
    const char *slash = strchr(s, '/');
    if (!slash)
        return why_fail(why, whysize,
                        "'%s' has no /LENGTH (write a single address as ADDR/32 or ADDR/128)", s);
    size_t alen = (size_t)(slash - s);
    if (alen == 0 || alen >= sizeof(addr))
        return why_fail(why, whysize, "'%s' is not an IP address followed by /LENGTH", s);
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    np_cidr_t c;
    memset(&c, 0, sizeof(c));
    if (np_addr_parse(addr, &c.a) != C_OK)
        return why_fail(why, whysize, "'%s' does not start with a valid IP address", s);
    const char *l = slash + 1;
    unsigned len = 0;
    int digits = 0;
    while (*l >= '0' && *l <= '9' && digits < 4) {
        len = len * 10 + (unsigned)(*l++ - '0');
        digits++;
    }
    unsigned max = c.a.family == 4 ? 32 : 128;
    if (digits == 0 || *l != '\0' || (digits > 1 && slash[1] == '0') || len > max)
        return why_fail(why, whysize,
                        c.a.family == 4 ? "'%s' has an invalid length (0 to 32 for IPv4)"
                                        : "'%s' has an invalid length (0 to 128 for IPv6)",
                        s);
    c.len = (uint8_t)len;
    for (unsigned bit = len; bit < max; bit++)
        if (c.a.b[bit / 8] & (0x80 >> (bit % 8)))
            return why_fail(why, whysize, "'%s' has bits set past its length (is it meant to be "
                                          "the network that contains this address?)", s);
    if (c.a.family == 6 && len >= 96 && memcmp(c.a.b, v4_mapped_prefix, 12) == 0) {
        np_addr_t v4 = np_addr_unmap(&c.a);
        c.a = v4;
        c.len = (uint8_t)(len - 96);
    }
    *out = c;
    return C_OK;
}

int np_cidr_list_parse(const char *s, np_cidr_t *list, size_t max, size_t *n, char *why,
                       size_t whysize) {
    char item[NP_ADDR_TEXT + 8];
    size_t count = *n;
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) return why_fail(why, whysize, "'%s' has an empty element", s);
        if (len >= sizeof(item))
            return why_fail(why, whysize, "'%s' has an element too long to be a CIDR", s);
        memcpy(item, p, len);
        item[len] = '\0';
        if (count >= max) {
            char m[24];
            snprintf(m, sizeof(m), "%zu", max);
            return why_fail(why, whysize, "more than %s CIDRs in all", m);
        }
        if (np_cidr_parse(item, &list[count], why, whysize) != C_OK) return C_ERR;
        count++;
        if (!comma) break;
        p = comma + 1;
    }
    *n = count;
    return C_OK;
}

static np_class_t classify_v4(const uint8_t b[4]) {
    for (size_t i = 0; i < ARRAY_LEN(v4_ranges); i++)
        if (prefix_equal(b, v4_ranges[i].prefix, v4_ranges[i].len)) return v4_ranges[i].cls;
    return NP_PUBLIC;
}

np_class_t np_classify(const np_addr_t *a) {
    if (a->family == 4) return classify_v4(a->b);
    if (a->family != 6) return NP_RESERVED;
    if (memcmp(a->b, v4_mapped_prefix, 12) == 0 || memcmp(a->b, nat64_prefix, 12) == 0)
        return classify_v4(a->b + 12);
    if (a->b[0] == 0x20 && a->b[1] == 0x02) return classify_v4(a->b + 2); /* 6to4 */
    for (size_t i = 0; i < ARRAY_LEN(v6_ranges); i++)
        if (prefix_equal(a->b, v6_ranges[i].prefix, v6_ranges[i].len)) return v6_ranges[i].cls;
    return NP_PUBLIC;
}

static bool same_addr(const np_addr_t *x, const np_addr_t *y) {
    return x->family == y->family && memcmp(x->b, y->b, x->family == 4 ? 4 : 16) == 0;
}

static bool is_self(const netpolicy_t *p, const np_addr_t *u) {
    for (size_t i = 0; i < p->nself; i++) {
        np_addr_t s = np_addr_unmap(&p->self[i]);
        if (same_addr(&s, u)) return true;
    }
    return false;
}

np_class_t netpolicy_check(const netpolicy_t *p, const np_addr_t *a, int port) {
    np_addr_t u = np_addr_unmap(a);
    np_class_t cls = np_classify(&u);
    /* A pull from this very process: never useful (it serves no downloads), always refused.
     * Connecting to an unspecified address reaches the local host. */
    if (p->self_port > 0 && port == p->self_port &&
        (is_self(p, &u) || cls == NP_UNSPECIFIED || (p->self_any && cls == NP_LOOPBACK)))
        return NP_OWN_ENDPOINT;
    for (size_t i = 0; i < p->nallow; i++)
        if (np_cidr_contains(&p->allow[i], &u)) return NP_PUBLIC;
    if (is_self(p, &u)) return NP_OWN_ADDRESS;
    return cls;
}
