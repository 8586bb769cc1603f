"""Health (issue 11): /livez and /readyz without login on the main listener, or only on
--admin-listen when it is given; /readyz 503 while Redis is stopped (or frozen, with no traffic
at all) and 200 within a second after it is back; SIGTERM: /readyz 503 at once, requests still
served for --drain-ms, then the usual stop (exit 0); SIGINT, or a second SIGTERM, stop at once."""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (ApiTestCase, RedisServer, Server, ServerTestCase,  # noqa: E402
                     UPDATE_SESSION_PATH, Client, free_port, port_open)

BACK_WITHIN_S = 1.0     # /readyz 200 after Redis is back (the requirement)
POLL_S = 0.02


def get(port, path):
    return Client(port).get(path, auth=False)


class HealthOnMainListenerTest(ServerTestCase):

    def test_livez_readyz_without_login(self):
        for path in ("/livez", "/readyz"):
            r = get(self.server.port, path)
            self.assertStatus(r, 200, path)
            self.assertEqual(r.raw, b"ok\n")
            self.assertTrue(r.headers.get("Content-Type", "").startswith("text/plain"))
            self.assertEqual(r.headers.get("Cache-Control"), "no-store")
        self.assertStatus(get(self.server.port, "/metrics"), 200, "/metrics")
        self.assertStatus(Client(self.server.port).request("HEAD", "/readyz", auth=False), 200,
                          "HEAD /readyz")
        r = Client(self.server.port).post("/livez", auth=False)
        self.assertStatus(r, 405, "POST /livez")
        # a query string does not change the route; other paths stay the API's
        self.assertStatus(get(self.server.port, "/readyz?verbose=1"), 200, "/readyz?verbose")
        r = get(self.server.port, "/readyzz")
        self.assertApiError(r, 404, "OPERATION_NOT_FOUND")


class AdminListenerTest(ServerTestCase):

    admin_port = free_port()
    server_args = ("--admin-listen", "127.0.0.1:%d" % admin_port)

    def test_only_on_the_admin_listener(self):
        for path in ("/livez", "/readyz", "/metrics"):
            self.assertStatus(get(self.admin_port, path), 200, "admin " + path)
            r = get(self.server.port, path)
            self.assertApiError(r, 404, "OPERATION_NOT_FOUND", what="main " + path)
        # the admin listener serves nothing else
        r = get(self.admin_port, UPDATE_SESSION_PATH)
        self.assertStatus(r, 404, "API path on the admin listener")
        self.assertEqual(r.raw, b"not found\n")
        # and the main listener still serves the API
        self.assertStatus(self.admin.list_sessions(), 200, "API on the main listener")

    def test_admin_listen_must_differ(self):
        p = free_port()
        s = Server(args=["--listen", "127.0.0.1:%d" % p, "--admin-listen", "127.0.0.1:%d" % p],
                   start=False)
        out = subprocess.run(s.command_line(), capture_output=True, timeout=30)
        s.cleanup()
        self.assertEqual(out.returncode, 2, out.stderr[-500:])
        self.assertIn(b"--admin-listen must differ", out.stderr)


class ReadyFollowsRedisTest(ApiTestCase):
    """A private Redis, stopped and frozen under one server."""

    def setUp(self):
        self.redis = RedisServer()
        self.addCleanup(self.redis.destroy)
        self.server = Server(redis=self.redis, args=["--redis-timeout-ms", "500"])
        self.addCleanup(self.stop_server)
        self.wait_ready(200, 5.0, "at start")

    def stop_server(self):
        self.redis.thaw()
        self.server.stop()

    def wait_ready(self, want, limit, what):
        """Polls /readyz until it answers `want`; returns the seconds that took."""
        t0 = time.monotonic()
        while True:
            r = get(self.server.port, "/readyz")
            took = time.monotonic() - t0
            if r.status == want:
                return took
            self.assertIn(r.status, (200, 503), r.raw)
            if took > limit:
                self.fail("/readyz %s: still %d %r after %.2f s (want %d)"
                          % (what, r.status, r.raw, took, want))
            time.sleep(POLL_S)

    def test_stopped_then_back(self):
        times = []
        for rnd in range(3):
            self.redis.stop()
            self.wait_ready(503, 2.0, "Redis stopped")
            r = get(self.server.port, "/readyz")
            self.assertEqual((r.status, r.raw), (503, b"not ready: redis link down\n"))
            self.assertStatus(get(self.server.port, "/livez"), 200, "livez while Redis is down")
            # it stays 503 while Redis is away (and the link's backoff grows meanwhile)
            end = time.monotonic() + 2.5 + rnd
            while time.monotonic() < end:
                self.assertEqual(get(self.server.port, "/readyz").status, 503)
                time.sleep(0.1)
            self.redis.start()  # returns once Redis answers PING
            times.append(self.wait_ready(200, 5.0, "Redis back"))
        sys.stderr.write("\n  [readyz] 200 again %s s after Redis answered PING\n"
                         % ", ".join("%.3f" % t for t in times))
        for t in times:
            self.assertLessEqual(t, BACK_WITHIN_S, "readyz took %.3f s to come back" % t)
        self.assertStatus(self.server.client("admin").list_sessions(), 200, "served again")

    def test_frozen_without_traffic(self):
        """No request at all: the sessions_active probe notices the frozen Redis."""
        self.redis.freeze()
        time.sleep(0.2)
        took = self.wait_ready(503, 0.5 + 0.5 + 1.5, "Redis frozen")
        sys.stderr.write("\n  [readyz] 503 %.2f s after Redis was frozen\n" % took)
        self.redis.thaw()
        took = self.wait_ready(200, BACK_WITHIN_S + 0.5, "Redis thawed")
        self.assertLessEqual(took, BACK_WITHIN_S)


