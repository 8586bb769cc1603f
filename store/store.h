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
#include "core/histogram.h"
#include "core/model.h"
#include "core/transfer.h"

struct event_base;

typedef enum {
    ST_OK,
    ST_UNAVAILABLE,      /* no link, link lost, or call timed out */
    ST_UNREPLICATED,     /* --redis-wait-replicas: the change was made on the primary, but fewer
                          * replicas than asked acknowledged it in time (a failover may lose it) */
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
    ST_FILES_NOT_READY,  /* complete refused: a file is not READY; detail = its name */
    ST_FILES_CHANGED,    /* complete refused: a file's blob is not the one linked; detail = name */
    ST_FILE_STATE,       /* the file's transfer state refuses the event (core/transfer.c) */
    ST_TOO_MANY_FILES,   /* file add: the session has max_files_per_session files */
    ST_INTERNAL          /* unexpected reply; logged */
} store_status_t;
const char *store_status_name(store_status_t s);

#define STORE_SENTINELS_MAX 16

typedef struct {
    const char *redis_host; /* used when redis_unix is NULL and there are no sentinels */
    int redis_port;
    const char *redis_unix;
    /* Redis Sentinel: when sentinels > 0, the primary of master_name is asked of these (in
     * turn) at every (re)connect, and followed on +switch-master. */
    int sentinels;
    const char *sentinel_host[STORE_SENTINELS_MAX];
    int sentinel_port[STORE_SENTINELS_MAX];
    const char *master_name;
    /* After every change acknowledged to a client, WAIT for this many replicas (0: never);
     * fewer in time -> ST_UNREPLICATED. */
    int wait_replicas;
    const char *prefix;       /* key prefix, default "usd:" */
    int call_timeout_ms;      /* per call (default 2000) */
    int connect_timeout_ms;   /* TCP connect + script load (default = call_timeout_ms) */
    int64_t session_timeout_ms;
    int64_t retention_ms;
    int64_t token_retention_ms;
    int64_t login_idle_ms;    /* login token idle timeout */
    int sweep_interval_ms;    /* sweeper period (jittered +-25%), default 250 */
    int sweep_batch;          /* sessions per sweep script, default 200 */
    int64_t transfer_lease_ms; /* a mover's lease (default 10000) */
    int max_files_per_session; /* default 1000 */
    int64_t events_max;       /* P events stream: entries kept (about); 0 = no stream */
} store_config_t;

typedef struct store store_t;

/* Starts connecting at once (non-blocking); calls made before the link is up wait for it
 * within their own timeout. */
store_t *store_new(struct event_base *base, const store_config_t *cfg);
/* Answers every pending call with ST_UNAVAILABLE, then frees. */
void store_free(store_t *st);
bool store_connected(const store_t *st);

/* ---- Operations (issue 11): health, metrics, logs ---------------------------------------------
 * Where store/ writes its log lines: main hands them to the server's logger (net/log.h). Without
 * a hook they go to stderr as "store: <text>". Process-wide. */
typedef enum { STORE_LOG_INFO = 1, STORE_LOG_WARN = 2, STORE_LOG_ERROR = 3 } store_log_level_t;
typedef void (*store_log_fn)(store_log_level_t level, const char *text);
void store_set_log(store_log_fn fn);

/* The link's counters. call_seconds: from store_eval to the answer of every call that was not
 * answered locally (waiting for the link included: what the caller waited). */
typedef struct {
    bool up;                 /* store_connected() */
    uint64_t calls;          /* calls answered */
    uint64_t timeouts;       /* calls answered ST_UNAVAILABLE by their timer */
    uint64_t reconnects;     /* the link became READY again after it was lost */
    histogram_t call_seconds;
} store_link_stats_t;
void store_link_stats(const store_t *st, store_link_stats_t *out);

