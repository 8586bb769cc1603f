"""tests/system/harness.py: what the system tests share.

Starts real processes on free loopback ports and talks to them over plain sockets:
  * RedisServer: a redis-server of our own in a temp dir (or the shared one named by
    USD_TEST_REDIS, which scripts/test.sh starts). Fault tests always use a private one:
    stop()/start() on the same port, freeze() (SIGSTOP) and thaw() (SIGCONT).
  * Server: $USD_BIN (default build/update-sessiond) with its own temp dir, users file and a
    random --key-prefix, so tests sharing one Redis never see each other's keys. stop() sends
    SIGTERM and requires exit code 0 (with ASan, a leak makes the exit code non-zero).
  * Client: http.client with vAPI session login and JSON helpers.
  * redis_command(): a minimal RESP client (for SCAN / key counts / SHUTDOWN).

Python 3 standard library only. Every socket has a timeout.

Run all (what `make test` does, after building the sanitizer build):
    USD_BIN=build/san/update-sessiond USD_SEED=build/san/usd-seed \
        python3 -m unittest discover -s tests/system -v
One class or test:  cd tests/system && python3 -m unittest test_errors.CreateSessionErrorsTest -v
Environment: USD_BIN (default build/update-sessiond), USD_SEED (default build/usd-seed),
USD_TEST_REDIS=HOST:PORT (a running Redis to share; default: start one for the run).
"""

import atexit
import base64
import datetime
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
from collections import namedtuple

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

HTTP_TIMEOUT = 10.0        # seconds, every HTTP socket
START_TIMEOUT = 10.0       # server must accept connections within this
LOGIN_BACKOFF_MAX_S = 5.0  # longest wait the server imposes after failed logins (net/login.h)
STOP_TIMEOUT = 15.0        # server must exit after SIGTERM within this

SESSION_HEADER = "vmware-api-session-id"
CLS_MSG_PREFIX = "com.vmware.vdcs.cls-main."
AUTH_REQUIRED_MSG_ID = "vapi.method.authentication.required"

UPDATE_SESSION_PATH = "/api/content/library/item/update-session"


def session_path(sid, action=None):
    """/api path of update session sid, with ?action= when given."""
    path = UPDATE_SESSION_PATH + "/" + sid
    if action is not None:
        path += "?action=" + action
    return path
ISO_Z_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$")


def _resolve(path):
    """A relative path from the environment is relative to the repository root."""
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


USD_BIN = _resolve(os.environ.get("USD_BIN", "build/update-sessiond"))
USD_SEED = _resolve(os.environ.get("USD_SEED", "build/usd-seed"))


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(fn, timeout, interval=0.05):
    """Calls fn until it returns something true or timeout seconds pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def wait_until(fn, timeout, what, interval=0.05):
    """wait_for, and an AssertionError naming `what` when fn never became true."""
    if not wait_for(fn, timeout, interval):
        raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))


def uniq(prefix):
    """A unique, readable name for a library or item."""
    return "%s-%s" % (prefix, secrets.token_hex(4))


def parse_iso(s):
    """Parses an ISO-8601 UTC time as the server writes it ("...Z") into an aware datetime."""
    if not isinstance(s, str) or not ISO_Z_RE.match(s):
        raise ValueError("not an ISO-8601 UTC time ending in Z: %r" % (s,))
    base, _, frac = s[:-1].partition(".")
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    micros = int((frac + "000000")[:6]) if frac else 0
    return dt.replace(microsecond=micros, tzinfo=datetime.timezone.utc)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _tail(path, lines=80):
    try:
        with open(path, "rb") as f:
            data = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(data[-lines:])
    except OSError as e:
        return "(no log: %s)" % e


# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------

class RedisError(Exception):
    pass


def _resp_encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a)
        if isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def _resp_read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_resp_read(f) for _ in range(n)]
    raise RedisError("bad RESP reply %r" % line)


def redis_command(port, *args, host="127.0.0.1", timeout=5.0, expect_reply=True):
    """Sends one command on a fresh connection and returns the decoded reply."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(_resp_encode(args))
        if not expect_reply:
            try:
                s.recv(1024)
            except OSError:
                pass
            return None
        with s.makefile("rb") as f:
            return _resp_read(f)


