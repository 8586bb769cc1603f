/* net/ops_file.c: the UpdateSession File service (vsphere-api.md 3) and the item's file list:
 * add, get, list, remove, validate. The data itself moves in net/data/ (net/data/data.h). In /api the
 * session is the path id and the file name a path segment; in /rest the session is the path id
 * (or ?update_session_id= for list) and the name the body's file_name. */
#include <json-c/json.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_field.h"
#include "core/spec.h"
#include "core/validate.h"
#include "net/api.h"
#include "net/secret.h"
#include "net/data/data.h"

/* The session a file operation is about: path id, else ?update_session_id= (required then). */
static bool file_session(call_t *c) {
    char item[ID_MAX];
    vapi_failure_t f;
    if (!c->id[0] && !http_query_param(c->req, "update_session_id", c->id, sizeof(c->id))) {
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "missing_parameter",
                  "The query parameter update_session_id is required.", NULL);
        call_fail(c, &f);
        return false;
    }
    call_subject(c, "update session", c->id);
    if (parse_session_id(c->id, item)) return true;
    call_fail_store(c, ST_NOT_FOUND, NULL);
    return false;
}

/* A required string parameter (body field, or query parameter on GET). */
static const char *required_param(call_t *c, const char *field, char *buf, size_t size) {
    vapi_failure_t f;
    param_status_t pst;
    const char *v = call_param(c, field, buf, size, &pst);
    if (pst != PARAM_OK)
        call_param_failure(field, pst, &f);
    else if (!v || !v[0])
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "field_required", "The field {0} is required.", field,
                  NULL);
    else
        return v;
    call_fail(c, &f);
    return NULL;
}

/* The file name: path segment (/api), else the body's file_name (/rest). Kept in c->aux for
 * messages. */
static bool file_name(call_t *c) {
    vapi_failure_t f;
    char buf[FILE_NAME_MAX];
    const char *name = c->name[0] ? c->name : required_param(c, "file_name", buf, sizeof(buf));
    if (!name) return false;
    if (check_file_name("file_name", name, &f) != C_OK) { call_fail(c, &f); return false; }
    copy_str(c->aux, sizeof(c->aux), name);
    return true;
}

/* A file as a client reads it: the upload URI's token is derived again from the record's
 * nonce (the store only hands the nonce to the session's owner: net/secret.h). */
static struct json_object *file_json(call_t *c, const session_file_t *f) {
    session_file_t shown = *f;
    if (shown.upload_nonce[0])
        secret_upload_token(c->app->upload_secret, c->id, shown.name, shown.upload_nonce,
                            shown.upload_token);
    char base[PUBLIC_URL_MAX];
    return session_file_to_json(&shown, call_public_url(c, base, sizeof(base)));
}

static void on_file(void *arg, store_status_t st, const session_file_t *f) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    call_reply(c, file_json(c, f));
}

/* After the store recorded an added file: a PULL starts now, on this instance, under the
 * attempt chosen below. A replaced file's blob went on the garbage list. */
static void on_file_added(void *arg, store_status_t st, const session_file_t *f) {
    call_t *c = arg;
    if (st == ST_OK) {
        if (f->source_type == SOURCE_PULL) data_pull_start(c->app->data, c->id, f);
        data_garbage_made(c->app->data);
    }
    on_file(arg, st, f);
}

/* POST .../file (AddSpec, or {"file_spec": AddSpec}; also ?action=add). */
void op_file_add(call_t *c) {
    if (!file_session(c)) return;
    file_spec_t fs;
    vapi_failure_t f;
    const char *prefix;
    if (call_file_add_spec(c, &fs, &prefix, &f) != C_OK) { call_fail(c, &f); return; }
    if (fs.source_type == SOURCE_PULL) {
        /* Refused here (a literal address, a URI no pull can use): nothing is recorded. */
        char field[JSON_FIELD_MAX];
        json_field_name(field, prefix, "source_endpoint.uri");
        if (data_pull_check(c->app->data, fs.source_uri, field, &f) != C_OK) {
            call_fail(c, &f);
            return;
        }
    }
    session_file_t rec;
    memset(&rec, 0, sizeof(rec));
    copy_str(rec.name, sizeof(rec.name), fs.name);
    copy_str(c->aux, sizeof(c->aux), fs.name);
    rec.source_type = fs.source_type;
    rec.has_size = fs.has_size;
    rec.size = fs.size;
    rec.expected = fs.checksum;
    if (fs.source_type == SOURCE_PUSH) {
        /* The token is derived, never stored; the store indexes its hash (net/secret.h). */
        if (secret_new_nonce(rec.upload_nonce) != C_OK) { call_fail_store(c, ST_INTERNAL, NULL); return; }
        secret_upload_token(c->app->upload_secret, c->id, rec.name, rec.upload_nonce,
                            rec.upload_token);
        rec.status = TRANSFER_WAITING_FOR_TRANSFER;
    } else {
        copy_str(rec.source_uri, sizeof(rec.source_uri), fs.source_uri);
        copy_str(rec.source_thumbprint, sizeof(rec.source_thumbprint), fs.source_thumbprint);
        /* The pull's lease: a new attempt, held by this instance, into a new blob. */
        new_uuid(rec.blob);
        new_uuid(rec.attempt);
        copy_str(rec.holder, sizeof(rec.holder), data_instance(c->app->data));
        rec.status = TRANSFER_TRANSFERRING;
    }
    store_file_add(c->app->store, &c->auth, c->id, &rec, on_file_added, c);
}

