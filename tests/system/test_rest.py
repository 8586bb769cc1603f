"""The legacy /rest/com/vmware/... wire flavour against /api (vsphere-api.md 1, 2.3, 3.2, 5.2,
5.3, 6.2, 7):

  * DualFlavourTest: one scenario (login, library, item, session with client_token, get, list,
    keep-alive with progress, PATCH warning_behavior, a PUSH file uploaded, file get/list/
    validate, complete, item files, item get, a second session canceled, a third failed, a
    finished session deleted, a few refusals on the way, logout) driven through /api and /rest
    on two fresh libraries; every step's result compared field by field after ids and times
    are normalized: /api's raw value against /rest's "value", /api's error body against /rest's
    "value" of the error.
  * RestErrorsTest / RestServiceUnavailableTest: every /rest error status of 5.3 that the
    server's operations produce, with the exact status and body shape
    {"type": "com.vmware.vapi.std.errors.<snake of error_type>", "value": {error_type, messages}}.
  * CrossVisibilityTest: sessions created over one flavour are seen and driven over the other;
    login tokens are shared.
  * LoginCookieTest / CreateAliasTest: /rest login's Set-Cookie (absent with
    vmware-use-header-authn: true), the cookie in place of the header on both flavours, logout;
    POST ...?~action=create as an alias of create.

/rest conventions: ids as "id:<id>" path segments (session ids contain ':'), actions as
?~action=NAME, bodies wrapped in parameter names, results {"value": ...} with 200, void results
200 with an empty body."""

import http.cookies
import os
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (AUTH_REQUIRED_MSG_ID, CLS_MSG_PREFIX, ISO_Z_RE,  # noqa: E402
                     UPDATE_SESSION_PATH, USERS, ApiTestCase, Client, RedisServer, Response,
                     Server, ServerTestCase, basic_auth, uniq)
from test_files import OpenUpload, blob, digest, upload  # noqa: E402

REST_ERR_PREFIX = "com.vmware.vapi.std.errors."

# /rest paths (vsphere-api.md 2.3, 3.2, 6.2, 7)
R_LOGIN = "/rest/com/vmware/cis/session"
R_LOCAL_LIBRARY = "/rest/com/vmware/content/local-library"
R_LIBRARY = "/rest/com/vmware/content/library"
R_ITEM = "/rest/com/vmware/content/library/item"
R_ITEM_FILE = "/rest/com/vmware/content/library/item/file"
R_SESSION = "/rest/com/vmware/content/library/item/update-session"
R_FILE = "/rest/com/vmware/content/library/item/updatesession/file"

# /api paths
A_LOGIN = "/api/session"
A_LOCAL_LIBRARY = "/api/content/local-library"
A_LIBRARY = "/api/content/library"
A_ITEM = "/api/content/library/item"
A_SESSION = UPDATE_SESSION_PATH

READY_WAIT_S = 10.0
REDIS_TIMEOUT_MS = 500
UNAVAILABLE_LIMIT_S = REDIS_TIMEOUT_MS / 1000.0 + 1.0

WB_SELF_SIGNED = [{"type": "SELF_SIGNED_CERTIFICATE", "ignored": True}]
BACKINGS = [{"type": "OTHER", "storage_uri": "file:///tmp"}]

# error_type -> HTTP status, per flavour (vsphere-api.md 5.3); anything not listed is 400.
API_STATUS = {
    "CONCURRENT_CHANGE": 409, "ERROR": 500, "INTERNAL_SERVER_ERROR": 500, "NOT_FOUND": 404,
    "OPERATION_NOT_FOUND": 404, "RESOURCE_BUSY": 500, "RESOURCE_INACCESSIBLE": 500,
    "SERVICE_UNAVAILABLE": 503, "TIMED_OUT": 500, "UNABLE_TO_ALLOCATE_RESOURCE": 500,
    "UNAUTHENTICATED": 401, "UNAUTHORIZED": 403,
}
REST_STATUS = {
    "INTERNAL_SERVER_ERROR": 500, "NOT_FOUND": 404, "OPERATION_NOT_FOUND": 404,
    "SERVICE_UNAVAILABLE": 503, "TIMED_OUT": 504, "UNAUTHENTICATED": 401, "UNAUTHORIZED": 403,
}


def api_status(error_type):
    return API_STATUS.get(error_type, 400)


def rest_status(error_type):
    return REST_STATUS.get(error_type, 400)


def rest_type(error_type):
    """com.vmware.vapi.std.errors.<snake>: the enum name is already snake case, in capitals."""
    return REST_ERR_PREFIX + error_type.lower()


def q(s):
    return urllib.parse.quote(s, safe="")


def rid(path, ident, action=None):
    """A /rest path with an "id:" segment and an optional ~action."""
    p = "%s/id:%s" % (path, ident)
    if action is not None:
        p += "?~action=" + action
    return p


def new_token():
    return str(uuid.uuid4())


def set_cookies(r):
    return r.headers.get_all("Set-Cookie") or []


# ---------------------------------------------------------------------------------------------
# the two wire flavours behind one interface
# ---------------------------------------------------------------------------------------------

class Outcome:
    """What one vAPI call produced, flavour-neutral: kind "value" (a result), "void", or "error"
    (value = the {"error_type", "messages"} object)."""

    def __init__(self, kind, value, response):
        self.kind = kind
        self.value = value
        self.response = response

    def __repr__(self):
        return "Outcome(%s, %r)" % (self.kind, self.value)


class Wire:
    """One wire flavour. Every call checks the flavour's envelope (status, body shape) and
    returns an Outcome; `kind` says what a success must look like: "created", "value" or
    "void"."""

    name = None

    def __init__(self, test, port, token=None):
        self.test = test
        self.client = Client(port, token=token)

    @property
    def token(self):
        return self.client.token

    def call(self, kind, method, path, body=None, headers=None, auth=True):
        r = self.client.request(method, path, body, headers=headers, auth=auth)
        what = "%s %s %s" % (self.name, method, path)
        if r.status >= 400:
            return Outcome("error", self.error_value(r, what), r)
        return self.success(kind, r, what)

    # -- per flavour --------------------------------------------------------------------------

    def success(self, kind, r, what):
        raise NotImplementedError

    def error_value(self, r, what):
        raise NotImplementedError


