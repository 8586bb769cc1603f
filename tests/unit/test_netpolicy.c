/* tests/unit/test_netpolicy.c: the PULL egress policy (core/netpolicy.c): every refused range at
 * its first and last address and just outside it, IPv4-mapped / NAT64 / 6to4 forms, strict
 * literal and CIDR parsing (lengths, host bits, leading zeros, junk), numeric host forms other
 * resolvers read as IPv4, the allow list, and the server's own address and endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/netpolicy.h"

static np_addr_t A(const char *s) {
    np_addr_t a;
    if (np_addr_parse(s, &a) != C_OK) fail_msg("cannot parse '%s'", s);
    return a;
}

static np_class_t cls(const char *s) {
    np_addr_t a = A(s);
    return np_classify(&a);
}

#define EXPECT_CLASS(addr, want)                                                                 \
    do {                                                                                         \
        np_class_t got_ = cls(addr);                                                             \
        if (got_ != (want))                                                                      \
            fail_msg("%s: class %s, want %s", addr, np_class_name(got_), np_class_name(want));   \
    } while (0)

static void test_v4_ranges(void **state) {
    (void)state;
    struct {
        const char *addr;
        np_class_t want;
    } cases[] = {
        /* unspecified 0.0.0.0/8 */
        {"0.0.0.0", NP_UNSPECIFIED}, {"0.255.255.255", NP_UNSPECIFIED}, {"1.0.0.0", NP_PUBLIC},
        /* loopback 127/8 */
        {"126.255.255.255", NP_PUBLIC}, {"127.0.0.0", NP_LOOPBACK}, {"127.0.0.1", NP_LOOPBACK},
        {"127.255.255.255", NP_LOOPBACK}, {"128.0.0.0", NP_PUBLIC},
        /* private 10/8, 172.16/12, 192.168/16 */
        {"9.255.255.255", NP_PUBLIC}, {"10.0.0.0", NP_PRIVATE}, {"10.0.0.1", NP_PRIVATE},
        {"10.255.255.255", NP_PRIVATE}, {"11.0.0.0", NP_PUBLIC},
        {"172.15.255.255", NP_PUBLIC}, {"172.16.0.0", NP_PRIVATE}, {"172.31.255.255", NP_PRIVATE},
        {"172.32.0.0", NP_PUBLIC},
        {"192.167.255.255", NP_PUBLIC}, {"192.168.0.0", NP_PRIVATE},
        {"192.168.255.255", NP_PRIVATE}, {"192.169.0.0", NP_PUBLIC},
        /* CGNAT 100.64/10 */
        {"100.63.255.255", NP_PUBLIC}, {"100.64.0.0", NP_CGNAT}, {"100.127.255.255", NP_CGNAT},
        {"100.128.0.0", NP_PUBLIC},
        /* link-local 169.254/16 (the cloud metadata address) */
        {"169.253.255.255", NP_PUBLIC}, {"169.254.0.0", NP_LINK_LOCAL},
        {"169.254.169.254", NP_LINK_LOCAL}, {"169.254.255.255", NP_LINK_LOCAL},
        {"169.255.0.0", NP_PUBLIC},
        /* multicast 224/4 */
        {"223.255.255.255", NP_PUBLIC}, {"224.0.0.0", NP_MULTICAST}, {"224.0.0.1", NP_MULTICAST},
        {"239.255.255.255", NP_MULTICAST},
        /* reserved 240/4 and the broadcast address */
        {"240.0.0.0", NP_RESERVED}, {"255.255.255.254", NP_RESERVED},
        {"255.255.255.255", NP_BROADCAST},
        /* other special ranges */
        {"192.0.0.0", NP_RESERVED}, {"192.0.0.255", NP_RESERVED}, {"192.0.1.0", NP_PUBLIC},
        {"198.17.255.255", NP_PUBLIC}, {"198.18.0.0", NP_RESERVED},
        {"198.19.255.255", NP_RESERVED}, {"198.20.0.0", NP_PUBLIC},
        /* public, and the documentation ranges (left public) */
        {"8.8.8.8", NP_PUBLIC}, {"1.1.1.1", NP_PUBLIC}, {"93.184.216.34", NP_PUBLIC},
        {"192.0.2.1", NP_PUBLIC}, {"198.51.100.7", NP_PUBLIC}, {"203.0.113.9", NP_PUBLIC},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) EXPECT_CLASS(cases[i].addr, cases[i].want);
}

