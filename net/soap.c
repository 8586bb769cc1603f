/* net/soap.c: the vim25 SOAP endpoint on /sdk (see net/soap.h). First the pure layer: a
 * growable output buffer with XML escaping, request parsing with libxml2 (DTDs refused), the
 * fixed inventory and a small PropertyCollector over it, and the encoders. Then the glue:
 * HTTP in, the password check (net/login.c) and the asynchronous store, HTTP out. */
#include "net/soap.h"

#include <event2/buffer.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/statvfs.h>
#include <sys/time.h>

#include "core/privilege.h"
#include "core/validate.h"
#include "net/log.h"

#define XSI_NS "http://www.w3.org/2001/XMLSchema-instance"
#define VIM_NS "urn:vim25"
#define COOKIE_NAME "vmware_soap_session"

/* ================================================================================================
 * Output buffer
 * ============================================================================================== */

typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_puts(sbuf_t *b, const char *s) { sb_add(b, s, strlen(s)); }

static void sb_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf_t *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) { b->oom = true; return; }
    if ((size_t)n < sizeof(tmp)) { sb_add(b, tmp, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { b->oom = true; return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb_add(b, big, (size_t)n);
    free(big);
}

/* XML-escapes text and attribute values; drops bytes XML 1.0 cannot carry, and turns bytes
 * that are not well-formed UTF-8 (and U+FFFE, U+FFFF) into '?': fault strings echo libxml2's
 * error messages, which quote the client's raw bytes, and an answer must always parse. */
static void sb_esc(sbuf_t *b, const char *s) {
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        unsigned char ch = (unsigned char)*s;
        size_t n = 1;
        switch (ch) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default:
            if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r') rep = "";
            if (ch >= 0x80) {
                n = utf8_seq_len(s, strnlen(s, 4));
                if (n == 0 || (n == 3 && ch == 0xEF && (unsigned char)s[1] == 0xBF &&
                               (unsigned char)s[2] >= 0xBE))
                    rep = "?";
                if (n == 0) n = 1;
            }
        }
        if (rep) {
            sb_add(b, run, (size_t)(s - run));
            sb_puts(b, rep);
            run = s + n;
        }
        s += n - 1;
    }
    sb_add(b, run, (size_t)(s - run));
}

/* <tag>escaped text</tag> */
static void sb_elem(sbuf_t *b, const char *tag, const char *text) {
    sb_printf(b, "<%s>", tag);
    sb_esc(b, text);
    sb_printf(b, "</%s>", tag);
}

static char *sb_finish(sbuf_t *b, size_t *len) {
    if (b->oom || !b->p) {
        free(b->p);
        *len = 0;
        return NULL;
    }
    *len = b->len;
    return b->p;
}

static const char ENVELOPE_HEAD[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<soapenv:Envelope xmlns:soapenc=\"http://schemas.xmlsoap.org/soap/encoding/\" "
    "xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "
    "xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
    "xmlns:xsi=\"" XSI_NS "\"><soapenv:Body>";
static const char ENVELOPE_TAIL[] = "</soapenv:Body></soapenv:Envelope>";

/* ================================================================================================
 * Faults
 * ============================================================================================== */

void soap_fault_set(soap_fault_t *f, const char *type, const char *detail_xml, const char *fmt,
                    ...) {
    copy_str(f->code, sizeof(f->code), "ServerFaultCode");
    copy_str(f->type, sizeof(f->type), type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
    copy_str(f->detail, sizeof(f->detail), detail_xml ? detail_xml : "");
}

/* A fault whose detail names one moref: <tag type="T">V</tag>. */
static void fault_with_ref(soap_fault_t *f, const char *type, const char *tag,
                           const soap_moref_t *ref, const char *extra_xml, const char *message) {
    sbuf_t b = {0};
    sb_printf(&b, "<%s type=\"", tag);
    sb_esc(&b, ref->type);
    sb_puts(&b, "\">");
    sb_esc(&b, ref->value);
    sb_printf(&b, "</%s>", tag);
    if (extra_xml) sb_puts(&b, extra_xml);
    soap_fault_set(f, type, (!b.oom && b.p && b.len < sizeof(f->detail)) ? b.p : "", "%s",
                   message);
    free(b.p);
}

char *soap_encode_fault(const soap_fault_t *f, size_t *len) {
    sbuf_t b = {0};
    sb_puts(&b, ENVELOPE_HEAD);
    sb_puts(&b, "<soapenv:Fault>");
    sb_elem(&b, "faultcode", f->code[0] ? f->code : "ServerFaultCode");
    sb_elem(&b, "faultstring", f->message);
    sb_puts(&b, "<detail>");
    if (f->type[0]) {
        sb_printf(&b, "<%sFault xmlns=\"" VIM_NS "\" xsi:type=\"%s\">", f->type, f->type);
        sb_puts(&b, f->detail);
        sb_printf(&b, "</%sFault>", f->type);
    }
    sb_puts(&b, "</detail></soapenv:Fault>");
    sb_puts(&b, ENVELOPE_TAIL);
    return sb_finish(&b, len);
}

/* ================================================================================================
 * Parsing
 * ============================================================================================== */

static const struct {
    const char *name;
    soap_method_t method;
    const char *this_type, *this_value; /* the _this a method must be called on */
} METHODS[] = {
    {"RetrieveServiceContent", SOAP_M_RETRIEVE_SERVICE_CONTENT, "ServiceInstance",
     "ServiceInstance"},
    {"CurrentTime", SOAP_M_CURRENT_TIME, "ServiceInstance", "ServiceInstance"},
    {"Login", SOAP_M_LOGIN, "SessionManager", "SessionManager"},
    {"Logout", SOAP_M_LOGOUT, "SessionManager", "SessionManager"},
    {"RetrieveProperties", SOAP_M_RETRIEVE_PROPERTIES, "PropertyCollector", "propertyCollector"},
    {"RetrievePropertiesEx", SOAP_M_RETRIEVE_PROPERTIES_EX, "PropertyCollector",
     "propertyCollector"},
};

static bool is_elem(const xmlNode *n, const char *name) {
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *first_elem(xmlNode *n) {
    for (; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE) return n;
    return NULL;
}

/* The text of a simple element (text and CDATA children; no child elements), optionally
 * trimmed. C_ERR when it holds elements or does not fit. */
static int node_text(const xmlNode *n, char *out, size_t size, bool trim) {
    size_t len = 0;
    out[0] = '\0';
    for (const xmlNode *c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
            size_t l = c->content ? strlen((const char *)c->content) : 0;
            if (len + l >= size) return C_ERR;
            memcpy(out + len, c->content, l);
            len += l;
            out[len] = '\0';
        } else if (c->type == XML_ELEMENT_NODE || c->type == XML_ENTITY_REF_NODE) {
            return C_ERR;
        }
    }
    if (trim) {
        size_t s = 0;
        while (out[s] == ' ' || out[s] == '\t' || out[s] == '\r' || out[s] == '\n') s++;
        while (len > s && strchr(" \t\r\n", out[len - 1])) len--;
        memmove(out, out + s, len - s);
        out[len - s] = '\0';
    }
    return C_OK;
}

static int field_text(const xmlNode *n, const char *what, char *out, size_t size, bool trim,
                      soap_fault_t *f) {
    if (node_text(n, out, size, trim) == C_OK) return C_OK;
    soap_fault_set(f, "InvalidRequest", NULL, "The value of %s is not a simple value or is too "
                   "long (at most %zu bytes).", what, size - 1);
    return C_ERR;
}

static int field_bool(const xmlNode *n, const char *what, bool *out, soap_fault_t *f) {
    char v[16];
    if (field_text(n, what, v, sizeof(v), true, f) != C_OK) return C_ERR;
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) { *out = true; return C_OK; }
    if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) { *out = false; return C_OK; }
    soap_fault_set(f, "InvalidRequest", NULL, "The value of %s is not a boolean.", what);
    return C_ERR;
}

