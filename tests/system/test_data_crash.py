"""Crash injection (issue 8): the sanitizer build ($USD_BIN, -DUSD_FAULTS) kills itself with
SIGKILL at a named point when started with USD_FAULT=<point>[:<n>] (net/data/fault.h). For every
point, for PUSH and PULL where it applies, an instance A (with the fault) and an instance B
(without) share one Redis key prefix and one --storage-dir; the job is driven through A until A
dies at the point, finished through B, and once the janitor and the scan have run (short
intervals, --orphan-grace-s 2) tests/system/invariants.py must find nothing wrong: every
published file on disk with its size and checksum, no item locked without an ACTIVE session, no
ACTIVE session past its deadline, no unreferenced blob, an empty garbage list. The expected end
state (content_version, the published checksum equal to the source's) is checked too.

  after_link     complete linked, the publish script never ran: complete again through B (PULL:
                 the complete the pull's end ran; B must also finish it with no client retry)
  after_publish  the session is DONE, the staging directory is on the garbage list: B drains it
  mid_upload     PUSH, in a PUT or a PATCH: after the lease, B resumes with HEAD + PATCH, or
                 restarts with PUT; or B removes and adds the file again, or cancels; or
                 nobody resumes: the session expires and its staged bytes go
  mid_pull       PULL: after the lease the file reads ERROR; B adds it again and completes
                 (also a kill -9 of the puller while complete is requested)
  before_unlink  A's janitor took a batch and died: the entries are only on disk; B's scan
  in_janitor     A's janitor died after the first delete of a batch; B's scan finds the rest
                 (for these two a setup instance publishes the item's first version and is
                 stopped; A's complete of the second version makes a two-entry batch)

Also: the race of issue 1 made deterministic: an upload ending between complete's list and its
publish script (Redis frozen while both queue on the instance's one connection, in that order;
MONITOR proves the order the scripts ran in), and a re-upload in flight at complete (refused,
nothing published; after it ends, complete publishes the new blob); a stale link left by a crash
that must never be published; complete racing re-uploads on two instances; and a test of the
invariant checker itself against a hand-made broken state.

The checker's result per case is printed at the end of the module (stderr)."""

import hashlib
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import invariants  # noqa: E402
from harness import (Client, RedisServer, Response, Server, session_path,  # noqa: E402
                     _tail)
from test_files import (FilesCase, OpenUpload, blob, checksum_spec, files_path,  # noqa: E402
                        push_spec, upload, upload_target, wait_for)
from test_pull import SourceServer, pull_spec  # noqa: E402

KIB = 1024
MIB = 1 << 20
LEASE_MS = 1000
SESSION_TIMEOUT_S = 8
SWEEP_MS = 250
COMMON_ARGS = ["--transfer-lease-ms", str(LEASE_MS), "--janitor-interval-ms", "200",
               "--scan-interval-s", "1", "--orphan-grace-s", "2",
               "--session-timeout", str(SESSION_TIMEOUT_S), "--sweep-interval-ms", str(SWEEP_MS),
               "--pull-allow", "127.0.0.1/32"]  # the PULL sources run on loopback
DEATH_WAIT_S = 15.0        # A reaches its fault point within this
LAPSE_WAIT_S = LEASE_MS / 1000.0 + 5.0
SETTLE_S = 15.0            # the invariants hold within this after recovery
PULL_WAIT_S = 20.0
TERMINAL = ("DONE", "ERROR", "CANCELED")

RESULTS = {}               # case -> the checker's last answer ([] = all invariants hold)


def tearDownModule():
    if RESULTS:
        sys.stderr.write("\n  [crash injection] invariant checker per case:\n")
        for case in sorted(RESULTS):
            v = RESULTS[case]
            sys.stderr.write("    %-44s %s\n" % (case, "OK []" if not v else
                                                   "%d violation(s): %s" % (len(v), v)))


