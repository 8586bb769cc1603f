"""The scripts made bounded for growing data (README "Cost as the data grows") keep their
answers, in both wire flavours:
  * item find by name or type goes through the indexes (the library's name hash, the global
    P iname:<lower name> and P itype:<lower type>): case-insensitive, across libraries in
    library order, with the other filters, and a deleted item is not found;
  * a library delete runs in batches of items (store/libraries.c): once it answered, the library
    and every item are NOT_FOUND, no key of theirs is left, their ACTIVE session is CANCELED,
    their directories are on the garbage list, and this within a bounded time; two deletes of
    one library at once both end well;
  * a store made before the global name and type indexes gets them built by the sweepers
    (names_build.lua), and finds by name meanwhile by the old scan;
  * the session list reads no record per id: a session whose retention ended is left out before
    any sweep drops its id;
  * publish moves the item's size by the session's files (added, replaced, removed), and an
    item without the running sum (a record of before it) is summed once.
The Redis time of these scripts at 1k-100k objects is tests/bench/growth.py's."""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Server, ServerTestCase, uniq  # noqa: E402
from test_files import blob, upload  # noqa: E402
from test_rest import (A_ITEM, A_LOCAL_LIBRARY, R_ITEM, R_LOCAL_LIBRARY, R_SESSION,  # noqa: E402
                       A_SESSION, ApiWire, RestCase, RestWire, rid)

DELETE_ITEMS = 100        # > 3 batches of store/libraries.c's LIBRARY_DELETE_BATCH (32)
DELETE_BOUND_S = 10.0     # the whole delete of DELETE_ITEMS items, ASan build


class GrowthApi(ApiWire):
    def create_typed(self, lib, name, typ):
        return self.call("created", "POST", A_ITEM, {"library_id": lib, "name": name,
                                                     "type": typ})

    def find_items(self, spec):
        return self.call("value", "POST", A_ITEM + "?action=find", spec)

    def delete_library(self, lib):
        return self.call("void", "DELETE", A_LOCAL_LIBRARY + "/" + lib)

    def all_sessions(self):
        return self.call("value", "GET", A_SESSION)

    def delete_item(self, item):
        return self.call("void", "DELETE", A_ITEM + "/" + item)


class GrowthRest(RestWire):
    def create_typed(self, lib, name, typ):
        return self.call("created", "POST", R_ITEM, {"create_spec": {
            "library_id": lib, "name": name, "type": typ}})

    def find_items(self, spec):
        return self.call("value", "POST", R_ITEM + "?~action=find", {"spec": spec})

    def delete_library(self, lib):
        return self.call("void", "DELETE", rid(R_LOCAL_LIBRARY, lib))

    def all_sessions(self):
        return self.call("value", "GET", R_SESSION)

    def delete_item(self, item):
        return self.call("void", "DELETE", rid(R_ITEM, item))


class GrowthCase(RestCase, ServerTestCase):

    def wire(self, cls):
        w = cls(self, self.server.port)
        self.ok(w.login("admin"), what="%s login" % w.name)
        return w

    def each_wire(self, fn):
        """fn(wire) on /api, then on /rest."""
        for cls in (GrowthApi, GrowthRest):
            w = self.wire(cls)
            with self.subTest(flavour=w.name):
                fn(w)

    def in_order(self, zset, ids):
        """ids in the order of the sorted set zset (score, then bytes): ZRANGE's."""
        rank = {m.decode(): i for i, m in
                enumerate(self.server.redis.command("ZRANGE", self.key(zset), "0", "-1"))}
        return sorted(ids, key=lambda x: rank[x])

    def by_library(self, pairs):
        """The item ids of (library, item) pairs as a find answers them: in the libraries' order
        (P libs), then each library's item order."""
        out = []
        for lib in self.in_order("libs", set(lib for lib, _ in pairs)):
            out += self.in_order("lib:" + lib + ":items", [i for l2, i in pairs if l2 == lib])
        return out

    def library(self, w, name=None):
        return self.ok(w.create_library(name or uniq("glib")), what="create library")

    def item(self, w, lib, name=None, typ=None):
        if typ is not None:
            return self.ok(w.create_typed(lib, name or uniq("gitem"), typ), what="create item")
        return self.ok(w.create_item(lib, name or uniq("gitem")), what="create item")

    def key(self, *parts):
        return self.server.prefix + "".join(parts)