/* <x type="T">V</x> */
static int field_moref(const xmlNode *n, const char *what, soap_moref_t *ref, soap_fault_t *f) {
    xmlChar *t = xmlGetNoNsProp(n, BAD_CAST "type");
    int rc = C_OK;
    if (!t || copy_str(ref->type, sizeof(ref->type), (const char *)t) != C_OK || !t[0]) {
        soap_fault_set(f, "InvalidRequest", NULL,
                       "The managed object reference %s has no (or a too long) type.", what);
        rc = C_ERR;
    }
    xmlFree(t);
    if (rc == C_OK) rc = field_text(n, what, ref->value, sizeof(ref->value), true, f);
    return rc;
}

/* The local part of the xsi:type attribute ("TraversalSpec"), or "". */
static void xsi_type(const xmlNode *n, char *out, size_t size) {
    out[0] = '\0';
    xmlChar *t = xmlGetNsProp(n, BAD_CAST "type", BAD_CAST XSI_NS);
    if (!t) return;
    const char *s = strchr((const char *)t, ':');
    copy_str(out, size, s ? s + 1 : (const char *)t);
    xmlFree(t);
}

static int too_many(soap_fault_t *f, const char *what) {
    soap_fault_set(f, "InvalidRequest", NULL, "The request has too many %s.", what);
    return C_ERR;
}

/* The scalar fields of one SelectionSpec / TraversalSpec element. */
static int parse_selspec_fields(const xmlNode *n, soap_selspec_t *s, soap_fault_t *f) {
    char xt[64];
    xsi_type(n, xt, sizeof(xt));
    memset(s, 0, sizeof(*s));
    for (const xmlNode *c = first_elem(n->children); c; c = first_elem(c->next)) {
        if (is_elem(c, "name")) {
            if (field_text(c, "selectSet.name", s->name, sizeof(s->name), true, f)) return C_ERR;
        } else if (is_elem(c, "type")) {
            if (field_text(c, "selectSet.type", s->type, sizeof(s->type), true, f)) return C_ERR;
        } else if (is_elem(c, "path")) {
            if (field_text(c, "selectSet.path", s->path, sizeof(s->path), true, f)) return C_ERR;
        } else if (is_elem(c, "skip")) {
            if (field_bool(c, "selectSet.skip", &s->skip, f)) return C_ERR;
        }
    }
    s->traversal = strcmp(xt, "TraversalSpec") == 0 || s->path[0] || s->type[0];
    if (s->traversal && (!s->type[0] || !s->path[0])) {
        soap_fault_set(f, "InvalidArgument", "<invalidProperty>selectSet</invalidProperty>",
                       "A TraversalSpec needs a type and a path.");
        return C_ERR;
    }
    if (!s->traversal && !s->name[0]) {
        soap_fault_set(f, "InvalidArgument", "<invalidProperty>selectSet</invalidProperty>",
                       "A SelectionSpec needs a name.");
        return C_ERR;
    }
    return C_OK;
}

/* The selectSet children of `parent`: their specs get contiguous references
 * selrefs[*first .. *first + *n), then each one's own children, depth first. */
static int parse_selections(soap_request_t *r, const xmlNode *parent, uint16_t *first,
                            uint16_t *n, int depth, soap_fault_t *f) {
    if (depth > SOAP_MAX_DEPTH) return too_many(f, "nested selectSet levels");
    size_t k = 0;
    for (const xmlNode *c = first_elem(parent->children); c; c = first_elem(c->next))
        if (is_elem(c, "selectSet")) k++;
    if (r->nselrefs + k > SOAP_MAX_SELREFS) return too_many(f, "selection specs");
    *first = (uint16_t)r->nselrefs;
    *n = (uint16_t)k;
    r->nselrefs += k;
    size_t i = 0;
    for (const xmlNode *c = first_elem(parent->children); c; c = first_elem(c->next)) {
        if (!is_elem(c, "selectSet")) continue;
        if (r->nsels >= SOAP_MAX_SELSPECS) return too_many(f, "selection specs");
        size_t idx = r->nsels++;
        if (parse_selspec_fields(c, &r->sels[idx], f) != C_OK) return C_ERR;
        r->selrefs[*first + i++] = (uint16_t)idx;
    }
    i = 0;
    for (const xmlNode *c = first_elem(parent->children); c; c = first_elem(c->next)) {
        if (!is_elem(c, "selectSet")) continue;
        soap_selspec_t *s = &r->sels[r->selrefs[*first + i++]];
        if (parse_selections(r, c, &s->first_sel, &s->nsel, depth + 1, f) != C_OK) return C_ERR;
    }
    return C_OK;
}

static int parse_propspec(soap_request_t *r, const xmlNode *n, soap_fault_t *f) {
    if (r->nprops >= SOAP_MAX_PROPSPECS) return too_many(f, "property specs");
    soap_propspec_t *p = &r->props[r->nprops++];
    memset(p, 0, sizeof(*p));
    p->first_path = (uint16_t)r->npaths;
    for (const xmlNode *c = first_elem(n->children); c; c = first_elem(c->next)) {
        if (is_elem(c, "type")) {
            if (field_text(c, "propSet.type", p->type, sizeof(p->type), true, f)) return C_ERR;
        } else if (is_elem(c, "all")) {
            if (field_bool(c, "propSet.all", &p->all, f)) return C_ERR;
        } else if (is_elem(c, "pathSet")) {
            if (r->npaths >= SOAP_MAX_PATHS) return too_many(f, "property paths");
            if (field_text(c, "propSet.pathSet", r->paths[r->npaths], SOAP_NAME_MAX, true, f))
                return C_ERR;
            r->npaths++;
            p->npaths++;
        }
    }
    if (!p->type[0]) {
        soap_fault_set(f, "InvalidArgument", "<invalidProperty>type</invalidProperty>",
                       "A PropertySpec needs a type.");
        return C_ERR;
    }
    return C_OK;
}

static int parse_objspec(soap_request_t *r, const xmlNode *n, soap_fault_t *f) {
    if (r->nobjs >= SOAP_MAX_OBJSPECS) return too_many(f, "object specs");
    soap_objspec_t *o = &r->objs[r->nobjs++];
    memset(o, 0, sizeof(*o));
    bool has_obj = false;
    for (const xmlNode *c = first_elem(n->children); c; c = first_elem(c->next)) {
        if (is_elem(c, "obj")) {
            if (field_moref(c, "objectSet.obj", &o->obj, f) != C_OK) return C_ERR;
            has_obj = true;
        } else if (is_elem(c, "skip")) {
            if (field_bool(c, "objectSet.skip", &o->skip, f) != C_OK) return C_ERR;
        }
    }
    if (!has_obj) {
        soap_fault_set(f, "InvalidArgument", "<invalidProperty>obj</invalidProperty>",
                       "An ObjectSpec needs an obj.");
        return C_ERR;
    }
    return parse_selections(r, n, &o->first_sel, &o->nsel, 1, f);
}

static int parse_specset(soap_request_t *r, const xmlNode *n, soap_fault_t *f) {
    if (r->nfilters >= SOAP_MAX_FILTERS) return too_many(f, "filter specs");
    soap_filter_t *flt = &r->filters[r->nfilters++];
    flt->first_prop = (uint16_t)r->nprops;
    flt->first_obj = (uint16_t)r->nobjs;
    flt->first_selspec = (uint16_t)r->nsels;
    for (const xmlNode *c = first_elem(n->children); c; c = first_elem(c->next)) {
        if (is_elem(c, "propSet")) {
            if (parse_propspec(r, c, f) != C_OK) return C_ERR;
        } else if (is_elem(c, "objectSet")) {
            if (parse_objspec(r, c, f) != C_OK) return C_ERR;
        }
    }
    flt->nprop = (uint16_t)(r->nprops - flt->first_prop);
    flt->nobj = (uint16_t)(r->nobjs - flt->first_obj);
    flt->nselspec = (uint16_t)(r->nsels - flt->first_selspec);
    return C_OK;
}

