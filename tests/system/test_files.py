"""The UpdateSession File service over /api (vsphere-api.md 3): add (PUSH and PULL specs, the
?action=add and {"file_spec": ...} spellings, replacement by name), list, get, remove and
validate; every AddSpec refusal (400 INVALID_ARGUMENT naming the field), including file names
that try to leave --storage-dir; file operations on sessions that are not ACTIVE (400
NOT_ALLOWED_IN_CURRENT_STATE) and on unknown sessions (404); complete refused while a PUSH file
is not READY; the item's own file list (GET .../item/{id}/file[?name=]).

This file also holds the helpers test_upload.py and test_pull.py share (FilesCase, upload(),
paths): an upload is raw bytes PUT (or POSTed) to File.Info upload_endpoint.uri, with no login.

Base path S = /api/content/library/item/update-session/{session_id}."""

import hashlib
import http.client
import json
import os
import secrets
import socket
import sys
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (session_path, CLS_MSG_PREFIX, UPDATE_SESSION_PATH,  # noqa: E402
                     ApiTestCase, Client, Response, ServerTestCase, free_port, wait_for)

ITEM_PATH = "/api/content/library/item"
UPLOAD_TIMEOUT = 60.0         # seconds, every upload socket operation
READY_WAIT_S = 10.0           # a transfer that ended reads READY/ERROR within this
CUT_WAIT_S = 10.0             # a cut upload stops reading TRANSFERRING within this
DISCARD_WAIT_S = 5.0          # staged data are gone from the disk within this after cancel/fail
POLL_S = 0.05

TRANSFER_STATUSES = ("WAITING_FOR_TRANSFER", "TRANSFERRING", "VALIDATING", "READY", "ERROR")
HASHES = {"SHA1": "sha1", "MD5": "md5", "SHA256": "sha256", "SHA512": "sha512"}
EMPTY_SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"


# ---------------------------------------------------------------------------------------------
# paths and plain helpers (shared with test_upload.py and test_pull.py)
# ---------------------------------------------------------------------------------------------

def q(name):
    """A file name as one path segment."""
    return urllib.parse.quote(name, safe="")




def files_path(sid, name=None, action=None):
    path = UPDATE_SESSION_PATH + "/" + sid + "/file"
    if name is not None:
        path += "/" + q(name)
    if action is not None:
        path += "?action=" + action
    return path


def item_files_path(item, name=None):
    path = ITEM_PATH + "/" + item + "/file"
    if name is not None:
        path += "?name=" + q(name)
    return path


def digest(data, algorithm="SHA1"):
    return hashlib.new(HASHES[algorithm], data).hexdigest()


def blob(size, seed=None):
    """size pseudo-random bytes (a different stream for each seed)."""
    seed = secrets.token_bytes(16) if seed is None else str(seed).encode()
    out, counter = [], 0
    while sum(len(b) for b in out) < size:
        out.append(hashlib.sha512(seed + counter.to_bytes(8, "big")).digest() * 64)
        counter += 1
    return b"".join(out)[:size]


def push_spec(name, **extra):
    spec = {"name": name, "source_type": "PUSH"}
    spec.update(extra)
    return spec


def checksum_spec(data, algorithm="SHA1"):
    return {"algorithm": algorithm, "checksum": digest(data, algorithm)}


def _json(raw):
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def upload_target(uri):
    """(host, port, path with query) of an upload_endpoint.uri."""
    u = urllib.parse.urlsplit(uri)
    path = u.path + ("?" + u.query if u.query else "")
    return u.hostname, u.port or (443 if u.scheme == "https" else 80), path