class ApiWire(Wire):
    name = "/api"

    def success(self, kind, r, what):
        t = self.test
        if kind == "void":
            t.assertEqual(r.status, 204, "%s: void result wants 204, got %d %r"
                          % (what, r.status, r.raw[:300]))
            t.assertEqual(r.raw, b"", "%s: 204 with a body" % what)
            return Outcome("void", None, r)
        want = 201 if kind == "created" else 200
        t.assertEqual(r.status, want, "%s: want %d, got %d %r" % (what, want, r.status, r.raw[:300]))
        t.assertJsonContentType(r)
        t.assertIsNotNone(r.json, "%s: body is not JSON: %r" % (what, r.raw[:300]))
        return Outcome("value", r.json, r)

    def error_value(self, r, what):
        t = self.test
        t.assertIsInstance(r.json, dict, "%s: error body %r" % (what, r.raw[:300]))
        et = r.json.get("error_type")
        t.assertIsInstance(et, str, "%s: %r" % (what, r.raw[:300]))
        t.assertEqual(r.status, api_status(et), "%s: %s on /api wants %d, got %d" % (
            what, et, api_status(et), r.status))
        t.assertApiError(r, r.status, et, what=what)
        return r.json

    # -- operations ---------------------------------------------------------------------------

    def login(self, user):
        o = self.call("created", "POST", A_LOGIN, auth=False,
                      headers={"Authorization": basic_auth(user, USERS[user][0])})
        if o.kind == "value":
            self.client.token = o.value
        return o

    def login_info(self):
        return self.call("value", "GET", A_LOGIN)

    def logout(self):
        return self.call("void", "DELETE", A_LOGIN)

    def create_library(self, name):
        return self.call("created", "POST", A_LOCAL_LIBRARY,
                         {"name": name, "storage_backings": BACKINGS})

    def get_library(self, lib):
        return self.call("value", "GET", A_LIBRARY + "/" + lib)

    def create_item(self, lib, name):
        return self.call("created", "POST", A_ITEM, {"library_id": lib, "name": name, "type": ""})

    def get_item(self, item):
        return self.call("value", "GET", A_ITEM + "/" + item)

    def create_session(self, item, client_token=None):
        path = A_SESSION + ("?client_token=" + client_token if client_token else "")
        return self.call("created", "POST", path, {"library_item_id": item})

    def get_session(self, sid):
        return self.call("value", "GET", A_SESSION + "/" + sid)

    def list_sessions(self, item):
        return self.call("value", "GET", A_SESSION + "?library_item_id=" + item)

    def update_session(self, sid, spec):
        return self.call("void", "PATCH", A_SESSION + "/" + sid, spec)

    def action(self, sid, action, body=None):
        return self.call("void", "POST", A_SESSION + "/" + sid + "?action=" + action, body)

    def keep_alive(self, sid, progress=None):
        return self.action(sid, "keep-alive",
                           None if progress is None else {"client_progress": progress})

    def fail(self, sid, message):
        return self.action(sid, "fail", {"client_error_message": message})

    def delete_session(self, sid):
        return self.call("void", "DELETE", A_SESSION + "/" + sid)

    def add_file(self, sid, spec):
        return self.call("created", "POST", A_SESSION + "/" + sid + "/file", spec)

    def get_file(self, sid, name):
        return self.call("value", "GET", A_SESSION + "/" + sid + "/file/" + q(name))

    def list_files(self, sid):
        return self.call("value", "GET", A_SESSION + "/" + sid + "/file")

    def remove_file(self, sid, name):
        return self.call("void", "DELETE", A_SESSION + "/" + sid + "/file/" + q(name))

    def validate(self, sid):
        return self.call("value", "POST", A_SESSION + "/" + sid + "/file?action=validate")

    def item_files(self, item):
        return self.call("value", "GET", A_ITEM + "/" + item + "/file")

    def item_file(self, item, name):
        return self.call("value", "GET", A_ITEM + "/" + item + "/file?name=" + q(name))


class RestWire(Wire):
    name = "/rest"

    def success(self, kind, r, what):
        t = self.test
        t.assertEqual(r.status, 200, "%s: /rest success wants 200, got %d %r"
                      % (what, r.status, r.raw[:300]))
        if kind == "void":
            t.assertEqual(r.raw, b"", "%s: a void result on /rest has an empty body" % what)
            return Outcome("void", None, r)
        t.assertJsonContentType(r)
        t.assertIsInstance(r.json, dict, "%s: want {\"value\": ...}, got %r" % (what, r.raw[:300]))
        t.assertEqual(list(r.json), ["value"], "%s: want exactly {\"value\": ...}, got %r"
                      % (what, r.raw[:300]))
        return Outcome("value", r.json["value"], r)

    def error_value(self, r, what):
        t = self.test
        t.assertRestError(r, None, what=what)
        return r.json["value"]

    # -- operations ---------------------------------------------------------------------------

    def login(self, user, header_authn=True):
        headers = {"Authorization": basic_auth(user, USERS[user][0])}
        if header_authn:
            headers["vmware-use-header-authn"] = "true"
        o = self.call("created", "POST", R_LOGIN, auth=False, headers=headers)
        if o.kind == "value":
            self.client.token = o.value
        return o

    def login_info(self):
        return self.call("value", "POST", R_LOGIN + "?~action=get")

    def logout(self):
        return self.call("void", "DELETE", R_LOGIN)

    def create_library(self, name):
        return self.call("created", "POST", R_LOCAL_LIBRARY,
                         {"create_spec": {"name": name, "storage_backings": BACKINGS}})

    def get_library(self, lib):
        return self.call("value", "GET", rid(R_LIBRARY, lib))

    def create_item(self, lib, name):
        return self.call("created", "POST", R_ITEM,
                         {"create_spec": {"library_id": lib, "name": name, "type": ""}})

    def get_item(self, item):
        return self.call("value", "GET", rid(R_ITEM, item))

    def create_session(self, item, client_token=None, alias=False):
        body = {"create_spec": {"library_item_id": item}}
        if client_token:
            body["client_token"] = client_token
        return self.call("created", "POST", R_SESSION + ("?~action=create" if alias else ""),
                         body)

    def get_session(self, sid):
        return self.call("value", "GET", rid(R_SESSION, sid))

    def list_sessions(self, item):
        return self.call("value", "GET", R_SESSION + "?library_item_id=" + item)

    def update_session(self, sid, spec):
        return self.call("void", "PATCH", rid(R_SESSION, sid), {"update_spec": spec})

    def action(self, sid, action, body=None):
        return self.call("void", "POST", rid(R_SESSION, sid, action), body)

    def keep_alive(self, sid, progress=None):
        return self.action(sid, "keep-alive",
                           None if progress is None else {"client_progress": progress})

    def fail(self, sid, message):
        return self.action(sid, "fail", {"client_error_message": message})

    def delete_session(self, sid):
        return self.call("void", "DELETE", rid(R_SESSION, sid))

    def add_file(self, sid, spec):
        return self.call("created", "POST", rid(R_FILE, sid, "add"), {"file_spec": spec})

    def get_file(self, sid, name):
        return self.call("value", "POST", rid(R_FILE, sid, "get"), {"file_name": name})

    def list_files(self, sid):
        return self.call("value", "GET", R_FILE + "?update_session_id=" + q(sid))

    def remove_file(self, sid, name):
        return self.call("void", "POST", rid(R_FILE, sid, "remove"), {"file_name": name})

    def validate(self, sid):
        return self.call("value", "POST", rid(R_FILE, sid, "validate"))

    def item_files(self, item):
        return self.call("value", "GET", R_ITEM_FILE + "?library_item_id=" + item)

    def item_file(self, item, name):
        return self.call("value", "POST", rid(R_ITEM_FILE, item, "get"), {"name": name})


# ---------------------------------------------------------------------------------------------
# normalization of ids and times for the comparison
# ---------------------------------------------------------------------------------------------

class Normalizer:
    """Replaces the ids a flavour's run produced by labels ("<item>", "<s1>", ...) and every
    *_time value (checked to be ISO-8601 UTC) by "<time>"."""

    def __init__(self, test):
        self.test = test
        self.names = {}

    def register(self, literal, label):
        if isinstance(literal, str) and literal:
            self.names[literal] = label

    def __call__(self, v, key=None):
        if isinstance(v, dict):
            return {k: self(x, k) for k, x in v.items()}
        if isinstance(v, list):
            return [self(x) for x in v]
        if isinstance(v, str):
            if key is not None and key.endswith("_time"):
                self.test.assertRegex(v, ISO_Z_RE, "%s is not an ISO-8601 UTC time" % key)
                return "<time>"
            for lit in sorted(self.names, key=len, reverse=True):
                v = v.replace(lit, self.names[lit])
        return v