static int parse_args(soap_request_t *r, const xmlNode *m, soap_fault_t *f) {
    bool has_user = false, has_password = false;
    for (const xmlNode *c = first_elem(m->children); c; c = first_elem(c->next)) {
        if (is_elem(c, "_this")) {
            if (field_moref(c, "_this", &r->this_ref, f) != C_OK) return C_ERR;
            r->has_this = true;
        } else if (r->method == SOAP_M_LOGIN && is_elem(c, "userName")) {
            if (field_text(c, "userName", r->user_name, sizeof(r->user_name), false, f))
                return C_ERR;
            has_user = true;
        } else if (r->method == SOAP_M_LOGIN && is_elem(c, "password")) {
            if (field_text(c, "password", r->password, sizeof(r->password), false, f))
                return C_ERR;
            has_password = true;
        } else if (r->method == SOAP_M_LOGIN && is_elem(c, "locale")) {
            if (field_text(c, "locale", r->locale, sizeof(r->locale), true, f)) return C_ERR;
        } else if ((r->method == SOAP_M_RETRIEVE_PROPERTIES ||
                    r->method == SOAP_M_RETRIEVE_PROPERTIES_EX) && is_elem(c, "specSet")) {
            if (parse_specset(r, c, f) != C_OK) return C_ERR;
        }
    }
    if (r->method == SOAP_M_LOGIN && (!has_user || !has_password)) {
        soap_fault_set(f, "InvalidRequest", NULL, "Login needs userName and password.");
        return C_ERR;
    }
    if ((r->method == SOAP_M_RETRIEVE_PROPERTIES || r->method == SOAP_M_RETRIEVE_PROPERTIES_EX)
        && r->nfilters == 0) {
        soap_fault_set(f, "InvalidArgument", "<invalidProperty>specSet</invalidProperty>",
                       "%s needs at least one specSet.", r->method_name);
        return C_ERR;
    }
    return C_OK;
}

/* SAX hook: a DOCTYPE (internal or external subset) stops the parser at once. */
static void refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id) {
    (void)name;
    (void)external_id;
    (void)system_id;
    xmlParserCtxtPtr ctxt = ctx;
    if (ctxt->_private) *(bool *)ctxt->_private = true;
    xmlStopParser(ctxt);
}

/* libxml2 would print to stderr otherwise (NOERROR covers the parser, not every module). */
static void quiet_errors(void *ctx, const char *msg, ...) {
    (void)ctx;
    (void)msg;
}

int soap_parse(const char *body, size_t len, soap_request_t *r, soap_fault_t *f) {
    memset(r, 0, offsetof(soap_request_t, filters));
    r->nfilters = r->nprops = r->npaths = r->nobjs = r->nsels = r->nselrefs = 0;
    if (len == 0 || !body) {
        soap_fault_set(f, "InvalidRequest", NULL, "The request body is empty.");
        return C_ERR;
    }
    if (len > SOAP_MAX_BODY) {
        soap_fault_set(f, "InvalidRequest", NULL, "The request body is larger than %d bytes.",
                       SOAP_MAX_BODY);
        return C_ERR;
    }
    static bool initialized;
    if (!initialized) {
        xmlInitParser();
        xmlSetGenericErrorFunc(NULL, quiet_errors);
        initialized = true;
    }
    xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
    if (!ctxt) {
        soap_fault_set(f, "SystemError", NULL, "Out of memory.");
        return C_ERR;
    }
    bool dtd = false;
    ctxt->_private = &dtd;
    ctxt->sax->internalSubset = refuse_dtd;
    ctxt->sax->externalSubset = refuse_dtd;
    /* No XML_PARSE_NOENT (no entity substitution), no DTDLOAD/DTDATTR/XINCLUDE, no network,
     * no HUGE (libxml2's default size and depth limits stay on). */
    xmlDocPtr doc = xmlCtxtReadMemory(ctxt, body, (int)len, "soap.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    int rc = C_ERR;
    if (dtd || (doc && (doc->intSubset || doc->extSubset))) {
        soap_fault_set(f, "InvalidRequest", NULL,
                       "A SOAP message must not contain a document type declaration.");
        goto out;
    }
    if (!doc) {
        const xmlError *e = xmlCtxtGetLastError(ctxt);
        char msg[200] = "not well-formed";
        if (e && e->message) {
            copy_str(msg, sizeof(msg), e->message);
            size_t l = strlen(msg);
            while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' ')) msg[--l] = '\0';
        }
        soap_fault_set(f, "InvalidRequest", NULL, "Unable to parse the request (line %d): %s.",
                       e ? e->line : 0, msg);
        goto out;
    }
    xmlNode *env = xmlDocGetRootElement(doc);
    if (!is_elem(env, "Envelope")) {
        soap_fault_set(f, "InvalidRequest", NULL, "The request is not a SOAP envelope.");
        goto out;
    }
    xmlNode *bodyn = NULL;
    for (xmlNode *c = first_elem(env->children); c; c = first_elem(c->next))
        if (is_elem(c, "Body")) { bodyn = c; break; }
    xmlNode *m = bodyn ? first_elem(bodyn->children) : NULL;
    if (!m) {
        soap_fault_set(f, "InvalidRequest", NULL, "The SOAP envelope has no Body with a method.");
        goto out;
    }
    if (copy_str(r->method_name, sizeof(r->method_name), (const char *)m->name) != C_OK) {
        soap_fault_set(f, "InvalidRequest", NULL, "The method name is too long.");
        goto out;
    }
    r->method = SOAP_M_UNKNOWN;
    size_t mi = 0;
    for (; mi < ARRAY_LEN(METHODS); mi++)
        if (strcmp(METHODS[mi].name, r->method_name) == 0) { r->method = METHODS[mi].method; break; }
    if (r->method == SOAP_M_UNKNOWN) { rc = C_OK; goto out; }
    if (parse_args(r, m, f) != C_OK) goto out;
    if (r->has_this && (strcmp(r->this_ref.type, METHODS[mi].this_type) != 0 ||
                        strcmp(r->this_ref.value, METHODS[mi].this_value) != 0)) {
        fault_with_ref(f, "ManagedObjectNotFound", "obj", &r->this_ref, NULL,
                       "The object has already been deleted or has not been completely created");
        goto out;
    }
    rc = C_OK;
out:
    if (rc != C_OK) soap_request_wipe(r);
    if (doc) xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctxt);
    return rc;
}

void soap_request_wipe(soap_request_t *r) {
    volatile char *p = r->password;
    for (size_t i = 0; i < sizeof(r->password); i++) p[i] = 0;
}

/* ================================================================================================
 * Small helpers
 * ============================================================================================== */

static void uuid_from_digest(const unsigned char *d, char out[40]) {
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12],
             d[13], d[14], d[15]);
}

void soap_session_key(const char *token, char out[40]) {
    unsigned char d[SHA256_DIGEST_LENGTH];
    char seed[SOAP_TOKEN_MAX + 32];
    snprintf(seed, sizeof(seed), "soap-session-key:%s", token);
    SHA256((const unsigned char *)seed, strlen(seed), d);
    uuid_from_digest(d, out);
}

void soap_instance_uuid(const char *seed, char out[40]) {
    unsigned char d[SHA256_DIGEST_LENGTH];
    char s[256];
    snprintf(s, sizeof(s), "update-sessiond-instance:%s", seed ? seed : "");
    SHA256((const unsigned char *)s, strlen(s), d);
    d[6] = (unsigned char)((d[6] & 0x0f) | 0x50); /* shaped like a name-based UUID */
    d[8] = (unsigned char)((d[8] & 0x3f) | 0x80);
    uuid_from_digest(d, out);
}

