"""The PULL egress policy (README "PULL egress policy"; core/netpolicy.h): a PULL may not reach
loopback, private, link-local, CGNAT, multicast, unspecified or broadcast addresses nor this
server's own listen addresses unless --pull-allow names them; the server's own listen endpoint
(address and port) is refused always. A literal address is refused at add time (400
INVALID_ARGUMENT naming source_endpoint.uri, nothing recorded); a name is judged on every address
it resolves to, and a refused one fails the file with the one generic message every failure
before a 200 gives (so PULL is no port scanner); the details go to the server's log.

Loopback cases run here (traffic to 127.0.0.1 and ::1 only). The cases with other addresses
(10.0.0.1, 169.254.169.254, names resolving to them, a public address as the control) run inside
a network namespace with only loopback (egress_ns_probe.py under `unshare -n -m`), where
listeners on those addresses count every connection: nothing can leave the machine even if the
policy failed, and a connection the policy should have prevented would be seen."""

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import RedisServer, Server, free_port, redis_command  # noqa: E402
from test_files import FilesCase, blob, files_path  # noqa: E402
from test_pull import (SourceServer, cert_thumbprint, make_self_signed,  # noqa: E402
                       pull_spec, thumbprint_of_der)

FILE = "f.bin"
UNREACHABLE = {
    "id": "com.vmware.vdcs.cls-main.pull_source_unreachable",
    "default_message": "The source of file %s cannot be reached." % FILE,
    "args": [FILE],
}
REFUSED_ID = "com.vmware.vdcs.cls-main.pull_address_refused"
END_WAIT_S = 15.0           # a refused or failed pull reads ERROR within this
LOG_WAIT_S = 5.0            # the server's log line about it is written within this
NS_PROBE_TIMEOUT_S = 240    # the whole namespace probe (two sanitizer servers, ten cases)
HERE = os.path.dirname(os.path.abspath(__file__))


class RawServer:
    """A TCP server on a loopback port that, per connection, closes at once ("close") or
    answers a line that is not HTTP ("garbage", as Redis would); counts connections."""

    def __init__(self, mode):
        self.mode = mode
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            try:
                if self.mode == "garbage":
                    conn.settimeout(2)
                    try:
                        conn.recv(4096)
                    except OSError:
                        pass
                    conn.sendall(b"-ERR unknown command 'GET'\r\n")
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


class EgressCase(FilesCase):

    def add_refused(self, client, uri, field="source_endpoint.uri", wrap=False):
        """The add is 400 INVALID_ARGUMENT naming the field; nothing is recorded."""
        _, sid = self.new_session(client)
        spec = pull_spec(FILE, uri)
        r = client.post(files_path(sid), {"file_spec": spec} if wrap else spec)
        body = self.assertInvalid(r, field, what="PULL from %s" % uri)
        self.assertEqual(self.files(client, sid), {}, "a refused add records nothing")
        return body

    def pull_fails(self, client, uri, **extra):
        """The add is accepted (a name is judged when resolved) and the file ends in ERROR with
        the generic message; returns the file."""
        _, sid = self.new_session(client)
        self.add(client, sid, pull_spec(FILE, uri, **extra))
        f = self.wait_file(client, sid, FILE, ("READY", "ERROR"), END_WAIT_S)
        self.assertEqual(f["status"], "ERROR", "PULL from %s: %r" % (uri, f))
        self.assertEqual(f.get("error_message"), UNREACHABLE, "PULL from %s" % uri)
        self.assertEqual(f.get("bytes_transferred"), 0, f)
        return f

    def wait_log(self, server, text):
        deadline = time.monotonic() + LOG_WAIT_S
        while time.monotonic() < deadline:
            with open(server.log_path, "rb") as fp:
                if text.encode() in fp.read():
                    return
            time.sleep(0.05)
        self.fail("the server log lacks %r:\n%s" % (text, server.log()))


# ---------------------------------------------------------------------------------------------
# loopback: refused without --pull-allow; failures alike with it
# ---------------------------------------------------------------------------------------------