static void test_v6_ranges(void **state) {
    (void)state;
    struct {
        const char *addr;
        np_class_t want;
    } cases[] = {
        {"::", NP_UNSPECIFIED}, {"::1", NP_LOOPBACK}, {"::2", NP_RESERVED},
        {"::127.0.0.1", NP_RESERVED},          /* IPv4-compatible (deprecated) */
        {"::ffff:ffff", NP_RESERVED},
        {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NP_PUBLIC},
        {"fe80::", NP_LINK_LOCAL}, {"fe80::1", NP_LINK_LOCAL},
        {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NP_LINK_LOCAL},
        {"fec0::1", NP_PRIVATE}, {"feff::1", NP_PRIVATE},
        {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NP_PUBLIC},
        {"fc00::", NP_PRIVATE}, {"fd12:3456::1", NP_PRIVATE},
        {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NP_PRIVATE},
        {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NP_PRIVATE},
        {"ff00::", NP_MULTICAST}, {"ff02::1", NP_MULTICAST},
        {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NP_MULTICAST},
        {"100::", NP_RESERVED}, {"100::ffff:ffff:ffff:ffff", NP_RESERVED},
        {"100:0:0:1::", NP_PUBLIC},
        {"64:ff9b:1::1", NP_RESERVED},
        {"2001:4860:4860::8888", NP_PUBLIC}, {"2606:4700::1111", NP_PUBLIC},
        {"2001:db8::1", NP_PUBLIC},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) EXPECT_CLASS(cases[i].addr, cases[i].want);
}

/* IPv6 forms that carry an IPv4 address are judged by it, every class. */
static void test_v6_carrying_v4(void **state) {
    (void)state;
    struct {
        const char *v4;
        np_class_t want;
    } cases[] = {
        {"127.0.0.1", NP_LOOPBACK}, {"10.0.0.1", NP_PRIVATE}, {"172.16.5.4", NP_PRIVATE},
        {"192.168.1.1", NP_PRIVATE}, {"100.64.0.1", NP_CGNAT}, {"169.254.169.254", NP_LINK_LOCAL},
        {"224.0.0.1", NP_MULTICAST}, {"0.0.0.0", NP_UNSPECIFIED},
        {"255.255.255.255", NP_BROADCAST}, {"240.0.0.1", NP_RESERVED}, {"8.8.8.8", NP_PUBLIC},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char s[64];
        np_addr_t v4 = A(cases[i].v4);
        snprintf(s, sizeof(s), "::ffff:%s", cases[i].v4);
        EXPECT_CLASS(s, cases[i].want);
        snprintf(s, sizeof(s), "64:ff9b::%s", cases[i].v4);
        EXPECT_CLASS(s, cases[i].want);
        snprintf(s, sizeof(s), "2002:%02x%02x:%02x%02x::1", v4.b[0], v4.b[1], v4.b[2], v4.b[3]);
        EXPECT_CLASS(s, cases[i].want);
    }
    /* the hex spelling of the mapped form is the same address */
    EXPECT_CLASS("::ffff:7f00:1", NP_LOOPBACK);
    EXPECT_CLASS("0:0:0:0:0:ffff:a9fe:a9fe", NP_LINK_LOCAL);
    /* unmap */
    np_addr_t m = A("::ffff:10.1.2.3"), u = np_addr_unmap(&m);
    assert_int_equal(u.family, 4);
    assert_memory_equal(u.b, ((uint8_t[]){10, 1, 2, 3}), 4);
    np_addr_t n = A("::1"), nu = np_addr_unmap(&n);
    assert_int_equal(nu.family, 6);
}

