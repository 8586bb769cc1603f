"""The owner rule and secrets at rest (issue 9).

An update session and its files belong to the user who created it: any other user gets 404
NOT_FOUND for every operation on it, in both wire flavours, as if it did not exist. An operator
(Sessions.TerminateSession) may get it, list it (with library_item_id, the session holding the
item), cancel, fail and delete it, and read its files, but never sees their upload URIs (a
bearer capability). RESOURCE_BUSY names the holding session's id only to its owner. Neither a
login token nor an upload token can be read back from Redis. A user's session list drops the ids
whose records retention deleted, without being read."""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import UPDATE_SESSION_PATH, Server, ServerTestCase, session_path  # noqa: E402
from test_files import FilesCase, blob, push_spec, upload, wait_for  # noqa: E402

R_SESSION = "/rest/com/vmware/content/library/item/update-session"
R_FILE = "/rest/com/vmware/content/library/item/updatesession/file"


def rid(path, ident, action=None):
    p = "%s/id:%s" % (path, ident)
    return p + ("?~action=" + action if action else "")


def api_file(sid, name=None, action=None):
    p = session_path(sid) + "/file" + ("/" + name if name else "")
    return p + ("?action=" + action if action else "")


def routes(sid):
    """Every per-session and file route, both flavours: (name, method, path, body)."""
    spec = push_spec("x.bin")
    return [
        ("api get", "GET", session_path(sid), None),
        ("api update", "PATCH", session_path(sid), {"warning_behavior": []}),
        ("api keep-alive", "POST", session_path(sid, "keep-alive"), None),
        ("api complete", "POST", session_path(sid, "complete"), None),
        ("api file add", "POST", api_file(sid), spec),
        ("api file list", "GET", api_file(sid), None),
        ("api file get", "GET", api_file(sid, "a.bin"), None),
        ("api file validate", "POST", api_file(sid, action="validate"), None),
        ("api file remove", "DELETE", api_file(sid, "a.bin"), None),
        ("api fail", "POST", session_path(sid, "fail"), {"client_error_message": "x"}),
        ("api cancel", "POST", session_path(sid, "cancel"), None),
        ("api delete", "DELETE", session_path(sid), None),
        ("rest get", "GET", rid(R_SESSION, sid), None),
        ("rest update", "PATCH", rid(R_SESSION, sid), {"update_spec": {"warning_behavior": []}}),
        ("rest keep-alive", "POST", rid(R_SESSION, sid, "keep-alive"), None),
        ("rest complete", "POST", rid(R_SESSION, sid, "complete"), None),
        ("rest file add", "POST", rid(R_FILE, sid, "add"), {"file_spec": spec}),
        ("rest file list", "GET", R_FILE + "?update_session_id=" + sid, None),
        ("rest file get", "POST", rid(R_FILE, sid, "get"), {"file_name": "a.bin"}),
        ("rest file validate", "POST", rid(R_FILE, sid, "validate"), None),
        ("rest file remove", "POST", rid(R_FILE, sid, "remove"), {"file_name": "a.bin"}),
        ("rest fail", "POST", rid(R_SESSION, sid, "fail"), {"client_error_message": "x"}),
        ("rest cancel", "POST", rid(R_SESSION, sid, "cancel"), None),
        ("rest delete", "DELETE", rid(R_SESSION, sid), None),
    ]


