"""The janitor (net/data/janitor.c): disk reclaimed from the garbage list and by the scan.

GarbageListTest: entries RPUSHed by hand on `<prefix>garbage` (what the scripts push) for files
and directories made under the server's --storage-dir are deleted within a few seconds and the
list drains: a blob entry takes <blob> and <blob>.part and leaves its siblings, a directory
entry takes the whole tree (and the item's staging directory once empty), an entry for what is
already gone is fine. Malformed entries (`../x`, absolute paths, `items/../../x`, too deep,
`staging/<item>` alone) are dropped without deleting anything, and symlinks planted under the
storage directory are never followed (a symlinked directory entry removes the link only).

ScanTest (--scan-interval-s 1 --orphan-grace-s 0): files under staging/ and items/ that no
Redis record references disappear; those referenced stay: records are written by hand in the
key layout of store/keys.c (an item with published files, an ACTIVE session with its files, the
item's lock naming that session for a blob linked before its complete publishes, a DONE
session whose staging goes, a record that does not decode keeps its item's files), so this does
not depend on the upload and complete paths; a real published file (PUSH + complete) is checked
too and skipped with its reason when publishing does not work in this build. Each scan logs
`msg="storage scan done" files=N orphans=M ms=T`.

GraceTest (--orphan-grace-s 3600): an orphan younger than the grace period stays through scans.

CrashTest (USD_FAULT, test builds only; skipped otherwise): killed at before_unlink or in_janitor,
the taken entries are off the list but (some) files are still there; a restarted instance's scan
removes them, as nothing references them.
"""

import json
import os
import re
import sys
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ApiTestCase, Server, wait_for  # noqa: E402

GONE_WAIT_S = 3.0   # garbage entries are deleted within this (default --janitor-interval-ms)
SCAN_WAIT_S = 6.0   # with --scan-interval-s 1 an orphan goes within this
POLL_S = 0.05
SCAN_LINE = re.compile(r'msg="storage scan done" files=(\d+) orphans=(\d+) ms=(\d+)')


def uid():
    return str(uuid.uuid4())


def make_file(root, rel, data=b"x"):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path