def upload(uri, body, method="PUT", headers=None, length=None, timeout=UPLOAD_TIMEOUT,
           port=None):
    """Sends raw bytes to an upload URI and returns Response(status, json, raw, headers).
    body: bytes (sent with the headers in one write), or an iterable of byte chunks with
    length (the Content-Length). No login header unless given in headers. port overrides the
    URI's port (for a --public-url that names another host)."""
    host, uport, path = upload_target(uri)
    if port is not None:
        host = "127.0.0.1"
    conn = http.client.HTTPConnection(host, port or uport, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        if isinstance(body, (bytes, bytearray)):
            length = len(body)
        conn.putheader("Content-Type", "application/octet-stream")
        conn.putheader("Content-Length", str(length))
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        try:
            if isinstance(body, (bytes, bytearray)):
                conn.endheaders(bytes(body))
            else:
                conn.endheaders()
                for chunk in body:
                    conn.send(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (a refusal); read what it said
        resp = conn.getresponse()
        try:
            raw = resp.read()
        except (http.client.IncompleteRead, ConnectionResetError) as e:
            raw = getattr(e, "partial", b"")
        return Response(resp.status, _json(raw), raw, resp.headers)
    finally:
        conn.close()


class OpenUpload:
    """An upload on its own socket, sent piece by piece: headers first, then send(), then
    finish() for the answer, or cut() to close the connection in the middle of the body."""

    def __init__(self, uri, length, method="PUT", headers=None, timeout=UPLOAD_TIMEOUT):
        host, port, path = upload_target(uri)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (host, port),
                 "Content-Type: application/octet-stream", "Content-Length: %d" % length]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send(self, data):
        self.sock.sendall(data)

    def finish(self):
        resp = http.client.HTTPResponse(self.sock, method="PUT")
        try:
            resp.begin()
            raw = resp.read()
            return Response(resp.status, _json(raw), raw, resp.headers)
        finally:
            self.close()

    def cut(self):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def files_on_disk(root):
    """Every regular file under root: [(path, size)]."""
    out = []
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            try:
                if os.path.isfile(p) and not os.path.islink(p):
                    out.append((p, os.path.getsize(p)))
            except OSError:
                pass
    return out


def disk_holds(root, data):
    """Is there a file under root whose content is exactly data? (Layout-agnostic.)"""
    for p, size in files_on_disk(root):
        if size != len(data):
            continue
        try:
            with open(p, "rb") as f:
                if f.read() == data:
                    return True
        except OSError:
            pass
    return False




# ---------------------------------------------------------------------------------------------
# assertions and steps (shared)
# ---------------------------------------------------------------------------------------------

class FilesCase(ApiTestCase):
    """Steps and checks of the file service; self.admin is a logged-in Client."""

    def create_session(self, client, item):
        r = client.create_session(item)
        self.assertStatus(r, 201, "create session on %s" % item)
        self.assertIsInstance(r.json, str, r.raw[:300])
        return r.json

    def new_session(self, client):
        """A fresh item in a fresh library and an ACTIVE session on it: (item, session)."""
        _, item = client.make_library_item()
        return item, self.create_session(client, item)

    def get_session(self, client, sid):
        r = client.get(session_path(sid))
        self.assertStatus(r, 200, "get session")
        self.assertIsInstance(r.json, dict, r.raw[:300])
        return r.json

    def state(self, client, sid):
        return self.get_session(client, sid).get("state")

    def end_session(self, client, sid, action, status=204):
        body = {"client_error_message": "test gave up"} if action == "fail" else None
        r = client.post(session_path(sid, action), body)
        self.assertStatus(r, status, action)
        return r

    def wait_session(self, client, sid, states, timeout, what="session"):
        """Polls until the session's state is in states; returns it."""
        last = {}

        def probe():
            last["s"] = self.get_session(client, sid)
            return last["s"].get("state") in states

        if not wait_for(probe, timeout, 0.1):
            self.fail("%s: state not in %r within %.0f s: %r" % (what, states, timeout,
                                                                   last.get("s")))
        return last["s"]

    def add(self, client, sid, spec, what="add", path=None):
        r = client.post(path or files_path(sid), spec)
        self.assertStatus(r, 201, "%s %r" % (what, spec))
        info = r.json
        self.assertIsInstance(info, dict, r.raw[:300])
        self.assertFileInfo(info)
        return info

    def file(self, client, sid, name):
        r = client.get(files_path(sid, name))
        self.assertStatus(r, 200, "get file %r" % name)
        self.assertIsInstance(r.json, dict, r.raw[:300])
        self.assertFileInfo(r.json)
        self.assertEqual(r.json.get("name"), name, r.json)
        return r.json

    def files(self, client, sid):
        """GET S/file as {name: File.Info}; names must be unique."""
        r = client.get(files_path(sid))
        self.assertStatus(r, 200, "list files")
        self.assertIsInstance(r.json, list, r.raw[:300])
        out = {}
        for info in r.json:
            self.assertIsInstance(info, dict, r.raw[:300])
            self.assertFileInfo(info)
            self.assertNotIn(info["name"], out, "a name listed twice: %r" % r.json)
            out[info["name"]] = info
        return out

    def wait_file(self, client, sid, name, statuses, timeout=READY_WAIT_S):
        last = {}

        def probe():
            last["f"] = self.file(client, sid, name)
            return last["f"].get("status") in statuses

        if not wait_for(probe, timeout):
            self.fail("file %r: status not in %r within %.0f s: %r" % (
                name, statuses, timeout, last.get("f")))
        return last["f"]

    def validate(self, client, sid):
        r = client.post(files_path(sid, action="validate"))
        self.assertStatus(r, 200, "validate")
        v = r.json
        self.assertIsInstance(v, dict, r.raw[:300])
        self.assertIsInstance(v.get("has_errors"), bool, "has_errors always present: %r" % v)
        self.assertIsInstance(v.get("missing_files"), list, "missing_files always present: %r" % v)
        self.assertIsInstance(v.get("invalid_files"), list, "invalid_files always present: %r" % v)
        for e in v["invalid_files"]:
            self.assertIsInstance(e, dict, v)
            self.assertIsInstance(e.get("name"), str, v)
            self.assertMessage(e.get("error_message"), "invalid_files error_message")
        return v

    def push(self, client, sid, name, data, method="PUT", **spec):
        """Adds a PUSH file, uploads data, waits for READY; returns its File.Info."""
        info = self.add(client, sid, push_spec(name, **spec))
        r = upload(info["upload_endpoint"]["uri"], data, method=method)
        self.assertStatus(r, 200, "upload %d bytes to %r" % (len(data), name))
        return self.wait_file(client, sid, name, ("READY",))

    def item(self, client, item):
        r = client.get(ITEM_PATH + "/" + item)
        self.assertStatus(r, 200, "get item")
        self.assertIsInstance(r.json, dict, r.raw[:300])
        return r.json

    def item_files(self, client, item):
        """GET .../item/{id}/file as {name: item File.Info}."""
        r = client.get(item_files_path(item))
        self.assertStatus(r, 200, "item files")
        self.assertIsInstance(r.json, list, r.raw[:300])
        out = {}
        for f in r.json:
            self.assertIsInstance(f, dict, r.raw[:300])
            for key, kind in (("name", str), ("size", int), ("cached", bool), ("version", str)):
                self.assertIsInstance(f.get(key), kind, "item file %s: %r" % (key, f))
            self.assertNotIn(f["name"], out, r.json)
            out[f["name"]] = f
        return out

    # -- checks -------------------------------------------------------------------------------

    def assertMessage(self, m, what="message"):
        self.assertIsInstance(m, dict, "%s: %r" % (what, m))
        self.assertIsInstance(m.get("id"), str, "%s: %r" % (what, m))
        self.assertIsInstance(m.get("default_message"), str, "%s: %r" % (what, m))
        self.assertTrue(m["default_message"], "%s: %r" % (what, m))
        self.assertIsInstance(m.get("args"), list, "%s: %r" % (what, m))

    def assertFileInfo(self, info):
        """The required File.Info fields and the per-status ones."""
        self.assertIsInstance(info.get("name"), str, info)
        self.assertIn(info.get("source_type"), ("NONE", "PUSH", "PULL"), info)
        self.assertIn(info.get("status"), TRANSFER_STATUSES, info)
        self.assertIsInstance(info.get("bytes_transferred"), int, info)
        self.assertGreaterEqual(info["bytes_transferred"], 0, info)
        if info["source_type"] == "PUSH":
            ep = info.get("upload_endpoint")
            self.assertIsInstance(ep, dict, "PUSH file without upload_endpoint: %r" % info)
            self.assertIsInstance(ep.get("uri"), str, info)
        else:
            self.assertNotIn("upload_endpoint", info, info)
        if info["source_type"] == "PULL":
            self.assertIsInstance(info.get("source_endpoint"), dict, info)
        if info["status"] == "READY":
            self.assertIsInstance(info.get("size"), int, "READY file without size: %r" % info)
        if info["status"] == "ERROR":
            self.assertMessage(info.get("error_message"), "error_message of an ERROR file")
        else:
            self.assertNotIn("error_message", info, info)

    def assertChecksum(self, ci, data, algorithm=None):
        """checksum_info ci matches data (algorithm: the one expected, else whatever ci says)."""
        self.assertIsInstance(ci, dict, "checksum_info: %r" % (ci,))
        alg = ci.get("algorithm", "SHA1")
        if algorithm is not None:
            self.assertEqual(alg, algorithm, ci)
        self.assertIn(alg, HASHES, ci)
        self.assertIsInstance(ci.get("checksum"), str, ci)
        self.assertEqual(ci["checksum"].lower(), digest(data, alg), ci)

    def assertReady(self, info, data, algorithm="SHA1"):
        self.assertEqual(info.get("status"), "READY", info)
        self.assertEqual(info.get("size"), len(data), info)
        self.assertEqual(info.get("bytes_transferred"), len(data), info)
        self.assertChecksum(info.get("checksum_info"), data, algorithm)

    def assertInvalid(self, r, *mentions, what=""):
        return self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=mentions,
                                   id_prefix=CLS_MSG_PREFIX, what=what)

    def assertNotAllowed(self, r, *mentions, what=""):
        return self.assertApiError(r, 400, "NOT_ALLOWED_IN_CURRENT_STATE", mentions=mentions,
                                   id_prefix=CLS_MSG_PREFIX, what=what)


