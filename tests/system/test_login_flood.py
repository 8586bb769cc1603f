"""Logins off the event loop (issue 9): password hashing runs on worker threads with a bounded
queue, and failed logins back off per (user, client IP).

  * LoginFloodLatencyTest: while 300 bad logins run at concurrency 16 (another process, one
    http.client connection per login, random user names so that every one is hashed), another
    client's authenticated GETs of an update session keep p99 <= 20 ms (p99 over >= 200 GETs
    sent while the flood ran). The figures are printed; a failure message carries them.
  * LoginQueueFullTest: with --login-workers 1 --login-queue 1, bursts of parallel logins on
    all three entry points (/api, /rest, SOAP /sdk) get some 503s at once (with a clear
    message), every request is answered, and the server logs in normally afterwards.
  * LoginBackoffTest: a wrong password, then at once the right one for the same user and IP is
    refused 401 (on every entry point, the same answer as a wrong password); another user, or
    the same user from another IP (127.0.0.2), is not affected; after the delay it succeeds.
  * LoginShutdownTest: SIGTERM with checks still queued ends cleanly (exit 0 under ASan).

The flood runs in a child process (this file with the argument "flood"), so the measuring
client never waits for the flood threads' Python GIL.
"""

import http.client
import json
import math
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import unittest

from harness import ROOT, USD_BIN, USERS, Server, ServerTestCase, basic_auth, session_path

FLOOD_LOGINS = 300
FLOOD_CONCURRENCY = 16
P99_LIMIT_MS = 20.0
MIN_SAMPLES = 200
MAX_ROUNDS = 4          # floods per attempt, until MIN_SAMPLES GETs were measured during them
ATTEMPTS = 2            # a second attempt only if the first one's p99 is over the limit