static bool cookie_name_at(const char *cookie, const char *p) {
    if (p != cookie && p[-1] != ' ' && p[-1] != ';' && p[-1] != '\t') return false;
    return strncmp(p, COOKIE_NAME "=", sizeof(COOKIE_NAME)) == 0;
}

bool soap_cookie_token(const char *cookie, char *out, size_t size) {
    out[0] = '\0';
    for (const char *p = cookie; p && (p = strstr(p, COOKIE_NAME "=")) != NULL; p++) {
        if (!cookie_name_at(cookie, p)) continue;
        p += sizeof(COOKIE_NAME);
        size_t n = strcspn(p, ";");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        if (n >= 2 && p[0] == '"' && p[n - 1] == '"') { p++; n -= 2; }
        if (n == 0 || n >= size) return false;
        memcpy(out, p, n);
        out[n] = '\0';
        return true;
    }
    return false;
}

void soap_mask_password(const char *body, size_t len, char *out, size_t size) {
    if (size == 0) return;
    size_t o = 0, i = 0;
    while (i < len && o + 1 < size) {
        /* "<password" followed by '>' or attributes: copy the tag, mask up to "</" */
        if (body[i] == '<' && i + 9 < len && strncmp(body + i + 1, "password", 8) == 0 &&
            (body[i + 9] == '>' || body[i + 9] == ' ')) {
            const char *gt = memchr(body + i, '>', len - i);
            if (!gt) break;
            size_t tag = (size_t)(gt - (body + i)) + 1;
            for (size_t k = 0; k < tag && o + 1 < size; k++) out[o++] = body[i + k];
            i += tag;
            const char *end = NULL;
            for (size_t k = i; k + 1 < len; k++)
                if (body[k] == '<' && body[k + 1] == '/') { end = body + k; break; }
            const char *mask = "********";
            for (size_t k = 0; mask[k] && o + 1 < size; k++) out[o++] = mask[k];
            i = end ? (size_t)(end - body) : len;
            continue;
        }
        unsigned char ch = (unsigned char)body[i++];
        out[o++] = ch == '\n' || ch == '\r' || ch == '\t' ? ' ' : ch < 0x20 ? '.' : (char)ch;
    }
    out[o] = '\0';
}

/* ================================================================================================
 * Inventory
 * ============================================================================================== */

typedef enum { O_ROOT, O_DC, O_VMF, O_HOSTF, O_DSF, O_NETF, O_DS, O_SM, O_COUNT } obj_t;

static const struct {
    const char *type, *value, *name;
    int parent;
    bool entity;
} OBJS[O_COUNT] = {
    [O_ROOT] = {"Folder", "group-d1", "Datacenters", -1, true},
    [O_DC] = {"Datacenter", "datacenter-2", NULL, O_ROOT, true},
    [O_VMF] = {"Folder", "group-v3", "vm", O_DC, true},
    [O_HOSTF] = {"Folder", "group-h4", "host", O_DC, true},
    [O_DSF] = {"Folder", "group-s5", "datastore", O_DC, true},
    [O_NETF] = {"Folder", "group-n6", "network", O_DC, true},
    [O_DS] = {"Datastore", "datastore-1", NULL, O_DSF, true},
    [O_SM] = {"SessionManager", "SessionManager", NULL, -1, false},
};

static int obj_find(const soap_moref_t *ref) {
    for (int i = 0; i < O_COUNT; i++)
        if (strcmp(OBJS[i].type, ref->type) == 0 && strcmp(OBJS[i].value, ref->value) == 0)
            return i;
    return -1;
}

static const char *obj_name(const soap_inventory_t *inv, int o) {
    if (o == O_DC) return inv->datacenter;
    if (o == O_DS) return inv->datastore;
    return OBJS[o].name;
}

static bool is_a(int o, const char *type) {
    if (strcmp(OBJS[o].type, type) == 0) return true;
    if (strcmp(type, "ManagedObject") == 0) return true;
    return OBJS[o].entity && strcmp(type, "ManagedEntity") == 0;
}

/* The objects a reference-valued property points to (for traversal). */
static int obj_refs(int o, const char *path, int out[O_COUNT]) {
    int n = 0;
    if (strcmp(path, "parent") == 0) {
        if (OBJS[o].parent >= 0) out[n++] = OBJS[o].parent;
    } else if (strcmp(path, "childEntity") == 0) {
        if (o == O_ROOT) out[n++] = O_DC;
        if (o == O_DSF) out[n++] = O_DS;
    } else if (o == O_DC) {
        if (strcmp(path, "vmFolder") == 0) out[n++] = O_VMF;
        else if (strcmp(path, "hostFolder") == 0) out[n++] = O_HOSTF;
        else if (strcmp(path, "datastoreFolder") == 0) out[n++] = O_DSF;
        else if (strcmp(path, "networkFolder") == 0) out[n++] = O_NETF;
        else if (strcmp(path, "datastore") == 0) out[n++] = O_DS;
    }
    return n;
}

/* ---- property values ---- */

static void val_open(sbuf_t *b, const char *name, const char *xsitype) {
    sb_puts(b, "<propSet><name>");
    sb_esc(b, name);
    sb_printf(b, "</name><val xsi:type=\"%s\">", xsitype);
}

static void val_close(sbuf_t *b) { sb_puts(b, "</val></propSet>"); }

static void p_scalar(sbuf_t *b, const char *name, const char *xsitype, const char *v) {
    val_open(b, name, xsitype);
    sb_esc(b, v);
    val_close(b);
}

static void p_ref(sbuf_t *b, const char *name, int o) {
    sb_puts(b, "<propSet><name>");
    sb_esc(b, name);
    sb_printf(b, "</name><val xsi:type=\"ManagedObjectReference\" type=\"%s\">%s</val></propSet>",
              OBJS[o].type, OBJS[o].value);
}

static void p_refs(sbuf_t *b, const char *name, const int *objs, int n) {
    val_open(b, name, "ArrayOfManagedObjectReference");
    for (int i = 0; i < n; i++)
        sb_printf(b, "<ManagedObjectReference type=\"%s\">%s</ManagedObjectReference>",
                  OBJS[objs[i]].type, OBJS[objs[i]].value);
    val_close(b);
}

static void p_strings(sbuf_t *b, const char *name, const char *const *v) {
    val_open(b, name, "ArrayOfString");
    for (; *v; v++) sb_elem(b, "string", *v);
    val_close(b);
}

/* Datastore summary / info fields: name, xsd type, value. */
typedef struct {
    const char *field, *xsd;
} ds_field_t;

static const ds_field_t SUMMARY_FIELDS[] = {
    {"datastore", NULL}, {"name", "xsd:string"}, {"url", "xsd:string"},
    {"capacity", "xsd:long"}, {"freeSpace", "xsd:long"}, {"accessible", "xsd:boolean"},
    {"multipleHostAccess", "xsd:boolean"}, {"type", "xsd:string"},
    {"maintenanceMode", "xsd:string"},
};
static const ds_field_t INFO_FIELDS[] = {
    {"name", "xsd:string"}, {"url", "xsd:string"}, {"freeSpace", "xsd:long"},
    {"maxFileSize", "xsd:long"}, {"maxVirtualDiskCapacity", "xsd:long"},
    {"maxMemoryFileSize", "xsd:long"}, {"timestamp", "xsd:dateTime"},
};
static const ds_field_t CAPABILITY_FIELDS[] = {
    {"directoryHierarchySupported", "xsd:boolean"}, {"rawDiskMappingsSupported", "xsd:boolean"},
    {"perFileThinProvisioningSupported", "xsd:boolean"}, {"storageIORMSupported", "xsd:boolean"},
    {"nativeSnapshotSupported", "xsd:boolean"}, {"topLevelDirectoryCreateSupported", "xsd:boolean"},
    {"seSparseSupported", "xsd:boolean"},
};

