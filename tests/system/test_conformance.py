"""Conformance gaps of issue 12 that broke real clients, in both wire flavours:
  * fail without a body (govmomi's FailLibraryItemUpdateSession sends none): 204 / 200, the
    session ERROR with a generic error_message; a body with the message still records it; a
    message of the wrong type is still 400 naming the field;
  * upload URIs without --public-url are built from the request's Host (what the client
    reached us by), not from --listen; a Host that is not a plain host[:port] falls back to
    the --listen address; --public-url, when given, always wins.
(File list and get in every state are in test_files.py, SessionStateTest.)"""

import http.client
import json
import unittest

from harness import (SESSION_HEADER, ApiTestCase, Server, ServerTestCase, session_path)

R_SESSION = "/rest/com/vmware/content/library/item/update-session"
FILE_PATH = "/file"


def raw_post(port, path, token, host):
    """POST path with no body and an explicit Host header; returns (status, parsed JSON)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", host)
        conn.putheader(SESSION_HEADER, token)
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        r = conn.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        conn.close()


class FailWithoutBodyTest(ServerTestCase, ApiTestCase):

    def new_session(self):
        _, item = self.admin.make_library_item()
        r = self.admin.create_session(item)
        self.assertStatus(r, 201, "create")
        return r.json

    def assertFailedWith(self, sid, text):
        s = self.admin.get(session_path(sid)).json
        self.assertEqual(s["state"], "ERROR", s)
        self.assertEqual(s["error_message"]["default_message"], text, s)

    def test_api_fail_without_body(self):
        sid = self.new_session()
        r = self.admin.post(session_path(sid, "fail"))
        self.assertStatus(r, 204, "fail without a body")
        self.assertFailedWith(sid, "The client failed the update session without a message.")

    def test_rest_fail_without_body(self):
        sid = self.new_session()
        r = self.admin.post(R_SESSION + "/id:" + sid + "?~action=fail")
        self.assertStatus(r, 200, "/rest fail without a body")
        self.assertFailedWith(sid, "The client failed the update session without a message.")

    def test_fail_with_message_and_null(self):
        sid = self.new_session()
        r = self.admin.post(session_path(sid, "fail"), {"client_error_message": "disk full"})
        self.assertStatus(r, 204, "fail with a message")
        self.assertFailedWith(sid, "disk full")
        sid = self.new_session()
        r = self.admin.post(session_path(sid, "fail"), {"client_error_message": None})
        self.assertStatus(r, 204, "fail with a null message")
        self.assertFailedWith(sid, "The client failed the update session without a message.")

    def test_fail_with_wrong_type_is_refused(self):
        sid = self.new_session()
        r = self.admin.post(session_path(sid, "fail"), {"client_error_message": 5})
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("client_error_message",))
        self.assertEqual(self.admin.get(session_path(sid)).json["state"], "ACTIVE")


class UploadUriFromHostTest(ServerTestCase, ApiTestCase):

    def add_push(self, host):
        """A PUSH file added with the given Host header; its upload URI."""
        _, item = self.admin.make_library_item()
        sid = self.admin.create_session(item).json
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            body = json.dumps({"name": "f.bin", "source_type": "PUSH"}).encode()
            conn.putrequest("POST", session_path(sid) + FILE_PATH, skip_host=True)
            conn.putheader("Host", host)
            conn.putheader(SESSION_HEADER, self.admin.token)
            conn.putheader("Content-Type", "application/json")
            conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            r = conn.getresponse()
            doc = json.loads(r.read())
        finally:
            conn.close()
        self.assertEqual(r.status, 201, doc)
        return doc["upload_endpoint"]["uri"]

    def test_uri_follows_host(self):
        for host in ("localhost:%d" % self.server.port, "127.0.0.1:%d" % self.server.port,
                     "[::1]:%d" % self.server.port, "files.example:8443"):
            with self.subTest(host=host):
                self.assertTrue(self.add_push(host).startswith("http://%s/cls/data/" % host))

    def test_hostile_host_falls_back_to_listen(self):
        listen = "http://127.0.0.1:%d/cls/data/" % self.server.port
        for host in ("evil.example/x?", "a@b", "x y", "%2e%2e", "h" * 300):
            with self.subTest(host=host):
                self.assertTrue(self.add_push(host).startswith(listen))


class PublicUrlWinsTest(ServerTestCase, ApiTestCase):
    server_args = ("--public-url", "https://uploads.example:9443")

    def test_public_url_wins_over_host(self):
        _, item = self.admin.make_library_item()
        sid = self.admin.create_session(item).json
        r = self.admin.post(session_path(sid) + FILE_PATH, {"name": "f", "source_type": "PUSH"})
        self.assertStatus(r, 201, "add")
        self.assertTrue(r.json["upload_endpoint"]["uri"].startswith(
            "https://uploads.example:9443/cls/data/"), r.json)


if __name__ == "__main__":
    unittest.main()
