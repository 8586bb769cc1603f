/* tests/unit/test_file.c: the File model's name tables (round trips, unknown names), the file
 * name rule with good and hostile names, and AddSpec decoding: PUSH and PULL bodies, every
 * missing, wrong-typed or invalid field with the message naming it, and the normalization of
 * checksums, URI schemes and certificate thumbprints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"

#define SHA1_HEX "da39a3ee5e6b4b0d3255bfef95601890afd80709"
#define MD5_HEX "d41d8cd98f00b204e9800998ecf8427e"
#define SHA256_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA512_HEX                                                                                 \
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877e" \
    "ec2f63b931bd47417a81a538327af927da3e"
#define TP_BARE "0123456789abcdefABCDEF0123456789abcdef01"
#define TP_NORM "01:23:45:67:89:AB:CD:EF:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01"

static char *repeat(const char *unit, size_t times) {
    size_t n = strlen(unit);
    char *s = malloc(n * times + 1);
    assert_non_null(s);
    for (size_t i = 0; i < times; i++) memcpy(s + i * n, unit, n);
    s[n * times] = '\0';
    return s;
}

static struct json_object *J(const char *text) {
    struct json_object *o = json_tokener_parse(text);
    if (!o) fail_msg("test JSON does not parse: %s", text);
    return o;
}

static void fails(int rc, const vapi_failure_t *f, const char *msg) {
    assert_int_equal(rc, C_ERR);
    assert_string_equal(vapi_error_name(f->type), "INVALID_ARGUMENT");
    assert_string_equal(f->msg.default_message, msg);
    assert_true(strncmp(f->msg.id, "com.vmware.vdcs.cls-main.", 25) == 0);
}

/* spec_file_add on a JSON text must fail with INVALID_ARGUMENT and exactly msg. */
static void add_fails(const char *text, const char *prefix, const char *msg) {
    struct json_object *b = J(text);
    file_spec_t s;
    vapi_failure_t f;
    fails(spec_file_add(b, prefix, &s, &f), &f, msg);
    json_object_put(b);
}

/* spec_file_add on a JSON text must succeed; the result lands in *s. */
static void add_ok(const char *text, const char *prefix, file_spec_t *s) {
    struct json_object *b = J(text);
    vapi_failure_t f;
    int rc = spec_file_add(b, prefix, s, &f);
    if (rc != C_OK) fail_msg("%s: %s", text, f.msg.default_message);
    json_object_put(b);
}

/* ---- name tables ------------------------------------------------------------------------ */

static void test_source_type_names(void **state) {
    (void)state;
    const char *names[] = {"NONE", "PUSH", "PULL"};
    for (int i = 0; i < SOURCE_TYPE_COUNT; i++) {
        source_type_t t = SOURCE_TYPE_COUNT;
        assert_string_equal(source_type_name((source_type_t)i), names[i]);
        assert_int_equal(source_type_parse(source_type_name((source_type_t)i), &t), C_OK);
        assert_int_equal(t, i);
    }
    assert_int_equal(source_type_parse("PUSH", NULL), C_OK);
    const char *bad[] = {"", "push", "Pull", "PUSH ", "UPLOAD", "UNKNOWN"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) assert_int_equal(source_type_parse(bad[i], NULL), C_ERR);
    assert_int_equal(source_type_parse(NULL, NULL), C_ERR);
    assert_string_equal(source_type_name(SOURCE_TYPE_COUNT), "UNKNOWN");
    assert_string_equal(source_type_name((source_type_t)-1), "UNKNOWN");
}

static void test_transfer_status_names(void **state) {
    (void)state;
    const char *names[] = {"WAITING_FOR_TRANSFER", "TRANSFERRING", "READY", "VALIDATING", "ERROR"};
    for (int i = 0; i < TRANSFER_STATUS_COUNT; i++) {
        transfer_status_t t = TRANSFER_STATUS_COUNT;
        assert_string_equal(transfer_status_name((transfer_status_t)i), names[i]);
        assert_int_equal(transfer_status_parse(names[i], &t), C_OK);
        assert_int_equal(t, i);
    }
    const char *bad[] = {"", "ready", "DONE", "WAITING", "UNKNOWN"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++)
        assert_int_equal(transfer_status_parse(bad[i], NULL), C_ERR);
    assert_int_equal(transfer_status_parse(NULL, NULL), C_ERR);
    assert_string_equal(transfer_status_name(TRANSFER_STATUS_COUNT), "UNKNOWN");
}

