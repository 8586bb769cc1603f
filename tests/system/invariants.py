"""tests/system/invariants.py: what must hold of Redis and --storage-dir once every instance has
recovered from a crash (issue 8, "Crash injection"). check() reads the keys of one --key-prefix
(store/keys.c's schema) and walks the storage directory (store/blob.h's layout), and returns the
violations it found as readable strings ([] when all hold):

  1. every published file (P {<item>}:files, JSON {name, size, checksum {algorithm, checksum},
     version, blob}) exists as items/<item>/<blob> with exactly the recorded size and checksum;
  2. no item lock (P {<item>}:lock = session id "<item>:<uuid>") names a session whose record
     P {<item>}:s:<uuid> is missing or not ACTIVE; an ACTIVE session holds its item's lock, and
     an item has at most one ACTIVE session;
  3. no session is ACTIVE with its deadline (ms) older than Redis TIME - (one sweep + slack);
  4. an ACTIVE session's READY file with bytes (PUSH/PULL, not removed) is staged as
     staging/<item>/<uuid>/<blob> with its size (and received checksum, when recorded); a
     resumable one (WAITING/TRANSFERRING with staged > 0) has <blob>.part of at least `staged`
     bytes;
  and, with janitor_ran=True (the caller waited for the janitor and the scan):
  5. no regular file under items/ that no published file record names (nor a file of the
     ACTIVE session holding the item's lock: complete links before it publishes); no file
     under staging/ that no ACTIVE session's file record names by blob (<blob> or
     <blob>.part; a removed file or one in ERROR names none: its blob went on the garbage
     list); the garbage list P garbage is empty.

grace_ok: an unreferenced file whose ctime is younger than this many seconds is not reported
(the scan leaves such files alone by design, --orphan-grace-s). Python standard library only.
"""

import hashlib
import json
import os
import re
import time

HASHES = {"SHA1": "sha1", "MD5": "md5", "SHA256": "sha256", "SHA512": "sha512"}
DEFAULT_SWEEP_MS = 250      # --sweep-interval-ms default
DEFAULT_SLACK_MS = 1000     # a sweep is jittered and takes a round trip