class LoopbackEgressTest(EgressCase):
    """A private Redis (its log is read), a server without --pull-allow ("strict") and one with
    --pull-allow 127.0.0.1/32 ("allowed")."""

    @classmethod
    def setUpClass(cls):
        cls.redis = RedisServer()
        cls.servers = []
        try:
            cls.strict = Server(redis=cls.redis)
            cls.servers.append(cls.strict)
            cls.allowed = Server(redis=cls.redis, args=("--pull-allow", "127.0.0.1/32"))
            cls.servers.append(cls.allowed)
            cls.source = SourceServer()
            cls.admin = cls.strict.client("admin")
            cls.allowed_admin = cls.allowed.client("admin")
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if getattr(cls, "source", None) is not None:
                cls.source.stop()
            for s in cls.servers:
                s.stop()
        finally:
            cls.redis.destroy()

    def test_literal_loopback_refused_at_add(self):
        route = self.source.add("/lit.bin", blob(100))
        port = self.source.port
        for uri in ("http://127.0.0.1:%d/lit.bin" % port, "http://[::1]:%d/lit.bin" % port,
                    "http://[::ffff:127.0.0.1]:%d/lit.bin" % port,
                    "http://[::ffff:7f00:1]:%d/lit.bin" % port,
                    "https://127.0.0.1:%d/lit.bin" % port, "http://127.0.0.2/x",
                    "http://127.255.255.255/x", "http://0.0.0.0:%d/x" % port, "http://[::]/x",
                    "http://10.0.0.1/x", "http://172.16.0.1/x", "http://192.168.1.1/x",
                    "http://100.64.0.1/x", "http://169.254.169.254/latest/meta-data/",
                    "http://[fe80::1]/x", "http://[fd00::1]/x", "http://224.0.0.1/x",
                    "http://[ff02::1]/x", "http://255.255.255.255/x"):
            with self.subTest(uri=uri):
                body = self.add_refused(self.admin, uri)
                msg = body["messages"][0]
                self.assertEqual(msg["id"], REFUSED_ID, body)
                # which rule refused it is not said
                for word in ("loopback", "private", "link-local", "multicast"):
                    self.assertNotIn(word, msg["default_message"], body)
        # the /api form with the spec wrapped names the wrapped field
        self.add_refused(self.admin, "http://127.0.0.1:%d/lit.bin" % port,
                         field="file_spec.source_endpoint.uri", wrap=True)
        self.assertEqual(route.requests, [], "nothing was fetched")

    def test_numbers_in_other_forms_refused(self):
        """Hosts some resolvers read as 127.0.0.1 are refused as malformed, even where
        127.0.0.1/32 is allowed."""
        port = self.source.port
        for host in ("127.1", "2130706433", "0x7f000001", "0x7f.0.0.1", "0177.0.0.1",
                     "127.0.0.1.", "127.000.000.001"):
            for client in (self.admin, self.allowed_admin):
                with self.subTest(host=host, server=client.port):
                    self.add_refused(client, "http://%s:%d/x" % (host, port))

    def test_name_resolving_to_loopback(self):
        route = self.source.add("/name.bin", blob(100))
        uri = "http://localhost:%d/name.bin" % self.source.port
        self.pull_fails(self.admin, uri)
        self.assertEqual(route.requests, [], "nothing may connect to a refused address")
        self.wait_log(self.strict, "localhost resolves to 127.0.0.1")
        # the control: where 127.0.0.1/32 is allowed, the same name is fetched
        _, sid = self.new_session(self.allowed_admin)
        self.add(self.allowed_admin, sid, pull_spec(FILE, uri))
        f = self.wait_file(self.allowed_admin, sid, FILE, ("READY", "ERROR"), END_WAIT_S)
        self.assertEqual(f["status"], "READY", f)
        self.assertEqual(len(route.requests), 1, route.requests)

    def test_redis_port(self):
        """The servers' own Redis: refused by literal and by name; Redis sees no HTTP (its log
        has no cross-protocol warning). Then a real HTTP request to Redis shows the log check
        works."""
        port = self.redis.port
        self.add_refused(self.admin, "http://127.0.0.1:%d/" % port)
        self.add_refused(self.admin, "http://[::ffff:127.0.0.1]:%d/" % port)
        self.pull_fails(self.admin, "http://localhost:%d/" % port)
        self.pull_fails(self.admin, "https://localhost:%d/" % port)
        time.sleep(0.3)
        log = os.path.join(self.redis.dir, "redis.log")
        with open(log, "rb") as fp:
            self.assertNotIn(b"SECURITY ATTACK", fp.read())
        self.assertEqual(redis_command(port, "PING"), "PONG")
        # control: what an HTTP client does to Redis is logged there
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            try:
                s.recv(1024)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        seen = False
        while not seen and time.monotonic() < deadline:
            with open(log, "rb") as fp:
                seen = b"SECURITY ATTACK" in fp.read()
            time.sleep(0.05)
        self.assertTrue(seen, "the control request left no warning in %s" % log)

    def test_own_listen_endpoint(self):
        """The server's own address and port: refused even where 127.0.0.1/32 is allowed."""
        own = self.allowed.port
        for path in ("/api/session", "/cls/data/x/y", "/"):
            with self.subTest(path=path):
                self.add_refused(self.allowed_admin, "http://127.0.0.1:%d%s" % (own, path))
        self.add_refused(self.allowed_admin, "http://0.0.0.0:%d/" % own)
        self.pull_fails(self.allowed_admin, "http://localhost:%d/api/session" % own)
        self.wait_log(self.allowed, "own listen address and port")
        # another instance's port on the same address is not "own"
        other = self.strict.port
        _, sid = self.new_session(self.allowed_admin)
        self.add(self.allowed_admin, sid, pull_spec(FILE, "http://127.0.0.1:%d/nope" % other))

    def test_failures_look_alike(self):
        """Where the source may be reached, every failure before a 200 gives the same message
        and 0 bytes: nothing listening, a connection closed at once, an answer that is not
        HTTP, 404, 500, a redirect (not followed), TLS with the wrong thumbprint or against a
        plain server. The log tells them apart."""
        closed = free_port()
        raw_close, raw_garbage = RawServer("close"), RawServer("garbage")
        tmp = tempfile.mkdtemp(prefix="usd-egress-tls-")
        tls_source = None
        try:
            cert, key = make_self_signed(tmp)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(cert, key)
            tls_source = SourceServer(tls=ctx)
            tls_source.add("/t.bin", blob(100))
            wrong = thumbprint_of_der(b"not the certificate")
            self.assertNotEqual(wrong, cert_thumbprint(cert))
            self.source.add("/e500.bin", b"x", status=500)
            target = self.source.add("/target.bin", blob(100))
            self.source.add("/redirect.bin", b"", status=302)
            p = self.source.port
            cases = [
                ("nothing listening", "http://127.0.0.1:%d/x" % closed, {}),
                ("closed at once", "http://127.0.0.1:%d/x" % raw_close.port, {}),
                ("not HTTP", "http://127.0.0.1:%d/x" % raw_garbage.port, {}),
                ("404", "http://127.0.0.1:%d/missing.bin" % p, {}),
                ("500", "http://127.0.0.1:%d/e500.bin" % p, {}),
                ("redirect", "http://127.0.0.1:%d/redirect.bin" % p, {}),
                ("wrong thumbprint", tls_source.url("/t.bin"), {"thumbprint": wrong}),
                ("TLS to a plain server", "https://127.0.0.1:%d/target.bin" % p,
                 {"thumbprint": wrong}),
            ]
            for what, uri, extra in cases:
                with self.subTest(case=what):
                    self.pull_fails(self.allowed_admin, uri, **extra)
            self.assertEqual(target.requests, [], "the redirect was not followed")
            self.assertGreaterEqual(raw_close.accepted, 1)
            self.assertGreaterEqual(raw_garbage.accepted, 1)
            for detail in ("127.0.0.1 port %d" % closed, "HTTP status 404",
                           "HTTP status 500", "HTTP status 302", "thumbprint",
                           "TLS handshake with 127.0.0.1"):
                self.wait_log(self.allowed, detail)
        finally:
            raw_close.stop()
            raw_garbage.stop()
            if tls_source is not None:
                tls_source.stop()
            shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# other addresses, inside a network namespace with only loopback