static void test_checksum_alg_names(void **state) {
    (void)state;
    const char *names[] = {"SHA1", "MD5", "SHA256", "SHA512"};
    const size_t lens[] = {40, 32, 64, 128};
    for (int i = 0; i < CHECKSUM_ALG_COUNT; i++) {
        checksum_alg_t a = CHECKSUM_ALG_COUNT;
        assert_string_equal(checksum_alg_name((checksum_alg_t)i), names[i]);
        assert_int_equal(checksum_alg_parse(names[i], &a), C_OK);
        assert_int_equal(a, i);
        assert_int_equal(checksum_hex_len(a), lens[i]);
        assert_true(checksum_hex_len(a) < CHECKSUM_MAX);
    }
    const char *bad[] = {"", "sha1", "SHA-1", "SHA384", "CRC32", "UNKNOWN"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) assert_int_equal(checksum_alg_parse(bad[i], NULL), C_ERR);
    assert_int_equal(checksum_alg_parse(NULL, NULL), C_ERR);
    assert_string_equal(checksum_alg_name(CHECKSUM_ALG_COUNT), "UNKNOWN");
    assert_int_equal(checksum_hex_len(CHECKSUM_ALG_COUNT), 0);
}

/* ---- file names ------------------------------------------------------------------------- */

static void test_file_name_good(void **state) {
    (void)state;
    vapi_failure_t f;
    const char *good[] = {
        "a",
        "photon.ovf",
        "disk-1 (copy).vmdk",
        " leading and trailing ",
        "a..b",   /* dots inside a name are not a path segment */
        ".hidden",
        "name.",
        "...",
        "..a",
        "a..",
        "файл.ovf",
        "日本語のディスク.iso",
        "emoji-\xF0\x9F\x98\x80.txt",
        "C:drive", /* ':' is an ordinary character here */
        "~",
    };
    for (size_t i = 0; i < ARRAY_LEN(good); i++)
        if (check_file_name("name", good[i], &f) != C_OK) fail_msg("refused: %s", good[i]);

    char *max = repeat("a", FILE_NAME_MAX - 1); /* 255 bytes */
    assert_int_equal(check_file_name("name", max, &f), C_OK);
    free(max);
    char *wide = repeat("\xE6\x97\xA5", 85); /* 85 three-byte characters = 255 bytes */
    assert_int_equal(check_file_name("name", wide, &f), C_OK);
    free(wide);
}

static void test_file_name_bad(void **state) {
    (void)state;
    vapi_failure_t f;
    static const struct {
        const char *name, *msg;
    } bad[] = {
        {"", "The field file_spec.name must not be empty."},
        {" ", "The field file_spec.name has an invalid value ' '; a file name must not be only "
              "white space."},
        {"   ", "The field file_spec.name has an invalid value '   '; a file name must not be "
                "only white space."},
        {" \xc2\xa0\xe3\x80\x80", "The field file_spec.name has an invalid value "
                                   "' \xc2\xa0\xe3\x80\x80'; a file name must not be only white "
                                   "space."},
        {".", "The field file_spec.name has an invalid value '.'; a file name must not be '.' or "
              "'..'."},
        {"..", "The field file_spec.name has an invalid value '..'; a file name must not be '.' or "
               "'..'."},
        {"../x", "The field file_spec.name has an invalid value '../x'; a file name must not "
                 "contain '/' or '\\'."},
        {"a/b", "The field file_spec.name has an invalid value 'a/b'; a file name must not "
                "contain '/' or '\\'."},
        {"/etc/passwd", "The field file_spec.name has an invalid value '/etc/passwd'; a file name "
                        "must not contain '/' or '\\'."},
        {"x/", "The field file_spec.name has an invalid value 'x/'; a file name must not contain "
               "'/' or '\\'."},
        {"a\\b", "The field file_spec.name has an invalid value 'a\\b'; a file name must not "
                 "contain '/' or '\\'."},
        {"..\\..\\boot.ini", "The field file_spec.name has an invalid value '..\\..\\boot.ini'; a "
                             "file name must not contain '/' or '\\'."},
        {"a\nb", "The field file_spec.name must not contain control characters."},
        {"\t", "The field file_spec.name must not contain control characters."},
        {"a\rb", "The field file_spec.name must not contain control characters."},
        {"bell\x07", "The field file_spec.name must not contain control characters."},
        {"\x1b[31mred", "The field file_spec.name must not contain control characters."},
        {"del\x7f", "The field file_spec.name must not contain control characters."},
        {"\xff", "The field file_spec.name is not valid UTF-8."},
        {"a\xc0\xaf" "b", "The field file_spec.name is not valid UTF-8."}, /* overlong '/' */
        {"\xed\xa0\x80", "The field file_spec.name is not valid UTF-8."},   /* surrogate */
        {"cut\xe6\x97", "The field file_spec.name is not valid UTF-8."},    /* cut short */
        {"\xf4\x90\x80\x80", "The field file_spec.name is not valid UTF-8."}, /* > U+10FFFF */
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        memset(&f, 0, sizeof(f));
        fails(check_file_name("file_spec.name", bad[i].name, &f), &f, bad[i].msg);
    }
    fails(check_file_name("name", NULL, &f), &f, "The field name is required.");

    char *big = repeat("a", FILE_NAME_MAX); /* 256 bytes */
    fails(check_file_name("name", big, &f), &f, "The field name must be at most 255 bytes long.");
    free(big);
    char *huge = repeat("b", 1 << 20); /* a megabyte is refused without reading it all */
    fails(check_file_name("name", huge, &f), &f, "The field name must be at most 255 bytes long.");
    free(huge);
    char *wide = repeat("\xE6\x97\xA5", 86); /* 258 bytes, 86 characters */
    fails(check_file_name("name", wide, &f), &f, "The field name must be at most 255 bytes long.");
    free(wide);
}

