#!/usr/bin/env python3
"""tests/bench/expiry.py: the measuring half of scripts/bench-expiry.sh (Python 3, stdlib only).

scripts/bench-expiry.sh starts a private redis-server, two instances A and B on one key prefix
(session timeout 3600 s) and an instance C on a second prefix (session timeout 1 s), logs in to
both prefixes and runs

    expiry.py --redis PORT --prefix P --prefix-c P2 --port-a PORT --port-b PORT --port-c PORT
              --token TOKEN --token-c TOKEN --library LIB [--sessions N] [--lead-ms MS]
              [--repeats K] [--summary FILE]

which does, in this order:
  1. bulk: creates N items (POST /api/content/library/item), then one ACTIVE session on each
     (POST .../update-session), through A and B alternately, many keep-alive connections with
     pipelining. INFO memory used_memory is read after the items and after the sessions:
     (after - before) / N = Redis bytes per ACTIVE session.
  2. same deadline (benchmark setup, not server behaviour): T = Redis TIME + lead-ms; chunked
     EVALs set every session record's deadline field and its P deadlines score to T.
  3. sweep: a light paced load (2 connections on A, 2 on B, one GET of a bulk session every
     20 ms each) runs from before T until the sweep is over; non-2xx answers and socket errors
     are counted. ZCARD P deadlines is polled every 50 ms from T; when it is 0, chunked EVALs
     count the records ACTIVE / ERROR and take the earliest and latest `finished` field (the
     Redis TIME the sweeper expired them at). last ERROR - T is the bulk expiry time. SLOWLOG
     (threshold 1 ms, reset at T) gives how many scripts ran >= 1 ms meanwhile, the longest.
  4. single-session latency, K times each, the record polled in Redis every 10 ms:
       1 sweeper : a fresh session on C (its own prefix, --session-timeout 1, only C sweeps);
       2 sweepers: a fresh session on A whose deadline is set to TIME + 1 s (A and B sweep).
     latency = finished - deadline (poll: first poll seeing ERROR - deadline, an upper bound).
Records are read in Redis directly: the API would report an overdue session as ERROR before
any sweep. Prints a table (also written to --summary) and one EXPIRYRESULT key=value line.
Exit status: 0, or 1 when requests failed, a session stayed ACTIVE, or the setup failed.
"""

import argparse
import collections
import json
import re
import selectors
import socket
import statistics
import sys
import threading
import time

from benchlib import HOST, SESSION_PATH, Fail, Table, expect, run

CHUNK = 5000  # session ids per EVAL

# --- Redis (RESP2, blocking) -------------------------------------------------------------------

