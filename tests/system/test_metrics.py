"""GET /metrics (issue 11): the Prometheus text format, read by a strict parser
(promparse.py, itself checked against broken expositions here), every name prefixed usd_, the
families the README lists with their types, and counters that move with the traffic the test
sends: requests by operation and status, the duration histogram, session transitions and
expiries, ACTIVE sessions (ZCARD, refreshed within about a second), upload bytes, Redis calls,
timeouts and reconnects (a private Redis stopped and started)."""

import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import promparse  # noqa: E402
from harness import (RedisServer, Server, ServerTestCase, UPDATE_SESSION_PATH,  # noqa: E402
                     session_path)
from test_files import FilesCase, push_spec, upload, wait_for  # noqa: E402

PROM_CTYPE = "text/plain; version=0.0.4"

# name -> type: what the README promises
FAMILIES = {
    "usd_http_requests_total": "counter",
    "usd_http_request_duration_seconds": "histogram",
    "usd_sessions_active": "gauge",
    "usd_session_transitions_total": "counter",
    "usd_session_expired_total": "counter",
    "usd_upload_bytes_total": "counter",
    "usd_uploads_in_progress": "gauge",
    "usd_redis_up": "gauge",
    "usd_redis_call_duration_seconds": "histogram",
    "usd_redis_timeouts_total": "counter",
    "usd_redis_reconnects_total": "counter",
    "usd_connections_open": "gauge",
    "usd_login_checks_total": "counter",
    "usd_ready": "gauge",
}


def scrape(client, test=None):
    """GET /metrics, checked and parsed strictly: {family: promparse.Family}."""
    r = client.get("/metrics", auth=False)
    if test is not None:
        test.assertStatus(r, 200, "GET /metrics")
        test.assertTrue(r.headers.get("Content-Type", "").startswith(PROM_CTYPE),
                        r.headers.get("Content-Type"))
    fams = promparse.parse(r.raw.decode("utf-8"))
    if test is not None:
        for name in fams:
            test.assertTrue(name.startswith("usd_"), "metric %s lacks the usd_ prefix" % name)
    return fams


def value(fams, family, sample=None, **labels):
    """A sample's value, 0 when the series is absent (counters appear on first use)."""
    try:
        return fams[family].value(sample, **labels)
    except KeyError:
        return 0


class ParserSelfTest(unittest.TestCase):
    """The strict parser refuses what it must (so passing it means something)."""

    GOOD = ("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n"
            "# HELP h H.\n# TYPE h histogram\n"
            "h_bucket{le=\"0.1\"} 1\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 2\n"
            "h_sum 0.5\nh_count 2\n")
    BAD = {
        "no TYPE": "# HELP a_total A.\na_total 1\n",
        "no HELP": "# TYPE a_total counter\na_total 1\n",
        "duplicate series": "# HELP a_total A.\n# TYPE a_total counter\na_total 1\na_total 2\n",
        "bad metric name": "# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n",
        "bad label name": "# HELP a A.\n# TYPE a gauge\na{1x=\"1\"} 1\n",
        "unquoted label": "# HELP a A.\n# TYPE a gauge\na{x=1} 1\n",
        "bad value": "# HELP a A.\n# TYPE a gauge\na one\n",
        "negative counter": "# HELP a_total A.\n# TYPE a_total counter\na_total -1\n",
        "counter without _total": "# HELP a A.\n# TYPE a counter\na 1\n",
        "no final newline": "# HELP a A.\n# TYPE a gauge\na 1",
        "not contiguous": ("# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\n"
                           "a{x=\"1\"} 1\nb 1\na{x=\"2\"} 1\n"),
        "no +Inf": ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                    "h_sum 1\nh_count 1\n"),
        "not cumulative": ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
                           "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"),
        "le not increasing": ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                              "h_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n"
                              "h_count 1\n"),
        "+Inf != count": ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\n"
                          "h_sum 1\nh_count 2\n"),
        "no _sum": "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
        "no _count": "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n",
    }

    def test_accepts_good(self):
        fams = promparse.parse(self.GOOD)
        self.assertEqual(fams["a_total"].value(x="1"), 3)
        self.assertEqual(fams["h"].value("h_count"), 2)

    def test_refuses_bad(self):
        for what, text in self.BAD.items():
            with self.subTest(what):
                with self.assertRaises(promparse.ParseError, msg=what):
                    promparse.parse(text)