# ---------------------------------------------------------------------------------------------
# add / list / get / remove
# ---------------------------------------------------------------------------------------------

class AddTest(FilesCase, ServerTestCase):

    server_args = ("--pull-allow", "127.0.0.1/32")  # test_add_pull: a loopback source

    def test_add_push(self):
        _, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec("disk.iso"))
        self.assertEqual(info["name"], "disk.iso")
        self.assertEqual(info["source_type"], "PUSH")
        self.assertEqual(info["status"], "WAITING_FOR_TRANSFER")
        self.assertEqual(info["bytes_transferred"], 0)
        self.assertNotIn("size", info, "size is set only when declared or READY: %r" % info)
        self.assertNotIn("source_endpoint", info, info)

        # upload_endpoint.uri: absolute, on this server, /cls/data/<token>/<name>.
        u = urllib.parse.urlsplit(info["upload_endpoint"]["uri"])
        self.assertEqual(u.scheme, "http", info)
        self.assertEqual((u.hostname, u.port), ("127.0.0.1", self.server.port), info)
        parts = u.path.split("/")
        self.assertEqual(parts[:3], ["", "cls", "data"], info)
        self.assertEqual(len(parts), 5, info)
        self.assertGreaterEqual(len(parts[3]), 22, "token of >= 128 random bits: %r" % info)
        self.assertEqual(urllib.parse.unquote(parts[4]), "disk.iso", info)

        # Two files, two different tokens; get returns what add returned.
        other = self.add(self.admin, sid, push_spec("disk2.iso", size=10))
        self.assertEqual(other["size"], 10, "a declared size is shown: %r" % other)
        t1 = info["upload_endpoint"]["uri"].split("/")[-2]
        t2 = other["upload_endpoint"]["uri"].split("/")[-2]
        self.assertNotEqual(t1, t2)
        self.assertEqual(self.file(self.admin, sid, "disk.iso"), info)
        self.assertEqual(set(self.files(self.admin, sid)), {"disk.iso", "disk2.iso"})

    def test_add_spellings(self):
        """POST S/file, POST S/file?action=add, and the {"file_spec": ...} wrapper."""
        _, sid = self.new_session(self.admin)
        self.add(self.admin, sid, push_spec("plain"))
        self.add(self.admin, sid, push_spec("action"), path=files_path(sid, action="add"))
        self.add(self.admin, sid, {"file_spec": push_spec("wrapped")})
        self.add(self.admin, sid, {"file_spec": push_spec("both")},
                 path=files_path(sid, action="add"))
        self.assertEqual(set(self.files(self.admin, sid)), {"plain", "action", "wrapped", "both"})

    def test_add_pull(self):
        _, sid = self.new_session(self.admin)
        uri = "http://127.0.0.1:%d/nothing-listens-here.bin" % free_port()
        info = self.add(self.admin, sid, {"name": "pulled.bin", "source_type": "PULL",
                                          "source_endpoint": {"uri": uri}})
        self.assertEqual(info["source_type"], "PULL")
        self.assertEqual(info["source_endpoint"].get("uri"), uri, info)
        self.assertIn(info["status"], ("WAITING_FOR_TRANSFER", "TRANSFERRING", "ERROR"), info)
        # Nothing listens there: the pull fails, the file reads ERROR with a reason.
        failed = self.wait_file(self.admin, sid, "pulled.bin", ("ERROR",))
        self.assertNotEqual(failed.get("status"), "READY")

    def test_add_existing_name_replaces(self):
        _, sid = self.new_session(self.admin)
        first = self.add(self.admin, sid, push_spec("a.bin", size=10))
        second = self.add(self.admin, sid, push_spec("a.bin", size=20))
        self.assertEqual(second["size"], 20, second)
        files = self.files(self.admin, sid)
        self.assertEqual(list(files), ["a.bin"], "adding a name again replaces it: %r" % files)
        self.assertEqual(files["a.bin"]["size"], 20, files)
        self.assertEqual(files["a.bin"]["upload_endpoint"], second["upload_endpoint"], files)
        self.assertIsInstance(first["upload_endpoint"]["uri"], str)

    def test_accepted_names(self):
        _, sid = self.new_session(self.admin)
        names = ["x" * 255, "\u00e9" * 127, "disk 1.vmdk", "photon-5.0.ova", "v1..2.txt",
                 "name-with-%25-and-?-and-#", "\u65e5\u672c.iso"]
        for name in names:
            with self.subTest(name=name[:40]):
                info = self.add(self.admin, sid, push_spec(name))
                self.assertEqual(info["name"], name)
                self.assertEqual(self.file(self.admin, sid, name)["name"], name)
                uri = info["upload_endpoint"]["uri"]
                self.assertEqual(urllib.parse.unquote(uri.rsplit("/", 1)[1]), name, uri)
        self.assertEqual(set(self.files(self.admin, sid)), set(names))