static void ds_value(const soap_inventory_t *inv, const char *field, char *buf, size_t size) {
    if (strcmp(field, "name") == 0) copy_str(buf, size, inv->datastore);
    else if (strcmp(field, "url") == 0) copy_str(buf, size, inv->ds_url);
    else if (strcmp(field, "capacity") == 0 || strcmp(field, "maxFileSize") == 0 ||
             strcmp(field, "maxVirtualDiskCapacity") == 0 ||
             strcmp(field, "maxMemoryFileSize") == 0)
        snprintf(buf, size, "%llu", (unsigned long long)inv->capacity);
    else if (strcmp(field, "freeSpace") == 0)
        snprintf(buf, size, "%llu", (unsigned long long)inv->free_space);
    else if (strcmp(field, "accessible") == 0) copy_str(buf, size, "true");
    else if (strcmp(field, "type") == 0) copy_str(buf, size, "OTHER");
    else if (strcmp(field, "maintenanceMode") == 0) copy_str(buf, size, "normal");
    else if (strcmp(field, "timestamp") == 0) format_iso8601(inv->now_ms, buf, size);
    else if (strcmp(field, "directoryHierarchySupported") == 0 ||
             strcmp(field, "topLevelDirectoryCreateSupported") == 0)
        copy_str(buf, size, "true");
    else copy_str(buf, size, "false");
}

static const ds_field_t *ds_field(const ds_field_t *fields, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(fields[i].field, name) == 0) return &fields[i];
    return NULL;
}

/* A whole structure (summary/info/capability) or one of its fields ("summary.url"). */
static int p_ds_struct(sbuf_t *b, const soap_inventory_t *inv, const char *path,
                       const char *prop, const char *xsitype, const ds_field_t *fields,
                       size_t n) {
    size_t plen = strlen(prop);
    if (strncmp(path, prop, plen) != 0) return -1;
    char v[4200];
    if (path[plen] == '\0') {
        val_open(b, path, xsitype);
        for (size_t i = 0; i < n; i++) {
            if (!fields[i].xsd) {
                sb_printf(b, "<%s type=\"Datastore\">datastore-1</%s>", fields[i].field,
                          fields[i].field);
                continue;
            }
            ds_value(inv, fields[i].field, v, sizeof(v));
            sb_elem(b, fields[i].field, v);
        }
        val_close(b);
        return 1;
    }
    if (path[plen] != '.') return -1;
    const ds_field_t *fd = ds_field(fields, n, path + plen + 1);
    if (!fd) return -1;
    if (!fd->xsd) { p_ref(b, path, O_DS); return 1; }
    ds_value(inv, fd->field, v, sizeof(v));
    p_scalar(b, path, fd->xsd, v);
    return 1;
}

static void p_user_session(sbuf_t *b, const soap_session_t *s) {
    char login[40], last[40];
    format_iso8601(s->login_ms, login, sizeof(login));
    format_iso8601(s->last_active_ms, last, sizeof(last));
    sb_elem(b, "key", s->key);
    sb_elem(b, "userName", s->user);
    sb_elem(b, "fullName", s->user);
    sb_elem(b, "loginTime", login);
    sb_elem(b, "lastActiveTime", last);
    sb_elem(b, "locale", s->locale[0] ? s->locale : "en_US");
    sb_elem(b, "messageLocale", s->locale[0] ? s->locale : "en_US");
    sb_puts(b, "<extensionSession>false</extensionSession>");
}

/* Valid vSphere properties that this inventory leaves unset (they read as absent). */
static const char *const UNSET_PROPS[] = {
    "customValue", "declaredAlarmState", "disabledMethod", "effectiveRole", "permission",
    "recentTask", "tag", "triggeredAlarmState", "value", "availableField", "configIssue",
    "alarmActionsEnabled", "browser", "iormConfiguration", "configuration", "namespace",
    "sessionList", "supportedLocaleList", "parentVApp", "resourcePool", NULL,
};

static const char *const FOLDER_PROPS[] = {"name", "parent", "childEntity", "childType",
                                           "overallStatus", "configStatus", NULL};
static const char *const DC_PROPS[] = {"name", "parent", "vmFolder", "hostFolder",
                                       "datastoreFolder", "networkFolder", "datastore",
                                       "network", "overallStatus", "configStatus", NULL};
static const char *const DS_PROPS[] = {"name", "parent", "summary", "info", "capability",
                                       "host", "vm", "overallStatus", "configStatus", NULL};
static const char *const SM_PROPS[] = {"currentSession", "defaultLocale", "messageLocale", NULL};

static const char *const *all_props(int o) {
    if (o == O_DC) return DC_PROPS;
    if (o == O_DS) return DS_PROPS;
    if (o == O_SM) return SM_PROPS;
    return FOLDER_PROPS;
}

/* Writes one property: 1 written, 0 unset, -1 not a property of this object. */
static int write_prop(sbuf_t *b, const soap_inventory_t *inv, int o, const char *path) {
    if (o == O_SM) {
        if (strcmp(path, "currentSession") == 0) {
            if (!inv->session) return 0;
            val_open(b, path, "UserSession");
            p_user_session(b, inv->session);
            val_close(b);
            return 1;
        }
        if (strcmp(path, "defaultLocale") == 0 || strcmp(path, "messageLocale") == 0) {
            p_scalar(b, path, "xsd:string", "en_US");
            return 1;
        }
    } else {
        if (strcmp(path, "name") == 0) {
            p_scalar(b, path, "xsd:string", obj_name(inv, o));
            return 1;
        }
        if (strcmp(path, "parent") == 0) {
            if (OBJS[o].parent < 0) return 0;
            p_ref(b, path, OBJS[o].parent);
            return 1;
        }
        if (strcmp(path, "overallStatus") == 0 || strcmp(path, "configStatus") == 0) {
            p_scalar(b, path, "ManagedEntityStatus", "green");
            return 1;
        }
        int refs[O_COUNT];
        if (strcmp(OBJS[o].type, "Folder") == 0) {
            if (strcmp(path, "childEntity") == 0) {
                p_refs(b, path, refs, obj_refs(o, path, refs));
                return 1;
            }
            if (strcmp(path, "childType") == 0) {
                static const char *const root[] = {"Folder", "Datacenter", NULL};
                static const char *const vm[] = {"Folder", "VirtualMachine", "VirtualApp", NULL};
                static const char *const host[] = {"Folder", "ComputeResource", NULL};
                static const char *const ds[] = {"Folder", "Datastore", "StoragePod", NULL};
                static const char *const net[] = {"Folder", "Network",
                                                  "DistributedVirtualSwitch", NULL};
                p_strings(b, path, o == O_ROOT ? root : o == O_VMF ? vm : o == O_HOSTF ? host
                                   : o == O_DSF ? ds : net);
                return 1;
            }
        } else if (o == O_DC) {
            if (strcmp(path, "vmFolder") == 0 || strcmp(path, "hostFolder") == 0 ||
                strcmp(path, "datastoreFolder") == 0 || strcmp(path, "networkFolder") == 0) {
                obj_refs(o, path, refs);
                p_ref(b, path, refs[0]);
                return 1;
            }
            if (strcmp(path, "datastore") == 0 || strcmp(path, "network") == 0) {
                p_refs(b, path, refs, obj_refs(o, path, refs));
                return 1;
            }
        } else if (o == O_DS) {
            int r;
            if ((r = p_ds_struct(b, inv, path, "summary", "DatastoreSummary", SUMMARY_FIELDS,
                                 ARRAY_LEN(SUMMARY_FIELDS))) >= 0)
                return r;
            if ((r = p_ds_struct(b, inv, path, "info", "DatastoreInfo", INFO_FIELDS,
                                 ARRAY_LEN(INFO_FIELDS))) >= 0)
                return r;
            if ((r = p_ds_struct(b, inv, path, "capability", "DatastoreCapability",
                                 CAPABILITY_FIELDS, ARRAY_LEN(CAPABILITY_FIELDS))) >= 0)
                return r;
            if (strcmp(path, "host") == 0) {
                val_open(b, path, "ArrayOfDatastoreHostMount");
                val_close(b);
                return 1;
            }
            if (strcmp(path, "vm") == 0) {
                p_refs(b, path, refs, 0);
                return 1;
            }
        }
    }
    for (const char *const *u = UNSET_PROPS; *u; u++)
        if (strcmp(*u, path) == 0) return 0;
    return -1;
}

