"""tests/system/test_fleet.py: the fleet of issue 11, all real processes on loopback: three
update-sessiond instances (sharing one --storage-dir, one key prefix and the users) on a Redis
primary + replica + three Sentinels (sentinel_cluster.py), behind haproxy 2.6 run on
scripts/examples/haproxy.cfg itself (its addresses come from the environment, as fleet.sh
gives them).

  * One item, 64 creates at once: 64 threads, each with its own keep-alive connection through
    haproxy and its own login, create an update session on the same item behind a barrier;
    100 rounds, a new item each: exactly one 201 per round, the 63 others the documented
    500 RESOURCE_BUSY (/api), and every instance served some.
  * Rolling restart: threads keep creating items and sessions and reading them back through
    haproxy while each instance in turn gets SIGTERM (--drain-ms 1500; haproxy checks /readyz
    every 200 ms, fall 2), is seen DOWN by haproxy while it still drains, exits 0, starts again
    on its ports, answers /readyz 200 and is UP in haproxy again. Every request must be
    answered 2xx: none reset, closed unanswered, timed out or 5xx. Prints
    "[fleet] rolling restart: N requests, M lost". The clients keep their connections alive the
    careful way (harness.Client keep_alive: given up after 2 s idle, under haproxy's 10 s) and
    retry nothing, so any reset counts as lost.
  * scripts/fleet.sh itself (with the ASan build and a temp dir): prints its URL, serves a login
    and a create through haproxy, and after SIGTERM no process it started is left.

Skipped, saying why, only when haproxy is not installed at /usr/sbin/haproxy (scripts/deps.sh
installs it, so `make test` runs this)."""

import http.client
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from harness import (ROOT, STOP_TIMEOUT, USD_BIN, USERS, ApiTestCase, Client, Server, _tail,
                     free_port)
from sentinel_cluster import SentinelCluster
from test_files import wait_for

HAPROXY = "/usr/sbin/haproxy"
HAPROXY_CFG = os.path.join(ROOT, "scripts", "examples", "haproxy.cfg")
BACKEND = "update_sessiond"    # the backend's name in haproxy.cfg
CHECK_INTER_MS = 200           # USD_CHECK_INTER; haproxy.cfg: fall 2, rise 2
DRAIN_MS = 1500                # > fall x inter + a check's timeout, with room for a busy box
CLIENT_IDLE_S = 2.0            # a kept connection idle longer is given up (haproxy: 10 s)
ROUNDS = 100
CONCURRENCY = 64
LOAD_THREADS = 4
UP_WAIT_S = 15.0

FAILED = (OSError, http.client.HTTPException)


def say(text):
    sys.stderr.write("\n  " + text + "\n")
    sys.stderr.flush()


