"""PUSH uploads: raw bytes PUT or POSTed to File.Info upload_endpoint.uri (no login needed; a
vmware-api-session-id header, when sent, must be valid). 0 bytes, 1 MiB and 1 GiB (streamed
from a generator, with the server's RSS sampled from /proc/<pid>/status); declared size and
checksum verified (SHA1 by default); mismatches -> file ERROR and complete refused; a connection
cut mid-body leaves the file not READY and a retry succeeds; a second concurrent upload to the
same file is refused (409 RESOURCE_BUSY) while the first completes; four uploads at once (two
chunked in odd-sized chunks) all end READY with the right SHA256; upload traffic keeps the
session alive and bytes_transferred advances during a slow upload; complete publishes the files
atomically (names, sizes, versions, content_version), cancel and fail discard staged data.

Data are generated on the fly; nothing big is kept in the repository or after the run."""

import hashlib
import http.client
import os
import secrets
import shutil
import socket
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import SESSION_HEADER, USD_BIN, ServerTestCase  # noqa: E402
from test_files import (CUT_WAIT_S, DISCARD_WAIT_S, EMPTY_SHA1, FilesCase,  # noqa: E402
                        OpenUpload, blob, checksum_spec, digest, disk_holds, files_path,
                        push_spec, session_path, upload, upload_target, wait_for)

MIB = 1 << 20
BIG_SIZE = int(os.environ.get("USD_BIG_UPLOAD_MIB", "1024")) * MIB   # 1 GiB by default
BIG_CHUNK = MIB
RSS_LIMIT = 64 * MIB          # the server's RSS may grow by less than this during the upload
RSS_SAMPLE_S = 0.02
TRICKLE_CHUNKS = 30           # 30 x 1 KiB, one every 100 ms: a 3-second upload
TRICKLE_EVERY_S = 0.1
TRICKLE_CHUNK = 1024


def rss_bytes(pid):
    """VmRSS of a process in bytes (None once it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def is_asan(pid):
    """Is the server built with AddressSanitizer (dynamic libasan or a static runtime)?"""
    try:
        with open("/proc/%d/maps" % pid) as f:
            if "libasan" in f.read():
                return True
        with open(USD_BIN, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


class RssSampler(threading.Thread):
    """Samples a process's VmRSS every RSS_SAMPLE_S until stop(); keeps the peak."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_bytes(pid) or 0
        self.samples = 0
        self._stop_ev = threading.Event()

    def run(self):
        while not self._stop_ev.is_set():
            v = rss_bytes(self.pid)
            if v is not None:
                self.peak = max(self.peak, v)
                self.samples += 1
            self._stop_ev.wait(RSS_SAMPLE_S)

    def stop(self):
        self._stop_ev.set()
        self.join(5)


def big_chunks(size, base):
    """size bytes in BIG_CHUNK pieces: base with its first 8 bytes replaced by the index."""
    n, rest = divmod(size, BIG_CHUNK)
    for i in range(n):
        yield i.to_bytes(8, "big") + base[8:]
    if rest:
        yield (n.to_bytes(8, "big") + base[8:])[:rest]


# ---------------------------------------------------------------------------------------------
# uploads
# ---------------------------------------------------------------------------------------------