class FindTest(GrowthCase):

    def test_find_by_name_across_libraries(self):
        def run(w):
            name = uniq("Same-Name")
            lib1, lib2, lib3 = self.library(w), self.library(w), self.library(w)
            other = self.item(w, lib1)
            a = self.item(w, lib1, name)
            b = self.item(w, lib2, name.lower())
            self.item(w, lib3)
            both = self.by_library([(lib1, a), (lib2, b)])
            self.assertEqual(self.ok(w.find_items({"name": name.upper()})), both,
                             "library order, case-insensitive")
            self.assertEqual(self.ok(w.find_items({"name": name, "library_id": lib2})), [b])
            self.assertEqual(self.ok(w.find_items({"name": name, "library_id": lib3})), [])
            self.assertEqual(self.ok(w.find_items({"name": name, "cached": False})), both)
            self.assertEqual(self.ok(w.find_items({"name": name, "cached": True})), [])
            self.assertEqual(self.ok(w.find_items({"name": name, "type": "ovf"})), [])
            self.assertEqual(self.ok(w.find_items({"name": uniq("nothing")})), [])
            # without a name: the library's items, filtered
            self.assertEqual(self.ok(w.find_items({"library_id": lib1})),
                             self.in_order("lib:" + lib1 + ":items", [other, a]))
            # a deleted item is not found; a new one of the same name is
            self.ok(w.delete_item(a), "void", "delete item")
            self.assertEqual(self.ok(w.find_items({"name": name})), [b])
            self.assertEqual(self.ok(w.find_items({"name": name, "library_id": lib1})), [])
            self.assertEqual(self.server.redis.command(
                "SMEMBERS", self.key("iname:", name.lower())), [b.encode()])
            a2 = self.item(w, lib1, name)
            self.assertEqual(self.ok(w.find_items({"name": name})),
                             self.by_library([(lib1, a2), (lib2, b)]))
        self.each_wire(run)

    def test_find_by_type_across_libraries(self):
        def run(w):
            typ = uniq("Typ")
            lib1, lib2 = self.library(w), self.library(w)
            self.item(w, lib1, typ="ovf")
            a = self.item(w, lib1, typ=typ)
            b = self.item(w, lib2, typ=typ.upper())
            self.item(w, lib2)
            both = self.by_library([(lib1, a), (lib2, b)])
            self.assertEqual(self.ok(w.find_items({"type": typ.lower()})), both)
            self.assertEqual(self.ok(w.find_items({"type": typ, "cached": False})), both)
            self.assertEqual(self.ok(w.find_items({"type": typ, "cached": True})), [])
            self.assertEqual(self.ok(w.find_items({"type": typ, "library_id": lib2})), [b])
            self.ok(w.delete_item(b), "void", "delete item")
            self.assertEqual(self.ok(w.find_items({"type": typ})), [a])
            self.assertEqual(self.server.redis.command(
                "SMEMBERS", self.key("itype:", typ.lower())), [a.encode()])
        self.each_wire(run)


