"""/api/session: Basic login -> 201 token, bad credentials -> 401, session info, logout, and
tokens shared by every instance on the same Redis and key prefix."""

import datetime

from harness import (AUTH_REQUIRED_MSG_ID, UPDATE_SESSION_PATH, USERS, Client, Server,
                     ServerTestCase, basic_auth, utcnow)


class LoginTest(ServerTestCase):

    def login_raw(self, authorization):
        c = Client(self.server.port)
        headers = {} if authorization is None else {"Authorization": authorization}
        return c.request("POST", "/api/session", auth=False, headers=headers)

    def test_good_login(self):
        r = self.login_raw(basic_auth("admin", USERS["admin"][0]))
        self.assertStatus(r, 201, "login")
        self.assertJsonContentType(r)
        self.assertIsInstance(r.json, str)
        self.assertGreaterEqual(len(r.json), 16, "token too short to be unguessable")
        # Two logins give two different tokens.
        r2 = self.login_raw(basic_auth("admin", USERS["admin"][0]))
        self.assertStatus(r2, 201, "second login")
        self.assertNotEqual(r.json, r2.json)

    def test_bad_credentials(self):
        self.addCleanup(self.server.await_login, "admin")  # ends the login backoff
        cases = {
            "wrong password": basic_auth("admin", "wrong"),
            "empty password": basic_auth("admin", ""),
            "other user's password": basic_auth("admin", USERS["reader"][0]),
            "unknown user": basic_auth("nobody", "whatever"),
            "no colon": "Basic " + "YWRtaW4=",
            "not base64": "Basic %%%%",
            "only padding": "Basic ====",  # once wrote before its buffer (tests/fuzz)
            "other scheme": "Bearer abc",
        }
        for what, header in cases.items():
            with self.subTest(what):
                r = self.login_raw(header)
                self.assertApiError(r, 401, "UNAUTHENTICATED", what=what)
        r = self.login_raw(None)
        self.assertApiError(r, 401, "UNAUTHENTICATED", what="no Authorization header")

    def test_session_info(self):
        before = utcnow() - datetime.timedelta(seconds=5)
        c = self.server.client("reader")
        r = c.get("/api/session")
        after = utcnow() + datetime.timedelta(seconds=5)
        self.assertStatus(r, 200, "GET /api/session")
        info = r.json
        self.assertIsInstance(info, dict)
        self.assertEqual(info.get("user"), "reader")
        created = self.assertIsoTime(info.get("created_time"), "created_time")
        accessed = self.assertIsoTime(info.get("last_accessed_time"), "last_accessed_time")
        self.assertTrue(before <= created <= after, info)
        self.assertTrue(before <= accessed <= after, info)
        self.assertLessEqual(created, accessed)

    def test_logout(self):
        c = self.server.client("admin")
        token = c.token
        self.assertStatus(c.get("/api/session"), 200, "session before logout")
        r = c.delete("/api/session")
        self.assertStatus(r, 204, "DELETE /api/session")
        self.assertEqual(r.raw, b"")
        stale = Client(self.server.port, token=token)
        r = stale.get("/api/session")
        self.assertApiError(r, 401, "UNAUTHENTICATED", id_prefix=AUTH_REQUIRED_MSG_ID)
        r = stale.get(UPDATE_SESSION_PATH)
        self.assertApiError(r, 401, "UNAUTHENTICATED", id_prefix=AUTH_REQUIRED_MSG_ID)
        r = stale.delete("/api/session")
        self.assertApiError(r, 401, "UNAUTHENTICATED")
        # Other logins of the same user are unaffected.
        self.assertStatus(self.admin.get("/api/session"), 200, "other session")

    def test_session_calls_without_token(self):
        c = Client(self.server.port)
        self.assertApiError(c.get("/api/session"), 401, "UNAUTHENTICATED",
                            id_prefix=AUTH_REQUIRED_MSG_ID)
        self.assertApiError(c.delete("/api/session"), 401, "UNAUTHENTICATED",
                            id_prefix=AUTH_REQUIRED_MSG_ID)

    def test_token_shared_by_instances_on_same_redis_and_prefix(self):
        second = Server(redis=self.server.redis, prefix=self.server.prefix)
        try:
            c = self.server.client("admin")
            on_second = Client(second.port, token=c.token)
            r = on_second.get("/api/session")
            self.assertStatus(r, 200, "token of instance 1 on instance 2")
            self.assertEqual(r.json.get("user"), "admin")
            # Work done on one instance is visible on the other.
            lib, item = c.make_library_item()
            s = on_second.create_session(item)
            self.assertStatus(s, 201, "create on instance 2")
            self.assertEqual(c.list_sessions(item).json, [s.json])
            # Logout on instance 2 is seen by instance 1 at once.
            self.assertStatus(on_second.delete("/api/session"), 204, "logout on instance 2")
            self.assertApiError(c.get("/api/session"), 401, "UNAUTHENTICATED")
            # Another prefix is another world.
            d = self.server.client("admin")
            third = Server(redis=self.server.redis)
            try:
                r = Client(third.port, token=d.token).get("/api/session")
                self.assertApiError(r, 401, "UNAUTHENTICATED", what="token under another prefix")
            finally:
                third.stop()
        finally:
            second.stop()


if __name__ == "__main__":
    import unittest
    unittest.main()


class LoginIdleTest(ServerTestCase):
    """--login-idle: a token in use stays valid (its idle timer is renewed at most once per
    step, and never so that it expires earlier than the idle timeout after its last use); an
    idle one is forgotten."""

    server_args = ("--login-idle", "2")

    def test_token_in_use_lives_idle_token_dies(self):
        import time
        c = self.server.client("admin")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 4.5:  # more than twice the idle timeout, in use
            self.assertStatus(c.get("/api/session"), 200, "token in use at %.1f s"
                              % (time.monotonic() - t0))
            time.sleep(0.5)
        for _ in range(10):  # uses closer together than the renewal step
            self.assertStatus(c.get("/api/session"), 200, "rapid use")
            time.sleep(0.05)
        time.sleep(1.8)  # idle, but less than the 2 s timeout since the last use
        self.assertStatus(c.get("/api/session"), 200, "not expired before the idle timeout")
        time.sleep(2.6)  # idle longer than 2 s + the 0.2 s renewal step
        r = c.get("/api/session")
        self.assertApiError(r, 401, "UNAUTHENTICATED")
