"""Redis Sentinel and --redis-wait-replicas (store/sentinel.c, store/redis.c), on private Redis
nodes (tests/system/sentinel_cluster.py): a primary, its replica, a replica of that replica,
three sentinels.

  * kill -9 of the primary during a loop of creates (an item, then an update session on it,
    distinct every time) on two instances with --redis sentinel://...: both serve again,
    without a restart, within 10 s of the kill (the failover time, kill -> first 201 again,
    is printed). With --redis-wait-replicas 1 every create answered 201 is still there after
    the failover; without it the number lost is printed (no assertion on zero).
  * a forced failover (SENTINEL FAILOVER): the old primary stays up, and a primary, for 8 s
    or more after the switch (until Sentinel demotes it), so only following +switch-master
    moves the instances in time; with WAIT nothing answered 201 is lost.
  * WAIT shortfall: 503 saying the change may have been applied; reads unaffected.
  * single-address mode: an instance pointed at a replica refuses to serve (503, a clear log
    line) until it is a primary; a primary demoted under a running instance: READONLY -> 503,
    never a write to the replica, served again once it is a primary.

Why the chained replica: WAIT 1 counts the primary's own replicas only, and Sentinel can
promote only those; with exactly one, "acknowledged by 1 replica" means "on the replica that
will be promoted" (with two direct replicas, the one that acknowledged may not be the one
promoted, and a write can be lost: see the README). Once promoted, that replica already has a
replica of its own (the chained one), so WAIT 1 is met again at once after the failover."""

import os
import re
import time

from harness import (ApiTestCase, RedisServer, Server, UPDATE_SESSION_PATH, USERS, basic_auth,
                     uniq)
from sentinel_cluster import ITEM_PATH, CreateLoop, SentinelCluster

REDIS_TIMEOUT_MS = 1000
VERBOSE = bool(os.environ.get("USD_SENTINEL_VERBOSE"))
SERVE_AGAIN_S = 10.0


