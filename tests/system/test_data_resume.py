"""Resumable PUSH uploads and the transfer lease (issue 8), on the upload URI
/cls/data/<token>/<name> (IETF draft-ietf-httpbis-resumable-upload / tus 1.0):

  HEAD   -> 204, Upload-Offset (the durable prefix), Upload-Complete ?0/?1, Upload-Length when
            the size was declared, Cache-Control: no-store
  PATCH  with Upload-Offset and Content-Type application/partial-upload appends; a different
         offset -> 409 with the server's Upload-Offset; a wrong content type -> 415; no offset
         -> 400; Upload-Complete ?1 (or reaching the declared size) ends the upload, ?0 pauses
         it -> 204 with the new Upload-Offset
  a PUT cut mid-body keeps its durable prefix (the file waits, bytes_transferred shows it) and
  is resumed with HEAD + PATCH, or restarted with PUT

and what the lease gives: cancel or remove during a PUT answers that PUT with a 4xx within a
second (on the same instance at once, on another at its next heartbeat) and the staged bytes
are deleted (janitor); five PUTs of one file leave one blob; an upload URI lives as long as its
session, whatever 2 x timeout + retention says; kill -9 of the instance running a PUT, and after
the lease (--transfer-lease-ms 1000 here) another instance sharing --storage-dir resumes it with
HEAD + PATCH, or restarts it with PUT, and the published checksum is the source's.
Also the limits: --min-free-bytes refuses an upload (UNABLE_TO_ALLOCATE_RESOURCE, nothing left
on disk) and --max-upload-bytes caps a chunked body without declared size."""

import hashlib
import http.client
import os
import shutil
import socket
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (RedisServer, Response, Server, ServerTestCase,  # noqa: E402
                     session_path, wait_until)
from test_files import (FilesCase, OpenUpload, _json, blob, checksum_spec,  # noqa: E402
                        files_path, push_spec, upload, upload_target, wait_for)

KIB = 1024
MIB = 1 << 20
LEASE_MS = 1000
PARTIAL = "application/partial-upload"
ANSWER_WITHIN_S = 1.0       # a stopped upload is answered within this
GONE_WITHIN_S = 5.0         # staged bytes are deleted within this (janitor every 200 ms)
HEARTBEAT_WAIT_S = 1.3      # more than one heartbeat period (min(1 s, lease/4, timeout/4))
COMMON_ARGS = ("--transfer-lease-ms", str(LEASE_MS), "--janitor-interval-ms", "200")


# ---------------------------------------------------------------------------------------------
# the protocol on the wire
# ---------------------------------------------------------------------------------------------

def at_port(uri, port):
    """The same upload URI on another instance (another port)."""
    u = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit((u.scheme, "127.0.0.1:%d" % port, u.path, u.query, ""))


def request(uri, method, body=b"", headers=None, chunks=None, timeout=30.0):
    """One request on its own connection. chunks: a list of byte strings sent with
    Transfer-Encoding: chunked (then body is ignored). Returns Response."""
    host, port, path = upload_target(uri)
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % (host, port)]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        if chunks is not None:
            lines.append("Transfer-Encoding: chunked")
            payload = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
        else:
            if method != "HEAD" or body:
                lines.append("Content-Length: %d" % len(body))
            payload = body
        try:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered early; read the answer
        resp = http.client.HTTPResponse(s, method=method)
        resp.begin()
        try:
            raw = resp.read()
        except (http.client.IncompleteRead, ConnectionResetError) as e:
            raw = getattr(e, "partial", b"")
        return Response(resp.status, _json(raw), raw, resp.headers)
    finally:
        s.close()


def head(uri):
    return request(uri, "HEAD")