class JanitorCase(ApiTestCase):
    server_args = ()
    server_env = None

    def setUp(self):
        self.server = Server(args=self.server_args, env=self.server_env)
        self.root = self.server.storage_dir
        self.keys_made = []

    def tearDown(self):
        try:
            if self.keys_made:
                self.server.redis.command("DEL", *self.keys_made)
            self.server.redis.command("DEL", self.key("garbage"))
        finally:
            self.server.stop()

    def key(self, *parts):
        return self.server.prefix + "".join(parts)

    def hset(self, key, *pairs):
        self.keys_made.append(key)
        self.server.redis.command("HSET", key, *pairs)

    def push(self, *entries):
        self.server.redis.command("RPUSH", self.key("garbage"), *entries)

    def list_len(self):
        return self.server.redis.command("LLEN", self.key("garbage"))

    def exists(self, rel):
        return os.path.lexists(os.path.join(self.root, rel))

    def assertGone(self, rels, timeout, what):
        ok = wait_for(lambda: not any(self.exists(r) for r in rels), timeout)
        left = [r for r in rels if self.exists(r)]
        self.assertTrue(ok, "%s: still on disk after %.0f s: %r\n%s" % (
            what, timeout, left, self.server.log()))

    def assertKept(self, rels, what):
        for r in rels:
            self.assertTrue(self.exists(r), "%s: %s must stay\n%s" % (what, r, self.server.log()))

    def scans(self):
        with open(self.server.log_path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        return [tuple(int(x) for x in m.groups()) for m in SCAN_LINE.finditer(text)]

    def wait_scans(self, n, timeout):
        ok = wait_for(lambda: len(self.scans()) >= n, timeout)
        self.assertTrue(ok, "want %d scan lines within %.0f s:\n%s" % (n, timeout,
                                                                        self.server.log()))


class GarbageListTest(JanitorCase):

    def test_entries_are_deleted_and_the_list_drains(self):
        i1, i2, i3, i5 = uid(), uid(), uid(), uid()
        u3, u5 = uid(), uid()
        b1, b3, b4 = uid(), uid(), uid()
        blob = "items/%s/%s" % (i1, b1)
        item_dir = ["items/%s/%s" % (i2, uid()) for _ in range(3)]
        staged = "staging/%s/%s/%s" % (i3, u3, b3)
        sibling = "staging/%s/%s/%s" % (i3, u3, b4)
        session_dir = ["staging/%s/%s/%s" % (i5, u5, uid()) for _ in range(3)]
        session_dir.append(session_dir[0] + ".part")
        for rel in [blob, staged, staged + ".part", sibling] + item_dir + session_dir:
            make_file(self.root, rel)
        self.push(blob, "items/" + i2, staged, "staging/%s/%s" % (i5, u5),
                  "items/%s/%s" % (uid(), uid()),          # already gone: fine
                  "staging/%s/%s" % (uid(), uid()))
        self.assertGone([blob, staged, staged + ".part", "items/" + i2, "staging/" + i5],
                        GONE_WAIT_S, "garbage entries")
        self.assertTrue(wait_for(lambda: self.list_len() == 0, GONE_WAIT_S), "list drains")
        self.assertKept([sibling], "a blob entry takes only its blob")
        self.assertKept(["items", "staging", "staging/" + i3], "roots and live directories")

    def test_full_batches_drain_at_once(self):
        """250 entries (three takes of <= 100) go well within three intervals."""
        item = uid()
        rels = ["items/%s/%s" % (item, uid()) for _ in range(250)]
        for rel in rels:
            make_file(self.root, rel)
        self.push(*rels)
        self.assertGone(rels, GONE_WAIT_S, "250 entries")
        self.assertEqual(self.list_len(), 0)

    def test_malformed_entries_are_dropped(self):
        outside = os.path.join(self.server.dir, "victim")     # <storage>/../victim
        make_file(self.server.dir, "victim")
        absolute = make_file(self.server.dir, "abs/victim")
        deep = "staging/a/b/c/d/e"
        make_file(self.root, deep)
        item = uid()
        kept_staging = "staging/%s/%s/%s" % (item, uid(), uid())
        make_file(self.root, kept_staging)
        # A symlinked item directory pointing outside: the link may go, its target may not.
        target = os.path.join(self.server.dir, "target")
        make_file(target, "precious")
        link_item = uid()
        os.makedirs(os.path.join(self.root, "items"), exist_ok=True)
        os.symlink(target, os.path.join(self.root, "items", link_item))
        sentinel = "items/%s/%s" % (uid(), uid())
        make_file(self.root, sentinel)
        self.push("../victim", "/etc/passwd", absolute, "items/../../victim", deep,
                  "staging/a/b/c/d", "staging/" + item, "staging", "items", "items/",
                  "items//x", "items/.", "items/a b", "",
                  "items/%s/precious" % link_item,      # a path through a symlink
                  "items/" + link_item,                  # the symlink itself
                  sentinel)                              # processed last
        self.assertGone([sentinel], GONE_WAIT_S, "the entry after the malformed ones")
        self.assertTrue(wait_for(lambda: self.list_len() == 0, GONE_WAIT_S), "list drains")
        self.assertTrue(os.path.exists(outside), "../victim must stay")
        self.assertTrue(os.path.exists(absolute), "an absolute path must stay")
        self.assertTrue(os.path.exists("/etc/passwd"))
        self.assertKept([deep, kept_staging], "malformed entries touch nothing")
        self.assertTrue(os.path.exists(os.path.join(target, "precious")),
                        "a symlink's target is never deleted")
        self.assertFalse(self.exists("items/" + link_item),
                         "a symlink where an item directory should be is removed itself")
        self.assertIn("dropped malformed garbage entry", self.server.log())


class ScanTest(JanitorCase):
    server_args = ("--scan-interval-s", "1", "--orphan-grace-s", "0")

    def test_orphans_go_referenced_stay(self):
        p = self.server.prefix
        item, sess, ended, bad = uid(), uid(), uid(), uid()
        published, linked, live, old = uid(), uid(), uid(), uid()

        def rec(blob):
            return json.dumps({"name": blob[:8], "blob": blob, "status": "READY"})

        # The item: published file `published`; its lock names the ACTIVE session `sess`, whose
        # files record `live` (staging, being uploaded) and `linked` (linked into items/ by a
        # complete that did not publish yet). Session `ended` is DONE.
        self.hset("%s{%s}:item" % (p, item), "id", item, "name", "x")
        self.hset("%s{%s}:files" % (p, item), "a", rec(published))
        self.hset("%s{%s}:s:%s" % (p, item, sess), "state", "ACTIVE")
        self.hset("%s{%s}:s:%s:files" % (p, item, sess), "b", rec(live), "c", rec(linked))
        self.keys_made.append("%s{%s}:lock" % (p, item))
        self.server.redis.command("SET", "%s{%s}:lock" % (p, item), "%s:%s" % (item, sess))
        self.hset("%s{%s}:s:%s" % (p, item, ended), "state", "DONE")
        self.hset("%s{%s}:s:%s:files" % (p, item, ended), "b", rec(old))
        # An item whose file record does not decode: nothing of it is called an orphan.
        self.hset("%s{%s}:item" % (p, bad), "id", bad)
        self.hset("%s{%s}:files" % (p, bad), "a", "{not json")

        keep = ["items/%s/%s" % (item, published), "items/%s/%s" % (item, linked),
                "staging/%s/%s/%s.part" % (item, sess, live),
                "staging/%s/%s/%s" % (item, sess, live), "items/%s/%s" % (bad, uid())]
        orphans = ["items/%s/%s" % (uid(), uid()),                       # no item
                   "staging/%s/%s/%s.part" % (uid(), uid(), uid()),      # no session
                   "items/%s/%s" % (item, uid()),                        # not the item's
                   "staging/%s/%s/%s" % (item, sess, uid()),             # not the session's
                   "staging/%s/%s/%s" % (item, ended, old)]              # session ended
        for rel in keep + orphans:
            make_file(self.root, rel)
        # Not ours: a symlink to a file outside, a directory at a file's place, a file at a
        # directory's place; none of it is touched.
        make_file(self.server.dir, "outside")
        link = "items/%s/%s" % (uid(), uid())
        os.makedirs(os.path.dirname(os.path.join(self.root, link)))
        os.symlink(os.path.join(self.server.dir, "outside"), os.path.join(self.root, link))
        odd_dir = "items/%s/%s/deeper" % (uid(), uid())
        make_file(self.root, odd_dir)
        odd_file = "staging/%s" % uid()
        make_file(self.root, odd_file)

        self.assertGone(orphans, SCAN_WAIT_S, "orphans")
        first = len(self.scans())
        self.wait_scans(first + 1, SCAN_WAIT_S)   # one more full scan after they went
        self.assertKept(keep, "referenced files")
        self.assertKept([link, odd_dir, odd_file], "what is not ours")
        self.assertTrue(os.path.exists(os.path.join(self.server.dir, "outside")))
        # Directories emptied by the scan go (the ended session's), live ones stay.
        self.assertGone(["staging/%s/%s" % (item, ended),
                         os.path.dirname(orphans[0]), os.path.dirname(orphans[1])],
                        SCAN_WAIT_S, "emptied directories")
        self.assertKept(["items/" + item, "staging/%s/%s" % (item, sess)], "live directories")
        files, _, ms = self.scans()[-1]
        self.assertGreaterEqual(files, len(keep))
        self.assertGreaterEqual(ms, 0)
        self.assertTrue(any(s[1] >= 1 for s in self.scans()), self.scans())

    def test_published_file_stays(self):
        """A file published through the API (PUSH + complete) survives scans with grace 0."""
        from test_files import push_spec, session_path, upload
        admin = self.server.client("admin")
        _, item = admin.make_library_item()
        r = admin.create_session(item)
        self.assertStatus(r, 201, "create session")
        sid = r.json
        r = admin.post("/api/content/library/item/update-session/%s/file" % sid,
                       push_spec("a.bin"))
        self.assertStatus(r, 201, "file add")
        self.assertStatus(upload(r.json["upload_endpoint"]["uri"], b"hello janitor"), 200,
                          "upload")
        f = admin.get("/api/content/library/item/update-session/%s/file/a.bin" % sid)
        self.assertStatus(f, 200, "file get")
        self.assertEqual(f.json.get("status"), "READY", f.json)
        self.assertStatus(admin.post(session_path(sid, "complete")), 204, "complete")
        idir = os.path.join(self.root, "items", item)
        blobs = os.listdir(idir) if os.path.isdir(idir) else []
        self.assertEqual(len(blobs), 1, "items/%s holds %r" % (item, blobs))
        n = len(self.scans())
        self.wait_scans(n + 2, SCAN_WAIT_S)
        self.assertKept(["items/%s/%s" % (item, blobs[0])], "the published blob")
        self.assertGone(["staging/%s" % item], SCAN_WAIT_S, "the completed session's staging")


class GraceTest(JanitorCase):
    server_args = ("--scan-interval-s", "1", "--orphan-grace-s", "3600")

    def test_young_orphan_stays(self):
        orphans = ["items/%s/%s" % (uid(), uid()), "staging/%s/%s/%s" % (uid(), uid(), uid())]
        for rel in orphans:
            make_file(self.root, rel)
        self.wait_scans(2, SCAN_WAIT_S)
        self.assertKept(orphans, "an orphan younger than --orphan-grace-s")
        files, removed, _ = self.scans()[-1]
        self.assertEqual((files, removed), (2, 0), self.scans())


class CrashTest(JanitorCase):
    server_args = ("--orphan-grace-s", "3600")

    def crash_at(self, point, want_left):
        self.server.stop()
        self.server = Server(args=self.server_args, env={"USD_FAULT": point})
        self.root = self.server.storage_dir
        item = uid()
        rels = ["items/%s/%s" % (item, uid()) for _ in range(3)]
        for rel in rels:
            make_file(self.root, rel)
        self.push(*rels)
        if not wait_for(lambda: not self.server.alive(), GONE_WAIT_S):
            self.skipTest("not a fault-injection build (USD_FAULTS): %s did not fire" % point)
        self.server.kill9()
        self.assertIn("fault point %s reached" % point, self.server.log())
        self.assertEqual(self.list_len(), 0, "the batch was taken before the crash")
        left = [r for r in rels if self.exists(r)]
        self.assertEqual(left, rels[3 - want_left:], "files left by the crash")
        # Another start (no fault) finds them with its scan: nothing references them.
        self.server.env = None
        self.server.args = ["--scan-interval-s", "1", "--orphan-grace-s", "0"]
        self.server.start()
        self.assertGone(left, SCAN_WAIT_S, "what the crash left")

    def test_before_unlink(self):
        self.crash_at("before_unlink", 3)

    def test_in_janitor(self):
        self.crash_at("in_janitor", 2)


if __name__ == "__main__":
    unittest.main()