class Redis:
    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rf = self.sock.makefile("rb")

    def call(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            if not isinstance(a, bytes):
                a = str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()

    def _reply(self):
        line = self.rf.readline()
        if not line:
            raise Fail("redis closed the connection")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise Fail("redis: " + rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.rf.read(n + 2)
            return data[:-2].decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise Fail("redis: unexpected reply %r" % line)

    def now_ms(self):
        s, us = self.call("TIME")
        return int(s) * 1000 + int(us) // 1000

    def used_memory(self):
        info = self.call("INFO", "memory")
        return int(re.search(r"^used_memory:(\d+)", info, re.M).group(1))


# The record key of session "<item>:<uuid>" (store/keys.c): P{<item>}:s:<uuid>.
LUA_KEYS = """
local function rec_of(prefix, sid)
  local item, uuid = string.match(sid, '^(.*):([^:]*)$')
  return prefix .. '{' .. item .. '}:s:' .. uuid
end
"""
# KEYS[1] deadlines zset; ARGV[1] prefix, ARGV[2] deadline, ARGV[3..] session ids.
LUA_SET_DEADLINE = LUA_KEYS + """
local n = 0
for i = 3, #ARGV do
  local rec = rec_of(ARGV[1], ARGV[i])
  if redis.call('HGET', rec, 'state') == 'ACTIVE' then
    redis.call('HSET', rec, 'deadline', ARGV[2])
    redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i])
    n = n + 1
  end
end
return n
"""
# ARGV[1] prefix, ARGV[2..] session ids -> {active, error, other, min finished, max finished,
# expiry messages (err field set)}.
LUA_COUNT = LUA_KEYS + """
local active, err, other, lo, hi, msg = 0, 0, 0, -1, -1, 0
for i = 2, #ARGV do
  local r = redis.call('HMGET', rec_of(ARGV[1], ARGV[i]), 'state', 'finished', 'err')
  if r[1] == 'ACTIVE' then active = active + 1
  elseif r[1] == 'ERROR' then
    err = err + 1
    local f = tonumber(r[2])
    if f then
      if lo < 0 or f < lo then lo = f end
      if f > hi then hi = f end
    end
    if r[3] then msg = msg + 1 end
  else other = other + 1 end
end
return {active, err, other, lo, hi, msg}
"""


# --- HTTP/1.1 keep-alive client connections ----------------------------------------------------

class Conn:
    """One non-blocking keep-alive connection; requests may be pipelined."""

    def __init__(self, port, sel, token):
        self.port = port
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.sel = sel
        self.token = token
        self.out = bytearray()
        self.inb = bytearray()
        self.pending = collections.deque()  # (tag, perf_counter at send)
        self.want_write = False
        sel.register(self.sock, selectors.EVENT_READ, self)

    def request(self, method, path, body, tag):
        head = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nvmware-api-session-id: %s\r\n" % (
            method, path, HOST, self.port, self.token)
        if body is not None:
            data = body.encode()
            head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
        else:
            data = b""
        self.out += head.encode() + b"\r\n" + data
        self.pending.append((tag, time.perf_counter()))

    def flush(self):
        if self.out:
            try:
                n = self.sock.send(self.out)
                del self.out[:n]
            except BlockingIOError:
                pass
        want = bool(self.out)
        if want != self.want_write:
            self.want_write = want
            self.sel.modify(self.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0), self)

    def on_event(self, mask):
        """Yields (tag, seconds, status, body) for each complete response."""
        if mask & selectors.EVENT_WRITE:
            self.flush()
        if not mask & selectors.EVENT_READ:
            return
        try:
            data = self.sock.recv(262144)
        except BlockingIOError:
            return
        if not data:
            raise ConnectionError("server closed the connection on port %d" % self.port)
        self.inb += data
        while True:
            end = self.inb.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.inb[:end])
            m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
            clen = int(m.group(1)) if m else 0
            if len(self.inb) < end + 4 + clen:
                return
            body = bytes(self.inb[end + 4:end + 4 + clen])
            del self.inb[:end + 4 + clen]
            status = int(head[9:12])
            tag, t0 = self.pending.popleft()
            yield tag, time.perf_counter() - t0, status, body

    def close(self):
        self.sel.unregister(self.sock)
        self.sock.close()


def bulk(ports, token, conns, depth, n, make, on_response):
    """Sends n requests, make(i) -> (method, path, body), over `conns` connections spread over
    ports, at most `depth` in flight on each; on_response(i, status, body). Returns seconds."""
    sel = selectors.DefaultSelector()
    cs = [Conn(ports[k % len(ports)], sel, token) for k in range(conns)]
    nxt = 0
    done = 0
    t0 = time.perf_counter()

    def top_up(c):
        nonlocal nxt
        while nxt < n and len(c.pending) < depth:
            c.request(*make(nxt), tag=nxt)
            nxt += 1
        c.flush()

    for c in cs:
        top_up(c)
    try:
        while done < n:
            events = sel.select(30)
            if not events:
                raise Fail("bulk: no answer for 30 s (%d of %d done)" % (done, n))
            for key, mask in events:
                c = key.data
                got = False
                for tag, _, status, body in c.on_event(mask):
                    on_response(tag, status, body)
                    done += 1
                    got = True
                if got:
                    top_up(c)
    finally:
        for c in cs:
            c.close()
        sel.close()
    return time.perf_counter() - t0