def patch(uri, offset, data=b"", complete=None, ctype=PARTIAL, chunks=None, extra=None):
    headers = {}
    if ctype is not None:
        headers["Content-Type"] = ctype
    if offset is not None:
        headers["Upload-Offset"] = str(offset)
    if complete is not None:
        headers["Upload-Complete"] = "?1" if complete else "?0"
    headers.update(extra or {})
    return request(uri, "PATCH", data, headers, chunks)


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class ResumeCase(FilesCase):

    def assertOffset(self, r, offset, complete, what):
        self.assertEqual(r.headers.get("Upload-Offset"), str(offset),
                         "%s: Upload-Offset; %d %r %r" % (what, r.status, dict(r.headers),
                                                          r.raw[:300]))
        self.assertEqual(r.headers.get("Upload-Complete"), "?1" if complete else "?0",
                         "%s: Upload-Complete; %r" % (what, dict(r.headers)))

    def assertHead(self, uri, offset, complete, length=None, what="HEAD"):
        r = head(uri)
        self.assertStatus(r, 204, what)
        self.assertOffset(r, offset, complete, what)
        self.assertEqual(r.headers.get("Cache-Control"), "no-store", what)
        self.assertEqual(r.headers.get("Upload-Length"),
                         None if length is None else str(length), what)
        return r

    def staging_dir(self, storage_dir, sid):
        item, _, uuid = sid.rpartition(":")
        return os.path.join(storage_dir, "staging", item, uuid)

    def staged_files(self, storage_dir, sid):
        d = self.staging_dir(storage_dir, sid)
        try:
            return sorted(os.listdir(d))
        except FileNotFoundError:
            return []

    def wait_bytes(self, client, sid, name, at_least, timeout=5.0):
        """Waits until the file's recorded bytes_transferred (a heartbeat's) reaches at_least."""
        last = {}

        def probe():
            last["f"] = self.file(client, sid, name)
            return last["f"]["bytes_transferred"] >= at_least

        self.assertTrue(wait_for(probe, timeout), "bytes_transferred never reached %d: %r"
                        % (at_least, last.get("f")))
        return last["f"]

    def published(self, client, item, name):
        files = self.item_files(client, item)
        self.assertIn(name, files, files)
        return files[name]


# ---------------------------------------------------------------------------------------------
# one instance
# ---------------------------------------------------------------------------------------------

