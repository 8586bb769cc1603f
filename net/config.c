/* net/config.c: command-line parsing. One table lists every option with its default and help
 * text, so --help, parsing and the README never disagree. */
#include "net/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"

typedef enum { OPT_ADDR, OPT_REDIS, OPT_PATH, OPT_STR, OPT_INT, OPT_SIZE } opt_kind_t;

typedef struct {
    const char *name;
    opt_kind_t kind;
    const char *metavar;
    const char *def; /* default, as text (parsed like a command-line value) */
    const char *help;
    size_t offset;   /* into config_t */
    size_t size;     /* field size for strings */
    int64_t min, max;
} option_t;

#define F(field) offsetof(config_t, field), sizeof(((config_t *)0)->field)

static const option_t options[] = {
    {"listen", OPT_ADDR, "HOST:PORT", "127.0.0.1:8080", "address to serve HTTP on", F(listen_host), 0, 0},
    {"redis", OPT_REDIS, "HOST:PORT|unix:PATH|sentinel://HOST:PORT,.../MASTER", "127.0.0.1:6379", "Redis server (a primary), or the sentinels to ask for the primary of MASTER", F(redis_host), 0, 0},
    {"storage-dir", OPT_PATH, "DIR", "var/storage", "where item files and uploads are stored", F(storage_dir), 0, 0},
    {"users-file", OPT_PATH, "FILE", "var/users", "users: one 'name:crypt-hash:privileges' per line", F(users_file), 0, 0},
    {"secret-file", OPT_PATH, "FILE", "", "the upload-token secret shared by every instance (created if missing)", F(secret_file), 0, 0},
    {"public-url", OPT_STR, "URL", "", "base URL of upload addresses handed to clients", F(public_url), 0, 0},
    {"key-prefix", OPT_STR, "PREFIX", "usd:", "prefix of every Redis key", F(key_prefix), 0, 0},
    {"session-timeout", OPT_INT, "SECONDS", "300", "idle time after which an ACTIVE update session expires", F(session_timeout_s), 1, 86400 * 30},
    {"retention", OPT_INT, "SECONDS", "3600", "how long finished sessions are kept", F(retention_s), 1, 86400 * 365},
    {"token-retention", OPT_INT, "SECONDS", "86400", "how long client_token records are kept", F(token_retention_s), 1, 86400 * 365},
    {"login-idle", OPT_INT, "SECONDS", "1800", "idle time after which a login token is forgotten", F(login_idle_s), 1, 86400 * 30},
    {"login-workers", OPT_INT, "N", "2", "threads that check passwords (off the event loop)", F(login_workers), 1, 64},
    {"login-queue", OPT_INT, "N", "64", "password checks waiting for a worker at most (more: 503 at once)", F(login_queue), 1, 100000},
    {"redis-timeout-ms", OPT_INT, "MS", "2000", "timeout of every Redis call", F(redis_timeout_ms), 10, 600000},
    {"sweep-interval-ms", OPT_INT, "MS", "250", "how often each instance looks for expired sessions (jittered)", F(sweep_interval_ms), 10, 60000},
    {"sweep-batch", OPT_INT, "N", "200", "sessions expired per sweep step at most", F(sweep_batch), 1, 100000},
    {"json-max-depth", OPT_INT, "N", "32", "deepest JSON nesting accepted in a request body", F(json_max_depth), 2, 1000},
    {"max-header-bytes", OPT_SIZE, "BYTES", "16384", "request line and headers larger than this get 431", F(http.max_header_bytes), 1024, 1 << 24},
    {"max-body-bytes", OPT_SIZE, "BYTES", "1048576", "JSON bodies larger than this get 413", F(http.max_body_bytes), 1024, 1 << 30},
    {"max-connections", OPT_INT, "N", "1024", "open client connections at most", F(http.max_connections), 1, 1 << 20},
    {"request-deadline-ms", OPT_INT, "MS", "30000", "a request must arrive whole within this", F(http.request_deadline_ms), 10, 3600000},
    {"transfer-lease-ms", OPT_INT, "MS", "10000", "a transfer's lease: without progress for this long its mover is taken for gone and any instance may take the file over", F(transfer_lease_ms), 100, 3600000},
    {"max-files-per-session", OPT_INT, "N", "1000", "files one update session may hold at most", F(max_files_per_session), 1, 1000000},
    {"max-upload-bytes", OPT_INT, "BYTES", "1099511627776", "largest upload without a declared size", F(max_upload_bytes), 1, INT64_MAX},
    {"min-free-bytes", OPT_INT, "BYTES", "67108864", "free space --storage-dir keeps: an upload that would leave less is refused", F(min_free_bytes), 0, INT64_MAX},
    {"janitor-interval-ms", OPT_INT, "MS", "1000", "how often each instance deletes what the garbage list names", F(janitor_interval_ms), 10, 3600000},
    {"scan-interval-s", OPT_INT, "SECONDS", "3600", "how often each instance scans --storage-dir for what crashed instances left", F(scan_interval_s), 1, 86400 * 30},
    {"orphan-grace-s", OPT_INT, "SECONDS", "900", "a file on disk that Redis does not reference is deleted by the scan only once this old", F(orphan_grace_s), 0, 86400 * 30},
    {"idle-timeout-ms", OPT_INT, "MS", "60000", "idle keep-alive connections close after this", F(http.idle_timeout_ms), 10, 3600000},
    {"redis-wait-replicas", OPT_INT, "N", "0", "after every acknowledged change, wait for N Redis replicas (WAIT, within the Redis timeout); fewer: 503", F(redis_wait_replicas), 0, 100},
};