/* ---- AddSpec: good bodies ------------------------------------------------------------- */

static void test_add_push(void **state) {
    (void)state;
    file_spec_t s;
    add_ok("{\"name\":\"photon.ovf\",\"source_type\":\"PUSH\"}", "", &s);
    assert_string_equal(s.name, "photon.ovf");
    assert_int_equal(s.source_type, SOURCE_PUSH);
    assert_false(s.has_size);
    assert_false(s.checksum.present);
    assert_string_equal(s.source_uri, "");
    assert_string_equal(s.source_thumbprint, "");

    /* Everything optional given; unknown fields ignored; source_endpoint ignored for PUSH even
     * when it would be invalid for PULL. */
    add_ok("{\"name\":\"disk-1.vmdk\",\"source_type\":\"PUSH\",\"size\":1048576,"
           "\"checksum_info\":{\"algorithm\":\"SHA256\",\"checksum\":\"" SHA256_HEX "\"},"
           "\"source_endpoint\":{\"uri\":\"ftp://example.com/x\"},\"keep_in_storage\":true,"
           "\"extra\":[1,{\"a\":null}]}",
           "file_spec.", &s);
    assert_string_equal(s.name, "disk-1.vmdk");
    assert_int_equal(s.source_type, SOURCE_PUSH);
    assert_true(s.has_size);
    assert_int_equal(s.size, 1048576);
    assert_true(s.checksum.present);
    assert_int_equal(s.checksum.algorithm, CHECKSUM_SHA256);
    assert_string_equal(s.checksum.checksum, SHA256_HEX);
    assert_string_equal(s.source_uri, "");

    add_ok("{\"name\":\"a\",\"source_type\":\"PUSH\",\"source_endpoint\":42}", "", &s);
    assert_string_equal(s.source_uri, "");

    /* Nulls are absent; size 0 and the largest int64 are fine. */
    add_ok("{\"name\":\"a\",\"source_type\":\"PUSH\",\"size\":null,\"checksum_info\":null,"
           "\"source_endpoint\":null}",
           "", &s);
    assert_false(s.has_size);
    assert_false(s.checksum.present);
    add_ok("{\"name\":\"a\",\"source_type\":\"PUSH\",\"size\":0}", "", &s);
    assert_true(s.has_size);
    assert_int_equal(s.size, 0);
    add_ok("{\"name\":\"a\",\"source_type\":\"PUSH\",\"size\":9223372036854775807}", "", &s);
    assert_true(s.size == INT64_MAX);

    /* Unicode names and a 255-byte name survive the copy whole. */
    add_ok("{\"name\":\"\\u0444\\u0430\\u0439\\u043b a..b.iso\",\"source_type\":\"PUSH\"}", "", &s);
    assert_string_equal(s.name, "файл a..b.iso");
    char *max = repeat("n", FILE_NAME_MAX - 1), body[512];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"source_type\":\"PUSH\"}", max);
    add_ok(body, "", &s);
    assert_string_equal(s.name, max);
    free(max);
}