def redis_keys(port, prefix, host="127.0.0.1"):
    """All keys starting with prefix (SCAN, like `redis-cli --scan --pattern 'PREFIX*'`)."""
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
    keys, cursor = set(), "0"
    while True:
        cursor, batch = redis_command(port, "SCAN", cursor, "MATCH", pattern, "COUNT", 1000,
                                      host=host)
        cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        keys.update(k.decode("utf-8", "replace") for k in batch)
        if cursor == "0":
            return keys


class RedisServer:
    """A redis-server of our own on a loopback port, in a temp dir.

    Data survive stop()/start() (stop() is SHUTDOWN SAVE into the same dir), so a server's
    login tokens are still valid when Redis comes back. external=True wraps a Redis started
    by someone else (USD_TEST_REDIS): it can be used, but not stopped or frozen."""

    _shared = None

    def __init__(self, port=None, host="127.0.0.1", external=False):
        self.host = host
        self.port = port or free_port()
        self.external = external
        self.proc = None
        self.frozen = False
        self.dir = None if external else tempfile.mkdtemp(prefix="usd-redis-")
        if not external:
            self.start()

    @classmethod
    def shared(cls):
        """The Redis most tests share: USD_TEST_REDIS if set, else one started once."""
        if cls._shared is None:
            env = os.environ.get("USD_TEST_REDIS")
            if env:
                host, _, port = env.rpartition(":")
                cls._shared = cls(port=int(port), host=host or "127.0.0.1", external=True)
                if not cls._shared.ping():
                    raise RuntimeError("USD_TEST_REDIS=%s does not answer PING" % env)
            else:
                cls._shared = cls()
                atexit.register(cls._shared.destroy)
        return cls._shared

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    def ping(self):
        try:
            return redis_command(self.port, "PING", host=self.host, timeout=1.0) == "PONG"
        except (OSError, RedisError):
            return False

    def command(self, *args):
        return redis_command(self.port, *args, host=self.host)

    def keys(self, prefix):
        return redis_keys(self.port, prefix, host=self.host)

    def start(self, timeout=10.0):
        if self.external:
            raise RuntimeError("cannot start an external Redis")
        if self.proc is not None and self.proc.poll() is None:
            return
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", self.host,
             "--protected-mode", "yes", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--dbfilename", "dump.rdb", "--daemonize", "no"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        self.frozen = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server on port %d exited with %s:\n%s" % (
                    self.port, self.proc.returncode, _tail(os.path.join(self.dir, "redis.log"))))
            if self.ping():
                return
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait(5)
        raise RuntimeError("redis-server on port %d did not answer PING in %.0f s" % (
            self.port, timeout))

    def stop(self, timeout=10.0):
        """SHUTDOWN SAVE: the data come back with start() on the same port."""
        if self.external:
            raise RuntimeError("cannot stop an external Redis")
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.frozen:
            self.thaw()
        try:
            redis_command(self.port, "SHUTDOWN", "SAVE", host=self.host, timeout=5.0,
                          expect_reply=False)
        except OSError:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.frozen = False

    def freeze(self):
        if self.external:
            raise RuntimeError("cannot freeze an external Redis")
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
        self.frozen = False

    def destroy(self):
        if self.external:
            return
        if self.frozen:
            self.thaw()
        if self.proc is not None and self.proc.poll() is None:
            try:
                redis_command(self.port, "SHUTDOWN", "NOSAVE", host=self.host, timeout=2.0,
                              expect_reply=False)
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------

ALL_CONTENT_BUT_UPDATE_SESSION = ",".join([
    "System.Read",
    "ContentLibrary.AddLibraryItem",
    "ContentLibrary.CreateLocalLibrary",
    "ContentLibrary.CreateSubscribedLibrary",
    "ContentLibrary.DeleteLocalLibrary",
    "ContentLibrary.DeleteSubscribedLibrary",
    "ContentLibrary.DeleteLibraryItem",
    "ContentLibrary.UpdateLibraryItem",
    "ContentLibrary.UpdateLocalLibrary",
    "ContentLibrary.ReadStorage",
    "ContentLibrary.SyncLibraryItem",
    "ContentLibrary.SyncLibrary",
    "Datastore.AllocateSpace",
])