static void test_addr_parse(void **state) {
    (void)state;
    const char *good[] = {"0.0.0.0", "255.255.255.255", "1.2.3.4", "10.0.0.1", "::", "::1",
                          "fe80::1", "::ffff:127.0.0.1", "2001:db8:0:0:0:0:0:1"};
    for (size_t i = 0; i < ARRAY_LEN(good); i++) {
        np_addr_t a;
        if (np_addr_parse(good[i], &a) != C_OK) fail_msg("'%s' refused", good[i]);
    }
    const char *bad[] = {
        "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.256", "01.2.3.4", "1.2.3.04",
        "127.000.0.1", "0x7f.0.0.1", "127.1", "2130706433", "1.2.3.4.", ".1.2.3.4", "1..3.4",
        "+1.2.3.4", "1.2.3.-4", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/32", "1234.1.1.1", "a.b.c.d",
        "[::1]", "::1%lo", "fe80::1%eth0", ":::1", "1::2::3", "::ffff:127.0.0.01",
        "12345::1", "g::1", "localhost", "::1 ",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        np_addr_t a;
        if (np_addr_parse(bad[i], &a) == C_OK) fail_msg("'%s' accepted", bad[i]);
    }
    np_addr_t a = A("192.168.1.20");
    assert_int_equal(a.family, 4);
    assert_memory_equal(a.b, ((uint8_t[]){192, 168, 1, 20}), 4);
    char text[NP_ADDR_TEXT];
    np_addr_format(&a, text, sizeof(text));
    assert_string_equal(text, "192.168.1.20");
    a = A("0:0:0:0:0:0:0:1");
    np_addr_format(&a, text, sizeof(text));
    assert_string_equal(text, "::1");
    char tiny[4];
    np_addr_format(&a, tiny, sizeof(tiny));
    assert_string_equal(tiny, "::1");
    a = A("2001:db8::1234:5678");
    np_addr_format(&a, tiny, sizeof(tiny));
    assert_string_equal(tiny, "?");

    /* from bytes (what getaddrinfo hands over) */
    np_addr_t b;
    assert_int_equal(np_addr_from_bytes(&b, (uint8_t[]){169, 254, 169, 254}, 4), C_OK);
    assert_int_equal(np_classify(&b), NP_LINK_LOCAL);
    uint8_t v6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1};
    assert_int_equal(np_addr_from_bytes(&b, v6, 16), C_OK);
    assert_int_equal(np_classify(&b), NP_LOOPBACK);
    assert_int_equal(np_addr_from_bytes(&b, v6, 8), C_ERR);
}