static void test_add_pull(void **state) {
    (void)state;
    file_spec_t s;
    add_ok("{\"name\":\"photon.ova\",\"source_type\":\"PULL\",\"size\":123,"
           "\"source_endpoint\":{\"uri\":\"https://files.example.com:8443/a/photon.ova?x=1#f\"}}",
           "file_spec.", &s);
    assert_string_equal(s.name, "photon.ova");
    assert_int_equal(s.source_type, SOURCE_PULL);
    assert_true(s.has_size);
    assert_int_equal(s.size, 123);
    assert_string_equal(s.source_uri, "https://files.example.com:8443/a/photon.ova?x=1#f");
    assert_string_equal(s.source_thumbprint, "");

    add_ok("{\"name\":\"x.iso\",\"source_type\":\"PULL\",\"source_endpoint\":{"
           "\"uri\":\"http://10.0.0.1/x%20y.iso\",\"ssl_certificate_thumbprint\":null,"
           "\"ssl_certificate\":\"-----BEGIN CERTIFICATE-----\"}}",
           "", &s);
    assert_string_equal(s.source_uri, "http://10.0.0.1/x%20y.iso");
    assert_string_equal(s.source_thumbprint, "");

    /* Scheme is case-insensitive and stored lower-case; the rest is kept as sent. */
    add_ok("{\"name\":\"x\",\"source_type\":\"PULL\",\"source_endpoint\":{"
           "\"uri\":\"HTTPS://Host.Example/Path/X.OVA\"}}",
           "", &s);
    assert_string_equal(s.source_uri, "https://Host.Example/Path/X.OVA");
    add_ok("{\"name\":\"x\",\"source_type\":\"PULL\",\"source_endpoint\":{"
           "\"uri\":\"hTTp://[::1]:8080/x\"}}",
           "", &s);
    assert_string_equal(s.source_uri, "http://[::1]:8080/x");
    add_ok("{\"name\":\"x\",\"source_type\":\"PULL\",\"source_endpoint\":{"
           "\"uri\":\"https://user:pw@host\"}}",
           "", &s);
    assert_string_equal(s.source_uri, "https://user:pw@host");

    /* The longest URI that fits. */
    char *path = repeat("p", URI_MAX - 1 - strlen("https://h/"));
    char *body = malloc(URI_MAX + 200);
    assert_non_null(body);
    snprintf(body, URI_MAX + 200,
             "{\"name\":\"x\",\"source_type\":\"PULL\",\"source_endpoint\":{\"uri\":\"https://h/%s\"}}",
             path);
    add_ok(body, "", &s);
    assert_int_equal(strlen(s.source_uri), URI_MAX - 1);
    free(path);
    free(body);
}

static void test_add_checksum_normalization(void **state) {
    (void)state;
    file_spec_t s;
    static const struct {
        const char *alg, *given, *stored;
        checksum_alg_t a;
    } cases[] = {
        {NULL, "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709", SHA1_HEX, CHECKSUM_SHA1},
        {"SHA1", "Da39a3eE5e6b4b0d3255bfef95601890afd80709", SHA1_HEX, CHECKSUM_SHA1},
        {"MD5", "D41D8CD98F00B204E9800998ECF8427E", MD5_HEX, CHECKSUM_MD5},
        {"SHA256", SHA256_HEX, SHA256_HEX, CHECKSUM_SHA256},
        {"SHA512", SHA512_HEX, SHA512_HEX, CHECKSUM_SHA512},
    };
    char body[1024];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char alg[64] = "";
        if (cases[i].alg) snprintf(alg, sizeof(alg), "\"algorithm\":\"%s\",", cases[i].alg);
        snprintf(body, sizeof(body),
                 "{\"name\":\"a\",\"source_type\":\"PUSH\",\"checksum_info\":{%s\"checksum\":\"%s\"}}",
                 alg, cases[i].given);
        add_ok(body, "", &s);
        assert_true(s.checksum.present);
        assert_int_equal(s.checksum.algorithm, cases[i].a);
        assert_string_equal(s.checksum.checksum, cases[i].stored);
    }
    /* algorithm null: the SHA1 default. */
    add_ok("{\"name\":\"a\",\"source_type\":\"PUSH\",\"checksum_info\":{\"algorithm\":null,"
           "\"checksum\":\"" SHA1_HEX "\"}}",
           "", &s);
    assert_int_equal(s.checksum.algorithm, CHECKSUM_SHA1);
}

