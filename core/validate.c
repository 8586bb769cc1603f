/* core/validate.c: pure checks on client input (resource and session ids, UUID tokens, names,
 * free text, progress), strict UTF-8 decoding, and ISO-8601 time conversion done with plain
 * calendar arithmetic (no clock, no locale, no time zone). */
#include "core/validate.h"

#include <stdio.h>
#include <string.h>

/* Well-formed UTF-8 (Unicode 15, table 3-7): for each range of lead bytes, the sequence length
 * and the allowed range of the second byte. This one table rules out overlongs, surrogates and
 * code points above U+10FFFF. */
static const struct {
    unsigned char lead_lo, lead_hi, len, second_lo, second_hi;
} UTF8_FORMS[] = {
    {0xC2, 0xDF, 2, 0x80, 0xBF},
    {0xE0, 0xE0, 3, 0xA0, 0xBF},
    {0xE1, 0xEC, 3, 0x80, 0xBF},
    {0xED, 0xED, 3, 0x80, 0x9F},
    {0xEE, 0xEF, 3, 0x80, 0xBF},
    {0xF0, 0xF0, 4, 0x90, 0xBF},
    {0xF1, 0xF3, 4, 0x80, 0xBF},
    {0xF4, 0xF4, 4, 0x80, 0x8F},
};

size_t utf8_seq_len(const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    if (!s || len == 0) return 0;
    if (u[0] < 0x80) return 1;
    for (size_t i = 0; i < ARRAY_LEN(UTF8_FORMS); i++) {
        if (u[0] < UTF8_FORMS[i].lead_lo || u[0] > UTF8_FORMS[i].lead_hi) continue;
        size_t n = UTF8_FORMS[i].len;
        if (len < n || u[1] < UTF8_FORMS[i].second_lo || u[1] > UTF8_FORMS[i].second_hi) return 0;
        for (size_t k = 2; k < n; k++)
            if ((u[k] & 0xC0) != 0x80) return 0;
        return n;
    }
    return 0;
}

/* Everything we echo back in JSON must be UTF-8; this is the one decoder that decides. */
bool valid_utf8(const char *s, size_t len) {
    if (!s) return len == 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq_len(s + i, len - i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

/* Counts code points of text already known to be valid UTF-8: every byte that is not a
 * continuation byte starts one. */
size_t utf8_chars(const char *s) {
    size_t n = 0;
    if (!s) return 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Client tokens and the halves of session ids must be exactly 8-4-12 hex; braces, spaces and
 * missing dashes are refused so one token has one spelling (up to case). */
bool valid_uuid(const char *s) {
    if (!s) return false;
    for (size_t i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i])) return false; /* also stops at a short NUL */
    }
    return s[36] == '\0';
}

static bool id_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == ':' || c == '-';
}

/* Checks n bytes of s as a resource id, so a session id can be checked in place. */
static bool valid_id_bytes(const char *s, size_t n) {
    if (n == 0 || n >= ID_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!id_char(s[i])) return false;
    return true;
}

bool valid_resource_id(const char *s) {
    return s && valid_id_bytes(s, strnlen(s, ID_MAX));
}

/* Item ids may themselves contain ':', so only the last ':' separates the session UUID. A
 * session id that would not fit update_session_t.id cannot be one we made and is refused. */
bool parse_session_id(const char *s, char *item_id) {
    if (!s) return false;
    size_t len = strnlen(s, SESSION_ID_MAX);
    if (len >= SESSION_ID_MAX) return false;
    const char *colon = strrchr(s, ':');
    if (!colon || !valid_uuid(colon + 1)) return false;
    size_t n = (size_t)(colon - s);
    if (!valid_id_bytes(s, n)) return false;
    if (item_id) {
        memcpy(item_id, s, n);
        item_id[n] = '\0';
    }
    return true;
}

int check_resource_id(const char *field, const char *value, vapi_failure_t *f) {
    if (valid_resource_id(value)) return C_OK;
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_argument",
                     "The field {0} has an invalid value '{1}'.", field, value ? value : "", NULL);
}

int check_client_token(const char *value, vapi_failure_t *f) {
    if (valid_uuid(value)) return C_OK;
    return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_client_token",
                     "The client_token '{0}' is not a valid UUID.", value ? value : "", NULL);
}

/* The checks names and descriptions share: encoding, code point count and the byte size of
 * the model buffer the value is copied into, so a copy never truncates a value we accepted. */
