/* store/redis.h: the internal API of store/ (not for net/). It owns three things the typed
 * operations (store/logins.c, sessions.c, libraries.c, items.c) are built on:
 *   - the script table (store/lua/NAME.lua, with the auth prelude joined in) and store_eval(),
 *     which runs one EVALSHA through the connection layer of store/redis.c;
 *   - store_cmd_t, a stack-allocated builder for the KEYS and ARGV of one call, including the
 *     key schema of store/keys.c (every key name is made there);
 *   - the reply decoders of store/codec.c that turn a script's answer into core/ structs.
 *
 * Reply convention: every script answers an array whose first element is a status name
 * ("OK", "NOT_FOUND", ...), followed by data. store_eval parses that name, so a reply function
 * gets the status and the whole reply; r is NULL whenever the status did not come from a
 * script (ST_UNAVAILABLE: no link, link lost or timed out; or a status decided locally, such
 * as ST_UNAUTHENTICATED for a NULL token). */
#ifndef STORE_REDIS_H
#define STORE_REDIS_H

#include <stdarg.h>

#include "store/store.h"

struct redisReply;
struct json_object;

typedef enum {
    SCRIPT_LOGIN,
    SCRIPT_LOGIN_INFO,
    SCRIPT_LOGOUT,
    SCRIPT_HASH_GET,
    SCRIPT_LIST,
    SCRIPT_SESSION_CREATE,
    SCRIPT_SESSION_LIST,
    SCRIPT_LIBRARY_CREATE,
    SCRIPT_LIBRARY_FIND,
    SCRIPT_LIBRARY_DELETE,
    SCRIPT_ITEM_CREATE,
    SCRIPT_ITEM_FIND,
    SCRIPT_ITEM_DELETE,
    SCRIPT_SESSION_CHANGE,
    SCRIPT_SWEEP,
    /* Files of an update session (store/files.c) */
    SCRIPT_FILE_ADD,
    SCRIPT_FILE_GET,
    SCRIPT_FILE_LIST,
    SCRIPT_FILE_REMOVE,
    SCRIPT_FILE_ITEM_LIST,
    SCRIPT_UPLOAD_BEGIN,
    SCRIPT_TRANSFER_PROGRESS,
    SCRIPT_TRANSFER_END,
    SCRIPT_SESSION_COMPLETE,
    SCRIPT_SESSION_COMPLETE_SERVER, /* the same body without login: the server's own complete */
    SCRIPT_FILE_LIST_SERVER,        /* file_list without login, for that complete */
    /* Garbage (store/garbage.c) */
    SCRIPT_GARBAGE_TAKE,
    SCRIPT_BLOBS_REFERENCED,
    SCRIPT_COMPLETIONS_DUE, /* store/sweeper.c */
    SCRIPT_SESSIONS_ACTIVE, /* store/sessions.c: usd_sessions_active */
    SCRIPT_SESSION_READ,    /* store/sessions.c: a get authorized from the login cache */
    SCRIPT_LOGIN_CHECK,     /* store/logins.c: fills the login cache */
    SCRIPT_LOGIN_TOUCH,     /* store/logincache.c: renews a cached login */
    CMD_HGETALL,            /* not a script: HGETALL KEYS[1] (store/sessions.c's GET) */
    SCRIPT_NAMES_BUILD,     /* store/sweeper.c: the item name and type indexes of an older store */
    SCRIPT_COUNT
} script_id_t;

/* A typed callback travels through the generic layer as this type and is cast back by the
 * reply function that knows its real type. */
typedef void (*store_fn_t)(void);
typedef void (*store_reply_fn)(store_status_t s, const struct redisReply *r, store_fn_t cb,
                               void *arg);

/* ---- Building one call (store/keys.c) ------------------------------------------------------ */

#define CMD_MAX_KEYS 8
#define CMD_MAX_ARGS 48
#define CMD_ARENA 2048

/* KEYS and ARGV of one script call. Strings given with cmd_arg/cmd_argn are referenced, not
 * copied, until store_eval (which copies everything into the call); keys and numbers are
 * formatted into the arena. The first failure (bad id, overflow, NULL token) is remembered in
 * `local`, and store_eval then answers that status without a round trip. */
typedef struct {
    store_t *st;
    store_status_t local;
    int nkeys, nargs;
    const char *key[CMD_MAX_KEYS];
    size_t keylen[CMD_MAX_KEYS];
    const char *arg[CMD_MAX_ARGS];
    size_t arglen[CMD_MAX_ARGS];
    size_t used;
    char arena[CMD_ARENA];
} store_cmd_t;