/* Session transitions applied by this process's calls (process-wide), by the state they led to:
 * creates (ACTIVE), cancel and fail (and the item or library deletes that ended a session), the
 * completes this process ran (DONE), and the expiries its sweeps reported (expired; ERROR).
 * Expiries are counted once in the fleet: by the sweep that reports them. Not counted: a
 * requested complete whose pull's mover died, failed by a sweep. The events stream (P events)
 * has every transition. */
typedef struct {
    uint64_t to[SESSION_STATE_COUNT];
    uint64_t expired;
} store_session_counts_t;
void store_session_counts(store_session_counts_t *out);

/* The login cache (store/logincache.c): requests authorized without asking Redis (hits), those
 * that asked (misses), logouts heard on P logouts, and whether the cache is in use (its
 * subscription confirmed on the current link). */
typedef struct {
    uint64_t hits, misses, invalidations;
    bool subscribed;
} store_login_cache_stats_t;
void store_login_cache_stats(const store_t *st, store_login_cache_stats_t *out);

/* A health check (/readyz) asks for the link: when it is down and waiting for its reconnect
 * backoff, the reconnect is tried now (at most every 100 ms), so a Redis that came back is
 * served again within one health check rather than one backoff (up to 2 s). */
void store_kick(store_t *st);

/* The number of ACTIVE sessions (ZCARD of the deadline index), for usd_sessions_active. */
typedef void (*store_count_cb)(void *arg, store_status_t st, int64_t n);
void store_sessions_active(store_t *st, store_count_cb cb, void *arg);

