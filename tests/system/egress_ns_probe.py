"""tests/system/egress_ns_probe.py: the half of test_pull_egress.py that runs inside a network
namespace of its own (test_pull_egress.NamespaceEgressTest starts it with `unshare -n -m`, after
putting 10.0.0.1, 169.254.169.254 and 198.51.100.7 on the namespace's loopback and bind-mounting
its own hosts file over /etc/hosts in the namespace's private mount table).

It refuses to run if the namespace has any interface but lo, so nothing it does can leave the
machine even if the egress policy failed. It starts a Redis, two servers (A: no --pull-allow;
B: --pull-allow 10.0.0.0/8,169.254.169.254/32), and an HTTP listener on port 80 of each of the
three addresses that counts every TCP connection it accepts. Then it adds one PULL file per case
(each in a new session) and records what the add answered, how the file ended, and how many
connections each listener had accepted after the case. It prints one JSON object on stdout;
the assertions are in test_pull_egress.py.

Usage: python3 egress_ns_probe.py   (environment as for the system tests)"""

import json
import os
import socket
import socketserver
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import RedisServer, Server, UPDATE_SESSION_PATH  # noqa: E402

LISTEN_ADDRS = ("10.0.0.1", "169.254.169.254", "198.51.100.7")
BODY = b"egress probe body\n" * 64
FILE_END_WAIT_S = 20.0


class Counting(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def listener(addr):
    """An HTTP/1.0 server on addr:80 answering BODY to anything; .accepted counts connections."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.server.accepted += 1
            self.request.settimeout(5)
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                self.request.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream"
                                     b"\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY)
            except OSError:
                pass

    srv = Counting((addr, 80), Handler)
    srv.accepted = 0
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return srv


def only_loopback():
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, check=True,
                         timeout=10).stdout.decode()
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line]
    return names == ["lo"], names


def new_session(client):
    _, item = client.make_library_item()
    r = client.create_session(item)
    if r.status != 201:
        raise RuntimeError("create session: %d %r" % (r.status, r.raw[:300]))
    return r.json


def run_case(client, uri, name="f.bin"):
    """Adds one PULL file; returns (add status, add body, the file at its end or None)."""
    sid = new_session(client)
    path = UPDATE_SESSION_PATH + "/" + sid + "/file"
    r = client.post(path, {"name": name, "source_type": "PULL", "source_endpoint": {"uri": uri}})
    if r.status != 201:
        return r.status, r.json, None
    deadline = time.monotonic() + FILE_END_WAIT_S
    info = r.json
    while time.monotonic() < deadline:
        g = client.get(path + "/" + name)
        info = g.json
        if g.status == 200 and info.get("status") in ("READY", "ERROR"):
            break
        time.sleep(0.05)
    return r.status, r.json, info


def main():
    ok, names = only_loopback()
    if not ok:
        print(json.dumps({"error": "not in a namespace with only lo: %r" % names}))
        return 2
    listeners = {a: listener(a) for a in LISTEN_ADDRS}
    redis = RedisServer()
    servers = {}
    out = {"cases": [], "logs": {}}
    try:
        servers["A"] = Server(redis=redis)
        servers["B"] = Server(redis=redis,
                              args=("--pull-allow", "10.0.0.0/8,169.254.169.254/32"))
        clients = {k: s.client("admin") for k, s in servers.items()}
        cases = [
            # server A: no --pull-allow
            ("A", "literal 10.0.0.1", "http://10.0.0.1/f.bin"),
            ("A", "literal 169.254.169.254", "http://169.254.169.254/latest/meta-data/"),
            ("A", "literal [::ffff:10.0.0.1]", "http://[::ffff:10.0.0.1]/f.bin"),
            ("A", "name internal.test (10.0.0.1)", "http://internal.test/f.bin"),
            ("A", "name metadata.test (169.254.169.254)", "http://metadata.test/latest/"),
            ("A", "name mixed.test (198.51.100.7 and 10.0.0.1)", "http://mixed.test/f.bin"),
            ("A", "name public.test (198.51.100.7)", "http://public.test/f.bin"),
            ("A", "literal 198.51.100.7", "http://198.51.100.7/f.bin"),
            # server B: 10.0.0.0/8 and 169.254.169.254/32 allowed (the listeners answer)
            ("B", "literal 10.0.0.1", "http://10.0.0.1/f.bin"),
            ("B", "name metadata.test (169.254.169.254)", "http://metadata.test/latest/"),
        ]
        for server, what, uri in cases:
            status, body, info = run_case(clients[server], uri)
            out["cases"].append({
                "server": server, "what": what, "uri": uri, "add_status": status,
                "add_body": body, "file": info,
                "accepted": {a: l.accepted for a, l in listeners.items()},
            })
    except Exception as e:  # reported to the outer test with the logs
        out["error"] = "%s: %s" % (type(e).__name__, e)
    finally:
        for k, s in servers.items():
            out["logs"][k] = s.log()
            try:
                s.stop()
            except AssertionError as e:
                out.setdefault("stop_errors", []).append(str(e))
        redis.destroy()
        for l in listeners.values():
            l.shutdown()
            l.server_close()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
