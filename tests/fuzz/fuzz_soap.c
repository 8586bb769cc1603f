/* tests/fuzz/fuzz_soap.c: libFuzzer target for the /sdk SOAP parser (net/soap.c's pure layer:
 * soap_parse with libxml2, the PropertyCollector over the fixed inventory, the encoders),
 * driven alone as tests/unit/test_soap.c drives it; the glue's dependencies (HTTP, users,
 * store) are stubs that abort if ever called.
 *
 * The input is a request body. Checked, besides what ASan and UBSan see: every answer the
 * server would send for it (the method's answer, the RetrievePropertiesEx result with and
 * without a login, or the SOAP fault) is well-formed XML whose length is what the encoder
 * said; a parsed request's strings are terminated within their buffers and its spec pools
 * within their bounds; soap_request_wipe clears the password; the debug-log masking and the
 * cookie reader stay within their buffers. */
#include <libxml/parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/login.h"
#include "net/soap.h"

/* ---------- what soap.o calls outside the pure layer: never reached here ---------- */

const char *http_header(const http_request_t *req, const char *name) {
    (void)req;
    (void)name;
    abort();
}

void http_respond(http_request_t *req, int status, const char *content_type, const char *body,
                  size_t body_len, const char *extra_headers) {
    (void)req, (void)status, (void)content_type, (void)body, (void)body_len, (void)extra_headers;
    abort();
}

void login_check(login_checker_t *lc, const char *peer, const char *name, const char *password,
                 login_cb cb, void *arg) {
    (void)lc, (void)peer, (void)name, (void)password, (void)cb, (void)arg;
    abort();
}

void store_login(store_t *st, const char *token, const char *user, uint32_t privs,
                 store_done_cb cb, void *arg) {
    (void)st, (void)token, (void)user, (void)privs, (void)cb, (void)arg;
    abort();
}

void store_login_info(store_t *st, const store_auth_t *auth, store_login_cb cb, void *arg) {
    (void)st, (void)auth, (void)cb, (void)arg;
    abort();
}

void store_logout(store_t *st, const store_auth_t *auth, store_done_cb cb, void *arg) {
    (void)st, (void)auth, (void)cb, (void)arg;
    abort();
}

/* ---------- checks ---------- */

static void die(const char *what, const char *doc, size_t len) {
    fprintf(stderr, "\nsoap fuzz invariant broken: %s\n", what);
    if (doc) fprintf(stderr, "--- document (%zu bytes) ---\n%.*s\n---\n", len, (int)(len > 4096 ? 4096 : len), doc);
    abort();
}

static void quiet(void *ctx, const char *msg, ...) {
    (void)ctx;
    (void)msg;
}

/* A document we send must parse with libxml2's defaults (no recovery) and be exactly len
 * bytes. Takes ownership of doc. */
