"""Request limits: a body over --max-body-bytes is refused with 413 and writes nothing; JSON
nested deeper than --json-max-depth is 400 and writes nothing; the server keeps serving."""

import json

from harness import (SESSION_HEADER, UPDATE_SESSION_PATH, ServerTestCase, raw_request)

MAX_BODY = 4096
MAX_DEPTH = 8


class LimitsTest(ServerTestCase):

    server_args = ("--max-body-bytes", str(MAX_BODY), "--json-max-depth", str(MAX_DEPTH))

    def big_create_body(self, item, size=10 * 1024):
        """A valid create request for item, padded past `size` bytes with JSON whitespace
        (so a server that ignored the limit would create a session)."""
        body = json.dumps({"library_item_id": item,
                           "warning_behavior": [{"type": "SELF_SIGNED_CERTIFICATE",
                                                 "ignored": True}]}).encode()
        return body[:-1] + b" " * (size - len(body)) + b"}"

    def snapshot(self, item):
        lst = self.admin.list_sessions()
        self.assertStatus(lst, 200, "list")
        by_item = self.admin.list_sessions(item)
        self.assertStatus(by_item, 200, "list by item")
        return sorted(lst.json), by_item.json, len(self.server.keys())

    def assertStillServing(self, item):
        r = self.admin.create_session(item)
        self.assertStatus(r, 201, "a normal create after the refused request")
        self.assertEqual(self.admin.list_sessions(item).json, [r.json])

    def test_oversized_body_is_413_and_writes_nothing(self):
        _, item = self.admin.make_library_item()
        before = self.snapshot(item)
        body = self.big_create_body(item)
        self.assertGreaterEqual(len(body), 10 * 1024)
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                "%s: %s\r\nContent-Length: %d\r\n\r\n"
                % (UPDATE_SESSION_PATH, self.server.port, SESSION_HEADER, self.admin.token,
                   len(body))).encode()
        r = raw_request(self.server.port, head + body)
        self.assertEqual(r.status, 413, r.raw[:300])
        self.assertEqual(self.snapshot(item), before)
        self.assertStillServing(item)

    def test_oversized_body_via_client_is_413(self):
        _, item = self.admin.make_library_item()
        before = self.snapshot(item)
        r = self.admin.post(UPDATE_SESSION_PATH, self.big_create_body(item))
        self.assertEqual(r.status, 413, r.raw[:300])
        self.assertEqual(self.snapshot(item), before)
        self.assertStillServing(item)

    def test_oversized_chunked_body_is_413_and_writes_nothing(self):
        _, item = self.admin.make_library_item()
        before = self.snapshot(item)
        body = self.big_create_body(item)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1024]), body[i:i + 1024])
                          for i in range(0, len(body), 1024)) + b"0\r\n\r\n"
        head = ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
                "%s: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
                % (UPDATE_SESSION_PATH, self.server.port, SESSION_HEADER,
                   self.admin.token)).encode()
        r = raw_request(self.server.port, head + chunks)
        self.assertEqual(r.status, 413, r.raw[:300])
        self.assertEqual(self.snapshot(item), before)
        self.assertStillServing(item)

    def test_body_within_limit_is_accepted(self):
        _, item = self.admin.make_library_item()
        # Padded with JSON whitespace to about half the limit.
        body = json.dumps({"library_item_id": item,
                           "warning_behavior": [{"type": "EXPIRED_CERTIFICATE",
                                                 "ignored": False}]}).encode()
        body = body[:-1] + b" " * 2000 + b"}"
        self.assertLess(len(body), MAX_BODY)
        r = self.admin.post(UPDATE_SESSION_PATH, body)
        self.assertStatus(r, 201, "create with a body under the limit")

    def test_nesting_deeper_than_limit_is_400_and_writes_nothing(self):
        _, item = self.admin.make_library_item()
        before = self.snapshot(item)
        depth = MAX_DEPTH + 12
        bodies = [
            '{"library_item_id": "%s", "warning_behavior": %s%s}'
            % (item, "[" * depth, "]" * depth),
            '{"library_item_id": "%s", "x": %s1%s}'
            % (item, '{"a":' * depth, "}" * depth),
        ]
        for body in bodies:
            with self.subTest(body=body[:60]):
                self.assertLess(len(body), MAX_BODY)
                r = self.admin.post(UPDATE_SESSION_PATH, body.encode())
                self.assertApiError(r, 400, "INVALID_ARGUMENT")
        self.assertEqual(self.snapshot(item), before)
        self.assertStillServing(item)

    def test_nesting_within_limit_is_fine(self):
        _, item = self.admin.make_library_item()
        # depth 3: object > array > object
        r = self.admin.create_session(
            item, {"warning_behavior": [{"type": "UNTRUSTED_CERTIFICATE", "ignored": True}]})
        self.assertStatus(r, 201, "create with shallow nesting")


if __name__ == "__main__":
    import unittest
    unittest.main()
