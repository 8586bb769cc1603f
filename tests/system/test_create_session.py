"""Create / get / list of update sessions over /api: the happy path with every field, list
filters, warning_behavior, client_token idempotency and the one-ACTIVE-session-per-item rule
under 50 concurrent creates."""

import concurrent.futures
import datetime
import http.client
import json
import threading
import uuid

from harness import (CLS_MSG_PREFIX, HTTP_TIMEOUT, SESSION_HEADER, UPDATE_SESSION_PATH,
                     ServerTestCase, utcnow)

DEFAULT_SESSION_TIMEOUT_S = 300


class CreateSessionTest(ServerTestCase):

    def test_create_get_list_happy_path(self):
        _, item = self.admin.make_library_item()
        before = utcnow()
        r = self.admin.create_session(item)
        after = utcnow()
        self.assertStatus(r, 201, "create")
        self.assertJsonContentType(r)
        sid = r.json
        self.assertIsInstance(sid, str)
        self.assertTrue(sid)
        # "<item>:<uuid>", the UUID random (version 4, RFC 4122 variant) and lower case
        ids = [sid.rpartition(":")[2], item]
        for text in ids:
            u = uuid.UUID(text)
            self.assertEqual((u.version, u.variant, str(u)), (4, uuid.RFC_4122, text), text)
        self.assertEqual(sid.rpartition(":")[0], item)

        g = self.admin.get(UPDATE_SESSION_PATH + "/" + sid)
        self.assertStatus(g, 200, "get")
        self.assertJsonContentType(g)
        s = g.json
        self.assertIsInstance(s, dict)
        self.assertEqual(s.get("id"), sid)
        self.assertEqual(s.get("library_item_id"), item)
        self.assertEqual(s.get("library_item_content_version"), "1")
        self.assertEqual(s.get("client_progress"), 0)
        self.assertIsInstance(s.get("client_progress"), int)
        self.assertEqual(s.get("state"), "ACTIVE")
        self.assertNotIn("error_message", s)
        exp = self.assertIsoTime(s.get("expiration_time"), "expiration_time")
        slack = datetime.timedelta(seconds=5)
        timeout = datetime.timedelta(seconds=DEFAULT_SESSION_TIMEOUT_S)
        self.assertGreaterEqual(exp, before + timeout - slack, s)
        self.assertLessEqual(exp, after + timeout + slack, s)

        lst = self.admin.list_sessions()
        self.assertStatus(lst, 200, "list")
        self.assertIsInstance(lst.json, list)
        self.assertIn(sid, lst.json)

        one = self.admin.list_sessions(item)
        self.assertStatus(one, 200, "list by item")
        self.assertEqual(one.json, [sid])

        # Another item's filter does not show this session.
        _, other = self.admin.make_library_item()
        none = self.admin.list_sessions(other)
        self.assertStatus(none, 200, "list by other item")
        self.assertEqual(none.json, [])

    def test_list_unknown_item_is_not_found(self):
        unknown = str(uuid.uuid4())
        r = self.admin.list_sessions(unknown)
        self.assertApiError(r, 404, "NOT_FOUND", mentions=[unknown], id_prefix=CLS_MSG_PREFIX)

    def test_get_unknown_session_is_not_found(self):
        _, item = self.admin.make_library_item()
        r = self.admin.get(UPDATE_SESSION_PATH + "/" + item + ":" + str(uuid.uuid4()))
        self.assertApiError(r, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX)
        r = self.admin.get(UPDATE_SESSION_PATH + "/no-such-session")
        self.assertApiError(r, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX)

    def test_warning_behavior_round_trips(self):
        _, item = self.admin.make_library_item()
        wb = [{"type": "SELF_SIGNED_CERTIFICATE", "ignored": True}]
        r = self.admin.create_session(item, {"warning_behavior": wb})
        self.assertStatus(r, 201, "create with warning_behavior")
        g = self.admin.get(UPDATE_SESSION_PATH + "/" + r.json)
        self.assertStatus(g, 200, "get")
        self.assertEqual(g.json.get("warning_behavior"), wb)
        self.assertEqual(g.json.get("state"), "ACTIVE")

    def test_second_create_on_busy_item_is_resource_busy(self):
        _, item = self.admin.make_library_item()
        first = self.admin.create_session(item)
        self.assertStatus(first, 201, "first create")
        second = self.admin.create_session(item)
        self.assertApiError(second, 500, "RESOURCE_BUSY", id_prefix=CLS_MSG_PREFIX)
        self.assertEqual(self.admin.list_sessions(item).json, [first.json])


