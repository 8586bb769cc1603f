/* store/store.h: everything update-sessiond keeps in Redis, behind an asynchronous API that
 * never blocks the event loop. One call = one round trip (an EVALSHA of a script in
 * store/lua/, or one plain command). Every call is answered exactly once, within the call
 * timeout: with ST_UNAVAILABLE when Redis is down, frozen or slow.
 *
 * Authentication and authorization happen inside the same script as the operation: the
 * caller passes its login token and the privileges the operation needs; the script checks the
 * login record, touches its idle timer and answers ST_UNAUTHENTICATED / ST_UNAUTHORIZED before
 * doing anything else. So an authenticated request costs one round trip, and a logout on one
 * instance is seen by every instance at once.
 *
 * store/ never sees HTTP: it works on core/ types. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include "core/file.h"
#include "core/model.h"

struct event_base;

typedef enum {
    ST_OK,
    ST_UNAVAILABLE,      /* no link, link lost, or call timed out */
    ST_UNAUTHENTICATED,  /* no such login token (or it idled out) */
    ST_UNAUTHORIZED,     /* login lacks a required privilege */
    ST_NOT_FOUND,        /* the resource (or, for item create, its library) does not exist */
    ST_ALREADY_EXISTS,   /* duplicate item name in the library; detail = library name */
    ST_BUSY,             /* another ACTIVE session holds the item; detail = its session id */
    ST_WRONG_TYPE,       /* library is SUBSCRIBED (item/session create) or not the expected type */
    ST_TOKEN_CONFLICT,   /* client_token already used for another item */
    ST_STATE_CHANGED,    /* compare-and-set lost: the record is not in the expected state */
    ST_PROGRESS_LOWER,   /* keep-alive client_progress below the recorded one */
    ST_NO_FILE,          /* no file of that name in the session (nor in the item) */
    ST_TRANSFER_BUSY,    /* the file is being transferred already */
    ST_FILES_NOT_READY,  /* complete refused: a PUSH file is not READY; detail = its name */
    ST_INTERNAL          /* unexpected reply; logged */
} store_status_t;
const char *store_status_name(store_status_t s);

typedef struct {
    const char *redis_host; /* used when redis_unix is NULL */
    int redis_port;
    const char *redis_unix;
    const char *prefix;       /* key prefix, default "usd:" */
    int call_timeout_ms;      /* per call (default 2000) */
    int connect_timeout_ms;   /* TCP connect + script load (default = call_timeout_ms) */
    int64_t session_timeout_ms;
    int64_t retention_ms;
    int64_t token_retention_ms;
    int64_t login_idle_ms;    /* login token idle timeout */
    int sweep_interval_ms;    /* sweeper period (jittered +-25%), default 250 */
    int sweep_batch;          /* sessions per sweep script, default 200 */
} store_config_t;

typedef struct store store_t;

/* Starts connecting at once (non-blocking); calls made before the link is up wait for it
 * within their own timeout. */
store_t *store_new(struct event_base *base, const store_config_t *cfg);
/* Answers every pending call with ST_UNAVAILABLE, then frees. */
void store_free(store_t *st);
bool store_connected(const store_t *st);

/* Who calls, and what the operation needs. token NULL or unknown -> ST_UNAUTHENTICATED. */
typedef struct {
    const char *token;
    uint32_t required_privs;
} store_auth_t;

/* Callbacks. `detail` is NULL or a string valid only during the call. */
typedef void (*store_done_cb)(void *arg, store_status_t st, const char *detail);
typedef void (*store_ids_cb)(void *arg, store_status_t st, char *const *ids, size_t n);
/* now_ms is Redis TIME at the read, so callers can tell an expired session before any sweep. */
typedef void (*store_session_cb)(void *arg, store_status_t st, const update_session_t *s,
                                 int64_t now_ms);
typedef void (*store_library_cb)(void *arg, store_status_t st, const library_t *l);
typedef void (*store_item_cb)(void *arg, store_status_t st, const item_t *it);
typedef void (*store_login_cb)(void *arg, store_status_t st, const char *user,
                               int64_t created_ms, int64_t last_accessed_ms);

/* Logins. store_login records a new token for user with privs (no auth check: the caller
 * verified the password). store_login_info checks and touches a token; store_logout deletes it. */
void store_login(store_t *st, const char *token, const char *user, uint32_t privs,
                 store_done_cb cb, void *arg);
void store_login_info(store_t *st, const store_auth_t *auth, store_login_cb cb, void *arg);
void store_logout(store_t *st, const store_auth_t *auth, store_done_cb cb, void *arg);