class Haproxy:
    """haproxy -db on scripts/examples/haproxy.cfg, fronting `servers` (harness.Server, each
    started with --admin-listen 127.0.0.1:admin_ports[i]), with its stats socket in a temp
    dir. The config is checked (haproxy -c) before the start."""

    def __init__(self, servers, admin_ports):
        self.dir = tempfile.mkdtemp(prefix="usd-haproxy-")
        self.port = free_port()
        self.sock = os.path.join(self.dir, "haproxy.sock")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        env = dict(os.environ, USD_FRONTEND="127.0.0.1:%d" % self.port,
                   USD_CHECK_INTER="%dms" % CHECK_INTER_MS, USD_HAPROXY_SOCK=self.sock,
                   USD_HAPROXY_LOG="stdout")
        for i, (s, a) in enumerate(zip(servers, admin_ports)):
            env["USD_%d" % (i + 1)] = "127.0.0.1:%d" % s.port
            env["USD_%d_ADMIN" % (i + 1)] = str(a)
        check = subprocess.run([HAPROXY, "-c", "-f", HAPROXY_CFG], env=env, capture_output=True,
                               timeout=30)
        if check.returncode != 0:
            raise RuntimeError("haproxy -c refuses %s:\n%s" % (HAPROXY_CFG, check.stdout.decode()
                                                               + check.stderr.decode()))
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", HAPROXY_CFG], env=env, stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        try:
            self.wait_all("UP")
        except BaseException:
            self.destroy()
            raise

    def command(self, line):
        """One command on the stats socket; its whole answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5.0)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out.decode()
                out += chunk

    def servers(self):
        """{server name: row} of the backend, from `show stat` (CSV, header "# pxname,...")."""
        lines = self.command("show stat").splitlines()
        head = lines[0].lstrip("# ").split(",")
        rows = (dict(zip(head, line.split(","))) for line in lines[1:] if line)
        return {r["svname"]: r for r in rows
                if r["pxname"] == BACKEND and r["svname"] not in ("FRONTEND", "BACKEND")}

    def status(self, name):
        try:
            return self.servers()[name]["status"]
        except (OSError, KeyError, IndexError):
            return None

    def wait_status(self, name, want, timeout=UP_WAIT_S):
        """Until haproxy reports server `name` in state `want` ("UP", "DOWN")."""
        if not wait_for(lambda: self.status(name) == want, timeout, 0.02):
            raise AssertionError("haproxy: %s is %s, not %s, after %.0f s:\n%s" % (
                name, self.status(name), want, timeout, _tail(self.log_path, 20)))

    def wait_all(self, want, timeout=UP_WAIT_S):
        for i in range(3):
            self.wait_status("usd%d" % (i + 1), want, timeout)

    def destroy(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


def ready(admin_port):
    try:
        return Client(admin_port, timeout=1.0).get("/readyz", auth=False).status == 200
    except FAILED:
        return False


@unittest.skipUnless(os.access(HAPROXY, os.X_OK),
                     "haproxy is not installed at %s (scripts/deps.sh installs Debian's)" % HAPROXY)
class FleetTest(ApiTestCase):
    """One fleet for the class: the cluster, three instances, haproxy."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # class cleanups run last-registered first, also when this method fails half way
        cls.cluster = SentinelCluster(replicas=1)
        cls.addClassCleanup(cls.cluster.destroy)
        cls.servers = []
        cls.addClassCleanup(cls.stop_servers)
        cls.admin_ports = [free_port() for _ in range(3)]
        for a in cls.admin_ports:
            first = cls.servers[0] if cls.servers else None
            cls.servers.append(Server(
                redis=cls.cluster.redis[0],
                args=["--redis", cls.cluster.url, "--admin-listen", "127.0.0.1:%d" % a,
                      "--drain-ms", str(DRAIN_MS)],
                prefix=first.prefix if first else None,
                storage_dir=first.storage_dir if first else None))
        for a in cls.admin_ports:
            if not wait_for(lambda: ready(a), UP_WAIT_S):
                raise AssertionError("an instance is not ready on admin port %d" % a)
        cls.haproxy = Haproxy(cls.servers, cls.admin_ports)
        cls.addClassCleanup(cls.haproxy.destroy)

    @classmethod
    def stop_servers(cls):
        """SIGINT to all (at once, no drain), then each must have exited 0."""
        for s in cls.servers:
            if s.alive():
                s.proc.send_signal(signal.SIGINT)
        try:
            for s in cls.servers:
                # exited first, so stop() only checks the exit code: its SIGTERM would reach a
                # process already tearing down its signal handling
                if s.proc is not None:
                    s.proc.wait(STOP_TIMEOUT)
                s.stop()
        finally:
            for s in cls.servers:
                s.kill9()
                s.cleanup()

    def client(self):
        """A logged-in admin whose connection through haproxy stays open between requests."""
        c = Client(self.haproxy.port, keep_alive=CLIENT_IDLE_S)
        c.login("admin", USERS["admin"][0])
        return c

    def served(self):
        """Requests each instance got through haproxy (stot, by server name)."""
        return {name: int(row["stot"]) for name, row in self.haproxy.servers().items()}

    def test_one_create_wins_per_round(self):
        admin = self.client()
        self.addCleanup(admin.close)
        lib = admin.make_library()
        items = [admin.make_item(lib) for _ in range(ROUNDS)]
        results = [[None] * CONCURRENCY for _ in range(ROUNDS)]
        barrier = threading.Barrier(CONCURRENCY, timeout=60)
        errors = []
        before = self.served()

        def worker(k):
            try:
                c = self.client()
                for r in range(ROUNDS):
                    barrier.wait()
                    try:
                        resp = c.create_session(items[r])
                        err = resp.json.get("error_type") if isinstance(resp.json, dict) else None
                        results[r][k] = (resp.status, err, resp.json if resp.status == 201 else None)
                    except FAILED as e:
                        results[r][k] = ("failed: %r" % e, None, None)
                c.close()
            except BaseException as e:  # a login that failed, a broken barrier
                errors.append(repr(e))
                barrier.abort()

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(k,)) for k in range(CONCURRENCY)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        took = time.monotonic() - t0
        self.assertFalse(any(t.is_alive() for t in threads), "worker threads still running")
        self.assertEqual(errors, [])

        bad = []
        for r, answers in enumerate(results):
            won = [a[2] for a in answers if a[0] == 201]
            busy = [a for a in answers if a[:2] == (500, "RESOURCE_BUSY")]
            if len(won) != 1 or len(busy) != CONCURRENCY - 1:
                other = sorted({str(a[:2]) for a in answers if a[0] != 201 and a not in busy})
                bad.append("round %d: %d x 201, %d x RESOURCE_BUSY, others %s"
                           % (r, len(won), len(busy), other))
                continue
            listed = admin.list_sessions(items[r])
            if listed.status != 200 or listed.json != won:
                bad.append("round %d: the item lists %r, the 201 said %r" % (r, listed.json, won))
        self.assertEqual(bad, [], "%d of %d rounds wrong" % (len(bad), ROUNDS))
        after = self.served()
        spread = {n: after[n] - before.get(n, 0) for n in after}
        say("[fleet] %d rounds x %d concurrent creates through haproxy: %.1f s; requests per "
            "instance %s" % (ROUNDS, CONCURRENCY, took, spread))
        for name, n in spread.items():
            self.assertGreater(n, 0, "haproxy sent %s nothing: %r" % (name, spread))

    def test_rolling_restart_loses_nothing(self):
        admin = self.client()
        self.addCleanup(admin.close)
        lib = admin.make_library()
        stop = threading.Event()
        records = []  # (monotonic time, operation, status or "failed: ...")
        errors = []

        def load():
            try:
                c = self.client()
            except BaseException as e:
                errors.append("login: %r" % e)
                return
            while not stop.is_set():
                for op in ("item", "session", "get"):
                    try:
                        if op == "item":
                            r = c.post("/api/content/library/item",
                                       {"library_id": lib, "name": "roll-%d" % time.monotonic_ns(),
                                        "type": ""})
                            item = r.json
                        elif op == "session":
                            r = c.create_session(item)
                            sid = r.json
                        else:
                            r = c.get("/api/content/library/item/update-session/%s" % sid)
                        status = r.status
                    except FAILED as e:
                        status = "failed: %r" % e
                    records.append((time.monotonic(), op, status))
                    if status not in (200, 201):
                        break  # the next step needs this one's answer
                time.sleep(0.005)
            c.close()

        threads = [threading.Thread(target=load) for _ in range(LOAD_THREADS)]
        for t in threads:
            t.start()
        events = []
        try:
            time.sleep(1.0)
            for i, s in enumerate(self.servers):
                name = "usd%d" % (i + 1)
                t0 = time.monotonic()
                s.proc.send_signal(signal.SIGTERM)
                events.append((t0, name + " SIGTERM"))
                self.haproxy.wait_status(name, "DOWN", DRAIN_MS / 1000.0)
                events.append((time.monotonic(), name + " DOWN in haproxy"))
                self.assertIsNone(s.proc.poll(), "%s exited before haproxy took it out" % name)
                s.proc.wait(DRAIN_MS / 1000.0 + 15)
                events.append((time.monotonic(), name + " exited"))
                s.stop(cleanup=False)  # exit code 0 (ASan: no leak), keeps its files
                s.start()
                self.assertTrue(wait_for(lambda: ready(self.admin_ports[i]), UP_WAIT_S),
                                "%s not ready after its restart:\n%s" % (name, s.log()))
                self.haproxy.wait_status(name, "UP")
                events.append((time.monotonic(), name + " UP again"))
                time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        self.assertEqual(errors, [])
        lost = [rec for rec in records if not isinstance(rec[2], int) or rec[2] >= 500]
        unexpected = [rec for rec in records if rec[2] not in (200, 201)]
        say("[fleet] rolling restart: %d requests, %d lost" % (len(records), len(lost)))
        if unexpected:
            t_ref = events[0][0]
            timeline = ["%+.3f %s" % (t - t_ref, what) for t, what in events]
            detail = ["%+.3f %s %s" % (t - t_ref, op, st) for t, op, st in unexpected[:20]]
            self.fail("%d of %d requests not answered 2xx:\n%s\nevents:\n%s\nhaproxy:\n%s" % (
                len(unexpected), len(records), "\n".join(detail), "\n".join(timeline),
                _tail(self.haproxy.log_path, 30)))
        for what in ("item", "session", "get"):
            self.assertGreater(sum(1 for rec in records if rec[1] == what), 10, what)