class ResumeProtocolTest(ResumeCase, ServerTestCase):

    server_args = COMMON_ARGS

    def test_head_of_a_fresh_file(self):
        _, sid = self.new_session(self.admin)
        sized = self.add(self.admin, sid, push_spec("sized.bin", size=1000))
        self.assertHead(sized["upload_endpoint"]["uri"], 0, False, length=1000)
        free = self.add(self.admin, sid, push_spec("free.bin"))
        self.assertHead(free["upload_endpoint"]["uri"], 0, False)
        u = urllib.parse.urlsplit(free["upload_endpoint"]["uri"])
        r = head(urllib.parse.urlunsplit((u.scheme, u.netloc, "/cls/data/%s/x" % ("ab" * 32),
                                          "", "")))
        self.assertStatus(r, 404, "HEAD of an unknown token")
        # HEAD answers keep the connection alive: two on one connection.
        host, port, path = upload_target(free["upload_endpoint"]["uri"])
        conn = http.client.HTTPConnection(host, port, timeout=10)
        try:
            for _ in range(2):
                conn.request("HEAD", path)
                r = conn.getresponse()
                r.read()
                self.assertEqual(r.status, 204)
                self.assertEqual(r.getheader("Upload-Offset"), "0")
        finally:
            conn.close()
        # After a whole upload: complete, offset = size.
        data = blob(777)
        self.assertStatus(upload(free["upload_endpoint"]["uri"], data), 200, "PUT")
        self.assertHead(free["upload_endpoint"]["uri"], 777, True, length=777)

    def test_cut_put_then_head_and_patch(self):
        item, sid = self.new_session(self.admin)
        data = blob(MIB + 123)
        info = self.add(self.admin, sid, push_spec(
            "cut.bin", size=len(data), checksum_info=checksum_spec(data, "SHA256")))
        uri = info["upload_endpoint"]["uri"]
        half = len(data) // 2
        up = OpenUpload(uri, len(data))
        try:
            up.send(data[:half])
            self.wait_bytes(self.admin, sid, "cut.bin", 1)   # a heartbeat recorded bytes
            time.sleep(HEARTBEAT_WAIT_S)                    # everything sent was read
        finally:
            up.cut()
        f = self.wait_file(self.admin, sid, "cut.bin", ("WAITING_FOR_TRANSFER",))
        self.assertEqual(f["bytes_transferred"], half, "the cut keeps what arrived: %r" % f)
        self.assertHead(uri, half, False, length=len(data), what="HEAD after the cut")

        # A PATCH must name the server's offset.
        r = patch(uri, half - 1, data[half - 1:], complete=True)
        self.assertApiError(r, 409, "CONCURRENT_CHANGE", what="PATCH at a wrong offset")
        self.assertEqual(r.headers.get("Upload-Offset"), str(half), dict(r.headers))
        self.assertHead(uri, half, False, length=len(data), what="HEAD after the 409")

        r = patch(uri, half, data[half:])   # reaching the declared size ends the upload
        self.assertStatus(r, 204, "PATCH of the rest")
        self.assertOffset(r, len(data), True, "PATCH of the rest")
        f = self.wait_file(self.admin, sid, "cut.bin", ("READY",))
        self.assertReady(f, data, "SHA256")
        self.assertHead(uri, len(data), True, length=len(data), what="HEAD when READY")
        r = patch(uri, len(data), b"", complete=True)
        self.assertApiError(r, 400, "NOT_ALLOWED_IN_CURRENT_STATE", what="PATCH of a READY file")

        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        self.assertChecksum(self.published(self.admin, item, "cut.bin")["checksum_info"], data)

    def test_patch_header_refusals(self):
        _, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec("p.bin"))
        uri = info["upload_endpoint"]["uri"]
        cases = [
            ("no content type", patch(uri, 0, b"abc", ctype=None), 415, "INVALID_ARGUMENT"),
            ("octet-stream", patch(uri, 0, b"abc", ctype="application/octet-stream"), 415,
             "INVALID_ARGUMENT"),
            ("no Upload-Offset", patch(uri, None, b"abc"), 400, "INVALID_ARGUMENT"),
            ("negative offset", patch(uri, -1, b"abc"), 400, "INVALID_ARGUMENT"),
            ("offset not a number", patch(uri, "x1", b"abc"), 400, "INVALID_ARGUMENT"),
            ("bad Upload-Complete", patch(uri, 0, b"abc", extra={"Upload-Complete": "yes"}),
             400, "INVALID_ARGUMENT"),
            ("wrong offset", patch(uri, 3, b"abc"), 409, "CONCURRENT_CHANGE"),
        ]
        for what, r, status, error in cases:
            with self.subTest(what):
                self.assertApiError(r, status, error, what=what)
        f = self.file(self.admin, sid, "p.bin")
        self.assertEqual((f["status"], f["bytes_transferred"]), ("WAITING_FOR_TRANSFER", 0), f)
        self.assertHead(uri, 0, False)

    def test_chunked_patches_pause_then_complete(self):
        item, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec("chunked.bin"))   # no declared size
        uri = info["upload_endpoint"]["uri"]
        part1, part2, part3 = blob(300 * KIB + 1), blob(5 * KIB), blob(70 * KIB + 9)
        r = patch(uri, 0, chunks=[part1[:1000], part1[1000:]], complete=False)
        self.assertStatus(r, 204, "PATCH ?0")
        self.assertOffset(r, len(part1), False, "PATCH ?0")
        f = self.file(self.admin, sid, "chunked.bin")
        self.assertEqual((f["status"], f["bytes_transferred"]),
                         ("WAITING_FOR_TRANSFER", len(part1)), f)
        self.assertHead(uri, len(part1), False)
        # Without Upload-Complete and without a declared size, a PATCH pauses too.
        r = patch(uri, len(part1), part2)
        self.assertStatus(r, 204, "PATCH without Upload-Complete")
        n = len(part1) + len(part2)
        self.assertOffset(r, n, False, "PATCH without Upload-Complete")
        r = patch(uri, n, chunks=[part3[:7], part3[7:]], complete=True)
        self.assertStatus(r, 204, "PATCH ?1")
        whole = part1 + part2 + part3
        self.assertOffset(r, len(whole), True, "PATCH ?1")
        f = self.wait_file(self.admin, sid, "chunked.bin", ("READY",))
        self.assertReady(f, whole, "SHA1")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        self.assertChecksum(self.published(self.admin, item, "chunked.bin")["checksum_info"],
                            whole)

    def test_patch_from_zero_and_complete_with_empty_body(self):
        _, sid = self.new_session(self.admin)
        data = blob(10 * KIB)
        info = self.add(self.admin, sid, push_spec("z.bin",
                                                   checksum_info=checksum_spec(data, "MD5")))
        uri = info["upload_endpoint"]["uri"]
        self.assertStatus(patch(uri, 0, data, complete=False), 204, "PATCH ?0 from 0")
        r = patch(uri, len(data), b"", complete=True)
        self.assertStatus(r, 204, "empty PATCH ?1")
        self.assertOffset(r, len(data), True, "empty PATCH ?1")
        self.assertReady(self.wait_file(self.admin, sid, "z.bin", ("READY",)), data, "MD5")

    def test_patch_checksum_mismatch_fails_the_file(self):
        _, sid = self.new_session(self.admin)
        data = blob(4 * KIB)
        info = self.add(self.admin, sid, push_spec(
            "bad.bin", size=len(data), checksum_info=checksum_spec(b"other", "SHA1")))
        uri = info["upload_endpoint"]["uri"]
        self.assertStatus(patch(uri, 0, data[:1000], complete=False), 204, "PATCH ?0")
        r = patch(uri, 1000, data[1000:])
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["checksum"],
                            what="PATCH that ends with a wrong checksum")
        self.wait_file(self.admin, sid, "bad.bin", ("ERROR",))
        # the failed blob goes on the garbage list; the janitor takes it shortly after
        wait_until(lambda: self.staged_files(self.server.storage_dir, sid) == [], timeout=3.0,
                   what="nothing of a failed upload staying")
        # An ERROR file starts again from 0 (HEAD says so), and a PATCH from 0 works.
        self.assertHead(uri, 0, False, length=len(data))

    def test_cancel_during_slow_put(self):
        _, sid = self.new_session(self.admin)
        data = blob(256 * KIB)
        info = self.add(self.admin, sid, push_spec("slow.bin", size=len(data)))
        up = OpenUpload(info["upload_endpoint"]["uri"], len(data))
        try:
            up.send(data[:64 * KIB])
            self.wait_bytes(self.admin, sid, "slow.bin", 1)
            self.assertTrue(self.staged_files(self.server.storage_dir, sid), "bytes staged")
            t0 = time.monotonic()
            self.end_session(self.admin, sid, "cancel")
            r = up.finish()
            elapsed = time.monotonic() - t0
        finally:
            up.close()
        self.assertApiError(r, 400, "NOT_ALLOWED_IN_CURRENT_STATE", mentions=["slow.bin"],
                            what="the PUT of a cancelled session")
        self.assertLess(elapsed, ANSWER_WITHIN_S, "answered %.2f s after the cancel" % elapsed)
        gone = wait_for(lambda: not os.path.exists(
            self.staging_dir(self.server.storage_dir, sid)), GONE_WITHIN_S)
        self.assertTrue(gone, "the staged bytes stay: %r"
                        % self.staged_files(self.server.storage_dir, sid))

    def test_remove_during_put(self):
        _, sid = self.new_session(self.admin)
        data = blob(256 * KIB)
        info = self.add(self.admin, sid, push_spec("rm.bin", size=len(data)))
        self.push(self.admin, sid, "kept.bin", b"kept")
        up = OpenUpload(info["upload_endpoint"]["uri"], len(data))
        try:
            up.send(data[:64 * KIB])
            self.wait_bytes(self.admin, sid, "rm.bin", 1)
            self.assertEqual(len(self.staged_files(self.server.storage_dir, sid)), 2)
            t0 = time.monotonic()
            self.assertStatus(self.admin.delete(files_path(sid, "rm.bin")), 204, "remove")
            r = up.finish()
            elapsed = time.monotonic() - t0
        finally:
            up.close()
        self.assertApiError(r, 404, "NOT_FOUND", mentions=["rm.bin"], what="the removed PUT")
        self.assertLess(elapsed, ANSWER_WITHIN_S, "answered %.2f s after the remove" % elapsed)
        left = wait_for(lambda: len(self.staged_files(self.server.storage_dir, sid)) == 1,
                        GONE_WITHIN_S)
        self.assertTrue(left, "the removed file's bytes stay: %r"
                        % self.staged_files(self.server.storage_dir, sid))
        self.assertEqual(self.state(self.admin, sid), "ACTIVE")

    def test_five_puts_leave_one_blob(self):
        item, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec("again.bin"))
        uri = info["upload_endpoint"]["uri"]
        for i in range(5):
            data = blob(20 * KIB)
            self.assertStatus(upload(uri, data), 200, "PUT %d" % (i + 1))
        one = wait_for(lambda: len(self.staged_files(self.server.storage_dir, sid)) == 1,
                       GONE_WITHIN_S)
        self.assertTrue(one, "five PUTs leave %r" % self.staged_files(self.server.storage_dir,
                                                                     sid))
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        self.assertChecksum(self.published(self.admin, item, "again.bin")["checksum_info"], data)