class UploadTest(FilesCase, ServerTestCase):

    def test_zero_bytes(self):
        item, sid = self.new_session(self.admin)
        info = self.push(self.admin, sid, "empty.txt", b"")
        self.assertReady(info, b"")
        self.assertEqual(info["checksum_info"]["checksum"].lower(), EMPTY_SHA1)
        info = self.push(self.admin, sid, "empty-declared.txt", b"", method="POST", size=0,
                         checksum_info=checksum_spec(b"", "SHA256"))
        self.assertReady(info, b"", "SHA256")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        files = self.item_files(self.admin, item)
        self.assertEqual({n: f["size"] for n, f in files.items()},
                         {"empty.txt": 0, "empty-declared.txt": 0})

    def test_one_mib(self):
        item, sid = self.new_session(self.admin)
        data = blob(MIB)
        info = self.add(self.admin, sid, push_spec("one.bin"))
        self.assertEqual(info["status"], "WAITING_FOR_TRANSFER")
        r = upload(info["upload_endpoint"]["uri"], data)
        self.assertStatus(r, 200, "PUT 1 MiB")
        info = self.wait_file(self.admin, sid, "one.bin", ("READY",))
        self.assertReady(info, data, "SHA1")   # SHA1 when the client declared no checksum

        data2 = blob(MIB + 17)
        info = self.push(self.admin, sid, "two.bin", data2, method="POST", size=len(data2),
                         checksum_info=checksum_spec(data2, "SHA256"))
        self.assertReady(info, data2, "SHA256")
        self.assertTrue(disk_holds(self.server.storage_dir, data), "staged bytes on disk")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        files = self.item_files(self.admin, item)
        self.assertEqual(files["one.bin"]["size"], MIB)
        self.assertEqual(files["two.bin"]["size"], MIB + 17)
        self.assertChecksum(files["one.bin"].get("checksum_info"), data)
        self.assertTrue(disk_holds(self.server.storage_dir, data2), "published bytes on disk")

    def test_declared_checksums(self):
        _, sid = self.new_session(self.admin)
        data = blob(5000)
        for alg in ("SHA1", "MD5", "SHA256", "SHA512"):
            with self.subTest(algorithm=alg):
                # Upper-case hex is the same checksum.
                ci = {"algorithm": alg, "checksum": digest(data, alg).upper()}
                info = self.push(self.admin, sid, "f-" + alg, data, size=len(data),
                                 checksum_info=ci)
                self.assertReady(info, data, alg)
        info = self.push(self.admin, sid, "f-default", data,
                         checksum_info={"checksum": digest(data, "SHA1")})
        self.assertReady(info, data, "SHA1")

    def test_login_header_optional_but_checked(self):
        _, sid = self.new_session(self.admin)
        data = blob(4096)
        info = self.add(self.admin, sid, push_spec("a.bin"))
        uri = info["upload_endpoint"]["uri"]
        r = upload(uri, data, headers={SESSION_HEADER: "not-a-valid-login"})
        self.assertStatus(r, 401, "upload with an invalid login header")
        f = self.file(self.admin, sid, "a.bin")
        self.assertEqual(f["status"], "WAITING_FOR_TRANSFER", f)
        self.assertEqual(f["bytes_transferred"], 0, f)
        r = upload(uri, data, headers={SESSION_HEADER: self.admin.token})
        self.assertStatus(r, 200, "upload with a valid login header")
        self.assertReady(self.wait_file(self.admin, sid, "a.bin", ("READY",)), data)

    def test_unknown_token(self):
        _, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec("a.bin"))
        u = urllib.parse.urlsplit(info["upload_endpoint"]["uri"])
        parts = u.path.split("/")
        for path in ("/cls/data/%s/a.bin" % secrets.token_hex(32),
                     "/cls/data/%s/a.bin" % parts[3][:-1],
                     "/cls/data/%s" % parts[3],
                     "/cls/data/"):
            with self.subTest(path=path):
                r = upload(urllib.parse.urlunsplit((u.scheme, u.netloc, path, "", "")), b"xyz")
                self.assertStatus(r, 404, "upload to %s" % path)
        self.assertEqual(self.file(self.admin, sid, "a.bin")["status"], "WAITING_FOR_TRANSFER")

    def test_upload_after_session_ended(self):
        lib = self.admin.make_library()
        for action in ("cancel", "fail", "complete"):
            with self.subTest(action=action):
                item = self.admin.make_item(lib)
                sid = self.create_session(self.admin, item)
                info = self.push(self.admin, sid, "a.bin", b"first")
                self.end_session(self.admin, sid, action)
                r = upload(info["upload_endpoint"]["uri"], b"second")
                self.assertTrue(400 <= r.status < 500, "upload after %s: want 4xx, got %d %r"
                                % (action, r.status, r.raw[:300]))
                files = self.item_files(self.admin, item)
                if action == "complete":
                    self.assertChecksum(files["a.bin"]["checksum_info"], b"first")
                else:
                    self.assertEqual(files, {})

    def test_size_mismatch(self):
        lib = self.admin.make_library()
        for declared, sent in ((2000, 1000), (10, 20), (1, 0)):
            with self.subTest(declared=declared, sent=sent):
                item = self.admin.make_item(lib)
                sid = self.create_session(self.admin, item)
                info = self.add(self.admin, sid, push_spec("sized.bin", size=declared))
                r = upload(info["upload_endpoint"]["uri"], blob(sent))
                self.assertTrue(400 <= r.status < 500, "size mismatch upload: want 4xx, got %d %r"
                                % (r.status, r.raw[:300]))
                f = self.wait_file(self.admin, sid, "sized.bin", ("ERROR",))
                self.assertNotEqual(f.get("status"), "READY")
                v = self.validate(self.admin, sid)
                self.assertTrue(v["has_errors"], v)
                self.assertIn("sized.bin", [e["name"] for e in v["invalid_files"]], v)
                self.assertNotAllowed(self.admin.post(session_path(sid, "complete")),
                                      "sized.bin", what="complete with an ERROR file")
                self.assertEqual(self.state(self.admin, sid), "ACTIVE")
                self.assertEqual(self.item_files(self.admin, item), {})
                self.end_session(self.admin, sid, "cancel")

    def test_checksum_mismatch(self):
        item, sid = self.new_session(self.admin)
        data = blob(10000)
        info = self.add(self.admin, sid, push_spec("c.bin",
                                                   checksum_info=checksum_spec(b"not the data")))
        r = upload(info["upload_endpoint"]["uri"], data)
        self.assertStatus(r, 400, "upload with a checksum mismatch")
        f = self.wait_file(self.admin, sid, "c.bin", ("ERROR",))
        self.assertNotAllowed(self.admin.post(session_path(sid, "complete")), "c.bin",
                              what="complete with a checksum mismatch")
        self.assertEqual(self.state(self.admin, sid), "ACTIVE")
        self.assertEqual(self.item_files(self.admin, item), {})

        # Add it again with the right checksum: it arrives and complete publishes it.
        info = self.push(self.admin, sid, "c.bin", data, checksum_info=checksum_spec(data))
        self.assertReady(info, data, "SHA1")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        files = self.item_files(self.admin, item)
        self.assertEqual(files["c.bin"]["size"], len(data))
        self.assertChecksum(files["c.bin"]["checksum_info"], data)

    def test_connection_cut_mid_upload(self):
        item, sid = self.new_session(self.admin)
        data = blob(512 * 1024)
        info = self.add(self.admin, sid, push_spec("cut.bin"))
        uri = info["upload_endpoint"]["uri"]
        up = OpenUpload(uri, len(data))
        try:
            up.send(data[:len(data) // 2])
            self.wait_file(self.admin, sid, "cut.bin", ("TRANSFERRING",))
        finally:
            up.cut()
        f = self.wait_file(self.admin, sid, "cut.bin", ("ERROR", "WAITING_FOR_TRANSFER"),
                           CUT_WAIT_S)
        self.assertNotEqual(f["status"], "READY")
        v = self.validate(self.admin, sid)
        self.assertTrue(v["has_errors"], v)
        self.assertIn("cut.bin", v["missing_files"] + [e["name"] for e in v["invalid_files"]], v)
        self.assertNotAllowed(self.admin.post(session_path(sid, "complete")), "cut.bin",
                              what="complete after a cut upload")
        self.assertEqual(self.state(self.admin, sid), "ACTIVE")

        # A retry to the same URI succeeds.
        r = upload(uri, data)
        self.assertStatus(r, 200, "retry after the cut")
        self.assertReady(self.wait_file(self.admin, sid, "cut.bin", ("READY",)), data)
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        files = self.item_files(self.admin, item)
        self.assertEqual(files["cut.bin"]["size"], len(data))
        self.assertChecksum(files["cut.bin"]["checksum_info"], data)

    def test_concurrent_second_upload_refused(self):
        item, sid = self.new_session(self.admin)
        first = blob(256 * 1024)
        info = self.add(self.admin, sid, push_spec("busy.bin"))
        uri = info["upload_endpoint"]["uri"]
        up = OpenUpload(uri, len(first))
        try:
            up.send(first[:64 * 1024])
            self.wait_file(self.admin, sid, "busy.bin", ("TRANSFERRING",))
            for method in ("PUT", "POST"):
                with self.subTest(method=method):
                    r = upload(uri, blob(1000), method=method)
                    self.assertApiError(r, 409, "RESOURCE_BUSY",
                                        what="second upload (%s) while the first runs" % method)
            up.send(first[64 * 1024:])
            r1 = up.finish()
        finally:
            up.close()
        self.assertStatus(r1, 200, "the first upload")
        self.assertReady(self.wait_file(self.admin, sid, "busy.bin", ("READY",)), first)
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        self.assertChecksum(self.item_files(self.admin, item)["busy.bin"]["checksum_info"], first)


def chunked_put(uri, data, piece):
    """PUTs data with Transfer-Encoding: chunked, `piece` bytes per chunk (the last one shorter),
    on a socket of its own; returns the status code."""
    host, port, path = upload_target(uri)
    sock = socket.create_connection((host, port), timeout=60)
    try:
        head = ("PUT %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/octet-stream\r\n"
                "Transfer-Encoding: chunked\r\n\r\n" % (path, host, port))
        sock.sendall(head.encode())
        for off in range(0, len(data), piece):
            part = data[off:off + piece]
            sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        resp = http.client.HTTPResponse(sock, method="PUT")
        resp.begin()
        resp.read()
        return resp.status
    finally:
        sock.close()


class ParallelUploadTest(FilesCase, ServerTestCase):
    """Several uploads at once share the disk threads (net/data/sink.c): Content-Length bodies
    read with big reads and chunked bodies in odd-sized chunks (chunk framing across the 256 KiB
    reads and the sink's buffers), each several sink buffers long; all READY with the right
    SHA256, while GETs of the session on the same instance keep being answered."""

    def test_four_uploads_at_once(self):
        item, sid = self.new_session(self.admin)
        sizes = [6 * MIB + 1, 5 * MIB + 4097, 7 * MIB + 3, 3 * MIB]
        datas = [blob(n) for n in sizes]
        uris = []
        for i, data in enumerate(datas):
            info = self.add(self.admin, sid, push_spec(
                "p%d.bin" % i, size=len(data), checksum_info=checksum_spec(data, "SHA256")))
            uris.append(info["upload_endpoint"]["uri"])
        results = [None] * len(datas)

        def run(i):
            try:
                if i % 2:
                    results[i] = chunked_put(uris[i], datas[i], 100003 if i == 1 else 7777)
                else:
                    results[i] = upload(uris[i], datas[i]).status
            except Exception as e:  # noqa: BLE001 -- reported by the assertion below
                results[i] = repr(e)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(datas))]
        for t in threads:
            t.start()
        gets = 0
        while any(t.is_alive() for t in threads):
            self.assertStatus(self.admin.get(session_path(sid)), 200,
                              "GET of the session during the uploads")
            gets += 1
        for t in threads:
            t.join()
        self.assertEqual(results, [200] * len(datas))
        self.assertGreater(gets, 0)
        for i, data in enumerate(datas):
            info = self.wait_file(self.admin, sid, "p%d.bin" % i, ("READY",))
            self.assertReady(info, data, "SHA256")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        files = self.item_files(self.admin, item)
        for i, data in enumerate(datas):
            self.assertChecksum(files["p%d.bin" % i]["checksum_info"], data, "SHA256")


