/* tests/fuzz/fuzz_validate.c: libFuzzer target for the validators of core/validate.c and
 * check_file_name (core/file.c): what decides whether client text may name a resource, a
 * session, a file on disk, or appear in a message. Each is compared with a plain reference
 * written from its documented rule, on the input as a C string (cut at its first NUL, as
 * every caller sees it):
 *   valid_uuid, valid_resource_id, parse_session_id (the last ':' splits; the item part is
 *   copied out), check_client_token, check_file_name, check_name, check_text,
 *   utf8_seq_len / valid_utf8 / utf8_chars (against an RFC 3629 decoder), parse_iso8601 and
 *   format_iso8601 (round trips), check_progress; and basic_auth_decode (net/users.c), the
 *   login's Authorization header: on success the name has no ':' and both parts fit.
 * Every failure message must be valid UTF-8 with its arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/validate.h"
#include "net/users.h"

static void die(const char *what, const char *s) {
    fprintf(stderr, "\nvalidate fuzz invariant broken: %s (input \"%s\")\n", what, s ? s : "");
    abort();
}

/* RFC 3629: the code point at s (len bytes available), its length in *n; -1 if ill-formed. */
static long ref_decode(const unsigned char *s, size_t len, size_t *n) {
    if (len == 0) return -1;
    unsigned c = s[0];
    size_t k;
    unsigned long cp;
    if (c < 0x80) { *n = 1; return c; }
    if (c >= 0xC0 && c < 0xE0) { k = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c < 0xF0) { k = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c < 0xF8) { k = 4; cp = c & 0x07; }
    else return -1;
    if (len < k) return -1;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    static const unsigned long min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    *n = k;
    return (long)cp;
}

static bool ref_utf8(const char *s, size_t len, size_t *chars) {
    size_t n, count = 0;
    for (size_t i = 0; i < len; i += n, count++)
        if (ref_decode((const unsigned char *)s + i, len - i, &n) < 0) return false;
    if (chars) *chars = count;
    return true;
}

static bool id_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '-';
}

static bool ref_id(const char *s, size_t n) {
    if (n == 0 || n >= ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i])) return false;
    return true;
}

static bool ref_uuid(const char *s) {
    if (strlen(s) != 36) return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F');
        if (dash ? s[i] != '-' : !hex) return false;
    }
    return true;
}

static void check_message(const vapi_failure_t *f, const char *s) {
    if (f->type != VAPI_INVALID_ARGUMENT) die("a validator failed with another error than INVALID_ARGUMENT", s);
    if (!f->msg.default_message[0] || !valid_utf8(f->msg.default_message, strlen(f->msg.default_message)))
        die("a message that is empty or not UTF-8", s);
    for (int i = 0; i < f->msg.nargs; i++)
        if (!valid_utf8(f->msg.args[i], strlen(f->msg.args[i]))) die("a message argument that is not UTF-8", s);
}

static bool has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return true;
    return false;
}

/* True when valid UTF-8 s is made of white-space code points only (U+0020, U+00A0,
 * U+2000..U+200B, U+202F, U+205F, U+3000, U+FEFF), decoded here independently of core/file.c. */
