#!/usr/bin/env python3
"""tests/bench/growth.py: Redis time of the scripts whose data grows (README issue 10, "Cost
as the data grows"), at 1k, 10k and 100k objects (Python 3, stdlib only; a private
redis-server and instances through tests/system/harness.py).

    python3 tests/bench/growth.py [--server BIN] [--base BIN] [--sizes 1000,10000,100000]
                                  [--repeats R]

A Lua script blocks Redis for every instance while it runs, so what matters is the Redis time
of one script call. It is read from SLOWLOG with slowlog-log-slower-than 0 (every command is
logged with its execution time in microseconds): SLOWLOG RESET, the request(s), then the
EVALSHA entries whose KEYS[1] is the login key of the measuring client (the sweeper's and the
janitor's own scripts run without a login and are left out). Per operation and size: the median
and the largest call over R requests (a library delete is one request of many calls: its
largest call and the number of calls).

The data are written straight into Redis in the server's key format (README "Redis keys") by
Lua EVALs of 5 000 objects each (the API would take minutes for 100k), then one instance is
started on them. What each operation is measured on:
  item_find       N items in N/1000 libraries of 1 000 items, all of type ovf but the one in
                  the middle (iso); POST item?action=find with {name} (that item's name), with
                  {name, library_id} and with {type: ISO}
  library_delete  one library of N items; DELETE it (then every key of its items is checked
                  gone, and the library NOT_FOUND)
  session_list    the user's list holds N sessions (finished, within retention): the answer
                  is N ids, so this one grows with N by the API's definition (no cursor); and
                  100 sessions of the user among N of another user
  session_publish an item with N published files; one session adds one 1 KiB PUSH file and
                  completes (file list + the publishing script); the item's size is checked
  names_build     the one-off build of the global name index of the N items (a store of before
                  it): the sweeper's calls, from a second instance (--server only)

--base BIN runs every measurement with that binary too, alternating with --server per size
(same Redis, same data), and prints the ratio base / server. "flat" = the largest call at the
largest size within FLAT_FACTOR of the smallest size's and <= 1 ms, judged on the median call:
the largest call is shown too, but on a shared 2-core machine it also measures the scheduler
(a Redis preempted in a script is charged the time it waited).
"""

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

import harness  # noqa: E402

FILL_BATCH = 5000
PER_LIBRARY = 1000
FLAT_FACTOR = 3.0
BOUND_US = 1000
ITEM = "/api/content/library/item"
SESSIONS = "/api/content/library/item/update-session"
SERVER_ARGS = ["--redis-timeout-ms", "60000", "--sweep-interval-ms", "60000",
               "--janitor-interval-ms", "60000"]

# Items (with their libraries) in the server's key format. ARGV: prefix, library id, library
# name, first index, count, id stem (8 hex digits), creation ms, the index of the one item of
# type iso (the others are ovf). Item i is <stem>-0000-4000-8000-<i as 12 hex digits>, named
# item-<i>.
FILL_ITEMS = r"""
local p, lib, first, n, stem, now = ARGV[1], ARGV[2], tonumber(ARGV[4]), tonumber(ARGV[5]),
                                    ARGV[6], ARGV[7]
if redis.call('EXISTS', p .. 'lib:' .. lib) == 0 then
  redis.call('HSET', p .. 'lib:' .. lib, 'id', lib, 'name', ARGV[3], 'description', '',
             'type', 'LOCAL', 'creation', now, 'modified', now, 'version', '1', 'backings',
             '[{"type":"OTHER","storage_uri":"file:///tmp"}]')
  redis.call('ZADD', p .. 'libs', now, lib)
end
for i = first, first + n - 1 do
  local id = string.format('%s-0000-4000-8000-%012x', stem, i)
  local name = 'item-' .. i
  local typ = i == tonumber(ARGV[8]) and 'iso' or 'ovf'
  redis.call('HSET', p .. '{' .. id .. '}:item', 'id', id, 'library_id', lib,
             'library_type', 'LOCAL', 'name', name, 'description', '', 'type', typ,
             'content_version', '1', 'metadata_version', '1', 'version', '1',
             'creation', now, 'modified', now, 'size', '0', 'cached', '0')
  redis.call('ZADD', p .. 'lib:' .. lib .. ':items', now + i, id)
  redis.call('HSET', p .. 'lib:' .. lib .. ':names', name, id)
  redis.call('SADD', p .. 'iname:' .. name, id)
  redis.call('SADD', p .. 'itype:' .. typ, id)
end
return n
"""

