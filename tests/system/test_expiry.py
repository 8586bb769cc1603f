"""Expiry of idle update sessions and retention of finished ones (vsphere-api.md 0.4, 9):
an ACTIVE session whose expiration_time passed reads ERROR with an error_message saying it
expired and releases its item; keep-alive pushes expiration_time forward; a finished session
is deleted after --retention seconds. The server options used: --session-timeout SECONDS,
--retention SECONDS, --sweep-interval-ms MS.

Times are compared on the wall clock of this host, which the server (Redis TIME) shares."""

import datetime
import time

from harness import (session_path, CLS_MSG_PREFIX, UPDATE_SESSION_PATH, ApiTestCase, Server,
                     ServerTestCase, utcnow)

TIMEOUT_S = 1                  # --session-timeout of these servers
POLL_S = 0.1                   # GET every 100 ms while waiting
EXPIRE_WITHIN_S = 2.0          # an idle session reads ERROR within this of its creation
STOP_EXPIRE_WITHIN_S = 2.0     # ... and within this after the last keep-alive
EXP_TOLERANCE = datetime.timedelta(seconds=0.25)   # expiration_time vs. creation + timeout




def seconds(s):
    return datetime.timedelta(seconds=s)


class ExpiryCase(ApiTestCase):

    def create(self, client, item):
        """Creates a session; returns (id, wall time before, wall time after the request)."""
        before = utcnow()
        r = client.create_session(item)
        after = utcnow()
        self.assertStatus(r, 201, "create on %s" % item)
        self.assertIsInstance(r.json, str)
        return r.json, before, after


    def item_content_version(self, client, item):
        r = client.get("/api/content/library/item/" + item)
        self.assertStatus(r, 200, "get item")
        return r.json.get("content_version")


class IdleExpiryTest(ExpiryCase, ServerTestCase):

    server_args = ("--session-timeout", str(TIMEOUT_S))

    def test_idle_session_expires(self):
        _, item = self.admin.make_library_item()
        sid, before, after = self.create(self.admin, item)
        s = self.get_session(self.admin, sid)
        exp = self.expiration(s)
        self.assertGreaterEqual(exp, before + seconds(TIMEOUT_S) - EXP_TOLERANCE, s)
        self.assertLessEqual(exp, after + seconds(TIMEOUT_S) + EXP_TOLERANCE, s)
        expired = self.wait_expired(self.admin, sid, exp, before + seconds(EXPIRE_WITHIN_S))
        self.assertEqual(expired.get("id"), sid)
        self.assertEqual(expired.get("library_item_id"), item)
        self.assertEqual(self.expiration(expired), exp, "expiry does not move expiration_time")
        # It stays expired.
        time.sleep(0.3)
        again = self.get_session(self.admin, sid)
        self.assertExpiredMessage(again)
        self.assertEqual(again.get("error_message"), expired.get("error_message"))

    def test_keep_alive_keeps_session_active(self):
        _, item = self.admin.make_library_item()
        sid, _, _ = self.create(self.admin, item)
        start = time.monotonic()
        tick = start
        count = 0
        last_exp = None
        while time.monotonic() - start < 5.0:
            tick += 0.5
            time.sleep(max(0.0, tick - time.monotonic()))
            t0 = utcnow()
            r = self.admin.post(session_path(sid, "keep-alive"))
            t1 = utcnow()
            self.assertStatus(r, 204, "keep-alive %d (%.2f s in)" % (count,
                                                                   time.monotonic() - start))
            s = self.get_session(self.admin, sid)
            self.assertEqual(s.get("state"), "ACTIVE", "after keep-alive %d: %r" % (count, s))
            exp = self.expiration(s)
            self.assertGreaterEqual(exp, t0 + seconds(TIMEOUT_S) - EXP_TOLERANCE, s)
            self.assertLessEqual(exp, t1 + seconds(TIMEOUT_S) + EXP_TOLERANCE, s)
            if last_exp is not None:
                self.assertGreater(exp, last_exp, "keep-alive must move expiration_time")
            last_exp = exp
            count += 1
        self.assertGreaterEqual(count, 9)
        stopped = utcnow()
        self.wait_expired(self.admin, sid, last_exp, stopped + seconds(STOP_EXPIRE_WITHIN_S),
                          "session after keep-alives stopped")

    def test_new_session_after_expiry(self):
        _, item = self.admin.make_library_item()
        sid, before, _ = self.create(self.admin, item)
        exp = self.expiration(self.get_session(self.admin, sid))
        self.wait_expired(self.admin, sid, exp, before + seconds(EXPIRE_WITHIN_S))
        r = self.admin.create_session(item)
        self.assertStatus(r, 201, "create after expiry")
        self.assertNotEqual(r.json, sid)
        new = self.get_session(self.admin, r.json)
        self.assertEqual(new.get("state"), "ACTIVE", new)
        self.assertEqual(self.item_content_version(self.admin, item), "1",
                         "expiry must not raise content_version")
        self.assertEqual(new.get("library_item_content_version"), "1", new)
        self.assertExpiredMessage(self.get_session(self.admin, sid))