/* ---- the PropertyCollector ---- */

typedef struct {
    bool included[O_COUNT];
    int order[O_COUNT];
    int n;
    bool visited[O_COUNT][SOAP_MAX_SELSPECS];
} collect_t;

static void include(collect_t *c, int o) {
    if (c->included[o]) return;
    c->included[o] = true;
    c->order[c->n++] = o;
}

/* A selection's TraversalSpec: itself, or the filter's TraversalSpec of that name. */
static int resolve(const soap_request_t *r, const soap_filter_t *flt, int idx) {
    const soap_selspec_t *s = &r->sels[idx];
    if (s->traversal) return idx;
    for (int j = flt->first_selspec; j < flt->first_selspec + flt->nselspec; j++)
        if (r->sels[j].traversal && strcmp(r->sels[j].name, s->name) == 0) return j;
    return -1;
}

static void walk(const soap_request_t *r, const soap_filter_t *flt, collect_t *c, int o,
                 uint16_t first, uint16_t n) {
    for (uint16_t k = 0; k < n; k++) {
        int si = resolve(r, flt, r->selrefs[first + k]);
        if (si < 0) continue;
        const soap_selspec_t *s = &r->sels[si];
        if (!is_a(o, s->type)) continue;
        int targets[O_COUNT];
        int nt = obj_refs(o, s->path, targets);
        for (int t = 0; t < nt; t++) {
            if (!s->skip) include(c, targets[t]);
            if (c->visited[targets[t]][si]) continue;
            c->visited[targets[t]][si] = true;
            walk(r, flt, c, targets[t], s->first_sel, s->nsel);
        }
    }
}

/* One ObjectContent (or nothing if no PropertySpec applies to the object). */
static void write_object(sbuf_t *b, const soap_request_t *r, const soap_inventory_t *inv,
                         int o, bool ex) {
    const char *paths[SOAP_MAX_PATHS + 16];
    size_t np = 0;
    bool match = false, all = false;
    for (size_t i = 0; i < r->nprops; i++) {
        const soap_propspec_t *p = &r->props[i];
        if (!is_a(o, p->type)) continue;
        match = true;
        if (p->all) all = true;
        for (uint16_t k = 0; k < p->npaths; k++) {
            const char *path = r->paths[p->first_path + k];
            bool dup = false;
            for (size_t j = 0; j < np && !dup; j++) dup = strcmp(paths[j], path) == 0;
            if (!dup && np < ARRAY_LEN(paths)) paths[np++] = path;
        }
    }
    if (!match) return;
    if (all) {
        for (const char *const *a = all_props(o); *a; a++) {
            bool dup = false;
            for (size_t j = 0; j < np && !dup; j++) dup = strcmp(paths[j], *a) == 0;
            if (!dup && np < ARRAY_LEN(paths)) paths[np++] = *a;
        }
    }
    sb_puts(b, ex ? "<objects>" : "<returnval>");
    sb_printf(b, "<obj type=\"%s\">%s</obj>", OBJS[o].type, OBJS[o].value);
    const char *missing[ARRAY_LEN(paths)];
    size_t nm = 0;
    for (size_t i = 0; i < np; i++)
        if (write_prop(b, inv, o, paths[i]) < 0) missing[nm++] = paths[i];
    for (size_t i = 0; i < nm; i++) {
        sb_puts(b, "<missingSet><path>");
        sb_esc(b, missing[i]);
        sb_puts(b, "</path><fault><fault xsi:type=\"InvalidProperty\"><name>");
        sb_esc(b, missing[i]);
        sb_puts(b, "</name></fault></fault></missingSet>");
    }
    sb_puts(b, ex ? "</objects>" : "</returnval>");
}

int soap_retrieve(const soap_request_t *r, const soap_inventory_t *inv, char **out,
                  size_t *len, soap_fault_t *f) {
    *out = NULL;
    *len = 0;
    /* Authentication first (as vCenter): without a login only the SessionManager reads. */
    if (!inv->session) {
        for (size_t i = 0; i < r->nobjs; i++) {
            if (obj_find(&r->objs[i].obj) == O_SM) continue;
            fault_with_ref(f, "NotAuthenticated", "object", &r->objs[i].obj,
                           "<privilegeId>System.View</privilegeId>",
                           "The session is not authenticated.");
            return C_ERR;
        }
    }
    collect_t c;
    memset(&c, 0, sizeof(c));
    for (size_t fi = 0; fi < r->nfilters; fi++) {
        const soap_filter_t *flt = &r->filters[fi];
        for (uint16_t k = 0; k < flt->nobj; k++) {
            const soap_objspec_t *os = &r->objs[flt->first_obj + k];
            int o = obj_find(&os->obj);
            if (o < 0) {
                fault_with_ref(f, "ManagedObjectNotFound", "obj", &os->obj, NULL,
                               "The object has already been deleted or has not been "
                               "completely created");
                return C_ERR;
            }
            if (!os->skip) include(&c, o);
            walk(r, flt, &c, o, os->first_sel, os->nsel);
        }
    }
    bool ex = r->method == SOAP_M_RETRIEVE_PROPERTIES_EX;
    const char *name = ex ? "RetrievePropertiesExResponse" : "RetrievePropertiesResponse";
    sbuf_t b = {0};
    sb_puts(&b, ENVELOPE_HEAD);
    sb_printf(&b, "<%s xmlns=\"" VIM_NS "\">", name);
    size_t mark = b.len;
    if (ex) sb_puts(&b, "<returnval>");
    size_t objs_at = b.len;
    for (int i = 0; i < c.n; i++) write_object(&b, r, inv, c.order[i], ex);
    if (ex) {
        if (b.len == objs_at && !b.oom) { /* nothing found: no returnval at all */
            b.len = mark;
            b.p[b.len] = '\0';
        } else {
            sb_puts(&b, "</returnval>");
        }
    }
    sb_printf(&b, "</%s>", name);
    sb_puts(&b, ENVELOPE_TAIL);
    *out = sb_finish(&b, len);
    if (!*out) {
        soap_fault_set(f, "SystemError", "<reason>out of memory</reason>", "Out of memory.");
        return C_ERR;
    }
    return C_OK;
}

/* ================================================================================================
 * Encoders
 * ============================================================================================== */