class PublicUrlTest(FilesCase, ServerTestCase):

    PUBLIC = "http://uploads.example.test:9999"
    server_args = ("--public-url", PUBLIC)

    def test_upload_uri_uses_public_url(self):
        _, sid = self.new_session(self.admin)
        info = self.add(self.admin, sid, push_spec("a.bin"))
        uri = info["upload_endpoint"]["uri"]
        self.assertTrue(uri.startswith(self.PUBLIC + "/cls/data/"), uri)
        r = upload(uri, b"hello", port=self.server.port)
        self.assertStatus(r, 200, "upload through the public URL's path")
        self.assertReady(self.wait_file(self.admin, sid, "a.bin", ("READY",)), b"hello")


# ---------------------------------------------------------------------------------------------
# publishing
# ---------------------------------------------------------------------------------------------

class PublishTest(FilesCase, ServerTestCase):

    def test_complete_publishes_replace_and_remove(self):
        item, sid = self.new_session(self.admin)
        a1, b1 = blob(1000), blob(2000)
        self.push(self.admin, sid, "a.bin", a1)
        self.push(self.admin, sid, "b.txt", b1)
        self.assertEqual(self.item_files(self.admin, item), {},
                         "the item's files do not change before complete")
        self.assertEqual(self.item(self.admin, item).get("content_version"), "1")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete 1")
        self.assertEqual(self.state(self.admin, sid), "DONE")

        files = self.item_files(self.admin, item)
        self.assertEqual(set(files), {"a.bin", "b.txt"})
        for name, data in (("a.bin", a1), ("b.txt", b1)):
            self.assertEqual(files[name]["size"], len(data), files)
            self.assertEqual(files[name]["version"], "1", files)
            self.assertIs(files[name]["cached"], True, files)
            self.assertChecksum(files[name].get("checksum_info"), data)
        it = self.item(self.admin, item)
        self.assertEqual(it.get("content_version"), "2", it)
        self.assertEqual(it.get("size"), 3000, it)
        self.assertIs(it.get("cached"), True, it)

        # Second session: the item's files are listed as NONE; replace a, remove b, add c.
        sid2 = self.create_session(self.admin, item)
        listed = self.files(self.admin, sid2)
        self.assertEqual(set(listed), {"a.bin", "b.txt"})
        for name, data in (("a.bin", a1), ("b.txt", b1)):
            self.assertEqual(listed[name]["source_type"], "NONE", listed)
            self.assertEqual(listed[name]["status"], "READY", listed)
            self.assertEqual(listed[name]["size"], len(data), listed)
            self.assertEqual(self.file(self.admin, sid2, name), listed[name])
        v = self.validate(self.admin, sid2)
        self.assertEqual(v, {"has_errors": False, "missing_files": [], "invalid_files": []})

        a2, c1 = blob(1500), blob(500)
        info = self.push(self.admin, sid2, "a.bin", a2)
        self.assertEqual(info["source_type"], "PUSH")
        self.assertStatus(self.admin.delete(files_path(sid2, "b.txt")), 204, "remove b.txt")
        self.push(self.admin, sid2, "c.dat", c1)
        listed = self.files(self.admin, sid2)
        self.assertEqual(set(listed), {"a.bin", "c.dat"})
        self.assertEqual(listed["a.bin"]["source_type"], "PUSH")

        before = self.item_files(self.admin, item)
        self.assertEqual(before, files, "the item's files do not change before complete")
        self.assertEqual(self.item(self.admin, item).get("content_version"), "2")

        self.assertStatus(self.admin.post(session_path(sid2, "complete")), 204, "complete 2")
        files = self.item_files(self.admin, item)
        self.assertEqual(set(files), {"a.bin", "c.dat"})
        self.assertEqual((files["a.bin"]["size"], files["a.bin"]["version"]), (1500, "2"), files)
        self.assertChecksum(files["a.bin"].get("checksum_info"), a2)
        self.assertEqual((files["c.dat"]["size"], files["c.dat"]["version"]), (500, "1"), files)
        self.assertChecksum(files["c.dat"].get("checksum_info"), c1)
        self.assertApiError(self.admin.get("/api/content/library/item/%s/file?name=b.txt" % item),
                            404, "NOT_FOUND", what="removed file")
        it = self.item(self.admin, item)
        self.assertEqual(it.get("content_version"), "3", it)
        self.assertEqual(it.get("size"), 2000, it)
        self.assertTrue(disk_holds(self.server.storage_dir, a2))
        self.assertTrue(disk_holds(self.server.storage_dir, c1))

        # A session that removes everything empties the item.
        sid3 = self.create_session(self.admin, item)
        for name in ("a.bin", "c.dat"):
            self.assertStatus(self.admin.delete(files_path(sid3, name)), 204, "remove " + name)
        self.assertEqual(self.files(self.admin, sid3), {})
        self.assertStatus(self.admin.post(session_path(sid3, "complete")), 204, "complete 3")
        self.assertEqual(self.item_files(self.admin, item), {})
        it = self.item(self.admin, item)
        self.assertEqual((it.get("content_version"), it.get("size")), ("4", 0), it)

    def test_cancel_and_fail_discard(self):
        item, sid = self.new_session(self.admin)
        kept = blob(700)
        self.push(self.admin, sid, "kept.bin", kept)
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        published = self.item_files(self.admin, item)

        for action in ("cancel", "fail"):
            with self.subTest(action=action):
                sid = self.create_session(self.admin, item)
                staged = blob(3333)
                self.push(self.admin, sid, "new.bin", staged)
                self.push(self.admin, sid, "kept.bin", blob(10))
                self.assertStatus(self.admin.delete(files_path(sid, "kept.bin")), 204, "remove")
                self.assertTrue(disk_holds(self.server.storage_dir, staged),
                                "staged bytes are on disk before %s" % action)
                self.end_session(self.admin, sid, action)
                self.assertEqual(self.item_files(self.admin, item), published,
                                 "%s leaves the item's files alone" % action)
                self.assertEqual(self.item(self.admin, item).get("content_version"), "2")
                gone = wait_for(lambda: not disk_holds(self.server.storage_dir, staged),
                                DISCARD_WAIT_S, 0.1)
                self.assertTrue(gone, "%s must discard the staged data" % action)
                self.assertTrue(disk_holds(self.server.storage_dir, kept))