class ExpiryWithoutSweepTest(ExpiryCase):
    """The sweeper runs only every 60 s here, so only the read, create and change paths can
    notice that a deadline passed: they must, as soon as it passed."""

    def setUp(self):
        self.server = Server(args=["--session-timeout", str(TIMEOUT_S),
                                   "--sweep-interval-ms", "60000"])
        self.addCleanup(self.server.stop)
        self.admin = self.server.client("admin")
        self.lib = self.admin.make_library()
        self.item = self.admin.make_item(self.lib)

    def created_and_due(self, item=None):
        """A new session on item (default self.item); returns (id, expiration_time) once
        that passed, without any read after it."""
        sid, before, after = self.create(self.admin, item or self.item)
        s = self.get_session(self.admin, sid)
        self.assertEqual(s.get("state"), "ACTIVE", s)
        exp = self.expiration(s)
        self.assertGreaterEqual(exp, before + seconds(TIMEOUT_S) - EXP_TOLERANCE, s)
        self.assertLessEqual(exp, after + seconds(TIMEOUT_S) + EXP_TOLERANCE, s)
        wait = (exp - utcnow()).total_seconds() + 0.05
        if wait > 0:
            time.sleep(wait)
        return sid, exp

    def test_get_reads_expired_right_after_deadline(self):
        sid, exp = self.created_and_due()
        s = self.get_session(self.admin, sid, "get right after expiration_time")
        self.assertExpiredMessage(s)
        r = self.admin.create_session(self.item)
        self.assertStatus(r, 201, "create right after expiration_time")
        self.assertEqual(self.get_session(self.admin, r.json).get("state"), "ACTIVE")
        self.assertExpiredMessage(self.get_session(self.admin, sid))

    def test_create_right_after_deadline_without_read(self):
        sid, exp = self.created_and_due()
        r = self.admin.create_session(self.item)
        self.assertStatus(r, 201, "create right after expiration_time (no read before)")
        self.assertNotEqual(r.json, sid)
        self.assertEqual(self.get_session(self.admin, r.json).get("state"), "ACTIVE")
        self.assertExpiredMessage(self.get_session(self.admin, sid))
        lst = self.admin.list_sessions(self.item)
        self.assertStatus(lst, 200, "list by item")
        self.assertEqual(sorted(lst.json), sorted([sid, r.json]))

    def test_changes_right_after_deadline_are_refused(self):
        for op, name in (("keep-alive", "keep_alive"), ("complete", "complete")):
            with self.subTest(op=op):
                item = self.admin.make_item(self.lib)
                sid, exp = self.created_and_due(item)
                r = self.admin.post(session_path(sid, op))
                body = self.assertApiError(r, 400, "NOT_ALLOWED_IN_CURRENT_STATE",
                                           mentions=["ERROR"], id_prefix=CLS_MSG_PREFIX,
                                           what="%s right after expiration_time" % op)
                self.assertEqual(body["messages"][0]["args"], [name, "ERROR"], r.raw[:500])
                self.assertExpiredMessage(self.get_session(self.admin, sid))
                self.assertEqual(self.item_content_version(self.admin, item), "1")
                self.assertStatus(self.admin.create_session(item), 201, "create afterwards")


class RetentionCase(ExpiryCase):

    GONE_WITHIN_S = 3.0

    def assertGoneWithin(self, sid, item, since, limit_s):
        """GET of sid turns 404 NOT_FOUND no later than since + limit_s (200 before), and then
        sid is in no list."""
        deadline = since + seconds(limit_s)
        while True:
            t0 = utcnow()
            r = self.admin.get(session_path(sid))
            if r.status == 404:
                self.assertApiError(r, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX)
                break
            self.assertStatus(r, 200, "get while waiting for deletion")
            if t0 > deadline:
                self.fail("session %s still there %.1f s after %s: %r"
                          % (sid, (t0 - since).total_seconds(), since.isoformat(), r.raw[:300]))
            time.sleep(POLL_S)
        lst = self.admin.list_sessions()
        self.assertStatus(lst, 200, "list")
        self.assertNotIn(sid, lst.json)
        by_item = self.admin.list_sessions(item)
        self.assertStatus(by_item, 200, "list by item")
        self.assertNotIn(sid, by_item.json)


class RetentionTest(RetentionCase, ServerTestCase):

    server_args = ("--retention", "1")

    def test_finished_session_is_deleted_after_retention(self):
        lib = self.admin.make_library()
        for op, state in (("cancel", "CANCELED"), ("complete", "DONE"), ("fail", "ERROR")):
            with self.subTest(op=op):
                item = self.admin.make_item(lib)
                sid, _, _ = self.create(self.admin, item)
                body = {"client_error_message": "no"} if op == "fail" else None
                r = self.admin.post(session_path(sid, op), body)
                self.assertStatus(r, 204, op)
                finished = utcnow()
                s = self.get_session(self.admin, sid, "get right after %s" % op)
                self.assertEqual(s.get("state"), state, s)
                self.assertIn(sid, self.admin.list_sessions(item).json)
                self.assertGoneWithin(sid, item, finished, self.GONE_WITHIN_S)
                # The item itself is untouched and free.
                self.assertStatus(self.admin.create_session(item), 201, "create afterwards")


class ExpiredRetentionTest(RetentionCase, ServerTestCase):
    """An expired session is a finished one: it is deleted after the retention too."""

    server_args = ("--session-timeout", str(TIMEOUT_S), "--retention", "1")

    def test_expired_session_is_deleted_after_retention(self):
        _, item = self.admin.make_library_item()
        sid, before, _ = self.create(self.admin, item)
        exp = self.expiration(self.get_session(self.admin, sid))
        self.wait_expired(self.admin, sid, exp, before + seconds(EXPIRE_WITHIN_S))
        # expired at most EXPIRE_WITHIN_S after creation, then kept for about 1 s
        self.assertGoneWithin(sid, item, before, EXPIRE_WITHIN_S + self.GONE_WITHIN_S)

if __name__ == "__main__":
    import unittest
    unittest.main()
