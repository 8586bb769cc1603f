"""Several update-sessiond processes on one private Redis with the same --key-prefix, as
behind a load balancer: a killed instance's sessions are served and expired by another; an
instance with a skewed clock (faketime +1h) agrees with the others on expiration, because
session times come from Redis; two sweeping instances expire 200 sessions, each once.

The Redis checks (that an instance's sweeper, not only the read rule, recorded an expiry)
use the key schema documented in store/keys.c:
    P {<item>}:s:<uuid>   hash of session "<item>:<uuid>" (fields state, err, deadline, ...)
"""

import datetime
import glob
import os
import queue
import shutil
import signal
import subprocess
import threading
import time

from harness import (session_path, CLS_MSG_PREFIX, ROOT, START_TIMEOUT, STOP_TIMEOUT,
                     UPDATE_SESSION_PATH, ApiTestCase, Client, RedisServer, Server, parse_iso,
                     port_open, utcnow)

POLL_S = 0.1
FAKETIME_OFFSET = "+1h"




def seconds(s):
    return datetime.timedelta(seconds=s)


def session_key(prefix, sid):
    item, _, u = sid.rpartition(":")
    return "%s{%s}:s:%s" % (prefix, item, u)


def stored_session(redis, prefix, sid):
    """The session's Redis hash as {str: str} ({} when absent)."""
    flat = redis.command("HGETALL", session_key(prefix, sid)) or []
    dec = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in flat]
    return dict(zip(dec[0::2], dec[1::2]))


def asan_env():
    """The environment for a process under faketime: an ASan build must not insist on being
    first in the library list (libfaketime is preloaded)."""
    env = dict(os.environ)
    opts = env.get("ASAN_OPTIONS", "")
    env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "verify_asan_link_order=0"
    return env


