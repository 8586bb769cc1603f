#!/usr/bin/env python3
"""tests/bench/upload.py: the measuring half of scripts/bench-upload.sh (Python 3, stdlib only).

scripts/bench-upload.sh starts a private redis-server and one instance, logs in, creates a
local library, generates FILE (random bytes) and SMALL (the first part of FILE) in the directory
that also holds the instance's --storage-dir, and runs

    upload.py --port PORT --token TOKEN --pid PID --library LIB --file FILE
              [--small SMALL --concurrent N] [--repeats K] [--hash-runs R] [--summary OUT]
              [--note TEXT]

which does, in this order:
  1. reference: `openssl dgst -sha256 FILE` R times (the file is in the page cache: it was just
     written, and the first run reads it anyway; openssl uses the CPU's SHA instructions), the
     fastest run is the reference; its digest is the checksum given to the server.
     `sha256sum FILE` is timed the same way, for information only.
  2. GET p99 of an idle instance: GETs of an update session, one at a time on one keep-alive
     connection, 1 ms apart, for 2 s (the latency the next step is compared with).
  3. K times: a new item and update session, File.add {"name":"big.bin","source_type":"PUSH",
     "size":SIZE,"checksum_info":{"algorithm":"SHA256","checksum":DIGEST}} (201, upload_endpoint),
     then the timed part: `curl -T FILE -H 'Content-Type: application/octet-stream' URI` (must
     answer 200), from the start of curl to its exit, while
       - the instance's /proc/PID/status is read every 20 ms (VmRSS samples; VmHWM, reset
         before the upload through /proc/PID/clear_refs when allowed),
       - a thread GETs the update session in a loop on one keep-alive connection, 1 ms apart
         (latencies of the GETs answered while curl runs: p50, p99, max).
     The instance's CPU time (utime + stime from /proc/PID/stat) and curl's are taken around it.
     Then File.get: status READY, size SIZE, the same SHA256. The session is then cancelled (its
     staged copy goes) so the runs do not pile up on disk.
  4. with --small: N uploads of SMALL at once (N sessions, N curl processes started together);
     aggregate = N x size / (last exit - first start), fairness = slowest / fastest upload's
     throughput; the same checks after.
The best upload (shortest) is compared with the best openssl run: ratio = upload B/s / openssl
B/s (goal >= 0.7); server CPU per GiB of the best run (goal <= 1.5 s); peak RSS of every run
(goal <= 32 MiB); GET p99 during the uploads (worst run, goal <= 5 ms); concurrent: aggregate /
openssl (goal >= 0.6), fairness (goal >= 0.8). Prints a table (also written to --summary) and one
UPLOADRESULT key=value line. Exit status: 0, or 1 when an upload or a check failed (not for a
missed goal).
"""

import argparse
from http.client import HTTPConnection
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time

from benchlib import HOST, SESSION_PATH, Fail, Table, expect, run

API = "/api/content"
GOAL_RATIO = 0.7
GOAL_CPU_S_PER_GIB = 1.5
GOAL_RSS_KIB = 32 * 1024
GOAL_GET_P99_MS = 5.0
GOAL_CONC_RATIO = 0.6
GOAL_FAIRNESS = 0.8
MB = 1e6


# --- small requests ----------------------------------------------------------------------------

def http(port, token, method, path, body=None):
    c = HTTPConnection(HOST, port, timeout=30)
    try:
        headers = {"vmware-api-session-id": token}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=headers)
        r = c.getresponse()
        raw = r.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, parsed
    finally:
        c.close()


# --- /proc -------------------------------------------------------------------------------------

def proc_status(pid):
    """VmRSS and VmHWM of pid in KiB (None if gone)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line[:5]] = int(line.split()[1])
    except OSError:
        return None
    return out


def proc_cpu_s(pid):
    """utime + stime of pid in seconds."""
    with open("/proc/%d/stat" % pid) as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def reset_hwm(pid):
    """Resets pid's VmHWM to its VmRSS (Linux >= 4.0, same owner); False if not allowed."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class Sampler(threading.Thread):
    def __init__(self, pid, period=0.02):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.stop_ev = threading.Event()
        self.samples = 0
        self.peak_rss = 0
        self.peak_hwm = 0

    def run(self):
        while True:
            st = proc_status(self.pid)
            if st:
                self.samples += 1
                self.peak_rss = max(self.peak_rss, st.get("VmRSS", 0))
                self.peak_hwm = max(self.peak_hwm, st.get("VmHWM", 0))
            if self.stop_ev.wait(self.period):
                return

    def stop(self):
        self.stop_ev.set()
        self.join()
        st = proc_status(self.pid)  # one last look after the upload
        if st:
            self.peak_rss = max(self.peak_rss, st.get("VmRSS", 0))
            self.peak_hwm = max(self.peak_hwm, st.get("VmHWM", 0))


