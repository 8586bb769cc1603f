"""Operations on one update session over /api: update (PATCH), complete, cancel, fail,
keep-alive and delete, in every state (ACTIVE, DONE, ERROR by fail, CANCELED, ERROR by expiry),
with the exact status, error_type and message args of each refusal; unknown sessions and
actions; the item's content_version; and 20 concurrent state changes on one session.

Message args of NOT_ALLOWED_IN_CURRENT_STATE are [operation, current state] as vCenter sends
them (vsphere-api.md 2.1 / 5.4), the operation named "complete", "cancel", "fail",
"keep_alive", "update" or "delete"."""

import concurrent.futures
import datetime
import http.client
import json
import random
import threading
import time
import uuid

from harness import (session_path, CLS_MSG_PREFIX, HTTP_TIMEOUT, SESSION_HEADER, UPDATE_SESSION_PATH,
                     ApiTestCase, Server, ServerTestCase, utcnow)

DEFAULT_SESSION_TIMEOUT_S = 300
EXPIRY_TIMEOUT_S = 1          # --session-timeout of the server that makes expired sessions
EXPIRE_WAIT_S = 3.0           # an idle session with a 1 s timeout reads ERROR within this

WB_SELF_SIGNED = [{"type": "SELF_SIGNED_CERTIFICATE", "ignored": True}]

# operation -> the name the server uses for it in messages
OP_NAMES = {
    "patch": "update",
    "delete": "delete",
    "complete": "complete",
    "cancel": "cancel",
    "fail": "fail",
    "keep-alive": "keep_alive",
}

# terminal action -> the state it leads to
TERMINAL_OF = {"complete": "DONE", "cancel": "CANCELED", "fail": "ERROR"}

TERMINAL_STATES = ("DONE", "ERROR", "CANCELED")


# ---------------------------------------------------------------------------------------------
# helpers (local to this file; the harness has no PATCH / action helpers)
# ---------------------------------------------------------------------------------------------



def do_op(client, sid, op, body=None):
    """One operation on session sid. op: get, patch, delete, complete, cancel, fail,
    keep-alive. fail gets a valid client_error_message and patch a valid spec unless body
    is given."""
    if op == "get":
        return client.get(session_path(sid))
    if op == "patch":
        return client.request("PATCH", session_path(sid),
                              {"warning_behavior": WB_SELF_SIGNED} if body is None else body)
    if op == "delete":
        return client.delete(session_path(sid))
    if op == "fail" and body is None:
        body = {"client_error_message": "the client gave up"}
    return client.post(session_path(sid, op), body)


def item_content_version(test, client, item):
    r = client.get("/api/content/library/item/" + item)
    test.assertStatus(r, 200, "get item %s" % item)
    test.assertIsInstance(r.json, dict, r.raw[:300])
    cv = r.json.get("content_version")
    test.assertIsInstance(cv, str, "content_version must be a string: %r" % r.raw[:300])
    return cv