class SentinelTestCase(ApiTestCase):

    def start_cluster(self):
        self.cluster = SentinelCluster(replicas=1, chained=1)
        self.addCleanup(self.cluster.destroy)

    def start_servers(self, n, args=()):
        servers = []
        for _ in range(n):
            s = Server(redis=self.cluster.redis[0],
                       args=["--redis", self.cluster.url,
                             "--redis-timeout-ms", str(REDIS_TIMEOUT_MS)] + list(args),
                       prefix=servers[0].prefix if servers else None)
            self.addCleanup(s.stop)
            servers.append(s)
        return servers

    @staticmethod
    def whole_log(server):
        with open(server.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def assertLogged(self, server, text, timeout=5.0):
        """text appears in server's log within timeout (a sentinel that is not the failover's
        leader learns of the switch from the others' hello messages, every 2 s)."""
        deadline = time.monotonic() + timeout
        while text not in self.whole_log(server):
            if time.monotonic() > deadline:
                self.fail("%r not logged within %.0f s:\n%s" % (text, timeout,
                                                               self.whole_log(server)))
            time.sleep(0.1)

    def run_loops(self, servers, fault, wait_replicas, what="kill"):
        """Runs a CreateLoop per server, applies fault() after ~1 s (it returns when the
        old primary stopped being one: killed, or demoted), waits until every instance answered
        201 again (at most SERVE_AGAIN_S after that), runs 1 s more, then checks every 201
        against the data. Returns (failover seconds per instance, items lost, sessions lost,
        loops)."""
        clients = [s.client("admin") for s in servers]
        library = clients[0].make_library()
        # Logins and the library on every replica before anything fails.
        self.cluster.wait_synced()
        loops = [CreateLoop(s, c, library) for s, c in zip(servers, clients)]
        for lp in loops:
            lp.thread.start()
        try:
            time.sleep(1.0)
            for lp in loops:
                self.assertGreater(len(lp.created("session")), 0,
                                   "no create succeeded before the fault: %r\n%s"
                                   % (lp.statuses(), lp.server.log()))
            t_fault = fault()
            deadline = t_fault + SERVE_AGAIN_S
            while time.monotonic() < deadline:
                if all(lp.first_201_after(t_fault) for lp in loops):
                    break
                time.sleep(0.05)
            times = []
            for i, lp in enumerate(loops):
                t = lp.first_201_after(t_fault)
                self.assertIsNotNone(t, "instance %d not serving creates %.0f s after the "
                                     "fault: %s\n%s" % (i, SERVE_AGAIN_S, lp.timeline(t_fault),
                                                        lp.server.log()))
                times.append(t - t_fault)
            time.sleep(1.0)
        finally:
            for lp in loops:
                lp.stop.set()
            for lp in loops:
                lp.thread.join(30)
        if VERBOSE:
            for lp in loops:
                print("\n  timeline: " + lp.timeline(t_fault), flush=True)
        for s in servers:
            self.assertTrue(s.alive(), "instance died:\n%s" % s.log())

        # Every 201, read back through a fresh login (the loop's could be lost without WAIT).
        checker = servers[0].client("admin")
        lost_items = [i for lp in loops for i in lp.created("item")
                      if checker.get(ITEM_PATH + "/" + i).status != 200]
        lost_sessions = []
        for lp in loops:
            for sid in lp.created("session"):
                r = checker.get(UPDATE_SESSION_PATH + "/" + sid)
                if r.status != 200:
                    lost_sessions.append(sid)
                else:
                    self.assertEqual(r.json.get("state"), "ACTIVE", r.json)
        n_items = sum(len(lp.created("item")) for lp in loops)
        n_sessions = sum(len(lp.created("session")) for lp in loops)
        print("\n  [sentinel] wait-replicas=%d: failover time (%s -> first 201 again) %s; "
              "201s: %d items, %d sessions; lost after failover: %d items, %d sessions; "
              "answers: %s" % (wait_replicas, what, ", ".join("%.2f s" % t for t in times), n_items,
                               n_sessions, len(lost_items), len(lost_sessions),
                               [lp.statuses() for lp in loops]), flush=True)

        return times, lost_items, lost_sessions, loops


class SentinelFailoverTest(SentinelTestCase):

    def kill_primary(self):
        self.old_primary = self.cluster.primary()
        self.old_primary.kill9()
        return time.monotonic()

    def failover_after_kill(self, wait_replicas):
        self.start_cluster()
        servers = self.start_servers(2, ["--redis-wait-replicas", str(wait_replicas)])
        times, lost_items, lost_sessions, loops = self.run_loops(servers, self.kill_primary,
                                                                 wait_replicas)
        new_primary = self.cluster.primary()
        self.assertNotEqual(new_primary.port, self.old_primary.port, "no failover happened")
        for s in servers:  # the subscription saw the switch (perhaps after a re-resolve)
            self.assertLogged(s, "+switch-master: usdmaster is now at 127.0.0.1:%d"
                              % new_primary.port)
        return lost_items, lost_sessions

    def test_kill_primary_without_wait(self):
        """Served again within 10 s; what was lost is reported, not asserted."""
        self.failover_after_kill(0)

    def test_kill_primary_with_wait_loses_nothing_acknowledged(self):
        lost_items, lost_sessions = self.failover_after_kill(1)
        self.assertEqual(lost_items, [], "items answered 201 but gone after the failover")
        self.assertEqual(lost_sessions, [], "sessions answered 201 but gone after the failover")

    def test_graceful_failover_follows_switch(self):
        """SENTINEL FAILOVER demotes a primary that stays up: the instances must move by
        themselves (+switch-master, or READONLY on a write), and with WAIT lose nothing."""
        self.start_cluster()
        servers = self.start_servers(2, ["--redis-wait-replicas", "1"])
        old = self.cluster.primary()

        def failover():
            """Returns when the sentinels name the new primary. Sentinel demotes the old one
            only 8 s or more later: until then it still accepts writes, and only following
            +switch-master keeps the instances off it."""
            self.cluster.sentinels[0].command("SENTINEL", "FAILOVER", "usdmaster")
            deadline = time.monotonic() + SERVE_AGAIN_S
            while self.cluster.primary().port == old.port:
                if time.monotonic() > deadline:
                    self.fail("no switch %.0f s after SENTINEL FAILOVER" % SERVE_AGAIN_S)
                time.sleep(0.02)
            return time.monotonic()

        _, lost_items, lost_sessions, _ = self.run_loops(servers, failover, 1,
                                                         "switch (SENTINEL FAILOVER)")
        new = self.cluster.primary()
        self.assertNotEqual(new.port, old.port, "no failover happened")
        self.assertEqual(lost_items, [])
        self.assertEqual(lost_sessions, [])
        for s in servers:
            self.assertLogged(s, "+switch-master: usdmaster is now at 127.0.0.1:%d" % new.port)


class WaitReplicasTest(SentinelTestCase):
    """--redis-wait-replicas 1 with the only replica frozen (SIGSTOP): a change is made on the
    primary but cannot be confirmed: 503 with the documented message; reads are not affected;
    served again once the replica acknowledges."""

    def test_shortfall_is_503_change_possibly_applied(self):
        self.cluster = SentinelCluster(replicas=1)
        self.addCleanup(self.cluster.destroy)
        srv = self.start_servers(1, ["--redis-wait-replicas", "1"])[0]
        client = srv.client("admin")
        library = client.make_library()
        self.assertStatus(client.get("/api/content/library/" + library), 200, "read")
        replica = self.cluster.redis[1]
        replica.freeze()  # alive for the sentinels' TCP, but acknowledges nothing
        try:
            t0 = time.monotonic()
            name = uniq("wait")
            r = client.post(ITEM_PATH, {"library_id": library, "name": name, "type": ""})
            elapsed = time.monotonic() - t0
            self.assertApiError(r, 503, "SERVICE_UNAVAILABLE",
                                mentions=("may have been applied", "1 Redis replica"))
            self.assertLessEqual(elapsed, REDIS_TIMEOUT_MS / 1000.0 + 1.0)
            # The change was made on the primary (documented: "may have been applied").
            r = client.get(ITEM_PATH + "?library_id=" + library)
            self.assertStatus(r, 200, "list")
            self.assertEqual(len(r.json), 1, r.json)
            # A read needs no WAIT.
            self.assertStatus(client.get("/api/content/library/" + library), 200, "read")
            self.assertIn("WAIT: 0 of 1 replicas acknowledged", self.whole_log(srv))
        finally:
            replica.thaw()
        self.cluster.wait_linked([replica], self.cluster.redis[0])
        r = client.post(ITEM_PATH, {"library_id": library, "name": uniq("wait"), "type": ""})
        self.assertStatus(r, 201, "create once the replica acknowledges again")


class ReplicaRefusedTest(ApiTestCase):
    """Single-address mode (--redis HOST:PORT) never serves from a replica."""

    def setUp(self):
        self.primary = RedisServer()
        self.addCleanup(self.primary.destroy)
        self.replica = RedisServer()
        self.addCleanup(self.replica.destroy)
        self.replica.command("REPLICAOF", "127.0.0.1", str(self.primary.port))
        SentinelCluster.wait_linked([self.replica], self.primary)

    def expect_503(self, client, what, limit=10.0):
        deadline = time.monotonic() + limit
        while True:
            r = client.get(UPDATE_SESSION_PATH)
            if r.status == 503:
                return r
            if time.monotonic() > deadline:
                self.fail("%s: want 503, got %d %r" % (what, r.status, r.raw[:300]))
            time.sleep(0.1)

    def test_address_of_a_replica_is_refused_until_promoted(self):
        srv = Server(redis=self.replica, args=["--redis-timeout-ms", str(REDIS_TIMEOUT_MS)])
        self.addCleanup(srv.stop)
        r = srv.client().request("POST", "/api/session", auth=False,
                                 headers={"Authorization": basic_auth("admin",
                                                                      USERS["admin"][0])})
        self.assertApiError(r, 503, "SERVICE_UNAVAILABLE", what="login against a replica")
        log = SentinelTestCase.whole_log(srv)
        self.assertRegex(log, r"redis 127\.0\.0\.1:%d is a replica \(ROLE\), not a primary"
                         % self.replica.port)
        self.assertEqual(len(re.findall("is a replica", log)), 1, "logged once, not per retry")
        self.assertEqual(self.primary.keys(srv.prefix), set(), "nothing written anywhere")
        self.replica.command("REPLICAOF", "NO", "ONE")
        deadline = time.monotonic() + 5.0
        while True:  # the reconnect backoff is at most 2 s
            try:
                client = srv.client("admin")
                break
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        client.make_library()

    def test_demoted_primary_meets_readonly(self):
        srv = Server(redis=self.primary, args=["--redis-timeout-ms", str(REDIS_TIMEOUT_MS)])
        self.addCleanup(srv.stop)
        client = srv.client("admin")
        library = client.make_library()
        SentinelCluster.wait_linked([self.replica], self.primary)
        # Swap roles under the running instance: its link to the old primary stays open.
        self.replica.command("REPLICAOF", "NO", "ONE")
        self.primary.command("REPLICAOF", "127.0.0.1", str(self.replica.port))
        SentinelCluster.wait_linked([self.primary], self.replica)
        r = client.post(ITEM_PATH, {"library_id": library, "name": uniq("ro"), "type": ""})
        self.assertApiError(r, 503, "SERVICE_UNAVAILABLE", what="create on a demoted primary")
        self.expect_503(client, "a read after READONLY (reconnect refused by ROLE)")
        log = SentinelTestCase.whole_log(srv)
        self.assertIn("answered READONLY", log)
        self.assertRegex(log, r"redis 127\.0\.0\.1:%d is a replica" % self.primary.port)
        # Promoted back: served again, without a restart.
        self.primary.command("REPLICAOF", "NO", "ONE")
        deadline = time.monotonic() + 5.0
        while True:
            r = client.post(ITEM_PATH, {"library_id": library, "name": uniq("ro"), "type": ""})
            if r.status == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertStatus(r, 201, "create once promoted again")


if __name__ == "__main__":
    import unittest
    unittest.main()
