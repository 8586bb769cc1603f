"""Regression tests of store defects:
  * a client_token is a UUID, so it is case-insensitive: "ABCD..." and "abcd..." are one token
    (one Redis record, the same session back);
  * a client_token whose session record is gone (the session finished and its --retention
    passed; the token lives --token-retention) names nothing: a replay creates a new session
    (201 with a live id), instead of answering with the id of a deleted session;
  * no per-item fence counter: it was written at every create and never read;
  * Redis must run with maxmemory-policy noeviction: with another policy the server refuses
    the link (503 SERVICE_UNAVAILABLE, one clear log line) and serves once an operator fixes
    it with CONFIG SET, without a restart; a Redis that refuses CONFIG is used, with a warning.
"""

import time
import uuid

from harness import (ApiTestCase, CLS_MSG_PREFIX, RedisServer, Server, ServerTestCase, USERS,
                     basic_auth, session_path)

POLL_S = 0.1


def record_key(prefix, sid):
    """The Redis key of session sid's record: P {<item>}:s:<uuid>."""
    item, _, uid = sid.rpartition(":")
    return "%s{%s}:s:%s" % (prefix, item, uid)


def end_retention(redis, prefix, sid):
    """What the end of a finished session's --retention does, now: the record's TTL runs out and
    its retire entries (P retire "<user>\n<sid>", P user:<user>:retire) fall due together (the
    sweeper then drops the id from the user's list). Returns 1 when the record was there."""
    for member in redis.command("ZRANGE", prefix + "retire", "0", "-1"):
        owner, _, msid = member.decode().partition("\n")
        if msid == sid:
            redis.command("ZADD", prefix + "retire", "XX", "1", member)
            redis.command("ZADD", prefix + "user:" + owner + ":retire", "XX", "1", sid)
    return redis.command("DEL", record_key(prefix, sid))


class ClientTokenCaseTest(ServerTestCase):

    def test_token_is_case_insensitive(self):
        _, item = self.admin.make_library_item()
        _, other = self.admin.make_library_item()
        token = str(uuid.uuid4()).upper()
        first = self.admin.create_session(item, client_token=token)
        self.assertStatus(first, 201, "create with an upper-case token")
        lower = self.admin.create_session(item, client_token=token.lower())
        self.assertStatus(lower, 201, "replay in lower case")
        self.assertEqual(lower.json, first.json, "lower case is the same token")
        mixed = token[:8].lower() + token[8:]
        hdr = self.admin.create_session(item, headers={"Client-Token": mixed})
        self.assertStatus(hdr, 201, "replay in mixed case by header")
        self.assertEqual(hdr.json, first.json, "mixed case is the same token")
        self.assertEqual(self.admin.list_sessions(item).json, [first.json])
        # Another item with the token in another case: the same token, so a conflict.
        r = self.admin.create_session(other, client_token=token.lower())
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["client_token"],
                            id_prefix=CLS_MSG_PREFIX)
        # One record, under the lower-case form.
        keys = self.server.keys()
        p = self.server.prefix
        self.assertIn(p + "ctok:" + token.lower(), keys)
        self.assertNotIn(p + "ctok:" + token, keys)
        self.assertNotIn(p + "ctok:" + mixed, keys)

    def test_token_case_does_not_change_the_wire_value(self):
        # The message of a conflict names the token as the caller sent it.
        _, item = self.admin.make_library_item()
        _, other = self.admin.make_library_item()
        token = str(uuid.uuid4()).upper()
        self.assertStatus(self.admin.create_session(item, client_token=token), 201, "create")
        r = self.admin.create_session(other, client_token=token)
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=[token])


class NoFenceTest(ServerTestCase):

    def test_create_writes_no_fence(self):
        _, item = self.admin.make_library_item()
        for i in range(2):
            r = self.admin.create_session(item)
            self.assertStatus(r, 201, "create %d" % i)
            self.assertStatus(self.admin.post(session_path(r.json, "cancel")), 204, "cancel")
            rec = self.server.redis.command("HGETALL", record_key(self.server.prefix, r.json))
            fields = {rec[j].decode() for j in range(0, len(rec), 2)}
            self.assertIn("state", fields)
            self.assertNotIn("fence", fields)
        p = self.server.prefix
        self.assertNotIn("%s{%s}:fence" % (p, item), self.server.keys())
        self.assertEqual([k for k in self.server.keys() if k.endswith(":fence")], [])


class StaleTokenTest(ServerTestCase):
    """The session's retention is ended by hand (what the retention's PEXPIRE does)."""

    def test_replay_after_record_is_gone_creates_a_new_session(self):
        _, item = self.admin.make_library_item()
        token = str(uuid.uuid4())
        first = self.admin.create_session(item, client_token=token)
        self.assertStatus(first, 201, "create")
        sid1 = first.json
        self.assertStatus(self.admin.post(session_path(sid1, "cancel")), 204, "cancel")
        # A finished session that is still kept: the replay still names it.
        again = self.admin.create_session(item, client_token=token)
        self.assertStatus(again, 201, "replay while the record is kept")
        self.assertEqual(again.json, sid1)

        redis, p = self.server.redis, self.server.prefix
        self.assertEqual(end_retention(redis, p, sid1), 1)
        self.assertStatus(self.admin.get(session_path(sid1)), 404, "get of the deleted session")

        fresh = self.admin.create_session(item, client_token=token)
        self.assertStatus(fresh, 201, "replay after the record is gone")
        sid2 = fresh.json
        self.assertNotEqual(sid2, sid1, "a dead session id was answered")
        s = self.get_session(self.admin, sid2, "get of the new session")
        self.assertEqual(s.get("state"), "ACTIVE", s)
        self.assertEqual(s.get("library_item_id"), item, s)
        # The token now names the new session, for as long as the token lives.
        self.assertEqual(redis.command("HGET", p + "ctok:" + token, "sid").decode(), sid2)
        self.assertGreater(redis.command("PTTL", p + "ctok:" + token), 0)
        replay = self.admin.create_session(item, client_token=token)
        self.assertStatus(replay, 201, "replay of the renewed token")
        self.assertEqual(replay.json, sid2)
        self.assertEqual(self.admin.list_sessions(item).json, [sid2])

    def test_stale_token_of_another_item_is_free_again(self):
        # The token's old session (on another item) is gone: the token is not "used" any more.
        _, item = self.admin.make_library_item()
        _, other = self.admin.make_library_item()
        token = str(uuid.uuid4())
        first = self.admin.create_session(item, client_token=token)
        self.assertStatus(first, 201, "create")
        self.assertStatus(self.admin.post(session_path(first.json, "cancel")), 204, "cancel")
        end_retention(self.server.redis, self.server.prefix, first.json)
        r = self.admin.create_session(other, client_token=token)
        self.assertStatus(r, 201, "create on another item with the stale token")
        self.assertTrue(r.json.startswith(other + ":"), r.json)
        self.assertEqual(self.get_session(self.admin, r.json).get("state"), "ACTIVE")