class MetricsTest(FilesCase, ServerTestCase):

    def test_exposition_is_strict_and_complete(self):
        fams = scrape(self.admin, self)
        for name, kind in FAMILIES.items():
            self.assertIn(name, fams, "family %s missing" % name)
            self.assertEqual(fams[name].type, kind, name)
        self.assertEqual(value(fams, "usd_redis_up"), 1)
        self.assertEqual(value(fams, "usd_ready"), 1)
        self.assertGreaterEqual(value(fams, "usd_connections_open"), 1)  # this scrape's own
        self.assertEqual({lab["to"] for lab, _ in fams["usd_session_transitions_total"].series()},
                         {"ACTIVE", "DONE", "ERROR", "CANCELED"})
        # HEAD works, other methods do not
        self.assertStatus(self.admin.request("HEAD", "/metrics", auth=False), 200, "HEAD")
        r = self.admin.post("/metrics", auth=False)
        self.assertStatus(r, 405, "POST /metrics")
        self.assertEqual(r.headers.get("Allow"), "GET, HEAD")

    def test_counters_follow_traffic(self):
        c = self.admin
        _, item = c.make_library_item()
        items = [c.make_library_item()[1] for _ in range(3)]
        before = scrape(c, self)
        created = []
        for it in [item] + items:
            r = c.create_session(it, client_token=str(uuid.uuid4()))
            self.assertStatus(r, 201, "create")
            created.append(r.json)
        busy = c.create_session(item)
        self.assertEqual(busy.status, 500, busy.raw[:200])          # RESOURCE_BUSY
        for _ in range(3):
            self.assertStatus(c.get(session_path(created[0])), 200, "get")
        for _ in range(2):
            self.assertEqual(c.get("/api/no/such/thing").status, 404)
        self.assertStatus(c.post(session_path(created[1], "cancel")), 204, "cancel")
        self.assertStatus(c.post(session_path(created[2], "complete")), 204, "complete")
        self.assertStatus(c.post(session_path(created[3], "fail"),
                              {"client_error_message": "metrics test"}), 204, "fail")
        data = b"m" * 10000
        info = self.add(c, created[0], push_spec("m.bin"))
        self.assertStatus(upload(info["upload_endpoint"]["uri"], data), 200, "PUT")
        after = scrape(c, self)

        def delta(family, sample=None, **labels):
            return value(after, family, sample, **labels) - value(before, family, sample,
                                                                   **labels)
        op = "update_session.create"
        self.assertEqual(delta("usd_http_requests_total", op=op, code="201"), 4)
        self.assertEqual(delta("usd_http_requests_total", op=op, code="500"), 1)
        self.assertEqual(delta("usd_http_requests_total", op="update_session.get", code="200"),
                         3)
        self.assertEqual(delta("usd_http_requests_total", op="unmatched", code="404"), 2)
        self.assertEqual(delta("usd_http_requests_total", op="update_session.cancel",
                               code="204"), 1)
        self.assertEqual(delta("usd_http_requests_total", op="upload", code="200"), 1)
        self.assertEqual(delta("usd_http_request_duration_seconds",
                               "usd_http_request_duration_seconds_count", op=op), 5)
        self.assertEqual(delta("usd_http_request_duration_seconds",
                               "usd_http_request_duration_seconds_bucket", op=op, le="+Inf"), 5)
        self.assertGreater(delta("usd_http_request_duration_seconds",
                                 "usd_http_request_duration_seconds_sum", op=op), 0)
        self.assertEqual(delta("usd_session_transitions_total", to="ACTIVE"), 4)
        self.assertEqual(delta("usd_session_transitions_total", to="CANCELED"), 1)
        self.assertEqual(delta("usd_session_transitions_total", to="DONE"), 1)
        self.assertEqual(delta("usd_session_transitions_total", to="ERROR"), 1)
        self.assertEqual(delta("usd_upload_bytes_total"), len(data))
        self.assertEqual(value(after, "usd_uploads_in_progress"), 0)
        # every API call above is at least one Redis call
        self.assertGreaterEqual(delta("usd_redis_call_duration_seconds",
                                      "usd_redis_call_duration_seconds_count"), 14)
        # ACTIVE sessions: ZCARD of this server's deadline index, refreshed within ~1 s
        want = self.server.redis.command("ZCARD", self.server.prefix + "deadlines")
        t0 = time.monotonic()
        ok = wait_for(lambda: value(scrape(c), "usd_sessions_active") == want, 3.0)
        took = time.monotonic() - t0
        sys.stderr.write("\n  [metrics] usd_sessions_active reached ZCARD %d in %.2f s\n"
                         % (want, took))
        self.assertTrue(ok, "usd_sessions_active never became %d" % want)
        self.assertLess(took, 1.5)  # refreshed every 0.5 s