class AddSpecErrorsTest(FilesCase, ServerTestCase):
    """Every refused AddSpec: 400 INVALID_ARGUMENT naming the field; nothing is added."""

    BAD_NAMES = ["", ".", "..", "a/b", "/etc/passwd", "../x", "a/../../b", "..\\x", "a\\b",
                 "a\x00b", "a\nb", "\x7f", "x" * 256, "\u00e9" * 128]

    def check_refused(self, sid, body, field, path=None):
        r = self.admin.post(path or files_path(sid), body)
        self.assertInvalid(r, field, what="add %r" % (body,))

    def test_name_errors(self):
        _, sid = self.new_session(self.admin)
        self.check_refused(sid, {"source_type": "PUSH"}, "name")
        self.check_refused(sid, {"name": None, "source_type": "PUSH"}, "name")
        self.check_refused(sid, {"name": 42, "source_type": "PUSH"}, "name")
        self.check_refused(sid, {"name": ["a"], "source_type": "PUSH"}, "name")
        for name in self.BAD_NAMES:
            with self.subTest(name=name[:40]):
                self.check_refused(sid, push_spec(name), "name")
                self.check_refused(sid, {"file_spec": push_spec(name)}, "name")
        self.assertEqual(self.files(self.admin, sid), {}, "refused adds add nothing")

    def test_nul_in_json_name(self):
        """A NUL written as the JSON escape \\u0000 (the body is built by hand)."""
        _, sid = self.new_session(self.admin)
        for raw in (b'{"name": "a\\u0000b", "source_type": "PUSH"}',
                    b'{"name": "\\u0000", "source_type": "PUSH"}',
                    b'{"name": "ok\\u0000/../../x", "source_type": "PUSH"}'):
            with self.subTest(body=raw):
                r = self.admin.post(files_path(sid), raw)
                self.assertInvalid(r, "name", what="add %r" % raw)
        self.assertEqual(self.files(self.admin, sid), {})

    def test_source_type_errors(self):
        _, sid = self.new_session(self.admin)
        self.check_refused(sid, {"name": "a"}, "source_type")
        self.check_refused(sid, {"name": "a", "source_type": "BOGUS"}, "source_type")
        self.check_refused(sid, {"name": "a", "source_type": "push"}, "source_type")
        self.check_refused(sid, {"name": "a", "source_type": 1}, "source_type")
        self.assertEqual(self.files(self.admin, sid), {})

    def test_pull_endpoint_errors(self):
        _, sid = self.new_session(self.admin)
        pull = {"name": "a", "source_type": "PULL"}
        self.check_refused(sid, pull, "source_endpoint")
        self.check_refused(sid, dict(pull, source_endpoint=None), "source_endpoint")
        self.check_refused(sid, dict(pull, source_endpoint={}), "source_endpoint")
        self.check_refused(sid, dict(pull, source_endpoint="http://h/x"), "source_endpoint")
        self.check_refused(sid, dict(pull, source_endpoint={"uri": 5}), "source_endpoint")
        for uri in ("ftp://127.0.0.1/x.iso", "file:///etc/passwd", "ds:///vmfs/volumes/x/y",
                    "gopher://h/x", "no scheme at all", ""):
            with self.subTest(uri=uri):
                self.check_refused(sid, dict(pull, source_endpoint={"uri": uri}),
                                   "source_endpoint")
                self.check_refused(sid, {"file_spec": dict(pull, source_endpoint={"uri": uri})},
                                   "source_endpoint")
        self.assertEqual(self.files(self.admin, sid), {})

    def test_size_errors(self):
        _, sid = self.new_session(self.admin)
        for size in (-1, -1000000, "10", 1.5, True):
            with self.subTest(size=size):
                self.check_refused(sid, push_spec("a", size=size), "size")
        self.assertEqual(self.files(self.admin, sid), {})
        self.add(self.admin, sid, push_spec("zero", size=0))

    def test_checksum_errors(self):
        _, sid = self.new_session(self.admin)
        good = "0" * 40
        bad = [
            {"algorithm": "CRC32", "checksum": "00000000"},
            {"algorithm": "sha-1", "checksum": good},
            {"algorithm": 1, "checksum": good},
            {"algorithm": "SHA1"},
            {"algorithm": "SHA1", "checksum": None},
            {"algorithm": "SHA1", "checksum": "z" * 40},
            {"algorithm": "SHA1", "checksum": "0" * 39},
            {"algorithm": "MD5", "checksum": good},
            {"algorithm": "SHA256", "checksum": good},
            {"checksum": "0" * 64},
            "deadbeef",
        ]
        for ci in bad:
            with self.subTest(checksum_info=ci):
                self.check_refused(sid, push_spec("a", checksum_info=ci), "checksum_info")
        self.assertEqual(self.files(self.admin, sid), {})
        for alg, n in (("SHA1", 40), ("MD5", 32), ("SHA256", 64), ("SHA512", 128)):
            self.add(self.admin, sid, push_spec("ok-" + alg,
                                                checksum_info={"algorithm": alg,
                                                               "checksum": "ab" * (n // 2)}))
        # No algorithm: SHA1.
        self.add(self.admin, sid, push_spec("default", checksum_info={"checksum": good}))

    def test_traversal_names_never_reach_the_disk(self):
        _, sid = self.new_session(self.admin)
        tag = secrets.token_hex(4)
        names = ["../escape-" + tag, "a/../../escape-" + tag, "../../escape-" + tag,
                 "..%2Fescape-" + tag + "/..", "./../escape-" + tag]
        for name in names:
            with self.subTest(name=name):
                self.check_refused(sid, push_spec(name), "name")
        for name in ("../escape-" + tag, "a/../../escape-" + tag):
            self.check_refused(sid, {"name": name, "source_type": "PULL",
                                     "source_endpoint": {"uri": "http://127.0.0.1:9/x"}}, "name")
        self.assertEqual(self.files(self.admin, sid), {})
        # Nothing named escape-<tag> anywhere around the storage dir.
        roots = [self.server.dir, os.path.dirname(self.server.dir)]
        for root in roots:
            for entry in os.listdir(root):
                self.assertNotIn("escape-" + tag, entry, root)
        for p, _ in files_on_disk(self.server.dir):
            self.assertNotIn("escape-" + tag, p)
        self.assertEqual(sorted(os.listdir(self.server.dir)),
                         sorted(["storage", "users", "server.log"]),
                         "the server wrote next to its storage dir")


class ListGetRemoveTest(FilesCase, ServerTestCase):

    def test_empty_item(self):
        item, sid = self.new_session(self.admin)
        self.assertEqual(self.files(self.admin, sid), {})
        self.assertEqual(self.item_files(self.admin, item), {})
        v = self.validate(self.admin, sid)
        self.assertEqual(v, {"has_errors": False, "missing_files": [], "invalid_files": []})

    def test_unknown_file(self):
        _, sid = self.new_session(self.admin)
        self.add(self.admin, sid, push_spec("known"))
        for name in ("unknown", "KNOWN", "known ", "x" * 255):
            with self.subTest(name=name[:40]):
                self.assertInvalid(self.admin.get(files_path(sid, name)), what="get %r" % name)
                self.assertInvalid(self.admin.delete(files_path(sid, name)),
                                   what="delete %r" % name)
        self.assertEqual(set(self.files(self.admin, sid)), {"known"})

    def test_remove(self):
        _, sid = self.new_session(self.admin)
        self.add(self.admin, sid, push_spec("a"))
        self.add(self.admin, sid, push_spec("b"))
        r = self.admin.delete(files_path(sid, "a"))
        self.assertStatus(r, 204, "remove a")
        self.assertEqual(r.raw, b"", "204 has no body")
        self.assertEqual(set(self.files(self.admin, sid)), {"b"},
                         "a removed file is no longer listed")
        # A removed file is not missing any more.
        v = self.validate(self.admin, sid)
        self.assertEqual(v["missing_files"], ["b"], v)
        # Add it again: listed again.
        self.add(self.admin, sid, push_spec("a"))
        self.assertEqual(set(self.files(self.admin, sid)), {"a", "b"})

    def test_unauthenticated(self):
        _, sid = self.new_session(self.admin)
        anon = Client(self.server.port)
        bogus = Client(self.server.port, token="not-a-login-token")
        for c in (anon, bogus):
            for r in (c.get(files_path(sid)), c.post(files_path(sid), push_spec("a")),
                      c.post(files_path(sid, action="validate"))):
                self.assertApiError(r, 401, "UNAUTHENTICATED")
        self.assertEqual(self.files(self.admin, sid), {})


# ---------------------------------------------------------------------------------------------
# validate
# ---------------------------------------------------------------------------------------------

class ValidateTest(FilesCase, ServerTestCase):

    def test_validate_flow(self):
        _, sid = self.new_session(self.admin)
        self.add(self.admin, sid, push_spec("a.ovf"))
        self.add(self.admin, sid, push_spec("b.vmdk"))
        v = self.validate(self.admin, sid)
        self.assertTrue(v["has_errors"], v)
        self.assertEqual(sorted(v["missing_files"]), ["a.ovf", "b.vmdk"], v)
        self.assertEqual(v["invalid_files"], [], v)

        self.push(self.admin, sid, "a.ovf", b"<Envelope/>")
        v = self.validate(self.admin, sid)
        self.assertTrue(v["has_errors"], v)
        self.assertEqual(v["missing_files"], ["b.vmdk"], v)

        # A checksum mismatch makes b.vmdk invalid (ERROR), not missing.
        info = self.add(self.admin, sid, push_spec("b.vmdk",
                                                   checksum_info=checksum_spec(b"other")))
        r = upload(info["upload_endpoint"]["uri"], b"content")
        self.assertStatus(r, 400, "upload with a checksum mismatch")
        self.wait_file(self.admin, sid, "b.vmdk", ("ERROR",))
        v = self.validate(self.admin, sid)
        self.assertTrue(v["has_errors"], v)
        self.assertEqual(v["missing_files"], [], v)
        self.assertEqual([e["name"] for e in v["invalid_files"]], ["b.vmdk"], v)

        self.push(self.admin, sid, "b.vmdk", b"content")
        v = self.validate(self.admin, sid)
        self.assertEqual(v, {"has_errors": False, "missing_files": [], "invalid_files": []})
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")


# ---------------------------------------------------------------------------------------------
# session states
# ---------------------------------------------------------------------------------------------

class SessionStateTest(FilesCase, ServerTestCase):

    def test_file_changes_refused_reads_served_outside_active(self):
        lib = self.admin.make_library()
        for action, state in (("complete", "DONE"), ("cancel", "CANCELED"), ("fail", "ERROR")):
            with self.subTest(state=state):
                sid = self.create_session(self.admin, self.admin.make_item(lib))
                self.add(self.admin, sid, push_spec("gone"))
                self.push(self.admin, sid, "kept", b"kept bytes")
                self.assertStatus(self.admin.delete(files_path(sid, "gone")), 204, "remove")
                self.end_session(self.admin, sid, action)
                self.assertEqual(self.state(self.admin, sid), state)
                self.assertNotAllowed(self.admin.post(files_path(sid), push_spec("a")), state,
                                      what="add in " + state)
                self.assertNotAllowed(self.admin.post(files_path(sid, action="add"),
                                                      {"file_spec": push_spec("a")}), state,
                                      what="add (action) in " + state)
                self.assertNotAllowed(self.admin.post(files_path(sid, action="validate")),
                                      state, what="validate in " + state)
                self.assertNotAllowed(self.admin.delete(files_path(sid, "gone")), state,
                                      what="remove in " + state)
                # list and get are reads: served in every state while the session exists
                r = self.admin.get(files_path(sid))
                self.assertStatus(r, 200, "list in " + state)
                self.assertEqual([f["name"] for f in r.json], ["kept"], r.json)
                r = self.admin.get(files_path(sid, "kept"))
                self.assertStatus(r, 200, "get in " + state)
                self.assertEqual(r.json["name"], "kept")
                self.assertEqual(r.json["status"], "READY", r.json)
                for name in ("gone", "a"):  # no such file: 400, as in ACTIVE
                    r = self.admin.get(files_path(sid, name))
                    self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=(name,))
                rest = self.admin.get("/rest/com/vmware/content/library/item/updatesession/file"
                                      "?update_session_id=" + q(sid))
                self.assertStatus(rest, 200, "/rest list in " + state)
                self.assertEqual([f["name"] for f in rest.json["value"]], ["kept"], rest.json)
                rest = self.admin.post("/rest/com/vmware/content/library/item/updatesession/file/"
                                       "id:" + q(sid) + "?~action=get", {"file_name": "kept"})
                self.assertStatus(rest, 200, "/rest get in " + state)
                self.assertEqual(rest.json["value"]["name"], "kept")
                self.assertEqual(self.state(self.admin, sid), state)

    def test_unknown_session(self):
        _, item = self.admin.make_library_item()
        for sid in (item + ":" + str(uuid.uuid4()), str(uuid.uuid4()) + ":" + str(uuid.uuid4()),
                    "no-such-session"):
            with self.subTest(sid=sid):
                for r in (self.admin.post(files_path(sid), push_spec("a")),
                          self.admin.post(files_path(sid, action="add"),
                                          {"file_spec": push_spec("a")}),
                          self.admin.get(files_path(sid)),
                          self.admin.get(files_path(sid, "a")),
                          self.admin.delete(files_path(sid, "a")),
                          self.admin.post(files_path(sid, action="validate"))):
                    self.assertApiError(r, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX)

    def test_complete_refused_while_push_waiting(self):
        item, sid = self.new_session(self.admin)
        self.add(self.admin, sid, push_spec("never-sent.bin"))
        self.push(self.admin, sid, "sent.bin", b"x" * 100)
        r = self.admin.post(session_path(sid, "complete"))
        self.assertNotAllowed(r, "never-sent.bin", what="complete with a WAITING PUSH file")
        self.assertEqual(self.state(self.admin, sid), "ACTIVE")
        self.assertEqual(self.item_files(self.admin, item), {})
        self.assertEqual(self.item(self.admin, item).get("content_version"), "1")

        # Removing the file that never came makes complete possible.
        self.assertStatus(self.admin.delete(files_path(sid, "never-sent.bin")), 204, "remove")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        self.assertEqual(self.state(self.admin, sid), "DONE")
        files = self.item_files(self.admin, item)
        self.assertEqual(set(files), {"sent.bin"}, files)
        self.assertEqual(files["sent.bin"]["size"], 100)


# ---------------------------------------------------------------------------------------------
# item files
# ---------------------------------------------------------------------------------------------

class ItemFilesTest(FilesCase, ServerTestCase):

    def test_item_file_get(self):
        item, sid = self.new_session(self.admin)
        data = blob(3000)
        self.push(self.admin, sid, "one.bin", data)
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")

        r = self.admin.get(item_files_path(item, "one.bin"))
        self.assertStatus(r, 200, "item file by name")
        f = r.json
        self.assertIsInstance(f, dict, r.raw[:300])
        self.assertEqual(f.get("name"), "one.bin", f)
        self.assertEqual(f.get("size"), 3000, f)
        self.assertIs(f.get("cached"), True, f)
        self.assertEqual(f.get("version"), "1", f)
        self.assertChecksum(f.get("checksum_info"), data, "SHA1")
        self.assertEqual(self.item_files(self.admin, item), {"one.bin": f})

        it = self.item(self.admin, item)
        self.assertEqual(it.get("size"), 3000, it)
        self.assertIs(it.get("cached"), True, it)

        for name in ("two.bin", "ONE.BIN", "one.bin.part"):
            with self.subTest(name=name):
                self.assertApiError(self.admin.get(item_files_path(item, name)), 404,
                                    "NOT_FOUND", what="missing item file %r" % name)

    def test_unknown_item(self):
        _, item = self.admin.make_library_item()
        bogus = str(uuid.uuid4())
        self.assertApiError(self.admin.get(item_files_path(bogus)), 404, "NOT_FOUND")
        self.assertApiError(self.admin.get(item_files_path(bogus, "a")), 404, "NOT_FOUND")
        self.assertEqual(self.item_files(self.admin, item), {})
        self.assertApiError(self.admin.get(item_files_path(item, "a")), 404, "NOT_FOUND")


if __name__ == "__main__":
    import unittest
    unittest.main()
