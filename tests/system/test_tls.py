"""HTTPS (--tls-cert/--tls-key, issue 9): a self-signed P-256 certificate made by openssl for
the run; Python's ssl module verifies the server against it. End to end over TLS: login,
library, item, update session, a PUSH file whose upload URI defaults to https://, a 1 MiB PUT
and a 24 MiB PUT (streamed through the TLS bufferevent with the upload's backpressure), the
declared-size limit, complete, the published files. Refused: a TLS 1.1 ClientHello (answered
with a protocol_version alert, where the same hello as TLS 1.2 gets a ServerHello), plain HTTP
on the TLS port (closed at once). Start-up: only one of the two flags -> exit 2; an unreadable
file or a key that is not the certificate's -> exit 1 with the reason."""

import hashlib
import http.client
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (USD_BIN, USERS, ApiTestCase, RedisServer, ServerTestCase,  # noqa: E402
                     basic_auth, make_self_signed)

MIB = 1 << 20
UPDATE = "/api/content/library/item/update-session"


class TlsCase(ServerTestCase):
    """A server speaking HTTPS with a certificate made for the class."""

    tls = True

    def https(self, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=timeout,
                                           context=self.server.tls_context)

    def put(self, uri, chunks, length):
        """Streams chunks to an upload URI over TLS; returns (status, body)."""
        u = urllib.parse.urlsplit(uri)
        self.assertEqual(u.scheme, "https", uri)
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=60,
                                           context=self.server.tls_context)
        try:
            conn.putrequest("PUT", u.path)
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(length))
            conn.endheaders()
            try:
                for c in chunks:
                    conn.send(c)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # refused mid-body: read the answer
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()


class TlsEndToEndTest(TlsCase):

    def test_login_create_upload_complete(self):
        c = self.admin
        self.assertIsNotNone(c.context)
        lib, item = c.make_library_item()
        r = c.create_session(item)
        self.assertEqual(r.status, 201, r.raw[:300])
        sid = r.json
        small = os.urandom(MIB)
        r = c.post("%s/%s/file" % (UPDATE, sid), {
            "name": "one.bin", "source_type": "PUSH", "size": len(small),
            "checksum_info": {"algorithm": "SHA1", "checksum": hashlib.sha1(small).hexdigest()}})
        self.assertEqual(r.status, 201, r.raw[:300])
        uri = r.json["upload_endpoint"]["uri"]
        self.assertTrue(uri.startswith("https://127.0.0.1:%d/cls/data/" % self.server.port), uri)
        t0 = time.monotonic()
        status, body = self.put(uri, [small[i:i + 65536] for i in range(0, MIB, 65536)], MIB)
        self.assertEqual(status, 200, body[:300])
        print("\n  1 MiB PUT over TLS: %.1f ms" % ((time.monotonic() - t0) * 1000))

        # A bigger one, sent faster than the server writes: backpressure through TLS.
        big_len = 24 * MIB
        block = os.urandom(MIB)
        sha = hashlib.sha1()
        for _ in range(24):
            sha.update(block)
        r = c.post("%s/%s/file" % (UPDATE, sid), {
            "name": "big.bin", "source_type": "PUSH", "size": big_len,
            "checksum_info": {"algorithm": "SHA1", "checksum": sha.hexdigest()}})
        self.assertEqual(r.status, 201, r.raw[:300])
        t0 = time.monotonic()
        status, body = self.put(r.json["upload_endpoint"]["uri"], (block for _ in range(24)),
                                big_len)
        took = time.monotonic() - t0
        self.assertEqual(status, 200, body[:300])
        print("  24 MiB PUT over TLS: %.2f s (%.1f MiB/s)" % (took, 24 / took))

        # The declared size is enforced over TLS as over HTTP.
        r = c.post("%s/%s/file" % (UPDATE, sid), {"name": "small.bin", "source_type": "PUSH",
                                                   "size": 1000})
        self.assertEqual(r.status, 201, r.raw[:300])
        status, body = self.put(r.json["upload_endpoint"]["uri"], [b"z" * 4096], 4096)
        self.assertEqual(status, 400, body[:300])
        self.assertIn(b"file_size_mismatch", body)
        r = c.delete("%s/%s/file/small.bin" % (UPDATE, sid))
        self.assertEqual(r.status, 204, r.raw[:300])

        r = c.post("%s/%s?action=complete" % (UPDATE, sid))
        self.assertEqual(r.status, 204, r.raw[:300])
        r = c.get("/api/content/library/item/%s/file" % item)
        self.assertEqual(r.status, 200, r.raw[:300])
        sizes = {f["name"]: f["size"] for f in r.json}
        self.assertEqual(sizes, {"one.bin": MIB, "big.bin": big_len})

    def test_json_body_limit_and_keepalive(self):
        conn = self.https()
        try:
            for _ in range(3):  # several requests on one TLS connection
                conn.request("GET", "/api/session",
                             headers={"vmware-api-session-id": self.admin.token})
                r = conn.getresponse()
                self.assertEqual(r.status, 200, r.read()[:300])
                r.read()
            # The 413 is decided from Content-Length before any body byte is read, and the
            # connection closes after it: send the head only, so the client's own write of a
            # body the server will never read cannot race the answer (an EOF in the middle of
            # a TLS write).
            conn.putrequest("POST", "/api/content/local-library")
            conn.putheader("Content-Type", "application/json")
            conn.putheader("vmware-api-session-id", self.admin.token)
            conn.putheader("Content-Length", str(2 * MIB))
            conn.endheaders()
            r = conn.getresponse()
            self.assertEqual(r.status, 413)
        finally:
            conn.close()

    def test_rest_cookie_is_secure(self):
        conn = self.https()
        try:
            conn.request("POST", "/rest/com/vmware/cis/session",
                         headers={"Authorization": basic_auth("admin", USERS["admin"][0])})
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            cookie = r.getheader("Set-Cookie")
            self.assertIsNotNone(cookie)
            attrs = [a.strip().lower() for a in cookie.split(";")]
            for want in ("httponly", "samesite=strict", "path=/", "secure"):
                self.assertIn(want, attrs, cookie)
        finally:
            conn.close()