# user -> (password, privileges as written in the users file)
USERS = {
    "admin": ("admin-Pw1", "*"),
    "reader": ("reader-Pw1", "System.Read"),
    "editor": ("editor-Pw1", ALL_CONTENT_BUT_UPDATE_SESSION),
    "uploader": ("uploader-Pw1", "System.Read,ContentLibrary.UpdateSession"),
    # the owner rule (test_owner.py): another user who may open sessions, and an operator
    "other": ("other-Pw1", "System.Read,ContentLibrary.UpdateSession"),
    "operator": ("operator-Pw1", "System.Read,Sessions.TerminateSession"),
}

_hash_cache = {}


def password_hash(password):
    """SHA-512 crypt of password (openssl passwd -6 -salt xyz), cached."""
    h = _hash_cache.get(password)
    if h is None:
        out = subprocess.run(["openssl", "passwd", "-6", "-salt", "xyz", password],
                             check=True, capture_output=True, timeout=30)
        h = out.stdout.decode().strip()
        _hash_cache[password] = h
    return h


def write_users_file(path, users=None):
    users = USERS if users is None else users
    with open(path, "w") as f:
        for name, (pw, privs) in users.items():
            f.write("%s:%s:%s\n" % (name, password_hash(pw), privs))
    os.chmod(path, 0o600)


# ---------------------------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------------------------

def make_self_signed(directory, cn="127.0.0.1"):
    """A fresh self-signed P-256 certificate and its key in directory: (cert, key) paths."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=IP:" + cn,
                    "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
    return cert, key


def tls_client_context(cafile):
    """A client context that trusts exactly the test server's self-signed certificate (the
    certificate names 127.0.0.1 in its CN only, so the host name is not matched)."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


# ---------------------------------------------------------------------------------------------
# update-sessiond
# ---------------------------------------------------------------------------------------------