class StaleTokenRetentionTest(ServerTestCase):
    """The same, with the real retention: the record expires 1 s after the session ended; the
    token lives on (default --token-retention is a day)."""

    server_args = ("--retention", "1")

    def test_replay_after_retention_creates_a_new_session(self):
        _, item = self.admin.make_library_item()
        token = str(uuid.uuid4())
        first = self.admin.create_session(item, client_token=token)
        self.assertStatus(first, 201, "create")
        sid1 = first.json
        self.assertStatus(self.admin.post(session_path(sid1, "cancel")), 204, "cancel")
        deadline = time.monotonic() + 5.0
        while self.admin.get(session_path(sid1)).status != 404:
            if time.monotonic() > deadline:
                self.fail("session %s not deleted 5 s after it ended (--retention 1)" % sid1)
            time.sleep(POLL_S)
        fresh = self.admin.create_session(item, client_token=token)
        self.assertStatus(fresh, 201, "replay after retention")
        self.assertNotEqual(fresh.json, sid1, "a dead session id was answered")
        s = self.get_session(self.admin, fresh.json, "get of the new session")
        self.assertEqual(s.get("state"), "ACTIVE", s)


def login_request(client):
    return client.request("POST", "/api/session", auth=False,
                          headers={"Authorization": basic_auth("admin", USERS["admin"][0])})


class MaxmemoryPolicyTest(ApiTestCase):
    """On a private Redis: the policy is changed at runtime, as an operator would."""

    REDIS_TIMEOUT_MS = 500
    RECOVER_S = 8.0

    def setUp(self):
        self.redis = RedisServer()
        self.addCleanup(self.redis.destroy)

    def start_server(self):
        server = Server(redis=self.redis,
                        args=["--redis-timeout-ms", str(self.REDIS_TIMEOUT_MS)])
        self.addCleanup(server.stop)
        return server

    def log_text(self, server):
        with open(server.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, server, needle, limit_s=5.0):
        deadline = time.monotonic() + limit_s
        while needle not in self.log_text(server):
            if time.monotonic() > deadline:
                self.fail("log never said %r:\n%s" % (needle, server.log()))
            time.sleep(POLL_S)

    def test_eviction_policy_is_refused_until_fixed(self):
        self.redis.command("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        server = self.start_server()
        client = server.client()
        for what in ("login", "login again"):
            t0 = time.monotonic()
            r = login_request(client)
            self.assertApiError(r, 503, "SERVICE_UNAVAILABLE", what=what)
            self.assertLess(time.monotonic() - t0, self.REDIS_TIMEOUT_MS / 1000.0 + 1.0)
        line = "maxmemory-policy is allkeys-lru; it must be noeviction"
        self.wait_log(server, line)
        # Retries go on with backoff, but the reason is logged once, not at every retry.
        time.sleep(2.5)
        self.assertEqual(self.log_text(server).count(line), 1, server.log())
        self.assertTrue(server.alive(), "server died on a Redis it refuses")

        # The operator fixes the policy at runtime: served again without a restart.
        self.redis.command("CONFIG", "SET", "maxmemory-policy", "noeviction")
        deadline = time.monotonic() + self.RECOVER_S
        while True:
            r = login_request(client)
            if r.status == 201:
                break
            self.assertApiError(r, 503, "SERVICE_UNAVAILABLE", what="login while recovering")
            if time.monotonic() > deadline:
                self.fail("not served %.0f s after the policy was fixed:\n%s"
                          % (self.RECOVER_S, server.log()))
            time.sleep(0.2)
        client.token = r.json
        _, item = client.make_library_item()
        self.assertStatus(client.create_session(item), 201, "create after the fix")

    def test_other_eviction_policies_are_refused(self):
        self.redis.command("CONFIG", "SET", "maxmemory-policy", "volatile-ttl")
        server = self.start_server()
        self.assertApiError(login_request(server.client()), 503, "SERVICE_UNAVAILABLE")
        self.wait_log(server, "maxmemory-policy is volatile-ttl; it must be noeviction")

    def test_config_refused_is_a_warning(self):
        # CONFIG forbidden (as with a renamed CONFIG command): the policy cannot be checked;
        # the server warns and serves.
        self.redis.command("ACL", "SETUSER", "default", "-config")
        server = self.start_server()
        client = server.client("admin")
        _, item = client.make_library_item()
        self.assertStatus(client.create_session(item), 201, "create")
        self.wait_log(server, "cannot check Redis maxmemory-policy")


if __name__ == "__main__":
    import unittest
    unittest.main()