class ExpiryDiscardTest(FilesCase, ServerTestCase):
    """Expiry discards staged data whichever path expires the session. Here a create on the
    item expires the idle holder before any sweep (sweeps are 1.5 s apart); the next sweep
    must still report it so its staged bytes go. (Regression: only sessions the sweeper itself
    expired were reported, so these staged bytes stayed forever.)"""

    server_args = ("--session-timeout", "1", "--sweep-interval-ms", "1500")

    def test_expired_by_create_discards_staged_data(self):
        item, sid = self.new_session(self.admin)
        staged = blob(4321)
        self.push(self.admin, sid, "staged.bin", staged)
        self.assertTrue(disk_holds(self.server.storage_dir, staged), "staged before expiry")
        deadline = wait_for(lambda: self.create_session_or_none(item), 5, 0.05)
        self.assertTrue(deadline, "a create after the holder's expiration_time succeeds")
        gone = wait_for(lambda: not disk_holds(self.server.storage_dir, staged), 5, 0.1)
        self.assertTrue(gone, "the expired session's staged data must be discarded")

    def create_session_or_none(self, item):
        r = self.admin.post("/api/content/library/item/update-session", {"library_item_id": item})
        return r.json if r.status == 201 else None


# ---------------------------------------------------------------------------------------------
# a slow upload on a server with a 1-second session timeout
# ---------------------------------------------------------------------------------------------