void cmd_init(store_cmd_t *c, store_t *st);
/* The first failure wins (a NULL token is reported before a bad id). */
void cmd_fail(store_cmd_t *c, store_status_t s);
/* KEYS[1] = login key of auth->token, ARGV[1] = login idle ms, ARGV[2] = "<required
 * privileges>/<operator privileges>/<alternative privileges>" (decimal masks): the prelude's
 * inputs; for a login in this instance's cache ARGV[1] = "u:<user>" and ARGV[2] ends with
 * "/<its privileges>". A NULL auth or token is ST_UNAUTHENTICATED. */
void cmd_auth(store_cmd_t *c, const store_auth_t *auth);
/* cmd_init then cmd_auth: the opening of every call made for an authenticated caller. */
void cmd_init_auth(store_cmd_t *c, store_t *st, const store_auth_t *auth);
/* The same, asking Redis even when the login is cached (login_check.lua fills the cache). */
void cmd_init_auth_uncached(store_cmd_t *c, store_t *st, const store_auth_t *auth);
/* KEYS[1] = login key of token (login.lua), no ARGV. */
void cmd_login_key(store_cmd_t *c, const char *token);
/* Key = prefix, kind, hex SHA-256 of secret (login and upload tokens never become key names
 * in clear). */
void cmd_key_hashed(store_cmd_t *c, const char *kind, const char *secret);
/* The hex SHA-256 of secret (65 bytes with the NUL) that cmd_key_hashed puts in key names. */
void secret_key_hex(const char *secret, char *hex);
/* Key = prefix followed by the NULL-terminated list of parts. */
void cmd_key(store_cmd_t *c, ...);
/* Keys of the schema (see store/keys.c). An invalid id is ST_NOT_FOUND: it cannot name a
 * resource we made. */
void cmd_key_lib(store_cmd_t *c, const char *lib_id, const char *suffix);
void cmd_key_item(store_cmd_t *c, const char *item_id, const char *suffix);
/* The session record of session_id; its item id is copied to item_id (ID_MAX bytes). */
void cmd_key_session(store_cmd_t *c, const char *session_id, char *item_id);
void cmd_arg(store_cmd_t *c, const char *s); /* NULL = "" */
void cmd_argn(store_cmd_t *c, const char *s, size_t len);
void cmd_arg_i64(store_cmd_t *c, int64_t v);
/* A copy of s in the arena (for strings that do not outlive the caller of store_eval). */
void cmd_arg_copy(store_cmd_t *c, const char *s);
void cmd_arg_prefix(store_cmd_t *c);
/* The arguments item_delete.lua and library_delete.lua need to end an ACTIVE session of an item
 * being deleted (store/lifecycle.c). */
void cmd_arg_item_gone(store_cmd_t *c);

/* ---- Authorizing from the login cache (store/logins.c) ------------------------------------- */

struct login_seen;
/* next(ctx, ST_OK, who) when auth's login exists and holds auth->required_privs (who: valid
 * during the call); else next(ctx, status, NULL). next may run before store_auth_resolve
 * returns, so it must answer its own caller through store_eval (cmd_fail with the status). */
typedef void (*auth_next_fn)(void *ctx, store_status_t s, const struct login_seen *who);
void store_auth_resolve(store_t *st, const store_auth_t *auth, auth_next_fn next, void *ctx);
/* A script call whose login was not cached (it runs the full prelude) fills the cache in the
 * background, so the caller's next calls are told who calls (hex: the token's login name). A
 * token that is no login costs one small script more per call. */
void store_login_prefetch(store_t *st, const char *token, const char *hex);

/* ---- The connection layer (store/redis.c) -------------------------------------------------- */

/* Runs script `script` with c's KEYS and ARGV; `fn(status, reply, cb, arg)` is called exactly
 * once, never from inside this call (except while store_free is answering everything), and at
 * the latest call_timeout_ms later. */
void store_eval(store_cmd_t *c, script_id_t script, store_reply_fn fn, store_fn_t cb, void *arg);
const store_config_t *store_cfg(const store_t *st); /* with defaults filled in */
const char *store_prefix(const store_t *st, size_t *len);
struct event_base *store_base(const store_t *st);
bool store_closing(const store_t *st); /* store_free is answering everything */
/* Counts links made: what a link-bound state (the login cache's subscription) belongs to. */
unsigned store_link_gen(const store_t *st);
/* The server the link is on (with Sentinel: the primary last resolved); host NULL with a
 * unix socket. */
void store_link_target(const store_t *st, const char **host, int *port, const char **unix_path);
struct logincache *store_logins(const store_t *st);
/* Redis TIME now (ms), from our clock and the offset last sampled on the current link; false
 * when there is no sample on it yet (then ask Redis). */
bool store_redis_now(const store_t *st, int64_t *now_ms);

/* ---- Session lifecycle helpers (store/lifecycle.c) and the sweeper (store/sweeper.c) -------- */