class Load(threading.Thread):
    """A paced request load: on each connection one request every `period` s (the next one only
    after the answer). Counts non-2xx answers and socket errors; keeps (sent at, seconds)."""

    def __init__(self, ports, token, path, period):
        super().__init__(daemon=True)
        self.ports, self.token, self.path, self.period = ports, token, path, period
        self.stop_at = None
        self.lat = []
        self.status_errors = 0
        self.socket_errors = 0
        self.first_error = ""
        self.ready = threading.Event()

    def stop(self):
        self.stop_at = True

    def error(self, what):
        if not self.first_error:
            self.first_error = what

    def run(self):
        sel = selectors.DefaultSelector()
        conns = []
        due = {}
        try:
            for p in self.ports:
                c = Conn(p, sel, self.token)
                conns.append(c)
                due[c] = time.perf_counter()
        except OSError as e:
            self.socket_errors += 1
            self.error("connect: %s" % e)
            self.ready.set()
            return
        self.ready.set()
        while not self.stop_at or any(c.pending for c in conns):
            now = time.perf_counter()
            for c in conns:
                if not self.stop_at and not c.pending and c in due and now >= due[c]:
                    c.request("GET", self.path, None, tag=0)
                    due[c] = now + self.period
                    try:
                        c.flush()
                    except OSError as e:
                        self.socket_errors += 1
                        self.error("send: %s" % e)
                        conns.remove(c)
                        break
            wake = [due[c] for c in conns if not c.pending and c in due]
            timeout = max(0.0, min(wake) - time.perf_counter()) if wake else 0.1
            for key, mask in sel.select(min(timeout, 0.1)):
                c = key.data
                try:
                    for _, secs, status, body in c.on_event(mask):
                        self.lat.append((time.perf_counter() - secs, secs))
                        if not 200 <= status < 300:
                            self.status_errors += 1
                            self.error("HTTP %d %s" % (status, body[:200].decode(errors="replace")))
                except (OSError, ConnectionError) as e:
                    self.socket_errors += 1 + len(c.pending)
                    self.error("socket: %s" % e)
                    c.pending.clear()
                    conns.remove(c)
                    sel.unregister(c.sock)
            if not conns:
                break
        for c in conns:
            c.close()


# --- small blocking requests -------------------------------------------------------------------

def http(port, token, method, path, body=None):
    sel = selectors.DefaultSelector()
    c = Conn(port, sel, token)
    c.request(method, path, None if body is None else json.dumps(body), tag=0)
    c.flush()
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            for key, mask in sel.select(1):
                for _, _, status, data in c.on_event(mask):
                    return status, json.loads(data) if data else None
        raise Fail("%s %s on port %d: no answer" % (method, path, port))
    finally:
        c.close()
        sel.close()


# --- phases ------------------------------------------------------------------------------------

def poll_expiry(r, rec, step=0.01, limit=15.0):
    """Polls a session record until it is not ACTIVE: (deadline, finished, first poll seeing it
    finished, state), Redis TIME ms."""
    t_end = time.time() + limit
    while time.time() < t_end:
        state, deadline, finished = r.call("HMGET", rec, "state", "deadline", "finished")
        if state != "ACTIVE":
            seen = r.now_ms()
            return int(deadline), int(finished or 0), seen, state
        time.sleep(step)
    raise Fail("session %s still ACTIVE after %.0f s" % (rec, limit))


def rec_key(prefix, sid):
    item, uuid = sid.rsplit(":", 1)
    return "%s{%s}:s:%s" % (prefix, item, uuid)


