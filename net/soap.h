/* net/soap.h: the small vSphere SOAP (vim25) endpoint on /sdk that govc needs before it talks
 * /rest: RetrieveServiceContent, Login, Logout, CurrentTime and a read-only PropertyCollector
 * (RetrieveProperties / RetrievePropertiesEx) over a fixed inventory of one datacenter and one
 * datastore (the --storage-dir), plus SessionManager.currentSession. GET
 * /sdk/vimServiceVersions.xml is answered too. Everything else is a SOAP fault (HTTP 500).
 *
 * SOAP logins use the same login tokens as /rest and /api (store_login: Redis, shared by every
 * instance); the token travels in the cookie vmware_soap_session.
 *
 * The module has two layers. The pure one (parse, evaluate, encode; no I/O, no store) is
 * declared below so tests can drive it alone. The glue (soap_handles / soap_handle) reads the
 * HTTP request, calls login_check (net/login.h) and the asynchronous store, and answers.
 *
 * Request parsing is libxml2 with no network, no entity substitution, no DTD loading; a
 * document with a DOCTYPE is refused as soon as the parser meets it (SOAP 1.1 forbids DTDs),
 * so entity expansion attacks and external entities never run.
 *
 * Debugging: with USD_SOAP_DEBUG=1 in the environment every request body (passwords masked)
 * and every answer is written to stderr. */
#ifndef NET_SOAP_H
#define NET_SOAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/api.h"

/* ---- glue ---------------------------------------------------------------------------------- */

/* True for paths this module serves: /sdk and /sdk/... */
bool soap_handles(const http_request_t *req);
/* Answers the request (now or from a store callback). */
void soap_handle(http_request_t *req, app_t *app);

/* ---- pure layer ---------------------------------------------------------------------------- */

#define SOAP_MAX_BODY (1024 * 1024)  /* refused above this, whatever --max-body-bytes says */
#define SOAP_TOKEN_MAX 256
#define SOAP_NAME_MAX 80             /* type names, property paths, spec names */
#define SOAP_VALUE_MAX 128           /* moref values */
#define SOAP_MAX_FILTERS 8
#define SOAP_MAX_PROPSPECS 32
#define SOAP_MAX_PATHS 128
#define SOAP_MAX_OBJSPECS 32
#define SOAP_MAX_SELSPECS 128
#define SOAP_MAX_SELREFS 256
#define SOAP_MAX_DEPTH 16            /* selectSet nesting in a request */

typedef enum {
    SOAP_M_UNKNOWN,
    SOAP_M_RETRIEVE_SERVICE_CONTENT,
    SOAP_M_LOGIN,
    SOAP_M_LOGOUT,
    SOAP_M_CURRENT_TIME,
    SOAP_M_RETRIEVE_PROPERTIES,
    SOAP_M_RETRIEVE_PROPERTIES_EX,
} soap_method_t;

typedef struct {
    char type[SOAP_NAME_MAX];
    char value[SOAP_VALUE_MAX];
} soap_moref_t;

typedef struct {
    char type[SOAP_NAME_MAX];
    bool all;
    uint16_t first_path, npaths;  /* into soap_request_t.paths */
} soap_propspec_t;

typedef struct {
    char name[SOAP_NAME_MAX];     /* "" when unnamed */
    bool traversal;               /* TraversalSpec (type + path); else a reference by name */
    char type[SOAP_NAME_MAX];
    char path[SOAP_NAME_MAX];
    bool skip;
    uint16_t first_sel, nsel;     /* children: selrefs[first_sel .. first_sel + nsel) */
} soap_selspec_t;

typedef struct {
    soap_moref_t obj;
    bool skip;
    uint16_t first_sel, nsel;     /* into soap_request_t.selrefs */
} soap_objspec_t;

typedef struct {
    uint16_t first_prop, nprop;
    uint16_t first_obj, nobj;
    uint16_t first_selspec, nselspec; /* every selection spec of this filter (name lookup) */
} soap_filter_t;