/* Update sessions. create: new_id is "<item id>:<uuid>" made by the caller; client_token may be
 * NULL. One atomic script: token lookup/record (scoped per user; a replay with the same item
 * answers ST_OK with the first session's id as detail, another item ST_TOKEN_CONFLICT), item
 * existence (ST_NOT_FOUND) and library type (ST_WRONG_TYPE), SET NX of the item lock (ST_BUSY),
 * session record, deadline index, the owner's list. detail = the session id. The token is a
 * UUID, matched case-insensitively; one whose session record is gone (retention passed) is
 * treated as new. */
void store_session_create(store_t *st, const store_auth_t *auth, const char *new_id,
                          const session_spec_t *spec, const char *client_token,
                          store_done_cb cb, void *arg);
void store_session_get(store_t *st, const store_auth_t *auth, const char *id,
                       store_session_cb cb, void *arg);
/* The caller's sessions, optionally only those of one item (ST_NOT_FOUND if it does not exist). */
void store_session_list(store_t *st, const store_auth_t *auth, const char *item_id_or_null,
                        store_ids_cb cb, void *arg);

/* Libraries. create: l->id, times and type filled by the caller. delete: only a library of
 * `type` (else ST_NOT_FOUND), with its items. */
void store_library_create(store_t *st, const store_auth_t *auth, const library_t *l,
                          store_done_cb cb, void *arg);
void store_library_get(store_t *st, const store_auth_t *auth, const char *id,
                       store_library_cb cb, void *arg);
void store_library_list(store_t *st, const store_auth_t *auth, store_ids_cb cb, void *arg);
void store_library_find(store_t *st, const store_auth_t *auth, const library_find_t *spec,
                        store_ids_cb cb, void *arg);
void store_library_delete(store_t *st, const store_auth_t *auth, const char *id,
                          library_type_t type, store_done_cb cb, void *arg);

/* Items. create: it->id, times, content_version "1" filled by the caller; library must exist
 * (ST_NOT_FOUND) and be LOCAL (ST_WRONG_TYPE) unless allow_subscribed (the store's own seeding
 * API for subscribed content, used by tests and, later, synchronization); duplicate name in the
 * library (case-insensitive) is ST_ALREADY_EXISTS with the library name as detail. */
void store_item_create(store_t *st, const store_auth_t *auth, const item_t *it,
                       bool allow_subscribed, store_done_cb cb, void *arg);
void store_item_get(store_t *st, const store_auth_t *auth, const char *id, store_item_cb cb,
                    void *arg);
void store_item_list(store_t *st, const store_auth_t *auth, const char *library_id,
                     store_ids_cb cb, void *arg);
void store_item_find(store_t *st, const store_auth_t *auth, const item_find_t *spec,
                     store_ids_cb cb, void *arg);
void store_item_delete(store_t *st, const store_auth_t *auth, const char *id, store_done_cb cb,
                       void *arg);

/* ---- Session lifecycle (issue 3) ------------------------------------------------------------
 * A change is one event applied to one session in one atomic compare-and-set script. The C
 * state machine decides legality: `allowed[s]` / `next[s]` are core/fsm.c's answer for this
 * event from every state s (the script only looks up the record's current state there, it
 * never encodes the transition table). Outcomes:
 *   ST_OK              applied; detail = the state name before the change
 *   ST_NOT_FOUND       no such session
 *   ST_STATE_CHANGED   not allowed in the current state; detail = the current state name
 *   ST_PROGRESS_LOWER  keep-alive progress lower than the recorded one; detail = recorded value
 * A change into a terminal state releases the item lock by compare-and-delete (only if the lock
 * still names this session), drops the deadline-index entry, and makes the record expire after
 * the retention period; into DONE it also raises the item's content_version by one. Activity
 * (keep-alive, update, file operations) moves the deadline to now + session timeout (Redis TIME)
 * and extends the lock's backstop TTL. EV_DELETE removes the record. */
typedef struct {
    session_event_t event;
    bool allowed[SESSION_STATE_COUNT];
    session_state_t next[SESSION_STATE_COUNT];
    bool activity;                       /* moves the deadline */
    const vapi_message_t *error_message; /* recorded when the change ends in ERROR, or NULL */
    bool has_progress;                   /* keep-alive client_progress */
    int progress;
    bool has_warning_behavior;           /* update */
    warning_behavior_t warning_behavior;
} session_change_t;

/* Fills allowed/next from core/fsm for `ev`. */
void session_change_init(session_change_t *ch, session_event_t ev);

void store_session_change(store_t *st, const store_auth_t *auth, const char *id,
                          const session_change_t *ch, store_done_cb cb, void *arg);

/* The sweeper: every instance runs one, on a jittered timer, expiring due ACTIVE sessions in
 * bounded batches (EV_EXPIRE through the same compare-and-set; concurrent sweepers are safe:
 * each session expires once). Started by store_new; interval and batch in store_config_t. */