class FullDiskTest(ResumeCase, ServerTestCase):
    """A server that must keep more free space than any disk has: every upload is refused with
    UNABLE_TO_ALLOCATE_RESOURCE and nothing partial stays."""

    server_args = COMMON_ARGS + ("--min-free-bytes", str(1 << 62))

    def test_upload_refused_nothing_left(self):
        _, sid = self.new_session(self.admin)
        for what, spec, send in (
                ("declared size", push_spec("a.bin", size=1000),
                 lambda uri: upload(uri, blob(1000))),
                ("no declared size", push_spec("b.bin"), lambda uri: upload(uri, blob(1000))),
                ("PATCH", push_spec("c.bin"), lambda uri: patch(uri, 0, blob(1000)))):
            with self.subTest(what):
                info = self.add(self.admin, sid, spec)
                r = send(info["upload_endpoint"]["uri"])
                self.assertApiError(r, 500, "UNABLE_TO_ALLOCATE_RESOURCE", what=what)
                self.wait_file(self.admin, sid, spec["name"], ("ERROR",))
        wait_until(lambda: self.staged_files(self.server.storage_dir, sid) == [], timeout=3.0,
                   what="the failed uploads' blobs gone")


class UploadLimitTest(ResumeCase, ServerTestCase):
    """--max-upload-bytes caps a body without declared size (chunked, or a Content-Length)."""

    server_args = COMMON_ARGS + ("--max-upload-bytes", str(100 * KIB))

    def test_chunked_body_over_the_cap(self):
        _, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec("big.bin"))
        uri = info["upload_endpoint"]["uri"]
        r = request(uri, "PUT", headers={"Content-Type": "application/octet-stream"},
                    chunks=[blob(60 * KIB), blob(60 * KIB)])
        self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["big.bin"],
                            what="chunked PUT over the cap")
        self.wait_file(self.admin, sid, "big.bin", ("ERROR",))
        r = upload(uri, blob(100 * KIB + 1))
        self.assertApiError(r, 400, "INVALID_ARGUMENT", what="Content-Length over the cap")
        self.assertStatus(upload(uri, blob(100 * KIB)), 200, "at the cap")
        # A declared size is not capped by it.
        data = blob(150 * KIB)
        sized = self.add(self.admin, sid, push_spec("sized.bin", size=len(data)))
        self.assertStatus(upload(sized["upload_endpoint"]["uri"], data), 200, "declared size")
        self.wait_file(self.admin, sid, "sized.bin", ("READY",))