def raw_call(port, token, method, path, body=None, barrier=None):
    """One request on its own connection; connects first, then waits on barrier (so that
    many requests start together). Returns (status, parsed JSON or None, raw)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.connect()
        headers = {"Accept": "application/json", SESSION_HEADER: token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if barrier is not None:
            barrier.wait()
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return resp.status, parsed, raw
    finally:
        conn.close()


class LifecycleCase(ApiTestCase):
    """Assertions shared by the lifecycle tests."""

    def get_session(self, client, sid, what="get session"):
        r = client.get(session_path(sid))
        self.assertStatus(r, 200, what)
        self.assertIsInstance(r.json, dict, r.raw[:300])
        return r.json

    def assertState(self, client, sid, state, what=""):
        s = self.get_session(client, sid, what or "get session")
        self.assertEqual(s.get("state"), state, "%s: %r" % (what, s))
        return s

    def assertNotAllowed(self, r, operation, state, what=""):
        body = self.assertApiError(r, 400, "NOT_ALLOWED_IN_CURRENT_STATE", mentions=[state],
                                   id_prefix=CLS_MSG_PREFIX, what=what)
        self.assertEqual(body["messages"][0]["args"], [operation, state],
                         "%s: args must be [operation, state]; %r" % (what, r.raw[:500]))
        return body

    def create(self, client, item):
        r = client.create_session(item)
        self.assertStatus(r, 201, "create on %s" % item)
        self.assertIsInstance(r.json, str)
        return r.json

    def session_in(self, client, state, item):
        """A session on item brought to state (ACTIVE, DONE, ERROR via fail, CANCELED)."""
        sid = self.create(client, item)
        action = {"DONE": "complete", "ERROR": "fail", "CANCELED": "cancel"}.get(state)
        if action is not None:
            r = do_op(client, sid, action)
            self.assertStatus(r, 204, "%s to reach %s" % (action, state))
        self.assertState(client, sid, state, "session prepared in %s" % state)
        return sid


# ---------------------------------------------------------------------------------------------
# update (PATCH)
# ---------------------------------------------------------------------------------------------

class UpdateTest(LifecycleCase, ServerTestCase):

    def test_patch_warning_behavior(self):
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        r = do_op(self.admin, sid, "patch", {"warning_behavior": WB_SELF_SIGNED})
        self.assertStatus(r, 204, "PATCH warning_behavior")
        self.assertEqual(r.raw, b"", "204 has no body")
        s = self.assertState(self.admin, sid, "ACTIVE", "after PATCH")
        self.assertEqual(s.get("warning_behavior"), WB_SELF_SIGNED, s)

        two = [{"type": "EXPIRED_CERTIFICATE", "ignored": False},
               {"type": "UNTRUSTED_CERTIFICATE", "ignored": True}]
        r = do_op(self.admin, sid, "patch", {"warning_behavior": two})
        self.assertStatus(r, 204, "second PATCH")
        s = self.assertState(self.admin, sid, "ACTIVE", "after second PATCH")
        self.assertEqual(s.get("warning_behavior"), two, s)

    def test_patch_invalid_spec(self):
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        self.assertStatus(do_op(self.admin, sid, "patch", {"warning_behavior": WB_SELF_SIGNED}),
                          204, "valid PATCH")
        for wb in ("yes", 5, True, {"type": "SELF_SIGNED_CERTIFICATE", "ignored": True}):
            with self.subTest(warning_behavior=wb):
                r = do_op(self.admin, sid, "patch", {"warning_behavior": wb})
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["warning_behavior"],
                                    id_prefix=CLS_MSG_PREFIX)
        s = self.assertState(self.admin, sid, "ACTIVE", "after refused PATCHes")
        self.assertEqual(s.get("warning_behavior"), WB_SELF_SIGNED,
                         "a refused PATCH must change nothing: %r" % s)

    def test_patch_not_active(self):
        lib = self.admin.make_library()
        for state in TERMINAL_STATES:
            with self.subTest(state=state):
                sid = self.session_in(self.admin, state, self.admin.make_item(lib))
                r = do_op(self.admin, sid, "patch", {"warning_behavior": WB_SELF_SIGNED})
                self.assertNotAllowed(r, "update", state, "PATCH in %s" % state)
                s = self.assertState(self.admin, sid, state, "after refused PATCH")
                self.assertNotEqual(s.get("warning_behavior"), WB_SELF_SIGNED, s)


# ---------------------------------------------------------------------------------------------
# complete / cancel / fail / keep-alive
# ---------------------------------------------------------------------------------------------

class ActionsTest(LifecycleCase, ServerTestCase):

    def test_complete(self):
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        r = do_op(self.admin, sid, "complete")
        self.assertStatus(r, 204, "complete")
        self.assertEqual(r.raw, b"", "204 has no body")
        s = self.assertState(self.admin, sid, "DONE", "after complete")
        self.assertNotIn("error_message", s)

    def test_cancel(self):
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        r = do_op(self.admin, sid, "cancel")
        self.assertStatus(r, 204, "cancel")
        self.assertEqual(r.raw, b"", "204 has no body")
        s = self.assertState(self.admin, sid, "CANCELED", "after cancel")
        self.assertNotIn("error_message", s)

    def test_fail_records_client_message(self):
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        r = do_op(self.admin, sid, "fail", {"client_error_message": "disk full"})
        self.assertStatus(r, 204, "fail")
        self.assertEqual(r.raw, b"", "204 has no body")
        s = self.assertState(self.admin, sid, "ERROR", "after fail")
        em = s.get("error_message")
        self.assertIsInstance(em, dict, s)
        self.assertEqual(em.get("default_message"), "disk full", s)
        self.assertIsInstance(em.get("id"), str, s)
        self.assertIsInstance(em.get("args"), list, s)

    def test_fail_message_must_be_a_string(self):
        # a fail without a message is accepted (test_conformance.py); one of another type is not
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        for body in ({"client_error_message": 42}, {"client_error_message": ["x"]}):
            with self.subTest(body=body):
                r = self.admin.post(session_path(sid, "fail"), body)
                self.assertApiError(r, 400, "INVALID_ARGUMENT",
                                    mentions=["client_error_message"], id_prefix=CLS_MSG_PREFIX)
        s = self.assertState(self.admin, sid, "ACTIVE", "after refused fails")
        self.assertNotIn("error_message", s)

    def test_keep_alive_moves_expiration_and_progress(self):
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        s0 = self.get_session(self.admin, sid)
        exp0 = self.assertIsoTime(s0.get("expiration_time"), "expiration_time")
        self.assertEqual(s0.get("client_progress"), 0)

        time.sleep(0.3)
        before = utcnow()
        r = do_op(self.admin, sid, "keep-alive")
        after = utcnow()
        self.assertStatus(r, 204, "keep-alive without body")
        self.assertEqual(r.raw, b"", "204 has no body")
        s1 = self.assertState(self.admin, sid, "ACTIVE", "after keep-alive")
        exp1 = self.assertIsoTime(s1.get("expiration_time"), "expiration_time")
        self.assertGreater(exp1, exp0, "keep-alive must move expiration_time later")
        timeout = datetime.timedelta(seconds=DEFAULT_SESSION_TIMEOUT_S)
        slack = datetime.timedelta(seconds=2)
        self.assertGreaterEqual(exp1, before + timeout - slack, s1)
        self.assertLessEqual(exp1, after + timeout + slack, s1)
        self.assertEqual(s1.get("client_progress"), 0, "no body leaves progress alone")

        time.sleep(0.3)
        r = do_op(self.admin, sid, "keep-alive", {"client_progress": 40})
        self.assertStatus(r, 204, "keep-alive with client_progress 40")
        s2 = self.assertState(self.admin, sid, "ACTIVE", "after keep-alive 40")
        self.assertEqual(s2.get("client_progress"), 40, s2)
        exp2 = self.assertIsoTime(s2.get("expiration_time"), "expiration_time")
        self.assertGreater(exp2, exp1, "keep-alive with progress must move expiration_time")

        r = do_op(self.admin, sid, "keep-alive", {"client_progress": 100})
        self.assertStatus(r, 204, "keep-alive with client_progress 100")
        self.assertEqual(self.get_session(self.admin, sid).get("client_progress"), 100)

    def test_keep_alive_bad_progress(self):
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        for bad in (101, -1, 1000, "50", 12.5):
            with self.subTest(client_progress=bad):
                r = do_op(self.admin, sid, "keep-alive", {"client_progress": bad})
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["client_progress"],
                                    id_prefix=CLS_MSG_PREFIX)
        self.assertEqual(self.get_session(self.admin, sid).get("client_progress"), 0)

        self.assertStatus(do_op(self.admin, sid, "keep-alive", {"client_progress": 60}), 204,
                          "keep-alive 60")
        for lower in (59, 10, 0):
            with self.subTest(lower=lower):
                r = do_op(self.admin, sid, "keep-alive", {"client_progress": lower})
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["client_progress"],
                                    id_prefix=CLS_MSG_PREFIX)
        s = self.assertState(self.admin, sid, "ACTIVE", "after refused keep-alives")
        self.assertEqual(s.get("client_progress"), 60, s)

    def test_actions_not_allowed_outside_active(self):
        lib = self.admin.make_library()
        for state in TERMINAL_STATES:
            for op in ("complete", "cancel", "fail", "keep-alive", "patch"):
                with self.subTest(state=state, op=op):
                    sid = self.session_in(self.admin, state, self.admin.make_item(lib))
                    before = self.get_session(self.admin, sid)
                    r = do_op(self.admin, sid, op)
                    self.assertNotAllowed(r, OP_NAMES[op], state, "%s in %s" % (op, state))
                    after = self.get_session(self.admin, sid)
                    self.assertEqual(after, before, "a refused %s must change nothing" % op)
                    if op == "keep-alive":
                        r = do_op(self.admin, sid, op, {"client_progress": 50})
                        self.assertNotAllowed(r, "keep_alive", state,
                                              "keep-alive with progress in %s" % state)

    def test_unknown_session_is_not_found(self):
        _, item = self.admin.make_library_item()
        ids = [item + ":" + str(uuid.uuid4()),
               str(uuid.uuid4()) + ":" + str(uuid.uuid4()),
               "no-such-session"]
        for sid in ids:
            for op in ("get", "patch", "delete", "complete", "cancel", "fail", "keep-alive"):
                with self.subTest(id=sid, op=op):
                    r = do_op(self.admin, sid, op)
                    self.assertApiError(r, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX,
                                        what="%s %s" % (op, sid))
            with self.subTest(id=sid, op="keep-alive with progress"):
                r = do_op(self.admin, sid, "keep-alive", {"client_progress": 10})
                self.assertApiError(r, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX)
        # Nothing was created on the item by the attempts.
        self.assertEqual(self.admin.list_sessions(item).json, [])
        self.assertStatus(self.admin.create_session(item), 201, "create after the attempts")

    def test_unknown_action_is_operation_not_found(self):
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        for action in ("explode", "self-destruct"):
            with self.subTest(action=action):
                r = self.admin.post(session_path(sid, action))
                self.assertApiError(r, 404, "OPERATION_NOT_FOUND")
        self.assertState(self.admin, sid, "ACTIVE", "after unknown actions")


# ---------------------------------------------------------------------------------------------
# delete
# ---------------------------------------------------------------------------------------------

class DeleteTest(LifecycleCase, ServerTestCase):

    def test_delete_finished_session(self):
        lib = self.admin.make_library()
        for state in TERMINAL_STATES:
            with self.subTest(state=state):
                item = self.admin.make_item(lib)
                sid = self.session_in(self.admin, state, item)
                self.assertIn(sid, self.admin.list_sessions().json)
                r = do_op(self.admin, sid, "delete")
                self.assertStatus(r, 204, "delete in %s" % state)
                self.assertEqual(r.raw, b"", "204 has no body")
                g = do_op(self.admin, sid, "get")
                self.assertApiError(g, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX,
                                    what="get after delete")
                lst = self.admin.list_sessions()
                self.assertStatus(lst, 200, "list")
                self.assertNotIn(sid, lst.json)
                by_item = self.admin.list_sessions(item)
                self.assertStatus(by_item, 200, "list by item")
                self.assertEqual(by_item.json, [])
                again = do_op(self.admin, sid, "delete")
                self.assertApiError(again, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX,
                                    what="second delete")

    def test_delete_active_is_not_allowed(self):
        _, item = self.admin.make_library_item()
        sid = self.create(self.admin, item)
        r = do_op(self.admin, sid, "delete")
        self.assertNotAllowed(r, "delete", "ACTIVE", "delete while ACTIVE")
        self.assertState(self.admin, sid, "ACTIVE", "after refused delete")
        self.assertEqual(self.admin.list_sessions(item).json, [sid])
        # Still the item's active session.
        busy = self.admin.create_session(item)
        self.assertApiError(busy, 500, "RESOURCE_BUSY", id_prefix=CLS_MSG_PREFIX)


# ---------------------------------------------------------------------------------------------
# operation x state matrix
# ---------------------------------------------------------------------------------------------

MATRIX_OPS = ("get", "patch", "delete", "complete", "cancel", "fail", "keep-alive")

# what an operation does to an ACTIVE session: (status, error_type or None, state after or
# None when the session is gone)
ACTIVE_EXPECT = {
    "get": (200, None, "ACTIVE"),
    "patch": (204, None, "ACTIVE"),
    "delete": (400, "NOT_ALLOWED_IN_CURRENT_STATE", "ACTIVE"),
    "complete": (204, None, "DONE"),
    "cancel": (204, None, "CANCELED"),
    "fail": (204, None, "ERROR"),
    "keep-alive": (204, None, "ACTIVE"),
}


class OperationStateMatrixTest(LifecycleCase):
    """Every operation from every state, on a fresh session per cell. ERROR is reached twice:
    by fail, and by expiry on a second server with --session-timeout 1."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = Server()
        cls.expiry_server = None
        try:
            cls.expiry_server = Server(args=["--session-timeout", str(EXPIRY_TIMEOUT_S)])
            cls.admin = cls.server.client("admin")
            cls.expiry_admin = cls.expiry_server.client("admin")
        except BaseException:
            cls.server.kill9()
            if cls.expiry_server is not None:
                cls.expiry_server.kill9()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            try:
                cls.server.stop()
            finally:
                cls.expiry_server.stop()
        finally:
            super().tearDownClass()

    def check_cell(self, client, sid, state, op):
        """Runs op on sid (in state) and checks the answer and the state afterwards."""
        r = do_op(client, sid, op)
        what = "%s in %s" % (op, state)
        if state == "ACTIVE":
            status, error_type, after = ACTIVE_EXPECT[op]
        elif op == "get":
            status, error_type, after = 200, None, state
        elif op == "delete":
            status, error_type, after = 204, None, None
        else:
            status, error_type, after = 400, "NOT_ALLOWED_IN_CURRENT_STATE", state
        if error_type is not None:
            self.assertNotAllowed(r, OP_NAMES[op], state, what)
        else:
            self.assertStatus(r, status, what)
            if status == 204:
                self.assertEqual(r.raw, b"", "%s: 204 has no body" % what)
        if op == "get":
            self.assertIsInstance(r.json, dict, r.raw[:300])
            self.assertEqual(r.json.get("id"), sid)
            self.assertEqual(r.json.get("state"), state, r.json)
        if after is None:
            g = do_op(client, sid, "get")
            self.assertApiError(g, 404, "NOT_FOUND", what="get after " + what)
            self.assertNotIn(sid, client.list_sessions().json)
        else:
            self.assertState(client, sid, after, "state after " + what)

    def test_matrix(self):
        lib = self.admin.make_library()
        for state in ("ACTIVE", "DONE", "ERROR", "CANCELED"):
            for op in MATRIX_OPS:
                with self.subTest(state=state, op=op):
                    sid = self.session_in(self.admin, state, self.admin.make_item(lib))
                    self.check_cell(self.admin, sid, state, op)

    def test_matrix_expired(self):
        client = self.expiry_admin
        lib = client.make_library()
        sids = {}
        for op in MATRIX_OPS:
            sids[op] = self.create(client, client.make_item(lib))
        deadline = time.monotonic() + EXPIRE_WAIT_S
        pending = set(sids.values())
        while pending and time.monotonic() < deadline:
            for sid in sorted(pending):
                s = self.get_session(client, sid)
                self.assertIn(s.get("state"), ("ACTIVE", "ERROR"), s)
                if s["state"] == "ERROR":
                    self.assertIn("expired", s.get("error_message", {}).get("default_message", ""),
                                  s)
                    pending.discard(sid)
            if pending:
                time.sleep(0.1)
        self.assertEqual(pending, set(), "sessions not expired within %.1f s" % EXPIRE_WAIT_S)
        for op in MATRIX_OPS:
            with self.subTest(state="ERROR (expired)", op=op):
                self.check_cell(client, sids[op], "ERROR", op)


