/* net/api.h: what every operation handler sees. The operation table (net/routes.c) describes
 * each vAPI operation once, for both wire flavours; a `call` is one request being served:
 * the matched operation, the flavour, the path id, the parsed body, the caller's login.
 * Handlers validate input with core/, call store/, and finish with exactly one of
 * call_reply() / call_fail() / call_fail_store(), or hand one of the generic store callbacks
 * below to the store, which finishes the call for them. */
#ifndef NET_API_H
#define NET_API_H

#include "core/errors.h"
#include "core/file.h"
#include "core/model.h"
#include "net/config.h"
#include "net/http.h"
#include "net/login.h"
#include "net/users.h"
#include "store/store.h"

struct json_object;
struct event_base;

#define PUBLIC_URL_MAX 600

typedef struct app {
    struct event_base *base;
    config_t cfg;
    users_t *users;
    login_checker_t *logins;     /* password checks (net/login.c) */
    store_t *store;
    http_server_t *http;
    char public_url[PUBLIC_URL_MAX]; /* --public-url, else the --listen address */
    unsigned char upload_secret[32]; /* net/secret.h */
    struct data_plane *data;     /* net/data/data.h: uploads, pulls, publishing */
    struct janitor *janitor;     /* net/data/janitor.c */
    struct metrics *metrics;     /* net/metrics.h */
    http_server_t *admin;        /* --admin-listen, or NULL */
    bool draining;               /* SIGTERM seen: /readyz answers 503 */
} app_t;

/* How success looks on the wire: /api 201+value, 200+value, 204; /rest always 200, with
 * {"value": ...} or an empty body. */
typedef enum { RESULT_CREATED, RESULT_VALUE, RESULT_VOID } result_kind_t;

typedef struct call call_t;
typedef void (*op_fn)(call_t *c);

typedef struct operation {
    const char *name;        /* "update_session.create", for logs */
    http_method_t method;
    const char *api_path;    /* "/api/content/library/item/update-session/{}" ({} = one id) */
    const char *rest_path;   /* "/rest/com/vmware/.../update-session/{}" ({} = "id:<id>") */
    const char *action;      /* ?action= (/api) or ?~action= (/rest); NULL = none */
    const char *rest_spec;   /* /rest body key holding the main structure ("create_spec") */
    result_kind_t result;
    uint32_t privs;          /* privileges the operation needs (checked inside the store) */
    bool anonymous;          /* needs no login token (login itself) */
    const char *subject;     /* what the path id names, for messages: "update session" */
    int library_type;        /* -1, or the library type a local-/subscribed-library path means */
    op_fn fn;
} operation_t;

struct call {
    app_t *app;
    http_request_t *req;
    const operation_t *op;
    flavour_t flavour;
    char id[SESSION_ID_MAX];      /* the path id ("" if the path has none) */
    char name[FILE_NAME_MAX];     /* the path's file name segment ("" if none) */
    struct json_object *body;     /* the parsed body, or NULL when empty */
    struct json_object *spec;     /* /api: the body; /rest: body[op->rest_spec] or the body */
    const char *prefix;           /* "" or "create_spec." : how fields are named in messages */
    char prefix_buf[32];          /* holds the /rest prefix */
    char token[256];
    store_auth_t auth;
    char subject_id[SESSION_ID_MAX]; /* the id a NOT_FOUND message names */
    const char *subject;             /* what subject_id is ("library item") */
    char aux[NAME_MAX_BYTES];        /* a second value for messages (item name, token) */
    void *extra;                     /* per-operation state, free()d with the call */
};

/* The operation table and dispatch (net/routes.c). */
void api_handle(http_request_t *req, void *app);
void api_reject(http_request_t *req, int status, const char *reason, void *app);

/* Finishing a call (net/call.c). call_reply takes ownership of value (NULL for void). */
void call_reply(call_t *c, struct json_object *value);
/* File.add's AddSpec, validated: the body itself, or (/api, as VMware's samples send it) the
 * body's "file_spec" member; *prefix is how its fields are named in messages. */
