/* net/config.c: the command line and the config file. One table lists every option with its
 * default and help text, so --help, parsing, the config file and the README never disagree.
 * Values are applied in this order: defaults, the --config file, the command line (each later
 * one wins). */
#include "net/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/common.h"
#include "net/log.h"
#include "net/secret.h"
#include "net/users.h"

typedef enum {
    OPT_ADDR, OPT_REDIS, OPT_PATH, OPT_STR, OPT_INT, OPT_SIZE,
    OPT_CIDRS,  /* a CIDR list (--pull-allow), repeatable */
    OPT_ADMIN,  /* HOST:PORT into admin_host/admin_port, "" = off */
    OPT_LEVEL,  /* a log level name (net/log.h) into an int */
    OPT_CONFIG  /* --config: read before the command line, never from a file */
} opt_kind_t;

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
    {"pull-allow", OPT_CIDRS, "CIDR[,CIDR...]", "none", "networks a PULL may reach although they are loopback, private, link-local, ... or this server's own address (repeatable)", F(pull_allow), 0, 0},
    {"idle-timeout-ms", OPT_INT, "MS", "60000", "idle keep-alive connections close after this", F(http.idle_timeout_ms), 10, 3600000},
    {"tls-cert", OPT_PATH, "FILE", "", "PEM certificate (chain): --listen speaks HTTPS (TLS 1.2+); needs --tls-key", F(tls_cert), 0, 0},
    {"tls-key", OPT_PATH, "FILE", "", "PEM private key of --tls-cert", F(tls_key), 0, 0},
    {"max-connections-per-client", OPT_INT, "N", "64", "open connections one client address may hold; past it a new one is answered 503 with Retry-After", F(http.max_connections_per_client), 1, 1 << 20},
    {"admin-listen", OPT_ADMIN, "HOST:PORT", "", "serve /livez, /readyz and /metrics on this address only (not on --listen)", F(admin_host), 0, 0},
    {"drain-ms", OPT_INT, "MS", "5000", "on SIGTERM, /readyz answers 503 and requests are still served this long before the server stops (0: stop at once)", F(drain_ms), 0, 600000},
    {"events-max", OPT_INT, "N", "100000", "entries the Redis stream <prefix>events keeps, about (0: no stream)", F(events_max), 0, 1000000000},
    {"log-level", OPT_LEVEL, "LEVEL", "info", "lowest level logged on stderr: debug, info, warn or error", F(log_level), 0, 0},
    {"access-log", OPT_PATH, "FILE", "", "one line per request appended to FILE ('-': stderr); reopened on SIGHUP", F(access_log), 0, 0},
    {"config", OPT_CONFIG, "FILE", "", "read options from FILE first: one 'option value' per line, '#' comments; the command line wins", F(config_file), 0, 0},
    {"redis-wait-replicas", OPT_INT, "N", "0", "after every acknowledged change, wait for N Redis replicas (WAIT, within the Redis timeout); fewer: 503", F(redis_wait_replicas), 0, 100},
};

void config_secret_path(const config_t *cfg, char *out, size_t size) {
    if (cfg->secret_file[0])
        copy_str(out, size, cfg->secret_file);
    else
        snprintf(out, size, "%s/" SECRET_FILE_DEFAULT, cfg->storage_dir);
}

/* What --help says for an empty default. */
static const char *default_text(const option_t *o) {
    if (o->def[0]) return o->def;
    if (strcmp(o->name, "secret-file") == 0) return "<storage-dir>/" SECRET_FILE_DEFAULT;
    if (strcmp(o->name, "public-url") == 0) return "the request's scheme and Host";
    return "none";
}