static void test_add_thumbprint_normalization(void **state) {
    (void)state;
    file_spec_t s;
    const char *given[] = {
        TP_BARE,
        "0123456789ABCDEFABCDEF0123456789ABCDEF01",
        "01:23:45:67:89:ab:cd:ef:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01",
        TP_NORM,
    };
    char body[512];
    for (size_t i = 0; i < ARRAY_LEN(given); i++) {
        snprintf(body, sizeof(body),
                 "{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":{"
                 "\"uri\":\"https://h/a\",\"ssl_certificate_thumbprint\":\"%s\"}}",
                 given[i]);
        add_ok(body, "", &s);
        assert_string_equal(s.source_thumbprint, TP_NORM);
        assert_int_equal(strlen(s.source_thumbprint), 59);
    }
}

/* ---- AddSpec: errors -------------------------------------------------------------------- */

static void test_add_body(void **state) {
    (void)state;
    file_spec_t s;
    vapi_failure_t f;
    fails(spec_file_add(NULL, "", &s, &f), &f, "The request body is required.");
    fails(spec_file_add(NULL, "file_spec.", &s, &f), &f, "The file_spec is required.");
    add_fails("[]", "", "The request body must be a JSON object.");
    add_fails("[{\"name\":\"a\",\"source_type\":\"PUSH\"}]", "file_spec.",
              "The file_spec must be a JSON object.");
    add_fails("\"PUSH\"", "", "The request body must be a JSON object.");
    add_fails("42", "file_spec.", "The file_spec must be a JSON object.");
    add_fails("{}", "", "The field name is required.");
}

static void test_add_name_errors(void **state) {
    (void)state;
    add_fails("{\"source_type\":\"PUSH\"}", "file_spec.", "The field file_spec.name is required.");
    add_fails("{\"name\":null,\"source_type\":\"PUSH\"}", "",
              "The field name is required.");
    add_fails("{\"name\":7,\"source_type\":\"PUSH\"}", "file_spec.",
              "The field file_spec.name must be a string.");
    add_fails("{\"name\":[\"a\"],\"source_type\":\"PUSH\"}", "",
              "The field name must be a string.");
    add_fails("{\"name\":\"a\\u0000b\",\"source_type\":\"PUSH\"}", "file_spec.",
              "The field file_spec.name must not contain NUL characters.");
    add_fails("{\"name\":\"\",\"source_type\":\"PUSH\"}", "file_spec.",
              "The field file_spec.name must not be empty.");
    add_fails("{\"name\":\"..\",\"source_type\":\"PUSH\"}", "file_spec.",
              "The field file_spec.name has an invalid value '..'; a file name must not be '.' "
              "or '..'.");
    add_fails("{\"name\":\"../../etc/passwd\",\"source_type\":\"PUSH\"}", "",
              "The field name has an invalid value '../../etc/passwd'; a file name must not "
              "contain '/' or '\\'.");
    add_fails("{\"name\":\"a\\\\b\",\"source_type\":\"PUSH\"}", "",
              "The field name has an invalid value 'a\\b'; a file name must not contain '/' or "
              "'\\'.");
    add_fails("{\"name\":\"a\\nb\",\"source_type\":\"PUSH\"}", "file_spec.",
              "The field file_spec.name must not contain control characters.");
    /* json-c turns a lone "\ud800" escape into U+FFFD but passes raw bytes through. */
    add_fails("{\"name\":\"a\xff.ovf\",\"source_type\":\"PUSH\"}", "file_spec.",
              "The field file_spec.name is not valid UTF-8.");
    add_fails("{\"name\":\"\xc0\xae\xc0\xae\",\"source_type\":\"PUSH\"}", "",
              "The field name is not valid UTF-8."); /* overlong ".." */
    char *big = repeat("a", FILE_NAME_MAX), body[512];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"source_type\":\"PUSH\"}", big);
    add_fails(body, "file_spec.", "The field file_spec.name must be at most 255 bytes long.");
    free(big);
}

static void test_add_source_type_errors(void **state) {
    (void)state;
    add_fails("{\"name\":\"a\"}", "file_spec.", "The field file_spec.source_type is required.");
    add_fails("{\"name\":\"a\",\"source_type\":null}", "",
              "The field source_type is required.");
    add_fails("{\"name\":\"a\",\"source_type\":1}", "file_spec.",
              "The field file_spec.source_type must be a string.");
    const char *bad[] = {"NONE", "push", "", "UPLOAD", "PULL "};
    char body[256], msg[256];
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        snprintf(body, sizeof(body), "{\"name\":\"a\",\"source_type\":\"%s\"}", bad[i]);
        snprintf(msg, sizeof(msg),
                 "The field file_spec.source_type has an invalid value '%s'; it must be PUSH or "
                 "PULL.",
                 bad[i]);
        add_fails(body, "file_spec.", msg);
    }
}