class TrickleUploadTest(FilesCase, ServerTestCase):

    server_args = ("--session-timeout", "1")

    def test_slow_upload_keeps_session_alive(self):
        item, sid = self.new_session(self.admin)
        total = TRICKLE_CHUNKS * TRICKLE_CHUNK
        data = blob(total)
        info = self.add(self.admin, sid, push_spec("slow.bin", size=total))
        uri = info["upload_endpoint"]["uri"]
        self.assertStatus(self.admin.post(session_path(sid, "keep-alive")), 204, "keep-alive")

        result = {}

        def send():
            up = OpenUpload(uri, total)
            try:
                for i in range(TRICKLE_CHUNKS):
                    up.send(data[i * TRICKLE_CHUNK:(i + 1) * TRICKLE_CHUNK])
                    time.sleep(TRICKLE_EVERY_S)
                result["r"] = up.finish()
            except Exception as e:  # reported by the main thread
                result["e"] = e
            finally:
                up.close()

        t0 = time.monotonic()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        seen = []
        while sender.is_alive() and time.monotonic() - t0 < 30:
            s = self.get_session(self.admin, sid)
            f = self.file(self.admin, sid, "slow.bin")
            seen.append((round(time.monotonic() - t0, 2), s.get("state"), f["status"],
                         f["bytes_transferred"]))
            self.assertEqual(s.get("state"), "ACTIVE",
                             "the session expired during the upload: %r; seen %r" % (s, seen))
            time.sleep(0.2)
        sender.join(30)
        elapsed = time.monotonic() - t0
        self.assertNotIn("e", result, "upload failed: %r" % result.get("e"))
        self.assertStatus(result["r"], 200, "the slow upload")
        self.assertGreaterEqual(elapsed, 2.5, "the upload was meant to take 3 s")

        s = self.get_session(self.admin, sid)
        self.assertEqual(s.get("state"), "ACTIVE", "after the upload: %r" % s)
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204,
                          "complete right after the slow upload")
        self.assertEqual(self.state(self.admin, sid), "DONE")
        self.assertEqual(self.item_files(self.admin, item)["slow.bin"]["size"], total)

        # bytes_transferred advanced while the bytes came (written about once a second).
        statuses = [st for _, _, st, _ in seen]
        self.assertNotIn("ERROR", statuses, seen)
        middle = [b for _, _, st, b in seen if st == "TRANSFERRING" and 0 < b < total]
        self.assertTrue(middle, "no TRANSFERRING sample with 0 < bytes_transferred < %d: %r"
                        % (total, seen))
        got = [b for _, _, _, b in seen]
        self.assertEqual(got, sorted(got), "bytes_transferred never goes back: %r" % seen)