def client_hello(version, ciphers):
    """A minimal ClientHello record (no supported_versions: `version` is all it offers)."""
    exts = (b"\x00\x0a\x00\x04\x00\x02\x00\x17"            # supported_groups: P-256
            b"\x00\x0b\x00\x02\x01\x00"                    # ec_point_formats
            b"\x00\x0d\x00\x04\x00\x02\x04\x03")           # signature_algorithms: ECDSA-SHA256
    body = (version + os.urandom(32) + b"\x00" + len(ciphers).to_bytes(2, "big") + ciphers +
            b"\x01\x00" + len(exts).to_bytes(2, "big") + exts)
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + len(hs).to_bytes(2, "big") + hs


def first_record(port, data):
    """Sends data; returns the first bytes the server answers with (b"" if it just closes)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(data)
        try:
            return s.recv(5)
        except ConnectionResetError:
            return b""
    finally:
        s.close()


class TlsRefusalTest(TlsCase):

    def test_tls11_refused(self):
        # ECDHE-ECDSA-AES128-SHA, ECDHE-ECDSA-AES256-SHA: TLS 1.0/1.1 suites.
        old = first_record(self.server.port, client_hello(b"\x03\x02", b"\xc0\x09\xc0\x0a"))
        self.assertTrue(old, "no answer at all")
        self.assertEqual(old[0], 0x15, "TLS 1.1 must get an alert, got %r" % old)
        # The same hello as TLS 1.2 with a GCM suite gets a ServerHello: the probe can tell.
        new = first_record(self.server.port, client_hello(b"\x03\x03", b"\xc0\x2b\xc0\x09"))
        self.assertEqual(new[:1], b"\x16", "TLS 1.2 must get a handshake, got %r" % new)
        # Python's own client, held to TLS 1.1, fails the handshake.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError):
            return
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionResetError)):
                ctx.wrap_socket(raw).do_handshake()

    def test_plain_http_refused_quickly(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=5)
        t0 = time.monotonic()
        got = b""
        try:
            s.sendall(b"GET /api/session HTTP/1.1\r\nHost: t\r\n\r\n")
            while True:
                try:
                    chunk = s.recv(4096)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += chunk
        finally:
            s.close()
        took = time.monotonic() - t0
        print("\n  plain HTTP on the TLS port: closed after %.1f ms, %d bytes back"
              % (took * 1000, len(got)))
        self.assertLess(took, 2.0)
        self.assertFalse(got.startswith(b"HTTP/"), got[:100])
        # The server is fine afterwards.
        r = self.admin.get("/api/session")
        self.assertEqual(r.status, 200, r.raw[:300])


class TlsStartupTest(ApiTestCase):
    """Flag errors, without a running server."""

    def run_server(self, *args):
        redis = RedisServer.shared()
        tmp = tempfile.mkdtemp(prefix="usd-tls-start-")
        try:
            users = os.path.join(tmp, "users")
            with open(users, "w") as f:
                f.write("")
            out = subprocess.run([USD_BIN, "--listen", "127.0.0.1:0", "--redis", redis.address,
                                  "--storage-dir", os.path.join(tmp, "s"), "--users-file", users]
                                 + list(args), capture_output=True, timeout=30)
            return out.returncode, out.stderr.decode("utf-8", "replace")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_flag_errors(self):
        tmp = tempfile.mkdtemp(prefix="usd-tls-files-")
        try:
            cert, key = make_self_signed(tmp)
            other = os.path.join(tmp, "other")
            os.makedirs(other)
            _, other_key = make_self_signed(other)
            rc, err = self.run_server("--tls-cert", cert)
            self.assertEqual(rc, 2, err)
            self.assertIn("--tls-key", err)
            rc, err = self.run_server("--tls-key", key)
            self.assertEqual(rc, 2, err)
            rc, err = self.run_server("--tls-cert", os.path.join(tmp, "missing.pem"),
                                      "--tls-key", key)
            self.assertEqual(rc, 1, err)
            self.assertIn("cannot read --tls-cert", err)
            self.assertIn("No such file", err)
            rc, err = self.run_server("--tls-cert", cert, "--tls-key", other_key)
            self.assertEqual(rc, 1, err)
            self.assertIn("does not match", err)
            rc, err = self.run_server("--tls-cert", key, "--tls-key", key)
            self.assertEqual(rc, 1, err)
            self.assertIn("not a PEM certificate", err)
            print("\n  mismatched key: %s" % err.strip().splitlines()[-1][:160])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    import unittest
    unittest.main()