static void test_add_size_errors(void **state) {
    (void)state;
    add_fails("{\"name\":\"a\",\"source_type\":\"PUSH\",\"size\":-1}", "file_spec.",
              "The field file_spec.size has an invalid value -1; it must not be negative.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"size\":-9223372036854775808}", "",
              "The field size has an invalid value -9223372036854775808; it must not be "
              "negative.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PUSH\",\"size\":-99999999999999999999999}", "",
              "The field size has an invalid value -9223372036854775808; it must not be "
              "negative.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PUSH\",\"size\":9223372036854775808}",
              "file_spec.", "The field file_spec.size is too large.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PUSH\",\"size\":18446744073709551615}", "",
              "The field size is too large.");
    const char *bad[] = {"1.5", "1.0", "1e3", "\"10\"", "true", "[]", "{}"};
    char body[256];
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        snprintf(body, sizeof(body), "{\"name\":\"a\",\"source_type\":\"PUSH\",\"size\":%s}",
                 bad[i]);
        add_fails(body, "file_spec.", "The field file_spec.size must be an integer.");
    }
}

static void test_add_checksum_errors(void **state) {
    (void)state;
#define CK(inner) "{\"name\":\"a\",\"source_type\":\"PUSH\",\"checksum_info\":" inner "}"
    add_fails(CK("\"" SHA1_HEX "\""), "file_spec.",
              "The field file_spec.checksum_info must be an object.");
    add_fails(CK("{}"), "file_spec.", "The field file_spec.checksum_info.checksum is required.");
    add_fails(CK("{\"algorithm\":\"MD5\"}"), "",
              "The field checksum_info.checksum is required.");
    add_fails(CK("{\"checksum\":null}"), "", "The field checksum_info.checksum is required.");
    add_fails(CK("{\"checksum\":12}"), "file_spec.",
              "The field file_spec.checksum_info.checksum must be a string.");
    add_fails(CK("{\"checksum\":\"" SHA1_HEX "\",\"algorithm\":1}"), "file_spec.",
              "The field file_spec.checksum_info.algorithm must be a string.");
    add_fails(CK("{\"checksum\":\"" SHA1_HEX "\",\"algorithm\":\"SHA384\"}"), "file_spec.",
              "The field file_spec.checksum_info.algorithm has an invalid value 'SHA384'; it "
              "must be SHA1, MD5, SHA256 or SHA512.");
    add_fails(CK("{\"checksum\":\"" SHA1_HEX "\",\"algorithm\":\"sha1\"}"), "",
              "The field checksum_info.algorithm has an invalid value 'sha1'; it must be SHA1, "
              "MD5, SHA256 or SHA512.");
    add_fails(CK("{\"checksum\":\"" SHA1_HEX "\",\"algorithm\":\"\"}"), "",
              "The field checksum_info.algorithm has an invalid value ''; it must be SHA1, MD5, "
              "SHA256 or SHA512.");
    /* Wrong length for the algorithm (including the SHA1 default), not hex, empty. */
    add_fails(CK("{\"checksum\":\"" MD5_HEX "\"}"), "file_spec.",
              "The field file_spec.checksum_info.checksum has an invalid value '" MD5_HEX
              "'; a SHA1 checksum is 40 hexadecimal digits.");
    add_fails(CK("{\"checksum\":\"" SHA1_HEX "\",\"algorithm\":\"MD5\"}"), "",
              "The field checksum_info.checksum has an invalid value '" SHA1_HEX
              "'; a MD5 checksum is 32 hexadecimal digits.");
    add_fails(CK("{\"checksum\":\"" SHA256_HEX "0\",\"algorithm\":\"SHA256\"}"), "",
              "The field checksum_info.checksum has an invalid value '" SHA256_HEX
              "0'; a SHA256 checksum is 64 hexadecimal digits.");
    add_fails(CK("{\"checksum\":\"" SHA256_HEX "\",\"algorithm\":\"SHA512\"}"), "",
              "The field checksum_info.checksum has an invalid value '" SHA256_HEX
              "'; a SHA512 checksum is 128 hexadecimal digits.");
    add_fails(CK("{\"checksum\":\"g41d8cd98f00b204e9800998ecf8427e\",\"algorithm\":\"MD5\"}"), "",
              "The field checksum_info.checksum has an invalid value "
              "'g41d8cd98f00b204e9800998ecf8427e'; a MD5 checksum is 32 hexadecimal digits.");
    add_fails(CK("{\"checksum\":\"d41d8cd98f00b204 e9800998ecf8427\",\"algorithm\":\"MD5\"}"), "",
              "The field checksum_info.checksum has an invalid value "
              "'d41d8cd98f00b204 e9800998ecf8427'; a MD5 checksum is 32 hexadecimal digits.");
    add_fails(CK("{\"checksum\":\"0x41d8cd98f00b204e9800998ecf8427e\",\"algorithm\":\"MD5\"}"), "",
              "The field checksum_info.checksum has an invalid value "
              "'0x41d8cd98f00b204e9800998ecf8427e'; a MD5 checksum is 32 hexadecimal digits.");
    add_fails(CK("{\"checksum\":\"\"}"), "",
              "The field checksum_info.checksum has an invalid value ''; a SHA1 checksum is 40 "
              "hexadecimal digits.");
#undef CK
}

