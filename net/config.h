/* net/config.h: the command line (a contract operators and scripts depend on), its defaults,
 * and --help. */
#ifndef NET_CONFIG_H
#define NET_CONFIG_H

#include <limits.h>
#include "core/netpolicy.h"
#include "net/http.h"
#include "store/store.h"

typedef struct {
    char listen_host[256];
    int listen_port;
    char redis_host[256];
    int redis_port;
    char redis_unix[PATH_MAX];
    /* --redis sentinel://HOST:PORT[,HOST:PORT...]/MASTER (redis_sentinels = 0 otherwise) */
    int redis_sentinels;
    char redis_sentinel_host[STORE_SENTINELS_MAX][256];
    int redis_sentinel_port[STORE_SENTINELS_MAX];
    char redis_master[128];
    int redis_wait_replicas;
    char storage_dir[PATH_MAX];
    char users_file[PATH_MAX];
    char secret_file[PATH_MAX];
    char public_url[512];
    char tls_cert[PATH_MAX];  /* both set: HTTPS; both empty: HTTP */
    char tls_key[PATH_MAX];
    char key_prefix[64];
    int64_t session_timeout_s;
    int64_t retention_s;
    int64_t token_retention_s;
    int64_t login_idle_s;
    int login_workers;
    int login_queue;
    int redis_timeout_ms;
    int json_max_depth;
    int sweep_interval_ms;
    int sweep_batch;
    int transfer_lease_ms;
    int max_files_per_session;
    int64_t max_upload_bytes;
    int64_t min_free_bytes;
    int janitor_interval_ms;
    int64_t scan_interval_s;
    int64_t orphan_grace_s;
    np_cidr_t pull_allow[NP_ALLOW_MAX]; /* --pull-allow, in the order given */
    size_t pull_allow_n;
    http_limits_t http;
    /* operations (issue 11) */
    char admin_host[256];        /* --admin-listen: health and metrics only there ("" = off) */
    int admin_port;
    int drain_ms;                /* SIGTERM: not ready, then serve this long before stopping */
    int64_t events_max;          /* P events stream length (about); 0 = off */
    int log_level;               /* log_level_t (net/log.h) */
    char access_log[PATH_MAX];   /* "" = off, "-" = stderr */
    char config_file[PATH_MAX];  /* --config */
    bool check_config;           /* --check-config: validate, then exit */
} config_t;

/* Parses argv, and the file named by --config first (one "option value" per line, the long
 * option names without dashes, '#' comments; the command line overrides it). Returns C_OK, or
 * C_ERR after logging why (exit 2), or 1 when --help was printed (exit 0). */
int config_parse(config_t *cfg, int argc, char **argv);
/* --check-config: what config_parse cannot see from the text alone: the users file loads, the
 * storage directory is (or can be made) a writable directory, the secret file (when it exists)
 * is usable, the access log can be appended to, the addresses resolve. Logs every problem;
 * C_OK when there is none. Changes nothing. */
int config_check(const config_t *cfg);
/* The upload-token secret's file: --secret-file, else SECRET_FILE_DEFAULT in --storage-dir. */
#define SECRET_FILE_DEFAULT ".secret"
void config_secret_path(const config_t *cfg, char *out, size_t size);
/* The store settings derived from the command line. */
void config_store(const config_t *cfg, store_config_t *out);

#endif
