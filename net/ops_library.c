/* net/ops_library.c: libraries (local and subscribed) and library items: the resources an
 * update session works on. Each handler decodes and validates with core/spec.c, fills what the
 * server decides (ids, versions), and lets a generic store callback finish the call. */
#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "core/spec.h"
#include "core/validate.h"
#include "net/api.h"

/* Wall-clock time for creation/modification stamps (display only: expiry uses Redis TIME). */
static int64_t wall_clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void op_library_create(call_t *c) {
    library_t lib;
    memset(&lib, 0, sizeof(lib));
    vapi_failure_t f;
    if (spec_library(c->spec, c->prefix, (library_type_t)c->op->library_type, &lib, &f) != C_OK) {
        library_free(&lib);
        call_fail(c, &f);
        return;
    }
    new_uuid(lib.id);
    lib.type = (library_type_t)c->op->library_type;
    lib.creation_ms = lib.last_modified_ms = wall_clock_ms();
    copy_str(lib.version, sizeof(lib.version), "1");
    store_library_create(c->app->store, &c->auth, &lib, call_on_id, c);
    library_free(&lib);
}

void op_library_get(call_t *c) { store_library_get(c->app->store, &c->auth, c->id, call_on_library, c); }

void op_library_list(call_t *c) {
    if (c->op->library_type < 0) {
        store_library_list(c->app->store, &c->auth, call_on_ids, c);
        return;
    }
    library_find_t by_type = {.has_type = true, .type = (library_type_t)c->op->library_type};
    store_library_find(c->app->store, &c->auth, &by_type, call_on_ids, c);
}

void op_library_find(call_t *c) {
    library_find_t spec;
    memset(&spec, 0, sizeof(spec));
    vapi_failure_t f;
    if (spec_library_find(c->spec, c->prefix, &spec, &f) != C_OK) { call_fail(c, &f); return; }
    store_library_find(c->app->store, &c->auth, &spec, call_on_ids, c);
}

void op_library_delete(call_t *c) {
    store_library_delete(c->app->store, &c->auth, c->id, (library_type_t)c->op->library_type,
                         call_on_void, c);
}

void op_item_create(call_t *c) {
    item_t it;
    memset(&it, 0, sizeof(it));
    vapi_failure_t f;
    if (spec_item(c->spec, c->prefix, &it, &f) != C_OK) { call_fail(c, &f); return; }
    new_uuid(it.id);
    copy_str(it.content_version, sizeof(it.content_version), "1");
    copy_str(it.metadata_version, sizeof(it.metadata_version), "1");
    copy_str(it.version, sizeof(it.version), "1");
    it.creation_ms = it.last_modified_ms = wall_clock_ms();
    call_subject(c, "library", it.library_id);
    copy_str(c->aux, sizeof(c->aux), it.name);
    store_item_create(c->app->store, &c->auth, &it, false, call_on_id, c);
}

void op_item_get(call_t *c) { store_item_get(c->app->store, &c->auth, c->id, call_on_item, c); }

/* GET .../item?library_id=L: the parameter is required and must name a library. */
void op_item_list(call_t *c) {
    char lib[ID_MAX];
    vapi_failure_t f;
    if (!http_query_param(c->req, "library_id", lib, sizeof(lib))) {
        vapi_fail(&f, VAPI_INVALID_ARGUMENT, "missing_parameter",
                  "The query parameter library_id is required.", NULL);
        call_fail(c, &f);
        return;
    }
    call_subject(c, "library", lib);
    if (!valid_resource_id(lib)) { call_fail_store(c, ST_NOT_FOUND, NULL); return; }
    store_item_list(c->app->store, &c->auth, lib, call_on_ids, c);
}

void op_item_find(call_t *c) {
    item_find_t spec;
    memset(&spec, 0, sizeof(spec));
    vapi_failure_t f;
    if (spec_item_find(c->spec, c->prefix, &spec, &f) != C_OK) { call_fail(c, &f); return; }
    store_item_find(c->app->store, &c->auth, &spec, call_on_ids, c);
}

void op_item_delete(call_t *c) { store_item_delete(c->app->store, &c->auth, c->id, call_on_void, c); }