# Finished sessions of user ARGV[2] on item ARGV[3], kept for a day: record, the user's list
# and the retire entries. ARGV: prefix, user, item, first index, count, creation ms.
FILL_SESSIONS = r"""
local p, user, item, first, n, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]),
                                     tonumber(ARGV[5]), tonumber(ARGV[6])
for i = first, first + n - 1 do
  local uuid = string.format('5e550000-0000-4000-8000-%012x', i)
  local rec = p .. '{' .. item .. '}:s:' .. uuid
  redis.call('HSET', rec, 'item', item, 'cv', '1', 'state', 'CANCELED', 'progress', 0,
             'deadline', now, 'created', now, 'owner', user, 'finished', now)
  redis.call('PEXPIRE', rec, 86400000)
  redis.call('ZADD', p .. 'user:' .. user .. ':sessions', now + i, item .. ':' .. uuid)
  redis.call('ZADD', p .. 'retire', now + 86400000, user .. '\n' .. item .. ':' .. uuid)
  redis.call('ZADD', p .. 'user:' .. user .. ':retire', now + 86400000, item .. ':' .. uuid)
end
return n
"""

# N published files of item ARGV[2] (1 byte each): the item's file list. ARGV: prefix, item,
# first index, count.
FILL_FILES = r"""
local p, item, first, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
for i = first, first + n - 1 do
  local name = 'f-' .. i
  redis.call('HSET', p .. '{' .. item .. '}:files', name, cjson.encode({name = name,
             size = '1', checksum = {algorithm = 'SHA1',
             checksum = 'da39a3ee5e6b4b0d3255bfef95601890afd80709'}, version = '1',
             blob = string.format('b10b0000-0000-4000-8000-%012x', i)}))
end
return n
"""


class Fail(Exception):
    pass


def lib_id(stem, k):
    return "%s-0000-4000-8000-%012x" % (stem, k)


def item_id(stem, i):
    return "%s-0000-4000-8000-%012x" % (stem, i)


def batches(total):
    for first in range(0, total, FILL_BATCH):
        yield first, min(FILL_BATCH, total - first)


def now_ms(redis):
    t = redis.command("TIME")
    return int(t[0]) * 1000 + int(t[1]) // 1000


