"""Configuration and logs (issue 11): --config FILE (one "option value" per line, the long
option names, '#' comments; the command line wins), its errors naming file and line;
--check-config (exit 0 with a line on stdout, or 2 naming every problem: options, users file,
storage directory, secret file); SIGHUP reloads the users file (a bad file keeps the old users
and says why); log lines are logfmt (ts= level= msg= key=value) with --log-level; the access
log (--access-log) has one line per request and is reopened on SIGHUP."""

import os
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (USD_BIN, USERS, ApiTestCase, Client, Server, basic_auth,  # noqa: E402
                     free_port, password_hash, write_users_file)
from test_files import wait_for  # noqa: E402

LINE_RE = re.compile(r'^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) '
                     r'msg="(?:[^"\\]|\\.)*"( [a-z_]+=("(?:[^"\\]|\\.)*"|[^ "=]+))*$')
ACCESS_RE = re.compile(r'^ts=\S+ method=(\S+) op=(\S+) status=(\d{3}) duration_ms=(\d+\.\d{3}) '
                       r'client=(127\.0\.0\.1:\d+)$')


def run(args, timeout=30):
    return subprocess.run([USD_BIN] + list(args), capture_output=True, timeout=timeout)


class FileServer(Server):
    """A server whose settings come from a config file (self.config) and self.args."""

    def __init__(self, options, args=(), **kw):
        super().__init__(start=False, args=args, **kw)
        self.config = os.path.join(self.dir, "usd.conf")
        with open(self.config, "w") as f:
            f.write(options(self))

    def command_line(self):
        return [USD_BIN, "--config", self.config] + self.args


def base_options(s, port=None):
    return ("# update-sessiond test configuration\n"
            "\n"
            "listen 127.0.0.1:%d\n"
            "   redis %s   # the shared test Redis\n"
            "storage-dir %s\n"
            "users-file %s\n"
            "key-prefix %s\n"
            "drain-ms 0\n" % (port or s.port, s.redis.address, s.storage_dir, s.users_file,
                              s.prefix))


class ConfigFileTest(ApiTestCase):

    def start(self, server):
        self.addCleanup(server.cleanup)
        self.addCleanup(server.kill9)
        server.start()
        return server

    def test_file_alone(self):
        s = self.start(FileServer(base_options))
        self.assertStatus(s.client("admin").list_sessions(), 200, "served from the file")

    def test_command_line_wins(self):
        file_port = free_port()
        s = FileServer(lambda s: base_options(s, file_port))
        s.args = ["--listen", "127.0.0.1:%d" % s.port]
        self.start(s)
        self.assertStatus(s.client("admin").list_sessions(), 200, "on the command line's port")
        self.assertNotEqual(s.port, file_port)
        with self.assertRaises(OSError):
            Client(file_port).get("/livez")

    def check_refused(self, body, *needles):
        s = FileServer(lambda s: base_options(s) + body)
        self.addCleanup(s.cleanup)
        out = run(s.command_line()[1:])
        err = out.stderr.decode()
        self.assertEqual(out.returncode, 2, err)
        for n in needles:
            self.assertIn(n, err)
        return err

    def test_errors_name_file_and_line(self):
        self.check_refused("no-such-option 1\n", "usd.conf:9: unknown option 'no-such-option'")
        self.check_refused("session-timeout soon\n", "usd.conf:9: invalid value 'soon' for "
                                                     "--session-timeout")
        self.check_refused("retention\n", "usd.conf:9: option 'retention' has no value")
        self.check_refused("config other.conf\n", "usd.conf:9: a config file cannot name")
        self.check_refused("log-level loud\n", "invalid value 'loud' for --log-level")
        out = run(["--config", "/nonexistent/usd.conf"])
        self.assertEqual(out.returncode, 2)
        self.assertIn(b"cannot read --config /nonexistent/usd.conf", out.stderr)


class CheckConfigTest(ApiTestCase):

    def setUp(self):
        self.s = Server(start=False)
        self.addCleanup(self.s.cleanup)

    def check(self, *extra):
        t0 = time.monotonic()
        out = run(self.s.command_line()[1:] + ["--check-config"] + list(extra))
        self.assertLess(time.monotonic() - t0, 10.0)
        return out.returncode, out.stdout.decode(), out.stderr.decode()

    def test_valid(self):
        rc, out, err = self.check()
        self.assertEqual(rc, 0, err)
        self.assertIn("configuration OK", out)
        # it does not start: nothing listens
        with self.assertRaises(OSError):
            Client(self.s.port).get("/livez")

    def test_storage_dir_to_be_created_is_fine_and_not_created(self):
        new = os.path.join(self.s.dir, "a", "b")
        rc, _, err = self.check("--storage-dir", new)
        self.assertEqual(rc, 0, err)
        self.assertFalse(os.path.exists(new))

    def test_problems(self):
        bad_users = os.path.join(self.s.dir, "bad-users")
        with open(bad_users, "w") as f:
            f.write("ok:%s:System.Read\nbroken:%s:System.Reed\n" % (
                password_hash("x"), password_hash("x")))
        not_dir = os.path.join(self.s.dir, "plainfile")
        open(not_dir, "w").close()
        cases = [
            (["--users-file", bad_users], "bad-users:2: unknown privilege: System.Reed"),
            (["--users-file", "/nonexistent/users"], "cannot read the users file"),
            (["--storage-dir", not_dir], "--storage-dir %s" % not_dir),
            (["--storage-dir", os.path.join(not_dir, "sub")], "is not a directory"),
            (["--session-timeout", "0"], "invalid value '0' for --session-timeout"),
            (["--listen", "no-port"], "invalid value 'no-port' for --listen"),
            (["--admin-listen", "256.1.1.1:80"], "--admin-listen 256.1.1.1:80"),
        ]
        for extra, needle in cases:
            with self.subTest(extra):
                rc, _, err = self.check(*extra)
                self.assertEqual(rc, 2, err)
                self.assertIn(needle, err)

    def test_bad_secret_file(self):
        secret = os.path.join(self.s.dir, "secret")
        with open(secret, "w") as f:
            f.write("not hex\n")
        os.chmod(secret, 0o600)
        rc, _, err = self.check("--secret-file", secret)
        self.assertEqual(rc, 2, err)
        self.assertIn("the secret file %s" % secret, err)