SOAP_LOGIN = ('<?xml version="1.0" encoding="UTF-8"?>'
              '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>'
              '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
              '<userName>%s</userName><password>%s</password></Login></Body></Envelope>')


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def login_request(port, entry, user, password, timeout=30.0, source=None):
    """One login on a fresh connection through entry "api", "rest" or "soap".
    Returns (status, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        if entry == "soap":
            body = (SOAP_LOGIN % (user, password)).encode()
            conn.request("POST", "/sdk", body=body,
                         headers={"Content-Type": "text/xml; charset=utf-8",
                                  "SOAPAction": "urn:vim25/7.0.3.0"})
        else:
            path = "/api/session" if entry == "api" else "/rest/com/vmware/cis/session"
            conn.request("POST", path, headers={"Authorization": basic_auth(user, password),
                                                "vmware-use-header-authn": "true"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def run_flood(port, total, concurrency):
    """The flood (in the child process): `total` logins of random unknown users with a wrong
    password, `concurrency` threads. Prints one JSON line: statuses, errors, the monotonic
    times the flood started and ended (CLOCK_MONOTONIC is shared by every process)."""
    lock = threading.Lock()
    left = [total]
    statuses, errors = {}, []
    barrier = threading.Barrier(concurrency + 1)

    def worker():
        barrier.wait()
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            try:
                status, _ = login_request(port, "api", "flood-" + secrets.token_hex(6), "bad")
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                with lock:
                    errors.append(repr(e))

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    start = time.monotonic()
    barrier.wait()
    for t in threads:
        t.join()
    end = time.monotonic()
    print(json.dumps({"start": start, "end": end, "statuses": statuses, "errors": errors[:5],
                      "nerrors": len(errors)}), flush=True)


class LoginFloodLatencyTest(ServerTestCase):
    """A login flood must not move another client's GET p99 above 20 ms."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        _, item = cls.admin.make_library_item()
        r = cls.admin.create_session(item)
        if r.status != 201:
            raise AssertionError("create session: %d %r" % (r.status, r.raw[:300]))
        cls.sid = r.json

    def start_flood(self, total):
        return subprocess.Popen([sys.executable, os.path.abspath(__file__), "flood",
                                 str(self.server.port), str(total), str(FLOOD_CONCURRENCY)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def finish_flood(self, proc):
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, "flood process failed: %s" % err.decode()[-2000:])
        res = json.loads(out.decode().strip().splitlines()[-1])
        res["statuses"] = {int(k): v for k, v in res["statuses"].items()}
        return res

    def timed_gets(self, conn, path, headers, until=None, count=None):
        """GETs on one keep-alive connection: [(sent at, latency ms)], until the callable
        `until` says stop, or `count` of them."""
        samples = []
        while (count is None or len(samples) < count) and (until is None or not until()):
            t0 = time.monotonic()
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            t1 = time.monotonic()
            self.assertEqual(resp.status, 200, body[:300])
            samples.append((t0, (t1 - t0) * 1000.0))
        return samples

    def measure(self):
        """One attempt: floods of FLOOD_LOGINS bad logins until >= MIN_SAMPLES GETs were sent
        while a flood ran. Returns a dict of figures."""
        path = session_path(self.sid)
        headers = {"vmware-api-session-id": self.admin.token}
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            # Warm-up: the connection, the server's caches, the workers, the hash code.
            self.timed_gets(conn, path, headers, count=100)
            self.finish_flood(self.start_flood(32))
            baseline = [ms for _, ms in self.timed_gets(conn, path, headers, count=300)]

            during, statuses, nerrors, rounds, flood_s = [], {}, 0, 0, 0.0
            while len(during) < MIN_SAMPLES and rounds < MAX_ROUNDS:
                rounds += 1
                proc = self.start_flood(FLOOD_LOGINS)
                samples = self.timed_gets(conn, path, headers,
                                          until=lambda: proc.poll() is not None)
                res = self.finish_flood(proc)
                during += [ms for t0, ms in samples if res["start"] <= t0 <= res["end"]]
                for k, v in res["statuses"].items():
                    statuses[k] = statuses.get(k, 0) + v
                nerrors += res["nerrors"]
                self.assertEqual(res["nerrors"], 0, "flood requests failed: %r" % res["errors"])
                flood_s += res["end"] - res["start"]
        finally:
            conn.close()
        return {
            "rounds": rounds, "flood_s": flood_s, "statuses": statuses, "n": len(during),
            "p50": percentile(during, 50) if during else None,
            "p99": percentile(during, 99) if during else None,
            "max": max(during) if during else None,
            "baseline_p50": percentile(baseline, 50), "baseline_p99": percentile(baseline, 99),
        }

    @staticmethod
    def describe(f):
        return ("%d GETs during %d flood(s) of %d bad logins at concurrency %d (%.2f s): "
                "p50 %.2f ms, p99 %.2f ms, max %.2f ms; without a flood p50 %.2f ms, p99 %.2f ms;"
                " login answers %r" % (
                    f["n"], f["rounds"], FLOOD_LOGINS, FLOOD_CONCURRENCY, f["flood_s"],
                    f["p50"] or 0, f["p99"] or 0, f["max"] or 0, f["baseline_p50"],
                    f["baseline_p99"], f["statuses"]))

    def test_get_p99_during_login_flood(self):
        tries = []
        for attempt in range(ATTEMPTS):
            f = self.measure()
            tries.append(f)
            print("\nlogin flood (%s), attempt %d: %s" % (
                os.path.relpath(USD_BIN, ROOT),
                attempt + 1, self.describe(f)), file=sys.stderr, flush=True)
            # Every bad login was answered as one: 401 (hashed and refused), or 503 if the
            # queue was ever full. Nothing else, nothing lost.
            self.assertEqual(sum(f["statuses"].values()), FLOOD_LOGINS * f["rounds"])
            self.assertLessEqual(set(f["statuses"]), {401, 503}, self.describe(f))
            self.assertGreater(f["statuses"].get(401, 0), 0, self.describe(f))
            if f["n"] >= MIN_SAMPLES and f["p99"] <= P99_LIMIT_MS:
                return
        # A stalled loop shows as a high p99, or as too few GETs answered during the floods.
        self.fail("GET p99 over %.0f ms, or fewer than %d GETs answered, during a login flood "
                  "(%d attempt(s)):\n  %s" % (P99_LIMIT_MS, MIN_SAMPLES, len(tries),
                                             "\n  ".join(self.describe(f) for f in tries)))


class LoginQueueFullTest(ServerTestCase):
    """One worker, one waiting place: a burst of logins gets 503s at once, nothing hangs."""

    server_args = ("--login-workers", "1", "--login-queue", "1")

    def burst(self, n):
        """n logins at once (connections opened first, requests released together), spread
        over the three entry points; half with the right password, half random users.
        Returns [(entry, status, body)]; an exception is recorded as status None."""
        barrier = threading.Barrier(n)
        results = [None] * n

        def one(i):
            entry = ("api", "rest", "soap")[i % 3]
            user, pw = ("admin", USERS["admin"][0]) if i % 2 else ("burst-" + secrets.token_hex(4), "x")
            barrier.wait()
            try:
                status, body = login_request(self.server.port, entry, user, pw, timeout=20)
                results[i] = (entry, status, body)
            except Exception as e:  # noqa: BLE001
                results[i] = (entry, None, repr(e).encode())

        threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertFalse(any(t.is_alive() for t in threads), "a login hung")
        self.assertLess(time.monotonic() - t0, 30)
        return results

    def test_full_queue_503(self):
        self.addCleanup(self.server.await_login, "admin")
        seen_503 = {}
        for _ in range(10):
            for entry, status, body in self.burst(48):
                self.assertIsNotNone(status, "no answer: %s" % body)
                self.assertIn(status, (200, 201, 401, 500, 503), (entry, status, body[:300]))
                if entry == "soap" and status == 500:
                    self.assertIn(b'xsi:type="InvalidLogin"', body)
                if status == 503:
                    seen_503.setdefault(entry, body)
            if len(seen_503) == 3:
                break
        self.assertEqual(set(seen_503), {"api", "rest", "soap"},
                         "every entry point answers 503 when the queue is full")
        api = json.loads(seen_503["api"])
        self.assertEqual(api["error_type"], "SERVICE_UNAVAILABLE", api)
        self.assertIn("Too many logins", api["messages"][0]["default_message"])
        rest = json.loads(seen_503["rest"])
        self.assertEqual(rest["type"], "com.vmware.vapi.std.errors.service_unavailable", rest)
        self.assertIn("Too many logins", rest["value"]["messages"][0]["default_message"])
        self.assertIn(b"Too many logins", seen_503["soap"])
        self.assertIn(b"<faultcode>", seen_503["soap"])
        # The server is fine afterwards: logins (once the backoff allows) and reads work.
        c = self.server.await_login("admin")
        self.assertEqual(c.get("/api/session").status, 200)


class LoginBackoffTest(ServerTestCase):
    """After a failed login the same (user, IP) is refused at once for a growing delay."""

    def api(self, user, password, source=None):
        return login_request(self.server.port, "api", user, password, source=source)[0]

    def test_backoff(self):
        self.addCleanup(self.server.await_login, "reader")
        reader_pw = USERS["reader"][0]
        # A wrong password, then the right one at once: refused like a wrong password.
        self.assertEqual(self.api("reader", "wrong"), 401)
        t0 = time.monotonic()
        status = self.api("reader", reader_pw)
        if time.monotonic() - t0 < 0.09:  # inside the first 100 ms delay
            self.assertEqual(status, 401, "right password right after a wrong one")

        # Make the delay long enough to check everything in it whatever the machine's load:
        # each failure after the previous delay doubles it (100, 200, 400, 800, 1600 ms; at
        # least 800 even if the first right password above came after the first delay).
        for wait in (0.15, 0.25, 0.45, 0.85):
            time.sleep(wait)
            self.assertEqual(self.api("reader", "wrong"), 401)
        t_fail = time.monotonic()
        body_api = login_request(self.server.port, "api", "reader", reader_pw)
        body_rest = login_request(self.server.port, "rest", "reader", reader_pw)
        body_soap = login_request(self.server.port, "soap", "reader", reader_pw)
        other_user = self.api("editor", USERS["editor"][0])
        other_ip = self.api("reader", reader_pw, source="127.0.0.2")
        elapsed = time.monotonic() - t_fail
        self.assertLess(elapsed, 0.75, "the checks took too long to be inside the delay")
        self.assertEqual(body_api[0], 401, body_api)
        self.assertIn(b"user name or password is incorrect", body_api[1])
        self.assertEqual(body_rest[0], 401, body_rest)
        self.assertEqual(body_soap[0], 500, body_soap)
        self.assertIn(b'xsi:type="InvalidLogin"', body_soap[1])
        self.assertEqual(other_user, 201, "another user from the same IP is not held back")
        self.assertEqual(other_ip, 201, "the same user from another IP is not held back")

        # After the delay, the right password works (and ends the backoff).
        time.sleep(1.7)
        self.assertEqual(self.api("reader", reader_pw), 201)
        self.assertEqual(self.api("reader", reader_pw), 201)
        # Refusals do not extend the delay: a failure, refusals, then success after 100 ms.
        self.assertEqual(self.api("reader", "wrong"), 401)
        for _ in range(3):
            self.api("reader", reader_pw)
        time.sleep(0.15)
        self.assertEqual(self.api("reader", reader_pw), 201)


class LoginShutdownTest(unittest.TestCase):
    """SIGTERM while login checks are queued whose clients already left: the loop stops, the
    workers are joined, the pending checks are answered (503 to requests nobody reads any
    more), and the process exits 0 (with ASan: no leak, no use of a freed request)."""

    def test_stop_with_checks_pending(self):
        for attempt in range(3):
            # the per-client connection cap is not what this is about: 200 quick connections
            # from one address must all reach the login queue, however slow the loop is
            server = Server(args=("--login-workers", "1", "--login-queue", "1000",
                                  "--max-connections-per-client", "1000"))
            try:
                request = ("POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Authorization: %s\r\nContent-Length: 0\r\n\r\n")
                for i in range(200):
                    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
                        s.sendall((request % basic_auth("gone-%d" % i, "x")).encode())
                time.sleep(0.1)  # the server reads them; one worker needs >= 0.4 s to hash all
            finally:
                server.stop(cleanup=False)  # SIGTERM; requires exit code 0
            log = server.log()
            server.cleanup()
            self.assertIn("stopped", log)
            if "login checks still pending at stop" in log:
                return
        self.fail("the checks were never still pending at stop (3 attempts):\n" + log)


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "flood":
    run_flood(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