class UploadUriLifetimeTest(ResumeCase, ServerTestCase):
    """An upload URI lives as long as its file's session is ACTIVE: with a 1 s timeout and a
    1 s retention, keep-alives hold the session for longer than 2 x timeout + retention and the
    URI still takes the upload."""

    server_args = COMMON_ARGS + ("--session-timeout", "1", "--retention", "1")

    def test_upload_uri_outlives_timeout_and_retention(self):
        _, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec("late.bin"))
        uri = info["upload_endpoint"]["uri"]
        until = time.monotonic() + 2 * 1 + 1 + 1.5
        while time.monotonic() < until:
            self.assertStatus(self.admin.post(session_path(sid, "keep-alive")), 204,
                              "keep-alive")
            time.sleep(0.25)
        self.assertHead(uri, 0, False, what="HEAD after 2 x timeout + retention")
        data = blob(3000)
        self.assertStatus(upload(uri, data), 200, "PUT after 2 x timeout + retention")
        self.assertReady(self.wait_file(self.admin, sid, "late.bin", ("READY",)), data)
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        # Once the session ended, the URI is dead.
        self.assertStatus(upload(uri, data), 404, "PUT after complete")


class FenceTest(ResumeCase):
    """A mover that cannot renew its lease stops writing within the lease (self-fencing): Redis
    frozen mid-PUT -> the PUT gets 503 with the durable offset; once Redis is back and the lease
    has lapsed, HEAD + PATCH finish the upload from the last recorded offset."""

    def setUp(self):
        self.redis = RedisServer()   # a private one: it is frozen
        self.server = Server(redis=self.redis, args=COMMON_ARGS + ("--redis-timeout-ms", "2000"))
        self.admin = self.server.client("admin")

    def tearDown(self):
        try:
            self.redis.thaw()
            self.server.stop()
        finally:
            self.redis.destroy()

    def test_frozen_redis_fences_the_put(self):
        item, sid = self.new_session(self.admin)
        data = blob(MIB + 3)
        info = self.add(self.admin, sid, push_spec(
            "f.bin", size=len(data), checksum_info=checksum_spec(data, "SHA1")))
        uri = info["upload_endpoint"]["uri"]
        half = len(data) // 2
        up = OpenUpload(uri, len(data))
        try:
            up.send(data[:half])
            self.wait_bytes(self.admin, sid, "f.bin", half)
            self.redis.freeze()
            t0 = time.monotonic()
            up.send(data[half:half + 64 * KIB])
            r = up.finish()
            elapsed = time.monotonic() - t0
        finally:
            up.close()
            self.redis.thaw()
        self.assertApiError(r, 503, "SERVICE_UNAVAILABLE", mentions=["f.bin"],
                            what="the PUT of a fenced mover")
        self.assertLess(elapsed, LEASE_MS / 1000.0 + 0.5, "fenced after %.2f s" % elapsed)
        # The answer's offset is what was durable when it stopped; HEAD says what was recorded.
        self.assertIn(int(r.headers.get("Upload-Offset", -1)), (half, half + 64 * KIB),
                      dict(r.headers))
        f = self.wait_file(self.admin, sid, "f.bin", ("WAITING_FOR_TRANSFER",),
                           LEASE_MS / 1000.0 + 5)
        offset = f["bytes_transferred"]
        self.assertGreaterEqual(offset, half)
        self.assertHead(uri, offset, False, length=len(data), what="HEAD after the fence")
        self.assertStatus(patch(uri, offset, data[offset:]), 204, "PATCH after the fence")
        self.assertReady(self.wait_file(self.admin, sid, "f.bin", ("READY",)), data)
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        self.assertChecksum(self.published(self.admin, item, "f.bin")["checksum_info"], data)