# ---------------------------------------------------------------------------------------------
# content_version and releasing the item
# ---------------------------------------------------------------------------------------------

class ContentVersionTest(LifecycleCase, ServerTestCase):

    def test_done_raises_content_version(self):
        _, item = self.admin.make_library_item()
        self.assertEqual(item_content_version(self, self.admin, item), "1")
        sid = self.create(self.admin, item)
        self.assertEqual(self.get_session(self.admin, sid).get("library_item_content_version"),
                         "1")
        self.assertStatus(do_op(self.admin, sid, "complete"), 204, "complete")
        self.assertEqual(item_content_version(self, self.admin, item), "2",
                         "complete (DONE) raises content_version by one")
        s = self.assertState(self.admin, sid, "DONE", "after complete")
        self.assertEqual(s.get("library_item_content_version"), "1",
                         "the session keeps the version it was created on: %r" % s)

        # The item is free again; the next session starts from version 2.
        sid2 = self.create(self.admin, item)
        s2 = self.get_session(self.admin, sid2)
        self.assertEqual(s2.get("library_item_content_version"), "2", s2)
        self.assertStatus(do_op(self.admin, sid2, "complete"), 204, "second complete")
        self.assertEqual(item_content_version(self, self.admin, item), "3")

    def test_cancel_and_fail_keep_content_version(self):
        _, item = self.admin.make_library_item()
        for op in ("cancel", "fail"):
            with self.subTest(op=op):
                sid = self.create(self.admin, item)
                self.assertStatus(do_op(self.admin, sid, op), 204, op)
                self.assertEqual(item_content_version(self, self.admin, item), "1",
                                 "%s must not raise content_version" % op)
                s = self.assertState(self.admin, sid, TERMINAL_OF[op], "after " + op)
                self.assertEqual(s.get("library_item_content_version"), "1")

    def test_terminal_session_frees_item(self):
        _, item = self.admin.make_library_item()
        for op in ("complete", "cancel", "fail"):
            with self.subTest(op=op):
                sid = self.create(self.admin, item)
                busy = self.admin.create_session(item)
                self.assertApiError(busy, 500, "RESOURCE_BUSY", id_prefix=CLS_MSG_PREFIX,
                                    what="create while ACTIVE")
                self.assertStatus(do_op(self.admin, sid, op), 204, op)
                nxt = self.admin.create_session(item)
                self.assertStatus(nxt, 201, "create after %s" % op)
                self.assertNotEqual(nxt.json, sid)
                self.assertState(self.admin, nxt.json, "ACTIVE", "new session")
                self.assertStatus(do_op(self.admin, nxt.json, "cancel"), 204, "cancel new")