# --- phases ------------------------------------------------------------------------------------

def children_cpu_s():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(argv):
    """Runs argv; returns (wall seconds, CPU seconds, stdout)."""
    cpu0 = children_cpu_s()
    t0 = time.monotonic()
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    cpu = children_cpu_s() - cpu0
    if p.returncode != 0:
        raise Fail("%s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr.decode()[:300]))
    return wall, cpu, p.stdout.decode()


class Getter(threading.Thread):
    """GETs one update session in a loop on one keep-alive connection until stopped, `gap`
    seconds between an answer and the next GET (about 500 GETs/s: their server CPU, ~50 us
    each, stays small next to the upload's, which is measured at the same time); keeps the
    latency of every answered GET (seconds)."""

    def __init__(self, port, token, path, gap=0.001):
        super().__init__(daemon=True)
        self.port, self.token, self.path, self.gap = port, token, path, gap
        self.stop_ev = threading.Event()
        self.lat = []
        self.errors = 0

    def run(self):
        c = HTTPConnection(HOST, self.port, timeout=10)
        headers = {"vmware-api-session-id": self.token}
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            try:
                c.request("GET", self.path, headers=headers)
                r = c.getresponse()
                r.read()
                ok = r.status == 200
            except (OSError, ValueError):
                ok = False
                c.close()
                c = HTTPConnection(HOST, self.port, timeout=10)
            if ok:
                self.lat.append(time.monotonic() - t0)
            else:
                self.errors += 1
            self.stop_ev.wait(self.gap)
        c.close()

    def stop(self):
        self.stop_ev.set()
        self.join()
        lat = sorted(self.lat)

        def pct(q):
            return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")
        return {"n": len(lat), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
                "max_ms": lat[-1] * 1000 if lat else float("nan"), "errors": self.errors}


def hash_baseline(path, runs):
    res = {}
    digest = None
    for name, argv in (("openssl", ["openssl", "dgst", "-sha256", "-r", path]),
                       ("sha256sum", ["sha256sum", path])):
        best = None
        for _ in range(runs):
            wall, cpu, out = timed(argv)
            hexd = out.split()[0].lstrip("\\").lower()
            if len(hexd) != 64:
                raise Fail("%s: unexpected output %r" % (argv[0], out[:200]))
            if digest is None:
                digest = hexd
            elif hexd != digest:
                raise Fail("%s disagrees: %s vs %s" % (argv[0], hexd, digest))
            if best is None or wall < best[0]:
                best = (wall, cpu)
        res[name + "_s"], res[name + "_cpu_s"] = best
    return digest, res


def digest_of(path):
    return timed(["openssl", "dgst", "-sha256", "-r", path])[2].split()[0].lstrip("\\").lower()


def new_upload(a, digest, size, name):
    """A new item, update session and PUSH file of `size` bytes; (session id, upload URI)."""
    item = expect("item create", http(a.port, a.token, "POST", API + "/library/item",
                                      {"library_id": a.library, "name": name}), 201)
    sid = expect("session create", http(a.port, a.token, "POST", SESSION_PATH,
                                        {"library_item_id": item}), 201)
    info = expect("file add", http(a.port, a.token, "POST", "%s/%s/file" % (SESSION_PATH, sid), {
        "name": "big.bin", "source_type": "PUSH", "size": size,
        "checksum_info": {"algorithm": "SHA256", "checksum": digest}}), 200, 201)
    try:
        return sid, info["upload_endpoint"]["uri"]
    except (TypeError, KeyError):
        raise Fail("file add: no upload_endpoint.uri in %s" % json.dumps(info)[:300])


def curl_argv(path, uri):
    return ["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_upload}",
            "-T", path, "-H", "Content-Type: application/octet-stream", uri]


def check_ready(a, sid, digest, size, what, errors):
    """File.get must show READY with the size and checksum; then the session is cancelled (its
    staged copy goes; not part of the measurement)."""
    st, f = http(a.port, a.token, "GET", "%s/%s/file/big.bin" % (SESSION_PATH, sid))
    got = (f or {}).get("checksum_info", {}).get("checksum", "") if isinstance(f, dict) else ""
    if st != 200:
        errors.append("%s: File.get: HTTP %d %s" % (what, st, json.dumps(f)[:200]))
    elif f.get("status") != "READY" or got.lower() != digest or int(f.get("size", -1)) != size:
        errors.append("%s: File.get: status %s, size %s, checksum %s (want READY, %d, %s)"
                      % (what, f.get("status"), f.get("size"), got, size, digest))
    st, body = http(a.port, a.token, "POST", "%s/%s?action=cancel" % (SESSION_PATH, sid))
    if st not in (200, 204):
        print("upload.py: warning: cancel of session %s: HTTP %d %s" % (sid, st, json.dumps(body)[:200]),
              file=sys.stderr)


def idle_gets(a, seconds=2.0):
    """GET p99 of the idle instance (on a session made for it, cancelled after)."""
    item = expect("item create", http(a.port, a.token, "POST", API + "/library/item",
                                      {"library_id": a.library, "name": "idle-get"}), 201)
    sid = expect("session create", http(a.port, a.token, "POST", SESSION_PATH,
                                        {"library_item_id": item}), 201)
    g = Getter(a.port, a.token, "%s/%s" % (SESSION_PATH, sid))
    g.start()
    time.sleep(seconds)
    r = g.stop()
    http(a.port, a.token, "POST", "%s/%s?action=cancel" % (SESSION_PATH, sid))
    return r


def one_upload(a, digest, size, run):
    sid, uri = new_upload(a, digest, size, "big-%d" % run)
    hwm_reset = reset_hwm(a.pid)
    before = proc_status(a.pid) or {}
    getter = Getter(a.port, a.token, "%s/%s" % (SESSION_PATH, sid))
    getter.start()
    srv_cpu0 = proc_cpu_s(a.pid)
    sampler = Sampler(a.pid)
    sampler.start()
    try:
        wall, curl_cpu, out = timed(curl_argv(a.file, uri))
    finally:
        sampler.stop()
        srv_cpu = proc_cpu_s(a.pid) - srv_cpu0
        gets = getter.stop()
    code, _curl_total, sent = out.split()
    r = {"wall_s": wall, "srv_cpu_s": srv_cpu, "curl_cpu_s": curl_cpu, "code": int(code),
         "sent": int(float(sent)), "peak_rss_kib": sampler.peak_rss, "hwm_kib": sampler.peak_hwm,
         "hwm_reset": hwm_reset, "rss_before_kib": before.get("VmRSS", 0),
         "samples": sampler.samples, "gets": gets, "errors": []}
    if r["code"] != 200:
        r["errors"].append("run %d: PUT answered HTTP %s" % (run, code))
    if r["sent"] != size:
        r["errors"].append("run %d: curl sent %d bytes of %d" % (run, r["sent"], size))
    if gets["errors"]:
        r["errors"].append("run %d: %d GETs failed during the PUT" % (run, gets["errors"]))
    check_ready(a, sid, digest, size, "run %d" % run, r["errors"])
    return r


def concurrent(a, n):
    """n uploads of a.small at once; per-upload and aggregate throughput."""
    size = os.path.getsize(a.small)
    digest = digest_of(a.small)
    ups = [new_upload(a, digest, size, "conc-%d" % i) for i in range(n)]
    srv_cpu0 = proc_cpu_s(a.pid)
    sampler = Sampler(a.pid)
    sampler.start()
    t0 = time.monotonic()
    procs = [subprocess.Popen(curl_argv(a.small, uri), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _sid, uri in ups]
    ends = [None] * n
    outs = [None] * n
    left = set(range(n))
    while left:  # poll so that each upload's end is timed on its own
        for i in list(left):
            if procs[i].poll() is not None:
                ends[i] = time.monotonic()
                outs[i] = procs[i].communicate()[0].decode()
                left.discard(i)
        time.sleep(0.005)
    sampler.stop()
    srv_cpu = proc_cpu_s(a.pid) - srv_cpu0
    errors = []
    rates = []
    for i, (sid, _uri) in enumerate(ups):
        code, _t, sent = (outs[i].split() + ["0", "0", "0"])[:3]
        rates.append(size / (ends[i] - t0))
        if code != "200" or int(float(sent)) != size:
            errors.append("concurrent %d: HTTP %s, sent %s of %d" % (i, code, sent, size))
        check_ready(a, sid, digest, size, "concurrent %d" % i, errors)
    wall = max(ends) - t0
    return {"n": n, "size": size, "wall_s": wall, "agg_bps": n * size / wall,
            "min_bps": min(rates), "max_bps": max(rates), "srv_cpu_s": srv_cpu,
            "peak_rss_kib": max(sampler.peak_rss, sampler.peak_hwm), "errors": errors}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for x in ("--port", "--pid"):
        ap.add_argument(x, type=int, required=True)
    for x in ("--token", "--library", "--file"):
        ap.add_argument(x, required=True)
    ap.add_argument("--small")
    ap.add_argument("--concurrent", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--hash-runs", type=int, default=2)
    ap.add_argument("--summary")
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    # TERM (scripts/bench-upload.sh stopping early) unwinds, so subprocess.run kills its child.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    size = os.path.getsize(a.file)
    digest, res = hash_baseline(a.file, a.hash_runs)
    res["size"] = size
    res["digest"] = digest
    res["idle_gets"] = idle_gets(a)
    runs = []
    for i in range(1, a.repeats + 1):
        r = one_upload(a, digest, size, i)
        g = r["gets"]
        print("upload.py: run %d: HTTP %d, %.3f s, %.0f MB/s, server CPU %.2f s, curl CPU %.2f s, "
              "peak RSS %.1f MiB, VmHWM %.1f MiB, %d GETs p99 %.1f ms" % (
                  i, r["code"], r["wall_s"], size / r["wall_s"] / MB, r["srv_cpu_s"], r["curl_cpu_s"],
                  r["peak_rss_kib"] / 1024, r["hwm_kib"] / 1024, g["n"], g["p99_ms"]), file=sys.stderr)
        runs.append(r)
        if not proc_status(a.pid):  # gone, or a zombie (no VmRSS)
            raise Fail("the server (pid %d) died during run %d" % (a.pid, i))
    conc = concurrent(a, a.concurrent) if a.small and a.concurrent > 0 else None
    if conc:
        print("upload.py: %d concurrent: %.0f MB/s aggregate, slowest %.0f, fastest %.0f MB/s" % (
            conc["n"], conc["agg_bps"] / MB, conc["min_bps"] / MB, conc["max_bps"] / MB),
            file=sys.stderr)
    report(a, res, runs, conc)
    return 1 if any(r["errors"] for r in runs) or (conc and conc["errors"]) else 0


def report(a, res, runs, conc):
    size = res["size"]
    gib = size / 2**30
    t = Table()
    row = t.row

    def rate(s):
        return size / s / MB

    best = min(runs, key=lambda r: r["wall_s"])
    ossl = rate(res["openssl_s"])
    up = rate(best["wall_s"])
    ratio = up / ossl
    cpu_gib = best["srv_cpu_s"] / gib
    peak = max(max(r["peak_rss_kib"], r["hwm_kib"]) for r in runs)
    p99 = max(r["gets"]["p99_ms"] for r in runs)
    idle = res["idle_gets"]
    row("openssl dgst -sha256 (best of %d)" % a.hash_runs, "%.0f MB/s (%.3f s, CPU %.2f s)" % (
        ossl, res["openssl_s"], res["openssl_cpu_s"]))
    row("  sha256sum (information)", "%.0f MB/s (%.3f s, CPU %.2f s)" % (
        rate(res["sha256sum_s"]), res["sha256sum_s"], res["sha256sum_cpu_s"]))
    row("PUT with SHA256 (best of %d)" % len(runs), "%.0f MB/s (%.3f s)" % (up, best["wall_s"]))
    row("  ratio PUT / openssl", "%.3f" % ratio, ">= %.1f" % GOAL_RATIO, ratio >= GOAL_RATIO)
    row("  server CPU per GiB (best run)", "%.2f s" % cpu_gib, "<= %.1f s" % GOAL_CPU_S_PER_GIB,
        cpu_gib <= GOAL_CPU_S_PER_GIB)
    row("peak server RSS during the PUT", "%.1f MiB" % (peak / 1024), "<= 32 MiB", peak <= GOAL_RSS_KIB)
    row("GET p99 during the PUT (worst run)", "%.2f ms" % p99, "<= %.0f ms" % GOAL_GET_P99_MS,
        p99 <= GOAL_GET_P99_MS)
    row("  GET idle instance (information)", "%d GETs, p50 %.2f ms, p99 %.2f ms, max %.1f ms" % (
        idle["n"], idle["p50_ms"], idle["p99_ms"], idle["max_ms"]))
    for i, r in enumerate(runs, 1):
        g = r["gets"]
        row("  run %d" % i, "HTTP %d, %.0f MB/s, server CPU %.2f s (%.2f s/GiB), curl CPU %.2f s" % (
            r["code"], rate(r["wall_s"]), r["srv_cpu_s"], r["srv_cpu_s"] / gib, r["curl_cpu_s"]))
        row("", "RSS %.1f MiB before, peak %.1f MiB (%d samples), VmHWM %.1f MiB%s" % (
            r["rss_before_kib"] / 1024, r["peak_rss_kib"] / 1024, r["samples"], r["hwm_kib"] / 1024,
            "" if r["hwm_reset"] else " (since start: reset not allowed)"))
        row("", "%d GETs during it: p50 %.2f ms, p99 %.2f ms, max %.1f ms" % (
            g["n"], g["p50_ms"], g["p99_ms"], g["max_ms"]))
    out = {"openssl_mbs": ossl, "sha256sum_mbs": rate(res["sha256sum_s"]), "put_mbs": up,
           "ratio": ratio, "cpu_s_per_gib": cpu_gib, "peak_rss_kib": peak, "get_p99_ms": p99,
           "idle_get_p99_ms": idle["p99_ms"], "size": size}
    for i, r in enumerate(runs, 1):
        out["run%d_mbs" % i] = rate(r["wall_s"])
        out["run%d_srv_cpu_s" % i] = r["srv_cpu_s"]
    errors = [e for r in runs for e in r["errors"]]
    if conc:
        cratio = conc["agg_bps"] / MB / ossl
        fair = conc["min_bps"] / conc["max_bps"]
        row("%d concurrent PUTs of %.0f MiB" % (conc["n"], conc["size"] / 2**20),
            "%.0f MB/s aggregate (%.3f s), server CPU %.2f s, peak RSS %.1f MiB" % (
                conc["agg_bps"] / MB, conc["wall_s"], conc["srv_cpu_s"], conc["peak_rss_kib"] / 1024))
        row("  ratio aggregate / openssl", "%.3f" % cratio, ">= %.1f" % GOAL_CONC_RATIO,
            cratio >= GOAL_CONC_RATIO)
        row("  fairness slowest / fastest", "%.3f (%.0f / %.0f MB/s)" % (
            fair, conc["min_bps"] / MB, conc["max_bps"] / MB), ">= %.1f" % GOAL_FAIRNESS,
            fair >= GOAL_FAIRNESS)
        row("  peak server RSS", "%.1f MiB" % (conc["peak_rss_kib"] / 1024), "<= 32 MiB",
            conc["peak_rss_kib"] <= GOAL_RSS_KIB)
        out.update({"conc_n": conc["n"], "conc_agg_mbs": conc["agg_bps"] / MB, "conc_ratio": cratio,
                    "conc_fairness": fair, "conc_peak_rss_kib": conc["peak_rss_kib"]})
        errors += conc["errors"]
    row("File.get after each PUT", "READY, size and SHA256 match" if not errors else "%d problem(s)"
        % len(errors), "READY", not errors)
    t.write("update-sessiond upload bench: PUT of %.2f GiB with SHA256, from the page cache%s" % (
        gib, a.note),
        ["MB = 10^6 bytes; PUT time = curl start to exit (includes the server's final fsync "
         "and Redis update). Concurrent: each upload's throughput counts from the common start "
         "to its curl's exit."], errors, "UPLOADRESULT", out, a.summary)


if __name__ == "__main__":
    run(main, "upload.py", ValueError)