static void test_host_is_numeric(void **state) {
    (void)state;
    const char *numeric[] = {"127.0.0.1", "127.1", "2130706433", "0x7f000001", "0x7f.0.0.1",
                             "0177.0.0.1", "127.0.0.1.", "example.123", "1", "0x", "0XAB"};
    for (size_t i = 0; i < ARRAY_LEN(numeric); i++)
        if (!np_host_is_numeric(numeric[i])) fail_msg("'%s' not seen as numeric", numeric[i]);
    const char *names[] = {"localhost", "example.com", "123.example.com", "1e100.net",
                           "0xgg", "a1", "host.local.", "", ".", "10.0.0.1x", "x0x1"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (np_host_is_numeric(names[i])) fail_msg("'%s' seen as numeric", names[i]);
}

static void test_cidr_parse(void **state) {
    (void)state;
    char why[NP_WHY_MAX];
    np_cidr_t c;
    assert_int_equal(np_cidr_parse("127.0.0.1/32", &c, why, sizeof(why)), C_OK);
    assert_int_equal(c.len, 32);
    assert_int_equal(c.a.family, 4);
    assert_int_equal(np_cidr_parse("10.0.0.0/8", &c, why, sizeof(why)), C_OK);
    assert_int_equal(c.len, 8);
    assert_int_equal(np_cidr_parse("0.0.0.0/0", &c, why, sizeof(why)), C_OK);
    assert_int_equal(c.len, 0);
    assert_int_equal(np_cidr_parse("::1/128", &c, why, sizeof(why)), C_OK);
    assert_int_equal(c.a.family, 6);
    assert_int_equal(np_cidr_parse("fc00::/7", &c, why, sizeof(why)), C_OK);
    assert_int_equal(np_cidr_parse("::/0", &c, why, sizeof(why)), C_OK);
    assert_int_equal(np_cidr_parse("172.16.0.0/12", &c, why, sizeof(why)), C_OK);
    /* a mapped network becomes the IPv4 network */
    assert_int_equal(np_cidr_parse("::ffff:127.0.0.0/104", &c, why, sizeof(why)), C_OK);
    assert_int_equal(c.a.family, 4);
    assert_int_equal(c.len, 8);

    struct {
        const char *s, *why;
    } bad[] = {
        {"", "no /LENGTH"},
        {"127.0.0.1", "no /LENGTH"},
        {"/8", "not an IP address"},
        {"127.0.0.1/", "invalid length"},
        {"127.0.0.1/33", "invalid length (0 to 32"},
        {"::1/129", "invalid length (0 to 128"},
        {"10.0.0.0/08", "invalid length"},
        {"10.0.0.0/8x", "invalid length"},
        {"10.0.0.0/-8", "invalid length"},
        {"10.0.0.0/ 8", "invalid length"},
        {"10.0.0.0/8/8", "invalid length"},
        {"10.0.0.0/99999", "invalid length"},
        {"10.0.0.1/8", "bits set past its length"},
        {"127.0.0.1/31", "bits set past its length"},
        {"fe80::1/10", "bits set past its length"},
        {"010.0.0.0/8", "valid IP address"},
        {"10.0.0/8", "valid IP address"},
        {"10.0.0.0.0/8", "valid IP address"},
        {"example.com/32", "valid IP address"},
        {"[::1]/128", "valid IP address"},
        {"fe80::1%lo/128", "valid IP address"},
        {" 10.0.0.0/8", "valid IP address"},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        why[0] = '\0';
        if (np_cidr_parse(bad[i].s, &c, why, sizeof(why)) == C_OK)
            fail_msg("'%s' accepted", bad[i].s);
        if (!strstr(why, bad[i].why)) fail_msg("'%s': why is \"%s\"", bad[i].s, why);
        if (bad[i].s[0] && !strstr(why, bad[i].s))
            fail_msg("'%s': why \"%s\" does not name the value", bad[i].s, why);
    }
}

static void test_cidr_list(void **state) {
    (void)state;
    char why[NP_WHY_MAX];
    np_cidr_t list[4];
    size_t n = 0;
    assert_int_equal(np_cidr_list_parse("127.0.0.1/32,::1/128", list, 4, &n, why, sizeof(why)),
                     C_OK);
    assert_int_equal(n, 2);
    /* appends */
    assert_int_equal(np_cidr_list_parse("10.0.0.0/8", list, 4, &n, why, sizeof(why)), C_OK);
    assert_int_equal(n, 3);
    /* too many in all: nothing appended */
    assert_int_equal(np_cidr_list_parse("1.0.0.0/8,2.0.0.0/8", list, 4, &n, why, sizeof(why)),
                     C_ERR);
    assert_non_null(strstr(why, "more than 4"));
    assert_int_equal(n, 3);
    const char *bad[] = {"", ",", "10.0.0.0/8,", ",10.0.0.0/8", "10.0.0.0/8,,11.0.0.0/8",
                         "10.0.0.0/8 ,11.0.0.0/8", "10.0.0.0/8;11.0.0.0/8", "10.0.0.1/8"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        size_t m = 0;
        why[0] = '\0';
        if (np_cidr_list_parse(bad[i], list, 4, &m, why, sizeof(why)) == C_OK)
            fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(m, 0);
        assert_true(why[0] != '\0');
    }
}

static void test_cidr_contains(void **state) {
    (void)state;
    np_cidr_t c;
    char why[NP_WHY_MAX];
    assert_int_equal(np_cidr_parse("172.16.0.0/12", &c, why, sizeof(why)), C_OK);
    np_addr_t in = A("172.31.255.255"), out = A("172.32.0.0"), low = A("172.15.255.255");
    np_addr_t mapped = A("::ffff:172.16.0.1"), v6 = A("::1");
    assert_true(np_cidr_contains(&c, &in));
    assert_false(np_cidr_contains(&c, &out));
    assert_false(np_cidr_contains(&c, &low));
    assert_true(np_cidr_contains(&c, &mapped));
    assert_false(np_cidr_contains(&c, &v6));
    assert_int_equal(np_cidr_parse("0.0.0.0/0", &c, why, sizeof(why)), C_OK);
    assert_true(np_cidr_contains(&c, &out));
    assert_false(np_cidr_contains(&c, &v6)); /* families never mix */
    assert_int_equal(np_cidr_parse("fe80::/10", &c, why, sizeof(why)), C_OK);
    np_addr_t ll = A("febf::1"), notll = A("fec0::1");
    assert_true(np_cidr_contains(&c, &ll));
    assert_false(np_cidr_contains(&c, &notll));
}

static np_class_t check(const netpolicy_t *p, const char *addr, int port) {
    np_addr_t a = A(addr);
    return netpolicy_check(p, &a, port);
}

static void add_allow(netpolicy_t *p, const char *list) {
    char why[NP_WHY_MAX];
    if (np_cidr_list_parse(list, p->allow, NP_ALLOW_MAX, &p->nallow, why, sizeof(why)) != C_OK)
        fail_msg("%s: %s", list, why);
}

static void test_policy_default(void **state) {
    (void)state;
    netpolicy_t p;
    memset(&p, 0, sizeof(p));
    const char *refused[] = {"127.0.0.1", "::1", "::ffff:127.0.0.1", "10.0.0.1",
                             "169.254.169.254", "192.168.0.1", "100.64.0.1", "fd00::1",
                             "fe80::1", "224.0.0.1", "ff02::1", "0.0.0.0", "::",
                             "255.255.255.255"};
    for (size_t i = 0; i < ARRAY_LEN(refused); i++)
        if (check(&p, refused[i], 80) == NP_PUBLIC) fail_msg("%s allowed", refused[i]);
    assert_int_equal(check(&p, "8.8.8.8", 80), NP_PUBLIC);
    assert_int_equal(check(&p, "2001:4860:4860::8888", 443), NP_PUBLIC);
    assert_int_equal(check(&p, "::ffff:8.8.8.8", 443), NP_PUBLIC);
}

static void test_policy_allow(void **state) {
    (void)state;
    netpolicy_t p;
    memset(&p, 0, sizeof(p));
    add_allow(&p, "127.0.0.1/32,10.0.0.0/8");
    assert_int_equal(check(&p, "127.0.0.1", 6379), NP_PUBLIC);
    assert_int_equal(check(&p, "::ffff:127.0.0.1", 6379), NP_PUBLIC); /* the same address */
    assert_int_equal(check(&p, "127.0.0.2", 80), NP_LOOPBACK);          /* outside the /32 */
    assert_int_equal(check(&p, "::1", 80), NP_LOOPBACK);                /* not allowed */
    assert_int_equal(check(&p, "10.255.255.255", 80), NP_PUBLIC);
    assert_int_equal(check(&p, "11.0.0.0", 80), NP_PUBLIC);
    assert_int_equal(check(&p, "169.254.169.254", 80), NP_LINK_LOCAL);
    /* NAT64 and 6to4 forms are other addresses: allowed only by an IPv6 CIDR */
    assert_int_equal(check(&p, "64:ff9b::a00:1", 80), NP_PRIVATE);
    add_allow(&p, "::1/128,::ffff:169.254.169.254/128");
    assert_int_equal(check(&p, "::1", 80), NP_PUBLIC);
    assert_int_equal(check(&p, "169.254.169.254", 80), NP_PUBLIC);
}

static void test_policy_self(void **state) {
    (void)state;
    netpolicy_t p;
    memset(&p, 0, sizeof(p));
    /* listening on 127.0.0.1:8080 and 203.0.113.5:8080, 127.0.0.1/32 allowed */
    p.self[p.nself++] = A("127.0.0.1");
    p.self[p.nself++] = A("203.0.113.5");
    p.self_port = 8080;
    add_allow(&p, "127.0.0.1/32");
    /* own endpoint: always refused, even when allowed, in every spelling */
    assert_int_equal(check(&p, "127.0.0.1", 8080), NP_OWN_ENDPOINT);
    assert_int_equal(check(&p, "::ffff:127.0.0.1", 8080), NP_OWN_ENDPOINT);
    assert_int_equal(check(&p, "203.0.113.5", 8080), NP_OWN_ENDPOINT);
    assert_int_equal(check(&p, "0.0.0.0", 8080), NP_OWN_ENDPOINT); /* reaches the local host */
    assert_int_equal(check(&p, "::", 8080), NP_OWN_ENDPOINT);
    /* other ports of the own addresses: the allow list decides, else refused as own */
    assert_int_equal(check(&p, "127.0.0.1", 8081), NP_PUBLIC);
    assert_int_equal(check(&p, "203.0.113.5", 80), NP_OWN_ADDRESS);
    assert_int_equal(check(&p, "::ffff:203.0.113.5", 443), NP_OWN_ADDRESS);
    /* another loopback address on the port: not us (we listen on 127.0.0.1 only) */
    assert_int_equal(check(&p, "127.0.0.2", 8080), NP_LOOPBACK);
    add_allow(&p, "203.0.113.5/32");
    assert_int_equal(check(&p, "203.0.113.5", 80), NP_PUBLIC);
    assert_int_equal(check(&p, "203.0.113.5", 8080), NP_OWN_ENDPOINT);
    assert_int_equal(check(&p, "203.0.113.6", 8080), NP_PUBLIC);

    /* listening on any address: every loopback address with the port is us */
    netpolicy_t any;
    memset(&any, 0, sizeof(any));
    any.self_any = true;
    any.self_port = 9000;
    add_allow(&any, "127.0.0.0/8,::1/128");
    assert_int_equal(check(&any, "127.0.0.2", 9000), NP_OWN_ENDPOINT);
    assert_int_equal(check(&any, "::1", 9000), NP_OWN_ENDPOINT);
    assert_int_equal(check(&any, "127.0.0.2", 9001), NP_PUBLIC);
    assert_int_equal(check(&any, "8.8.8.8", 9000), NP_PUBLIC);
}

static void test_class_names(void **state) {
    (void)state;
    for (int c = 0; c < NP_CLASS_COUNT; c++) {
        const char *n = np_class_name((np_class_t)c);
        assert_non_null(n);
        assert_true(n[0] != '\0');
        assert_string_not_equal(n, "unknown");
    }
    assert_string_equal(np_class_name(NP_CLASS_COUNT), "unknown");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_ranges),      cmocka_unit_test(test_v6_ranges),
        cmocka_unit_test(test_v6_carrying_v4), cmocka_unit_test(test_addr_parse),
        cmocka_unit_test(test_host_is_numeric), cmocka_unit_test(test_cidr_parse),
        cmocka_unit_test(test_cidr_list),      cmocka_unit_test(test_cidr_contains),
        cmocka_unit_test(test_policy_default), cmocka_unit_test(test_policy_allow),
        cmocka_unit_test(test_policy_self),    cmocka_unit_test(test_class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
