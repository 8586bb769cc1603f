#!/usr/bin/env python3
"""tests/bench/upload.py: the measuring half of scripts/bench-upload.sh (Python 3, stdlib only).

scripts/bench-upload.sh starts a private redis-server and one instance, logs in, creates a
local library, generates FILE (random bytes) in the directory that also holds the instance's
--storage-dir, and runs

    upload.py --port PORT --token TOKEN --pid PID --library LIB --file FILE
              [--repeats K] [--hash-runs R] [--summary OUT] [--note TEXT]

which does, in this order:
  1. baseline: `sha256sum FILE` R times (the file is in the page cache: it was just written,
     and the first run reads it anyway), the fastest run is the baseline; its digest is the
     checksum given to the server. `openssl dgst -sha256 FILE` is timed the same way, for
     reference only (it uses the CPU's SHA instructions, coreutils' sha256sum does not).
  2. K times: a new item and update session, File.add {"name":"big.bin","source_type":"PUSH",
     "size":SIZE,"checksum_info":{"algorithm":"SHA256","checksum":DIGEST}} (201, upload_endpoint),
     then the timed part: `curl -T FILE -H 'Content-Type: application/octet-stream' URI` (must
     answer 200), from the start of curl to its exit, while the instance's /proc/PID/status is
     read every 20 ms (VmRSS samples; VmHWM, reset before the upload through /proc/PID/clear_refs
     when allowed). The instance's CPU time (utime + stime) and curl's are taken around it.
     Then File.get: status READY, size SIZE, the same SHA256. The session is then cancelled (its
     staged 1 GiB goes) so the runs do not pile up on disk.
The best upload (shortest) is compared with the best sha256sum: ratio = upload B/s / sha256sum
B/s (goal >= 0.8); the peak RSS is the highest of every run (goal <= 32 MiB). Prints a table
(also written to --summary) and one UPLOADRESULT key=value line. Exit status: 0, or 1 when an
upload or a check failed (not for a missed goal).
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
GOAL_RATIO = 0.8
GOAL_RSS_KIB = 32 * 1024
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


def hash_baseline(path, runs):
    res = {}
    digest = None
    for name, argv in (("sha256sum", ["sha256sum", path]),
                       ("openssl", ["openssl", "dgst", "-sha256", "-r", path])):
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


def one_upload(a, digest, size, run):
    item = expect("item create", http(a.port, a.token, "POST", API + "/library/item",
                                      {"library_id": a.library, "name": "big-%d" % run}), 201)
    sid = expect("session create", http(a.port, a.token, "POST", SESSION_PATH,
                                        {"library_item_id": item}), 201)
    info = expect("file add", http(a.port, a.token, "POST", "%s/%s/file" % (SESSION_PATH, sid), {
        "name": "big.bin", "source_type": "PUSH", "size": size,
        "checksum_info": {"algorithm": "SHA256", "checksum": digest}}), 200, 201)
    try:
        uri = info["upload_endpoint"]["uri"]
    except (TypeError, KeyError):
        raise Fail("file add: no upload_endpoint.uri in %s" % json.dumps(info)[:300])

    hwm_reset = reset_hwm(a.pid)
    before = proc_status(a.pid) or {}
    srv_cpu0 = proc_cpu_s(a.pid)
    sampler = Sampler(a.pid)
    sampler.start()
    try:
        wall, curl_cpu, out = timed([
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_upload}",
            "-T", a.file, "-H", "Content-Type: application/octet-stream", uri])
    finally:
        sampler.stop()
    srv_cpu = proc_cpu_s(a.pid) - srv_cpu0
    code, _curl_total, sent = out.split()
    r = {"wall_s": wall, "srv_cpu_s": srv_cpu, "curl_cpu_s": curl_cpu, "code": int(code),
         "sent": int(float(sent)), "peak_rss_kib": sampler.peak_rss, "hwm_kib": sampler.peak_hwm,
         "hwm_reset": hwm_reset, "rss_before_kib": before.get("VmRSS", 0),
         "samples": sampler.samples, "errors": []}
    if r["code"] != 200:
        r["errors"].append("run %d: PUT answered HTTP %s" % (run, code))
    if r["sent"] != size:
        r["errors"].append("run %d: curl sent %d bytes of %d" % (run, r["sent"], size))

    st, f = http(a.port, a.token, "GET", "%s/%s/file/big.bin" % (SESSION_PATH, sid))
    got = (f or {}).get("checksum_info", {}).get("checksum", "") if isinstance(f, dict) else ""
    if st != 200:
        r["errors"].append("run %d: File.get: HTTP %d %s" % (run, st, json.dumps(f)[:200]))
    elif f.get("status") != "READY" or got.lower() != digest or int(f.get("size", -1)) != size:
        r["errors"].append("run %d: File.get: status %s, size %s, checksum %s (want READY, %d, %s)"
                           % (run, f.get("status"), f.get("size"), got, size, digest))
    # Free the staged copy; not part of the measurement.
    st, body = http(a.port, a.token, "POST", "%s/%s?action=cancel" % (SESSION_PATH, sid))
    if st not in (200, 204):
        print("upload.py: warning: cancel of session %s: HTTP %d %s" % (sid, st, json.dumps(body)[:200]),
              file=sys.stderr)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for x in ("--port", "--pid"):
        ap.add_argument(x, type=int, required=True)
    for x in ("--token", "--library", "--file"):
        ap.add_argument(x, required=True)
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
    runs = []
    for i in range(1, a.repeats + 1):
        r = one_upload(a, digest, size, i)
        print("upload.py: run %d: HTTP %d, %.3f s, %.0f MB/s, server CPU %.2f s, curl CPU %.2f s, "
              "peak RSS %.1f MiB, VmHWM %.1f MiB" % (
                  i, r["code"], r["wall_s"], size / r["wall_s"] / MB, r["srv_cpu_s"], r["curl_cpu_s"],
                  r["peak_rss_kib"] / 1024, r["hwm_kib"] / 1024), file=sys.stderr)
        runs.append(r)
        if not proc_status(a.pid):  # gone, or a zombie (no VmRSS)
            raise Fail("the server (pid %d) died during run %d" % (a.pid, i))
    report(a, res, runs)
    return 1 if any(r["errors"] for r in runs) else 0


def report(a, res, runs):
    size = res["size"]
    t = Table()
    row = t.row

    def rate(s):
        return size / s / MB

    best = min(runs, key=lambda r: r["wall_s"])
    sha = rate(res["sha256sum_s"])
    up = rate(best["wall_s"])
    ratio = up / sha
    peak = max(max(r["peak_rss_kib"], r["hwm_kib"]) for r in runs)
    row("sha256sum (best of %d)" % a.hash_runs, "%.0f MB/s (%.3f s, CPU %.2f s)" % (
        sha, res["sha256sum_s"], res["sha256sum_cpu_s"]))
    row("  openssl dgst -sha256 (reference)", "%.0f MB/s (%.3f s, CPU %.2f s)" % (
        rate(res["openssl_s"]), res["openssl_s"], res["openssl_cpu_s"]))
    row("PUT with SHA256 (best of %d)" % len(runs), "%.0f MB/s (%.3f s)" % (up, best["wall_s"]))
    row("  ratio PUT / sha256sum", "%.3f" % ratio, ">= %.1f" % GOAL_RATIO, ratio >= GOAL_RATIO)
    row("peak server RSS during the PUT", "%.1f MiB" % (peak / 1024), "<= 32 MiB", peak <= GOAL_RSS_KIB)
    for i, r in enumerate(runs, 1):
        row("  run %d" % i, "HTTP %d, %.0f MB/s, server CPU %.2f s, curl CPU %.2f s" % (
            r["code"], rate(r["wall_s"]), r["srv_cpu_s"], r["curl_cpu_s"]))
        row("", "RSS %.1f MiB before, peak %.1f MiB (%d samples), VmHWM %.1f MiB%s" % (
            r["rss_before_kib"] / 1024, r["peak_rss_kib"] / 1024, r["samples"], r["hwm_kib"] / 1024,
            "" if r["hwm_reset"] else " (since start: reset not allowed)"))
    errors = [e for r in runs for e in r["errors"]]
    row("File.get after each PUT", "READY, size and SHA256 match" if not errors else "%d problem(s)"
        % len(errors), "READY", not errors)

    out = {"sha256sum_mbs": sha, "openssl_mbs": rate(res["openssl_s"]), "put_mbs": up,
           "ratio": ratio, "peak_rss_kib": peak, "size": size}
    for i, r in enumerate(runs, 1):
        out["run%d_mbs" % i] = rate(r["wall_s"])
        out["run%d_srv_cpu_s" % i] = r["srv_cpu_s"]
    t.write("update-sessiond upload bench: PUT of %.2f GiB with SHA256, from the page cache%s" % (
        size / 2**30, a.note),
        ["MB = 10^6 bytes; PUT time = curl start to exit (includes the server's final fsync "
         "and Redis update)."], errors, "UPLOADRESULT", out, a.summary)


if __name__ == "__main__":
    run(main, "upload.py", ValueError)
