"""Connection caps (issue 9, item 6): at --max-connections with idle keep-alive connections
held, a new client is served (the longest-idle connection is closed to make room); with every
connection busy (slow uploads in progress) a new client gets 503 SERVICE_UNAVAILABLE with
Retry-After and a clean close, never a bare reset. --max-connections-per-client caps one
client address (503 likewise) without touching other addresses' connections."""

import http.client
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ServerTestCase  # noqa: E402
from test_files import FilesCase, OpenUpload, push_spec  # noqa: E402

WAIT_S = 5.0


def keepalive_get(conn):
    """One GET /api/session on a kept-alive http.client connection (401: not logged in)."""
    conn.request("GET", "/api/session")
    r = conn.getresponse()
    r.read()
    return r.status


def closed_by_server(sock, timeout=WAIT_S):
    """Has the server closed this idle socket (EOF, or reset) within timeout?"""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def busy_answer(port, source="127.0.0.1", send_request=True):
    """Connects (from `source`), sends a request, reads the answer: (status, headers, body,
    how the connection ended: 'eof' or 'reset')."""
    s = socket.create_connection(("127.0.0.1", port), timeout=WAIT_S,
                                 source_address=(source, 0))
    try:
        if send_request:
            s.sendall(b"GET /api/session HTTP/1.1\r\nHost: t\r\n\r\n")
        got = b""
        end = None
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                end = "reset"
                break
            if not chunk:
                end = "eof"
                break
            got += chunk
        head, _, body = got.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers, body, end
    finally:
        s.close()


class GlobalCapTest(FilesCase, ServerTestCase):
    server_args = ("--max-connections", "4")

    def settle(self):
        """Lets the server notice the short connections of earlier steps close."""
        time.sleep(0.3)

    def test_idle_connection_makes_room(self):
        self.settle()
        conns = [http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=WAIT_S)
                 for _ in range(4)]
        try:
            for c in conns:
                self.assertEqual(keepalive_get(c), 401)
                time.sleep(0.02)
            # Use all but the first again: the first is now the longest idle.
            for c in conns[1:]:
                self.assertEqual(keepalive_get(c), 401)
            fifth = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=WAIT_S)
            t0 = time.monotonic()
            self.assertEqual(keepalive_get(fifth), 401, "the fifth client is served")
            print("\n  fifth client served in %.1f ms with 4 idle connections held"
                  % ((time.monotonic() - t0) * 1000))
            self.assertTrue(closed_by_server(conns[0].sock), "the longest-idle one was closed")
            for c in conns[1:]:
                self.assertEqual(keepalive_get(c), 401, "the others stay open")
            fifth.close()
        finally:
            for c in conns:
                c.close()

    def test_busy_connections_get_503(self):
        _, sid = self.new_session(self.admin)
        uploads = []
        self.settle()
        try:
            for i in range(4):
                info = self.add(self.admin, sid, push_spec("slow%d.bin" % i, size=1000))
                u = OpenUpload(info["upload_endpoint"]["uri"], 1000)
                u.send(b"x" * 100)
                uploads.append(u)
            time.sleep(0.3)
            for send_request in (True, False):
                status, headers, body, end = busy_answer(self.server.port,
                                                         send_request=send_request)
                print("\n  with 4 slow uploads in progress: %d, Retry-After %s, then %s"
                      % (status, headers.get("retry-after"), end))
                self.assertEqual(status, 503, body[:300])
                self.assertEqual(headers.get("retry-after"), "1")
                self.assertEqual(headers.get("connection"), "close")
                self.assertEqual(json.loads(body)["error_type"], "SERVICE_UNAVAILABLE")
                self.assertEqual(end, "eof", "closed cleanly, not reset")
            # The uploads were not disturbed.
            for u in uploads:
                u.send(b"y" * 900)
                r = u.finish()
                self.assertEqual(r.status, 200, r.raw[:300])
        finally:
            for u in uploads:
                u.close()
        time.sleep(0.3)
        again = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=WAIT_S)
        try:
            self.assertEqual(keepalive_get(again), 401, "served again once the uploads ended")
        finally:
            again.close()


class PerClientCapTest(ServerTestCase):
    server_args = ("--max-connections-per-client", "3")

    def test_per_client_cap(self):
        time.sleep(0.3)
        conns = [http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=WAIT_S)
                 for _ in range(3)]
        try:
            for c in conns:
                self.assertEqual(keepalive_get(c), 401)
            status, headers, body, end = busy_answer(self.server.port)
            print("\n  4th connection from 127.0.0.1: %d, Retry-After %s, then %s"
                  % (status, headers.get("retry-after"), end))
            self.assertEqual(status, 503, body[:300])
            self.assertEqual(headers.get("retry-after"), "1")
            self.assertEqual(end, "eof")
            # Another address is its own client.
            other = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=WAIT_S,
                                               source_address=("127.0.0.2", 0))
            self.assertEqual(keepalive_get(other), 401, "127.0.0.2 is served")
            other.close()
            # Nothing of the first client's was closed to make room.
            for c in conns:
                self.assertEqual(keepalive_get(c), 401)
            conns[0].close()
            time.sleep(0.3)
            again = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=WAIT_S)
            self.assertEqual(keepalive_get(again), 401, "room again after one closed")
            again.close()
        finally:
            for c in conns:
                c.close()


if __name__ == "__main__":
    import unittest
    unittest.main()