/* One parsed request. Big (pools for PropertyCollector specs): allocate it on the heap. */
typedef struct {
    soap_method_t method;
    char method_name[SOAP_NAME_MAX]; /* local name of the Body's first element */
    bool has_this;
    soap_moref_t this_ref;
    /* Login */
    char user_name[USER_MAX];
    char password[512];
    char locale[32];
    /* RetrieveProperties(Ex) */
    soap_filter_t filters[SOAP_MAX_FILTERS];
    size_t nfilters;
    soap_propspec_t props[SOAP_MAX_PROPSPECS];
    size_t nprops;
    char paths[SOAP_MAX_PATHS][SOAP_NAME_MAX];
    size_t npaths;
    soap_objspec_t objs[SOAP_MAX_OBJSPECS];
    size_t nobjs;
    soap_selspec_t sels[SOAP_MAX_SELSPECS];
    size_t nsels;
    uint16_t selrefs[SOAP_MAX_SELREFS];
    size_t nselrefs;
} soap_request_t;

/* A SOAP fault: faultcode ServerFaultCode (or ClientFaultCode), faultstring, and the vim25
 * fault type (xsi:type of the detail element) with its already-encoded inner XML. */
typedef struct {
    char code[32];            /* "ServerFaultCode" */
    char type[64];            /* "InvalidRequest", "InvalidLogin", "NotImplemented", ... */
    char message[512];        /* faultstring */
    char detail[768];         /* inner XML of the detail element, may be "" */
} soap_fault_t;

void soap_fault_set(soap_fault_t *f, const char *type, const char *detail_xml,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Parses a request body. C_OK and *req filled (method SOAP_M_UNKNOWN for any other method,
 * with method_name set), or C_ERR and *fault (malformed XML, DTD, not a SOAP envelope, missing
 * or oversized arguments, too many specs). */
int soap_parse(const char *body, size_t len, soap_request_t *req, soap_fault_t *fault);
/* Erases the password in a parsed request. */
void soap_request_wipe(soap_request_t *req);

/* A login as SOAP shows it (UserSession). */
typedef struct {
    char key[40];             /* not the token: a digest of it, stable across calls */
    char user[USER_MAX];
    char locale[32];
    int64_t login_ms, last_active_ms;
} soap_session_t;

/* What the inventory shows. */
typedef struct {
    char datacenter[64];      /* name of datacenter-2 */
    char datastore[64];       /* name of datastore-1 */
    char ds_url[4200];        /* "ds:///srv/storage/" */
    uint64_t capacity, free_space;
    char instance_uuid[40];
    int64_t now_ms;
    const soap_session_t *session; /* the caller's login, NULL when none or invalid */
} soap_inventory_t;

/* The moref key for a token (a UUID-shaped digest). */
void soap_session_key(const char *token, char out[40]);
/* The instanceUuid for a deployment (stable per key prefix: every instance says the same). */
void soap_instance_uuid(const char *seed, char out[40]);

/* Encoders: each returns a malloc'd NUL-terminated document and its length (NULL on OOM). */
char *soap_encode_fault(const soap_fault_t *f, size_t *len);
char *soap_encode_service_content(const soap_inventory_t *inv, size_t *len);
char *soap_encode_login(const soap_session_t *s, size_t *len);
char *soap_encode_void(const char *method_name, size_t *len);     /* <XResponse/> */
char *soap_encode_current_time(int64_t now_ms, size_t *len);
char *soap_encode_service_versions(size_t *len);                   /* vimServiceVersions.xml */

/* Runs a RetrieveProperties(Ex) request over the inventory. C_OK and the response document,
 * or C_ERR and *fault (NotAuthenticated without a session for anything but the
 * SessionManager, ManagedObjectNotFound for unknown objects or a wrong _this). */
int soap_retrieve(const soap_request_t *req, const soap_inventory_t *inv, char **out,
                  size_t *len, soap_fault_t *fault);

/* Reads the vmware_soap_session cookie (quoted or not) into out; false if absent/too long. */
bool soap_cookie_token(const char *cookie_header, char *out, size_t size);
/* Copies body into out with the text of every <password> element replaced by "********"
 * (for debug logs). */
void soap_mask_password(const char *body, size_t len, char *out, size_t size);

#endif