class ExpiryMetricsTest(ServerTestCase):

    server_args = ("--session-timeout", "1", "--sweep-interval-ms", "100")

    def test_expiry_counts(self):
        c = self.admin
        before = scrape(c, self)
        _, item = c.make_library_item()
        r = c.create_session(item)
        self.assertStatus(r, 201, "create")
        ok = wait_for(lambda: value(scrape(c), "usd_session_expired_total") >
                      value(before, "usd_session_expired_total"), 10.0)
        self.assertTrue(ok, "usd_session_expired_total did not move after an expiry")
        after = scrape(c, self)
        self.assertEqual(value(after, "usd_session_expired_total") -
                         value(before, "usd_session_expired_total"), 1)
        self.assertGreaterEqual(value(after, "usd_session_transitions_total", to="ERROR") -
                                value(before, "usd_session_transitions_total", to="ERROR"), 1)


class RedisMetricsTest(ServerTestCase):
    """usd_redis_up, timeouts and reconnects through a private Redis stopped and started."""

    @classmethod
    def setUpClass(cls):
        cls.redis = RedisServer()
        cls.server = Server(redis=cls.redis, args=["--redis-timeout-ms", "300"])
        cls.admin = cls.server.client("admin")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.server.stop()
        finally:
            cls.redis.destroy()

    def test_down_and_back(self):
        before = scrape(self.admin, self)
        self.assertEqual(value(before, "usd_redis_up"), 1)
        self.redis.stop()
        # once the server saw the link go, a call waits for it and times out
        self.assertTrue(wait_for(lambda: value(scrape(self.admin), "usd_redis_up") == 0, 5.0))
        r = self.admin.get(UPDATE_SESSION_PATH)
        self.assertEqual(r.status, 503, r.raw[:200])
        down = scrape(self.admin, self)
        self.assertEqual(value(down, "usd_redis_up"), 0)
        self.assertEqual(value(down, "usd_ready"), 0)
        self.assertGreaterEqual(value(down, "usd_redis_timeouts_total") -
                                value(before, "usd_redis_timeouts_total"), 1)
        self.assertEqual(value(down, "usd_http_requests_total", op="update_session.list",
                               code="503") -
                         value(before, "usd_http_requests_total", op="update_session.list",
                               code="503"), 1)
        self.redis.start()
        ok = wait_for(lambda: value(scrape(self.admin), "usd_redis_up") == 1, 5.0)
        self.assertTrue(ok, "usd_redis_up did not come back")
        back = scrape(self.admin, self)
        self.assertEqual(value(back, "usd_redis_reconnects_total") -
                         value(before, "usd_redis_reconnects_total"), 1)


if __name__ == "__main__":
    unittest.main()
