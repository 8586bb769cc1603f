"""The events stream (issue 11): every session transition is appended, by the script that makes
it, to the capped Redis stream <prefix>events with session, item, user, from, to and reason
(create, cancel, fail, complete, expire, item_delete, library_delete); the user is the caller,
or "server" for what the server does itself (expiry). --events-max caps it (XADD MAXLEN ~);
--events-max 0: no stream at all."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ServerTestCase, session_path  # noqa: E402
from test_files import wait_for  # noqa: E402


def events(server):
    """[(entry id, {field: value})] of the server's stream, oldest first."""
    out = []
    for eid, flat in server.redis.command("XRANGE", server.prefix + "events", "-", "+") or []:
        dec = [x.decode() for x in flat]
        out.append((eid.decode(), dict(zip(dec[0::2], dec[1::2]))))
    return out


def of_session(server, sid):
    return [e for _, e in events(server) if e.get("session") == sid]


class EventsTest(ServerTestCase):

    server_args = ("--session-timeout", "1", "--sweep-interval-ms", "50")

    def entry(self, sid, item, user, frm, to, reason):
        return {"session": sid, "item": item, "user": user, "from": frm, "to": to,
                "reason": reason}

    def test_every_transition(self):
        c = self.admin
        lib, item = c.make_library_item()
        # create, cancel
        r = c.create_session(item)
        self.assertStatus(r, 201, "create")
        s1 = r.json
        self.assertEqual(of_session(self.server, s1),
                         [self.entry(s1, item, "admin", "", "ACTIVE", "create")])
        self.assertStatus(c.post(session_path(s1, "cancel")), 204, "cancel")
        # fail
        s2 = c.create_session(item).json
        self.assertStatus(c.post(session_path(s2, "fail"), {"client_error_message": "x"}), 204,
                          "fail")
        # complete (no files)
        s3 = c.create_session(item).json
        self.assertStatus(c.post(session_path(s3, "complete")), 204, "complete")
        # keep-alive changes no state: no entry
        s4 = c.create_session(item).json
        self.assertStatus(c.post(session_path(s4, "keep-alive")), 204, "keep-alive")
        # expiry, by the server
        ok = wait_for(lambda: len(of_session(self.server, s4)) == 2, 10.0)
        self.assertTrue(ok, of_session(self.server, s4))
        # item delete ends the ACTIVE session on it
        s5 = c.create_session(item).json
        self.assertStatus(c.delete("/api/content/library/item/" + item), 204, "item delete")
        # library delete ends the sessions of its items
        item2 = c.make_item(lib)
        s6 = c.create_session(item2).json
        self.assertStatus(c.delete("/api/content/local-library/" + lib), 204, "library delete")

        E = self.entry
        self.assertEqual(of_session(self.server, s1), [
            E(s1, item, "admin", "", "ACTIVE", "create"),
            E(s1, item, "admin", "ACTIVE", "CANCELED", "cancel")])
        self.assertEqual(of_session(self.server, s2), [
            E(s2, item, "admin", "", "ACTIVE", "create"),
            E(s2, item, "admin", "ACTIVE", "ERROR", "fail")])
        self.assertEqual(of_session(self.server, s3), [
            E(s3, item, "admin", "", "ACTIVE", "create"),
            E(s3, item, "admin", "ACTIVE", "DONE", "complete")])
        self.assertEqual(of_session(self.server, s4), [
            E(s4, item, "admin", "", "ACTIVE", "create"),
            E(s4, item, "server", "ACTIVE", "ERROR", "expire")])
        self.assertEqual(of_session(self.server, s5), [
            E(s5, item, "admin", "", "ACTIVE", "create"),
            E(s5, item, "admin", "ACTIVE", "CANCELED", "item_delete")])
        self.assertEqual(of_session(self.server, s6), [
            E(s6, item2, "admin", "", "ACTIVE", "create"),
            E(s6, item2, "admin", "ACTIVE", "CANCELED", "library_delete")])
        # stream order is transition order
        ids = [eid for eid, _ in events(self.server)]
        self.assertEqual(ids, sorted(ids, key=lambda i: tuple(int(x) for x in i.split("-"))))

    def test_operator_is_named(self):
        """An operator canceling someone else's session is the user of that entry."""
        u = self.server.client("uploader")
        op = self.server.client("operator")
        _, item = self.admin.make_library_item()
        sid = u.create_session(item).json
        self.assertStatus(op.post(session_path(sid, "cancel")), 204, "operator cancel")
        got = of_session(self.server, sid)
        self.assertEqual([(e["user"], e["reason"]) for e in got],
                         [("uploader", "create"), ("operator", "cancel")])


class EventsCappedTest(ServerTestCase):

    server_args = ("--events-max", "10")

    def test_stream_is_capped(self):
        c = self.admin
        _, item = c.make_library_item()
        n = 60
        t0 = time.monotonic()
        for _ in range(n):
            sid = c.create_session(item).json
            self.assertStatus(c.post(session_path(sid, "cancel")), 204, "cancel")
        xlen = self.server.redis.command("XLEN", self.server.prefix + "events")
        sys.stderr.write("\n  [events] %d transitions in %.2f s with --events-max 10: XLEN %d\n"
                         % (2 * n, time.monotonic() - t0, xlen))
        # MAXLEN ~ trims whole stream nodes (100 entries each by default): about the cap
        self.assertLess(xlen, 2 * n)
        self.assertLessEqual(xlen, 10 + 100)


class EventsOffTest(ServerTestCase):

    server_args = ("--events-max", "0")

    def test_no_stream(self):
        c = self.admin
        _, item = c.make_library_item()
        sid = c.create_session(item).json
        self.assertStatus(c.post(session_path(sid, "cancel")), 204, "cancel")
        self.assertEqual(self.server.redis.command("EXISTS", self.server.prefix + "events"), 0)


if __name__ == "__main__":
    unittest.main()
