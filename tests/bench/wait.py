#!/usr/bin/env python3
"""tests/bench/wait.py: what --redis-wait-replicas costs, and how long a Sentinel failover
leaves the instances without service (Python 3 stdlib + wrk; run after `make all`, about 2 min):

    python3 tests/bench/wait.py [--seconds 5] [--rounds 3] [--runs 5] [--summary FILE]

1. WAIT cost: a private primary + one replica (REPLICAOF), two instances on one key prefix:
   A plain, B with --redis-wait-replicas 1. Per round, for A then B: the item pool is filled
   (wrk, tests/bench/items.lua, through A), then wrk -t2 -c32 creates update sessions on
   distinct items (tests/bench/sessions.lua) for --seconds. ratio = median B req/s / median A
   req/s, same run (both instances and Redis share the two cores, as in bench.sh). A GET of
   one session is measured the same way: reads do not WAIT, so their ratio should be ~1.
2. failover time, --runs times: a fresh primary, its replica, a replica of that replica and
   three sentinels (tests/system/sentinel_cluster.py; down-after-milliseconds 1000), two
   instances with --redis sentinel://... (one plain, one --redis-wait-replicas 1), each
   creating items and sessions in a loop; the primary is killed (SIGKILL) and the figure is
   kill -> the first 201 to a request sent after the kill, per instance. Creates answered 201
   and missing afterwards are counted (lost).

Prints a table (also written to --summary, default $BENCH_OUT/wait.txt) and a WAITRESULT
key=value line. Exit status 1 when the setup fails or an instance died, not for the figures.
Environment: BENCH_SERVER (default build/update-sessiond), BENCH_OUT (build/bench/last)."""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
os.environ.setdefault("USD_BIN", os.environ.get("BENCH_SERVER", "build/update-sessiond"))
sys.path.insert(0, os.path.join(ROOT, "tests", "system"))

from benchlib import Fail, Table, run  # noqa: E402
from harness import (RedisServer, Server, UPDATE_SESSION_PATH, uniq)  # noqa: E402
from sentinel_cluster import CreateLoop, SentinelCluster  # noqa: E402

CONNS, THREADS = 32, 2


def wrk(args, what):
    out = subprocess.run(["wrk"] + args, capture_output=True, timeout=600, cwd=ROOT)
    text = out.stdout.decode("utf-8", "replace")
    for line in text.splitlines():
        if line.startswith(what + " "):
            return dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    raise Fail("wrk gave no %s line:\n%s%s" % (what, text[-2000:],
                                               out.stderr.decode("utf-8", "replace")[-2000:]))


class Pool:
    """Item ids for sessions.lua, made with items.lua through one instance."""

    def __init__(self, server, token, library, tmp):
        self.server, self.token, self.library = server, token, library
        self.path = os.path.join(tmp, "pool")
        self.runs = 0

    def fill(self, count):
        open(self.path, "w").close()
        have, rate = 0, 8000.0
        while have < count:
            self.runs += 1
            secs = max(1, int((count - have) * 1.2 / rate) + 1)
            r = wrk(["-t1", "-c%d" % CONNS, "-d%ds" % secs, "-s", "tests/bench/items.lua",
                     "-H", "vmware-api-session-id: " + self.token,
                     "%s/api/content/library/item" % self.server.url, "--", self.path,
                     self.library, str(self.runs)], "ITEMSRESULT")
            rate = max(float(r["rps"]), 100.0)
            with open(self.path) as f:
                have = sum(1 for line in f if line.strip())


def measure_wait_cost(secs, rounds, tmp):
    """Returns {instance: {"create": [rps...], "get": [rps...]}} and error counts."""
    primary = RedisServer()
    replica = RedisServer()
    servers = []
    try:
        replica.command("REPLICAOF", "127.0.0.1", str(primary.port))
        SentinelCluster.wait_linked([replica], primary)
        prefix = "bench-wait:"
        common = ["--max-connections", "4096"]
        a = Server(redis=primary, prefix=prefix, args=common)
        servers.append(a)
        b = Server(redis=primary, prefix=prefix, args=common + ["--redis-wait-replicas", "1"])
        servers.append(b)
        ca = a.client("admin")
        library = ca.make_library()
        pool = Pool(a, ca.token, library, tmp)
        item = ca.make_item(library)
        sid = ca.create_session(item).json
        results = {"A": {"create": [], "get": []}, "B": {"create": [], "get": []}}
        errors = 0
        rate = 5000.0
        for rnd in range(rounds):
            for name, srv in (("A", a), ("B", b)):
                token = srv.client("admin").token
                r = wrk(["-t%d" % THREADS, "-c%d" % CONNS, "-d%ds" % secs, "-s",
                         "tests/bench/get.lua", "-H", "vmware-api-session-id: " + token,
                         srv.url + UPDATE_SESSION_PATH + "/" + sid], "BENCHRESULT")
                results[name]["get"].append(float(r["rps"]))
                errors += int(r["status_errors"]) + int(r["socket_errors"])
                pool.fill(int(rate * secs * 1.3) + 500)
                r = wrk(["-t%d" % THREADS, "-c%d" % CONNS, "-d%ds" % secs, "-s",
                         "tests/bench/sessions.lua", "-H", "vmware-api-session-id: " + token,
                         srv.url + UPDATE_SESSION_PATH, "--", pool.path, str(THREADS)],
                         "BENCHRESULT")
                results[name]["create"].append(float(r["rps"]))
                errors += (int(r["status_errors"]) + int(r["socket_errors"]) +
                           int(r.get("reused", 0)))
                rate = max(rate, float(r["rps"]))
                print("wait: round %d: %s create %.0f/s, get %.0f/s" % (
                    rnd + 1, name, results[name]["create"][-1], results[name]["get"][-1]),
                    flush=True)
        for s in servers:
            if not s.alive():
                raise Fail("an instance died:\n" + s.log())
        return results, errors
    finally:
        for s in servers:
            s.stop(check=False)
        primary.destroy()
        replica.destroy()