typedef struct {
    uint64_t sweeps;     /* batches run */
    uint64_t expired;    /* sessions this instance expired */
} store_sweep_stats_t;
void store_sweep_stats(const store_t *st, store_sweep_stats_t *out);

/* ---- Files of an update session (issue 4) ---------------------------------------------------
 * Session files live in P {<item>}:s:<uuid>:files (hash name -> record), item files in
 * P {<item>}:files (hash name -> record); records are JSON text. Every file operation needs the
 * session ACTIVE (else ST_STATE_CHANGED, detail = state) and counts as activity (deadline
 * moves). A file of the item that the session did not touch reads as source_type NONE, READY. */
typedef void (*store_file_cb)(void *arg, store_status_t st, const session_file_t *f);
typedef void (*store_files_cb)(void *arg, store_status_t st, const session_file_t *files,
                               size_t n);
typedef void (*store_item_files_cb)(void *arg, store_status_t st, const item_file_t *files,
                                    size_t n);

/* Adds the file (or replaces the session's file of that name); f is stored as given, and its
 * upload token, if any, is indexed (P upload:<sha256(token)> -> session id + name, expiring
 * with the session's retention). cb gets the stored record. */
void store_file_add(store_t *st, const store_auth_t *auth, const char *session_id,
                    const session_file_t *f, store_file_cb cb, void *arg);
/* One file: the session's, else the item's (as NONE); ST_NO_FILE if neither or removed. */
void store_file_get(store_t *st, const store_auth_t *auth, const char *session_id,
                    const char *name, store_file_cb cb, void *arg);
/* The item's files overlaid by the session's, without removed ones, sorted by name.
 * require_active: refuse (ST_STATE_CHANGED) unless the session is ACTIVE (validate). */
void store_file_list(store_t *st, const store_auth_t *auth, const char *session_id,
                     bool require_active, store_files_cb cb, void *arg);
/* Marks the file removed (it goes on complete); ST_NO_FILE if neither session nor item has it. */
void store_file_remove(store_t *st, const store_auth_t *auth, const char *session_id,
                       const char *name, store_done_cb cb, void *arg);
/* The item's published files (GET /api/content/library/item/{id}/file). */
void store_item_files(store_t *st, const store_auth_t *auth, const char *item_id,
                      store_item_files_cb cb, void *arg);

/* Data plane: no login, the upload token authorizes. begin: the token's file goes
 * TRANSFERRING with blob `blob` and bytes 0 (from WAITING_FOR_TRANSFER, ERROR or READY: a retry
 * or a replacement); ST_TRANSFER_BUSY if it is TRANSFERRING; ST_NOT_FOUND for an unknown token;
 * ST_STATE_CHANGED if the session is not ACTIVE. cb gets the session id and the file. */
typedef void (*store_upload_cb)(void *arg, store_status_t st, const char *session_id,
                                const session_file_t *f);
void store_upload_begin(store_t *st, const char *upload_token, const char *blob,
                        store_upload_cb cb, void *arg);
/* Progress and end of a transfer (PUSH or PULL), applied only while the file is TRANSFERRING
 * with this blob (else ST_STATE_CHANGED): progress records bytes_transferred and is activity;
 * end records the outcome in `result` (status READY or ERROR, bytes, size, received checksum,
 * error_message). */
void store_transfer_progress(store_t *st, const char *session_id, const char *name,
                             const char *blob, int64_t bytes, store_done_cb cb, void *arg);
/* When this was the last transfer of a session whose complete was requested, the script
 * completes it (publishing as store_session_complete does) and ids are the blobs to delete. */
void store_transfer_end(store_t *st, const char *session_id, const char *name,
                        const char *blob, const session_file_t *result, store_ids_cb cb,
                        void *arg);

/* Complete = EV_COMPLETE through the same compare-and-set, plus publishing: refused with
 * ST_FILES_NOT_READY (ids[0] = the file) while a PUSH file of the session is not READY. If a
 * PULL file is still TRANSFERRING the session stays ACTIVE with "complete requested" and
 * ST_OK is answered with n = 0 (the last transfer_end completes it). Publishing, in the same
 * script: READY session files become the item's files (version + 1), removed ones go,
 * content_version + 1, size = sum of sizes, cached = true. ids = the blobs the item no longer
 * references (the caller deletes them from disk). */
void store_session_complete(store_t *st, const store_auth_t *auth, const char *id,
                            store_ids_cb cb, void *arg);

/* Called (from the event loop) for every session this instance's sweeper expired, so staged
 * data can be discarded. */
typedef void (*store_expired_fn)(void *arg, const char *session_id);
void store_on_expired(store_t *st, store_expired_fn fn, void *arg);

#endif