static void usage(FILE *out) {
    fprintf(out, "usage: update-sessiond [options]\n\n"
                 "Serves the vSphere Content Library update session API (/api and /rest).\n\n");
    for (size_t i = 0; i < ARRAY_LEN(options); i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s %s", options[i].name, options[i].metavar);
        fprintf(out, "  %-34s %s (default: %s)\n", left, options[i].help,
                options[i].def[0] ? options[i].def
                : strcmp(options[i].name, "secret-file") == 0 ? "<storage-dir>/.secret"
                                                               : "http:// + the --listen address");
    }
    fprintf(out, "  %-34s %s\n", "--help", "print this and exit");
}

/* Splits "host:port" (the last ':' separates, so "[::1]:80" and "::1:80" work). */
static int parse_addr(const char *v, char *host, size_t hsize, int *port) {
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v) return C_ERR;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || p < 0 || p > 65535 || end == colon + 1) return C_ERR;
    size_t hl = (size_t)(colon - v);
    if (v[0] == '[' && hl >= 2 && v[hl - 1] == ']') { v++; hl -= 2; }
    if (hl >= hsize) return C_ERR;
    memcpy(host, v, hl);
    host[hl] = '\0';
    *port = (int)p;
    return C_OK;
}

/* sentinel://HOST:PORT[,HOST:PORT...]/MASTER: at most STORE_SENTINELS_MAX addresses; MASTER
 * is a Sentinel master name (letters, digits, . _ -). Prints the reason on error. */
