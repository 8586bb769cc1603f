#!/usr/bin/env python3
"""tests/bench/janitor.py: how long the janitor (net/data/janitor.c) takes to reclaim N blobs
(Python 3, stdlib only; uses tests/system/harness.py for its own redis-server and instance).

    python3 tests/bench/janitor.py [--blobs N] [--server BIN] [--interval-ms MS]

A measurement, not a test: it prints the figures and exits 0 unless something failed.
  1. garbage list: N files items/<item>/<blob> of 1 KiB (100 blobs per item) are made, then one
     RPUSH puts their N entries on <prefix>garbage. Polled every 5 ms: the first take (LLEN
     drops), the list empty, the last entry's file gone (entries are deleted in list order),
     then every file checked gone. "pass" = first take -> last file gone; "total" adds the wait
     for the first take (up to --janitor-interval-ms +25%).
  2. scan, orphans: N files nobody references (items/<item>/<blob> and
     staging/<item>/<uuid>/<blob>.part, half each) made before the instance starts with
     --orphan-grace-s 0: the first scan's own line `scan files= orphans= ms=` (walk, N/200
     store_blobs_referenced questions, N unlinks, rmdirs).
  3. scan, young files: the same N files with --orphan-grace-s 3600: the scan only walks and
     stats (nothing is asked or deleted).
Environment as the system tests: USD_BIN (else build/update-sessiond), USD_TEST_REDIS unused
(a private redis-server is started and stopped).
"""

import argparse
import os
import re
import sys
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

import harness  # noqa: E402

SCAN_LINE = re.compile(rb'msg="storage scan done" files=(\d+) orphans=(\d+) ms=(\d+)')
PER_DIR = 100
DATA = b"j" * 1024


def make_tree(root, n, staging_half):
    rels = []
    for i in range(n):
        if i % PER_DIR == 0:
            item, sess = str(uuid.uuid4()), str(uuid.uuid4())
        if staging_half and i % 2:
            rel = "staging/%s/%s/%s.part" % (item, sess, uuid.uuid4())
        else:
            rel = "items/%s/%s" % (item, uuid.uuid4())
        path = os.path.join(root, rel)
        d = os.path.dirname(path)
        if not os.path.isdir(d):
            os.makedirs(d)
        with open(path, "wb") as f:
            f.write(DATA)
        rels.append(rel)
    return rels


def count_files(root):
    """Files under staging/ and items/ (the storage dir also holds the upload-token secret)."""
    n = 0
    for top in ("staging", "items"):
        for _, _, files in os.walk(os.path.join(root, top)):
            n += len(files)
    return n


def first_scan(server, timeout=600):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(server.log_path, "rb") as f:
            m = SCAN_LINE.search(f.read())
        if m:
            return tuple(int(x) for x in m.groups())
        if not server.alive():
            raise RuntimeError("instance died:\n" + server.log())
        time.sleep(0.05)
    raise RuntimeError("no scan line within %d s:\n%s" % (timeout, server.log()))


def bench_list(redis, n, interval_ms):
    server = harness.Server(redis=redis, args=["--janitor-interval-ms", str(interval_ms)])
    try:
        rels = make_tree(server.storage_dir, n, False)
        key = server.prefix + "garbage"
        last = os.path.join(server.storage_dir, rels[-1])
        t0 = time.monotonic()
        redis.command("RPUSH", key, *rels)
        t_take = t_empty = None
        while True:
            now = time.monotonic()
            length = redis.command("LLEN", key)
            if t_take is None and length < n:
                t_take = now
            if t_empty is None and length == 0:
                t_empty = now
            if t_empty is not None and not os.path.exists(last):
                t_done = time.monotonic()
                break
            if now - t0 > 600:
                raise RuntimeError("not drained in 600 s:\n" + server.log())
            time.sleep(0.005)
        left = count_files(server.storage_dir)
        if left:
            raise RuntimeError("%d files left after the list drained" % left)
        return t_done - t_take, t_done - t0, t_empty - t0
    finally:
        server.stop()


def bench_scan(redis, n, grace):
    server = harness.Server(redis=redis, start=False,
                            args=["--scan-interval-s", "3600", "--orphan-grace-s", str(grace)])
    try:
        make_tree(server.storage_dir, n, True)
        server.start()
        files, orphans, ms = first_scan(server)
        left = count_files(server.storage_dir)
        return files, orphans, ms, left
    finally:
        server.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--blobs", type=int, default=10000)
    ap.add_argument("--interval-ms", type=int, default=1000)
    ap.add_argument("--server", default=None)
    a = ap.parse_args()
    if a.server:
        harness.USD_BIN = os.path.abspath(a.server)
    redis = harness.RedisServer()
    try:
        print("janitor bench: %d blobs, %s" % (a.blobs, harness.USD_BIN))
        pass_s, total_s, empty_s = bench_list(redis, a.blobs, a.interval_ms)
        print("garbage list: pass %.3f s (%.0f entries/s), total from RPUSH %.3f s "
              "(list empty after %.3f s; --janitor-interval-ms %d)"
              % (pass_s, a.blobs / pass_s, total_s, empty_s, a.interval_ms))
        files, orphans, orphan_ms, left = bench_scan(redis, a.blobs, 0)
        print("scan, orphans: files=%d orphans=%d %d ms (%d files left)"
              % (files, orphans, orphan_ms, left))
        files, orphans, young_ms, left = bench_scan(redis, a.blobs, 3600)
        print("scan, young files: files=%d orphans=%d %d ms (%d files left)"
              % (files, orphans, young_ms, left))
        print("JANITORRESULT blobs=%d list_pass_ms=%.0f list_total_ms=%.0f scan_orphans_ms=%d "
              "scan_young_ms=%d" % (a.blobs, pass_s * 1000, total_s * 1000, orphan_ms, young_ms))
    finally:
        redis.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