class ClientTokenTest(ServerTestCase):

    def test_query_token_replay_returns_same_session(self):
        _, item = self.admin.make_library_item()
        token = str(uuid.uuid4())
        first = self.admin.create_session(item, client_token=token)
        self.assertStatus(first, 201, "first create")
        again = self.admin.create_session(item, client_token=token)
        self.assertStatus(again, 201, "replay")
        self.assertEqual(again.json, first.json)
        lst = self.admin.list_sessions(item)
        self.assertStatus(lst, 200, "list")
        self.assertEqual(lst.json, [first.json])

    def test_header_token_replay_returns_same_session(self):
        _, item = self.admin.make_library_item()
        token = str(uuid.uuid4())
        first = self.admin.create_session(item, headers={"Client-Token": token})
        self.assertStatus(first, 201, "first create")
        again = self.admin.create_session(item, headers={"Client-Token": token})
        self.assertStatus(again, 201, "replay")
        self.assertEqual(again.json, first.json)
        # The same token by query parameter is the same token.
        third = self.admin.create_session(item, client_token=token)
        self.assertStatus(third, 201, "replay by query")
        self.assertEqual(third.json, first.json)
        self.assertEqual(self.admin.list_sessions(item).json, [first.json])

    def test_token_reused_for_other_item_is_invalid_argument(self):
        _, item = self.admin.make_library_item()
        _, other = self.admin.make_library_item()
        token = str(uuid.uuid4())
        first = self.admin.create_session(item, client_token=token)
        self.assertStatus(first, 201, "first create")
        r = self.admin.create_session(other, client_token=token)
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["client_token"],
                            id_prefix=CLS_MSG_PREFIX)
        r = self.admin.create_session(other, headers={"Client-Token": token})
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["client_token"],
                            id_prefix=CLS_MSG_PREFIX)
        # Nothing was created for the other item, and it is not locked.
        self.assertEqual(self.admin.list_sessions(other).json, [])
        self.assertStatus(self.admin.create_session(other), 201, "create without token")

    def test_non_uuid_token_is_invalid_argument(self):
        _, item = self.admin.make_library_item()
        for bad in ("not-a-uuid", "12345", "b8a2a2e3-2314-43cd-a871-6ede0f42975",
                    "b8a2a2e3-2314-43cd-a871-6ede0f429751x"):
            with self.subTest(query=bad):
                r = self.admin.create_session(item, client_token=bad)
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["client_token"],
                                    id_prefix=CLS_MSG_PREFIX)
            with self.subTest(header=bad):
                r = self.admin.create_session(item, headers={"Client-Token": bad})
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["client_token"],
                                    id_prefix=CLS_MSG_PREFIX)
        self.assertEqual(self.admin.list_sessions(item).json, [])
        self.assertStatus(self.admin.create_session(item), 201, "create after bad tokens")


class ConcurrentCreateTest(ServerTestCase):

    N = 50

    def test_fifty_concurrent_creates_one_wins(self):
        _, item = self.admin.make_library_item()
        token = self.admin.token
        body = json.dumps({"library_item_id": item}).encode()
        barrier = threading.Barrier(self.N, timeout=30)

        def one(_):
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port,
                                              timeout=HTTP_TIMEOUT)
            try:
                conn.connect()
                barrier.wait()
                conn.request("POST", UPDATE_SESSION_PATH, body=body, headers={
                    "Content-Type": "application/json", SESSION_HEADER: token})
                resp = conn.getresponse()
                raw = resp.read()
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                return resp.status, parsed, raw
            finally:
                conn.close()

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.N) as pool:
            results = list(pool.map(one, range(self.N), timeout=60))

        created = [p for st, p, _ in results if st == 201]
        busy = [p for st, p, _ in results
                if st == 500 and isinstance(p, dict) and p.get("error_type") == "RESOURCE_BUSY"]
        others = [(st, raw[:200]) for st, p, raw in results
                  if not (st == 201 or (st == 500 and isinstance(p, dict)
                                        and p.get("error_type") == "RESOURCE_BUSY"))]
        self.assertEqual(others, [], "unexpected answers")
        self.assertEqual(len(created), 1, results)
        self.assertEqual(len(busy), self.N - 1)
        self.assertIsInstance(created[0], str)
        lst = self.admin.list_sessions(item)
        self.assertStatus(lst, 200, "list")
        self.assertEqual(lst.json, [created[0]])


if __name__ == "__main__":
    import unittest
    unittest.main()