static void usage(FILE *out) {
    fprintf(out, "usage: update-sessiond [options]\n\n"
                 "Serves the vSphere Content Library update session API (/api and /rest).\n\n");
    for (size_t i = 0; i < ARRAY_LEN(options); i++) {
        char left[64];
        snprintf(left, sizeof(left), "--%s %s", options[i].name, options[i].metavar);
        fprintf(out, "  %-34s %s (default: %s)\n", left, options[i].help,
                default_text(&options[i]));
    }
    fprintf(out, "  %-34s %s\n", "--check-config",
            "check the options, the users file and the storage directory, then exit (0: fine, "
            "2: not)");
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

/* Applies one option value; logs the reason on error (where: "" or "FILE:LINE: "). */
static int apply(config_t *cfg, const option_t *o, const char *v, const char *where) {
    char *base = (char *)cfg;
    switch (o->kind) {
    case OPT_ADDR:
        if (parse_addr(v, cfg->listen_host, sizeof(cfg->listen_host), &cfg->listen_port) == C_OK) return C_OK;
        break;
    case OPT_ADMIN:
        cfg->admin_host[0] = '\0';
        cfg->admin_port = 0;
        if (!v[0] ||
            parse_addr(v, cfg->admin_host, sizeof(cfg->admin_host), &cfg->admin_port) == C_OK)
            return C_OK;
        break;
    case OPT_LEVEL: {
        log_level_t level;
        if (log_level_parse(v, &level) != C_OK) break;
        cfg->log_level = (int)level;
        return C_OK;
    }
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
    case OPT_CONFIG:
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
    case OPT_CIDRS: { /* appends: the option may be given several times */
        char why[NP_WHY_MAX];
        if (np_cidr_list_parse(v, cfg->pull_allow, NP_ALLOW_MAX, &cfg->pull_allow_n, why,
                               sizeof(why)) == C_OK)
            return C_OK;
        fprintf(stderr, "update-sessiond: --%s: %s\n", o->name, why);
        break;
    }
    }
    char range[64] = "";
    if (o->kind == OPT_INT || o->kind == OPT_SIZE)
        snprintf(range, sizeof(range), " between %lld and %lld", (long long)o->min,
                 (long long)o->max);
    log_msg(LV_ERROR, "%sinvalid value '%s' for --%s (expected %s%s)", where, v, o->name,
            o->metavar, range);
    return C_ERR;
}

static const option_t *find_option(const char *name) {
    for (size_t i = 0; i < ARRAY_LEN(options); i++)
        if (strcmp(options[i].name, name) == 0) return &options[i];
    return NULL;
}

/* The config file: "option value" per line, the long option name without its dashes; blank
 * lines and lines starting with '#' are skipped, and so is a comment after the value that
 * starts with whitespace and '#'. The value is the rest of the line, trimmed. */
static int read_config_file(config_t *cfg, const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        log_msg(LV_ERROR, "cannot read --config %s: %s", path, strerror(errno));
        return C_ERR;
    }
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = C_OK;
    while (rc == C_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        char where[PATH_MAX + 32];
        snprintf(where, sizeof(where), "%s:%d: ", path, lineno);
        char *p = line + strspn(line, " \t\r\n");
        if (!*p || *p == '#') continue;
        for (char *h = p; (h = strchr(h, '#')) != NULL; h++)
            if (h[-1] == ' ' || h[-1] == '\t') { *h = '\0'; break; }
        size_t end = strlen(p);
        while (end > 0 && strchr(" \t\r\n", p[end - 1])) p[--end] = '\0';
        char *name = p;
        char *value = p + strcspn(p, " \t");
        if (*value) *value++ = '\0';
        value += strspn(value, " \t");
        const option_t *o = find_option(name);
        if (!o || o->kind == OPT_CONFIG) {
            log_msg(LV_ERROR, "%s%s '%s'", where,
                    o ? "a config file cannot name another one:" : "unknown option", name);
            rc = C_ERR;
        } else if (!*value && o->def[0]) {
            log_msg(LV_ERROR, "%soption '%s' has no value", where, name);
            rc = C_ERR;
        } else {
            rc = apply(cfg, o, value, where);
        }
    }
    free(line);
    fclose(f);
    return rc;
}

#define OPT_HELP 1000
#define OPT_CHECK 1001

/* Two passes over argv: the first only finds --config, --check-config and --help (and reports
 * what getopt refuses), the second applies the options over the file's values. */