class ReloadUsersTest(ApiTestCase):

    def login_status(self, user, password):
        return Client(self.s.port).post("/api/session", auth=False, headers={
            "Authorization": basic_auth(user, password)}).status

    def test_sighup(self):
        self.s = Server()
        self.addCleanup(self.s.stop)
        self.assertEqual(self.login_status("admin", USERS["admin"][0]), 201)
        self.assertEqual(self.login_status("newbie", "newbie-Pw1"), 401)
        users = dict(USERS)
        users["newbie"] = ("newbie-Pw1", "System.Read")
        del users["reader"]
        write_users_file(self.s.users_file, users)
        self.s.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "users file reloaded" in self.s.log(), 5.0),
                        self.s.log())
        time.sleep(0.3)  # the failed login above backs newbie off for 100 ms (net/login.h)
        self.assertEqual(self.login_status("newbie", "newbie-Pw1"), 201)
        self.assertEqual(self.login_status("reader", USERS["reader"][0]), 401)
        # a broken file: the old users stay, the log says why
        with open(self.s.users_file, "a") as f:
            f.write("oops-no-hash\n")
        self.s.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "was not reloaded" in self.s.log(), 5.0), self.s.log())
        self.assertIn("expected name:hash:privileges", self.s.log())
        self.assertEqual(self.login_status("newbie", "newbie-Pw1"), 201)
        self.assertEqual(self.login_status("admin", USERS["admin"][0]), 201)
        self.assertTrue(self.s.alive())


class LogsTest(ApiTestCase):

    def test_lines_are_logfmt(self):
        s = Server(args=["--log-level", "debug"])
        c = s.client("admin")
        c.get("/api/no/such/path")
        s.stop(cleanup=False)
        self.addCleanup(s.cleanup)
        with open(s.log_path) as f:
            lines = [ln.rstrip("\n") for ln in f if ln.strip()]
        self.assertTrue(lines)
        for ln in lines:
            self.assertRegex(ln, LINE_RE)
        self.assertTrue(any('msg="update-sessiond listening on http://127.0.0.1:%d"' % s.port in ln
                            for ln in lines), lines)
        self.assertTrue(any('level=info msg="stopped"' in ln for ln in lines), lines)

    def test_level_warn_drops_info(self):
        s = Server(args=["--log-level", "warn"])
        s.client("admin")
        s.stop(cleanup=False)
        self.addCleanup(s.cleanup)
        with open(s.log_path) as f:
            text = f.read()
        self.assertNotIn("level=info", text)
        self.assertNotIn("listening", text)

    def test_access_log(self):
        s = Server(start=False)
        self.addCleanup(s.cleanup)
        path = os.path.join(s.dir, "access.log")
        s.args = ["--access-log", path]
        s.start()
        self.addCleanup(s.kill9)
        c = s.client("admin")
        self.assertStatus(c.list_sessions(), 200, "list")
        c.get("/api/no/such/path")
        Client(s.port).get("/livez")

        def lines(p):
            try:
                with open(p) as f:
                    return [ln.rstrip("\n") for ln in f]
            except OSError:
                return []
        self.assertTrue(wait_for(lambda: len(lines(path)) >= 4, 5.0), lines(path))
        got = []
        for ln in lines(path):
            m = ACCESS_RE.match(ln)
            self.assertIsNotNone(m, ln)
            got.append((m.group(1), m.group(2), m.group(3)))
        self.assertEqual(got, [("POST", "session.create", "201"),
                               ("GET", "update_session.list", "200"),
                               ("GET", "unmatched", "404"),
                               ("GET", "livez", "200")])
        # logrotate: the file moves away, SIGHUP opens a new one
        os.rename(path, path + ".1")
        s.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: os.path.exists(path), 5.0))
        Client(s.port).get("/readyz")
        self.assertTrue(wait_for(lambda: len(lines(path)) == 1, 5.0), lines(path))
        self.assertIn("op=readyz status=200", lines(path)[0])
        self.assertEqual(len(lines(path + ".1")), 4)
        s.stop(cleanup=False)


if __name__ == "__main__":
    unittest.main()