char *soap_encode_service_content(const soap_inventory_t *inv, size_t *len) {
    sbuf_t b = {0};
    sb_puts(&b, ENVELOPE_HEAD);
    sb_puts(&b, "<RetrieveServiceContentResponse xmlns=\"" VIM_NS "\"><returnval>"
                "<rootFolder type=\"Folder\">group-d1</rootFolder>"
                "<propertyCollector type=\"PropertyCollector\">propertyCollector"
                "</propertyCollector><about>"
                "<name>update-sessiond</name>"
                "<fullName>update-sessiond 7.0.3 (vSphere Content Library update sessions)"
                "</fullName>"
                "<vendor>update-sessiond</vendor>"
                "<version>7.0.3</version><build>0</build>"
                "<localeVersion>INTL</localeVersion><localeBuild>000</localeBuild>"
                "<osType>linux-x64</osType><productLineId>vpx</productLineId>"
                "<apiType>VirtualCenter</apiType><apiVersion>7.0.3.0</apiVersion>");
    sb_elem(&b, "instanceUuid", inv->instance_uuid);
    /* Managers this server does not implement are still named: govmomi dereferences some of
     * them while building helpers (find.NewFinder needs searchIndex); calls to them answer
     * NotImplemented. */
    sb_puts(&b, "</about>"
                "<setting type=\"OptionManager\">VpxSettings</setting>"
                "<userDirectory type=\"UserDirectory\">UserDirectory</userDirectory>"
                "<sessionManager type=\"SessionManager\">SessionManager</sessionManager>"
                "<authorizationManager type=\"AuthorizationManager\">AuthorizationManager"
                "</authorizationManager>"
                "<taskManager type=\"TaskManager\">TaskManager</taskManager>"
                "<eventManager type=\"EventManager\">EventManager</eventManager>"
                "<customFieldsManager type=\"CustomFieldsManager\">CustomFieldsManager"
                "</customFieldsManager>"
                "<searchIndex type=\"SearchIndex\">SearchIndex</searchIndex>"
                "<fileManager type=\"FileManager\">FileManager</fileManager>"
                "<virtualDiskManager type=\"VirtualDiskManager\">virtualDiskManager"
                "</virtualDiskManager>"
                "<ovfManager type=\"OvfManager\">OvfManager</ovfManager>"
                "<viewManager type=\"ViewManager\">ViewManager</viewManager>"
                "</returnval></RetrieveServiceContentResponse>");
    sb_puts(&b, ENVELOPE_TAIL);
    return sb_finish(&b, len);
}

char *soap_encode_login(const soap_session_t *s, size_t *len) {
    sbuf_t b = {0};
    sb_puts(&b, ENVELOPE_HEAD);
    sb_puts(&b, "<LoginResponse xmlns=\"" VIM_NS "\"><returnval>");
    p_user_session(&b, s);
    sb_puts(&b, "</returnval></LoginResponse>");
    sb_puts(&b, ENVELOPE_TAIL);
    return sb_finish(&b, len);
}

char *soap_encode_void(const char *method_name, size_t *len) {
    sbuf_t b = {0};
    sb_puts(&b, ENVELOPE_HEAD);
    sb_printf(&b, "<%sResponse xmlns=\"" VIM_NS "\"></%sResponse>", method_name, method_name);
    sb_puts(&b, ENVELOPE_TAIL);
    return sb_finish(&b, len);
}

char *soap_encode_current_time(int64_t now_ms, size_t *len) {
    char t[40];
    format_iso8601(now_ms, t, sizeof(t));
    sbuf_t b = {0};
    sb_puts(&b, ENVELOPE_HEAD);
    sb_printf(&b, "<CurrentTimeResponse xmlns=\"" VIM_NS "\"><returnval>%s</returnval>"
                  "</CurrentTimeResponse>", t);
    sb_puts(&b, ENVELOPE_TAIL);
    return sb_finish(&b, len);
}

char *soap_encode_service_versions(size_t *len) {
    sbuf_t b = {0};
    sb_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<namespaces version=\"1.0\">\n"
                " <namespace>\n  <name>urn:vim25</name>\n  <version>7.0.3.0</version>\n"
                "  <priorVersions>\n   <version>7.0</version>\n   <version>6.7</version>\n"
                "   <version>6.5</version>\n   <version>6.0</version>\n"
                "   <version>5.5</version>\n  </priorVersions>\n </namespace>\n</namespaces>\n");
    return sb_finish(&b, len);
}

/* ================================================================================================
 * Glue: HTTP, users, store
 * ============================================================================================== */

typedef struct {
    http_request_t *req;
    app_t *app;
    soap_request_t *r;
    char token[SOAP_TOKEN_MAX];
    store_auth_t auth;
    soap_session_t session;
} soap_call_t;

/* Requests and answers are logged (passwords masked) at --log-level debug. */
static int debug_on(void) { return log_enabled(LV_DEBUG); }

static int64_t wall_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void send_doc(http_request_t *req, int status, char *doc, size_t len,
                     const char *headers) {
    if (debug_on()) {
        char *flat = doc ? malloc(len + 1) : NULL;
        if (flat) soap_mask_password(doc, len, flat, len + 1);
        char code[12];
        snprintf(code, sizeof(code), "%d", status);
        log_kv(LV_DEBUG, "soap answer", "status", code, "body", flat ? flat : "(out of memory)",
               (const char *)NULL);
        free(flat);
    }
    if (!doc) {
        http_respond(req, 500, NULL, "", 0, NULL);
        return;
    }
    http_respond(req, status, "text/xml; charset=utf-8", doc, len, headers);
    free(doc);
}

static void send_fault(http_request_t *req, const soap_fault_t *f) {
    size_t len;
    char *doc = soap_encode_fault(f, &len);
    send_doc(req, 500, doc, len, NULL);
}

static void call_done(soap_call_t *c) {
    if (c->r) {
        soap_request_wipe(c->r);
        free(c->r);
    }
    memset(c->token, 0, sizeof(c->token));
    free(c);
}

static void fault_store(soap_call_t *c, store_status_t st) {
    soap_fault_t f;
    if (st == ST_UNAUTHENTICATED) {
        soap_moref_t sm = {"SessionManager", "SessionManager"};
        fault_with_ref(&f, "NotAuthenticated", "object", &sm,
                       "<privilegeId>System.View</privilegeId>",
                       "The session is not authenticated.");
    } else if (st == ST_UNAUTHORIZED) {
        soap_moref_t root = {"Folder", "group-d1"};
        fault_with_ref(&f, "NoPermission", "object", &root,
                       "<privilegeId>System.Read</privilegeId>",
                       "Permission to perform this operation was denied.");
    } else {
        soap_fault_set(&f, "SystemError", "<reason>session store unavailable</reason>",
                       "A general system error occurred: the session store is %s.",
                       st == ST_UNAVAILABLE || st == ST_UNREPLICATED ? "unavailable"
                                                                     : "failing");
    }
    send_fault(c->req, &f);
    call_done(c);
}

