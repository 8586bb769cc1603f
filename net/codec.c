/* net/codec.c: the JSON shapes of the models on the wire (vsphere-api.md 2.4, 7.1, 7.2).
 * Both flavours use the same shapes; only the wrapping differs (net/call.c). Optional fields
 * are omitted when unset, required ones always present. */
#include <event2/http.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/spec.h"
#include "core/validate.h"
#include "net/api.h"

static void add_str(struct json_object *o, const char *key, const char *v) {
    json_object_object_add(o, key, json_object_new_string(v));
}

static void add_time(struct json_object *o, const char *key, int64_t ms) {
    char buf[40];
    format_iso8601(ms, buf, sizeof(buf));
    add_str(o, key, buf);
}

struct json_object *session_to_json(const update_session_t *s) {
    struct json_object *o = json_object_new_object();
    add_str(o, "id", s->id);
    add_str(o, "library_item_id", s->library_item_id);
    add_str(o, "library_item_content_version", s->library_item_content_version);
    json_object_object_add(o, "client_progress", json_object_new_int64(s->client_progress));
    add_str(o, "state", session_state_name(s->state));
    add_time(o, "expiration_time", s->expiration_ms);
    if (s->has_error_message)
        json_object_object_add(o, "error_message", message_to_json(&s->error_message));
    if (s->has_warning_behavior)
        json_object_object_add(o, "warning_behavior", warning_behavior_to_json(&s->warning_behavior));
    return o;
}

struct json_object *library_to_json(const library_t *l) {
    struct json_object *o = json_object_new_object();
    add_str(o, "id", l->id);
    add_str(o, "name", l->name);
    add_str(o, "description", l->description);
    add_str(o, "type", library_type_name(l->type));
    add_time(o, "creation_time", l->creation_ms);
    add_time(o, "last_modified_time", l->last_modified_ms);
    add_str(o, "version", l->version);
    struct json_object *backings = json_object_new_array();
    for (int i = 0; i < l->nbackings; i++) {
        const storage_backing_t *b = &l->backings[i];
        struct json_object *bo = json_object_new_object();
        add_str(bo, "type", b->type);
        if (b->datastore_id[0]) add_str(bo, "datastore_id", b->datastore_id);
        if (b->storage_uri[0]) add_str(bo, "storage_uri", b->storage_uri);
        json_object_array_add(backings, bo);
    }
    json_object_object_add(o, "storage_backings", backings);
    if (l->subscription_info_json) {
        struct json_object *si = json_tokener_parse(l->subscription_info_json);
        if (si) json_object_object_add(o, "subscription_info", si);
    }
    return o;
}

struct json_object *item_to_json(const item_t *it) {
    struct json_object *o = json_object_new_object();
    add_str(o, "id", it->id);
    add_str(o, "library_id", it->library_id);
    add_str(o, "name", it->name);
    add_str(o, "description", it->description);
    add_str(o, "type", it->type);
    add_str(o, "content_version", it->content_version);
    add_str(o, "metadata_version", it->metadata_version);
    add_str(o, "version", it->version);
    add_time(o, "creation_time", it->creation_ms);
    add_time(o, "last_modified_time", it->last_modified_ms);
    json_object_object_add(o, "size", json_object_new_int64(it->size));
    json_object_object_add(o, "cached", json_object_new_boolean(it->cached));
    return o;
}

struct json_object *ids_to_json(char *const *ids, size_t n) {
    struct json_object *a = json_object_new_array_ext((int)n);
    for (size_t i = 0; i < n; i++) json_object_array_add(a, json_object_new_string(ids[i]));
    return a;
}

static struct json_object *checksum_to_json(const checksum_info_t *c) {
    struct json_object *o = json_object_new_object();
    add_str(o, "algorithm", checksum_alg_name(c->algorithm));
    add_str(o, "checksum", c->checksum);
    return o;
}

/* File.Info of a session file. The upload URI is the capability: public URL + token + name. */
struct json_object *session_file_to_json(const session_file_t *f, const char *public_url) {
    struct json_object *o = json_object_new_object();
    add_str(o, "name", f->name);
    add_str(o, "source_type", source_type_name(f->source_type));
    if (f->has_size) json_object_object_add(o, "size", json_object_new_int64(f->size));
    const checksum_info_t *sum = f->received.present ? &f->received : &f->expected;
    if (sum->present) json_object_object_add(o, "checksum_info", checksum_to_json(sum));
    if (f->source_type == SOURCE_PULL) {
        struct json_object *ep = json_object_new_object();
        add_str(ep, "uri", f->source_uri);
        if (f->source_thumbprint[0]) add_str(ep, "ssl_certificate_thumbprint", f->source_thumbprint);
        json_object_object_add(o, "source_endpoint", ep);
    }
    if (f->source_type == SOURCE_PUSH && f->upload_token[0]) {
        char *name = evhttp_uriencode(f->name, -1, 0);
        struct json_object *ep = json_object_new_object();
        char uri[URI_MAX + 700];
        snprintf(uri, sizeof(uri), "%s/cls/data/%s/%s", public_url, f->upload_token, name ? name : "");
        free(name);
        add_str(ep, "uri", uri);
        json_object_object_add(o, "upload_endpoint", ep);
    }
    json_object_object_add(o, "bytes_transferred", json_object_new_int64(f->bytes_transferred));
    add_str(o, "status", transfer_status_name(f->status));
    if (f->has_error_message)
        json_object_object_add(o, "error_message", message_to_json(&f->error_message));
    return o;
}

/* Item File.Info: name, size, cached, version, checksum_info. */
struct json_object *item_file_to_json(const item_file_t *f) {
    struct json_object *o = json_object_new_object();
    add_str(o, "name", f->name);
    json_object_object_add(o, "size", json_object_new_int64(f->size));
    json_object_object_add(o, "cached", json_object_new_boolean(1));
    add_str(o, "version", f->version);
    if (f->checksum.present) json_object_object_add(o, "checksum_info", checksum_to_json(&f->checksum));
    return o;
}