class DrainTest(ApiTestCase):

    def start(self, drain_ms):
        s = Server(args=["--drain-ms", str(drain_ms)])
        self.addCleanup(s.cleanup)
        self.addCleanup(s.kill9)
        c = s.client("admin")
        self.assertStatus(get(s.port, "/readyz"), 200, "ready before SIGTERM")
        return s, c

    def test_sigterm_drains_then_stops(self):
        drain_s = 1.5
        s, c = self.start(int(drain_s * 1000))
        _, item = c.make_library_item()
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        # the signal is handled on the server's next loop turn: at once, but not before this
        # request was perhaps read
        while True:
            r = get(s.port, "/readyz")
            if r.status == 503 or time.monotonic() - t0 > 0.5:
                break
            time.sleep(0.01)
        turned = time.monotonic() - t0
        self.assertEqual((r.status, r.raw), (503, b"not ready: draining\n"))
        # everything else is served as before, on new connections too, while draining
        served = 0
        while time.monotonic() - t0 < drain_s - 0.4:
            self.assertStatus(get(s.port, "/livez"), 200, "livez while draining")
            self.assertStatus(c.list_sessions(), 200, "list while draining")
            self.assertEqual(get(s.port, "/readyz").status, 503)
            served += 1
            time.sleep(0.05)
        self.assertStatus(c.create_session(item), 201, "create while draining")
        self.assertGreater(served, 3)
        rc = s.proc.wait(drain_s + 10)
        took = time.monotonic() - t0
        sys.stderr.write("\n  [drain] --drain-ms %d: /readyz 503 after %.3f s, exit %d after "
                         "%.2f s, %d rounds served while draining\n"
                         % (drain_s * 1000, turned, rc, took, served))
        self.assertEqual(rc, 0, s.log())
        self.assertGreaterEqual(took, drain_s)
        self.assertFalse(port_open(s.port))
        self.assertIn("draining", s.log())

    def test_keep_alive_ends_while_draining(self):
        """While draining, every answer on --listen says "Connection: close" and the connection
        closes after it, so a keep-alive client (or a balancer's pooled connection) moves to a
        new connection (another instance behind a balancer) at its next request, instead of
        keeping one the stop at the end of the drain closes under it."""
        s, c = self.start(1500)
        kept = Client(s.port, token=c.token, keep_alive=60.0)
        r = kept.list_sessions()
        self.assertStatus(r, 200, "list before SIGTERM")
        self.assertNotEqual(r.headers.get("Connection", "").lower(), "close")
        self.assertIsNotNone(kept._conn, "the connection is kept before the drain")
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        while get(s.port, "/readyz").status != 503 and time.monotonic() < deadline:
            time.sleep(0.01)
        # the connection opened before the drain: answered, then closed
        r = kept.list_sessions()
        self.assertStatus(r, 200, "list while draining")
        self.assertEqual(r.headers.get("Connection", "").lower(), "close", r.headers)
        self.assertIsNone(kept._conn, "the client gave the connection up")
        # a new one while draining: the same
        r = kept.list_sessions()
        self.assertStatus(r, 200, "list on a new connection while draining")
        self.assertEqual(r.headers.get("Connection", "").lower(), "close", r.headers)
        self.assertEqual(s.proc.wait(10), 0, s.log())

    def test_second_signal_stops_at_once(self):
        s, _ = self.start(30000)
        s.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 2.0
        while get(s.port, "/readyz").status != 503 and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertEqual(get(s.port, "/readyz").status, 503)
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGINT)
        rc = s.proc.wait(10)
        self.assertEqual(rc, 0, s.log())
        self.assertLess(time.monotonic() - t0, 5.0)

    def test_drain_zero_stops_at_once(self):
        s, _ = self.start(0)
        t0 = time.monotonic()
        s.proc.send_signal(signal.SIGTERM)
        rc = s.proc.wait(10)
        self.assertEqual(rc, 0, s.log())
        self.assertLess(time.monotonic() - t0, 3.0)


if __name__ == "__main__":
    unittest.main()