int config_parse(config_t *cfg, int argc, char **argv) {
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < ARRAY_LEN(options); i++)
        if (options[i].kind != OPT_CIDRS && apply(cfg, &options[i], options[i].def, "") != C_OK)
            return C_ERR; /* a list's default ("none") is the empty list (memset) */

    struct option longopts[ARRAY_LEN(options) + 3];
    for (size_t i = 0; i < ARRAY_LEN(options); i++)
        longopts[i] = (struct option){options[i].name, required_argument, NULL, (int)i};
    longopts[ARRAY_LEN(options)] = (struct option){"help", no_argument, NULL, OPT_HELP};
    longopts[ARRAY_LEN(options) + 1] =
        (struct option){"check-config", no_argument, NULL, OPT_CHECK};
    longopts[ARRAY_LEN(options) + 2] = (struct option){0, 0, 0, 0};

    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == OPT_HELP) { usage(stdout); return 1; }
        if (c == OPT_CHECK) { cfg->check_config = true; continue; }
        if (c < 0 || (size_t)c >= ARRAY_LEN(options)) { usage(stderr); return C_ERR; }
        if (options[c].kind == OPT_CONFIG && apply(cfg, &options[c], optarg, "") != C_OK)
            return C_ERR;
    }
    if (optind < argc) {
        log_msg(LV_ERROR, "unexpected argument '%s'", argv[optind]);
        return C_ERR;
    }
    if (cfg->config_file[0] && read_config_file(cfg, cfg->config_file) != C_OK) return C_ERR;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (c >= 0 && (size_t)c < ARRAY_LEN(options) && options[c].kind != OPT_CONFIG &&
            apply(cfg, &options[c], optarg, "") != C_OK)
            return C_ERR;
    if (cfg->admin_host[0] && strcmp(cfg->admin_host, cfg->listen_host) == 0 &&
        cfg->admin_port == cfg->listen_port) {
        log_msg(LV_ERROR, "--admin-listen must differ from --listen (%s:%d)", cfg->listen_host,
                cfg->listen_port);
        return C_ERR;
    }
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        fprintf(stderr, "update-sessiond: --tls-cert and --tls-key go together (give both for "
                        "HTTPS, or neither)\n");
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
    out->events_max = cfg->events_max;
}

/* ---- --check-config ------------------------------------------------------------------------ */

/* The nearest existing ancestor of path (path itself when it exists) into out. */
static void existing_ancestor(const char *path, char *out, size_t size) {
    copy_str(out, size, path);
    struct stat sb;
    while (stat(out, &sb) != 0) {
        char *slash = strrchr(out, '/');
        if (!slash) { copy_str(out, size, "."); return; }
        if (slash == out) { out[1] = '\0'; return; }
        *slash = '\0';
    }
}

/* A directory we could use (or create: its nearest existing ancestor is a writable directory). */
static int check_dir(const char *what, const char *path) {
    char at[PATH_MAX];
    existing_ancestor(path, at, sizeof(at));
    struct stat sb;
    if (stat(at, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        log_msg(LV_ERROR, "%s %s: %s is not a directory", what, path, at);
        return C_ERR;
    }
    if (access(at, W_OK | X_OK) != 0) {
        log_msg(LV_ERROR, "%s %s: %s is not writable: %s", what, path, at, strerror(errno));
        return C_ERR;
    }
    return C_OK;
}

/* A file to create or append to: writable if it exists, else its directory usable. */
static int check_writable_file(const char *what, const char *path) {
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode) || access(path, W_OK) != 0) {
            log_msg(LV_ERROR, "%s %s is not a writable file", what, path);
            return C_ERR;
        }
        return C_OK;
    }
    char dir[PATH_MAX];
    copy_str(dir, sizeof(dir), path);
    char *slash = strrchr(dir, '/');
    if (!slash) copy_str(dir, sizeof(dir), ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    return check_dir(what, dir);
}

static int check_resolves(const char *what, const char *host, int port) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    int rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
    if (rc != 0) {
        log_msg(LV_ERROR, "%s %s:%d: %s", what, host, port, gai_strerror(rc));
        return C_ERR;
    }
    freeaddrinfo(res);
    return C_OK;
}

int config_check(const config_t *cfg) {
    int rc = C_OK;
    users_t *users = users_load(cfg->users_file); /* logs what is wrong */
    if (!users) rc = C_ERR;
    users_free(users);
    if (check_dir("--storage-dir", cfg->storage_dir) != C_OK) rc = C_ERR;
    char secret[PATH_MAX + 16];
    config_secret_path(cfg, secret, sizeof(secret));
    struct stat sb;
    if (stat(secret, &sb) == 0) {
        unsigned char key[SECRET_BYTES];
        const char *why = "";
        if (secret_load(secret, key, &why) != C_OK) {
            log_msg(LV_ERROR, "the secret file %s: %s", secret, why);
            rc = C_ERR;
        }
        explicit_bzero(key, sizeof(key));
    } else if (check_writable_file("the secret file", secret) != C_OK) {
        rc = C_ERR;
    }
    if (cfg->access_log[0] && strcmp(cfg->access_log, "-") != 0 &&
        check_writable_file("--access-log", cfg->access_log) != C_OK)
        rc = C_ERR;
    if (check_resolves("--listen", cfg->listen_host, cfg->listen_port) != C_OK) rc = C_ERR;
    if (cfg->admin_host[0] &&
        check_resolves("--admin-listen", cfg->admin_host, cfg->admin_port) != C_OK)
        rc = C_ERR;
    if (!cfg->redis_unix[0] && check_resolves("--redis", cfg->redis_host, cfg->redis_port) != C_OK)
        rc = C_ERR;
    return rc;
}
