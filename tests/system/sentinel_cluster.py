"""tests/system/sentinel_cluster.py: a Redis primary, its replicas and three Sentinels on free
loopback ports, and CreateLoop (a thread creating items and update sessions on one instance,
recording every answer), for tests/system/test_sentinel.py and tests/bench/wait.py (Python 3
stdlib).

Debian's redis-server doubles as the sentinel (`redis-server FILE --sentinel`). Start order
matters: the replicas are linked to the primary before the sentinels start, so the sentinels'
first INFO of the primary already lists them (they ask only every 10 s afterwards); ready()
then waits until every sentinel knows every replica and the other sentinels (hello messages,
every 2 s), which a failover needs (quorum 2, and a majority to elect a leader).

Timing knobs (defaults suit tests): down-after-milliseconds 1000 (a dead primary is
subjectively down after 1 s), failover-timeout 2000 (a failed election is retried by the same
sentinel after 2 x that), parallel-syncs = replicas (every replica is re-pointed at once)."""

import os
import shutil
import subprocess
import tempfile
import threading
import time

from harness import RedisError, RedisServer, _tail, free_port, redis_command, uniq

MASTER = "usdmaster"
ITEM_PATH = "/api/content/library/item"


def _info(port, section="replication"):
    """INFO section as a dict of str -> str."""
    raw = redis_command(port, "INFO", section, timeout=2.0)
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    out = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def _pairs(reply):
    """A RESP flat list [k1, v1, k2, v2, ...] as a dict of str -> str."""
    it = [x.decode() if isinstance(x, bytes) else str(x) for x in reply]
    return dict(zip(it[0::2], it[1::2]))


class Sentinel:
    """One `redis-server FILE --sentinel` monitoring MASTER at primary_port."""

    def __init__(self, primary_port, quorum=2, down_after_ms=1000, failover_timeout_ms=2000,
                 parallel_syncs=1):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="usd-sentinel-")
        self.conf = os.path.join(self.dir, "sentinel.conf")
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n" % (self.port, self.dir))
            f.write("sentinel monitor %s 127.0.0.1 %d %d\n" % (MASTER, primary_port, quorum))
            f.write("sentinel down-after-milliseconds %s %d\n" % (MASTER, down_after_ms))
            f.write("sentinel failover-timeout %s %d\n" % (MASTER, failover_timeout_ms))
            f.write("sentinel parallel-syncs %s %d\n" % (MASTER, parallel_syncs))
        self.log_path = os.path.join(self.dir, "sentinel.log")
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["redis-server", self.conf, "--sentinel"], stdout=log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("sentinel on port %d exited:\n%s" % (self.port,
                                                                       _tail(self.log_path)))
            try:
                if redis_command(self.port, "PING", timeout=1.0) == "PONG":
                    return
            except (OSError, RedisError):
                pass
            time.sleep(0.05)
        self.destroy()
        raise RuntimeError("sentinel on port %d did not answer PING" % self.port)

    def command(self, *args):
        return redis_command(self.port, *args, timeout=3.0)

    def master_state(self):
        return _pairs(self.command("SENTINEL", "MASTER", MASTER))

    def master_addr(self):
        r = self.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER)
        return None if r is None else (r[0].decode(), int(r[1]))

    def destroy(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)


