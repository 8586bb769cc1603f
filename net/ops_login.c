/* net/ops_login.c: login tokens (POST/GET/DELETE /api/session and /rest/com/vmware/cis/session).
 * Passwords are checked by net/login.c (worker threads, backoff) against the users file; the
 * token itself lives in Redis (hashed) so every instance accepts it. */
#include <json-c/json.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/validate.h"
#include "net/api.h"

static void fail_login(call_t *c, const char *why) {
    vapi_failure_t f;
    vapi_fail(&f, VAPI_UNAUTHENTICATED, "vapi.security.authentication.invalid",
              "Authentication failed: {0}.", why, NULL);
    call_fail(c, &f);
}

/* The cookie is set for /rest callers unless they ask for header-only authentication
 * (govmomi always does); /api callers use the header. Scripts cannot read it (HttpOnly),
 * other sites cannot make browsers send it (SameSite=Strict; net/routes.c also wants JSON on
 * state-changing requests that carry only the cookie), and over HTTPS it never leaves in clear
 * (Secure). */
static void on_login_recorded(void *arg, store_status_t st, const char *detail) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, detail); return; }
    const char *header_only = http_header(c->req, "vmware-use-header-authn");
    char cookie[512] = "";
    if (c->flavour == FLAVOUR_REST && !(header_only && strcasecmp(header_only, "true") == 0))
        snprintf(cookie, sizeof(cookie),
                 "Set-Cookie: vmware-api-session-id=%s; Path=/; HttpOnly; SameSite=Strict%s\r\n",
                 c->token, c->app->cfg.tls_cert[0] ? "; Secure" : "");
    call_reply_extra_headers(c, json_object_new_string(c->token), cookie[0] ? cookie : NULL);
}

/* The password check (net/login.c, off the loop) answered; the user name waits in c->aux. */
static void on_password_checked(void *arg, login_result_t result, uint32_t privs) {
    call_t *c = arg;
    vapi_failure_t f;
    switch (result) {
    case LOGIN_OK:
        break;
    case LOGIN_DENIED:
        fail_login(c, "the user name or password is incorrect");
        return;
    case LOGIN_BUSY:
        vapi_fail(&f, VAPI_SERVICE_UNAVAILABLE, "service_unavailable",
                  "Too many logins are being checked at the moment. Retry the login shortly.",
                  NULL);
        call_fail_quiet(c, &f); /* net/login.c logs these once a second */
        return;
    case LOGIN_STOPPING:
    default:
        vapi_fail(&f, VAPI_SERVICE_UNAVAILABLE, "service_unavailable",
                  "The server is stopping. Retry the login.", NULL);
        call_fail_quiet(c, &f); /* net/login.c logs how many at stop */
        return;
    }
    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof(raw)) != 1) { call_fail_store(c, ST_INTERNAL, NULL); return; }
    for (size_t i = 0; i < sizeof(raw); i++) snprintf(c->token + 2 * i, 3, "%02x", raw[i]);
    store_login(c->app->store, c->token, c->aux, privs, on_login_recorded, c);
}

void op_login_create(call_t *c) {
    char name[USER_MAX], password[512];
    if (basic_auth_decode(http_header(c->req, "Authorization"), name, sizeof(name), password,
                          sizeof(password)) != C_OK) {
        fail_login(c, "send the user name and password with HTTP Basic authentication");
        return;
    }
    copy_str(c->aux, sizeof(c->aux), name); /* USER_MAX < sizeof(aux): never cut */
    login_check(c->app->logins, c->req->peer, name, password, on_password_checked, c);
    explicit_bzero(password, sizeof(password));
}

static void on_login_info(void *arg, store_status_t st, const char *user, int64_t created_ms,
                          int64_t last_ms) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    char created[40], last[40];
    format_iso8601(created_ms, created, sizeof(created));
    format_iso8601(last_ms, last, sizeof(last));
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "user", json_object_new_string(user));
    json_object_object_add(o, "created_time", json_object_new_string(created));
    json_object_object_add(o, "last_accessed_time", json_object_new_string(last));
    call_reply(c, o);
}

void op_login_get(call_t *c) { store_login_info(c->app->store, &c->auth, on_login_info, c); }

void op_login_delete(call_t *c) { store_logout(c->app->store, &c->auth, call_on_void, c); }