def shape(v):
    """The JSON shape of a value: keys and types, recursively (list elements merged)."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return ["list", sorted({repr(shape(x)) for x in v})]
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    return type(v).__name__


# ---------------------------------------------------------------------------------------------
# assertions
# ---------------------------------------------------------------------------------------------

class RestCase(ApiTestCase):

    def assertRestError(self, r, status, error_type=None, mentions=(), id_prefix=None, what=""):
        """status (None: the 5.3 /rest status of the error_type found), body exactly
        {"type": "com.vmware.vapi.std.errors.<snake>", "value": {error_type, messages}}.
        Returns the inner value."""
        ctx = "%s: %d %r" % (what or "/rest error", r.status, r.raw[:600])
        self.assertGreaterEqual(r.status, 400, "want an error; " + ctx)
        if status is not None:
            self.assertEqual(r.status, status, ctx)
        self.assertJsonContentType(r)
        self.assertIsInstance(r.json, dict, "error body is not a JSON object; " + ctx)
        self.assertEqual(sorted(r.json), ["type", "value"], "want {type, value}; " + ctx)
        inner = r.json["value"]
        self.assertIsInstance(inner, dict, ctx)
        et = inner.get("error_type")
        self.assertIsInstance(et, str, "value.error_type missing; " + ctx)
        if error_type is not None:
            self.assertEqual(et, error_type, ctx)
        self.assertEqual(r.json["type"], rest_type(et),
                         "type must be the snake form of error_type; " + ctx)
        want = rest_status(et) if status is None else status
        self.assertEqual(r.status, want, ctx)
        self.assertEqual(r.status, rest_status(et), "%s is %d on /rest (5.3); %s" % (
            et, rest_status(et), ctx))
        self.assertApiError(Response(r.status, inner, r.raw, r.headers), r.status, et,
                            mentions=mentions, id_prefix=id_prefix, what=what)
        return inner

    def value(self, r, what=""):
        """A /rest success with a result: 200 {"value": v}; returns v."""
        self.assertStatus(r, 200, what)
        self.assertJsonContentType(r)
        self.assertIsInstance(r.json, dict, "%s: %r" % (what, r.raw[:300]))
        self.assertEqual(list(r.json), ["value"], "%s: %r" % (what, r.raw[:300]))
        return r.json["value"]

    def void(self, r, what=""):
        """A /rest success without a result: 200 and an empty body."""
        self.assertStatus(r, 200, what)
        self.assertEqual(r.raw, b"", "%s: void /rest result has an empty body" % what)

    def ok(self, outcome, kind="value", what=""):
        self.assertEqual(outcome.kind, kind, "%s: want %s, got %r" % (what, kind, outcome))
        return outcome.value

    def wait_ready(self, wire, sid, name, what=""):
        deadline = time.monotonic() + READY_WAIT_S
        while True:
            o = wire.get_file(sid, name)
            info = self.ok(o, what="%s get file %s" % (what, name))
            if info.get("status") in ("READY", "ERROR") or time.monotonic() >= deadline:
                return o
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# 1. one scenario through both flavours, compared field by field
# ---------------------------------------------------------------------------------------------

FILE_NAME = "disk-1.bin"
FILE_DATA = blob(4099, seed="test_rest")
ITEM_NAME = "compare-item"


class DualFlavourTest(RestCase, ServerTestCase):

    def run_scenario(self, wire):
        """The scenario on one wire. Returns ([(step, Outcome)], Normalizer)."""
        steps = []
        norm = Normalizer(self)

        def step(name, outcome, sort=False):
            if sort and outcome.kind == "value" and isinstance(outcome.value, list):
                outcome.value = sorted(norm(outcome.value))
            steps.append((name, outcome))
            return outcome

        def value(name, outcome, **kw):
            step(name, outcome, **kw)
            return self.ok(outcome, "value", "%s %s" % (wire.name, name))

        def void(name, outcome):
            step(name, outcome)
            self.ok(outcome, "void", "%s %s" % (wire.name, name))

        def error(name, outcome, error_type):
            step(name, outcome)
            self.ok(outcome, "error", "%s %s" % (wire.name, name))
            self.assertEqual(outcome.value["error_type"], error_type,
                             "%s %s: %r" % (wire.name, name, outcome.value))

        token = value("login", wire.login("admin"))
        norm.register(token, "<login>")
        info = value("login info", wire.login_info())
        self.assertEqual(info.get("user"), "admin", info)

        lib_name = uniq("cmp-lib")
        norm.register(lib_name, "<library name>")
        lib = value("create library", wire.create_library(lib_name))
        norm.register(lib, "<library>")
        value("get library", wire.get_library(lib))
        item = value("create item", wire.create_item(lib, ITEM_NAME))
        norm.register(item, "<item>")
        value("get new item", wire.get_item(item))

        # session 1: everything up to complete
        ct = new_token()
        norm.register(ct, "<client token>")
        s1 = value("create session 1", wire.create_session(item, ct))
        norm.register(s1, "<s1>")
        self.assertTrue(s1.startswith(item + ":"), s1)
        self.assertEqual(value("replay client_token", wire.create_session(item, ct)), s1)
        error("second session while one is active", wire.create_session(item),
              "RESOURCE_BUSY")
        got = value("get session 1", wire.get_session(s1))
        self.assertEqual((got.get("state"), got.get("client_progress")), ("ACTIVE", 0), got)
        self.assertEqual(value("list sessions", wire.list_sessions(item)), [s1])
        void("keep-alive 40", wire.keep_alive(s1, 40))
        got = value("get after keep-alive", wire.get_session(s1))
        self.assertEqual(got.get("client_progress"), 40, got)
        error("keep-alive lower progress", wire.keep_alive(s1, 10), "INVALID_ARGUMENT")
        void("update warning_behavior", wire.update_session(s1, {"warning_behavior": WB_SELF_SIGNED}))
        got = value("get after update", wire.get_session(s1))
        self.assertEqual(got.get("warning_behavior"), WB_SELF_SIGNED, got)

        spec = {"name": FILE_NAME, "source_type": "PUSH", "size": len(FILE_DATA),
                "checksum_info": {"algorithm": "SHA256", "checksum": digest(FILE_DATA, "SHA256")}}
        added = value("add PUSH file", wire.add_file(s1, spec))
        self.assertEqual(added.get("status"), "WAITING_FOR_TRANSFER", added)
        uri = added.get("upload_endpoint", {}).get("uri")
        self.assertIsInstance(uri, str, added)
        self.assertRegex(uri, r"^https?://", "upload_endpoint.uri must be absolute")
        norm.register(uri, "<upload uri>")
        v = value("validate before upload", wire.validate(s1))
        self.assertEqual((v.get("has_errors"), v.get("missing_files")), (True, [FILE_NAME]), v)
        error("complete before upload", wire.action(s1, "complete"),
              "NOT_ALLOWED_IN_CURRENT_STATE")
        up = upload(uri, FILE_DATA)
        self.assertEqual(up.status, 200, "%s upload: %d %r" % (wire.name, up.status, up.raw[:300]))
        info = self.ok(step("get file", self.wait_ready(wire, s1, FILE_NAME, wire.name)))
        self.assertEqual(info.get("status"), "READY", info)
        self.assertEqual((info.get("size"), info.get("bytes_transferred")),
                         (len(FILE_DATA), len(FILE_DATA)), info)
        self.assertEqual(info.get("checksum_info"),
                         {"algorithm": "SHA256", "checksum": digest(FILE_DATA, "SHA256")}, info)
        files = value("list files", wire.list_files(s1))
        self.assertEqual(files, [info])
        v = value("validate", wire.validate(s1))
        self.assertEqual(v, {"has_errors": False, "missing_files": [], "invalid_files": []})
        error("get unknown file", wire.get_file(s1, "nope.bin"), "INVALID_ARGUMENT")
        error("delete while active", wire.delete_session(s1), "NOT_ALLOWED_IN_CURRENT_STATE")
        void("complete", wire.action(s1, "complete"))
        got = value("get completed", wire.get_session(s1))
        self.assertEqual(got.get("state"), "DONE", got)
        self.assertEqual(got.get("library_item_content_version"), "1", got)
        error("keep-alive after complete", wire.keep_alive(s1), "NOT_ALLOWED_IN_CURRENT_STATE")
        error("validate after complete", wire.validate(s1), "NOT_ALLOWED_IN_CURRENT_STATE")

        ifiles = value("item files", wire.item_files(item))
        self.assertEqual([f.get("name") for f in ifiles], [FILE_NAME], ifiles)
        one = value("item file by name", wire.item_file(item, FILE_NAME))
        self.assertEqual(one, ifiles[0])
        self.assertEqual((one.get("size"), one.get("cached")), (len(FILE_DATA), True), one)
        error("item file unknown", wire.item_file(item, "nope.bin"), "NOT_FOUND")
        it = value("get item after complete", wire.get_item(item))
        self.assertEqual((it.get("content_version"), it.get("size")), ("2", len(FILE_DATA)), it)

        # session 2: canceled
        s2 = value("create session 2", wire.create_session(item))
        norm.register(s2, "<s2>")
        got = value("get session 2", wire.get_session(s2))
        self.assertEqual(got.get("library_item_content_version"), "2", got)
        void("cancel", wire.action(s2, "cancel"))
        got = value("get canceled", wire.get_session(s2))
        self.assertEqual(got.get("state"), "CANCELED", got)
        error("complete canceled", wire.action(s2, "complete"), "NOT_ALLOWED_IN_CURRENT_STATE")

        # session 3: failed by the client
        s3 = value("create session 3", wire.create_session(item))
        norm.register(s3, "<s3>")
        void("fail", wire.fail(s3, "the client gave up"))
        got = value("get failed", wire.get_session(s3))
        self.assertEqual(got.get("state"), "ERROR", got)
        self.assertEqual(got.get("error_message", {}).get("default_message"),
                         "the client gave up", got)
        error("cancel failed", wire.action(s3, "cancel"), "NOT_ALLOWED_IN_CURRENT_STATE")

        value("list three sessions", wire.list_sessions(item), sort=True)
        void("delete done session", wire.delete_session(s1))
        error("get deleted", wire.get_session(s1), "NOT_FOUND")
        value("list after delete", wire.list_sessions(item), sort=True)
        it = value("get item at the end", wire.get_item(item))
        self.assertEqual(it.get("content_version"), "2", it)
        void("logout", wire.logout())
        error("login info after logout", wire.login_info(), "UNAUTHENTICATED")
        return steps, norm

    def test_same_scenario_same_results(self):
        api_steps, api_norm = self.run_scenario(ApiWire(self, self.server.port))
        rest_steps, rest_norm = self.run_scenario(RestWire(self, self.server.port))
        self.assertEqual([n for n, _ in api_steps], [n for n, _ in rest_steps])
        for (name, a), (_, r) in zip(api_steps, rest_steps):
            with self.subTest(step=name):
                self.assertEqual(a.kind, r.kind, "%s: /api %r, /rest %r" % (name, a, r))
                na, nr = api_norm(a.value), rest_norm(r.value)
                self.assertEqual(shape(na), shape(nr), "%s: keys/types differ" % name)
                self.assertEqual(na, nr, "%s: values differ\n/api  %r\n/rest %r"
                                 % (name, a.value, r.value))
                if a.kind == "error":
                    # The same error type, each with its own flavour's status (5.3).
                    et = a.value["error_type"]
                    self.assertEqual(a.response.status, api_status(et), name)
                    self.assertEqual(r.response.status, rest_status(et), name)
                    self.assertEqual(r.response.json.get("type"), rest_type(et), name)


# ---------------------------------------------------------------------------------------------
# 2. every /rest error status the operations can produce
# ---------------------------------------------------------------------------------------------

class RestErrorsTest(RestCase, ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lib, cls.item = cls.admin.make_library_item()

    def rest_session(self, client=None, item=None):
        client = client or self.admin
        if item is None:
            _, item = client.make_library_item()
        r = client.post(R_SESSION, {"create_spec": {"library_item_id": item}})
        return item, self.value(r, "create session")

    def test_400_invalid_argument(self):
        _, item = self.admin.make_library_item()
        cases = [
            ("no create_spec", {"library_item_id": item}, ["create_spec"]),
            ("create_spec not an object", {"create_spec": "x"}, ["create_spec"]),
            ("library_item_id not a string", {"create_spec": {"library_item_id": 5}},
             ["create_spec.library_item_id"]),
            ("library_item_id missing", {"create_spec": {}}, ["create_spec.library_item_id"]),
            ("client_token not a UUID",
             {"create_spec": {"library_item_id": item}, "client_token": "not-a-uuid"},
             ["not-a-uuid"]),
            ("bad warning_behavior",
             {"create_spec": {"library_item_id": item, "warning_behavior": 3}},
             ["warning_behavior"]),
        ]
        for what, body, mentions in cases:
            with self.subTest(what):
                self.assertRestError(self.admin.post(R_SESSION, body), 400, "INVALID_ARGUMENT",
                                     mentions=mentions, id_prefix=CLS_MSG_PREFIX, what=what)
        self.assertRestError(self.admin.post(R_SESSION, "{not json"), 400, "INVALID_ARGUMENT",
                             what="body not JSON")
        # nothing was created by the refusals
        self.assertEqual(self.value(self.admin.get(R_SESSION + "?library_item_id=" + item)), [])

        _, sid = self.rest_session(item=item)
        for what, r in (
                ("PATCH bad update_spec", self.admin.request(
                    "PATCH", rid(R_SESSION, sid), {"update_spec": {"warning_behavior": "x"}})),
                ("keep-alive progress > 100", self.admin.post(
                    rid(R_SESSION, sid, "keep-alive"), {"client_progress": 101})),
                ("fail with a client_error_message not a string", self.admin.post(
                    rid(R_SESSION, sid, "fail"), {"client_error_message": 42})),
                ("file add without file_spec", self.admin.post(
                    rid(R_FILE, sid, "add"), {"name": "a", "source_type": "PUSH"})),
                ("file add bad source_type", self.admin.post(
                    rid(R_FILE, sid, "add"), {"file_spec": {"name": "a", "source_type": "X"}})),
                ("file get of a file not in the session", self.admin.post(
                    rid(R_FILE, sid, "get"), {"file_name": "nope.bin"})),
                ("file remove without file_name", self.admin.post(
                    rid(R_FILE, sid, "remove"), {})),
        ):
            with self.subTest(what):
                self.assertRestError(r, 400, "INVALID_ARGUMENT", what=what)
        got = self.value(self.admin.get(rid(R_SESSION, sid)))
        self.assertEqual((got["state"], got["client_progress"]), ("ACTIVE", 0), got)

    def test_400_item_file_get_needs_a_name(self):
        """Item File.get on /rest (POST .../item/file/id:I?~action=get {"name"}) returns one
        File.Info; without a usable name it is refused, never answered with the file list."""
        item, sid = self.rest_session()
        info = self.value(self.admin.post(rid(R_FILE, sid, "add"), {
            "file_spec": {"name": "f.bin", "source_type": "PUSH"}}))
        self.assertStatus(upload(info["upload_endpoint"]["uri"], b"data"), 200, "upload")
        self.void(self.admin.post(rid(R_SESSION, sid, "complete")), "complete")
        one = self.value(self.admin.post(rid(R_ITEM_FILE, item, "get"), {"name": "f.bin"}))
        self.assertIsInstance(one, dict, one)
        self.assertEqual((one["name"], one["size"]), ("f.bin", 4), one)
        for what, body in (("no body", None), ("no name", {}), ("name null", {"name": None}),
                           ("name not a string", {"name": 5})):
            with self.subTest(what):
                r = self.admin.post(rid(R_ITEM_FILE, item, "get"), body)
                self.assertRestError(r, 400, "INVALID_ARGUMENT", mentions=["name"], what=what)

    def test_400_resource_busy(self):
        item, sid = self.rest_session()
        body = {"create_spec": {"library_item_id": item}}
        inner = self.assertRestError(self.admin.post(R_SESSION, body), 400, "RESOURCE_BUSY",
                                     mentions=[item], id_prefix=CLS_MSG_PREFIX)
        self.assertIn(sid, inner["messages"][0]["args"], inner)
        # the same refusal is 500 on /api (5.3)
        self.assertApiError(self.admin.create_session(item), 500, "RESOURCE_BUSY")
        self.assertEqual(self.value(self.admin.get(R_SESSION + "?library_item_id=" + item)), [sid])

    def test_400_resource_busy_file_in_transfer(self):
        """A file being uploaded cannot be replaced: RESOURCE_BUSY, 400 on /rest and 500 on
        /api. It can be removed: that ends the upload (issue 8)."""
        _, sid = self.rest_session()
        spec = {"name": "busy.bin", "source_type": "PUSH"}
        info = self.value(self.admin.post(rid(R_FILE, sid, "add"), {"file_spec": spec}))
        data = blob(128 * 1024)
        up = OpenUpload(info["upload_endpoint"]["uri"], len(data))
        try:
            up.send(data[:32 * 1024])
            deadline = time.monotonic() + READY_WAIT_S
            while True:
                got = self.value(self.admin.post(rid(R_FILE, sid, "get"),
                                                 {"file_name": "busy.bin"}))
                if got["status"] == "TRANSFERRING" or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(got["status"], "TRANSFERRING", got)
            r = self.admin.post(rid(R_FILE, sid, "add"), {"file_spec": spec})
            self.assertRestError(r, 400, "RESOURCE_BUSY", mentions=["busy.bin"],
                                 id_prefix=CLS_MSG_PREFIX, what="add over a file in transfer")
            r = self.admin.post(UPDATE_SESSION_PATH + "/" + sid + "/file", spec)
            self.assertApiError(r, 500, "RESOURCE_BUSY", what="/api add over a file in transfer")
            up.send(data[32 * 1024:])
            self.assertStatus(up.finish(), 200, "the upload")
        finally:
            up.close()
        got = self.value(self.admin.post(rid(R_FILE, sid, "get"), {"file_name": "busy.bin"}))
        self.assertEqual((got["status"], got["size"]), ("READY", len(data)), got)

    def test_remove_file_in_transfer_ends_it(self):
        """Removing a file being uploaded succeeds and the upload is gone with it."""
        _, sid = self.rest_session()
        spec = {"name": "gone.bin", "source_type": "PUSH"}
        info = self.value(self.admin.post(rid(R_FILE, sid, "add"), {"file_spec": spec}))
        up = OpenUpload(info["upload_endpoint"]["uri"], 128 * 1024)
        try:
            up.send(blob(32 * 1024))
            deadline = time.monotonic() + READY_WAIT_S
            while time.monotonic() < deadline:
                got = self.value(self.admin.post(rid(R_FILE, sid, "get"),
                                                 {"file_name": "gone.bin"}))
                if got["status"] == "TRANSFERRING":
                    break
                time.sleep(0.05)
            self.void(self.admin.post(rid(R_FILE, sid, "remove"), {"file_name": "gone.bin"}),
                      "remove a file in transfer")
        finally:
            up.close()
        r = self.admin.post(rid(R_FILE, sid, "get"), {"file_name": "gone.bin"})
        self.assertRestError(r, 400, "INVALID_ARGUMENT", mentions=["gone.bin"],
                             what="get of the removed file")

    def test_400_not_allowed_in_current_state(self):
        item, sid = self.rest_session()
        inner = self.assertRestError(self.admin.delete(rid(R_SESSION, sid)), 400,
                                     "NOT_ALLOWED_IN_CURRENT_STATE", id_prefix=CLS_MSG_PREFIX)
        self.assertEqual(inner["messages"][0]["args"], ["delete", "ACTIVE"], inner)
        self.void(self.admin.post(rid(R_SESSION, sid, "cancel")), "cancel")
        for op, r in (
                ("complete", self.admin.post(rid(R_SESSION, sid, "complete"))),
                ("cancel", self.admin.post(rid(R_SESSION, sid, "cancel"))),
                ("fail", self.admin.post(rid(R_SESSION, sid, "fail"),
                                         {"client_error_message": "x"})),
                ("keep_alive", self.admin.post(rid(R_SESSION, sid, "keep-alive"))),
                ("update", self.admin.request("PATCH", rid(R_SESSION, sid),
                                              {"update_spec": {"warning_behavior": WB_SELF_SIGNED}})),
        ):
            with self.subTest(op):
                inner = self.assertRestError(r, 400, "NOT_ALLOWED_IN_CURRENT_STATE",
                                             mentions=["CANCELED"], id_prefix=CLS_MSG_PREFIX)
                self.assertEqual(inner["messages"][0]["args"], [op, "CANCELED"], inner)
        for what, r in (
                ("file add", self.admin.post(rid(R_FILE, sid, "add"),
                                             {"file_spec": {"name": "a", "source_type": "PUSH"}})),
                ("file validate", self.admin.post(rid(R_FILE, sid, "validate"))),
        ):
            with self.subTest(what):
                self.assertRestError(r, 400, "NOT_ALLOWED_IN_CURRENT_STATE", mentions=["CANCELED"],
                                     id_prefix=CLS_MSG_PREFIX, what=what)

    def test_400_invalid_element_type(self):
        sublib, subitem = self.server.seed_subscribed_item()
        r = self.admin.post(R_SESSION, {"create_spec": {"library_item_id": subitem}})
        self.assertRestError(r, 400, "INVALID_ELEMENT_TYPE", mentions=[subitem],
                             id_prefix=CLS_MSG_PREFIX)
        r = self.admin.post(R_ITEM, {"create_spec": {"library_id": sublib, "name": uniq("i"),
                                                     "type": ""}})
        self.assertRestError(r, 400, "INVALID_ELEMENT_TYPE", id_prefix=CLS_MSG_PREFIX,
                             what="item create in a subscribed library")

    def test_400_already_exists(self):
        name = uniq("dup")
        body = {"create_spec": {"library_id": self.lib, "name": name, "type": ""}}
        self.value(self.admin.post(R_ITEM, body), "first item")
        inner = self.assertRestError(self.admin.post(R_ITEM, body), 400, "ALREADY_EXISTS",
                                     mentions=[name], id_prefix=CLS_MSG_PREFIX)
        self.assertEqual(inner["messages"][0]["id"],
                         CLS_MSG_PREFIX + "duplicate_item_name_unsupported_in_library", inner)
        self.assertEqual(inner["messages"][0]["args"][0], name, inner)
        self.assertEqual(inner["messages"][0]["args"][2], self.lib, inner)

    def test_404_not_found(self):
        _, sid = self.rest_session()
        bogus_item = str(uuid.uuid4())
        bogus_sid = bogus_item + ":" + str(uuid.uuid4())
        cases = [
            ("get unknown session", self.admin.get(rid(R_SESSION, bogus_sid)), bogus_sid),
            ("complete unknown session", self.admin.post(rid(R_SESSION, bogus_sid, "complete")),
             bogus_sid),
            ("delete unknown session", self.admin.delete(rid(R_SESSION, bogus_sid)), bogus_sid),
            ("create on unknown item",
             self.admin.post(R_SESSION, {"create_spec": {"library_item_id": bogus_item}}),
             bogus_item),
            ("list of unknown item", self.admin.get(R_SESSION + "?library_item_id=" + bogus_item),
             bogus_item),
            ("file add on unknown session",
             self.admin.post(rid(R_FILE, bogus_sid, "add"),
                             {"file_spec": {"name": "a", "source_type": "PUSH"}}), bogus_sid),
            ("file list of unknown session",
             self.admin.get(R_FILE + "?update_session_id=" + q(bogus_sid)), bogus_sid),
            ("file get on unknown session",
             self.admin.post(rid(R_FILE, bogus_sid, "get"), {"file_name": "a"}), bogus_sid),
            ("get unknown item", self.admin.get(rid(R_ITEM, bogus_item)), bogus_item),
            ("files of unknown item", self.admin.get(R_ITEM_FILE + "?library_item_id=" + bogus_item),
             bogus_item),
            ("get unknown library", self.admin.get(rid(R_LIBRARY, bogus_item)), bogus_item),
            ("session id without its item part", self.admin.get(rid(R_SESSION, "nope")), "nope"),
        ]
        for what, r, mention in cases:
            with self.subTest(what):
                self.assertRestError(r, 404, "NOT_FOUND", mentions=[mention],
                                     id_prefix=CLS_MSG_PREFIX, what=what)
        # the id: prefix is stripped exactly once
        self.assertRestError(self.admin.get(rid(R_SESSION, "id:" + sid)), 404, "NOT_FOUND",
                             what="id:id:<session>")

    def test_404_operation_not_found(self):
        _, sid = self.rest_session()
        cases = [
            ("unknown session action", self.admin.post(rid(R_SESSION, sid, "frobnicate")),
             "frobnicate"),
            ("unknown file action", self.admin.post(rid(R_FILE, sid, "frobnicate")),
             "frobnicate"),
            ("/api action spelling on a /rest file path", self.admin.post(
                R_FILE + "/id:" + sid + "?~action=keep-alive"), "keep-alive"),
            ("unknown login action", self.admin.post(R_LOGIN + "?~action=frobnicate"),
             "frobnicate"),
            ("unknown list action", self.admin.post(R_SESSION + "?~action=frobnicate",
                                                    {"create_spec": {}}), "frobnicate"),
        ]
        for what, r, mention in cases:
            with self.subTest(what):
                self.assertRestError(r, 404, "OPERATION_NOT_FOUND", mentions=[mention], what=what)
        for what, r in (
                ("PUT on a session", self.admin.request("PUT", rid(R_SESSION, sid))),
                ("session id without id: prefix", self.admin.get(R_SESSION + "/" + sid)),
                ("unknown path", self.admin.get("/rest/com/vmware/content/nothing")),
                ("dashed File service path (/rest spells it updatesession)",
                 self.admin.get(R_SESSION + "/file?update_session_id=" + q(sid))),
        ):
            with self.subTest(what):
                self.assertRestError(r, 404, "OPERATION_NOT_FOUND", what=what)
        got = self.value(self.admin.get(rid(R_SESSION, sid)))
        self.assertEqual(got["state"], "ACTIVE", got)

    def test_401_unauthenticated(self):
        self.addCleanup(self.server.await_login, "admin")  # ends the login backoff
        _, sid = self.rest_session()
        anon = Client(self.server.port)
        stale = Client(self.server.port, token="0" * 48)
        for who, c in (("no token", anon), ("unknown token", stale)):
            for what, r in (
                    ("list", c.get(R_SESSION)),
                    ("get", c.get(rid(R_SESSION, sid))),
                    ("create", c.post(R_SESSION, {"create_spec": {"library_item_id": self.item}})),
                    ("complete", c.post(rid(R_SESSION, sid, "complete"))),
                    ("file list", c.get(R_FILE + "?update_session_id=" + q(sid))),
                    ("login info", c.post(R_LOGIN + "?~action=get")),
                    ("logout", c.delete(R_LOGIN)),
                    ("item files", c.get(R_ITEM_FILE + "?library_item_id=" + self.item)),
            ):
                with self.subTest(who=who, op=what):
                    self.assertRestError(r, 401, "UNAUTHENTICATED", id_prefix=AUTH_REQUIRED_MSG_ID,
                                         what="%s %s" % (who, what))
        for what, auth in (("wrong password", basic_auth("admin", "wrong")),
                           ("unknown user", basic_auth("nobody", "x"))):
            with self.subTest(login=what):
                r = anon.post(R_LOGIN, auth=False, headers={"Authorization": auth})
                self.assertRestError(r, 401, "UNAUTHENTICATED", what=what)
                self.assertEqual(set_cookies(r), [], "no cookie for a failed login")
        r = anon.post(R_LOGIN, auth=False)
        self.assertRestError(r, 401, "UNAUTHENTICATED", what="login without Authorization")
        got = self.value(self.admin.get(rid(R_SESSION, sid)))
        self.assertEqual(got["state"], "ACTIVE", got)

    def test_403_unauthorized(self):
        editor = self.server.client("editor")   # everything but ContentLibrary.UpdateSession
        _, item = editor.make_library_item()
        for what, r in (
                ("create", editor.post(R_SESSION, {"create_spec": {"library_item_id": item}})),
                ("create by alias", editor.post(R_SESSION + "?~action=create",
                                                {"create_spec": {"library_item_id": item}})),
                ("list", editor.get(R_SESSION)),
                ("list of item", editor.get(R_SESSION + "?library_item_id=" + item)),
        ):
            with self.subTest(what):
                self.assertRestError(r, 403, "UNAUTHORIZED", mentions=["ContentLibrary.UpdateSession"],
                                     id_prefix=CLS_MSG_PREFIX, what=what)
        self.assertEqual(self.value(self.admin.get(R_SESSION + "?library_item_id=" + item)), [])
        reader = self.server.client("reader")   # System.Read only
        r = reader.post(R_ITEM, {"create_spec": {"library_id": self.lib, "name": uniq("i"),
                                                 "type": ""}})
        self.assertRestError(r, 403, "UNAUTHORIZED", id_prefix=CLS_MSG_PREFIX,
                             what="item create without ContentLibrary.AddLibraryItem")


class RestServiceUnavailableTest(RestCase):
    """503 SERVICE_UNAVAILABLE on /rest while a private Redis is stopped."""

    def setUp(self):
        self.redis = RedisServer()
        self.addCleanup(self.redis.destroy)
        self.server = Server(redis=self.redis, args=["--redis-timeout-ms", str(REDIS_TIMEOUT_MS)])
        self.addCleanup(self.server.stop)
        self.admin = self.server.client("admin")
        _, self.item = self.admin.make_library_item()
        r = self.admin.post(R_SESSION, {"create_spec": {"library_item_id": self.item}})
        self.sid = self.value(r, "create session")

    def test_503_service_unavailable(self):
        self.redis.stop()
        calls = [
            ("GET", R_SESSION, None, {}),
            ("GET", rid(R_SESSION, self.sid), None, {}),
            ("POST", R_SESSION, {"create_spec": {"library_item_id": self.item}}, {}),
            ("POST", rid(R_SESSION, self.sid, "keep-alive"), {"client_progress": 5}, {}),
            ("POST", rid(R_FILE, self.sid, "add"),
             {"file_spec": {"name": "a.bin", "source_type": "PUSH"}}, {}),
            ("GET", rid(R_ITEM, self.item), None, {}),
            ("POST", R_LOGIN + "?~action=get", None, {}),
            ("POST", R_LOGIN, None, {"auth": False, "headers": {
                "Authorization": basic_auth("admin", USERS["admin"][0])}}),
        ]
        for method, path, body, kw in calls:
            with self.subTest(method=method, path=path):
                t0 = time.monotonic()
                r = self.admin.request(method, path, body, **kw)
                elapsed = time.monotonic() - t0
                self.assertRestError(r, 503, "SERVICE_UNAVAILABLE", what="%s %s" % (method, path))
                self.assertEqual(r.headers.get("Retry-After"), "1", "%s %s" % (method, path))
                self.assertLessEqual(elapsed, UNAVAILABLE_LIMIT_S, "%s %s took %.2f s" % (
                    method, path, elapsed))
                if path == R_LOGIN:
                    self.assertEqual(set_cookies(r), [], "no cookie for a failed login")
        self.assertApiError(self.admin.get(UPDATE_SESSION_PATH + "/" + self.sid), 503,
                            "SERVICE_UNAVAILABLE", what="/api while Redis is down")
        self.assertTrue(self.server.alive(), "server died while Redis was down")
        self.redis.start()
        deadline = time.monotonic() + 10.0
        while True:
            r = self.admin.get(rid(R_SESSION, self.sid))
            if r.status == 200 or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        got = self.value(r, "get after Redis came back")
        self.assertEqual((got["state"], got["client_progress"]), ("ACTIVE", 0), got)


# ---------------------------------------------------------------------------------------------
# 3. sessions and logins are the same objects on both flavours
# ---------------------------------------------------------------------------------------------

class CrossVisibilityTest(RestCase, ServerTestCase):

    def setUp(self):
        self.api = ApiWire(self, self.server.port)
        self.api.login("admin")
        self.rest = RestWire(self, self.server.port)
        self.rest.login("admin")

    def same_session(self, sid):
        """GET on both flavours back to back: the same object."""
        a = self.ok(self.api.get_session(sid), what="/api get")
        r = self.ok(self.rest.get_session(sid), what="/rest get")
        self.assertEqual(a, r, "/api and /rest disagree on session %s" % sid)
        return a

    def test_api_session_through_rest(self):
        lib = self.ok(self.api.create_library(uniq("x-lib")))
        item = self.ok(self.api.create_item(lib, "x-item"))
        ct = new_token()
        sid = self.ok(self.api.create_session(item, ct))
        self.assertEqual(self.same_session(sid)["state"], "ACTIVE")
        # the client_token record is shared: a /rest replay returns the /api session
        self.assertEqual(self.ok(self.rest.create_session(item, ct)), sid)
        self.assertEqual(self.ok(self.rest.list_sessions(item)), [sid])
        self.ok(self.rest.keep_alive(sid, 30), "void")
        self.assertEqual(self.same_session(sid)["client_progress"], 30)
        self.ok(self.rest.update_session(sid, {"warning_behavior": WB_SELF_SIGNED}), "void")
        self.assertEqual(self.same_session(sid)["warning_behavior"], WB_SELF_SIGNED)

        data = blob(2500)
        info = self.ok(self.rest.add_file(sid, {"name": "r.bin", "source_type": "PUSH",
                                                "size": len(data)}))
        self.assertEqual(self.ok(self.api.get_file(sid, "r.bin")), info)
        self.assertStatus(upload(info["upload_endpoint"]["uri"], data), 200, "upload")
        ready = self.ok(self.wait_ready(self.api, sid, "r.bin"))
        self.assertEqual((ready["status"], ready["size"]), ("READY", len(data)), ready)
        self.assertEqual(ready["checksum_info"]["checksum"], digest(data, "SHA1"), ready)
        self.assertEqual(self.ok(self.rest.list_files(sid)), [ready])
        self.assertEqual(self.ok(self.api.list_files(sid)), [ready])
        self.assertFalse(self.ok(self.rest.validate(sid))["has_errors"])
        self.ok(self.rest.action(sid, "complete"), "void")
        self.assertEqual(self.same_session(sid)["state"], "DONE")
        self.assertEqual(self.ok(self.api.get_item(item))["content_version"], "2")
        self.assertEqual(self.ok(self.api.item_files(item)), self.ok(self.rest.item_files(item)))
        self.assertEqual([f["name"] for f in self.ok(self.api.item_files(item))], ["r.bin"])
        # a /rest refusal of the /api session, then /rest delete, /api sees it gone
        o = self.rest.keep_alive(sid)
        self.assertEqual(self.ok(o, "error")["error_type"], "NOT_ALLOWED_IN_CURRENT_STATE")
        self.ok(self.rest.delete_session(sid), "void")
        self.assertEqual(self.ok(self.api.get_session(sid), "error")["error_type"], "NOT_FOUND")

    def test_rest_session_through_api(self):
        lib = self.ok(self.rest.create_library(uniq("y-lib")))
        item = self.ok(self.rest.create_item(lib, "y-item"))
        ct = new_token()
        sid = self.ok(self.rest.create_session(item, ct))
        self.assertEqual(self.same_session(sid)["state"], "ACTIVE")
        self.assertEqual(self.ok(self.api.create_session(item, ct)), sid)
        self.assertEqual(self.ok(self.api.list_sessions(item)), [sid])
        self.assertEqual(self.ok(self.api.create_session(item), "error")["error_type"],
                         "RESOURCE_BUSY")
        self.ok(self.api.keep_alive(sid, 55), "void")
        self.assertEqual(self.same_session(sid)["client_progress"], 55)

        data = blob(1800)
        info = self.ok(self.api.add_file(sid, {"name": "a.bin", "source_type": "PUSH"}))
        self.assertEqual(self.ok(self.rest.get_file(sid, "a.bin")), info)
        self.assertStatus(upload(info["upload_endpoint"]["uri"], data, method="POST"), 200,
                          "upload by POST")
        ready = self.ok(self.wait_ready(self.rest, sid, "a.bin"))
        self.assertEqual((ready["status"], ready["size"]), ("READY", len(data)), ready)
        self.assertEqual(self.ok(self.api.get_file(sid, "a.bin")), ready)
        self.assertEqual(self.ok(self.api.validate(sid)), self.ok(self.rest.validate(sid)))
        self.ok(self.api.action(sid, "complete"), "void")
        self.assertEqual(self.same_session(sid)["state"], "DONE")
        it = self.ok(self.rest.get_item(item))
        self.assertEqual((it["content_version"], it["size"]), ("2", len(data)), it)
        self.assertEqual(self.ok(self.rest.item_file(item, "a.bin")),
                         self.ok(self.api.item_file(item, "a.bin")))
        self.assertEqual(self.ok(self.rest.item_files(item)), self.ok(self.api.item_files(item)))

        # a second /rest session ended over /api, deleted over /api
        s2 = self.ok(self.rest.create_session(item))
        self.ok(self.api.fail(s2, "stopped over /api"), "void")
        got = self.same_session(s2)
        self.assertEqual((got["state"], got["error_message"]["default_message"]),
                         ("ERROR", "stopped over /api"), got)
        self.ok(self.api.delete_session(s2), "void")
        self.assertEqual(self.ok(self.rest.get_session(s2), "error")["error_type"], "NOT_FOUND")
        self.assertEqual(self.ok(self.rest.list_sessions(item)), [sid])

    def test_login_tokens_shared(self):
        rest_token, api_token = self.rest.token, self.api.token
        # a /rest token on /api and an /api token on /rest
        on_api = ApiWire(self, self.server.port, token=rest_token)
        on_rest = RestWire(self, self.server.port, token=api_token)
        self.assertEqual(self.ok(on_api.login_info())["user"], "admin")
        self.assertEqual(self.ok(on_rest.login_info())["user"], "admin")
        a, r = self.ok(self.api.login_info()), self.ok(on_rest.login_info())
        self.assertEqual((a["user"], a["created_time"]), (r["user"], r["created_time"]))
        # logout on one flavour ends the token on the other
        self.ok(on_api.logout(), "void")
        self.assertEqual(self.ok(self.rest.login_info(), "error")["error_type"], "UNAUTHENTICATED")
        self.ok(on_rest.logout(), "void")
        self.assertEqual(self.ok(self.api.login_info(), "error")["error_type"], "UNAUTHENTICATED")


# ---------------------------------------------------------------------------------------------
# 4. /rest login cookie, and ?~action=create
# ---------------------------------------------------------------------------------------------

class LoginCookieTest(RestCase, ServerTestCase):

    def rest_login(self, headers=None):
        h = {"Authorization": basic_auth("admin", USERS["admin"][0])}
        h.update(headers or {})
        r = Client(self.server.port).post(R_LOGIN, auth=False, headers=h)
        token = self.value(r, "/rest login")
        self.assertIsInstance(token, str)
        self.assertGreaterEqual(len(token), 16, token)
        return r, token

    def the_cookie(self, r):
        cookies = set_cookies(r)
        self.assertEqual(len(cookies), 1, "want one Set-Cookie, got %r" % cookies)
        jar = http.cookies.SimpleCookie()
        jar.load(cookies[0])
        self.assertIn("vmware-api-session-id", jar, cookies)
        return jar["vmware-api-session-id"], cookies[0]

    def test_login_sets_cookie(self):
        r, token = self.rest_login()
        morsel, raw = self.the_cookie(r)
        self.assertEqual(morsel.value, token, raw)
        path = morsel["path"] or "/"
        self.assertTrue(R_LOGIN.startswith(path) and R_SESSION.startswith(path),
                        "the cookie must be sent back to /rest: %r" % raw)
        # any value but "true" still gets the cookie
        r, token = self.rest_login({"vmware-use-header-authn": "false"})
        self.assertEqual(self.the_cookie(r)[0].value, token)

    def test_header_authn_means_no_cookie(self):
        for value in ("true", "TRUE"):
            with self.subTest(value=value):
                r, token = self.rest_login({"vmware-use-header-authn": value})
                self.assertEqual(set_cookies(r), [], "no cookie with vmware-use-header-authn")
                c = Client(self.server.port, token=token)
                self.assertEqual(self.value(c.post(R_LOGIN + "?~action=get"))["user"], "admin")

    def test_api_login_sets_no_cookie(self):
        r = Client(self.server.port).post(A_LOGIN, auth=False, headers={
            "Authorization": basic_auth("admin", USERS["admin"][0])})
        self.assertStatus(r, 201, "/api login")
        self.assertEqual(set_cookies(r), [], "/api login sets no cookie")

    def test_cookie_instead_of_header(self):
        r, token = self.rest_login()
        morsel, _ = self.the_cookie(r)
        anon = Client(self.server.port)
        for cookie in ("vmware-api-session-id=" + morsel.value,
                       "a=b; vmware-api-session-id=%s; c=d" % morsel.value):
            with self.subTest(cookie=cookie):
                # A POST carried by the cookie alone must say it is JSON (CSRF, test_cookies).
                hdr = {"Cookie": cookie, "Content-Type": "application/json"}
                info = self.value(anon.post(R_LOGIN + "?~action=get", headers=hdr), "info")
                self.assertEqual(info["user"], "admin", info)
                for k in ("created_time", "last_accessed_time"):
                    self.assertIsoTime(info.get(k), k)
                self.assertEqual(sorted(info), ["created_time", "last_accessed_time", "user"])
                # the same login on /api
                r = anon.get(A_LOGIN, headers=hdr)
                self.assertStatus(r, 200, "/api with the cookie")
                self.assertEqual(r.json["user"], "admin")
        hdr = {"Cookie": "vmware-api-session-id=" + morsel.value}
        # real work with the cookie alone, on both flavours
        _, item = Client(self.server.port, token=token).make_library_item()
        sid = self.value(anon.post(R_SESSION, {"create_spec": {"library_item_id": item}},
                                   headers=hdr), "create with cookie")
        self.void(anon.post(rid(R_SESSION, sid, "keep-alive"), {"client_progress": 7},
                            headers=hdr), "keep-alive with cookie")
        r = anon.get(A_SESSION + "/" + sid, headers=hdr)
        self.assertStatus(r, 200, "/api get with cookie")
        self.assertEqual((r.json["state"], r.json["client_progress"]), ("ACTIVE", 7), r.json)
        # a cookie whose name merely ends in vmware-api-session-id is not the login
        r = anon.post(R_LOGIN + "?~action=get",
                      headers={"Cookie": "xvmware-api-session-id=" + morsel.value})
        self.assertRestError(r, 401, "UNAUTHENTICATED")

    def test_logout_with_cookie(self):
        r, token = self.rest_login()
        hdr = {"Cookie": "vmware-api-session-id=" + self.the_cookie(r)[0].value,
               "Content-Type": "application/json"}  # cookie-only POST/DELETE: JSON (CSRF)
        anon = Client(self.server.port)
        self.value(anon.post(R_LOGIN + "?~action=get", headers=hdr))
        self.void(anon.delete(R_LOGIN, headers=hdr), "logout")
        self.assertRestError(anon.post(R_LOGIN + "?~action=get", headers=hdr), 401,
                             "UNAUTHENTICATED", id_prefix=AUTH_REQUIRED_MSG_ID)
        self.assertRestError(anon.delete(R_LOGIN, headers=hdr), 401, "UNAUTHENTICATED")
        self.assertApiError(anon.get(A_LOGIN, headers=hdr), 401, "UNAUTHENTICATED")
        self.assertApiError(Client(self.server.port, token=token).get(A_LOGIN), 401,
                            "UNAUTHENTICATED", what="the header after a cookie logout")


class CreateAliasTest(RestCase, ServerTestCase):

    def test_create_alias(self):
        _, item = self.admin.make_library_item()
        ct = new_token()
        path = R_SESSION + "?~action=create"
        sid = self.value(self.admin.post(path, {"create_spec": {"library_item_id": item},
                                                "client_token": ct}), "create by alias")
        self.assertTrue(sid.startswith(item + ":"), sid)
        got = self.value(self.admin.get(rid(R_SESSION, sid)))
        self.assertEqual((got["id"], got["library_item_id"], got["state"]),
                         (sid, item, "ACTIVE"), got)
        # the alias and the plain form are the same operation: same token, same session
        body = {"create_spec": {"library_item_id": item}, "client_token": ct}
        self.assertEqual(self.value(self.admin.post(R_SESSION, body)), sid)
        self.assertEqual(self.value(self.admin.post(path, body)), sid)
        # and the same refusals
        self.assertRestError(self.admin.post(path, {"create_spec": {"library_item_id": item}}),
                             400, "RESOURCE_BUSY")
        self.assertRestError(self.admin.post(path, {"library_item_id": item}), 400,
                             "INVALID_ARGUMENT", mentions=["create_spec"])
        self.assertEqual(self.value(self.admin.get(R_SESSION + "?library_item_id=" + item)), [sid])

    def test_alias_on_other_creates(self):
        lib = self.value(self.admin.post(R_LOCAL_LIBRARY + "?~action=create", {
            "create_spec": {"name": uniq("alias-lib"), "storage_backings": BACKINGS}}))
        self.assertEqual(self.value(self.admin.get(rid(R_LIBRARY, lib)))["id"], lib)
        item = self.value(self.admin.post(R_ITEM + "?~action=create", {
            "create_spec": {"library_id": lib, "name": "alias-item", "type": ""}}))
        self.assertEqual(self.value(self.admin.get(rid(R_ITEM, item)))["library_id"], lib)
        r = Client(self.server.port).post(R_LOGIN + "?~action=create", auth=False, headers={
            "Authorization": basic_auth("admin", USERS["admin"][0]),
            "vmware-use-header-authn": "true"})
        token = self.value(r, "login by alias")
        self.assertEqual(self.value(Client(self.server.port, token=token).post(
            R_LOGIN + "?~action=get"))["user"], "admin")

    def test_alias_only_where_create_is(self):
        _, item = self.admin.make_library_item()
        sid = self.value(self.admin.post(R_SESSION, {"create_spec": {"library_item_id": item}}))
        r = self.admin.post(rid(R_SESSION, sid, "create"))
        self.assertRestError(r, 404, "OPERATION_NOT_FOUND", what="~action=create on a session")
        r = self.admin.post(rid(R_FILE, sid, "create"),
                            {"file_spec": {"name": "a", "source_type": "PUSH"}})
        self.assertRestError(r, 404, "OPERATION_NOT_FOUND", what="~action=create on file")


if __name__ == "__main__":
    import unittest
    unittest.main()
