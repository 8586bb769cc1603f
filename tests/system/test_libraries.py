"""Libraries and items around update sessions: create, get, list, find, duplicates,
subscribed libraries, delete."""

import datetime
import uuid

from harness import CLS_MSG_PREFIX, ServerTestCase, uniq, utcnow

SLACK = datetime.timedelta(seconds=5)


class LibraryTest(ServerTestCase):

    def test_local_library_create_get_list_find(self):
        name = uniq("Lib")
        before = utcnow() - SLACK
        r = self.admin.post("/api/content/local-library", {
            "name": name, "description": "system test",
            "storage_backings": [{"type": "OTHER", "storage_uri": "file:///tmp"}]})
        after = utcnow() + SLACK
        self.assertStatus(r, 201, "create local library")
        self.assertJsonContentType(r)
        lib = r.json
        self.assertIsInstance(lib, str)
        self.assertTrue(lib)

        g = self.admin.get("/api/content/library/" + lib)
        self.assertStatus(g, 200, "get library")
        self.assertEqual(g.json.get("id"), lib)
        self.assertEqual(g.json.get("name"), name)
        self.assertEqual(g.json.get("type"), "LOCAL")
        created = self.assertIsoTime(g.json.get("creation_time"), "creation_time")
        self.assertTrue(before <= created <= after, g.json)

        lst = self.admin.get("/api/content/library")
        self.assertStatus(lst, 200, "list libraries")
        self.assertIsInstance(lst.json, list)
        self.assertIn(lib, lst.json)

        f = self.admin.post("/api/content/library?action=find", {"name": name})
        self.assertStatus(f, 200, "find by name")
        self.assertEqual(f.json, [lib])
        f = self.admin.post("/api/content/library?action=find", {"name": name.upper()})
        self.assertStatus(f, 200, "find is case-insensitive")
        self.assertEqual(f.json, [lib])
        f = self.admin.post("/api/content/library?action=find", {"name": name, "type": "LOCAL"})
        self.assertStatus(f, 200, "find by name and type")
        self.assertEqual(f.json, [lib])
        f = self.admin.post("/api/content/library?action=find", {"name": uniq("nope")})
        self.assertStatus(f, 200, "find no match")
        self.assertEqual(f.json, [])

    def test_find_with_empty_spec_is_invalid_argument(self):
        r = self.admin.post("/api/content/library?action=find", {})
        self.assertApiError(r, 400, "INVALID_ARGUMENT", id_prefix=CLS_MSG_PREFIX)

    def test_get_unknown_library_is_not_found(self):
        r = self.admin.get("/api/content/library/" + str(uuid.uuid4()))
        self.assertApiError(r, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX)

    def test_delete_local_library(self):
        lib = self.admin.make_library()
        item = self.admin.make_item(lib)
        r = self.admin.delete("/api/content/local-library/" + lib)
        self.assertStatus(r, 204, "delete local library")
        self.assertEqual(r.raw, b"")
        self.assertApiError(self.admin.get("/api/content/library/" + lib), 404, "NOT_FOUND")
        self.assertNotIn(lib, self.admin.get("/api/content/library").json)
        # Its items went with it.
        self.assertApiError(self.admin.get("/api/content/library/item/" + item), 404,
                            "NOT_FOUND")
        self.assertApiError(self.admin.delete("/api/content/local-library/" + lib), 404,
                            "NOT_FOUND")

    def test_subscribed_library_refuses_items(self):
        name = uniq("sub")
        r = self.admin.post("/api/content/subscribed-library", {
            "name": name,
            "storage_backings": [{"type": "OTHER", "storage_uri": "file:///tmp"}],
            "subscription_info": {"subscription_url": "https://x/lib.json",
                                  "authentication_method": "NONE",
                                  "automatic_sync_enabled": False,
                                  "on_demand": True}})
        self.assertStatus(r, 201, "create subscribed library")
        lib = r.json
        self.assertIsInstance(lib, str)
        g = self.admin.get("/api/content/library/" + lib)
        self.assertStatus(g, 200, "get subscribed library")
        self.assertEqual(g.json.get("type"), "SUBSCRIBED")
        self.assertEqual(g.json.get("name"), name)
        r = self.admin.post("/api/content/library/item",
                            {"library_id": lib, "name": uniq("item"), "type": ""})
        self.assertApiError(r, 400, "INVALID_ELEMENT_TYPE", id_prefix=CLS_MSG_PREFIX)
        lst = self.admin.get("/api/content/library/item?library_id=" + lib)
        self.assertStatus(lst, 200, "list items of subscribed library")
        self.assertEqual(lst.json, [])


