"""Redis faults, on a private Redis: stopped -> 503 SERVICE_UNAVAILABLE within the call
timeout + 1 s; started again on the same port -> served again without restarting the server;
frozen (SIGSTOP) -> 503 within the timeout + 1 s; thawed -> served again."""

import time

from harness import (ApiTestCase, RedisServer, Server, USERS, UPDATE_SESSION_PATH, basic_auth)

REDIS_TIMEOUT_MS = 500
LIMIT_S = REDIS_TIMEOUT_MS / 1000.0 + 1.0
RECOVER_S = 10.0


class RedisFaultsTest(ApiTestCase):

    def setUp(self):
        self.redis = RedisServer()
        self.addCleanup(self.redis.destroy)
        self.server = Server(redis=self.redis,
                             args=["--redis-timeout-ms", str(REDIS_TIMEOUT_MS)])
        self.addCleanup(self.stop_server)
        self.client = self.server.client("admin")
        _, self.item = self.client.make_library_item()

    def stop_server(self):
        self.redis.thaw()
        self.server.stop()

    def timed(self, method, path, body=None, **kw):
        t0 = time.monotonic()
        r = self.client.request(method, path, body, **kw)
        return r, time.monotonic() - t0

    def assertUnavailable(self, method, path, body=None, **kw):
        r, elapsed = self.timed(method, path, body, **kw)
        self.assertApiError(r, 503, "SERVICE_UNAVAILABLE", what="%s %s" % (method, path))
        self.assertEqual(r.headers.get("Retry-After"), "1", "%s %s: 503 without Retry-After"
                         % (method, path))
        self.assertLessEqual(elapsed, LIMIT_S, "%s %s took %.2f s (limit %.2f s)"
                             % (method, path, elapsed, LIMIT_S))
        return r

    def wait_served(self):
        """Polls the session list until it answers 200 again (at most RECOVER_S)."""
        deadline = time.monotonic() + RECOVER_S
        last = None
        while time.monotonic() < deadline:
            last = self.client.list_sessions()
            if last.status == 200:
                return last
            time.sleep(0.2)
        self.fail("not served again within %.0f s; last answer %d %r" % (
            RECOVER_S, last.status, last.raw[:300]))

    def check_unavailable_calls(self):
        self.assertUnavailable("GET", UPDATE_SESSION_PATH)
        self.assertUnavailable("POST", UPDATE_SESSION_PATH, {"library_item_id": self.item})
        self.assertUnavailable("GET", "/api/content/library/item/" + self.item)
        self.assertUnavailable("GET", "/api/session")
        self.assertUnavailable("POST", "/api/session", auth=False,
                               headers={"Authorization": basic_auth("admin",
                                                                    USERS["admin"][0])})
        # Still 503 (not a hang, not a crash) on a second round.
        self.assertUnavailable("GET", UPDATE_SESSION_PATH)

    def check_served_again(self):
        self.wait_served()
        r = self.client.create_session(self.item)
        self.assertStatus(r, 201, "create after recovery")
        self.assertEqual(self.client.list_sessions(self.item).json, [r.json])
        g = self.client.get(UPDATE_SESSION_PATH + "/" + r.json)
        self.assertStatus(g, 200, "get after recovery")
        self.assertEqual(g.json.get("state"), "ACTIVE")
        # A fresh login works too.
        self.server.client("admin")

    def test_redis_stopped_then_restarted(self):
        self.assertStatus(self.client.list_sessions(), 200, "list before the fault")
        self.redis.stop()
        self.check_unavailable_calls()
        self.assertTrue(self.server.alive(), "server died while Redis was down")
        self.redis.start()
        self.check_served_again()

    def test_redis_frozen_then_thawed(self):
        self.assertStatus(self.client.list_sessions(), 200, "list before the fault")
        self.redis.freeze()
        try:
            self.check_unavailable_calls()
            self.assertTrue(self.server.alive(), "server died while Redis was frozen")
        finally:
            self.redis.thaw()
        self.check_served_again()

    def test_redis_down_at_start_then_up(self):
        """A server started while Redis is down answers 503 and recovers when Redis comes."""
        other = Server(redis=self.redis, args=["--redis-timeout-ms", str(REDIS_TIMEOUT_MS)],
                       prefix=self.server.prefix)
        try:
            c = other.client("admin")
            self.redis.stop()
            other.stop(cleanup=False)
            other.start()
            t0 = time.monotonic()
            r = c.list_sessions()
            elapsed = time.monotonic() - t0
            self.assertApiError(r, 503, "SERVICE_UNAVAILABLE")
            self.assertLessEqual(elapsed, LIMIT_S)
            self.redis.start()
            deadline = time.monotonic() + RECOVER_S
            while time.monotonic() < deadline:
                r = c.list_sessions()
                if r.status == 200:
                    break
                time.sleep(0.2)
            self.assertStatus(r, 200, "served after Redis came up")
        finally:
            self.redis.start()
            other.stop()


if __name__ == "__main__":
    import unittest
    unittest.main()