static int check_size(const char *field, const char *value, size_t max_chars, size_t max_bytes,
                      vapi_failure_t *f) {
    size_t len = strlen(value);
    char num[24];
    if (!valid_utf8(value, len))
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "invalid_utf8",
                         "The field {0} is not valid UTF-8.", field, NULL);
    if (utf8_chars(value) > max_chars) {
        snprintf(num, sizeof(num), "%zu", max_chars);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "value_too_long",
                         "The field {0} must be at most {1} characters long.", field, num, NULL);
    }
    if (len > max_bytes) {
        snprintf(num, sizeof(num), "%zu", max_bytes);
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "value_too_long",
                         "The field {0} must be at most {1} bytes long.", field, num, NULL);
    }
    return C_OK;
}

/* Names are shown in lists and used for duplicate checks, so a blank name or one with control
 * characters (terminal escapes, newlines) is refused; surrounding spaces are kept as sent. */
int check_name(const char *field, const char *value, size_t max_chars, vapi_failure_t *f) {
    if (!value)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "field_required",
                         "The field {0} is required.", field, NULL);
    if (check_size(field, value, max_chars, NAME_MAX_BYTES - 1, f) != C_OK) return C_ERR;
    bool blank = true;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return vapi_fail(f, VAPI_INVALID_ARGUMENT, "control_characters",
                             "The field {0} must not contain control characters.", field, NULL);
        if (*p != ' ') blank = false;
    }
    if (blank)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "empty_name",
                         "The field {0} must not be empty.", field, NULL);
    return C_OK;
}

int check_text(const char *field, const char *value, size_t max_chars, vapi_failure_t *f) {
    if (!value) return C_OK;
    return check_size(field, value, max_chars, DESC_MAX_BYTES - 1, f);
}

/* Progress is a percentage that only moves forward (vsphere-api.md section 0, item 3). */
int check_progress(const char *field, int64_t value, int current, vapi_failure_t *f) {
    char v[24], c[24];
    snprintf(v, sizeof(v), "%lld", (long long)value);
    snprintf(c, sizeof(c), "%d", current);
    if (value < 0 || value > 100)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "progress_out_of_range",
                         "The field {0} has an invalid value {1}; it must be between 0 and 100.",
                         field, v, NULL);
    if (value < current)
        return vapi_fail(f, VAPI_INVALID_ARGUMENT, "progress_decreased",
                         "The field {0} has the value {1}, lower than the current progress {2}.",
                         field, v, c, NULL);
    return C_OK;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Floor division, so instants before 1970 still get a time of day in 0..86399999. */
static int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Times are kept as epoch milliseconds and shown in UTC with milliseconds, as vCenter does. */
void format_iso8601(int64_t ms, char *buf, size_t size) {
    if (!buf || size == 0) return;
    const int64_t day_ms = 86400000;
    int64_t days = floor_div(ms, day_ms);
    int64_t rem = ms % day_ms; /* not ms - days * day_ms: that overflows near INT64_MIN */
    if (rem < 0) rem += day_ms;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, size, "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
             (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
             (int)(rem % 1000));
}

/* Reads exactly n decimal digits. */
static bool read_digits(const char *s, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static unsigned days_in_month(int y, int m) {
    static const unsigned char DAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return DAYS[m - 1] + (m == 2 && leap);
}

/* Accepts "YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z" (UTC only); fractions beyond milliseconds are
 * dropped, not rounded, so formatting the result gives back the same millisecond. */
int parse_iso8601(const char *s, int64_t *ms) {
    int y, mo, d, h, mi, sec, frac_ms = 0;
    if (!s || strnlen(s, 20) < 20) return C_ERR;
    if (!read_digits(s, 4, &y) || s[4] != '-' || !read_digits(s + 5, 2, &mo) || s[7] != '-' ||
        !read_digits(s + 8, 2, &d) || s[10] != 'T' || !read_digits(s + 11, 2, &h) ||
        s[13] != ':' || !read_digits(s + 14, 2, &mi) || s[16] != ':' ||
        !read_digits(s + 17, 2, &sec))
        return C_ERR;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            if (n >= 9) return C_ERR;
            if (n < 3) frac_ms = frac_ms * 10 + (*p - '0');
        }
        if (n == 0) return C_ERR;
        for (; n < 3; n++) frac_ms *= 10;
    }
    if (p[0] != 'Z' || p[1] != '\0') return C_ERR;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 59)
        return C_ERR;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t v = ((days * 24 + h) * 60 + mi) * 60 + sec;
    if (ms) *ms = v * 1000 + frac_ms;
    return C_OK;
}
