"""The login cache (store/logincache.c, README "Logins"): a session GET is authorized from this
instance's cache of logins, without a Redis script, and everything that ends a login is still
seen by every instance at once:
  * a logout on one instance is refused on another within 50 ms (P logouts pub/sub), though
    that other instance had the login cached (its /metrics shows the hits);
  * a logout made while an instance's subscription is down (CLIENT KILL TYPE pubsub): that
    instance uses no cache until it has subscribed again, so it refuses too;
  * the owner rule still holds on the cached path (another user: 404), and an operator reads
    any session;
  * a login that idles out is refused by an instance that cached it;
  * a Redis restart (every login lost) empties the cache.
Two server processes on one private Redis, the same --key-prefix (as behind a balancer)."""

import hashlib
import time
import unittest

from harness import (USERS, ApiTestCase, Client, RedisServer, Server, redis_command,
                     session_path, wait_until)
from test_metrics import scrape, value

LOGOUT_VISIBLE_S = 0.050


class LoginCacheTest(ApiTestCase):

    @classmethod
    def setUpClass(cls):
        cls.redis = RedisServer()
        cls.a = Server(redis=cls.redis, args=["--login-idle", "3"])
        cls.b = Server(redis=cls.redis, prefix=cls.a.prefix, args=["--login-idle", "3"])
        cls.addClassCleanup(cls.redis.destroy)
        cls.addClassCleanup(cls.b.stop)
        cls.addClassCleanup(cls.a.stop)

    def setUp(self):
        self.wait_subscribed(self.a)
        self.wait_subscribed(self.b)

    def wait_subscribed(self, server):
        wait_until(lambda: value(scrape(Client(server)), "usd_login_cache_subscribed") == 1,
                   timeout=5, what="login cache subscribed on port %d" % server.port)

    def session_on_a(self, user="admin"):
        """(token on a, session id) of a new session of user, created through a."""
        ca = Client(self.a)
        ca.login(user, USERS[user][0])
        _, item = ca.make_library_item()
        r = ca.create_session(item)
        self.assertStatus(r, 201, "create")
        return ca.token, r.json

    def hits(self, server):
        return value(scrape(Client(server)), "usd_login_cache_hits_total")

    def get_on(self, server, token, sid):
        return Client(server, token=token).get(session_path(sid))

    def test_logout_on_one_instance_is_refused_by_another_within_50ms(self):
        token, sid = self.session_on_a()
        before = self.hits(self.b)
        for _ in range(3):
            self.assertStatus(self.get_on(self.b, token, sid), 200, "GET on b")
        self.assertGreaterEqual(self.hits(self.b) - before, 2, "b did not serve from its cache")
        r = Client(self.a, token=token).delete("/api/session")
        self.assertStatus(r, 204, "logout on a")
        t0 = time.monotonic()
        while True:
            r = self.get_on(self.b, token, sid)
            if r.status == 401:
                break
            self.assertStatus(r, 200, "GET on b before the logout is seen")
            self.assertLess(time.monotonic() - t0, LOGOUT_VISIBLE_S,
                            "b still accepts the token %.0f ms after the logout" %
                            ((time.monotonic() - t0) * 1000))
        self.assertLess(time.monotonic() - t0, LOGOUT_VISIBLE_S)
        self.assertStatus(self.get_on(self.a, token, sid), 401, "GET on a after its logout")
        # A change (its script trusts the instance's cache for who calls) is refused too.
        r = Client(self.b, token=token).post(session_path(sid, "cancel"))
        self.assertStatus(r, 401, "cancel on b after the logout")

    def test_logout_while_subscription_down_is_refused(self):
        token, sid = self.session_on_a()
        self.assertStatus(self.get_on(self.b, token, sid), 200, "GET on b (fills its cache)")
        self.assertStatus(self.get_on(self.b, token, sid), 200, "GET on b (from its cache)")
        # Every instance's subscription goes; the logout's PUBLISH then reaches no one.
        redis_command(self.redis.port, "CLIENT", "KILL", "TYPE", "pubsub")
        self.assertStatus(Client(self.a, token=token).delete("/api/session"), 204, "logout")
        self.assertStatus(self.get_on(self.b, token, sid), 401, "GET on b after the logout")
        self.wait_subscribed(self.b)  # it comes back by itself
        self.assertStatus(self.get_on(self.b, token, sid), 401, "GET on b, resubscribed")

    def test_owner_rule_on_the_cached_path(self):
        token, sid = self.session_on_a()
        other = Client(self.b)
        other.login("other", USERS["other"][0])
        reader = Client(self.b)
        reader.login("operator", USERS["operator"][0])
        for _ in range(2):  # the first fills the cache, the second is served from it
            r = other.get(session_path(sid))
            self.assertStatus(r, 404, "another user's GET")
            self.assertStatus(reader.get(session_path(sid)), 200, "an operator's GET")
            self.assertStatus(self.get_on(self.b, token, sid), 200, "the owner's GET")
        self.assertStatus(self.get_on(self.b, "not-a-token", sid), 401, "unknown token")

    def test_idle_login_is_refused_by_an_instance_that_cached_it(self):
        token, sid = self.session_on_a()
        self.assertStatus(self.get_on(self.b, token, sid), 200, "GET on b")
        time.sleep(3.0 + 1.2)  # --login-idle 3, plus the renewal step
        self.assertStatus(self.get_on(self.b, token, sid), 401, "GET on b after the idle time")

    def test_changes_from_the_cache_keep_owner_and_privileges(self):
        token, sid = self.session_on_a()
        other = Client(self.b)
        other.login("other", USERS["other"][0])
        reader = Client(self.b)
        reader.login("reader", USERS["reader"][0])  # System.Read only
        for _ in range(2):  # the second of each is authorized from b's cache
            self.assertStatus(other.post(session_path(sid, "keep-alive")), 404,
                              "another user's keep-alive")
            r = reader.post("/api/content/library/item/update-session",
                            {"library_item_id": sid.rpartition(":")[0]})
            self.assertStatus(r, 403, "create without ContentLibrary.UpdateSession")
        self.assertStatus(Client(self.b, token=token).post(session_path(sid, "cancel")), 204,
                          "the owner's cancel through b")

    def test_login_deleted_by_hand(self):
        # an operator revokes a login with DEL: changes are refused at once, cached reads
        # within about a second (the next renewal finds it gone)
        token, sid = self.session_on_a()
        for _ in range(2):
            self.assertStatus(self.get_on(self.b, token, sid), 200, "GET on b")
        key = self.a.prefix + "login:" + hashlib.sha256(token.encode()).hexdigest()
        self.assertEqual(redis_command(self.redis.port, "DEL", key), 1)
        r = Client(self.b, token=token).post(session_path(sid, "keep-alive"))
        self.assertStatus(r, 401, "keep-alive on b after the DEL")
        wait_until(lambda: self.get_on(self.b, token, sid).status == 401, timeout=2.5,
                   what="GET on b refused after the DEL")

    def test_changes_alone_fill_the_cache(self):
        # no GET: a change whose login was not cached fills the cache in the background
        c = Client(self.b)
        c.login("admin", USERS["admin"][0])
        before = self.hits(self.b)
        lib = c.make_library()
        for _ in range(3):
            self.assertStatus(c.create_session(c.make_item(lib)), 201, "create")
        self.assertGreaterEqual(self.hits(self.b) - before, 4,
                                "creates were not served from the cache")

    def test_use_on_one_instance_keeps_the_login_alive_for_another(self):
        token, sid = self.session_on_a()
        self.assertStatus(self.get_on(self.a, token, sid), 200, "GET on a")
        deadline = time.monotonic() + 4.5  # longer than the idle timeout, used on b only
        while time.monotonic() < deadline:
            self.assertStatus(self.get_on(self.b, token, sid), 200, "GET on b")
            time.sleep(0.25)
        self.assertStatus(self.get_on(self.a, token, sid), 200, "GET on a, kept alive by b")


if __name__ == "__main__":
    unittest.main()