/* Who calls, and what the operation needs. token NULL or unknown -> ST_UNAUTHENTICATED. */
typedef struct {
    const char *token;
    uint32_t required_privs; /* with PRIV_OR_OPERATOR: an operator qualifies too */
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

/* Adds the file (or replaces the session's file of that name: TEV_ADD_PUSH / TEV_ADD_PULL must
 * be legal, so not while it is TRANSFERRING under a live lease: ST_TRANSFER_BUSY); f is stored
 * as given. A PUSH file's upload token is indexed (P upload:<sha256(token)> -> session id +
 * name) for exactly as long as the file is in the ACTIVE session: the entry is deleted when the
 * file is replaced or removed or the session ends, never by a TTL. A PULL file is recorded
 * TRANSFERRING, held by f->attempt / f->holder with a fresh lease: the caller starts the pull.
 * A replaced file's blob goes on the garbage list. Refused while the session's complete is in
 * progress (ST_STATE_CHANGED, state ACTIVE), and with ST_TOO_MANY_FILES when the session has
 * max_files_per_session files and this is a new name. cb gets the stored record. */
void store_file_add(store_t *st, const store_auth_t *auth, const char *session_id,
                    const session_file_t *f, store_file_cb cb, void *arg);
/* One file: the session's, else the item's (as NONE); ST_NO_FILE if neither or removed. */
void store_file_get(store_t *st, const store_auth_t *auth, const char *session_id,
                    const char *name, store_file_cb cb, void *arg);
/* The item's files overlaid by the session's, without removed ones, sorted by name.
 * require_active: refuse (ST_STATE_CHANGED) unless the session is ACTIVE (validate). auth NULL:
 * the server itself (the complete it runs after the last pull), no login. */
void store_file_list(store_t *st, const store_auth_t *auth, const char *session_id,
                     bool require_active, store_files_cb cb, void *arg);
/* The session's own file records (the item's left out), without removed ones, sorted by name;
 * the session must be ACTIVE. What complete links: its cost does not grow with the item's
 * files. auth as store_file_list. */
void store_file_list_own(store_t *st, const store_auth_t *auth, const char *session_id,
                         store_files_cb cb, void *arg);
/* Marks the file removed (it goes on complete); ST_NO_FILE if neither session nor item has it.
 * Ends any transfer of the file (its mover's next heartbeat is refused), deletes its upload
 * token's entry, and puts its staged blob on the garbage list. */
void store_file_remove(store_t *st, const store_auth_t *auth, const char *session_id,
                       const char *name, store_done_cb cb, void *arg);
/* The item's published files (GET /api/content/library/item/{id}/file). */
void store_item_files(store_t *st, const store_auth_t *auth, const char *item_id,
                      store_item_files_cb cb, void *arg);

/* ---- Transfers (the data plane; no login: the upload token, or the server itself) ----------
 * A TRANSFERRING file records its mover: `attempt` (a UUID per transfer attempt, the lease's
 * id), `holder` (the instance, for operators) and `lease` (Redis ms; now + transfer_lease_ms at
 * begin and at every progress call). A lapsed lease means the mover is gone: the file is then
 * decided on (and read) as core/transfer.h's transfer_lapsed_state(), and any instance may take
 * it over. Every script applies core/transfer.c's answer for its event, passed as data.
 * Blobs a script stops referencing are pushed, in the same script, on the garbage list (see
 * store_garbage_take); nothing in store/ or its callers unlinks on the strength of a reply. */
typedef enum {
    UPLOAD_BEGIN,  /* PUT/POST: the whole file from byte 0 into the new blob (TEV_BEGIN) */
    UPLOAD_RESUME, /* PATCH: append to the durable prefix (TEV_RESUME); a file without a blob
                      yet (WAITING, never uploaded) takes the new blob with staged 0 */
    UPLOAD_PROBE   /* HEAD: read only, no lease, no activity */
} upload_mode_t;

typedef struct {
    const char *token;   /* the upload token from the URI */
    upload_mode_t mode;
    const char *attempt; /* a new UUID: this attempt's lease id (not for PROBE) */
    const char *blob;    /* a new UUID: the blob a BEGIN writes (not for PROBE) */
    const char *holder;  /* this instance's name */
} upload_begin_t;

/* cb: ST_OK with the session id and the file as it is now (BEGIN/RESUME: TRANSFERRING, held
 * by u->attempt; RESUME: f->blob is the blob to append to and f->staged the offset; PROBE: as
 * stored, a lapsed lease shown as such). ST_FILE_STATE with the file (session_id NULL): the
 * file's state refuses the event (RESUME of a READY file); ST_TRANSFER_BUSY: TRANSFERRING under
 * a live lease; ST_NOT_FOUND: unknown or stale token; ST_STATE_CHANGED: the session is not
 * ACTIVE, or its complete is in progress (file set frozen). BEGIN and RESUME are activity; a
 * BEGIN over a file that had a blob puts the old blob on the garbage list. */
typedef void (*store_upload_cb)(void *arg, store_status_t st, const char *session_id,
                                const session_file_t *f);
void store_upload_begin(store_t *st, const upload_begin_t *u, store_upload_cb cb, void *arg);

/* The mover's heartbeat (TEV_PROGRESS): records bytes_transferred and staged (the durable
 * prefix), renews the lease, and is activity. ST_STATE_CHANGED: this attempt does not hold the
 * file any more; detail = the session's state when it is not ACTIVE (canceled, failed,
 * expired, completed), "REMOVED" when the file was removed, else the file's status (replaced,
 * or the lease was taken over after it lapsed):
 * the mover must stop at once, and must not delete anything (the script that took the file
 * away put the blob on the garbage list if it is garbage). */
void store_transfer_progress(store_t *st, const char *session_id, const char *name,
                             const char *attempt, int64_t bytes, int64_t staged,
                             store_done_cb cb, void *arg);

/* The end of an attempt, ev = TEV_READY (result: bytes_transferred, size, received checksum),
 * TEV_PAUSE (bytes_transferred, staged: the prefix is kept for a resume; error_message optional:
 * why it stopped) or TEV_FAIL (error_message; the blob goes to garbage). Applies only while
 * `attempt` holds the file (else ST_STATE_CHANGED). Clears the lease. If the session's
 * complete was requested (completion COMPLETING): a failed PULL fails the session; when the
 * last PULL ends READY, detail is "COMPLETE": the caller must now run the complete itself
 * (link, then store_session_complete with auth NULL). Otherwise detail is NULL. */
void store_transfer_end(store_t *st, const char *session_id, const char *name,
                        const char *attempt, transfer_event_t ev, const session_file_t *result,
                        store_done_cb cb, void *arg);

/* The one publish path. `linked` are the (file name, blob) pairs the caller hard-linked into
 * the item's directory (store/blob.h blob_publish), one per READY file of the session that
 * has bytes (source PUSH or PULL, not removed). One compare-and-set: EV_COMPLETE must be
 * legal, every such file must be READY and its blob the linked one, and every linked pair must
 * be such a file; then the session's files become the item's (removed ones leave; version + 1,
 * content_version + 1, size, cached), the item's replaced and removed blobs and the session's
 * staging directory go on the garbage list, and the session ends DONE. Answers:
 *   ST_OK               detail NULL: completed; detail "REQUESTED": PULL transfers still run,
 *                       the session stays ACTIVE with its file set frozen (COMPLETING) and the
 *                       instance that records the last pull's end completes it
 *   ST_FILES_NOT_READY  detail = a file that is not READY (nothing changed)
 *   ST_FILES_CHANGED    detail = a file whose blob is not the linked one, or a linked pair
 *                       that is not a READY file: the caller lists, links and tries again
 *   ST_NOT_FOUND, ST_STATE_CHANGED (detail = state)
 * A refusal leaves the links it was given alone: a retried complete may link and publish the
 * same blobs a moment later, so only the storage scan (which keeps blobs an ACTIVE session's
 * file records name) removes links nothing published.
 * auth NULL: the server itself (the last pull of a requested complete); otherwise the caller
 * must have a valid login, as every session operation. */
typedef struct {
    const char *name;
    const char *blob;
} linked_file_t;
void store_session_complete(store_t *st, const store_auth_t *auth, const char *id,
                            const linked_file_t *linked, size_t n, store_done_cb cb, void *arg);

/* ---- Garbage (what no record references any more) --------------------------------------------
 * P garbage is a list of paths relative to --storage-dir, pushed by the scripts that stop
 * referencing them, in the same atomic step:
 *   staging/<item>/<uuid>          a session's staging directory (and everything in it)
 *   staging/<item>/<uuid>/<blob>   one staged blob (and its <blob>.part)
 *   items/<item>/<blob>            a published blob the item no longer references
 *   items/<item>                   a deleted item's directory (and everything in it)
 * Janitors on every instance take entries (LPOP, so each entry goes to one janitor) and delete
 * idempotently; an entry lost by a crash between take and delete is found by the scan. */
void store_garbage_take(store_t *st, int n, store_ids_cb cb, void *arg);
/* The scan's question: for each path (same forms as above, plus
 * "staging/<item>/<uuid>/<blob>.part"), does Redis still reference it? ids[i] is "1" (yes,
 * keep) or "0" (no: an orphan, once older than the grace period). */
void store_blobs_referenced(store_t *st, char *const *paths, size_t n, store_ids_cb cb,
                            void *arg);

/* Called (from the event loop) for every session this instance's sweeper expired, so staged
 * data can be discarded. */
typedef void (*store_expired_fn)(void *arg, const char *session_id);
void store_on_expired(store_t *st, store_expired_fn fn, void *arg);

/* Called (from the event loop) for every requested complete whose pulls all ended but that no
 * instance finished within a lease (the instance that ended the last pull died, or never got
 * to it): this instance's sweep claimed it for one lease, and the hook must now run the
 * complete (link, then store_session_complete with auth NULL). A requested complete whose pull
 * lost its mover is failed by the sweep itself, as a failed pull fails it. */
void store_on_completion_due(store_t *st, store_expired_fn fn, void *arg);

#endif
