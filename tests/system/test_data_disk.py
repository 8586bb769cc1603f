"""Disk reclaimed and bounded (issue 8): item and library delete end the item's ACTIVE session
(CANCELED, its upload URI dead) and leave nothing of the item on disk; --max-files-per-session
caps a session's files with UNABLE_TO_ALLOCATE_RESOURCE."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, session_path  # noqa: E402
from test_files import FilesCase, blob, push_spec, upload, wait_for  # noqa: E402

GONE_WITHIN_S = 5.0
ARGS = ("--janitor-interval-ms", "200", "--max-files-per-session", "3")


class DiskReclaimedTest(FilesCase, ServerTestCase):
    server_args = ARGS

    def item_on_disk(self, item):
        """What the storage directory holds of the item (published and staged)."""
        found = []
        for root in ("items", "staging"):
            top = os.path.join(self.server.storage_dir, root, item)
            for dirpath, _, names in os.walk(top):
                found += [os.path.join(dirpath, n) for n in names]
            if os.path.isdir(top):
                found.append(top)
        return found

    def published_item(self):
        """An item with one published file and a second session holding a staged upload."""
        lib, item = self.admin.make_library_item()
        sid = self.create_session(self.admin, item)
        info = self.add(self.admin, sid, push_spec("a.bin"))
        self.assertStatus(upload(info["upload_endpoint"]["uri"], blob(8192)), 200, "PUT a.bin")
        self.assertStatus(self.admin.post(session_path(sid, "complete")), 204, "complete")
        sid2 = self.create_session(self.admin, item)
        info = self.add(self.admin, sid2, push_spec("b.bin"))
        uri = info["upload_endpoint"]["uri"]
        self.assertStatus(upload(uri, blob(4096)), 200, "PUT b.bin")
        self.assertTrue(self.item_on_disk(item))
        return lib, item, sid2, uri

    def assertGone(self, item, sid, uri):
        self.assertEqual(self.state(self.admin, sid), "CANCELED")
        self.assertEqual(upload(uri, blob(16)).status, 404, "the upload URI died with it")
        self.assertTrue(wait_for(lambda: not self.item_on_disk(item), GONE_WITHIN_S),
                        "left on disk: %r" % self.item_on_disk(item))

    def test_item_delete_leaves_nothing(self):
        _, item, sid, uri = self.published_item()
        self.assertStatus(self.admin.delete("/api/content/library/item/" + item), 204,
                          "item delete with an ACTIVE session")
        self.assertGone(item, sid, uri)

    def test_library_delete_leaves_nothing(self):
        lib, item, sid, uri = self.published_item()
        self.assertStatus(self.admin.delete("/api/content/local-library/" + lib), 204,
                          "library delete")
        self.assertGone(item, sid, uri)

    def test_max_files_per_session(self):
        _, sid = self.new_session(self.admin)
        for name in ("a", "b", "c"):
            self.add(self.admin, sid, push_spec(name))
        r = self.admin.post(session_path(sid) + "/file", push_spec("d"))
        self.assertApiError(r, 500, "UNABLE_TO_ALLOCATE_RESOURCE", mentions=[sid],
                            what="a fourth file")
        self.add(self.admin, sid, push_spec("b"), what="replacing a file is not a new one")
        self.assertEqual(sorted(self.files(self.admin, sid)), ["a", "b", "c"])


if __name__ == "__main__":
    unittest.main()