def fill_items(redis, prefix, stem, n, per_library):
    """n items item-0 .. item-(n-1) in libraries of per_library items; returns library ids."""
    libs, now = [], now_ms(redis)
    for first, count in batches(n):
        k = first // per_library
        while count > 0:
            lib = lib_id(stem[0] + "1b00000", k)
            if not libs or libs[-1] != lib:
                libs.append(lib)
            take = min(count, (k + 1) * per_library - first)
            redis.command("EVAL", FILL_ITEMS, "0", prefix, lib, "lib-%s-%d" % (stem, k),
                          str(first), str(take), stem, str(now), str(n // 2))
            first, count, k = first + take, count - take, k + 1
    return libs


class Measure:
    """SLOWLOG around requests: the Redis time (us) of each EVALSHA made with our login."""

    def __init__(self, redis, prefix):
        self.redis, self.prefix = redis, prefix.encode()
        redis.command("CONFIG", "SET", "slowlog-log-slower-than", "0")
        redis.command("CONFIG", "SET", "slowlog-max-len", "1000000")

    def reset(self):
        self.redis.command("SLOWLOG", "RESET")

    def calls(self):
        out = []
        for e in self.redis.command("SLOWLOG", "GET", "-1"):
            args = e[3]
            if (len(args) > 3 and args[0].upper() == b"EVALSHA" and
                    args[3].startswith(self.prefix + b"login:")):
                out.append(int(e[2]))
        return out


def expect(what, r, *codes):
    if r.status not in codes:
        raise Fail("%s: HTTP %d %r" % (what, r.status, r.raw[:300]))
    return r.json


def timed(measure, fn, repeats):
    """Runs fn repeats times between SLOWLOG resets: (median, max) of the script calls."""
    per = []
    for _ in range(repeats):
        measure.reset()
        fn()
        per.extend(measure.calls())
    if not per:
        raise Fail("no script call seen in SLOWLOG")
    return statistics.median(per), max(per), len(per) / repeats


def run_size(redis, binary, n, repeats):
    """Every measurement at size n with one binary: {op: (median us, max us, calls per op)}."""
    harness.USD_BIN = binary
    res = {}
    redis.command("FLUSHALL")
    server = harness.Server(redis=redis, args=SERVER_ARGS, start=False)
    p = server.prefix
    measure = Measure(redis, p)

    # item_find: n items in libraries of PER_LIBRARY
    libs = fill_items(redis, p, "a0000000", n, PER_LIBRARY)
    res["names_build (once)"] = names_build(redis, p, binary)
    redis.command("SET", p + "names:built", "done")
    mid = n // 2
    server.start()
    try:
        admin = server.client("admin")
        want = [item_id("a0000000", mid)]
        lib = libs[mid // PER_LIBRARY]
        for label, spec in (("item_find name", {"name": "ITEM-%d" % mid}),
                            ("item_find name+library", {"name": "item-%d" % mid,
                                                        "library_id": lib}),
                            ("item_find type", {"type": "ISO"})):
            def find(spec=spec, label=label):
                got = expect(label, admin.post(ITEM + "?action=find", spec), 200)
                if got != want:
                    raise Fail("%s: %r, want %r" % (label, got, want))
            res[label] = timed(measure, find, repeats)

        # session_publish: an item with n published files, one 1 KiB file added per session
        item = want[0]
        for first, count in batches(n):
            redis.command("EVAL", FILL_FILES, "0", p, item, str(first), str(count))
        # files_size: what session_publish keeps on an item it published (a record of before
        # that field is summed over all its files once, at its next publish)
        redis.command("HSET", "%s{%s}:item" % (p, item), "size", str(n), "files_size", str(n))
        per = []
        for r in range(repeats):
            sid = expect("create", admin.create_session(item), 201)
            info = expect("add", admin.post(SESSIONS + "/" + sid + "/file",
                                            {"name": "new-%d" % r, "source_type": "PUSH"}), 201)
            up = upload(info["upload_endpoint"]["uri"], b"x" * 1024)
            if up != 200:
                raise Fail("upload: HTTP %d" % up)
            measure.reset()
            expect("complete", admin.post(SESSIONS + "/" + sid + "?action=complete"), 200, 204)
            per.extend(measure.calls())
        size = expect("item", admin.get(ITEM + "/" + item), 200).get("size")
        if size != n + 1024 * repeats:
            raise Fail("item size %r after publish, want %d" % (size, n + 1024 * repeats))
        res["session_publish"] = (statistics.median(per), max(per), len(per) / repeats)

        # session_list: n finished sessions of admin; then 100 of admin among n of another user
        now = now_ms(redis)
        for first, count in batches(n):
            redis.command("EVAL", FILL_SESSIONS, "0", p, "admin", item, str(first), str(count),
                          str(now))

        def listing(k):
            def fn():
                got = expect("list", admin.get(SESSIONS), 200)
                if len(got) != k:
                    raise Fail("session list: %d ids, want %d" % (len(got), k))
            return fn
        own = len(redis.command("ZRANGE", p + "user:admin:sessions", "0", "-1"))
        res["session_list (N own)"] = timed(measure, listing(own), repeats)
        redis.command("RENAME", p + "user:admin:sessions", p + "user:other:sessions")
        redis.command("EVAL", FILL_SESSIONS, "0", p, "admin", item, str(n), "100", str(now))
        res["session_list (100 own)"] = timed(measure, listing(100), repeats)

        # library_delete: one library of n items
        big = fill_items(redis, p, "b0000000", n, n)[0]
        measure.reset()
        t0 = time.monotonic()
        expect("delete", admin.delete("/api/content/local-library/" + big), 204)
        wall = time.monotonic() - t0
        calls = measure.calls()
        if os.environ.get("GROWTH_DEBUG"):
            print("library_delete calls:", calls[:5], "...", sorted(calls)[-5:])
        res["library_delete"] = (statistics.median(calls), max(calls), len(calls))
        res["library_delete wall ms"] = wall * 1000
        expect("get deleted", admin.get("/api/content/local-library/" + big), 404)
        left = [k for k in redis.command("KEYS", p + "{b0000000-*") if k]
        left += redis.command("KEYS", p + "lib:" + big + "*")
        if left:
            raise Fail("library_delete left %d keys, e.g. %r" % (len(left), left[:3]))
    finally:
        server.stop()
    return res


def names_build(redis, prefix, binary):
    """The one-off build of the global name and type indexes of a store made before them
    (names_build.lua, run by the sweeper; the fill wrote them, this rebuilds them): (median,
    largest call us, calls), or None for a binary without it."""
    with open(binary, "rb") as f:
        if b"names_build.lua" not in f.read():
            return None
    saved = redis.command("KEYS", prefix + "iname:*") + redis.command("KEYS", prefix + "itype:*")
    if saved:
        redis.command("DEL", *saved)
    redis.command("SLOWLOG", "RESET")
    server = harness.Server(redis=redis, prefix=prefix, args=["--sweep-interval-ms", "50"])
    try:
        deadline = time.monotonic() + 600
        while redis.command("GET", prefix + "names:built") != b"done":
            if time.monotonic() > deadline or not server.alive():
                return None
            time.sleep(0.05)
    finally:
        server.stop()
    key = (prefix + "libs").encode()
    calls = [int(e[2]) for e in redis.command("SLOWLOG", "GET", "-1")
             if len(e[3]) > 3 and e[3][0].upper() == b"EVALSHA" and e[3][2] == b"4"
             and e[3][3] == key]
    if not calls:
        return None
    return statistics.median(calls), max(calls), len(calls)


def upload(uri, body):
    import http.client
    import urllib.parse
    u = urllib.parse.urlsplit(uri)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request("PUT", u.path, body=body,
                     headers={"Content-Type": "application/octet-stream"})
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


OPS = ("item_find name", "item_find name+library", "item_find type", "session_publish",
       "session_list (N own)", "session_list (100 own)", "library_delete", "names_build (once)")
MANY_CALLS = ("library_delete", "names_build (once)")


def report(sizes, results, labels):
    lines = ["", "Redis time of one script call, us (median / largest; SLOWLOG)", ""]
    head = "%-24s %8s" % ("operation", "N") + "".join(" %22s" % l for l in labels)
    if len(labels) == 2:
        head += " %12s" % "base/server"
    lines += [head, "-" * len(head)]
    verdicts = []
    for op in OPS:
        for n in sizes:
            row = "%-24s %8d" % (op, n)
            for l in labels:
                got = results[l][n].get(op)
                cell = "-"
                if got:
                    cell = "%.0f / %.0f" % (got[0], got[1])
                    if op in MANY_CALLS:
                        cell += " x%d" % got[2]
                row += " %22s" % cell
            if len(labels) == 2 and results[labels[0]][n].get(op):
                row += " %11.1fx" % (results[labels[0]][n][op][1] /
                                     max(1, results[labels[1]][n][op][1]))
            lines.append(row)
        srv = labels[-1]
        if not results[srv][sizes[0]].get(op):
            continue
        lo, hi = results[srv][sizes[0]][op][0], results[srv][sizes[-1]][op][0]
        top = results[srv][sizes[-1]][op][1]
        flat = hi <= BOUND_US and hi <= FLAT_FACTOR * max(lo, 20)
        verdicts.append("%s: %s median call %.0f us at %d, %.0f us at %d: %s (largest %.0f us)"
                        % (srv, op, hi, sizes[-1], lo, sizes[0], "flat" if flat else "NOT FLAT",
                           top))
    for l in labels:
        lines.append("%s library_delete wall ms: %s" % (l, ", ".join(
            "%d: %.0f" % (n, results[l][n]["library_delete wall ms"]) for n in sizes)))
    lines.append("")
    lines += verdicts
    lines.append("session_list (N own) answers N ids: it grows with N by the API's definition "
                 "(the list has no cursor); the bound applies to 100 own among N.")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", default=os.path.join(ROOT, "build", "update-sessiond"))
    ap.add_argument("--base", default=os.environ.get("GROWTH_BASE"))
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    sizes = [int(x) for x in a.sizes.split(",")]
    bins = [("server", os.path.abspath(a.server))]
    if a.base:
        bins.insert(0, ("base", os.path.abspath(a.base)))
    labels = [l for l, _ in bins]
    results = {l: {} for l in labels}
    redis = harness.RedisServer()
    try:
        for n in sizes:
            for label, binary in bins:
                t0 = time.monotonic()
                results[label][n] = run_size(redis, binary, n, a.repeats)
                print("%s N=%d done in %.1f s" % (label, n, time.monotonic() - t0), flush=True)
    finally:
        redis.destroy()
    text = report(sizes, results, labels)
    sys.stdout.write(text)
    out = os.environ.get("BENCH_OUT")
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "growth.txt"), "w") as f:
            f.write(text)
    print("GROWTHRESULT " + json.dumps({l: {str(n): {op: results[l][n][op][1] for op in OPS
                                                     if results[l][n].get(op)}
                                            for n in sizes} for l in labels}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (Fail, OSError, RuntimeError, AssertionError) as e:
        print("growth: %s" % e, file=sys.stderr)
        sys.exit(1)