void op_file_get(call_t *c) {
    if (!file_session(c) || !file_name(c)) return;
    store_file_get(c->app->store, &c->auth, c->id, c->aux, on_file, c);
}

static void on_files(void *arg, store_status_t st, const session_file_t *files, size_t n) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    struct json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++)
        json_object_array_add(a, file_json(c, &files[i]));
    call_reply(c, a);
}

/* A read: every state while the session exists (govc library.session.ls -i lists the files of
 * finished sessions too). */
void op_file_list(call_t *c) {
    if (!file_session(c)) return;
    store_file_list(c->app->store, &c->auth, c->id, false, on_files, c);
}

/* A removed file's transfer on this instance ends at once (elsewhere: at its next heartbeat);
 * its staged blob went on the garbage list. */
static void on_file_removed(void *arg, store_status_t st, const char *detail) {
    call_t *c = arg;
    if (st == ST_OK) {
        data_stop(c->app->data, c->id, c->aux, DATA_FILE_REMOVED);
        data_garbage_made(c->app->data);
    }
    call_on_void(arg, st, detail);
}

void op_file_remove(call_t *c) {
    if (!file_session(c) || !file_name(c)) return;
    store_file_remove(c->app->store, &c->auth, c->id, c->aux, on_file_removed, c);
}

/* ValidationResult: PUSH files not received yet are missing, files in ERROR are invalid. */
static void on_validate_files(void *arg, store_status_t st, const session_file_t *files, size_t n) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    struct json_object *missing = json_object_new_array(), *invalid = json_object_new_array();
    for (size_t i = 0; i < n; i++) {
        const session_file_t *f = &files[i];
        if (f->status == TRANSFER_ERROR) {
            struct json_object *e = json_object_new_object();
            json_object_object_add(e, "name", json_object_new_string(f->name));
            vapi_message_t why;
            if (f->has_error_message) why = f->error_message;
            else vapi_message_set(&why, "file_transfer_failed", "The transfer of file {0} failed.", f->name, NULL);
            json_object_object_add(e, "error_message", message_to_json(&why));
            json_object_array_add(invalid, e);
        } else if (f->source_type == SOURCE_PUSH && f->status != TRANSFER_READY) {
            json_object_array_add(missing, json_object_new_string(f->name));
        }
    }
    struct json_object *o = json_object_new_object();
    bool errors = json_object_array_length(missing) + json_object_array_length(invalid) > 0;
    json_object_object_add(o, "has_errors", json_object_new_boolean(errors));
    json_object_object_add(o, "missing_files", missing);
    json_object_object_add(o, "invalid_files", invalid);
    call_reply(c, o);
}

void op_file_validate(call_t *c) {
    if (!file_session(c)) return;
    store_file_list(c->app->store, &c->auth, c->id, true, on_validate_files, c);
}

/* The item's files, or one of them (?name= on /api, body "name" on /rest's ~action=get). */
static void on_item_files(void *arg, store_status_t st, const item_file_t *files, size_t n) {
    call_t *c = arg;
    if (st != ST_OK) { call_fail_store(c, st, NULL); return; }
    if (!c->aux[0]) {
        struct json_object *a = json_object_new_array_ext((int)n);
        for (size_t i = 0; i < n; i++) json_object_array_add(a, item_file_to_json(&files[i]));
        call_reply(c, a);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(files[i].name, c->aux) == 0) { call_reply(c, item_file_to_json(&files[i])); return; }
    vapi_failure_t f;
    vapi_fail(&f, VAPI_NOT_FOUND, "item_file_not_found",
              "The library item {0} has no file named {1}.", c->id, c->aux, NULL);
    call_fail(c, &f);
}

/* GET .../item/{id}/file lists; ?name= (/api) or ~action=get with {"name"} (/rest) asks for
 * one file, and then the name is required. */
void op_item_files(call_t *c) {
    if (!c->id[0]) http_query_param(c->req, "library_item_id", c->id, sizeof(c->id));
    call_subject(c, "library item", c->id);
    if (!valid_resource_id(c->id)) { call_fail_store(c, ST_NOT_FOUND, NULL); return; }
    char name[FILE_NAME_MAX];
    bool one = c->op->action != NULL || http_query_param(c->req, "name", name, sizeof(name));
    if (one) {
        const char *wanted = required_param(c, "name", name, sizeof(name));
        if (!wanted) return;
        copy_str(c->aux, sizeof(c->aux), wanted);
    }
    store_item_files(c->app->store, &c->auth, c->id, on_item_files, c);
}