class OwnerRuleTest(FilesCase, ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.owner = cls.server.client("uploader")
        cls.other = cls.server.client("other")
        cls.operator = cls.server.client("operator")

    def owned_session(self):
        """A session of `uploader` with one uploaded file a.bin: (item, session, upload URI)."""
        _, item = self.admin.make_library_item()
        sid = self.create_session(self.owner, item)
        info = self.add(self.owner, sid, push_spec("a.bin"))
        uri = info["upload_endpoint"]["uri"]
        self.assertStatus(upload(uri, blob(1024)), 200, "PUT a.bin")
        return item, sid, uri

    def assertNotFound(self, r, sid, what):
        self.assertEqual(r.status, 404, "%s: %d %r" % (what, r.status, r.raw[:300]))
        body = r.json if isinstance(r.json, dict) else {}
        inner = body.get("value", body)
        self.assertEqual(inner.get("error_type"), "NOT_FOUND", "%s: %r" % (what, r.raw[:300]))

    def test_another_user_sees_nothing(self):
        item, sid, _ = self.owned_session()
        for what, method, path, body in routes(sid):
            with self.subTest(what):
                self.assertNotFound(self.other.request(method, path, body), sid, what)
        r = self.other.get(UPDATE_SESSION_PATH + "?library_item_id=" + item)
        self.assertStatus(r, 200, "list")
        self.assertEqual(r.json, [], "another user's list")
        # nothing changed: the owner still has an ACTIVE session with its file
        self.assertEqual(self.state(self.owner, sid), "ACTIVE")
        self.assertEqual(self.file(self.owner, sid, "a.bin")["status"], "READY")

    def test_operator_reads_cancels_fails_deletes(self):
        item, sid, uri = self.owned_session()
        r = self.operator.get(session_path(sid))
        self.assertStatus(r, 200, "operator get")
        self.assertEqual(r.json["state"], "ACTIVE")
        r = self.operator.get(UPDATE_SESSION_PATH + "?library_item_id=" + item)
        self.assertStatus(r, 200, "operator list of the item")
        self.assertEqual(r.json, [sid], "the session holding the item")
        r = self.operator.get(api_file(sid))
        self.assertStatus(r, 200, "operator file list")
        self.assertEqual([f["name"] for f in r.json], ["a.bin"])
        self.assertNotIn("upload_endpoint", r.json[0], "the upload URI is the owner's only")
        r = self.operator.get(api_file(sid, "a.bin"))
        self.assertStatus(r, 200, "operator file get")
        self.assertNotIn("upload_endpoint", r.json)
        for what, method, path, body in routes(sid):
            if any(w in what for w in ("get", "list", "validate", "cancel", "fail", "delete")):
                continue
            with self.subTest(what):
                self.assertNotFound(self.operator.request(method, path, body), sid, what)
        self.assertStatus(self.operator.post(session_path(sid, "cancel")), 204, "operator cancel")
        self.assertEqual(self.state(self.owner, sid), "CANCELED")
        self.assertEqual(upload(uri, blob(16)).status, 404, "the URI died with the session")
        self.assertStatus(self.operator.delete(session_path(sid)), 204, "operator delete")
        self.assertEqual(self.owner.get(session_path(sid)).status, 404)
        # fail, through /rest
        _, sid2, _ = self.owned_session()
        r = self.operator.post(rid(R_SESSION, sid2, "fail"), {"client_error_message": "stuck"})
        self.assertStatus(r, 200, "operator fail (/rest)")
        self.assertEqual(self.state(self.owner, sid2), "ERROR")

    def test_resource_busy_names_the_holder_to_its_owner_only(self):
        item, sid, _ = self.owned_session()
        r = self.other.create_session(item)
        self.assertEqual(r.status, 500, r.raw[:300])
        self.assertEqual(r.json["error_type"], "RESOURCE_BUSY")
        self.assertNotIn(sid.rpartition(":")[2], r.raw.decode(), "the holder's id leaked")
        r = self.owner.create_session(item)
        self.assertEqual(r.json["error_type"], "RESOURCE_BUSY")
        self.assertIn(sid, r.raw.decode(), "the owner is told its own session")

    def test_no_token_readable_in_redis(self):
        _, sid, uri = self.owned_session()
        upload_token = uri.split("/cls/data/")[1].split("/")[0]
        secrets_ = [self.owner.token, self.admin.token, self.operator.token, upload_token]
        redis = self.server.redis
        dump = []
        for key in redis.keys(self.server.prefix):
            kind = redis.command("TYPE", key)
            if kind == "string":
                dump.append(redis.command("GET", key) or b"")
            elif kind == "hash":
                dump += redis.command("HGETALL", key)
            elif kind == "list":
                dump += redis.command("LRANGE", key, 0, -1)
            elif kind in ("set",):
                dump += redis.command("SMEMBERS", key)
            elif kind == "zset":
                dump += redis.command("ZRANGE", key, 0, -1)
            dump.append(key.encode())
        text = b"\n".join(v if isinstance(v, bytes) else str(v).encode() for v in dump)
        self.assertGreater(len(text), 1000, "the dump read something")
        for secret in secrets_:
            self.assertNotIn(secret.encode(), text, "a token is readable in Redis")
        # and the URI still works for the owner: the token is derived, not stored
        self.assertStatus(upload(uri, blob(2048)), 200, "PUT again")


class RetentionPrunesListsTest(FilesCase, ServerTestCase):
    server_args = ("--retention", "1", "--sweep-interval-ms", "100")

    def test_user_list_pruned_without_reading_it(self):
        _, item = self.admin.make_library_item()
        sid = self.create_session(self.admin, item)
        self.assertStatus(self.admin.post(session_path(sid, "cancel")), 204, "cancel")
        key = self.server.prefix + "user:admin:sessions"
        self.assertEqual(self.server.redis.command("ZSCORE", key, sid) is not None, True)
        gone = wait_for(lambda: self.server.redis.command("ZSCORE", key, sid) is None, 5.0)
        self.assertTrue(gone, "the user's list still names the retained-away session")


class SecretFileTest(unittest.TestCase):
    def test_instances_sharing_storage_share_the_secret(self):
        a = Server()
        try:
            b = Server(prefix=a.prefix, storage_dir=a.storage_dir)
            try:
                path = os.path.join(a.storage_dir, ".secret")
                self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
                ca = a.client("admin")
                cb = b.client("admin")
                _, item = ca.make_library_item()
                sid = ca.create_session(item).json
                r = ca.post(session_path(sid) + "/file", push_spec("s.bin"))
                self.assertEqual(r.status, 201, r.raw[:300])
                uri_a = r.json["upload_endpoint"]["uri"]
                r = cb.get(session_path(sid) + "/file/s.bin")
                uri_b = r.json["upload_endpoint"]["uri"]
                self.assertEqual(uri_a.split("/cls/data/")[1], uri_b.split("/cls/data/")[1])
            finally:
                b.stop()
        finally:
            a.stop()

    def test_unusable_secret_file_stops_the_start(self):
        s = Server(start=False)
        path = os.path.join(s.dir, "secret")
        with open(path, "w") as f:
            f.write("not hex\n")
        os.chmod(path, 0o600)
        s.args = ["--secret-file", path]
        with self.assertRaises(Exception):
            s.start()
        with open(s.log_path, "rb") as f:
            self.assertIn(b"secret", f.read())


if __name__ == "__main__":
    unittest.main()