# ---------------------------------------------------------------------------------------------
# concurrent state changes
# ---------------------------------------------------------------------------------------------

class ConcurrentChangesTest(LifecycleCase, ServerTestCase):

    ROUNDS = 5
    PER_KIND = 5     # complete, cancel, fail, keep-alive: 5 each = 20 requests

    def race(self, requests):
        """Runs [(method, path, body)] together (one thread and connection each, started by a
        barrier); returns [(status, json, raw)] in the same order."""
        barrier = threading.Barrier(len(requests), timeout=30)
        token = self.admin.token
        port = self.server.port
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(requests)) as pool:
            futures = [pool.submit(raw_call, port, token, m, p, b, barrier)
                       for m, p, b in requests]
            return [f.result(timeout=60) for f in futures]

    def one_round(self, lib, rnd):
        item = self.admin.make_item(lib)
        cv0 = item_content_version(self, self.admin, item)
        self.assertEqual(cv0, "1")
        sid = self.create(self.admin, item)

        ops = []
        for k in range(self.PER_KIND):
            ops.append(("complete", None))
            ops.append(("cancel", None))
            ops.append(("fail", {"client_error_message": "race %d fail %d" % (rnd, k)}))
            ops.append(("keep-alive", None))
        random.shuffle(ops)
        results = self.race([("POST", session_path(sid, op), body) for op, body in ops])

        s = self.get_session(self.admin, sid, "get after the race")
        final = s.get("state")
        self.assertIn(final, TERMINAL_STATES, s)

        winners = []
        for (op, body), (status, parsed, raw) in zip(ops, results):
            ctx = "round %d: %s -> %d %r" % (rnd, op, status, raw[:300])
            if status == 204:
                if op in TERMINAL_OF:
                    winners.append((op, body))
                continue
            self.assertEqual(status, 400, ctx)
            self.assertIsInstance(parsed, dict, ctx)
            self.assertEqual(parsed.get("error_type"), "NOT_ALLOWED_IN_CURRENT_STATE", ctx)
            msgs = parsed.get("messages") or [{}]
            self.assertEqual(msgs[0].get("args"), [OP_NAMES[op], final], ctx)
        self.assertEqual(len(winners), 1, "round %d: exactly one of complete/cancel/fail must "
                         "win; winners %r; results %r" % (rnd, winners, results))
        win_op, win_body = winners[0]
        self.assertEqual(final, TERMINAL_OF[win_op], "round %d: %s won but state is %s"
                         % (rnd, win_op, final))
        if win_op == "fail":
            self.assertEqual(s.get("error_message", {}).get("default_message"),
                             win_body["client_error_message"], s)
        else:
            self.assertNotIn("error_message", s)

        # Exactly one new session on the item: two concurrent creates, one 201, one busy.
        body = {"library_item_id": item}
        pair = self.race([("POST", UPDATE_SESSION_PATH, body), ("POST", UPDATE_SESSION_PATH, body)])
        statuses = sorted(st for st, _, _ in pair)
        self.assertEqual(statuses, [201, 500], "round %d: creates after the race: %r"
                         % (rnd, pair))
        for st, parsed, raw in pair:
            if st == 500:
                self.assertIsInstance(parsed, dict, raw[:300])
                self.assertEqual(parsed.get("error_type"), "RESOURCE_BUSY", raw[:300])
            else:
                new_sid = parsed
        self.assertIsInstance(new_sid, str)
        self.assertState(self.admin, new_sid, "ACTIVE", "the new session")

        want_cv = str(int(cv0) + 1) if win_op == "complete" else cv0
        self.assertEqual(item_content_version(self, self.admin, item), want_cv,
                         "round %d: %s won" % (rnd, win_op))
        self.assertEqual(self.get_session(self.admin, new_sid)
                         .get("library_item_content_version"), want_cv)
        self.assertStatus(do_op(self.admin, new_sid, "cancel"), 204, "cancel the new session")
        return win_op

    def test_concurrent_changes_one_wins(self):
        lib = self.admin.make_library()
        won = []
        for rnd in range(self.ROUNDS):
            with self.subTest(round=rnd):
                won.append(self.one_round(lib, rnd))
        # The winners are whatever they were; each round was checked on its own.
        self.assertEqual(len(won), self.ROUNDS)


if __name__ == "__main__":
    import unittest
    unittest.main()