def _s(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return "" if v is None else str(v)


def _hash(redis, key):
    flat = redis.command("HGETALL", key) or []
    dec = [_s(x) for x in flat]
    return dict(zip(dec[0::2], dec[1::2]))


def _int(v, default=None):
    """Sizes are strings in the records (they survive cjson); older records hold numbers."""
    if v is None or v == "":
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        try:
            return int(float(v))
        except (TypeError, ValueError):
            return default


def _json(text):
    try:
        v = json.loads(text)
        return v if isinstance(v, dict) else None
    except ValueError:
        return None


def _file_digest(path, algorithm):
    h = hashlib.new(HASHES[algorithm])
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                return h.hexdigest()
            h.update(chunk)


def redis_now_ms(redis):
    sec, usec = redis.command("TIME")
    return int(_s(sec)) * 1000 + int(_s(usec)) // 1000


class _Keys:
    """The prefix's keys sorted by kind."""

    def __init__(self, redis, prefix):
        esc = re.escape(prefix)
        item_files = re.compile("^" + esc + r"\{(?P<item>[^}]*)\}:files$")
        lock = re.compile("^" + esc + r"\{(?P<item>[^}]*)\}:lock$")
        sess = re.compile("^" + esc + r"\{(?P<item>[^}]*)\}:s:(?P<uuid>[^:]+)$")
        sess_files = re.compile("^" + esc + r"\{(?P<item>[^}]*)\}:s:(?P<uuid>[^:]+):files$")
        self.item_files, self.locks, self.sessions, self.session_files = {}, {}, {}, {}
        for k in redis.keys(prefix):
            m = item_files.match(k)
            if m:
                self.item_files[m["item"]] = k
                continue
            m = lock.match(k)
            if m:
                self.locks[m["item"]] = k
                continue
            m = sess.match(k)
            if m:
                self.sessions[(m["item"], m["uuid"])] = k
                continue
            m = sess_files.match(k)
            if m:
                self.session_files[(m["item"], m["uuid"])] = k


def _check_blob(path, size, checksum, what, out):
    """The file at path has `size` bytes and, if checksum ({algorithm, checksum}) is given,
    that digest."""
    try:
        st = os.stat(path)
    except OSError as e:
        out.append("%s: %s is missing (%s)" % (what, path, e.strerror))
        return
    if not os.path.isfile(path):
        out.append("%s: %s is not a regular file" % (what, path))
        return
    if size is not None and st.st_size != size:
        out.append("%s: %s has %d bytes, the record says %d" % (what, path, st.st_size, size))
        return
    if isinstance(checksum, dict) and checksum.get("checksum"):
        alg = checksum.get("algorithm") or "SHA1"
        if alg not in HASHES:
            out.append("%s: unknown checksum algorithm %r" % (what, alg))
            return
        got = _file_digest(path, alg)
        if got != str(checksum["checksum"]).lower():
            out.append("%s: %s has %s %s, the record says %s" % (
                what, path, alg, got, checksum["checksum"]))


def _walk_files(root):
    """Regular files under root as paths relative to root ('/'-separated)."""
    out = []
    if not os.path.isdir(root):
        return out
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            if os.path.isfile(p) and not os.path.islink(p):
                out.append(os.path.relpath(p, root).replace(os.sep, "/"))
    return sorted(out)


def _young(path, grace_ok, now):
    if not grace_ok:
        return False
    try:
        return now - os.stat(path).st_ctime < grace_ok
    except OSError:
        return True   # gone meanwhile: not an orphan any more


def check(redis, prefix, storage_dir, grace_ok=0, janitor_ran=True, sweep_ms=DEFAULT_SWEEP_MS,
          slack_ms=DEFAULT_SLACK_MS):
    """Returns the list of violated invariants (strings); [] when everything holds.
    redis: a harness.RedisServer (command(), keys()); prefix: the servers' --key-prefix;
    storage_dir: their shared --storage-dir."""
    out = []
    keys = _Keys(redis, prefix)
    now_ms = redis_now_ms(redis)
    wall = time.time()

    # 1. published files are on disk, whole.
    published = {}     # item -> set of blobs its records name
    for item, key in sorted(keys.item_files.items()):
        refs = published.setdefault(item, set())
        for name, text in sorted(_hash(redis, key).items()):
            what = "published file %r of item %s" % (name, item)
            rec = _json(text)
            if rec is None:
                out.append("%s: record is not a JSON object: %r" % (what, text[:200]))
                continue
            blob = _s(rec.get("blob"))
            if not blob:
                out.append("%s: record names no blob: %r" % (what, rec))
                continue
            refs.add(blob)
            size = _int(rec.get("size"))
            if size is None:
                out.append("%s: record has no size: %r" % (what, rec))
            _check_blob(os.path.join(storage_dir, "items", item, blob), size,
                        rec.get("checksum"), what, out)

    # Sessions: state and deadline of each record.
    sessions = {}      # (item, uuid) -> record
    for iu, key in keys.sessions.items():
        sessions[iu] = _hash(redis, key)
    active = {iu: rec for iu, rec in sessions.items() if rec.get("state") == "ACTIVE"}

    # 2. locks name ACTIVE sessions; ACTIVE sessions hold their item's lock.
    lock_of = {}
    for item, key in sorted(keys.locks.items()):
        sid = _s(redis.command("GET", key))
        lock_of[item] = sid
        s_item, _, uuid = sid.rpartition(":")
        if s_item != item or not uuid:
            out.append("item %s is locked by %r, not a session of that item" % (item, sid))
            continue
        rec = sessions.get((item, uuid))
        if not rec:
            out.append("item %s is locked by session %s whose record is missing" % (item, sid))
        elif rec.get("state") != "ACTIVE":
            out.append("item %s is locked by session %s which is %s" % (
                item, sid, rec.get("state")))
    per_item = {}
    for (item, uuid) in sorted(active):
        per_item.setdefault(item, []).append(uuid)
        sid = "%s:%s" % (item, uuid)
        if lock_of.get(item) != sid:
            out.append("session %s is ACTIVE but its item's lock names %r" % (
                sid, lock_of.get(item)))
    for item, uuids in sorted(per_item.items()):
        if len(uuids) > 1:
            out.append("item %s has %d ACTIVE sessions: %s" % (item, len(uuids), uuids))

    # 3. no ACTIVE session past its deadline plus one sweep.
    for (item, uuid), rec in sorted(active.items()):
        deadline = _int(rec.get("deadline"))
        if deadline is None:
            out.append("session %s:%s is ACTIVE without a deadline: %r" % (item, uuid, rec))
        elif deadline < now_ms - (sweep_ms + slack_ms):
            out.append("session %s:%s is ACTIVE %.1f s past its deadline" % (
                item, uuid, (now_ms - deadline) / 1000.0))

    # 4. ACTIVE sessions' staged bytes exist.
    staged_refs = set()   # "<item>/<uuid>/<blob>" of ACTIVE sessions' files
    active_blobs = {}     # (item, uuid) of an ACTIVE session -> its files' blobs
    for (item, uuid) in sorted(active):
        fkey = keys.session_files.get((item, uuid))
        if fkey is None:
            continue
        for name, text in sorted(_hash(redis, fkey).items()):
            what = "file %r of ACTIVE session %s:%s" % (name, item, uuid)
            rec = _json(text)
            if rec is None:
                out.append("%s: record is not a JSON object: %r" % (what, text[:200]))
                continue
            blob = _s(rec.get("blob"))
            if not blob:
                continue
            if rec.get("removed") is True or rec.get("source_type") not in ("PUSH", "PULL"):
                continue   # a removed file's blob went on the garbage list
            status = rec.get("status")
            if status == "ERROR":
                continue   # so did a failed transfer's
            staged_refs.add("%s/%s/%s" % (item, uuid, blob))
            active_blobs.setdefault((item, uuid), set()).add(blob)
            base = os.path.join(storage_dir, "staging", item, uuid, blob)
            if status == "READY":
                _check_blob(base, _int(rec.get("size")), rec.get("received"), what, out)
            elif status in ("WAITING_FOR_TRANSFER", "TRANSFERRING"):
                staged = _int(rec.get("staged"), 0)
                if staged > 0:
                    try:
                        have = os.stat(base + ".part").st_size
                        if have < staged:
                            out.append("%s: %s.part has %d bytes, %d recorded as staged" % (
                                what, base, have, staged))
                    except OSError:
                        out.append("%s: %d bytes recorded as staged but %s.part is missing"
                                   % (what, staged, base))

    if not janitor_ran:
        return out

    # 5. nothing on disk that no record references; the garbage list drained.
    items_root = os.path.join(storage_dir, "items")
    for rel in _walk_files(items_root):
        parts = rel.split("/")
        if len(parts) == 2 and parts[1] in published.get(parts[0], ()):
            continue
        if len(parts) == 2:
            # complete links before its script publishes: a blob of the ACTIVE session that
            # holds the item's lock is not an orphan (blobs_referenced.lua keeps it too).
            l_item, _, l_uuid = lock_of.get(parts[0], "").rpartition(":")
            if l_item == parts[0] and parts[1] in active_blobs.get((l_item, l_uuid), ()):
                continue
        path = os.path.join(items_root, rel)
        if not _young(path, grace_ok, wall):
            out.append("unreferenced file items/%s" % rel)
    staging_root = os.path.join(storage_dir, "staging")
    for rel in _walk_files(staging_root):
        ref = rel[:-len(".part")] if rel.endswith(".part") else rel
        if len(ref.split("/")) == 3 and ref in staged_refs:
            continue
        path = os.path.join(staging_root, rel)
        if not _young(path, grace_ok, wall):
            out.append("unreferenced file staging/%s" % rel)
    garbage = redis.command("LRANGE", prefix + "garbage", 0, 20) or []
    if garbage:
        n = redis.command("LLEN", prefix + "garbage")
        out.append("the garbage list holds %d entries: %s" % (n, [_s(g) for g in garbage]))
    return out