# ---------------------------------------------------------------------------------------------

NS_HOSTS = """127.0.0.1 localhost
::1 localhost
10.0.0.1 internal.test
169.254.169.254 metadata.test
198.51.100.7 public.test
198.51.100.7 mixed.test
10.0.0.1 mixed.test
"""


class NamespaceEgressTest(unittest.TestCase):
    """Runs egress_ns_probe.py in `unshare -n -m` (root only) and checks what it saw."""

    maxDiff = 4000
    result = None

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
            raise unittest.SkipTest("needs root, unshare and ip (a network namespace)")
        tmp = tempfile.mkdtemp(prefix="usd-egress-ns-")
        try:
            hosts = os.path.join(tmp, "hosts")
            with open(hosts, "w") as f:
                f.write(NS_HOSTS)
            script = ("set -e; ip link set lo up; "
                      "for a in 10.0.0.1 169.254.169.254 198.51.100.7; do "
                      "ip addr add $a/32 dev lo; done; "
                      "mount --bind \"$1\" /etc/hosts; exec python3 \"$2\"")
            started = time.monotonic()
            out = subprocess.run(
                ["unshare", "-n", "-m", "sh", "-c", script, "sh", hosts,
                 os.path.join(HERE, "egress_ns_probe.py")],
                capture_output=True, timeout=NS_PROBE_TIMEOUT_S)
            sys.stderr.write("\n  [namespace probe] %.1f s\n" % (time.monotonic() - started))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        text = out.stdout.decode("utf-8", "replace")
        if out.returncode != 0:
            raise AssertionError("the namespace probe failed (%d):\n%s\n%s" % (
                out.returncode, text, out.stderr.decode("utf-8", "replace")[-4000:]))
        cls.result = json.loads(text.strip().splitlines()[-1])
        if cls.result.get("error") or cls.result.get("stop_errors"):
            raise AssertionError("the namespace probe: %s %s\nlogs: %s" % (
                cls.result.get("error"), cls.result.get("stop_errors"),
                json.dumps(cls.result.get("logs"), indent=1)[-6000:]))

    def case(self, server, what):
        for c in self.result["cases"]:
            if c["server"] == server and c["what"] == what:
                return c
        self.fail("no case %s/%s in %r" % (server, what, self.result["cases"]))

    def accepted(self, c, addr):
        return c["accepted"][addr]

    def test_literal_addresses_refused_at_add(self):
        for what in ("literal 10.0.0.1", "literal 169.254.169.254", "literal [::ffff:10.0.0.1]"):
            with self.subTest(case=what):
                c = self.case("A", what)
                self.assertEqual(c["add_status"], 400, c)
                self.assertEqual(c["add_body"]["error_type"], "INVALID_ARGUMENT", c)
                msg = c["add_body"]["messages"][0]
                self.assertEqual(msg["id"], REFUSED_ID, c)
                self.assertIn("source_endpoint.uri", msg["default_message"], c)
                self.assertIsNone(c["file"], c)

    def test_names_resolving_to_internal_addresses(self):
        for what in ("name internal.test (10.0.0.1)", "name metadata.test (169.254.169.254)",
                     "name mixed.test (198.51.100.7 and 10.0.0.1)"):
            with self.subTest(case=what):
                c = self.case("A", what)
                self.assertEqual(c["add_status"], 201, c)
                self.assertEqual(c["file"]["status"], "ERROR", c)
                self.assertEqual(c["file"].get("error_message"), UNREACHABLE, c)
        self.assertIn("internal.test resolves to 10.0.0.1", self.result["logs"]["A"])
        self.assertIn("metadata.test resolves to 169.254.169.254", self.result["logs"]["A"])

    def test_nothing_connected_before_the_allowed_cases(self):
        """Up to the public control, no listener saw a connection from server A (mixed.test's
        first address is public: it was not used either, as its other one is refused)."""
        c = self.case("A", "name mixed.test (198.51.100.7 and 10.0.0.1)")
        self.assertEqual(c["accepted"], {"10.0.0.1": 0, "169.254.169.254": 0,
                                         "198.51.100.7": 0}, c)

    def test_controls_reach_their_listeners(self):
        """The listeners do see a PULL the policy lets through: a public address by name and
        literal on A, and the internal ones on B, which allows them."""
        c = self.case("A", "name public.test (198.51.100.7)")
        self.assertEqual(c["file"]["status"], "READY", c)
        self.assertEqual(self.accepted(c, "198.51.100.7"), 1, c)
        c = self.case("A", "literal 198.51.100.7")
        self.assertEqual(c["file"]["status"], "READY", c)
        self.assertEqual(self.accepted(c, "198.51.100.7"), 2, c)
        self.assertEqual(self.accepted(c, "10.0.0.1"), 0, c)
        self.assertEqual(self.accepted(c, "169.254.169.254"), 0, c)
        c = self.case("B", "literal 10.0.0.1")
        self.assertEqual(c["file"]["status"], "READY", c)
        self.assertEqual(self.accepted(c, "10.0.0.1"), 1, c)
        c = self.case("B", "name metadata.test (169.254.169.254)")
        self.assertEqual(c["file"]["status"], "READY", c)
        self.assertEqual(self.accepted(c, "169.254.169.254"), 1, c)


if __name__ == "__main__":
    unittest.main()