/* The inventory as this process sees it now. */
static void inventory(const app_t *app, soap_inventory_t *inv, const soap_session_t *s) {
    memset(inv, 0, sizeof(*inv));
    copy_str(inv->datacenter, sizeof(inv->datacenter), "DC0");
    copy_str(inv->datastore, sizeof(inv->datastore), "storage");
    char real[PATH_MAX];
    const char *dir = realpath(app->cfg.storage_dir, real) ? real : app->cfg.storage_dir;
    snprintf(inv->ds_url, sizeof(inv->ds_url), "ds://%s%s%s", dir[0] == '/' ? "" : "/", dir,
             dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/");
    struct statvfs sv;
    if (statvfs(app->cfg.storage_dir, &sv) == 0) {
        inv->capacity = (uint64_t)sv.f_blocks * sv.f_frsize;
        inv->free_space = (uint64_t)sv.f_bavail * sv.f_frsize;
    }
    soap_instance_uuid(app->cfg.key_prefix, inv->instance_uuid);
    inv->now_ms = wall_ms();
    inv->session = s;
}

static void on_login(void *arg, store_status_t st, const char *detail) {
    (void)detail;
    soap_call_t *c = arg;
    if (st != ST_OK) { fault_store(c, st); return; }
    soap_session_t s;
    memset(&s, 0, sizeof(s));
    soap_session_key(c->token, s.key);
    copy_str(s.user, sizeof(s.user), c->r->user_name);
    copy_str(s.locale, sizeof(s.locale), "en_US");
    s.login_ms = s.last_active_ms = wall_ms();
    char cookie[SOAP_TOKEN_MAX + 80];
    snprintf(cookie, sizeof(cookie), "Set-Cookie: " COOKIE_NAME "=\"%s\"; Path=/; HttpOnly\r\n",
             c->token);
    size_t len;
    char *doc = soap_encode_login(&s, &len);
    send_doc(c->req, 200, doc, len, cookie);
    memset(cookie, 0, sizeof(cookie));
    call_done(c);
}

/* The password check (net/login.c, off the loop) answered. */
static void on_password_checked(void *arg, login_result_t result, uint32_t privs) {
    soap_call_t *c = arg;
    soap_request_wipe(c->r); /* login_check kept its own copy of the password */
    soap_fault_t f;
    if (result == LOGIN_BUSY || result == LOGIN_STOPPING) {
        /* Not a vim25 fault a client could act on: HTTP 503 (govmomi reports the status). */
        bool busy = result == LOGIN_BUSY;
        soap_fault_set(&f, "SystemError",
                       busy ? "<reason>too many logins</reason>" : "<reason>stopping</reason>",
                       "%s", busy ? "Too many logins are being checked at the moment. "
                                    "Retry the login shortly."
                                  : "The server is stopping. Retry the login.");
        size_t len = 0;
        char *doc = soap_encode_fault(&f, &len);
        send_doc(c->req, 503, doc, len, "Retry-After: 1\r\n");
        call_done(c);
        return;
    }
    if (result != LOGIN_OK) {
        soap_fault_set(&f, "InvalidLogin", NULL,
                       "Cannot complete login due to an incorrect user name or password.");
        send_fault(c->req, &f);
        call_done(c);
        return;
    }
    unsigned char raw[24];
    if (RAND_bytes(raw, sizeof(raw)) != 1) { fault_store(c, ST_INTERNAL); return; }
    for (size_t i = 0; i < sizeof(raw); i++) snprintf(c->token + 2 * i, 3, "%02x", raw[i]);
    store_login(c->app->store, c->token, c->r->user_name, privs, on_login, c);
}

static void do_login(soap_call_t *c) {
    login_check(c->app->logins, c->req->peer, c->r->user_name, c->r->password,
                on_password_checked, c);
}

static void on_logout(void *arg, store_status_t st, const char *detail) {
    (void)detail;
    soap_call_t *c = arg;
    if (st != ST_OK) { fault_store(c, st); return; }
    size_t len;
    char *doc = soap_encode_void("Logout", &len);
    send_doc(c->req, 200, doc, len, NULL);
    call_done(c);
}

static void retrieve_now(soap_call_t *c, const soap_session_t *s) {
    soap_inventory_t inv;
    inventory(c->app, &inv, s);
    soap_fault_t f;
    char *doc;
    size_t len;
    if (soap_retrieve(c->r, &inv, &doc, &len, &f) != C_OK) send_fault(c->req, &f);
    else send_doc(c->req, 200, doc, len, NULL);
    call_done(c);
}

static void on_login_info(void *arg, store_status_t st, const char *user, int64_t created_ms,
                          int64_t last_ms) {
    soap_call_t *c = arg;
    if (st == ST_UNAUTHENTICATED) { retrieve_now(c, NULL); return; }
    if (st != ST_OK) { fault_store(c, st); return; }
    soap_session_t *s = &c->session;
    memset(s, 0, sizeof(*s));
    soap_session_key(c->token, s->key);
    copy_str(s->user, sizeof(s->user), user ? user : "");
    copy_str(s->locale, sizeof(s->locale), "en_US");
    s->login_ms = created_ms;
    s->last_active_ms = last_ms;
    retrieve_now(c, s);
}

bool soap_handles(const http_request_t *req) {
    const char *p = req->path;
    return p && strncmp(p, "/sdk", 4) == 0 && (p[4] == '\0' || p[4] == '/');
}

void soap_handle(http_request_t *req, app_t *app) {
    const char *path = req->path;
    size_t len;
    if (strcmp(path, "/sdk/vimServiceVersions.xml") == 0 ||
        strcmp(path, "/sdk/vimService.wsdl") == 0) {
        if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
            http_respond(req, 405, "text/plain", "method not allowed\n", 19,
                         "Allow: GET, HEAD\r\n");
            return;
        }
        if (path[5] == 'v' && strcmp(path + 5, "vimServiceVersions.xml") == 0) {
            char *doc = soap_encode_service_versions(&len);
            send_doc(req, 200, doc, len, NULL);
        } else {
            http_respond(req, 404, "text/plain", "not found\n", 10, NULL);
        }
        return;
    }
    if (strcmp(path, "/sdk") != 0 && strcmp(path, "/sdk/") != 0) {
        http_respond(req, 404, "text/plain", "not found\n", 10, NULL);
        return;
    }
    if (req->method != HTTP_POST) {
        http_respond(req, 405, "text/plain", "the SOAP endpoint takes POST\n", 29,
                     "Allow: POST\r\n");
        return;
    }

    soap_fault_t f;
    size_t blen = req->body ? evbuffer_get_length(req->body) : 0;
    const char *body = blen ? (const char *)evbuffer_pullup(req->body, -1) : NULL;
    if (debug_on()) {
        size_t cap = blen > 16384 ? 16384 : blen;
        char *masked = malloc(cap + 1);
        if (masked) {
            soap_mask_password(body ? body : "", cap, masked, cap + 1);
            log_kv(LV_DEBUG, "soap request", "client", req->peer, "body", masked,
                   (const char *)NULL);
            free(masked);
        }
    }
    soap_call_t *c = calloc(1, sizeof(*c));
    if (c) c->r = malloc(sizeof(*c->r));
    if (!c || !c->r) {
        free(c);
        soap_fault_set(&f, "SystemError", "<reason>out of memory</reason>", "Out of memory.");
        send_fault(req, &f);
        return;
    }
    c->req = req;
    c->app = app;
    if (blen > SOAP_MAX_BODY || soap_parse(body, blen, c->r, &f) != C_OK) {
        if (blen > SOAP_MAX_BODY)
            soap_fault_set(&f, "InvalidRequest", NULL,
                           "The request body is larger than %d bytes.", SOAP_MAX_BODY);
        send_fault(req, &f);
        call_done(c);
        return;
    }
    soap_cookie_token(http_header(req, "Cookie"), c->token, sizeof(c->token));
    c->auth.token = c->token;
    c->auth.required_privs = PRIV_NONE;

    switch (c->r->method) {
    case SOAP_M_RETRIEVE_SERVICE_CONTENT: {
        soap_inventory_t inv;
        inventory(app, &inv, NULL);
        char *doc = soap_encode_service_content(&inv, &len);
        send_doc(req, 200, doc, len, NULL);
        call_done(c);
        return;
    }
    case SOAP_M_CURRENT_TIME: {
        char *doc = soap_encode_current_time(wall_ms(), &len);
        send_doc(req, 200, doc, len, NULL);
        call_done(c);
        return;
    }
    case SOAP_M_LOGIN:
        memset(c->token, 0, sizeof(c->token));
        do_login(c);
        return;
    case SOAP_M_LOGOUT:
        if (!c->token[0]) { fault_store(c, ST_UNAUTHENTICATED); return; }
        store_logout(app->store, &c->auth, on_logout, c);
        return;
    case SOAP_M_RETRIEVE_PROPERTIES:
    case SOAP_M_RETRIEVE_PROPERTIES_EX:
        if (!c->token[0]) { retrieve_now(c, NULL); return; }
        /* The inventory needs System.Read; SessionManager.currentSession alone needs a login. */
        for (size_t i = 0; i < c->r->nobjs; i++)
            if (strcmp(c->r->objs[i].obj.type, "SessionManager") != 0)
                c->auth.required_privs = PRIV_SYSTEM_READ;
        store_login_info(app->store, &c->auth, on_login_info, c);
        return;
    case SOAP_M_UNKNOWN:
    default:
        soap_fault_set(&f, "NotImplemented", NULL,
                       "The method %s is not implemented by this server.", c->r->method_name);
        send_fault(req, &f);
        call_done(c);
        return;
    }
}