class SentinelCluster:
    """A primary, `replicas` replicas (REPLICAOF the primary), `chained` replicas of the first
    replica, and `sentinels` sentinels. url is the --redis value for update-sessiond; redis[i]
    are the data nodes (RedisServer; redis[0] the first primary, then the direct replicas, then
    the chained ones).

    A chained replica is not the primary's replica: WAIT on the primary does not count it, and
    Sentinel (which learns replicas from the primary's INFO) cannot promote it. So with one
    direct replica and one chained, WAIT 1 means "on the one replica Sentinel can promote",
    and that replica, once promoted, already has a replica to acknowledge the next WAIT."""

    def __init__(self, replicas=1, chained=0, sentinels=3, quorum=2, down_after_ms=1000,
                 failover_timeout_ms=2000):
        self.redis = []
        self.sentinels = []
        self.direct = replicas
        try:
            self.redis.append(RedisServer())
            for i in range(replicas + chained):
                self.redis.append(RedisServer())
            for r in self.redis:  # full syncs at once, not after Redis 7's default 5 s
                r.command("CONFIG", "SET", "repl-diskless-sync-delay", "0")
            for i, r in enumerate(self.redis[1:]):
                upstream = self.redis[0] if i < replicas else self.redis[1]
                r.command("REPLICAOF", "127.0.0.1", str(upstream.port))
            self.wait_linked(self.redis[1:replicas + 1], self.redis[0])
            self.wait_linked(self.redis[replicas + 1:], self.redis[1])
            for _ in range(sentinels):
                self.sentinels.append(Sentinel(self.redis[0].port, quorum, down_after_ms,
                                               failover_timeout_ms, max(1, replicas + chained)))
            self.ready()
        except BaseException:
            self.destroy()
            raise

    @property
    def url(self):
        return "sentinel://%s/%s" % (",".join("127.0.0.1:%d" % s.port for s in self.sentinels),
                                     MASTER)

    def by_port(self, port):
        return next(r for r in self.redis if r.port == port)

    def primary(self):
        """The node the sentinels name now (a RedisServer)."""
        for s in self.sentinels:
            try:
                addr = s.master_addr()
            except (OSError, RedisError):
                continue
            if addr:
                return self.by_port(addr[1])
        raise RuntimeError("no sentinel names the primary")

    @staticmethod
    def wait_linked(replicas, primary, timeout=10.0):
        """Until every replica's link to primary is up."""
        deadline = time.monotonic() + timeout
        for r in replicas:
            while True:
                info = _info(r.port)
                if (info.get("master_link_status") == "up"
                        and info.get("master_port") == str(primary.port)):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("replica %d not linked to %d: %r" % (r.port, primary.port,
                                                                            info))
                time.sleep(0.05)

    def ready(self, timeout=20.0):
        """Until every sentinel knows the primary, every live replica and the other sentinels,
        and sees the primary up."""
        want_replicas = self.direct
        deadline = time.monotonic() + timeout
        while True:
            ok, last = True, None
            for s in self.sentinels:
                st = s.master_state()
                last = st
                flags = st.get("flags", "")
                if (int(st.get("num-slaves", 0)) < want_replicas
                        or int(st.get("num-other-sentinels", 0)) < len(self.sentinels) - 1
                        or "s_down" in flags or "o_down" in flags
                        or "failover_in_progress" in flags):
                    ok = False
                    break
            if ok:
                return
            if time.monotonic() > deadline:
                raise RuntimeError("sentinels not ready in %.0f s: %r" % (timeout, last))
            time.sleep(0.1)

    def wait_synced(self, timeout=10.0):
        """Until every replica linked to the current primary has its whole replication stream
        (so what was written before is on every direct replica)."""
        primary = self.primary()
        deadline = time.monotonic() + timeout
        while True:
            info = _info(primary.port)
            offset = int(info.get("master_repl_offset", 0))
            slaves = [v for k, v in info.items() if k.startswith("slave") and "offset=" in v]
            if slaves and all(int(dict(kv.split("=") for kv in v.split(","))["offset"]) >= offset
                              for v in slaves):
                return
            if time.monotonic() > deadline:
                raise RuntimeError("replicas not in sync in %.0f s: %r" % (timeout, info))
            time.sleep(0.02)

    def destroy(self):
        for s in self.sentinels:
            s.destroy()
        for r in self.redis:
            r.kill9()
            r.destroy()
        self.sentinels, self.redis = [], []


class CreateLoop:
    """Creates an item then an update session on it, again and again, on one instance, in a
    thread; records (t_start, t_end, what, status, id) per request."""

    def __init__(self, server, client, library):
        self.server = server
        self.client = client
        self.library = library
        self.records = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                r = self.client.post(ITEM_PATH, {"library_id": self.library, "name": uniq("fo"),
                                                 "type": ""})
                status, body = r.status, r.json
            except OSError as e:
                status, body = "error: %s" % e, None
            t1 = time.monotonic()
            self.records.append((t0, t1, "item", status, body if status == 201 else None))
            if status != 201:
                time.sleep(0.02)
                continue
            t0 = time.monotonic()
            try:
                r = self.client.create_session(body)
                status, sid = r.status, r.json
            except OSError as e:
                status, sid = "error: %s" % e, None
            self.records.append((t0, time.monotonic(), "session", status,
                                 sid if status == 201 else None))

    def created(self, what):
        return [rec[4] for rec in self.records if rec[2] == what and rec[3] == 201]

    def first_201_after(self, t):
        """End time of the first 201 to a request sent after t, or None."""
        ends = [rec[1] for rec in self.records if rec[3] == 201 and rec[0] >= t]
        return min(ends) if ends else None

    def statuses(self):
        out = {}
        for rec in self.records:
            out[rec[3]] = out.get(rec[3], 0) + 1
        return out

    def timeline(self, t_ref, step=0.5):
        """Answers per `step` seconds around t_ref (for failure messages)."""
        buckets = {}
        for rec in self.records:
            b = buckets.setdefault(int((rec[1] - t_ref) // step), {})
            b[rec[3]] = b.get(rec[3], 0) + 1
        return " ".join("%+.1f:%s" % (k * step, ",".join("%sx%d" % kv for kv in v.items()))
                        for k, v in sorted(buckets.items()))