static void test_add_endpoint_errors(void **state) {
    (void)state;
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\"}", "file_spec.",
              "The field file_spec.source_endpoint is required.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":null}", "",
              "The field source_endpoint is required.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":\"https://h/a\"}",
              "file_spec.", "The field file_spec.source_endpoint must be an object.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":{}}", "file_spec.",
              "The field file_spec.source_endpoint.uri is required.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":{\"uri\":null}}", "",
              "The field source_endpoint.uri is required.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":{\"uri\":[]}}", "",
              "The field source_endpoint.uri must be a string.");
}

static void test_add_uri_errors(void **state) {
    (void)state;
    static const struct {
        const char *uri, *scheme; /* scheme set: unsupported scheme; else the message tail */
    } bad[] = {
        {"file:///etc/passwd", "file"},
        {"ds:///vmfs/volumes/ds1/x.ova", "ds"},
        {"ftp://host/x", "ftp"},
        {"FTP://host/x", "FTP"},
        {"gopher://h/", "gopher"},
        {"javascript:alert(1)", "javascript"},
        {"httpx://h/a", "httpx"},
        {"https+unix://h/a", "https+unix"},
    };
    char body[512], msg[512];
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        snprintf(body, sizeof(body),
                 "{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":{\"uri\":\"%s\"}}",
                 bad[i].uri);
        snprintf(msg, sizeof(msg),
                 "The field file_spec.source_endpoint.uri has an unsupported scheme '%s'; only "
                 "http and https are supported.",
                 bad[i].scheme);
        add_fails(body, "file_spec.", msg);
    }
    static const struct {
        const char *json, *shown, *why;
    } invalid[] = {
        {"", "", "it is not an absolute URI"},
        {"host/x.ova", "host/x.ova", "it is not an absolute URI"},
        {"/x.ova", "/x.ova", "it is not an absolute URI"},
        {"://h/x", "://h/x", "it is not an absolute URI"},
        {"1http://h/x", "1http://h/x", "it is not an absolute URI"},
        {"https", "https", "it is not an absolute URI"},
        {"https:", "https:", "it has no host"},
        {"https:h/x", "https:h/x", "it has no host"},
        {"http:/h/x", "http:/h/x", "it has no host"},
        {"http://", "http://", "it has no host"},
        {"http:///x", "http:///x", "it has no host"},
        {"http://?q", "http://?q", "it has no host"},
        {"http://:80/x", "http://:80/x", "it has no host"},
        {"https://h/a b", "https://h/a b",
         "a URI must not contain spaces, control characters or non-ASCII characters"},
        {" https://h/a", " https://h/a",
         "a URI must not contain spaces, control characters or non-ASCII characters"},
        {"https://h/a\\n", "https://h/a\n",
         "a URI must not contain spaces, control characters or non-ASCII characters"},
        {"https://h/a\\t", "https://h/a\t",
         "a URI must not contain spaces, control characters or non-ASCII characters"},
        {"https://h/\\u007f", "https://h/\x7f",
         "a URI must not contain spaces, control characters or non-ASCII characters"},
        {"https://h/\\u0444", "https://h/ф",
         "a URI must not contain spaces, control characters or non-ASCII characters"},
    };
    for (size_t i = 0; i < ARRAY_LEN(invalid); i++) {
        snprintf(body, sizeof(body),
                 "{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":{\"uri\":\"%s\"}}",
                 invalid[i].json);
        snprintf(msg, sizeof(msg), "The field source_endpoint.uri has an invalid value '%s'; %s.",
                 invalid[i].shown, invalid[i].why);
        add_fails(body, "", msg);
    }
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":{\"uri\":\"a\\u0000b\"}}",
              "", "The field source_endpoint.uri must not contain NUL characters.");

    /* One byte over the limit. */
    char *path = repeat("p", URI_MAX - strlen("https://h/"));
    char *big = malloc(URI_MAX + 200);
    assert_non_null(big);
    snprintf(big, URI_MAX + 200,
             "{\"name\":\"x\",\"source_type\":\"PULL\",\"source_endpoint\":{\"uri\":\"https://h/%s\"}}",
             path);
    add_fails(big, "file_spec.",
              "The field file_spec.source_endpoint.uri must be at most 2047 bytes long.");
    free(path);
    free(big);
}