class Server:
    """One update-sessiond process on a free loopback port."""

    def __init__(self, redis=None, args=(), prefix=None, storage_dir=None, users=None,
                 port=None, start=True, env=None):
        self.redis = redis or RedisServer.shared()
        self.env = env  # extra environment variables (e.g. USD_FAULT), on top of ours
        self.args = list(args)
        self.prefix = prefix or "usdt-%s:" % secrets.token_hex(6)
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="usd-server-")
        self.storage_dir = storage_dir or os.path.join(self.dir, "storage")
        os.makedirs(self.storage_dir, exist_ok=True)
        self.users_file = os.path.join(self.dir, "users")
        write_users_file(self.users_file, users)
        self.log_path = os.path.join(self.dir, "server.log")
        self.proc = None
        # With --tls-cert the server speaks HTTPS: its clients trust that certificate.
        self.tls_context = None
        if "--tls-cert" in self.args:
            self.tls_context = tls_client_context(self.args[self.args.index("--tls-cert") + 1])
        if start:
            self.start()

    @property
    def url(self):
        return "%s://127.0.0.1:%d" % ("https" if self.tls_context else "http", self.port)

    def command_line(self):
        return [USD_BIN,
                "--listen", "127.0.0.1:%d" % self.port,
                "--redis", self.redis.address,
                "--storage-dir", self.storage_dir,
                "--users-file", self.users_file,
                "--key-prefix", self.prefix,
                # stop() sends SIGTERM: stop at once (tests of the drain pass their own)
                "--drain-ms", "0"] + self.args

    def start(self, timeout=START_TIMEOUT):
        if not os.access(USD_BIN, os.X_OK):
            raise RuntimeError("server binary %s is missing (build it first)" % USD_BIN)
        log = open(self.log_path, "ab")
        env = dict(os.environ, **self.env) if self.env else None
        self.proc = subprocess.Popen(self.command_line(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=ROOT, env=env)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError("update-sessiond exited with %d during start-up:\n%s" % (
                    rc, self.log()))
            if port_open(self.port):
                return self
            time.sleep(0.05)
        self.kill9()
        raise RuntimeError("update-sessiond did not accept connections on port %d in %.0f s:\n%s"
                           % (self.port, timeout, self.log()))

    def log(self):
        return _tail(self.log_path)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, check=True, cleanup=True):
        """SIGTERM; the process must exit 0 within STOP_TIMEOUT (ASan leak reports fail it).
        cleanup=False keeps the temp dir (users file, storage, log) for a start() again."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("update-sessiond did not exit within %.0f s of SIGTERM:\n%s"
                                     % (STOP_TIMEOUT, self.log()))
        rc = self.proc.returncode
        self.proc = None
        if check and rc != 0:
            raise AssertionError("update-sessiond exited with %d (want 0):\n%s" % (rc, self.log()))
        if cleanup:
            shutil.rmtree(self.dir, ignore_errors=True)
        return rc

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.proc = None

    def cleanup(self):
        """Removes the temp dir (kept after a failed stop() for the log)."""
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self, user=None):
        c = Client(self.port, context=self.tls_context)
        if user is not None:
            c.login(user, USERS[user][0])
        return c

    def await_login(self, user="admin", timeout=LOGIN_BACKOFF_MAX_S + 3.0):
        """For a test that sent failed logins for user: logs in with the right password,
        retrying while the login backoff (net/login.c: after a failure the same user and
        client IP are refused with 401 for a growing delay) still refuses it. The success
        ends the backoff, so the tests that follow log in as usual. Returns the Client."""
        deadline = time.monotonic() + timeout
        while True:
            c = Client(self.port)
            try:
                c.login(user, USERS[user][0])
                return c
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.1)

    def keys(self):
        return self.redis.keys(self.prefix)

    def seed_subscribed_item(self, library_name=None, item_name=None):
        return seed_subscribed_item(self.redis, self.prefix, library_name or uniq("sublib"),
                                    item_name or uniq("subitem"))


def seed_subscribed_item(redis, prefix, library_name, item_name):
    """Runs usd-seed to put an item of a SUBSCRIBED library straight into Redis.
    Its stdout names the library id and the item id, in that order."""
    if not os.access(USD_SEED, os.X_OK):
        raise RuntimeError("seed tool %s is missing (build it first)" % USD_SEED)
    out = subprocess.run([USD_SEED, "--redis", redis.address, "--prefix", prefix,
                          "subscribed-item", library_name, item_name],
                         capture_output=True, timeout=30, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError("usd-seed failed (%d): %s%s" % (
            out.returncode, out.stdout.decode("utf-8", "replace"),
            out.stderr.decode("utf-8", "replace")))
    words = [w.partition("=")[2] if "=" in w else w
             for w in out.stdout.decode().split()]
    words = [w for w in words if w]
    if len(words) < 2:
        raise RuntimeError("usd-seed printed %r, want '<library id> <item id>'" % out.stdout)
    return words[0], words[1]


# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

Response = namedtuple("Response", "status json raw headers")


def _parse_json(raw):
    if not raw:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def basic_auth(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


class Client:
    """HTTP+JSON client for one server. Each request uses a fresh connection, unless
    keep_alive: then one connection is kept between requests, as a careful HTTP client keeps
    it: closed when the server says "Connection: close", or after an error, or when it has been
    idle for more than keep_alive seconds (so the client gives it up before the server side,
    e.g. haproxy's `timeout http-keep-alive`, closes it under a request). Nothing is retried:
    a request that fails raises (OSError, http.client.HTTPException)."""

    def __init__(self, port, token=None, host="127.0.0.1", timeout=HTTP_TIMEOUT, context=None,
                 keep_alive=None):
        self.host = host
        self.port = port.port if isinstance(port, Server) else port
        self.token = token
        self.timeout = timeout
        self.context = context  # an ssl.SSLContext: HTTPS
        self.keep_alive = keep_alive  # seconds a kept connection may idle, or None
        self._conn = None
        self._idle_since = 0.0

    def _connection(self):
        """The kept connection if it may still be used, else a new one."""
        conn, self._conn = self._conn, None
        if conn is not None and time.monotonic() - self._idle_since <= self.keep_alive:
            return conn
        if conn is not None:
            conn.close()
        if self.context is not None:
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=self.context)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method, path, body=None, headers=None, auth=True):
        """Returns Response(status, parsed JSON or None, raw bytes, headers).
        body: bytes/str are sent as they are, anything else as JSON."""
        hdrs = {"Accept": "application/json"}
        data = None
        if body is not None:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if auth and self.token is not None:
            hdrs[SESSION_HEADER] = self.token
        if headers:
            hdrs.update(headers)
        conn = self._connection()
        keep = False
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            keep = self.keep_alive is not None and not resp.will_close
            return Response(resp.status, _parse_json(raw), raw, resp.headers)
        finally:
            if keep:
                self._conn, self._idle_since = conn, time.monotonic()
            else:
                conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def login(self, user, password):
        """POST /api/session with Basic auth: 201 and a JSON string token."""
        r = self.request("POST", "/api/session", auth=False,
                         headers={"Authorization": basic_auth(user, password)})
        if r.status != 201 or not isinstance(r.json, str) or not r.json:
            raise AssertionError("login as %s: want 201 and a JSON string token, got %d %r"
                                 % (user, r.status, r.raw[:300]))
        self.token = r.json
        return self.token

    # -- resources ----------------------------------------------------------------------------

    def make_library(self, name=None):
        name = name or uniq("lib")
        r = self.post("/api/content/local-library", {
            "name": name,
            "storage_backings": [{"type": "OTHER", "storage_uri": "file:///tmp"}]})
        if r.status != 201 or not isinstance(r.json, str):
            raise AssertionError("create local library %s: %d %r" % (name, r.status, r.raw[:300]))
        return r.json

    def make_item(self, library_id, name=None):
        name = name or uniq("item")
        r = self.post("/api/content/library/item",
                      {"library_id": library_id, "name": name, "type": ""})
        if r.status != 201 or not isinstance(r.json, str):
            raise AssertionError("create item %s: %d %r" % (name, r.status, r.raw[:300]))
        return r.json

    def make_library_item(self):
        """A fresh item in a fresh local library: (library id, item id)."""
        lib = self.make_library()
        return lib, self.make_item(lib)

    def create_session(self, item_id, extra=None, client_token=None, headers=None):
        """POST update-session; returns the Response (the caller checks it)."""
        spec = {"library_item_id": item_id}
        if extra:
            spec.update(extra)
        path = UPDATE_SESSION_PATH
        if client_token is not None:
            path += "?client_token=" + client_token
        return self.post(path, spec, headers=headers)

    def list_sessions(self, item_id=None):
        path = UPDATE_SESSION_PATH
        if item_id is not None:
            path += "?library_item_id=" + item_id
        return self.get(path)


def make_library(client, name=None):
    return client.make_library(name)


def make_item(client, library_id, name=None):
    return client.make_item(library_id, name)


def raw_request(port, data, timeout=HTTP_TIMEOUT, host="127.0.0.1"):
    """Sends raw bytes on a fresh connection and reads one response.
    Returns Response; a server that answers early and closes is fine (the client keeps
    reading what arrived)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse before reading everything; read its answer anyway
        resp = http.client.HTTPResponse(s, method="POST")
        resp.begin()
        try:
            raw = resp.read()
        except (http.client.IncompleteRead, ConnectionResetError) as e:
            raw = getattr(e, "partial", b"")
        return Response(resp.status, _parse_json(raw), raw, resp.headers)
    finally:
        s.close()


# ---------------------------------------------------------------------------------------------
# Test bases
# ---------------------------------------------------------------------------------------------

class ApiTestCase(unittest.TestCase):
    """Assertions on vAPI /api responses."""

    maxDiff = 4000

    def assertStatus(self, r, status, what=""):
        self.assertEqual(r.status, status, "%s: want %d, got %d %r" % (
            what or "status", status, r.status, r.raw[:500]))

    def assertApiError(self, r, status, error_type, mentions=(), id_prefix=None, what=""):
        """status, {"error_type": error_type, "messages": [{id, default_message, args}...]};
        each of `mentions` must occur in the first message's default_message."""
        ctx = "%s: %d %r" % (what or "error response", r.status, r.raw[:600])
        self.assertEqual(r.status, status, ctx)
        self.assertIsInstance(r.json, dict, "error body is not a JSON object; " + ctx)
        if isinstance(error_type, (tuple, list, set)):
            self.assertIn(r.json.get("error_type"), error_type, ctx)
        else:
            self.assertEqual(r.json.get("error_type"), error_type, ctx)
        msgs = r.json.get("messages")
        self.assertIsInstance(msgs, list, ctx)
        self.assertGreaterEqual(len(msgs), 1, ctx)
        for m in msgs:
            self.assertIsInstance(m, dict, ctx)
            self.assertIsInstance(m.get("id"), str, ctx)
            self.assertTrue(m["id"], ctx)
            self.assertIsInstance(m.get("default_message"), str, ctx)
            self.assertTrue(m["default_message"], ctx)
            self.assertIsInstance(m.get("args"), list, "args must always be present; " + ctx)
            for a in m["args"]:
                self.assertIsInstance(a, str, ctx)
        for word in mentions:
            self.assertIn(word, msgs[0]["default_message"],
                          "default_message should name %r; %s" % (word, ctx))
        if id_prefix is not None:
            self.assertTrue(msgs[0]["id"].startswith(id_prefix),
                            "message id should start with %r; %s" % (id_prefix, ctx))
        return r.json

    def assertIsoTime(self, value, what="time"):
        try:
            return parse_iso(value)
        except ValueError as e:
            self.fail("%s: %s" % (what, e))

    def assertJsonContentType(self, r):
        ctype = r.headers.get("Content-Type", "")
        self.assertTrue(ctype.startswith("application/json"),
                        "Content-Type %r is not application/json" % ctype)

    def get_session(self, client, sid, what="get session"):
        r = client.get(session_path(sid))
        self.assertStatus(r, 200, what)
        self.assertIsInstance(r.json, dict, r.raw[:300])
        return r.json

    def expiration(self, session):
        return self.assertIsoTime(session.get("expiration_time"), "expiration_time")

    def wait_expired(self, client, sid, exp, limit, what="session", poll_s=0.1):
        """Polls GET every poll_s until the session reads ERROR. Each answer before that must
        be 200 ACTIVE; ERROR must not be seen before exp (the answer arrived after exp) and
        must be seen by a request sent no later than limit. Returns the expired session."""
        while True:
            t0 = utcnow()
            r = client.get(session_path(sid))
            t1 = utcnow()
            self.assertStatus(r, 200, "%s: get while waiting for expiry" % what)
            s = r.json
            self.assertIsInstance(s, dict, r.raw[:300])
            state = s.get("state")
            if state == "ERROR":
                self.assertGreater(t1, exp, "%s: ERROR before its expiration_time %s: %r"
                                   % (what, exp.isoformat(), s))
                self.assertLessEqual(t0, limit, "%s: ERROR seen only at %s, limit %s"
                                     % (what, t0.isoformat(), limit.isoformat()))
                self.assertExpiredMessage(s)
                return s
            self.assertEqual(state, "ACTIVE", "%s: %r" % (what, s))
            if t0 > limit:
                self.fail("%s: still ACTIVE at %s, after the limit %s (expiration_time %s): %r"
                          % (what, t0.isoformat(), limit.isoformat(), exp.isoformat(), s))
            time.sleep(poll_s)

    def assertExpiredMessage(self, session):
        self.assertEqual(session.get("state"), "ERROR", session)
        em = session.get("error_message")
        self.assertIsInstance(em, dict, "an expired session carries error_message: %r" % session)
        self.assertIsInstance(em.get("default_message"), str, session)
        self.assertIn("expired", em["default_message"], session)
        self.assertIsInstance(em.get("id"), str, session)
        self.assertTrue(em["id"].startswith(CLS_MSG_PREFIX), session)


class ServerTestCase(ApiTestCase):
    """Starts one server (on the shared Redis) for the class; `server_args` adds flags.
    With `tls = True` it speaks HTTPS with a self-signed certificate made for the class
    (cls.cert, cls.key; its clients trust it). tearDownClass stops it and requires exit code 0."""

    server_args = ()
    server = None
    tls = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        args = tuple(cls.server_args)
        cls.tls_dir = None
        if cls.tls:
            cls.tls_dir = tempfile.mkdtemp(prefix="usd-tls-")
            cls.cert, cls.key = make_self_signed(cls.tls_dir)
            args = ("--tls-cert", cls.cert, "--tls-key", cls.key) + args
        try:
            cls.server = Server(args=args)
            cls.admin = cls.server.client("admin")
        except BaseException:
            if cls.server is not None:
                cls.server.kill9()
            cls._remove_tls_dir()
            raise

    @classmethod
    def _remove_tls_dir(cls):
        if cls.tls_dir:
            shutil.rmtree(cls.tls_dir, ignore_errors=True)
        cls.tls_dir = None

    @classmethod
    def tearDownClass(cls):
        srv, cls.server = cls.server, None
        try:
            if srv is not None:
                srv.stop()
        finally:
            cls._remove_tls_dir()
            super().tearDownClass()