def alive(pid):
    """pid runs (a zombie does not count)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return not re.search(r"^State:\s+Z", f.read(), re.M)
    except OSError:
        return False


def processes_mentioning(text):
    """Pids of the processes whose command line contains text."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmd and alive(int(name)):
            out.append((int(name), cmd))
    return out


@unittest.skipUnless(os.access(HAPROXY, os.X_OK),
                     "haproxy is not installed at %s (scripts/deps.sh installs Debian's)" % HAPROXY)
class FleetScriptTest(ApiTestCase):
    """scripts/fleet.sh, started as `make fleet` starts it, then stopped with SIGTERM."""

    START_S = 90.0   # nine processes, three of them ASan builds, on a shared 2-core box

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="usd-fleet-")
        self.pids = {}
        self.proc = subprocess.Popen(
            ["bash", os.path.join(ROOT, "scripts", "fleet.sh")], cwd=ROOT,
            env=dict(os.environ, USD_BIN=USD_BIN, USD_FLEET_DIR=self.dir),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.lines = queue.Queue()
        self.output = []
        self.reader = threading.Thread(target=self.read_output, daemon=True)
        self.reader.start()

    def read_output(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def tearDown(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        for pid in self.pids.values():  # whatever a failed run left
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        self.reader.join(10)
        self.proc.stdout.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait_url(self):
        deadline = time.monotonic() + self.START_S
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self.fail("fleet.sh exited (%s) before printing its URL:\n%s"
                          % (self.proc.wait(5), "".join(self.output)))
            m = re.search(r"fleet running at (http://127\.0\.0\.1:(\d+))", line)
            if m:
                return m.group(1), int(m.group(2))
        self.fail("fleet.sh printed no URL within %.0f s:\n%s" % (self.START_S,
                                                                 "".join(self.output)))

    def test_fleet_script_serves_and_stops_everything(self):
        url, port = self.wait_url()
        with open(os.path.join(self.dir, "pids")) as f:
            self.pids = {name: int(pid) for name, pid in (line.split() for line in f)}
        self.assertEqual(sorted(self.pids), sorted(
            ["redis-primary", "redis-replica", "sentinel1", "sentinel2", "sentinel3", "usd1",
             "usd2", "usd3", "haproxy"]))
        for name, pid in self.pids.items():
            self.assertTrue(alive(pid), "%s (pid %d) is not running" % (name, pid))
        self.assertIn("Login: admin / ", "".join(self.output))

        with open(os.path.join(self.dir, "admin-password")) as f:
            password = f.read().strip()
        c = Client(port)
        c.login("admin", password)
        _, item = c.make_library_item()
        r = c.create_session(item)
        self.assertStatus(r, 201, "create through haproxy at %s" % url)

        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(60)
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, "".join(self.output))
        left = {name: pid for name, pid in self.pids.items() if alive(pid)}
        self.assertEqual(left, {}, "still running after fleet.sh stopped")
        self.assertEqual(processes_mentioning(self.dir), [], "processes using the fleet dir")
        self.assertIn("fleet: stopped", "".join(self.output))
        self.assertFalse(os.path.exists(os.path.join(self.dir, "pids")))
        say("[fleet] fleet.sh stopped its 9 processes in %.1f s" % took)


if __name__ == "__main__":
    unittest.main()
