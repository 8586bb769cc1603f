"""The strict front end (issue 9, "what got through" item 5): every request below was once
served. Framing: HTTP/1.1 without Host, header names with spaces or other non-token bytes,
chunk data followed by junk, duplicate or conflicting Content-Length -> 400 and close;
Transfer-Encoding other than a lone "chunked" -> 501 and close; HTTP/0.9 -> 400 at once (not
held until the request deadline). Bodies: duplicate JSON keys and NaN/Infinity -> 400
INVALID_ARGUMENT naming the key. Query: a bad percent-escape -> 400 INVALID_ARGUMENT naming the
parameter (client_token no longer silently dropped, ?action=validate%zz no longer File.add);
a client_token too long for any token is refused too, not dropped.
A whitespace-only file name -> INVALID_ARGUMENT. An upload URI whose name segment is not the
token's file -> 404, and the file is untouched."""

import http.client
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ServerTestCase, UPDATE_SESSION_PATH  # noqa: E402
from test_files import FilesCase, files_path, push_spec, upload, upload_target  # noqa: E402

CLOSE_WAIT_S = 3.0   # a refused connection closes well within this (the deadline is 30 s)


def exchange(port, data, timeout=5.0):
    """Sends raw bytes; returns (status line, headers+body bytes, seconds until the server
    closed or None if it did not within CLOSE_WAIT_S)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    t0 = time.monotonic()
    got = b""
    closed = None
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        s.settimeout(0.2)
        while time.monotonic() - t0 < CLOSE_WAIT_S:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                closed = time.monotonic() - t0
                break
            if not chunk:
                closed = time.monotonic() - t0
                break
            got += chunk
    finally:
        s.close()
    line = got.split(b"\r\n", 1)[0].decode("latin-1")
    return line, got, closed


class FramingTest(ServerTestCase):
    """Raw requests the front end refuses, each answered and closed at once."""

    def refused(self, data, status, what):
        line, got, closed = exchange(self.server.port, data)
        print("  %-44s -> %s, closed after %s s" % (
            what, line, "%.3f" % closed if closed is not None else "never"))
        self.assertTrue(line.startswith("HTTP/1.1 %d " % status), "%s: %r" % (what, got[:300]))
        self.assertIn(b"\r\nConnection: close\r\n", got, what)
        self.assertIsNotNone(closed, "%s: the connection stayed open" % what)
        self.assertLess(closed, 2.0, what)

    def test_refusals(self):
        cases = [
            (b"GET /api/session HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host"),
            (b"GET /api/session HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "two Hosts"),
            (b"GET /api/session HTTP/1.1\r\nHost: t\r\nX Foo: 1\r\n\r\n", 400,
             "space in a header name"),
            (b"GET /api/session HTTP/1.1\r\nHost: t\r\nvmware-api-session-id : x\r\n\r\n", 400,
             "space before the colon"),
            (b"GET /api/session HTTP/1.1\r\nHost: t\r\nX{y}: 1\r\n\r\n", 400,
             "non-token bytes in a name"),
            (b"POST /api/session HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
             b"0\r\n\r\n", 501, "Transfer-Encoding: gzip, chunked"),
            (b"POST /api/session HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\n\r\n",
             501, "Transfer-Encoding: identity"),
            (b"POST /api/session HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"2\r\n{}XX0\r\n\r\n", 400, "junk after chunk data"),
            (b"POST /api/session HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
             b"Content-Length: 2\r\n\r\n{}", 400, "duplicate Content-Length"),
            (b"POST /api/session HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
             b"Content-Length: 3\r\n\r\n{} ", 400, "conflicting Content-Length"),
            (b"POST /api/session HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, "Content-Length and chunked"),
            (b"GET /\r\n", 400, "HTTP/0.9 request"),
            (b"GET /api/session\r\n\r\n", 400, "HTTP/0.9 request with a blank line"),
        ]
        for data, status, what in cases:
            with self.subTest(what):
                self.refused(data, status, what)

    def test_error_body_says_why(self):
        _, got, _ = exchange(self.server.port, b"GET /api/session HTTP/1.1\r\n\r\n")
        self.assertIn(b"Missing Host header", got)
        _, got, _ = exchange(self.server.port,
                             b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked"
                             b"\r\n\r\n")
        self.assertIn(b"Transfer-Encoding other than chunked", got)

    def test_lawful_requests_still_served(self):
        """HTTP/1.0 needs no Host; a well-framed chunked body is served; keep-alive goes on."""
        line, got, _ = exchange(self.server.port, b"GET /api/session HTTP/1.0\r\n\r\n")
        self.assertTrue(line.startswith("HTTP/1.1 401 "), got[:300])
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        try:
            s.sendall(b"POST /api/session HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                      b"\r\n2\r\n{}\r\n0\r\n\r\nGET /api/session HTTP/1.1\r\nHost: t\r\n\r\n")
            got = b""
            deadline = time.monotonic() + 5
            while got.count(b"HTTP/1.1 401 ") < 2 and time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
            self.assertEqual(got.count(b"HTTP/1.1 401 "), 2, got[:600])
        finally:
            s.close()


class BodyAndQueryTest(FilesCase, ServerTestCase):
    """What the API layer refuses: JSON json-c would take, bad escapes, blank names."""

    def test_duplicate_json_keys(self):
        _, sid = self.new_session(self.admin)
        r = self.admin.post(files_path(sid),
                            '{"name":"../x","name":"dup","source_type":"PUSH"}')
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("name", "twice"))
        r = self.admin.post(files_path(sid),
                            '{"name":"a","source_type":"PUSH","source_type":"PULL"}')
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("source_type",))
        r = self.admin.post("/api/content/local-library",
                            '{"name":"l","storage_backings":[{"type":"OTHER","type":"X",'
                            '"storage_uri":"file:///tmp"}]}')
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("type",))
        self.assertEqual(self.files(self.admin, sid), {}, "nothing was added")
        # The same body without the repeat is fine.
        self.add(self.admin, sid, push_spec("dup"))

    def test_not_finite_numbers(self):
        _, sid = self.new_session(self.admin)
        for token in ("NaN", "Infinity", "-Infinity", "1e999"):
            with self.subTest(token):
                r = self.admin.post(files_path(sid),
                                    '{"name":"n.bin","source_type":"PUSH","size":%s}' % token)
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("size", "finite"))
        self.assertEqual(self.files(self.admin, sid), {})

    def test_bad_percent_encoding_in_query(self):
        _, item = self.admin.make_library_item()
        r = self.admin.post(UPDATE_SESSION_PATH + "?client_token=%zz",
                            {"library_item_id": item})
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("client_token",))
        r = self.admin.post(UPDATE_SESSION_PATH + "?client_token=abc%2",
                            {"library_item_id": item})
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("client_token",))
        # Too long for any client_token: refused, not dropped (query or header).
        r = self.admin.post(UPDATE_SESSION_PATH + "?client_token=" + "a" * 300,
                            {"library_item_id": item})
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("client_token", "too long"))
        r = self.admin.post(UPDATE_SESSION_PATH, {"library_item_id": item},
                            headers={"Client-Token": "b" * 300})
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("client_token", "too long"))
        self.assertEqual(self.admin.list_sessions(item).json, [], "no session was created")
        sid = self.create_session(self.admin, item)
        r = self.admin.post(files_path(sid) + "?action=validate%zz", push_spec("v.bin"))
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=("action",))
        r = self.admin.get(files_path(sid) + "?x%00=1")
        self.assertApiError(r, 400, "INVALID_ARGUMENT")
        self.assertEqual(self.files(self.admin, sid), {}, "File.add did not run")
        r = self.admin.post("/rest/com/vmware/content/library/item/updatesession/file/id:%s"
                            "?~action=add%%zz" % sid, {"file_spec": push_spec("w.bin")})
        self.assertEqual(r.status, 400, r.raw[:300])
        self.assertIn("~action", r.raw.decode())

    def test_blank_file_name(self):
        _, sid = self.new_session(self.admin)
        for name in (" ", "   ", "\u00a0", " \u3000 "):
            with self.subTest(repr(name)):
                r = self.admin.post(files_path(sid), push_spec(name))
                self.assertInvalid(r, "white space")
        self.add(self.admin, sid, push_spec(" padded name "))

    def test_upload_uri_name_segment(self):
        _, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec("real.bin"))
        uri = info["upload_endpoint"]["uri"]
        host, port, path = upload_target(uri)
        self.assertTrue(path.endswith("/real.bin"), path)
        wrong = uri[: uri.rindex("/")] + "/other.bin"
        for method in ("PUT", "POST"):
            r = upload(wrong, b"evil bytes", method=method)
            self.assertApiError(r, 404, "NOT_FOUND", what="%s to another name" % method)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            conn.request("PATCH", wrong[wrong.index("/cls/"):], body=b"evil",
                         headers={"Content-Type": "application/partial-upload",
                                  "Upload-Offset": "0"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 404, resp.read()[:300])
        finally:
            conn.close()
        r = upload(uri[: uri.rindex("/")] + "/", b"x")
        self.assertEqual(r.status, 404, r.raw[:300])
        f = self.file(self.admin, sid, "real.bin")
        self.assertEqual(f["status"], "WAITING_FOR_TRANSFER", f)
        self.assertEqual(f.get("bytes_transferred", 0), 0, f)
        r = upload(uri, b"good bytes")
        self.assertEqual(r.status, 200, r.raw[:300])
        f = self.file(self.admin, sid, "real.bin")
        self.assertEqual(f["status"], "READY", f)
        # A second file: its token with the first file's name is no address either.
        other = self.add(self.admin, sid, push_spec("two.bin"))["upload_endpoint"]["uri"]
        r = upload(other[: other.rindex("/")] + "/real.bin", b"x")
        self.assertEqual(r.status, 404, r.raw[:300])
        # A name that needs escaping matches in its decoded form.
        odd = self.add(self.admin, sid, push_spec("a b%.bin"))["upload_endpoint"]["uri"]
        self.assertEqual(upload(odd, b"odd").status, 200)


if __name__ == "__main__":
    import unittest
    unittest.main()
