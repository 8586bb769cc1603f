/* core/file.h: the UpdateSession File service's model (vsphere-api.md 3.3): AddSpec, File.Info of
 * a file in a session, the item's own files, and their validation. Pure: no I/O. */
#ifndef CORE_FILE_H
#define CORE_FILE_H

#include "core/errors.h"

#define FILE_NAME_MAX 256   /* names are at most 255 bytes */
#define URI_MAX 2048
#define THUMBPRINT_MAX 128  /* "AA:BB:..." SHA-1 = 59 chars */
#define CHECKSUM_MAX 129    /* SHA-512 hex + NUL */
#define BLOB_ID_MAX 40      /* a UUID: the file's name on disk */
#define UPLOAD_TOKEN_MAX 65 /* 32 random bytes in hex */
#define HOLDER_MAX 128      /* an instance's name: "host:port/pid" */

typedef enum { SOURCE_NONE, SOURCE_PUSH, SOURCE_PULL, SOURCE_TYPE_COUNT } source_type_t;
typedef enum {
    TRANSFER_WAITING_FOR_TRANSFER,
    TRANSFER_TRANSFERRING,
    TRANSFER_READY,
    TRANSFER_VALIDATING,
    TRANSFER_ERROR,
    TRANSFER_STATUS_COUNT
} transfer_status_t;
typedef enum { CHECKSUM_SHA1, CHECKSUM_MD5, CHECKSUM_SHA256, CHECKSUM_SHA512, CHECKSUM_ALG_COUNT } checksum_alg_t;

const char *source_type_name(source_type_t t);          /* "NONE", "PUSH", "PULL" */
int source_type_parse(const char *s, source_type_t *out);
const char *transfer_status_name(transfer_status_t t);  /* "WAITING_FOR_TRANSFER", ... */
int transfer_status_parse(const char *s, transfer_status_t *out);
const char *checksum_alg_name(checksum_alg_t a);        /* "SHA1", "MD5", "SHA256", "SHA512" */
int checksum_alg_parse(const char *s, checksum_alg_t *out);
size_t checksum_hex_len(checksum_alg_t a);              /* 40, 32, 64, 128 */

typedef struct {
    bool present;
    checksum_alg_t algorithm; /* SHA1 when the client left it unset */
    char checksum[CHECKSUM_MAX]; /* lower-case hex */
} checksum_info_t;

/* AddSpec. */
typedef struct {
    char name[FILE_NAME_MAX];
    source_type_t source_type;      /* PUSH or PULL */
    bool has_size;
    int64_t size;
    checksum_info_t checksum;       /* expected */
    char source_uri[URI_MAX];       /* PULL: http:// or https:// */
    char source_thumbprint[THUMBPRINT_MAX]; /* PULL: optional SHA-1 thumbprint to pin */
} file_spec_t;

/* A file of an update session (File.Info plus what the server keeps to run the transfer). */
typedef struct {
    char name[FILE_NAME_MAX];
    source_type_t source_type;
    bool has_size;
    int64_t size;                   /* declared size, or the received size once READY */
    checksum_info_t expected;       /* what the client declared (verified on arrival) */
    checksum_info_t received;       /* what arrived (set when READY) */
    char source_uri[URI_MAX];
    char source_thumbprint[THUMBPRINT_MAX];
    char upload_token[UPLOAD_TOKEN_MAX]; /* PUSH: the capability in upload_endpoint.uri */
    char blob[BLOB_ID_MAX];         /* the file's name on disk (unique per upload attempt) */
    int64_t bytes_transferred;
    transfer_status_t status;
    bool has_error_message;
    vapi_message_t error_message;
    bool removed;                   /* DELETE .../file/{name}: takes effect on complete */
    /* The transfer's mover (core/transfer.h): who moves the bytes and until when. */
    char attempt[BLOB_ID_MAX];      /* the transfer attempt holding the lease ("" if none) */
    char holder[HOLDER_MAX];        /* the instance moving the bytes, for operators */
    int64_t lease_ms;               /* Redis time (ms) at which the mover's lease lapses */
    bool lapsed;                    /* read as TRANSFERRING with a lapsed lease (status shows
                                       transfer_lapsed_state()) */
    int64_t staged;                 /* PUSH: durable bytes of the blob's staged prefix, the
                                       offset a resume (PATCH) continues from */
} session_file_t;

/* A file of a library item (item File.Info: name, size, cached, version, checksum_info). */
typedef struct {
    char name[FILE_NAME_MAX];
    int64_t size;
    checksum_info_t checksum;
    char version[16];
    char blob[BLOB_ID_MAX];
} item_file_t;

/* File names: 1..255 bytes of valid UTF-8, no '/', '\\', control characters, not "." or "..",
 * and no ".." path segment. The only client text that ever becomes part of a path. */
int check_file_name(const char *field, const char *name, vapi_failure_t *f);

struct json_object;
/* AddSpec decoding (prefix "" on /api, "file_spec." on /rest): name, source_type required;
 * PULL requires source_endpoint.uri (http/https only: other schemes INVALID_ARGUMENT);
 * negative size, unknown checksum algorithm, or a checksum that is not hex of the algorithm's
 * length: INVALID_ARGUMENT naming the field. */
int spec_file_add(struct json_object *body, const char *prefix, file_spec_t *out, vapi_failure_t *f);

#endif