static int parse_sentinel(config_t *cfg, const char *value) {
    const char *v = value + strlen("sentinel://");
    const char *slash = strrchr(v, '/');
    const char *why = NULL;
    if (!slash || !slash[1]) why = "no /MASTER name at the end";
    else if (strlen(slash + 1) >= sizeof(cfg->redis_master)) why = "MASTER name too long";
    for (const char *p = slash ? slash + 1 : ""; !why && *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
            why = "MASTER name may hold only letters, digits, '.', '_' and '-'";
    int n = 0;
    for (const char *p = v; !why;) { /* the elements of the list before the '/' */
        const char *end = memchr(p, ',', (size_t)(slash - p));
        if (!end) end = slash;
        char one[300];
        if (n == STORE_SENTINELS_MAX) why = "more than 16 sentinels";
        else if ((size_t)(end - p) >= sizeof(one)) why = "a sentinel address is too long";
        if (why) break;
        memcpy(one, p, (size_t)(end - p));
        one[end - p] = '\0';
        if (parse_addr(one, cfg->redis_sentinel_host[n], sizeof(cfg->redis_sentinel_host[n]),
                       &cfg->redis_sentinel_port[n]) != C_OK ||
            !cfg->redis_sentinel_host[n][0] || cfg->redis_sentinel_port[n] == 0)
            why = "each sentinel must be HOST:PORT";
        n++;
        if (end == slash) break;
        p = end + 1;
    }
    if (why) {
        fprintf(stderr, "update-sessiond: --redis %s: %s\n", value, why);
        return C_ERR;
    }
    cfg->redis_sentinels = n;
    copy_str(cfg->redis_master, sizeof(cfg->redis_master), slash + 1);
    return C_OK;
}

/* Applies one option value; prints the reason on error. */
static int apply(config_t *cfg, const option_t *o, const char *v) {
    char *base = (char *)cfg;
    switch (o->kind) {
    case OPT_ADDR:
        if (parse_addr(v, cfg->listen_host, sizeof(cfg->listen_host), &cfg->listen_port) == C_OK) return C_OK;
        break;
    case OPT_REDIS:
        cfg->redis_unix[0] = '\0';
        cfg->redis_sentinels = 0;
        cfg->redis_master[0] = '\0';
        if (strncmp(v, "sentinel://", 11) == 0) {
            if (parse_sentinel(cfg, v) == C_OK) return C_OK;
        } else if (strncmp(v, "unix:", 5) == 0) {
            if (v[5] && copy_str(cfg->redis_unix, sizeof(cfg->redis_unix), v + 5) == C_OK) return C_OK;
        } else if (parse_addr(v, cfg->redis_host, sizeof(cfg->redis_host), &cfg->redis_port) == C_OK) {
            return C_OK;
        }
        break;
    case OPT_PATH:
    case OPT_STR:
        if (copy_str(base + o->offset, o->size, v) == C_OK) return C_OK;
        break;
    case OPT_INT:
    case OPT_SIZE: {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno || *end || end == v || n < o->min || n > o->max) break;
        if (o->size == sizeof(int64_t)) *(int64_t *)(base + o->offset) = n;
        else if (o->size == sizeof(int)) *(int *)(base + o->offset) = (int)n;
        else *(size_t *)(base + o->offset) = (size_t)n;
        return C_OK;
    }
    }
    fprintf(stderr, "update-sessiond: invalid value '%s' for --%s (expected %s", v, o->name, o->metavar);
    if (o->kind == OPT_INT || o->kind == OPT_SIZE)
        fprintf(stderr, " between %lld and %lld", (long long)o->min, (long long)o->max);
    fprintf(stderr, ")\n");
    return C_ERR;
}

int config_parse(config_t *cfg, int argc, char **argv) {
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < ARRAY_LEN(options); i++)
        if (apply(cfg, &options[i], options[i].def) != C_OK) return C_ERR;

    struct option longopts[ARRAY_LEN(options) + 2];
    for (size_t i = 0; i < ARRAY_LEN(options); i++)
        longopts[i] = (struct option){options[i].name, required_argument, NULL, (int)i};
    longopts[ARRAY_LEN(options)] = (struct option){"help", no_argument, NULL, 'h' + 1000};
    longopts[ARRAY_LEN(options) + 1] = (struct option){0, 0, 0, 0};

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'h' + 1000) { usage(stdout); return 1; }
        if (c < 0 || (size_t)c >= ARRAY_LEN(options)) { usage(stderr); return C_ERR; }
        if (apply(cfg, &options[c], optarg) != C_OK) return C_ERR;
    }
    if (optind < argc) {
        fprintf(stderr, "update-sessiond: unexpected argument '%s'\n", argv[optind]);
        return C_ERR;
    }
    return C_OK;
}

void config_store(const config_t *cfg, store_config_t *out) {
    memset(out, 0, sizeof(*out));
    out->redis_host = cfg->redis_host;
    out->redis_port = cfg->redis_port;
    out->redis_unix = cfg->redis_unix[0] ? cfg->redis_unix : NULL;
    out->sentinels = cfg->redis_sentinels;
    for (int i = 0; i < cfg->redis_sentinels; i++) {
        out->sentinel_host[i] = cfg->redis_sentinel_host[i];
        out->sentinel_port[i] = cfg->redis_sentinel_port[i];
    }
    out->master_name = cfg->redis_sentinels ? cfg->redis_master : NULL;
    out->wait_replicas = cfg->redis_wait_replicas;
    out->prefix = cfg->key_prefix;
    out->call_timeout_ms = cfg->redis_timeout_ms;
    out->connect_timeout_ms = cfg->redis_timeout_ms;
    out->session_timeout_ms = cfg->session_timeout_s * 1000;
    out->retention_ms = cfg->retention_s * 1000;
    out->token_retention_ms = cfg->token_retention_s * 1000;
    out->login_idle_ms = cfg->login_idle_s * 1000;
    out->sweep_interval_ms = cfg->sweep_interval_ms;
    out->sweep_batch = cfg->sweep_batch;
    out->transfer_lease_ms = cfg->transfer_lease_ms;
    out->max_files_per_session = cfg->max_files_per_session;
}