def measure_failover(runs):
    """Per run: (seconds kill -> first 201 for the plain and the WAIT instance, lost counts)."""
    out = []
    for i in range(runs):
        cluster = SentinelCluster(replicas=1, chained=1)
        servers = []
        try:
            for wait in (0, 1):
                servers.append(Server(redis=cluster.redis[0], args=[
                    "--redis", cluster.url, "--redis-timeout-ms", "1000",
                    "--redis-wait-replicas", str(wait)]))
            clients = [s.client("admin") for s in servers]
            libs = [c.make_library() for c in clients]
            cluster.wait_synced()
            loops = [CreateLoop(s, c, lib) for s, c, lib in zip(servers, clients, libs)]
            for lp in loops:
                lp.thread.start()
            time.sleep(1.0)
            cluster.primary().kill9()
            t_kill = time.monotonic()
            while time.monotonic() < t_kill + 30:
                if all(lp.first_201_after(t_kill) for lp in loops):
                    break
                time.sleep(0.05)
            time.sleep(0.5)
            for lp in loops:
                lp.stop.set()
            for lp in loops:
                lp.thread.join(30)
            times = [(lp.first_201_after(t_kill) or float("nan")) - t_kill for lp in loops]
            lost = []
            for srv, lp in zip(servers, loops):
                checker = srv.client("admin")
                lost.append(sum(1 for x in lp.created("item")
                                if checker.get("/api/content/library/item/" + x).status != 200)
                            + sum(1 for x in lp.created("session")
                                  if checker.get(UPDATE_SESSION_PATH + "/" + x).status != 200))
            for s in servers:
                if not s.alive():
                    raise Fail("an instance died:\n" + s.log())
            print("wait: failover run %d: kill -> first 201: plain %.2f s, WAIT %.2f s; lost "
                  "%d / %d" % (i + 1, times[0], times[1], lost[0], lost[1]), flush=True)
            out.append((times, lost))
        finally:
            for s in servers:
                s.stop(check=False)
            cluster.destroy()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--summary", default=os.path.join(
        ROOT, os.environ.get("BENCH_OUT", "build/bench/last"), "wait.txt"))
    a = ap.parse_args()
    if not os.access(os.environ["USD_BIN"] if os.path.isabs(os.environ["USD_BIN"])
                     else os.path.join(ROOT, os.environ["USD_BIN"]), os.X_OK):
        raise Fail("%s is missing: run make all" % os.environ["USD_BIN"])
    os.makedirs(os.path.dirname(a.summary), exist_ok=True)
    load_before = open("/proc/loadavg").read().split()[:3]
    if a.rounds < 1 or a.runs < 1:
        raise Fail("--rounds and --runs must be >= 1")
    with tempfile.TemporaryDirectory(prefix="usd-bench-wait-") as tmp:
        cost, errors = measure_wait_cost(a.seconds, a.rounds, tmp)
    fo = measure_failover(a.runs)

    t = Table()
    med = {k: {m: statistics.median(v[m]) for m in v} for k, v in cost.items()}
    ratio = med["B"]["create"] / med["A"]["create"] if med["A"]["create"] else 0.0
    gratio = med["B"]["get"] / med["A"]["get"] if med["A"]["get"] else 0.0
    per_round = [b / a_ if a_ else 0.0 for a_, b in zip(cost["A"]["create"], cost["B"]["create"])]
    t.row("create req/s, plain (median of %d)" % a.rounds, "%.0f" % med["A"]["create"])
    t.row("create req/s, --redis-wait-replicas 1", "%.0f" % med["B"]["create"])
    t.row("create ratio WAIT / plain (same run)", "%.3f (per round: %s)" % (
        ratio, " ".join("%.2f" % x for x in per_round)))
    t.row("get ratio WAIT / plain (reads do not WAIT)", "%.3f" % gratio)
    for idx, name in ((0, "plain"), (1, "WAIT 1")):
        ts = [r[0][idx] for r in fo]
        t.row("failover kill -> first 201, %s (%d runs)" % (name, len(ts)),
              "median %.2f s, min %.2f, max %.2f" % (statistics.median(ts), min(ts), max(ts)),
              "<= 10 s", max(ts) <= 10.0)
        t.row("creates answered 201 then lost, %s" % name, " ".join(str(r[1][idx]) for r in fo))
    notes = ["wrk -t%d -c%d keep-alive, %d s per run; both instances on one primary + one "
             "replica (loopback); load average before: %s" % (THREADS, CONNS, a.seconds,
                                                              " ".join(load_before)),
             "per round create req/s: plain %s; WAIT %s" % (
                 " ".join("%.0f" % x for x in cost["A"]["create"]),
                 " ".join("%.0f" % x for x in cost["B"]["create"])),
             "failover: down-after-milliseconds 1000, 3 sentinels, quorum 2; per run "
             "(plain, WAIT) s: " + "; ".join("%.2f, %.2f" % tuple(r[0]) for r in fo)]
    errs = ["%d wrk errors (status >= 400, socket errors or reused items)" % errors] if errors else []
    t.write("update-sessiond: --redis-wait-replicas cost and Sentinel failover time", notes, errs,
            "WAITRESULT", {"create_ratio": ratio, "get_ratio": gratio,
                           "failover_median_s": statistics.median(r[0][0] for r in fo),
                           "failover_wait_median_s": statistics.median(r[0][1] for r in fo)},
            a.summary)
    return 1 if errors else 0


if __name__ == "__main__":
    run(main, "wait", RuntimeError, AssertionError)