static void check_doc(char *doc, size_t len, const char *what) {
    if (!doc) die(what, NULL, 0); /* only on out of memory, which the fuzzer does not cause */
    if (strlen(doc) != len) die("an encoder's length is not the document's", doc, len);
    xmlDocPtr d = xmlReadMemory(doc, (int)len, "answer.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d) die(what, doc, len);
    xmlFreeDoc(d);
    free(doc);
}

static void check_fault(const soap_fault_t *f) {
    size_t len = 0;
    if (!memchr(f->code, 0, sizeof(f->code)) || !memchr(f->type, 0, sizeof(f->type)) ||
        !memchr(f->message, 0, sizeof(f->message)) || !memchr(f->detail, 0, sizeof(f->detail)))
        die("an unterminated fault field", NULL, 0);
    if (!f->type[0] || !f->message[0]) die("a fault without type or message", NULL, 0);
    check_doc(soap_encode_fault(f, &len), len, "the fault is not well-formed XML");
}

static bool terminated(const char *s, size_t size) { return memchr(s, '\0', size) != NULL; }

static void check_request(const soap_request_t *r) {
    if (!terminated(r->method_name, sizeof(r->method_name)) || !r->method_name[0])
        die("a request without method name", NULL, 0);
    if (!terminated(r->user_name, sizeof(r->user_name)) || !terminated(r->password, sizeof(r->password)) ||
        !terminated(r->locale, sizeof(r->locale)) || !terminated(r->this_ref.type, SOAP_NAME_MAX) ||
        !terminated(r->this_ref.value, SOAP_VALUE_MAX))
        die("an unterminated request field", NULL, 0);
    if (r->nfilters > SOAP_MAX_FILTERS || r->nprops > SOAP_MAX_PROPSPECS || r->npaths > SOAP_MAX_PATHS ||
        r->nobjs > SOAP_MAX_OBJSPECS || r->nsels > SOAP_MAX_SELSPECS || r->nselrefs > SOAP_MAX_SELREFS)
        die("a spec pool over its bound", NULL, 0);
    for (size_t i = 0; i < r->nfilters; i++) {
        const soap_filter_t *fl = &r->filters[i];
        if ((size_t)fl->first_prop + fl->nprop > r->nprops || (size_t)fl->first_obj + fl->nobj > r->nobjs ||
            (size_t)fl->first_selspec + fl->nselspec > r->nsels)
            die("a filter points outside the pools", NULL, 0);
    }
    for (size_t i = 0; i < r->nprops; i++)
        if ((size_t)r->props[i].first_path + r->props[i].npaths > r->npaths) die("a propSet points outside the paths", NULL, 0);
    for (size_t i = 0; i < r->nobjs; i++)
        if ((size_t)r->objs[i].first_sel + r->objs[i].nsel > r->nselrefs) die("an objectSet points outside the selections", NULL, 0);
    for (size_t i = 0; i < r->nsels; i++)
        if ((size_t)r->sels[i].first_sel + r->sels[i].nsel > r->nselrefs) die("a selectSet points outside the selections", NULL, 0);
    for (size_t i = 0; i < r->nselrefs; i++)
        if (r->selrefs[i] >= r->nsels) die("a selection reference outside the selection specs", NULL, 0);
}

static soap_request_t *req;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    req = malloc(sizeof(*req));
    xmlInitParser();
    xmlSetGenericErrorFunc(NULL, quiet);
    return req ? 0 : 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *body = (const char *)data;
    soap_fault_t f;
    memset(&f, 0, sizeof(f));
    static const soap_session_t session = {
        .key = "0a1b2c3d-0000-4000-8000-000000000000", .user = "admin", .locale = "en_US",
        .login_ms = 1700000000000LL, .last_active_ms = 1700000060000LL};
    soap_inventory_t inv;
    memset(&inv, 0, sizeof(inv));
    snprintf(inv.datacenter, sizeof(inv.datacenter), "DC0");
    snprintf(inv.datastore, sizeof(inv.datastore), "storage");
    snprintf(inv.ds_url, sizeof(inv.ds_url), "ds:///srv/a&b/");
    inv.capacity = 1000000;
    inv.free_space = 400000;
    soap_instance_uuid("usd:", inv.instance_uuid);
    inv.now_ms = 1700000000000LL;

    if (soap_parse(body, size, req, &f) != C_OK) {
        check_fault(&f);
    } else {
        check_request(req);
        size_t len = 0;
        switch (req->method) {
        case SOAP_M_RETRIEVE_SERVICE_CONTENT:
            check_doc(soap_encode_service_content(&inv, &len), len, "ServiceContent is not well-formed");
            break;
        case SOAP_M_LOGIN: {
            soap_session_t s = session;
            snprintf(s.user, sizeof(s.user), "%s", req->user_name);
            snprintf(s.locale, sizeof(s.locale), "%s", req->locale);
            check_doc(soap_encode_login(&s, &len), len, "LoginResponse is not well-formed");
            break;
        }
        case SOAP_M_LOGOUT:
            check_doc(soap_encode_void(req->method_name, &len), len, "LogoutResponse is not well-formed");
            break;
        case SOAP_M_CURRENT_TIME:
            check_doc(soap_encode_current_time(inv.now_ms, &len), len, "CurrentTime is not well-formed");
            break;
        case SOAP_M_RETRIEVE_PROPERTIES:
        case SOAP_M_RETRIEVE_PROPERTIES_EX:
            for (int logged_in = 0; logged_in <= 1; logged_in++) {
                char *doc = NULL;
                inv.session = logged_in ? &session : NULL;
                memset(&f, 0, sizeof(f));
                if (soap_retrieve(req, &inv, &doc, &len, &f) == C_OK)
                    check_doc(doc, len, "the RetrieveProperties answer is not well-formed");
                else
                    check_fault(&f);
            }
            break;
        case SOAP_M_UNKNOWN:
        default:
            soap_fault_set(&f, "NotImplemented", NULL, "The method %s is not implemented by this server.",
                           req->method_name);
            check_fault(&f);
            break;
        }
        soap_request_wipe(req);
        for (size_t i = 0; i < sizeof(req->password); i++)
            if (req->password[i]) die("soap_request_wipe left password bytes", NULL, 0);
    }

    /* The debug log's masking, into a buffer of a size the input chooses, and the cookie reader
     * on the input as a header value. */
    size_t cap = size > 0 ? 1 + data[0] * 8u : 1;
    char *masked = malloc(cap);
    soap_mask_password(body, size, masked, cap);
    if (!memchr(masked, '\0', cap)) die("soap_mask_password left its output unterminated", NULL, 0);
    free(masked);
    char *cookie = malloc(size + 1);
    memcpy(cookie, data, size);
    cookie[size] = '\0';
    char token[SOAP_TOKEN_MAX];
    memset(token, 'Z', sizeof(token));
    if (soap_cookie_token(cookie, token, sizeof(token)) && (!token[0] || strlen(token) >= sizeof(token) || strchr(token, ';')))
        die("soap_cookie_token returned a bad token", NULL, 0);
    free(cookie);
    return 0;
}