static void test_add_thumbprint_errors(void **state) {
    (void)state;
    const char *bad[] = {
        "",
        "0123456789abcdef0123456789abcdef0123456",   /* 39 */
        "0123456789abcdef0123456789abcdef012345678", /* 41 */
        "g123456789abcdef0123456789abcdef01234567",
        "01-23-45-67-89-AB-CD-EF-AB-CD-EF-01-23-45-67-89-AB-CD-EF-01",
        "01:23:45:67:89:AB:CD:EF:AB:CD:EF:01:23:45:67:89:AB:CD:EF:0",
        "01:23:45:67:89:AB:CD:EF:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:",
        "012:3:45:67:89:AB:CD:EF:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01",
        "01:23:45:67:89:AB:CD:EF:AB:CD:EF:01:23:45:67:89:AB:CD:EF:G1",
        "01 23 45 67 89 AB CD EF AB CD EF 01 23 45 67 89 AB CD EF 01",
        /* a SHA-256 thumbprint is not a SHA-1 one */
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    char body[512], msg[512];
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        snprintf(body, sizeof(body),
                 "{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":{"
                 "\"uri\":\"https://h/a\",\"ssl_certificate_thumbprint\":\"%s\"}}",
                 bad[i]);
        snprintf(msg, sizeof(msg),
                 "The field file_spec.source_endpoint.ssl_certificate_thumbprint has an invalid "
                 "value '%s'; a SHA-1 thumbprint is 40 hexadecimal digits, optionally in pairs "
                 "separated by ':'.",
                 bad[i]);
        add_fails(body, "file_spec.", msg);
    }
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"source_endpoint\":{"
              "\"uri\":\"https://h/a\",\"ssl_certificate_thumbprint\":40}}",
              "", "The field source_endpoint.ssl_certificate_thumbprint must be a string.");
}

/* Messages come in field order: the first bad field is the one reported. */
static void test_add_field_order(void **state) {
    (void)state;
    add_fails("{\"name\":\"..\",\"source_type\":\"NONE\",\"size\":-1}", "",
              "The field name has an invalid value '..'; a file name must not be '.' or '..'.");
    add_fails("{\"name\":\"a\",\"source_type\":\"NONE\",\"size\":-1}", "",
              "The field source_type has an invalid value 'NONE'; it must be PUSH or PULL.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"size\":-1,\"checksum_info\":{}}", "",
              "The field size has an invalid value -1; it must not be negative.");
    add_fails("{\"name\":\"a\",\"source_type\":\"PULL\",\"checksum_info\":{}}", "",
              "The field checksum_info.checksum is required.");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_source_type_names),
        cmocka_unit_test(test_transfer_status_names),
        cmocka_unit_test(test_checksum_alg_names),
        cmocka_unit_test(test_file_name_good),
        cmocka_unit_test(test_file_name_bad),
        cmocka_unit_test(test_add_push),
        cmocka_unit_test(test_add_pull),
        cmocka_unit_test(test_add_checksum_normalization),
        cmocka_unit_test(test_add_thumbprint_normalization),
        cmocka_unit_test(test_add_body),
        cmocka_unit_test(test_add_name_errors),
        cmocka_unit_test(test_add_source_type_errors),
        cmocka_unit_test(test_add_size_errors),
        cmocka_unit_test(test_add_checksum_errors),
        cmocka_unit_test(test_add_endpoint_errors),
        cmocka_unit_test(test_add_uri_errors),
        cmocka_unit_test(test_add_thumbprint_errors),
        cmocka_unit_test(test_add_field_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