static bool ref_blank(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned cp;
        int n;
        if (*p < 0x80) { cp = *p; n = 1; }
        else if ((*p & 0xe0) == 0xc0) { cp = *p & 0x1f; n = 2; }
        else if ((*p & 0xf0) == 0xe0) { cp = *p & 0x0f; n = 3; }
        else { cp = *p & 0x07; n = 4; }
        for (int k = 1; k < n; k++) cp = (cp << 6) | (p[k] & 0x3f);
        bool space = cp == 0x20 || cp == 0xa0 || (cp >= 0x2000 && cp <= 0x200b) || cp == 0x202f ||
                     cp == 0x205f || cp == 0x3000 || cp == 0xfeff;
        if (!space) return false;
        p += n;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);
    vapi_failure_t f;

    /* UTF-8 */
    for (size_t i = 0; i < len; i++) {
        size_t rn = 0;
        bool ok = ref_decode((const unsigned char *)s + i, len - i, &rn) >= 0;
        size_t n = utf8_seq_len(s + i, len - i);
        if ((n != 0) != ok || (ok && n != rn)) die("utf8_seq_len disagrees with RFC 3629", s);
    }
    size_t chars = 0;
    bool utf8 = ref_utf8(s, len, &chars);
    if (valid_utf8(s, len) != utf8) die("valid_utf8 disagrees with RFC 3629", s);
    if (utf8 && utf8_chars(s) != chars) die("utf8_chars miscounts", s);

    /* ids and tokens */
    bool uuid = ref_uuid(s);
    if (valid_uuid(s) != uuid) die("valid_uuid disagrees", s);
    if (valid_resource_id(s) != ref_id(s, len)) die("valid_resource_id disagrees", s);
    if ((check_client_token(s, &f) == C_OK) != uuid) die("check_client_token disagrees with valid_uuid", s);
    if (!uuid) check_message(&f, s);
    char item[ID_MAX + 8];
    memset(item, 'Z', sizeof(item));
    const char *colon = strrchr(s, ':');
    bool sid = len < SESSION_ID_MAX && colon && ref_uuid(colon + 1) && ref_id(s, (size_t)(colon - s));
    if (parse_session_id(s, item) != sid) die("parse_session_id disagrees", s);
    if (sid && (strlen(item) != (size_t)(colon - s) || strncmp(item, s, strlen(item)) != 0 || !valid_resource_id(item)))
        die("parse_session_id copied the wrong item id", s);
    if (parse_session_id(s, NULL) != sid) die("parse_session_id(s, NULL) disagrees", s);

    /* file names: 1..255 bytes of UTF-8, no controls, no separator, not "." or "..", not
     * white space only */
    bool fname = len >= 1 && len < FILE_NAME_MAX && utf8 && !has_control(s) && !strpbrk(s, "/\\") &&
                 strcmp(s, ".") != 0 && strcmp(s, "..") != 0 && !ref_blank(s);
    if ((check_file_name("file_spec.name", s, &f) == C_OK) != fname) die("check_file_name disagrees", s);
    if (!fname) check_message(&f, s);

    /* names and free text */
    static const size_t maxes[] = {1, 80, 2000};
    for (size_t i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
        bool blank = strspn(s, " ") == len;
        bool name = utf8 && chars <= maxes[i] && len <= NAME_MAX_BYTES - 1 && !has_control(s) && !blank;
        if ((check_name("create_spec.name", s, maxes[i], &f) == C_OK) != name) die("check_name disagrees", s);
        if (!name) check_message(&f, s);
        bool text = utf8 && chars <= maxes[i] && len <= DESC_MAX_BYTES - 1;
        if ((check_text("create_spec.description", s, maxes[i], &f) == C_OK) != text) die("check_text disagrees", s);
        if (!text) check_message(&f, s);
    }

    /* times: whatever parses formats back to the same instant, and to the same text when it
     * was written with milliseconds */
    int64_t ms;
    if (parse_iso8601(s, &ms) == C_OK) {
        char out[64], again[64];
        int64_t ms2;
        format_iso8601(ms, out, sizeof(out));
        if (parse_iso8601(out, &ms2) != C_OK || ms2 != ms) die("format_iso8601(parse_iso8601(s)) does not parse back", s);
        if (len == 24 && strcmp(out, s) != 0) die("a millisecond time does not format back to itself", s);
        format_iso8601(ms2, again, sizeof(again));
        if (strcmp(out, again) != 0) die("format_iso8601 is not stable", s);
    }
    if (size >= 8) {
        int64_t v;
        memcpy(&v, data, sizeof(v));
        char out[64];
        format_iso8601(v, out, sizeof(out));
        int64_t back;
        /* years 0000..9999 are what the format can carry */
        if (v >= -62167219200000LL && v <= 253402300799999LL &&
            (parse_iso8601(out, &back) != C_OK || back != v))
            die("parse_iso8601(format_iso8601(v)) != v", out);
        int current = (int)(data[0] % 102);
        bool ok = v >= 0 && v <= 100 && v >= current;
        if ((check_progress("client_progress", v, current, &f) == C_OK) != ok) die("check_progress disagrees", out);
        if (!ok) check_message(&f, out);
    }
    /* the Authorization header of a login */
    char user[USER_MAX], password[256];
    for (size_t cap = 1; cap <= sizeof(password); cap *= 16) {
        memset(user, 'Z', sizeof(user));
        memset(password, 'Z', sizeof(password));
        if (basic_auth_decode(s, user, cap < sizeof(user) ? cap : sizeof(user), password, cap) == C_OK &&
            (strlen(user) >= cap || strlen(password) >= cap || strchr(user, ':')))
            die("basic_auth_decode returned a bad name or password", s);
    }
    free(s);
    return 0;
}