class NamesBuildTest(GrowthCase):

    def wait_built(self, redis, limit_s=10.0):
        deadline = time.monotonic() + limit_s
        while redis.command("GET", self.key("names:built")) != b"done":
            self.assertLess(time.monotonic(), deadline, "index not built within %.0f s" % limit_s)
            time.sleep(0.05)

    def test_index_of_an_older_store_is_built(self):
        w = self.wire(GrowthApi)
        libs = [self.library(w) for _ in range(3)]
        items = {}
        for k, lib in enumerate(libs):
            for i in range(60):  # 180 items: several names_build.lua calls (64 each)
                name = "nb-%d-%02d" % (k, i)
                items[self.item(w, lib, name, "nbt-%d" % (i % 2))] = (lib, name)
        shared = uniq("nb-shared")
        both = [(libs[0], self.item(w, libs[0], shared)), (libs[2], self.item(w, libs[2], shared))]
        redis = self.server.redis
        # what a store of before the index holds: no P iname:* key, no P names:built
        old = list(redis.keys(self.key("iname:"))) + list(redis.keys(self.key("itype:")))
        self.assertGreaterEqual(len(old), 183)
        self.wait_built(redis)  # this instance's sweeper found nothing to index
        redis.command("DEL", self.key("names:built"), *old)
        # found by the scan meanwhile (this instance's sweeper built its index already)
        self.assertEqual(self.ok(w.find_items({"name": shared})), self.by_library(both))
        self.assertEqual(self.ok(w.find_items({"name": "NB-1-07"})),
                         [i for i, v in items.items() if v[1] == "nb-1-07"])
        # another instance's sweeper builds it
        other = Server(redis=redis, prefix=self.server.prefix)
        try:
            self.wait_built(redis)
        finally:
            other.stop()
        for item, (lib, name) in items.items():
            self.assertEqual(redis.command("SMEMBERS", self.key("iname:", name)),
                             [item.encode()], name)
        for t in ("nbt-0", "nbt-1"):
            self.assertEqual(set(x.decode() for x in redis.command(
                "SMEMBERS", self.key("itype:", t))),
                set(i for i, (_, name) in items.items() if int(name[-2:]) % 2 == int(t[-1])))
        self.assertEqual(self.ok(w.find_items({"type": "NBT-1"})),
                         self.by_library([(lib, i) for i, (lib, name) in items.items()
                                          if int(name[-2:]) % 2]))
        self.assertFalse(redis.keys(self.key("names:cursor")))
        self.assertFalse(redis.keys(self.key("names:todo")))
        self.assertEqual(self.ok(w.find_items({"name": shared})), self.by_library(both))