# ---------------------------------------------------------------------------------------------
# two instances sharing Redis (one key prefix) and --storage-dir
# ---------------------------------------------------------------------------------------------

class TakeoverTest(ResumeCase):
    """Instance A runs the PUT and dies (kill -9); after the lease, B finishes it."""

    def setUp(self):
        self.redis = RedisServer.shared()
        self.storage = tempfile.mkdtemp(prefix="usd-shared-storage-")
        self.a = Server(redis=self.redis, args=COMMON_ARGS, storage_dir=self.storage)
        self.b = Server(redis=self.redis, args=COMMON_ARGS, storage_dir=self.storage,
                        prefix=self.a.prefix)
        self.admin = self.b.client("admin")

    def tearDown(self):
        try:
            self.a.kill9()
            self.a.cleanup()
            self.b.stop()
        finally:
            shutil.rmtree(self.storage, ignore_errors=True)

    def start_put_on_a_and_kill_it(self, name, data):
        """Adds a file (through B), PUTs half of data to A, waits until a heartbeat recorded
        bytes, kills A. Returns (item, sid, uri on B, offset recorded)."""
        item, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec(
            name, size=len(data), checksum_info=checksum_spec(data, "SHA256")))
        uri_b = info["upload_endpoint"]["uri"]
        uri_a = at_port(uri_b, self.a.port)
        half = len(data) // 2
        up = OpenUpload(uri_a, len(data))
        try:
            up.send(data[:half])
            self.wait_bytes(self.admin, sid, name, half)     # a heartbeat recorded all of it
            self.a.kill9()
        finally:
            up.close()
        f = self.file(self.admin, sid, name)
        self.assertIn(f["status"], ("TRANSFERRING", "WAITING_FOR_TRANSFER"), f)
        # While the lease lives, B refuses to take the file over.
        if f["status"] == "TRANSFERRING":
            r = upload(uri_b, data)
            if r.status != 200:
                self.assertApiError(r, 409, "RESOURCE_BUSY", what="PUT under a live lease")
        f = self.wait_file(self.admin, sid, name, ("WAITING_FOR_TRANSFER", "READY"),
                           LEASE_MS / 1000.0 + 5)
        return item, sid, uri_b, f

    def test_kill9_mid_put_resumed_on_another_instance(self):
        data = blob(2 * MIB + 5)
        item, sid, uri, f = self.start_put_on_a_and_kill_it("k.bin", data)
        self.assertEqual(f["status"], "WAITING_FOR_TRANSFER", f)
        r = self.assertHead(uri, f["bytes_transferred"], False, length=len(data),
                            what="HEAD on B after A died")
        offset = int(r.headers["Upload-Offset"])
        self.assertGreater(offset, 0, "the last heartbeat's durable offset")
        self.assertLessEqual(offset, len(data) // 2)
        r = patch(uri, offset, data[offset:], complete=True)
        self.assertStatus(r, 204, "PATCH on B")
        self.assertOffset(r, len(data), True, "PATCH on B")
        self.assertReady(self.wait_file(self.admin, sid, "k.bin", ("READY",)), data, "SHA256")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        pub = self.published(self.admin, item, "k.bin")
        self.assertEqual(pub["size"], len(data))
        self.assertEqual(pub["checksum_info"]["checksum"].lower(), sha256(data), pub)

    def test_kill9_mid_put_restarted_with_put(self):
        data = blob(2 * MIB + 7)
        item, sid, uri, f = self.start_put_on_a_and_kill_it("r.bin", data)
        if f["status"] != "READY":
            self.assertStatus(upload(uri, data), 200, "PUT on B after the lease")
        self.assertReady(self.wait_file(self.admin, sid, "r.bin", ("READY",)), data, "SHA256")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        pub = self.published(self.admin, item, "r.bin")
        self.assertEqual(pub["checksum_info"]["checksum"].lower(), sha256(data), pub)
        # The restarted blob replaced the partial one: one blob per file once the janitor ran.
        gone = wait_for(lambda: not os.path.exists(self.staging_dir(self.storage, sid)),
                        GONE_WITHIN_S)
        self.assertTrue(gone, "a DONE session's staging directory goes")

    def test_sigterm_mid_put_parks_the_upload(self):
        """A stopping instance records the durable prefix at once and answers 503 with the
        offset; the upload then resumes on another instance without waiting for a lease."""
        item, sid = self.new_session(self.admin)
        data = blob(MIB + 11)
        info = self.add(self.admin, sid, push_spec(
            "t.bin", size=len(data), checksum_info=checksum_spec(data, "SHA256")))
        uri = info["upload_endpoint"]["uri"]
        half = len(data) // 2
        up = OpenUpload(at_port(uri, self.a.port), len(data))
        try:
            up.send(data[:half])
            self.wait_bytes(self.admin, sid, "t.bin", half)
            t0 = time.monotonic()
            self.a.proc.send_signal(15)
            r = up.finish()
        finally:
            up.close()
        self.assertApiError(r, 503, "SERVICE_UNAVAILABLE", mentions=["t.bin"],
                            what="the PUT of a stopping instance")
        self.assertEqual(r.headers.get("Upload-Offset"), str(half), dict(r.headers))
        self.assertEqual(self.a.stop(), 0)
        self.assertLess(time.monotonic() - t0, 3.0, "the drain did not wait for the upload")
        f = self.file(self.admin, sid, "t.bin")
        self.assertEqual((f["status"], f["bytes_transferred"]), ("WAITING_FOR_TRANSFER", half), f)
        self.assertHead(uri, half, False, length=len(data), what="HEAD on B")
        self.assertStatus(patch(uri, half, data[half:]), 204, "PATCH on B")
        self.assertReady(self.wait_file(self.admin, sid, "t.bin", ("READY",)), data, "SHA256")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        pub = self.published(self.admin, item, "t.bin")
        self.assertEqual(pub["checksum_info"]["checksum"].lower(), sha256(data), pub)

    def test_cancel_on_another_instance_stops_the_put(self):
        _, sid = self.new_session(self.admin)
        data = blob(256 * KIB)
        info = self.add(self.admin, sid, push_spec("far.bin", size=len(data)))
        up = OpenUpload(at_port(info["upload_endpoint"]["uri"], self.a.port), len(data))
        try:
            up.send(data[:32 * KIB])
            self.wait_bytes(self.admin, sid, "far.bin", 1)
            t0 = time.monotonic()
            self.end_session(self.admin, sid, "cancel")     # through B
            r = up.finish()
            elapsed = time.monotonic() - t0
        finally:
            up.close()
        self.assertApiError(r, 400, "NOT_ALLOWED_IN_CURRENT_STATE", mentions=["far.bin"],
                            what="A's PUT after B cancelled")
        self.assertLess(elapsed, ANSWER_WITHIN_S + 0.3,
                        "A answered %.2f s after the cancel (next heartbeat)" % elapsed)
        gone = wait_for(lambda: not os.path.exists(self.staging_dir(self.storage, sid)),
                        GONE_WITHIN_S)
        self.assertTrue(gone, "the cancelled session's staged bytes go")


if __name__ == "__main__":
    unittest.main()