class ItemTest(ServerTestCase):

    def test_item_create_get_list_find(self):
        lib = self.admin.make_library()
        name = uniq("Item")
        before = utcnow() - SLACK
        r = self.admin.post("/api/content/library/item",
                            {"library_id": lib, "name": name, "description": "d", "type": ""})
        after = utcnow() + SLACK
        self.assertStatus(r, 201, "create item")
        self.assertJsonContentType(r)
        item = r.json
        self.assertIsInstance(item, str)
        self.assertTrue(item)

        g = self.admin.get("/api/content/library/item/" + item)
        self.assertStatus(g, 200, "get item")
        self.assertEqual(g.json.get("id"), item)
        self.assertEqual(g.json.get("library_id"), lib)
        self.assertEqual(g.json.get("name"), name)
        self.assertEqual(g.json.get("content_version"), "1")
        created = self.assertIsoTime(g.json.get("creation_time"), "creation_time")
        self.assertTrue(before <= created <= after, g.json)

        second = self.admin.make_item(lib)
        lst = self.admin.get("/api/content/library/item?library_id=" + lib)
        self.assertStatus(lst, 200, "list items")
        self.assertEqual(sorted(lst.json), sorted([item, second]))

        f = self.admin.post("/api/content/library/item?action=find",
                            {"library_id": lib, "name": name})
        self.assertStatus(f, 200, "find item")
        self.assertEqual(f.json, [item])
        f = self.admin.post("/api/content/library/item?action=find",
                            {"library_id": lib, "name": name.lower()})
        self.assertStatus(f, 200, "find item is case-insensitive")
        self.assertEqual(f.json, [item])
        f = self.admin.post("/api/content/library/item?action=find",
                            {"library_id": lib, "name": uniq("nope")})
        self.assertStatus(f, 200, "find no match")
        self.assertEqual(f.json, [])

    def test_item_find_with_empty_spec_is_invalid_argument(self):
        r = self.admin.post("/api/content/library/item?action=find", {})
        self.assertApiError(r, 400, "INVALID_ARGUMENT", id_prefix=CLS_MSG_PREFIX)

    def test_duplicate_item_name_is_already_exists(self):
        lib = self.admin.make_library()
        name = uniq("dup")
        first = self.admin.make_item(lib, name)
        for dup in (name, name.upper()):
            with self.subTest(name=dup):
                r = self.admin.post("/api/content/library/item",
                                    {"library_id": lib, "name": dup, "type": ""})
                self.assertApiError(r, 400, "ALREADY_EXISTS", mentions=[dup],
                                    id_prefix=CLS_MSG_PREFIX)
        lst = self.admin.get("/api/content/library/item?library_id=" + lib)
        self.assertEqual(lst.json, [first])
        # The same name in another library is fine.
        other = self.admin.make_library()
        self.admin.make_item(other, name)

    def test_item_in_unknown_library_is_not_found(self):
        r = self.admin.post("/api/content/library/item",
                            {"library_id": str(uuid.uuid4()), "name": uniq("i"), "type": ""})
        self.assertApiError(r, 404, "NOT_FOUND", id_prefix=CLS_MSG_PREFIX)

    def test_item_without_name_is_invalid_argument(self):
        lib = self.admin.make_library()
        for body in ({"library_id": lib, "type": ""}, {"library_id": lib, "name": ""},
                     {"library_id": lib, "name": "x" * 81}):
            with self.subTest(body=str(body)[:60]):
                r = self.admin.post("/api/content/library/item", body)
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["name"],
                                    id_prefix=CLS_MSG_PREFIX)

    def test_delete_item(self):
        lib = self.admin.make_library()
        item = self.admin.make_item(lib)
        r = self.admin.delete("/api/content/library/item/" + item)
        self.assertStatus(r, 204, "delete item")
        self.assertEqual(r.raw, b"")
        self.assertApiError(self.admin.get("/api/content/library/item/" + item), 404,
                            "NOT_FOUND", id_prefix=CLS_MSG_PREFIX)
        lst = self.admin.get("/api/content/library/item?library_id=" + lib)
        self.assertEqual(lst.json, [])
        self.assertApiError(self.admin.delete("/api/content/library/item/" + item), 404,
                            "NOT_FOUND")

    def test_reader_cannot_create_item(self):
        lib = self.admin.make_library()
        reader = self.server.client("reader")
        r = reader.post("/api/content/library/item",
                        {"library_id": lib, "name": uniq("r"), "type": ""})
        self.assertApiError(r, 403, "UNAUTHORIZED")
        # But may read.
        self.assertStatus(reader.get("/api/content/library/" + lib), 200, "reader reads")


if __name__ == "__main__":
    import unittest
    unittest.main()