def latency_runs(r, port, token, prefix, item, repeats, set_deadline_ms):
    """repeats fresh sessions on item; returns [(latency ms, poll latency ms)]."""
    out = []
    for _ in range(repeats):
        sid = expect("session create", http(port, token, "POST", SESSION_PATH,
                                            {"library_item_id": item}), 201)
        rec = rec_key(prefix, sid)
        if set_deadline_ms:
            d = r.now_ms() + set_deadline_ms
            r.call("EVAL", LUA_SET_DEADLINE, 1, prefix + "deadlines", prefix, d, sid)
        deadline, finished, seen, state = poll_expiry(r, rec)
        if state != "ERROR":
            raise Fail("session %s ended %s, not ERROR" % (sid, state))
        out.append((finished - deadline, seen - deadline))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for a in ("--redis", "--port-a", "--port-b", "--port-c"):
        ap.add_argument(a, type=int, required=True)
    for a in ("--prefix", "--prefix-c", "--token", "--token-c", "--library"):
        ap.add_argument(a, required=True)
    ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--lead-ms", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--summary")
    ap.add_argument("--note", default="")
    a = ap.parse_args()
    sys.setswitchinterval(0.0005)  # the load thread measures latencies
    n = a.sessions
    ports = [a.port_a, a.port_b]
    r = Redis(a.redis)
    dl_key = a.prefix + "deadlines"
    res = {}
    errors = []

    # 1. bulk items and sessions, memory.
    def create_all(what, make):
        """n creates through A and B, make(i) -> (method, path, body), each answering 201 and
        an id: the ids; the rate goes to res[WHATs_per_s]."""
        ids = [None] * n
        bad = []

        def on_response(i, status, body):
            m = re.match(rb'\s*"([^"\\]+)"\s*$', body)
            if status == 201 and m:
                ids[i] = m.group(1).decode()
            else:
                bad.append("%s: HTTP %d %s" % (what, status, body[:200]))

        secs = bulk(ports, a.token, a.conns, a.depth, n, make, on_response)
        if bad:
            raise Fail("%d %s creates failed, first: %s" % (len(bad), what, bad[0]))
        res[what + "s_per_s"] = n / secs
        print("expiry: %d %ss in %.1f s (%.0f/s)" % (n, what, secs, n / secs), flush=True)
        time.sleep(0.3)
        return ids

    lib = a.library
    items = create_all("item", lambda i: ("POST", "/api/content/library/item",
                                          '{"library_id":"%s","name":"x%d"}' % (lib, i)))
    # the events stream (P events) grows by one entry per create: operations data, measured
    # apart from the sessions' own memory
    ev_key = a.prefix + "events"

    def stream_bytes():
        return r.call("MEMORY", "USAGE", ev_key, "SAMPLES", 0) or 0
    mem0, ev0 = r.used_memory(), stream_bytes()
    sids = create_all("session", lambda i: ("POST", SESSION_PATH,
                                            '{"library_item_id":"%s"}' % items[i]))
    mem1, ev1 = r.used_memory(), stream_bytes()
    zc = r.call("ZCARD", dl_key)
    if zc != n:
        raise Fail("%s holds %d sessions, expected %d" % (dl_key, zc, n))
    res["bytes_per_session"] = (mem1 - mem0 - (ev1 - ev0)) / n
    res["event_bytes"] = (ev1 - ev0) / n
    rec0 = rec_key(a.prefix, sids[0])
    res["record_bytes"] = r.call("MEMORY", "USAGE", rec0, "SAMPLES", 0)
    res["record_encoding"] = r.call("OBJECT", "ENCODING", rec0)
    base0 = rec0[:rec0.rindex(":s:")]
    res["lock_bytes"] = r.call("MEMORY", "USAGE", base0 + ":lock")

    # 2. the same deadline T for every session (setup).
    t_set = time.perf_counter()
    T = r.now_ms() + a.lead_ms
    changed = 0
    for k in range(0, n, CHUNK):
        changed += r.call("EVAL", LUA_SET_DEADLINE, 1, dl_key, a.prefix, T, *sids[k:k + CHUNK])
    left = T - r.now_ms()
    print("expiry: deadline of %d sessions set to T in %.2f s, T is %.2f s ahead" % (
        changed, time.perf_counter() - t_set, left / 1000), flush=True)
    if changed != n or left < 1000:
        raise Fail("deadline setup: %d of %d set, %d ms before T (need >= 1000)" % (changed, n, left))

    # 3. the sweep, under a light load.
    load = Load([a.port_a, a.port_a, a.port_b, a.port_b], a.token,
                "%s/%s" % (SESSION_PATH, sids[n // 2]), 0.02)
    time.sleep(max(0, (left - 800) / 1000))  # the load starts ~0.8 s before T
    load.start()
    load.ready.wait()
    # The Redis commands that run >= 1 ms from T on (the sweep scripts): SLOWLOG.
    r.call("CONFIG", "SET", "slowlog-log-slower-than", 1000)
    r.call("CONFIG", "SET", "slowlog-max-len", 100000)
    while r.now_ms() < T:
        time.sleep(0.005)
    r.call("SLOWLOG", "RESET")
    pc_T = time.perf_counter()
    polls = 0
    t_limit = T + 60000
    while True:
        polls += 1
        if r.call("ZCARD", dl_key) == 0:
            t_poll = r.now_ms()
            pc_done = time.perf_counter()
            break
        if r.now_ms() > t_limit:
            t_poll = None
            pc_done = time.perf_counter()
            errors.append("%s not empty 60 s after T" % dl_key)
            break
        time.sleep(0.05)
    slow = [e for e in r.call("SLOWLOG", "GET", -1) if e[3][0].upper() in ("EVALSHA", "EVAL")]
    r.call("CONFIG", "SET", "slowlog-log-slower-than", 10000)
    res["slow_scripts"] = len(slow)
    res["slow_max_ms"] = max((e[2] for e in slow), default=0) / 1000
    res["slow_sum_s"] = sum(e[2] for e in slow) / 1e6
    active = error = other = msgs = 0
    lo = hi = -1
    for k in range(0, n, CHUNK):
        c = r.call("EVAL", LUA_COUNT, 0, a.prefix, *sids[k:k + CHUNK])
        active += c[0]
        error += c[1]
        other += c[2]
        msgs += c[5]
        if c[3] >= 0 and (lo < 0 or c[3] < lo):
            lo = c[3]
        hi = max(hi, c[4])
    time.sleep(0.5)
    load.stop()
    load.join(10)
    res.update(sweep_s=(hi - T) / 1000 if hi >= 0 else None,
               first_s=(lo - T) / 1000 if lo >= 0 else None,
               poll_s=(t_poll - T) / 1000 if t_poll else None,
               active=active, error=error, other=other, err_msgs=msgs,
               load_requests=len(load.lat), load_status_errors=load.status_errors,
               load_socket_errors=load.socket_errors)
    lat = load.lat
    for name, sel in (("idle", [x[1] for x in lat if x[0] < pc_T]),
                      ("sweep", [x[1] for x in lat if pc_T <= x[0] <= pc_done])):
        sel.sort()
        res["load_%s_requests" % name] = len(sel)
        if sel:
            res["load_%s_p50_ms" % name] = sel[len(sel) // 2] * 1000
            res["load_%s_p99_ms" % name] = sel[min(len(sel) - 1, int(len(sel) * 0.99))] * 1000
            res["load_%s_max_ms" % name] = sel[-1] * 1000
    if active or error != n or other:
        errors.append("after the sweep: %d ACTIVE, %d ERROR, %d other (expected 0, %d, 0)" % (
            active, error, other, n))
    if msgs != error:
        errors.append("%d of %d ERROR records have no err message" % (error - msgs, error))
    if load.status_errors or load.socket_errors or not lat:
        errors.append("request load: %d requests, %d non-2xx, %d socket errors; first: %s" % (
            len(lat), load.status_errors, load.socket_errors, load.first_error))
    print("expiry: sweep over, %d ERROR; load %d requests, %d errors" % (
        error, len(lat), load.status_errors + load.socket_errors), flush=True)

    # 4. single-session latency: C alone (its own prefix), then A+B.
    time.sleep(1)  # let A and B go back to their idle sweep rhythm
    lib_c = expect("library create on C", http(a.port_c, a.token_c, "POST",
                                               "/api/content/local-library", {"name": "lat"}), 201)
    item_c = expect("item create on C", http(a.port_c, a.token_c, "POST",
                                             "/api/content/library/item",
                                             {"library_id": lib_c, "name": "lat"}), 201)
    one = latency_runs(r, a.port_c, a.token_c, a.prefix_c, item_c, a.repeats, 0)
    item_a = expect("item create on A", http(a.port_a, a.token, "POST", "/api/content/library/item",
                                             {"library_id": lib, "name": "lat"}), 201)
    two = latency_runs(r, a.port_a, a.token, a.prefix, item_a, a.repeats, 1000)
    for name, runs in (("lat1", one), ("lat2", two)):
        ms = [x[0] for x in runs]
        res[name + "_median_ms"] = statistics.median(ms)
        res[name + "_max_ms"] = max(ms)
        res[name + "_all_ms"] = ",".join(str(x) for x in ms)
        res[name + "_poll_max_ms"] = max(x[1] for x in runs)

    report(a, res, errors)
    return 1 if errors else 0


def report(a, res, errors):
    def f(v, fmt):
        return "-" if v is None else fmt % v

    t = Table()
    row = t.row
    sw = res["sweep_s"]
    row("bulk expiry: deadline -> last ERROR", f(sw, "%.3f s"), "<= 5 s", sw is not None and sw <= 5)
    row("  deadline -> first ERROR", f(res["first_s"], "%.3f s"))
    row("  deadline -> deadlines zset empty (poll)", f(res["poll_s"], "%.3f s"))
    row("  records after the sweep", "%d ERROR, %d ACTIVE" % (res["error"], res["active"]),
        "all ERROR", res["active"] == 0 and res["error"] == a.sessions and res["other"] == 0)
    nerr = res["load_status_errors"] + res["load_socket_errors"]
    row("request errors during the sweep", "%d of %d" % (nerr, res["load_requests"]), "0",
        nerr == 0 and res["load_requests"] > 0)
    for name, what in (("sweep", "while sweeping"), ("idle", "before T")):
        row("  GET latency p50 / p99 / max, %s" % what, "%s / %s / %s ms (%d req)" % (
            f(res.get("load_%s_p50_ms" % name), "%.1f"), f(res.get("load_%s_p99_ms" % name), "%.1f"),
            f(res.get("load_%s_max_ms" % name), "%.1f"), res["load_%s_requests" % name]))
    row("  Redis scripts >= 1 ms while sweeping", "%d, longest %.1f ms, %.2f s in all" % (
        res["slow_scripts"], res["slow_max_ms"], res["slow_sum_s"]))
    for name, what in (("lat1", "1 sweeper (C)"), ("lat2", "2 sweepers (A+B)")):
        row("one session's expiry latency, %s" % what, "%d / %d ms" % (
            res[name + "_median_ms"], res[name + "_max_ms"]), "<= 1500 ms",
            res[name + "_max_ms"] <= 1500)
    row("  (median / max; all runs)", res["lat1_all_ms"] + " | " + res["lat2_all_ms"])
    bps = res["bytes_per_session"]
    row("Redis memory per ACTIVE session", "%.0f B" % bps, "<= 1024 B", bps <= 1024)
    row("  events stream, per create entry", "%.0f B (kept: --events-max)" % res["event_bytes"])
    row("  MEMORY USAGE of one record, lock", "%s B (%s), %s B" % (
        res["record_bytes"], res["record_encoding"], res["lock_bytes"]))
    row("  create rates (items, sessions)", "%.0f/s, %.0f/s" % (res["items_per_s"], res["sessions_per_s"]))

    t.write("update-sessiond expiry bench: %d sessions, same deadline, 2 instances sweeping%s" % (
        a.sessions, a.note), [], errors, "EXPIRYRESULT", res, a.summary)


if __name__ == "__main__":
    run(main, "expiry.py")