# ---------------------------------------------------------------------------------------------
# 1 GiB
# ---------------------------------------------------------------------------------------------

class BigUploadTest(FilesCase, ServerTestCase):
    """One 1 GiB upload streamed in 1 MiB chunks; the server must stream it to disk. With ASan
    the quarantine of freed memory (256 MiB by default) is a property of the sanitizer, not of
    the server, so this server runs with a small quarantine."""

    @classmethod
    def setUpClass(cls):
        saved = os.environ.get("ASAN_OPTIONS")
        os.environ["ASAN_OPTIONS"] = ((saved + ":") if saved else "") + "quarantine_size_mb=4"
        try:
            super().setUpClass()
        finally:
            if saved is None:
                os.environ.pop("ASAN_OPTIONS", None)
            else:
                os.environ["ASAN_OPTIONS"] = saved

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        try:
            super().tearDownClass()
        finally:
            if srv is not None:   # never leave a gigabyte behind, even when stop() failed
                shutil.rmtree(srv.storage_dir, ignore_errors=True)

    def test_one_gib_streams_with_bounded_memory(self):
        item, sid = self.new_session(self.admin)
        base = blob(BIG_CHUNK, seed="big")
        h = hashlib.sha256()
        for c in big_chunks(BIG_SIZE, base):
            h.update(c)
        sha256 = h.hexdigest()
        info = self.add(self.admin, sid, push_spec(
            "big.iso", size=BIG_SIZE, checksum_info={"algorithm": "SHA256", "checksum": sha256}))
        uri = info["upload_endpoint"]["uri"]

        pid = self.server.proc.pid
        asan = is_asan(pid)
        time.sleep(0.2)
        baseline = rss_bytes(pid)
        self.assertIsNotNone(baseline, "cannot read /proc/%d/status" % pid)
        sampler = RssSampler(pid)
        sampler.start()
        t0 = time.monotonic()
        try:
            r = upload(uri, big_chunks(BIG_SIZE, base), length=BIG_SIZE)
        finally:
            sampler.stop()
        elapsed = time.monotonic() - t0
        peak = sampler.peak
        growth = peak - baseline
        sys.stderr.write("\n  [1 GiB upload] %.1f s (%.0f MiB/s); server RSS baseline %.1f MiB, "
                         "peak %.1f MiB, growth %.1f MiB; %d samples; ASan %s\n"
                         % (elapsed, BIG_SIZE / MIB / max(elapsed, 1e-6), baseline / MIB,
                            peak / MIB, growth / MIB, sampler.samples,
                            "yes" if asan else "no"))
        self.assertStatus(r, 200, "1 GiB upload")
        self.assertLess(growth, RSS_LIMIT, "server RSS grew by %.1f MiB during the upload"
                        % (growth / MIB))
        if not asan:
            self.assertLess(peak, RSS_LIMIT, "server RSS peaked at %.1f MiB" % (peak / MIB))

        f = self.wait_file(self.admin, sid, "big.iso", ("READY", "ERROR"), 60)
        self.assertEqual(f["status"], "READY", f)
        self.assertEqual(f["size"], BIG_SIZE, f)
        self.assertEqual(f["bytes_transferred"], BIG_SIZE, f)
        ci = f.get("checksum_info")
        self.assertIsInstance(ci, dict, f)
        self.assertEqual(ci.get("algorithm"), "SHA256", f)
        self.assertEqual(ci.get("checksum", "").lower(), sha256, f)

        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        files = self.item_files(self.admin, item)
        self.assertEqual(files["big.iso"]["size"], BIG_SIZE, files)
        self.assertEqual(self.item(self.admin, item).get("size"), BIG_SIZE)


if __name__ == "__main__":
    import unittest
    unittest.main()