class LibraryDeleteTest(GrowthCase):
    """No janitor pass during the test: the garbage list keeps what the delete put there."""

    server_args = ("--janitor-interval-ms", "60000")

    def fill(self, w, n):
        lib = self.library(w)
        items = [self.item(w, lib, "del-%03d" % i) for i in range(n)]
        return lib, items

    def item_keys(self, items):
        left = []
        for item in items:
            for suffix in ("item", "lock", "files", "fence"):
                k = self.key("{", item, "}:", suffix)
                if self.server.redis.command("EXISTS", k):
                    left.append(k)
        return left

    def test_delete_removes_everything_at_once(self):
        def run(w):
            lib, items = self.fill(w, DELETE_ITEMS)
            sid = self.ok(w.create_session(items[-1]), what="session on the last item")
            t0 = time.monotonic()
            self.ok(w.delete_library(lib), "void", "delete library")
            took = time.monotonic() - t0
            self.assertLess(took, DELETE_BOUND_S, "delete of %d items" % DELETE_ITEMS)
            # everything is gone once the delete answered
            o = w.get_library(lib)
            self.assertEqual(o.kind, "error", o)
            self.assertEqual(o.value["error_type"], "NOT_FOUND", o)
            for item in (items[0], items[DELETE_ITEMS // 2], items[-1]):
                o = w.get_item(item)
                self.assertEqual(o.value["error_type"], "NOT_FOUND", o)
            self.assertEqual(self.ok(w.find_items({"name": "del-007"})), [])
            self.assertEqual(self.item_keys(items), [])
            redis = self.server.redis
            self.assertFalse(redis.keys(self.key("lib:", lib)))
            self.assertEqual(redis.command("EXISTS", self.key("iname:del-007")), 0)
            self.assertEqual(self.ok(w.get_session(sid)).get("state"), "CANCELED")
            garbage = set(x.decode() for x in
                          redis.command("LRANGE", self.key("garbage"), "0", "-1"))
            self.assertTrue(garbage.issuperset("items/" + item for item in items),
                            "every item's directory goes on the garbage list")
            o = w.delete_library(lib)
            self.assertEqual(o.value["error_type"], "NOT_FOUND", o)
        self.each_wire(run)

    def test_two_deletes_at_once(self):
        w = self.wire(GrowthApi)
        lib, items = self.fill(w, DELETE_ITEMS)
        got = []

        def delete():
            c = GrowthApi(self, self.server.port, token=w.token)
            got.append(c.client.delete(A_LOCAL_LIBRARY + "/" + lib).status)

        threads = [threading.Thread(target=delete) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DELETE_BOUND_S * 2)
        self.assertEqual(len(got), 2, got)
        self.assertIn(204, got)
        self.assertTrue(set(got) <= {204, 404}, got)
        self.assertEqual(self.item_keys(items), [])
        self.assertFalse(self.server.redis.keys(self.key("lib:", lib)))


class SessionListTest(GrowthCase):
    """Retention 1 s and no sweep for a minute: the list itself must leave out what retention
    deleted."""

    server_args = ("--retention", "1", "--sweep-interval-ms", "60000")

    def test_list_leaves_out_what_retention_ended(self):
        def run(w):
            lib = self.library(w)
            i1, i2 = self.item(w, lib), self.item(w, lib)
            s1 = self.ok(w.create_session(i1), what="create 1")
            s2 = self.ok(w.create_session(i2), what="create 2")
            mine = self.ok(w.all_sessions())
            self.assertIn(s1, mine)
            self.assertIn(s2, mine)
            self.assertEqual(mine, self.in_order("user:admin:sessions", mine), "list order")
            self.assertEqual(self.ok(w.list_sessions(i1)), [s1])
            self.ok(w.action(s1, "cancel"), "void", "cancel")
            self.assertEqual(self.ok(w.list_sessions(i1)), [s1], "kept during retention")
            time.sleep(1.3)
            o = w.get_session(s1)
            self.assertEqual(o.value["error_type"], "NOT_FOUND", o)
            ukey = self.key("user:admin:sessions")
            self.assertIsNotNone(self.server.redis.command("ZSCORE", ukey, s1),
                                 "no sweep yet: the id is still in the user's list")
            mine = self.ok(w.all_sessions())
            self.assertNotIn(s1, mine)
            self.assertIn(s2, mine)
            self.assertEqual(self.ok(w.list_sessions(i1)), [])
            self.assertEqual(self.ok(w.list_sessions(i2)), [s2])
            self.ok(w.action(s2, "cancel"), "void", "cancel 2")
        self.each_wire(run)


class PublishSizeTest(GrowthCase):

    def push(self, w, sid, name, data):
        info = self.ok(w.add_file(sid, {"name": name, "source_type": "PUSH"}), what="add")
        r = upload(info["upload_endpoint"]["uri"], data)
        self.assertStatus(r, 200, "upload %s" % name)
        self.wait_ready(w, sid, name)

    def session(self, w, item, pushes=(), removes=()):
        sid = self.ok(w.create_session(item), what="create")
        for name, size in pushes:
            self.push(w, sid, name, blob(size))
        for name in removes:
            self.ok(w.remove_file(sid, name), "void", "remove %s" % name)
        self.ok(w.action(sid, "complete"), "void", "complete")
        self.assertEqual(self.ok(w.get_session(sid)).get("state"), "DONE")

    def size(self, w, item):
        return int(self.ok(w.get_item(item)).get("size"))

    def test_size_follows_the_files(self):
        def run(w):
            lib = self.library(w)
            item = self.item(w, lib)
            self.assertEqual(self.size(w, item), 0)
            self.session(w, item, pushes=[("a", 3), ("b", 5)])
            self.assertEqual(self.size(w, item), 8)
            self.session(w, item, pushes=[("a", 10)], removes=["b"])
            self.assertEqual(self.size(w, item), 10)
            names = sorted(f["name"] for f in self.ok(w.item_files(item)))
            self.assertEqual(names, ["a"])
            # an item record of before the running sum: summed over its files once
            self.server.redis.command("HDEL", self.key("{", item, "}:item"), "files_size")
            self.session(w, item, pushes=[("c", 1)])
            self.assertEqual(self.size(w, item), 11)
            self.session(w, item, removes=["a", "c"])
            self.assertEqual(self.size(w, item), 0)
            self.assertEqual(self.ok(w.item_files(item)), [])
        self.each_wire(run)


if __name__ == "__main__":
    import unittest
    unittest.main()