def full_log(srv):
    try:
        with open(srv.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def via(uri, port):
    """The upload URI as served by the instance on port (same path)."""
    _, _, path = upload_target(uri)
    return "http://127.0.0.1:%d%s" % (port, path)


def head(uri, port):
    """HEAD on an upload URI through the instance on port."""
    _, _, path = upload_target(uri)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("HEAD", path)
        resp = conn.getresponse()
        resp.read()
        return Response(resp.status, None, b"", resp.headers)
    finally:
        conn.close()


def patch(uri, port, offset, data, complete=True):
    """PATCH (resumable upload) of data at offset through the instance on port."""
    _, _, path = upload_target(uri)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("PATCH", path, body=bytes(data), headers={
            "Upload-Offset": str(offset), "Content-Type": "application/partial-upload",
            "Upload-Complete": "?1" if complete else "?0"})
        resp = conn.getresponse()
        raw = resp.read()
        try:
            js = json.loads(raw.decode()) if raw else None
        except ValueError:
            js = None
        return Response(resp.status, js, raw, resp.headers)
    finally:
        conn.close()


def session_record(redis, prefix, sid):
    item, _, uuid = sid.rpartition(":")
    flat = redis.command("HGETALL", "%s{%s}:s:%s" % (prefix, item, uuid)) or []
    dec = [x.decode() if isinstance(x, bytes) else str(x) for x in flat]
    return dict(zip(dec[0::2], dec[1::2]))


def session_file_record(redis, prefix, sid, name):
    item, _, uuid = sid.rpartition(":")
    raw = redis.command("HGET", "%s{%s}:s:%s:files" % (prefix, item, uuid), name)
    return json.loads(raw.decode()) if raw else None


def item_file_record(redis, prefix, item, name):
    raw = redis.command("HGET", "%s{%s}:files" % (prefix, item), name)
    return json.loads(raw.decode()) if raw else None


class Monitor(threading.Thread):
    """Redis MONITOR on a private Redis: every command, with the client's address. Scripts are
    recognised by the SHA-1 of the bodies their SCRIPT LOAD carried (their "-- <name>.lua:"
    header), so the order in which Redis ran them can be checked."""

    ARG = re.compile(r'"((?:[^"\\]|\\.)*)"')
    ESC = {"n": b"\n", "r": b"\r", "t": b"\t", "a": b"\a", "b": b"\b", "\\": b"\\",
           '"': b'"'}

    def __init__(self, redis):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", redis.port), timeout=None)
        self.sock.sendall(b"*1\r\n$7\r\nMONITOR\r\n")
        self.f = self.sock.makefile("rb")
        if not self.f.readline().startswith(b"+OK"):
            raise RuntimeError("MONITOR refused")
        self.lines = []
        self.start()

    def run(self):
        try:
            for line in self.f:
                self.lines.append(line.decode("latin-1").rstrip("\r\n"))
        except (OSError, ValueError):
            pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    @classmethod
    def unescape(cls, text):
        out, i = bytearray(), 0
        while i < len(text):
            c = text[i]
            if c == "\\" and i + 1 < len(text):
                n = text[i + 1]
                if n == "x":
                    out.append(int(text[i + 2:i + 4], 16))
                    i += 4
                    continue
                out += cls.ESC.get(n, n.encode("latin-1"))
                i += 2
                continue
            out += c.encode("latin-1")
            i += 1
        return bytes(out)

    def commands(self):
        """[(client address, [args as bytes])] in the order Redis ran them."""
        out = []
        for line in list(self.lines):
            m = re.match(r"^\+\S+ \[\d+ ([^\]]+)\] (.*)$", line)
            if m:
                out.append((m.group(1), [self.unescape(x) for x in self.ARG.findall(m.group(2))]))
        return out

    def script_calls(self, needle):
        """Names of the scripts run (EVALSHA) whose arguments contain needle, in order."""
        names = {}
        cmds = self.commands()
        for _, args in cmds:
            if len(args) == 3 and args[0].upper() == b"SCRIPT" and args[1].upper() == b"LOAD":
                found = [n for n in re.findall(rb"-- (\w+)\.lua:", args[2])
                         if n not in (b"prelude", b"session_lib")]
                if found:
                    names[hashlib.sha1(args[2]).hexdigest()] = found[0].decode()
        out = []
        for _, args in cmds:
            if args and args[0].upper() == b"EVALSHA" and any(needle in a for a in args[1:]):
                out.append(names.get(args[1].decode(), args[1].decode()[:8]))
        return out


class CrashCase(FilesCase):
    """Per test: a fresh key prefix and storage directory on the shared Redis; servers started
    with start() share them and are stopped at the end (exit 0 required) unless they died at
    their fault point as expected."""

    source = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.source = SourceServer()

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.source is not None:
                cls.source.stop()
        finally:
            super().tearDownClass()

    def setUp(self):
        self.redis = RedisServer.shared()
        self.prefix = "usdt-crash-%s:" % secrets.token_hex(6)
        self.storage = tempfile.mkdtemp(prefix="usd-crash-storage-")
        self.addCleanup(shutil.rmtree, self.storage, True)
        self.servers = []
        self.case = None

    def start(self, fault=None, args=()):
        srv = Server(redis=self.redis, prefix=self.prefix, storage_dir=self.storage,
                     args=COMMON_ARGS + list(args), start=False,
                     env={"USD_FAULT": fault} if fault else None)
        srv.fault = fault
        srv.died = False
        self.servers.append(srv)
        self.addCleanup(self._finish, srv)
        try:
            srv.start()
        except RuntimeError:
            # A janitor point may be reached before the port opens.
            if not (fault and "fault point" in full_log(srv)):
                raise
        return srv

    def _finish(self, srv):
        if srv.died:
            srv.proc = None
            srv.cleanup()
            return
        srv.stop()

    def diag(self):
        out = []
        for srv in self.servers:
            out.append("--- %s (port %d, USD_FAULT=%s) ---\n%s" % (
                "A" if srv.fault else "server", srv.port, srv.fault, _tail(srv.log_path, 40)))
        return "\n".join(out)

    def dying(self, fn, *args, **kw):
        """Runs a request that the instance may not answer (it dies): the Response, or the
        exception it raised."""
        try:
            return fn(*args, **kw)
        except (http.client.HTTPException, OSError) as e:
            return e

    def wait_dead(self, srv, timeout=DEATH_WAIT_S):
        """srv reached its fault point: it exited by SIGKILL and its log says so."""
        deadline = time.monotonic() + timeout
        while srv.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        rc = srv.proc.poll()
        if rc is None:
            self.fail("instance with USD_FAULT=%s still alive after %.0f s\n%s"
                      % (srv.fault, timeout, self.diag()))
        srv.died = True
        self.assertEqual(rc, -signal.SIGKILL, "USD_FAULT=%s: exit %r, want SIGKILL\n%s"
                         % (srv.fault, rc, self.diag()))
        self.assertIn("fault point", full_log(srv), "USD_FAULT=%s: the log does not say "
                      "the fault point was reached\n%s" % (srv.fault, self.diag()))

    def settle(self, case, timeout=SETTLE_S):
        """Waits until the invariants hold (janitor and scan done); records and checks."""
        deadline = time.monotonic() + timeout
        while True:
            v = invariants.check(self.redis, self.prefix, self.storage, sweep_ms=SWEEP_MS)
            if not v or time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        RESULTS[case] = v
        self.assertEqual(v, [], "%s: invariants after recovery (waited %.0f s)\n%s"
                         % (case, timeout, self.diag()))

    def clients(self, a, b):
        ca = a.client("admin")
        return ca, Client(b.port, token=ca.token)

    def assertPublished(self, client, item, expected, content_version):
        """The item's files are exactly expected ({name: bytes}) and its content_version."""
        files = self.item_files(client, item)
        self.assertEqual(set(files), set(expected), files)
        for name, data in expected.items():
            self.assertEqual(files[name]["size"], len(data), files[name])
            self.assertChecksum(files[name].get("checksum_info"), data)
        self.assertEqual(self.item(client, item).get("content_version"), content_version)

    def add_pull(self, client, sid, name, path, data, **route):
        self.source.add(path, data, **route)
        return self.add(client, sid, pull_spec(name, self.source.url(path),
                                               checksum_info=checksum_spec(data, "SHA256")))


# ---------------------------------------------------------------------------------------------
# complete: after_link, after_publish
# ---------------------------------------------------------------------------------------------

class CompleteCrashTest(CrashCase):

    def test_after_link_push(self):
        a = self.start("after_link")
        b = self.start()
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        data = blob(300 * KIB)
        self.push(ca, sid, "f.bin", data)
        staged = session_file_record(self.redis, self.prefix, sid, "f.bin")["blob"]
        self.dying(ca.post, session_path(sid, "complete"))
        self.wait_dead(a)
        # A linked the blob into the item's directory; the publish script never ran: the
        # session is ACTIVE, the item unchanged.
        self.assertTrue(os.path.isfile(os.path.join(self.storage, "items", item, staged)),
                        "A died after linking: the link is on disk")
        self.assertEqual(self.state(cb, sid), "ACTIVE")
        self.assertPublished(cb, item, {}, "1")
        self.assertStatus(cb.post(session_path(sid, "complete")), 204, "complete through B")
        self.assertEqual(self.state(cb, sid), "DONE")
        self.assertPublished(cb, item, {"f.bin": data}, "2")
        self.settle("after_link/PUSH")

    def test_after_publish_push(self):
        a = self.start("after_publish")
        b = self.start()
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        data, other = blob(200 * KIB), blob(5 * KIB)
        self.push(ca, sid, "f.bin", data)
        self.push(ca, sid, "g.bin", other)
        self.dying(ca.post, session_path(sid, "complete"))
        self.wait_dead(a)
        self.assertEqual(self.state(cb, sid), "DONE")
        self.assertPublished(cb, item, {"f.bin": data, "g.bin": other}, "2")
        self.settle("after_publish/PUSH")

    def pull_completed_by_transfer_end(self, fault):
        """A PULL runs on A; complete is requested through A while it runs (the session stays
        ACTIVE); the gate opens, A records the pull's end and runs the complete itself, and dies
        at `fault`."""
        a = self.start(fault)
        b = self.start()
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        data = blob(MIB + 5)
        path = "/%s-%s.bin" % (fault.partition(":")[0], secrets.token_hex(4))
        route = self.source.add(path, data, gate_after=256 * KIB)
        try:
            self.add(ca, sid, pull_spec("p.bin", self.source.url(path),
                                        checksum_info=checksum_spec(data, "SHA256")))
            self.assertTrue(route.started.wait(10), "A never fetched the source")
            r = ca.post(session_path(sid, "complete"))
            self.assertStatus(r, 204, "complete requested while the pull runs")
            self.assertTrue(a.alive(), "A died at the requested complete, before the pull "
                            "ended\n" + self.diag())
            self.assertEqual(self.state(cb, sid), "ACTIVE")
        finally:
            route.gate.set()
        self.wait_dead(a)
        return a, b, ca, cb, item, sid, data

    def test_after_link_pull(self):
        # after_link is passed by every publish attempt: the first is the requested complete
        # (nothing linked yet), the second the one the pull's end runs.
        _, _, _, cb, item, sid, data = self.pull_completed_by_transfer_end("after_link:2")
        # The pull ended READY, the complete it triggered never reached the script.
        self.assertEqual(self.state(cb, sid), "ACTIVE")
        self.assertEqual(self.file(cb, sid, "p.bin")["status"], "READY")
        self.assertPublished(cb, item, {}, "1")
        self.assertStatus(cb.post(session_path(sid, "complete")), 204, "complete through B")
        s = self.wait_session(cb, sid, TERMINAL, PULL_WAIT_S)
        self.assertEqual(s["state"], "DONE", s)
        self.assertPublished(cb, item, {"p.bin": data}, "2")
        self.settle("after_link/PULL")

    def test_after_link_pull_completes_without_the_client(self):
        """The client's complete was answered 204 (requested: a PULL ran); the instance that
        ended the pull died in the complete it then ran (after_link). The client now only
        polls for DONE or ERROR: some instance must finish the complete by itself (every file
        is READY, no transfer runs) within the lease plus a sweep, not leave the session ACTIVE
        and frozen until it expires (bugs-from-tests.md #2)."""
        _, _, _, cb, item, sid, data = self.pull_completed_by_transfer_end("after_link:2")
        s = self.wait_session(cb, sid, TERMINAL, LEASE_MS / 1000.0 + 4,
                              what="session whose server-side complete died")
        self.assertEqual(s["state"], "DONE", s)
        self.assertPublished(cb, item, {"p.bin": data}, "2")
        self.settle("after_link/PULL (no client retry)")

    def test_after_publish_pull(self):
        _, _, _, cb, item, sid, data = self.pull_completed_by_transfer_end("after_publish")
        self.assertEqual(self.state(cb, sid), "DONE")
        self.assertPublished(cb, item, {"p.bin": data}, "2")
        self.settle("after_publish/PULL")


# ---------------------------------------------------------------------------------------------
# movers: mid_upload, mid_pull
# ---------------------------------------------------------------------------------------------

class MoverCrashTest(CrashCase):

    SIZE = 2 * MIB
    CHUNK = 64 * KIB

    def upload_until_dead(self, a, uri, data):
        """Streams data to A in chunks (a pause after the first ones, so a heartbeat records a
        durable prefix) until A dies; returns the bytes sent."""
        up = OpenUpload(uri, len(data))
        sent = 0
        try:
            while sent < len(data) and a.proc.poll() is None:
                up.send(data[sent:sent + self.CHUNK])
                sent += self.CHUNK
                time.sleep(0.6 if sent <= 2 * self.CHUNK else 0.05)
        except OSError:
            pass
        finally:
            up.close()
        return min(sent, len(data))

    def killed_mid_upload(self, probe_busy=False, wait_lapse=True):
        a = self.start("mid_upload")
        b = self.start()
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        data = blob(self.SIZE)
        info = self.add(ca, sid, push_spec("up.bin", size=len(data),
                                           checksum_info=checksum_spec(data, "SHA256")))
        uri = info["upload_endpoint"]["uri"]
        sent = self.upload_until_dead(a, uri, data)
        self.wait_dead(a)
        t_dead = time.monotonic()
        if probe_busy:
            # A died right after a successful heartbeat: its lease lives ~LEASE_MS more.
            r = upload(uri, data, port=b.port)
            if time.monotonic() - t_dead < LEASE_MS / 1000.0 / 2:
                self.assertApiError(r, 409, "RESOURCE_BUSY",
                                    what="PUT through B while A's lease still runs")
            else:
                sys.stderr.write("\n  [mid_upload] too slow to probe the live lease (%.2f s)\n"
                                 % (time.monotonic() - t_dead))
        if wait_lapse:
            # Once A's lease lapses the file reads WAITING_FOR_TRANSFER (resumable) through B.
            f = self.wait_file(cb, sid, "up.bin", ("WAITING_FOR_TRANSFER",), LAPSE_WAIT_S)
            self.assertLessEqual(f["bytes_transferred"], sent, f)
        return b, cb, item, sid, data, uri, sent

    def test_mid_upload_resume_head_patch(self):
        b, cb, item, sid, data, uri, sent = self.killed_mid_upload()
        h = head(uri, b.port)
        self.assertEqual(h.status, 204, "HEAD through B: %d %r" % (h.status, dict(h.headers)))
        self.assertEqual(h.headers.get("Upload-Complete"), "?0", dict(h.headers))
        self.assertEqual(h.headers.get("Upload-Length"), str(len(data)), dict(h.headers))
        self.assertIn("no-store", h.headers.get("Cache-Control", ""), dict(h.headers))
        offset = int(h.headers.get("Upload-Offset", "-1"))
        self.assertTrue(0 <= offset <= sent, "Upload-Offset %d, sent %d" % (offset, sent))
        self.assertLessEqual(offset, self.file(cb, sid, "up.bin")["bytes_transferred"])
        sys.stderr.write("\n  [mid_upload] sent %d bytes before the kill; HEAD through B says "
                         "Upload-Offset %d\n" % (sent, offset))
        # A PATCH from another offset is refused with the server's offset; nothing changes.
        r = patch(uri, b.port, offset + 1, data[offset + 1:])
        self.assertEqual(r.status, 409, "PATCH from the wrong offset: %d %r" % (
            r.status, r.raw[:300]))
        self.assertEqual(r.headers.get("Upload-Offset"), str(offset), dict(r.headers))
        self.assertEqual(head(uri, b.port).headers.get("Upload-Offset"), str(offset))
        r = patch(uri, b.port, offset, data[offset:])
        self.assertIn(r.status, (200, 201, 204), "PATCH from %d through B: %d %r\n%s"
                      % (offset, r.status, r.raw[:300], self.diag()))
        f = self.wait_file(cb, sid, "up.bin", ("READY", "ERROR"))
        self.assertReady(f, data, "SHA256")
        self.assertStatus(cb.post(session_path(sid, "complete")), 204, "complete through B")
        self.assertPublished(cb, item, {"up.bin": data}, "2")
        self.settle("mid_upload/PUSH (HEAD+PATCH)")

    def test_mid_upload_restart_put(self):
        b, cb, item, sid, data, uri, _ = self.killed_mid_upload(probe_busy=True)
        r = upload(uri, data, port=b.port)
        self.assertStatus(r, 200, "PUT again through B after the lease lapsed")
        self.assertReady(self.wait_file(cb, sid, "up.bin", ("READY",)), data, "SHA256")
        self.assertStatus(cb.post(session_path(sid, "complete")), 204, "complete through B")
        self.assertPublished(cb, item, {"up.bin": data}, "2")
        self.settle("mid_upload/PUSH (PUT again)")

    def test_mid_upload_in_patch(self):
        """A is killed in a PATCH (the file's first bytes sent as a resumable upload); B resumes
        from HEAD's offset."""
        a = self.start("mid_upload")
        b = self.start()
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        data = blob(self.SIZE)
        info = self.add(ca, sid, push_spec("up.bin", checksum_info=checksum_spec(data, "SHA256")))
        uri = info["upload_endpoint"]["uri"]
        host, port, path = upload_target(uri)
        sock = socket.create_connection((host, port), timeout=30)
        sent = 0
        try:
            sock.sendall(("PATCH %s HTTP/1.1\r\nHost: %s:%d\r\nUpload-Offset: 0\r\n"
                          "Upload-Complete: ?1\r\nContent-Type: application/partial-upload\r\n"
                          "Content-Length: %d\r\n\r\n" % (path, host, port, len(data))).encode())
            while sent < len(data) and a.proc.poll() is None:
                sock.sendall(data[sent:sent + self.CHUNK])
                sent += self.CHUNK
                time.sleep(0.6 if sent <= 2 * self.CHUNK else 0.05)
        except OSError:
            pass
        finally:
            sock.close()
        self.wait_dead(a)
        self.wait_file(cb, sid, "up.bin", ("WAITING_FOR_TRANSFER",), LAPSE_WAIT_S)
        h = head(uri, b.port)
        self.assertEqual(h.status, 204, dict(h.headers))
        self.assertEqual(h.headers.get("Upload-Complete"), "?0", dict(h.headers))
        self.assertIsNone(h.headers.get("Upload-Length"), "no declared size: %r"
                          % dict(h.headers))
        offset = int(h.headers.get("Upload-Offset", "-1"))
        self.assertTrue(0 <= offset <= sent, "Upload-Offset %d, sent %d" % (offset, sent))
        r = patch(uri, b.port, offset, data[offset:])
        self.assertIn(r.status, (200, 201, 204), "PATCH from %d through B: %d %r\n%s"
                      % (offset, r.status, r.raw[:300], self.diag()))
        self.assertReady(self.wait_file(cb, sid, "up.bin", ("READY", "ERROR")), data, "SHA256")
        self.assertStatus(cb.post(session_path(sid, "complete")), 204, "complete through B")
        self.assertPublished(cb, item, {"up.bin": data}, "2")
        self.settle("mid_upload/PUSH (in a PATCH, resumed)")

    def test_mid_upload_remove_add_again(self):
        """Issue 8 item 2: after A dies mid-PUT, B can remove the file at once (the lease does
        not block removal), add it again and upload it; complete publishes the new bytes."""
        b, cb, item, sid, data, uri, _ = self.killed_mid_upload(wait_lapse=False)
        r = cb.delete(files_path(sid, "up.bin"))
        self.assertStatus(r, 204, "remove through B while A's lease may still run")
        data2 = blob(100 * KIB)
        info = self.add(cb, sid, push_spec("up.bin"), what="add again through B")
        self.assertStatus(upload(info["upload_endpoint"]["uri"], data2), 200, "upload via B")
        self.assertReady(self.wait_file(cb, sid, "up.bin", ("READY",)), data2)
        self.assertStatus(cb.post(session_path(sid, "complete")), 204, "complete through B")
        self.assertPublished(cb, item, {"up.bin": data2}, "2")
        self.settle("mid_upload/PUSH (removed, added again)")

    def test_mid_upload_then_cancel(self):
        """After A dies mid-PUT, cancel through B ends the session at once; the durable
        prefix goes."""
        b, cb, item, sid, data, uri, _ = self.killed_mid_upload(wait_lapse=False)
        self.end_session(cb, sid, "cancel")
        self.assertEqual(self.state(cb, sid), "CANCELED")
        r = upload(uri, data, port=b.port)
        self.assertTrue(400 <= r.status < 500, "upload after cancel: %d %r"
                        % (r.status, r.raw[:300]))
        self.assertPublished(cb, item, {}, "1")
        self.settle("mid_upload/PUSH (cancelled)")

    def test_mid_upload_abandoned_expires(self):
        """Nobody resumes the upload A was killed in: the session expires (B's sweeper), the
        item is unlocked, the durable prefix is discarded."""
        args = ["--session-timeout", "2"]
        a = self.start("mid_upload", args)
        b = self.start(None, args)
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        data = blob(self.SIZE)
        info = self.add(ca, sid, push_spec("up.bin", size=len(data)))
        self.upload_until_dead(a, info["upload_endpoint"]["uri"], data)
        self.wait_dead(a)
        s = self.wait_session(cb, sid, TERMINAL, 10)
        self.assertEqual(s["state"], "ERROR", s)
        self.assertExpiredMessage(s)
        self.assertPublished(cb, item, {}, "1")
        self.settle("mid_upload/PUSH (abandoned, session expires)")
        r = cb.create_session(item)
        self.assertStatus(r, 201, "the item is free again")
        self.end_session(cb, r.json, "cancel")

    def test_mid_pull(self):
        a = self.start("mid_pull")
        b = self.start()
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        data = blob(self.SIZE + 3)
        path = "/mid-pull-%s.bin" % secrets.token_hex(4)
        # The source holds the body after 256 KiB, so the mover's first heartbeat with bytes
        # (where mid_pull is) comes while the pull runs.
        route = self.source.add(path, data, gate_after=256 * KIB)
        spec = pull_spec("p.bin", self.source.url(path),
                         checksum_info=checksum_spec(data, "SHA256"))
        try:
            self.dying(ca.post, files_path(sid), spec)
            self.wait_dead(a)
        finally:
            route.gate.set()
        # A lapsed PULL reads ERROR; adding it again through B pulls it there.
        self.wait_file(cb, sid, "p.bin", ("ERROR",), LAPSE_WAIT_S)
        self.add(cb, sid, spec, what="add the PULL again through B")
        f = self.wait_file(cb, sid, "p.bin", ("READY", "ERROR"), PULL_WAIT_S)
        self.assertReady(f, data, "SHA256")
        self.assertStatus(cb.post(session_path(sid, "complete")), 204, "complete through B")
        s = self.wait_session(cb, sid, TERMINAL, PULL_WAIT_S)
        self.assertEqual(s["state"], "DONE", s)
        self.assertPublished(cb, item, {"p.bin": data}, "2")
        self.settle("mid_pull/PULL")

    def test_killed_mid_pull_while_completing(self):
        """kill -9 (not a fault point: the pull must be held while complete is requested) of
        the instance pulling a file of a session whose complete is requested (COMPLETING, file
        set frozen). Once the lease lapses, a sweep (completions_due.lua) fails the session as a
        failed pull would: the item is unchanged and free again, within the lease plus a sweep."""
        a = self.start()
        b = self.start()
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        data = blob(MIB)
        path = "/held-%s.bin" % secrets.token_hex(4)
        route = self.source.add(path, data, gate_after=256 * KIB)
        spec = pull_spec("p.bin", self.source.url(path),
                         checksum_info=checksum_spec(data, "SHA256"))
        try:
            self.add(ca, sid, spec)
            self.assertTrue(route.started.wait(10), "A never fetched the source")
            self.assertStatus(ca.post(session_path(sid, "complete")), 204, "complete requested")
            a.kill9()
            a.died = True
        finally:
            route.gate.set()
        t0 = time.monotonic()
        s = self.wait_session(cb, sid, TERMINAL, LAPSE_WAIT_S)
        sys.stderr.write("\n  [pull killed while completing] %.1f s after the kill: session %s\n"
                         % (time.monotonic() - t0, s["state"]))
        self.assertEqual(s["state"], "ERROR", s)
        self.assertIn("p.bin", s["error_message"]["default_message"], s)
        self.assertPublished(cb, item, {}, "1")
        r = cb.create_session(item)
        self.assertStatus(r, 201, "the item is free again")
        self.end_session(cb, r.json, "cancel")
        self.settle("kill -9 mid_pull while COMPLETING/PULL")


# ---------------------------------------------------------------------------------------------
# the janitor: before_unlink, in_janitor
# ---------------------------------------------------------------------------------------------

class JanitorCrashTest(CrashCase):
    """A setup instance C publishes f and g on an item (session 1; its janitor drains what that
    leaves) and is stopped. A, with the fault, runs session 2, which replaces f: its complete
    puts two entries on the garbage list in one step (the item's old blob of f, the session's
    staging directory); A's janitor takes both in one batch and dies before deleting
    (before_unlink) or after the first delete (in_janitor). The entries are gone from Redis,
    the files are still on disk: B's scan must find and delete them."""

    def put(self, client, sid, kind, name, data):
        if kind == "PUSH":
            self.push(client, sid, name, data)
        else:
            self.add_pull(client, sid, name, "/j-%s.bin" % secrets.token_hex(4), data)
            f = self.wait_file(client, sid, name, ("READY", "ERROR"), PULL_WAIT_S)
            self.assertReady(f, data, "SHA256")

    def janitor_crash(self, fault, kind):
        garbage = self.prefix + "garbage"
        c = self.start()
        cc = c.client("admin")
        item, sid = self.new_session(cc)
        f1, f1b, g1, f2 = blob(40 * KIB), blob(40 * KIB), blob(3 * KIB), blob(42 * KIB)
        self.put(cc, sid, kind, "f.bin", f1)
        self.put(cc, sid, kind, "f.bin", f1b)        # the first blob is garbage now
        self.put(cc, sid, kind, "g.bin", g1)
        self.assertStatus(cc.post(session_path(sid, "complete")), 204, "complete 1")
        self.assertEqual(self.wait_session(cc, sid, TERMINAL, PULL_WAIT_S)["state"], "DONE")
        self.assertTrue(wait_for(lambda: self.redis.command("LLEN", garbage) == 0, 10),
                        "C's janitor did not drain the garbage list\n" + self.diag())
        old_f = item_file_record(self.redis, self.prefix, item, "f.bin")["blob"]
        c.stop()

        a = self.start(fault)
        ca = a.client("admin")
        sid2 = self.create_session(ca, item)
        self.put(ca, sid2, kind, "f.bin", f2)
        self.assertStatus(ca.post(session_path(sid2, "complete")), 204, "complete 2")
        self.wait_dead(a)
        left_behind = [p for p in (os.path.join(self.storage, "items", item, old_f),
                                   os.path.join(self.storage, "staging", item,
                                                sid2.rpartition(":")[2]))
                       if os.path.exists(p)]
        self.assertEqual(self.redis.command("LLEN", garbage), 0,
                         "A's janitor took the entries before it died")
        want_left = 2 if fault == "before_unlink" else 1
        self.assertEqual(len(left_behind), want_left, "on disk after A died: %r" % left_behind)
        sys.stderr.write("\n  [%s/%s] left on disk by the crash: %s\n" % (
            fault, kind, [os.path.relpath(p, self.storage) for p in left_behind]))

        b = self.start()
        cb = b.client("admin")
        self.assertPublished(cb, item, {"f.bin": f2, "g.bin": g1}, "3")
        self.settle("%s/%s" % (fault, kind))
        for p in left_behind:
            self.assertFalse(os.path.exists(p) and os.path.isfile(p), p)

    def test_before_unlink_push(self):
        self.janitor_crash("before_unlink", "PUSH")

    def test_before_unlink_pull(self):
        self.janitor_crash("before_unlink", "PULL")

    def test_in_janitor_push(self):
        self.janitor_crash("in_janitor", "PUSH")

    def test_in_janitor_pull(self):
        self.janitor_crash("in_janitor", "PULL")


# ---------------------------------------------------------------------------------------------
# the race of issue 1, and stale links
# ---------------------------------------------------------------------------------------------

class PublishRaceTest(CrashCase):

    def test_reupload_in_flight_blocks_complete(self):
        """Issue 1, deterministic: f is READY; a re-upload of f is in flight (TRANSFERRING, a
        new blob) when complete runs: complete refuses (f not READY) and publishes nothing;
        once the upload ends, complete publishes the second upload's bytes."""
        a = self.start()
        b = self.start()
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        first, second = blob(100 * KIB), blob(300 * KIB)
        info = self.push(ca, sid, "f.bin", first)
        uri = info["upload_endpoint"]["uri"]
        first_blob = session_file_record(self.redis, self.prefix, sid, "f.bin")["blob"]
        up = OpenUpload(via(uri, b.port), len(second))   # the re-upload runs on B
        try:
            up.send(second[:100 * KIB])
            self.wait_file(ca, sid, "f.bin", ("TRANSFERRING",))
            for client, where in ((ca, "A"), (cb, "B")):
                r = client.post(session_path(sid, "complete"))
                self.assertNotAllowed(r, "f.bin", what="complete through %s while a "
                                      "re-upload of f.bin runs" % where)
            self.assertEqual(self.state(ca, sid), "ACTIVE")
            self.assertPublished(ca, item, {}, "1")
            self.assertIsNone(item_file_record(self.redis, self.prefix, item, "f.bin"))
            up.send(second[100 * KIB:])
            r = up.finish()
        finally:
            up.close()
        self.assertStatus(r, 200, "the re-upload")
        self.assertReady(self.wait_file(ca, sid, "f.bin", ("READY",)), second)
        second_blob = session_file_record(self.redis, self.prefix, sid, "f.bin")["blob"]
        self.assertNotEqual(first_blob, second_blob)
        self.assertStatus(ca.post(session_path(sid, "complete")), 204, "complete")
        self.assertPublished(ca, item, {"f.bin": second}, "2")
        rec = item_file_record(self.redis, self.prefix, item, "f.bin")
        self.assertEqual(rec["blob"], second_blob, rec)
        with open(os.path.join(self.storage, "items", item, second_blob), "rb") as f:
            self.assertEqual(hashlib.sha1(f.read()).hexdigest(),
                             hashlib.sha1(second).hexdigest())
        self.settle("race: re-upload in flight at complete")

    def test_upload_ends_between_list_and_publish(self):
        """Issue 1, deterministic: an upload that ends after complete listed the files (and
        linked none of them: the file was TRANSFERRING) but before the publish script. One
        instance on a private Redis, which is frozen (SIGSTOP) while complete's list and the
        upload's end queue up on the instance's one connection in that order; thawed, Redis
        runs them in order, so the publish script finds a READY file whose blob was not linked:
        it must refuse (files changed), and complete lists, links and publishes again. MONITOR
        shows the order the scripts ran in."""
        self.redis = RedisServer()
        self.addCleanup(self.redis.destroy)
        mon = Monitor(self.redis)
        self.addCleanup(mon.close)
        a = self.start(None, ["--redis-timeout-ms", "10000", "--transfer-lease-ms", "10000"])
        ca = a.client("admin")
        item, sid = self.new_session(ca)
        data = blob(200 * KIB)
        info = self.add(ca, sid, push_spec("f.bin", checksum_info=checksum_spec(data)))
        up = OpenUpload(info["upload_endpoint"]["uri"], len(data))
        got = {}
        try:
            up.send(data[:-1000])
            self.wait_file(ca, sid, "f.bin", ("TRANSFERRING",))
            time.sleep(0.3)   # no heartbeat left in flight
            self.redis.freeze()
            try:
                t = threading.Thread(target=lambda: got.update(
                    r=ca.post(session_path(sid, "complete"))), daemon=True)
                t.start()
                time.sleep(0.4)           # A has sent complete's list: queued in Redis
                up.send(data[-1000:])     # the upload ends: its end is queued after the list
                time.sleep(0.4)
            finally:
                self.redis.thaw()
            t.join(30)
            r = up.finish()
        finally:
            up.close()
        self.assertStatus(r, 200, "the upload")
        self.assertStatus(got.get("r"), 204, "complete")
        self.assertEqual(self.state(ca, sid), "DONE")
        self.assertPublished(ca, item, {"f.bin": data}, "2")
        calls = [c for c in mon.script_calls(sid.rpartition(":")[2].encode())
                 if c in ("file_list", "transfer_end", "session_complete")]
        sys.stderr.write("\n  [issue 1 race] scripts in the order Redis ran them: %s\n" % calls)
        self.assertEqual(calls[-5:], ["file_list", "transfer_end", "session_complete",
                                      "file_list", "session_complete"],
                         "the upload did not end between list and publish: %r" % calls)
        self.settle("race: upload ends between list and publish")

    def test_stale_link_never_published(self):
        """A links f's blob for complete and dies before the script (after_link); through B
        f is uploaded again (a new blob) and complete publishes that one: the stale link is
        never published and the scan removes it."""
        a = self.start("after_link")
        b = self.start()
        ca, cb = self.clients(a, b)
        item, sid = self.new_session(ca)
        first, second = blob(50 * KIB), blob(60 * KIB)
        info = self.push(ca, sid, "f.bin", first)
        first_blob = session_file_record(self.redis, self.prefix, sid, "f.bin")["blob"]
        self.dying(ca.post, session_path(sid, "complete"))
        self.wait_dead(a)
        self.assertEqual(self.state(cb, sid), "ACTIVE")
        r = upload(info["upload_endpoint"]["uri"], second, port=b.port)
        self.assertStatus(r, 200, "upload again through B")
        self.assertReady(self.wait_file(cb, sid, "f.bin", ("READY",)), second)
        self.assertStatus(cb.post(session_path(sid, "complete")), 204, "complete through B")
        self.assertPublished(cb, item, {"f.bin": second}, "2")
        rec = item_file_record(self.redis, self.prefix, item, "f.bin")
        self.assertNotEqual(rec["blob"], first_blob, rec)
        self.settle("stale link after after_link")
        self.assertFalse(os.path.exists(os.path.join(self.storage, "items", item, first_blob)))

    def test_complete_races_uploads_on_two_instances(self):
        """Complete through A while a re-upload of the same file runs through B, with random
        offsets, several rounds. Whatever the interleaving: a 204 complete published the bytes
        of the last upload that ended READY before it (the second if that upload answered
        200, else the first); a refused complete publishes nothing and a later one publishes
        the second."""
        a = self.start()
        b = self.start()
        ca, cb = self.clients(a, b)
        lib = ca.make_library()
        outcomes = []
        for i in range(8):
            item = ca.make_item(lib)
            sid = self.create_session(ca, item)
            first, second = blob(32 * KIB), blob(48 * KIB)
            info = self.push(ca, sid, "f.bin", first)
            uri = info["upload_endpoint"]["uri"]
            got = {}

            def reupload():
                time.sleep(random.uniform(0, 0.02))
                try:
                    got["r"] = upload(uri, second, port=b.port)
                except OSError as e:
                    got["e"] = e

            t = threading.Thread(target=reupload, daemon=True)
            t.start()
            time.sleep(random.uniform(0, 0.02))
            rc = ca.post(session_path(sid, "complete"))
            t.join(30)
            self.assertNotIn("e", got, got)
            ru = got["r"]
            if rc.status == 204:
                if ru.status == 200:
                    self.assertPublished(ca, item, {"f.bin": second}, "2")
                    outcomes.append("complete 204 after the re-upload")
                else:
                    self.assertTrue(400 <= ru.status < 500, "re-upload: %d %r"
                                    % (ru.status, ru.raw[:300]))
                    self.assertPublished(ca, item, {"f.bin": first}, "2")
                    outcomes.append("complete 204, re-upload refused")
            else:
                self.assertNotAllowed(rc, "f.bin", what="complete racing a re-upload")
                self.assertStatus(ru, 200, "the re-upload that made complete refuse")
                self.assertPublished(ca, item, {}, "1")
                self.wait_file(ca, sid, "f.bin", ("READY",))
                self.assertStatus(ca.post(session_path(sid, "complete")), 204, "complete")
                self.assertPublished(ca, item, {"f.bin": second}, "2")
                outcomes.append("complete refused during the re-upload")
        sys.stderr.write("\n  [complete vs re-upload] %r\n" % outcomes)
        self.settle("race: complete vs re-upload, two instances")


# ---------------------------------------------------------------------------------------------
# the checker itself
# ---------------------------------------------------------------------------------------------

class InvariantCheckerTest(unittest.TestCase):
    """invariants.check() against a state built by hand in Redis and a temp dir: it must
    report each planted defect, and nothing once they are repaired."""

    def setUp(self):
        self.redis = RedisServer.shared()
        self.prefix = "usdt-inv-%s:" % secrets.token_hex(6)
        self.dir = tempfile.mkdtemp(prefix="usd-inv-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.addCleanup(self.drop_keys)
        self.now = invariants.redis_now_ms(self.redis)

    def drop_keys(self):
        for k in self.redis.keys(self.prefix):
            self.redis.command("DEL", k)

    def disk(self, rel, data):
        p = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def published(self, item, name, blob_id, data, alg="SHA256", size=None):
        rec = {"name": name, "size": str(len(data) if size is None else size),
               "checksum": {"algorithm": alg,
                            "checksum": hashlib.new(invariants.HASHES[alg], data).hexdigest()},
               "version": "1", "blob": blob_id}
        self.redis.command("HSET", "%s{%s}:files" % (self.prefix, item), name, json.dumps(rec))

    def session(self, item, uuid, state, deadline, lock=True, files=()):
        key = "%s{%s}:s:%s" % (self.prefix, item, uuid)
        self.redis.command("HSET", key, "item", item, "state", state, "deadline", str(deadline))
        if lock:
            self.redis.command("SET", "%s{%s}:lock" % (self.prefix, item), "%s:%s" % (item, uuid))
        for rec in files:
            self.redis.command("HSET", key + ":files", rec["name"], json.dumps(rec))

    def violations(self, **kw):
        return invariants.check(self.redis, self.prefix, self.dir, **kw)

    def test_reports_each_defect(self):
        hello = b"hello world"
        # A sound item: a published file on disk, whole.
        self.disk("items/it1/b-good", hello)
        self.published("it1", "good.txt", "b-good", hello)
        # Defects of published files.
        self.published("it1", "gone.txt", "b-gone", b"abc")                    # missing blob
        self.disk("items/it1/b-short", b"1234")
        self.published("it1", "short.txt", "b-short", b"1234", size=10)       # wrong size
        self.disk("items/it1/b-bad", b"the bytes")
        self.published("it1", "bad.txt", "b-bad", b"other!!!!", alg="MD5")    # wrong checksum
        self.disk("items/it1/b-orphan", b"nobody's")                         # orphan
        # Stale locks: a session record missing, a DONE one.
        self.redis.command("SET", "%s{it2}:lock" % self.prefix, "it2:u-missing")
        self.session("it3", "u-done", "DONE", self.now - 1000)
        self.disk("staging/it3/u-done/s-left", b"left behind")               # orphan staging
        # A sound ACTIVE session with a READY staged file, plus a resumable one whose .part
        # is shorter than its recorded durable prefix, plus an unreferenced staged file.
        staged = b"staged bytes"
        self.disk("staging/it4/u-act/s-ok", staged)
        self.disk("staging/it4/u-act/s-cut.part", b"0123456789")
        self.disk("staging/it4/u-act/s-stray", b"stray")
        self.session("it4", "u-act", "ACTIVE", self.now + 60000, files=[
            {"name": "ok.bin", "source_type": "PUSH", "status": "READY", "blob": "s-ok",
             "size": str(len(staged)), "removed": False,
             "received": {"algorithm": "SHA1", "checksum": hashlib.sha1(staged).hexdigest()}},
            {"name": "cut.bin", "source_type": "PUSH", "status": "WAITING_FOR_TRANSFER",
             "blob": "s-cut", "staged": "100", "removed": False}])
        # complete's link of it into items/ before publishing: not an orphan while the session
        # holding the lock records it; another blob there is.
        self.disk("items/it4/s-ok", staged)
        self.disk("items/it4/s-unknown", staged)
        # An ACTIVE session an hour past its deadline.
        self.session("it5", "u-late", "ACTIVE", self.now - 3600 * 1000)
        # An undrained garbage list.
        self.redis.command("RPUSH", self.prefix + "garbage", "staging/it9/u-x")

        v = self.violations()
        want = [
            "published file 'gone.txt' of item it1: ",
            "published file 'short.txt' of item it1: ",
            "published file 'bad.txt' of item it1: ",
            "unreferenced file items/it1/b-orphan",
            "item it2 is locked by session it2:u-missing whose record is missing",
            "item it3 is locked by session it3:u-done which is DONE",
            "unreferenced file staging/it3/u-done/s-left",
            "file 'cut.bin' of ACTIVE session it4:u-act: ",
            "unreferenced file staging/it4/u-act/s-stray",
            "unreferenced file items/it4/s-unknown",
            "session it5:u-late is ACTIVE 3600",
            "the garbage list holds 1 entries",
        ]
        for w in want:
            self.assertTrue(any(w in x for x in v), "not reported: %r\nreported: %s"
                            % (w, "\n".join(v)))
        self.assertEqual(len(v), len(want), "reported:\n" + "\n".join(v))
        self.assertIn("missing", [x for x in v if "gone.txt" in x][0])
        self.assertIn("has 4 bytes, the record says 10", [x for x in v if "short.txt" in x][0])
        self.assertIn("MD5", [x for x in v if "bad.txt" in x][0])

        # The disk checks wait for the janitor; young files are within the grace period.
        quiet = self.violations(janitor_ran=False)
        self.assertFalse([x for x in quiet if "unreferenced" in x or "garbage" in x], quiet)
        self.assertEqual(len(quiet), len(want) - 5, quiet)
        young = self.violations(grace_ok=3600)
        self.assertFalse([x for x in young if "unreferenced" in x], young)

        # Repaired, nothing is reported.
        self.redis.command("HDEL", "%s{it1}:files" % self.prefix, "gone.txt", "short.txt",
                           "bad.txt")
        for rel in ("items/it1/b-short", "items/it1/b-bad", "items/it1/b-orphan",
                    "staging/it3/u-done/s-left", "staging/it4/u-act/s-stray",
                    "items/it4/s-unknown"):
            os.unlink(os.path.join(self.dir, rel))
        self.redis.command("DEL", "%s{it2}:lock" % self.prefix, "%s{it3}:lock" % self.prefix,
                           self.prefix + "garbage")
        self.disk("staging/it4/u-act/s-cut.part", b"x" * 100)
        self.redis.command("HSET", "%s{it5}:s:u-late" % self.prefix, "state", "ERROR")
        self.redis.command("DEL", "%s{it5}:lock" % self.prefix)
        self.assertEqual(self.violations(), [])

    def test_active_session_must_hold_lock(self):
        self.session("it6", "u-a", "ACTIVE", self.now + 60000, lock=False)
        self.session("it6", "u-b", "ACTIVE", self.now + 60000)
        v = self.violations()
        self.assertTrue(any("session it6:u-a is ACTIVE but its item's lock names 'it6:u-b'"
                            in x for x in v), v)
        self.assertTrue(any("item it6 has 2 ACTIVE sessions" in x for x in v), v)


if __name__ == "__main__":
    unittest.main()