/* What an expiry does, as core/ says: the state ACTIVE + expire leads to, and the expiry
 * message as stored JSON text. Computed once. */
const char *expiry_next_state(void);
const char *expiry_message_json(void);
/* The state machine's answer in ch as the scripts read it: "STATE=NEXT/T ..." for every state
 * the event is allowed in (T 1 when NEXT is terminal). session_change.lua and
 * session_complete.lua look the record's state up in it. */
void session_change_encode(const session_change_t *ch, char *out, size_t size);
/* PX of an item lock: 2 x session timeout + 60 s, a backstop only (see store/keys.c). */
int64_t lock_backstop_ms(const store_config_t *cfg);

typedef struct sweeper sweeper_t;
sweeper_t *sweeper_new(store_t *st);
void sweeper_free(sweeper_t *sw);
void sweeper_stats(const sweeper_t *sw, store_sweep_stats_t *out);
/* Runs the store_on_expired hook, if any, for one session the sweeper expired (called from
 * the sweeper's reply function, so from the event loop). */
void store_expired(store_t *st, const char *session_id);
/* Hands a requested complete this instance's sweep claimed to the store_on_completion_due hook. */
void store_completion_due(store_t *st, const char *session_id);
/* The message completions_due.lua records when a pull's mover died during a complete, with
 * "\u0001" where the file's name goes (store/lifecycle.c). */
const char *pull_lost_message_json(void);
/* "PUSH=<state> PULL=<state>": what a transfer whose lease lapsed is read as, per source type
 * (core/transfer.c transfer_lapsed_state), as the scripts take it. */
const char *lapsed_states_arg(void);
/* Logs one line through the store_set_log hook (stderr "store: ..." without one): store_log at
 * level warn (what store/ reports is something going wrong, or the link), store_log_at at the
 * level given. */
void store_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void store_log_at(store_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Counts a session transition for store_session_counts (from reply functions). */
void store_count_transition(session_state_t to, uint64_t n);
void store_count_expired(uint64_t n);

/* ---- Decoding replies (store/codec.c) ------------------------------------------------------ */

/* String element i of an array reply, or NULL. */
const char *reply_str(const struct redisReply *r, size_t i);
/* The number of elements of an array reply (0 for anything else). */
size_t reply_len(const struct redisReply *r);
/* The value of field `name` in the field/value pairs of r from element `first` on; NULL if
 * absent. */
const char *reply_field(const struct redisReply *r, size_t first, const char *name);
/* Integer element i (an integer, or a string holding one); C_ERR otherwise. */
int reply_i64(const struct redisReply *r, size_t i, int64_t *out);

/* Reply functions shared by the typed operations: store_done_cb gets element 1 as detail;
 * store_ids_cb gets elements 1.. as the ids. */
void reply_done(store_status_t s, const struct redisReply *r, store_fn_t cb, void *arg);
void reply_ids(store_status_t s, const struct redisReply *r, store_fn_t cb, void *arg);
/* item and library delete: {'OK', sessions ended}; counts them (canceled), detail NULL. */
void reply_deleted(store_status_t s, const struct redisReply *r, store_fn_t cb, void *arg);

/* A record field <-> struct member map, so encoding (HSET arguments) and decoding (HGETALL
 * answers) of a model are one table each, not hand-written per operation. */
typedef enum {
    FT_STR,     /* char[size] */
    FT_I64,     /* int64_t */
    FT_INT,     /* int */
    FT_BOOL,    /* bool, "1" / "0" */
    FT_LIBTYPE, /* library_type_t, by name */
    FT_STATE    /* session_state_t, by name */
} field_type_t;

typedef struct {
    const char *name;
    field_type_t type;
    size_t off;
    size_t size;
    bool server_filled; /* written by the script, not by encode */
} store_field_t;

#define FIELD(n, t, s, m) {n, t, offsetof(s, m), sizeof(((s *)0)->m), false}

/* Appends "name", value for every field that is not server_filled. */
void fields_encode(store_cmd_t *c, const store_field_t *f, size_t nf, const void *obj);
/* Fills obj from the field/value pairs of r starting at element `first`. Pairs whose name is
 * not in the table go to extra (may be NULL), which returns C_ERR to reject the record.
 * C_ERR on a malformed value. */
typedef int (*field_extra_fn)(void *obj, const char *name, const char *value, size_t len);
int fields_decode(const store_field_t *f, size_t nf, void *obj, const struct redisReply *r,
                  size_t first, field_extra_fn extra);

/* JSON text of a json-c value, valid until the value is put. */
const char *json_text(struct json_object *o);
/* Parses stored JSON text (NULL when malformed). */
struct json_object *json_parse_stored(const char *text, size_t len);

#endif