int call_file_add_spec(const call_t *c, file_spec_t *fs, const char **prefix,
                       vapi_failure_t *f);
/* The base URL of upload URIs handed to this caller: --public-url when given, else the scheme
 * of this connection and the request's Host (what the client reached us by; a Host that is not
 * a plain host[:port] falls back to the --listen address). Returns buf. */
const char *call_public_url(const call_t *c, char *buf, size_t size);
void call_reply_extra_headers(call_t *c, struct json_object *value, const char *headers);
void call_fail(call_t *c, const vapi_failure_t *f);
/* call_fail without its log line (500 and 503 are logged): for refusals counted and logged in
 * summary elsewhere, such as logins refused by a full login queue during a flood. */
void call_fail_quiet(call_t *c, const vapi_failure_t *f);
void call_fail_store(call_t *c, store_status_t st, const char *detail);
/* An error outside a matched operation (routing, front-end rejects). */
void send_failure(http_request_t *req, flavour_t flavour, const vapi_failure_t *f);
/* The same with a status chosen by the front end (413, 431 ...). */
void send_failure_status(http_request_t *req, flavour_t flavour, const vapi_failure_t *f,
                         int status);

/* Reads a string parameter: /rest body field, /api body field, query parameter, then the
 * header of the same name in Title-Case with '-' ("client_token" -> "Client-Token").
 * NULL if absent, or with *st saying why not (present but not a string, or longer than buf:
 * never silently taken for absent). call_param_failure() words it. */
typedef enum { PARAM_OK, PARAM_WRONG_TYPE, PARAM_TOO_LONG } param_status_t;
const char *call_param(call_t *c, const char *name, char *buf, size_t size, param_status_t *st);
int call_param_failure(const char *name, param_status_t st, vapi_failure_t *f);
/* Sets the subject named by NOT_FOUND messages. */
void call_subject(call_t *c, const char *what, const char *id);

/* Generic store callbacks: arg is the call; they encode the result and finish it. */
void call_on_id(void *arg, store_status_t st, const char *detail);   /* value = detail string */
void call_on_void(void *arg, store_status_t st, const char *detail);
void call_on_ids(void *arg, store_status_t st, char *const *ids, size_t n);
void call_on_session(void *arg, store_status_t st, const update_session_t *s, int64_t now_ms);
void call_on_library(void *arg, store_status_t st, const library_t *l);
void call_on_item(void *arg, store_status_t st, const item_t *it);

/* New random UUID (lowercase) into buf (37 bytes). */
void new_uuid(char *buf);

/* JSON encoding of the models (net/codec.c); same shapes in both flavours. */
struct json_object *session_to_json(const update_session_t *s);
struct json_object *library_to_json(const library_t *l);
struct json_object *item_to_json(const item_t *it);
struct json_object *ids_to_json(char *const *ids, size_t n);
struct json_object *session_file_to_json(const session_file_t *f, const char *public_url);
struct json_object *item_file_to_json(const item_file_t *f);

/* The handlers (net/ops_*.c). */
void op_login_create(call_t *c);
void op_login_get(call_t *c);
void op_login_delete(call_t *c);
void op_session_create(call_t *c);
void op_session_get(call_t *c);
void op_session_list(call_t *c);
void op_session_change(call_t *c);
void op_download_session_list(call_t *c);
void op_file_add(call_t *c);
void op_file_get(call_t *c);
void op_file_list(call_t *c);
void op_file_remove(call_t *c);
void op_file_validate(call_t *c);
void op_item_files(call_t *c);

void op_library_create(call_t *c);
void op_library_get(call_t *c);
void op_library_list(call_t *c);
void op_library_find(call_t *c);
void op_library_delete(call_t *c);
void op_item_create(call_t *c);
void op_item_get(call_t *c);
void op_item_list(call_t *c);
void op_item_find(call_t *c);
void op_item_delete(call_t *c);

#endif