class FakeTimeServer(Server):
    """A Server started as `faketime -f +1h update-sessiond ...`.

    faketime forks and waits for its child (it does not forward signals), so stop() and
    kill9() signal the server process itself, and faketime exits with the child's status."""

    def start(self, timeout=START_TIMEOUT):
        faketime = shutil.which("faketime")
        if faketime is None:
            raise RuntimeError("faketime is not installed (Debian package faketime)")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([faketime, "-f", FAKETIME_OFFSET] + self.command_line(),
                                     stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=ROOT, env=asan_env())
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError("update-sessiond under faketime exited with %d during "
                                   "start-up:\n%s" % (rc, self.log()))
            if port_open(self.port):
                return self
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError("update-sessiond under faketime did not accept connections on port "
                           "%d in %.0f s:\n%s" % (self.port, timeout, self.log()))

    def child_pid(self):
        """The pid of the server process faketime started, or None."""
        if self.proc is None:
            return None
        for path in glob.glob("/proc/%d/task/*/children" % self.proc.pid):
            try:
                with open(path) as f:
                    pids = [int(p) for p in f.read().split()]
            except OSError:
                continue
            if pids:
                return pids[0]
        return None

    def stop(self, check=True, cleanup=True):
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            child = self.child_pid()
            if child is not None:
                try:
                    os.kill(child, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill9()
                raise AssertionError("update-sessiond (faketime) did not exit within %.0f s of "
                                     "SIGTERM:\n%s" % (STOP_TIMEOUT, self.log()))
        rc = self.proc.returncode
        self.proc = None
        if check and rc != 0:
            raise AssertionError("update-sessiond (faketime) exited with %d (want 0):\n%s"
                                 % (rc, self.log()))
        if cleanup:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            child = self.child_pid()
            if child is not None:
                try:
                    os.kill(child, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class InstancesCase(ApiTestCase):
    """A private Redis per test; servers made with server() share its key prefix and are
    stopped (exit code 0 required) at the end."""

    def setUp(self):
        self.redis = RedisServer()
        self.addCleanup(self.redis.destroy)
        self.prefix = None

    def server(self, args=(), cls=Server):
        srv = cls(redis=self.redis, prefix=self.prefix, args=args)
        self.prefix = srv.prefix
        self.addCleanup(srv.stop)
        return srv


    def wait_stored_error(self, sid, limit, what="session"):
        """The session's Redis record says ERROR (a sweeper recorded the expiry) by limit."""
        while True:
            t0 = utcnow()
            rec = stored_session(self.redis, self.prefix, sid)
            self.assertTrue(rec, "%s: no Redis record %s" % (what, session_key(self.prefix, sid)))
            if rec.get("state") == "ERROR":
                self.assertIn("expired", rec.get("err", ""), "%s: %r" % (what, rec))
                return rec
            self.assertEqual(rec.get("state"), "ACTIVE", "%s: %r" % (what, rec))
            if t0 > limit:
                self.fail("%s: the stored state is still %r at %s (limit %s): no instance "
                          "swept it" % (what, rec.get("state"), t0.isoformat(),
                                        limit.isoformat()))
            time.sleep(POLL_S)


class FailoverTest(InstancesCase):

    TIMEOUT_S = 2

    def test_killed_instance_sessions_served_and_expired_by_other(self):
        args = ["--session-timeout", str(self.TIMEOUT_S)]
        a = self.server(args)
        b = self.server(args)
        ca = a.client("admin")
        _, item = ca.make_library_item()
        r = ca.create_session(item)
        self.assertStatus(r, 201, "create on A")
        sid = r.json
        exp = self.expiration(self.get_session(ca, sid, "get on A"))

        a.kill9()
        a.cleanup()
        self.assertFalse(a.alive())

        cb = Client(b.port, token=ca.token)
        s = self.get_session(cb, sid, "get on B with A's token")
        self.assertEqual(s.get("state"), "ACTIVE", s)
        self.assertEqual(s.get("id"), sid)
        self.assertEqual(s.get("library_item_id"), item)
        self.assertEqual(self.expiration(s), exp, "B sees the same expiration_time")

        busy = cb.create_session(item)
        sent_by = utcnow()
        self.assertApiError(busy, 500, "RESOURCE_BUSY", id_prefix=CLS_MSG_PREFIX,
                            what="create on B while A's session is ACTIVE")
        self.assertLess(sent_by, exp, "the busy check ran after expiration_time (too slow "
                        "to test): answered at %s, expiration_time %s"
                        % (sent_by.isoformat(), exp.isoformat()))

        self.wait_expired(cb, sid, exp, exp + seconds(1.5), "A's session read on B")
        self.wait_stored_error(sid, exp + seconds(1.5), "A's session (only B sweeps)")

        r = cb.create_session(item)
        self.assertStatus(r, 201, "create on B after expiry")
        self.assertEqual(self.get_session(cb, r.json).get("state"), "ACTIVE")


class ClockSkewTest(InstancesCase):
    """Session times come from Redis, not from the instance's clock."""

    TIMEOUT_S = 2
    NEAR = seconds(3)          # expiration_time within this of real now + timeout
    ON_TIME = seconds(1.5)     # ERROR within this after expiration_time

    def setUp(self):
        super().setUp()
        if shutil.which("faketime") is None:
            self.fail("faketime is not installed: cannot start the skewed instance "
                      "(apt-get install faketime)")
        out = subprocess.run(["faketime", "-f", FAKETIME_OFFSET, "date", "+%s"],
                             capture_output=True, timeout=30)
        if out.returncode != 0:
            self.fail("faketime does not run a program: %d %r" % (
                out.returncode, out.stderr[:500]))
        skew = int(out.stdout.decode().strip()) - time.time()
        if not 3500 <= skew <= 3700:
            self.fail("faketime -f %s shifted `date` by %.0f s, not an hour"
                      % (FAKETIME_OFFSET, skew))
        args = ["--session-timeout", str(self.TIMEOUT_S)]
        self.normal = self.server(args)
        try:
            self.skewed = self.server(args, cls=FakeTimeServer)
        except RuntimeError as e:
            self.fail("faketime could not run the server binary: %s" % e)
        pid = self.skewed.child_pid()
        if pid is None:
            self.fail("no server process under faketime:\n%s" % self.skewed.log())
        try:
            with open("/proc/%d/environ" % pid, "rb") as f:
                environ = f.read().split(b"\0")
        except OSError as e:
            self.fail("cannot read the environment of the faketime child %d: %s" % (pid, e))
        if not any(v.startswith(b"LD_PRELOAD=") and b"faketime" in v for v in environ):
            self.fail("the server process %d does not run with libfaketime preloaded" % pid)
        self.cn = self.normal.client("admin")
        try:
            self.cs = self.skewed.client("admin")
        except AssertionError as e:
            self.fail("the server under faketime does not serve a login: %s\n%s"
                      % (e, self.skewed.log()))
        self.lib = self.cn.make_library()

    def check(self, creator, readers):
        item = self.cn.make_item(self.lib)
        before = utcnow()
        r = creator.create_session(item)
        after = utcnow()
        self.assertStatus(r, 201, "create")
        sid = r.json
        exps = []
        for name, reader in readers:
            s = self.get_session(reader, sid, "get through the %s instance" % name)
            self.assertEqual(s.get("state"), "ACTIVE",
                             "read through the %s instance right after create: %r" % (name, s))
            exp = self.expiration(s)
            self.assertGreaterEqual(exp, before + seconds(self.TIMEOUT_S) - self.NEAR,
                                    "%s instance: expiration_time %s, created at %s"
                                    % (name, exp.isoformat(), before.isoformat()))
            self.assertLessEqual(exp, after + seconds(self.TIMEOUT_S) + self.NEAR,
                                 "%s instance: expiration_time %s, created at %s"
                                 % (name, exp.isoformat(), after.isoformat()))
            exps.append(exp)
        self.assertEqual(len(set(exps)), 1, "the instances disagree on expiration_time: %r"
                         % exps)
        exp = exps[0]
        first_name, first = readers[0]
        self.wait_expired(first, sid, exp, exp + self.ON_TIME,
                          "session read through the %s instance" % first_name)
        for name, reader in readers[1:]:
            s = self.get_session(reader, sid, "get through the %s instance" % name)
            self.assertExpiredMessage(s)
            self.assertEqual(self.expiration(s), exp)
        # The item is free again, through either instance.
        self.assertStatus(self.cs.create_session(item), 201, "create through the skewed one")

    def test_created_through_skewed_instance(self):
        self.check(self.cs, [("skewed", self.cs), ("normal", self.cn)])

    def test_created_through_normal_read_through_skewed(self):
        self.check(self.cn, [("skewed", self.cs), ("normal", self.cn)])


class TwoSweepersTest(InstancesCase):

    N = 200
    TIMEOUT_S = 1
    WITHIN = seconds(3)        # every session reads ERROR within this of its creation
    POLLERS = 16

    def test_two_instances_expire_each_session_once(self):
        args = ["--session-timeout", str(self.TIMEOUT_S)]
        a = self.server(args)
        b = self.server(args)
        ca = a.client("admin")
        cb = b.client("admin")
        lib = ca.make_library()
        items = [ca.make_item(lib) for _ in range(self.N)]

        problems = []          # every unexpected answer, from any thread
        expired = {}           # sid -> (time seen, session)
        lock = threading.Lock()
        work = queue.Queue()

        def note(msg):
            with lock:
                problems.append(msg)

        def poller():
            while True:
                job = work.get()
                if job is None:
                    return
                sid, created, client = job
                due = created + seconds(self.TIMEOUT_S)
                wait = (due - utcnow()).total_seconds()
                if wait > 0:
                    time.sleep(wait)
                limit = created + self.WITHIN
                while True:
                    t0 = utcnow()
                    try:
                        r = client.get(session_path(sid))
                        t1 = utcnow()
                    except OSError as e:
                        note("%s: get raised %r" % (sid, e))
                        break
                    if r.status != 200 or not isinstance(r.json, dict):
                        note("%s: get -> %d %r" % (sid, r.status, r.raw[:200]))
                        break
                    state = r.json.get("state")
                    if state == "ERROR":
                        try:
                            exp = parse_iso(r.json.get("expiration_time"))
                        except ValueError as e:
                            note("%s: %s" % (sid, e))
                            break
                        if t1 <= exp:
                            note("%s: ERROR before its expiration_time %s"
                                 % (sid, exp.isoformat()))
                        if t0 > limit:
                            note("%s: ERROR first seen %.2f s after creation"
                                 % (sid, (t0 - created).total_seconds()))
                        with lock:
                            expired[sid] = (t0, r.json)
                        break
                    if state != "ACTIVE":
                        note("%s: state %r" % (sid, state))
                        break
                    if t0 > limit:
                        note("%s: still ACTIVE %.2f s after creation"
                             % (sid, (t0 - created).total_seconds()))
                        break
                    time.sleep(0.05)

        threads = [threading.Thread(target=poller, daemon=True) for _ in range(self.POLLERS)]
        for t in threads:
            t.start()
        sids = []
        try:
            for i, item in enumerate(items):
                client = ca if i % 2 == 0 else cb
                created = utcnow()
                r = client.create_session(item)
                if r.status != 201 or not isinstance(r.json, str):
                    note("create %d -> %d %r" % (i, r.status, r.raw[:200]))
                    continue
                sids.append(r.json)
                # read through the other instance than the one that created it, half the time
                reader = client if i % 4 < 2 else (cb if client is ca else ca)
                work.put((r.json, created, reader))
        finally:
            for _ in threads:
                work.put(None)
            for t in threads:
                t.join(30)
        self.assertFalse(any(t.is_alive() for t in threads), "pollers did not finish")
        self.assertEqual(problems, [])
        self.assertEqual(len(sids), self.N)
        self.assertEqual(sorted(expired), sorted(sids))

        # Each is expired once, with the expiry message (never twice, never another error).
        messages = [s.get("error_message") for _, s in expired.values()]
        first = messages[0]
        self.assertIsInstance(first, dict)
        self.assertIn("expired", first.get("default_message", ""), first)
        for sid, (_, s) in expired.items():
            self.assertEqual(s.get("error_message"), first, "%s: %r" % (sid, s))

        # The sweepers recorded every expiry (not only the read rule does it).
        limit = utcnow() + seconds(3)
        for sid in sids:
            self.wait_stored_error(sid, limit, sid)

        # Later reads through either instance agree, and every item is free again.
        for i, (sid, item) in enumerate(zip(sids, items)):
            client = ca if i % 2 else cb
            s = self.get_session(client, sid)
            self.assertEqual(s.get("error_message"), first, "%s: %r" % (sid, s))
            r = client.create_session(item)
            self.assertStatus(r, 201, "create on item %d after expiry" % i)

        self.assertTrue(a.alive() and b.alive())


if __name__ == "__main__":
    import unittest
    unittest.main()
