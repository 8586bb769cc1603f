"""The /rest login cookie and cross-site request forgery (issue 9, item 6). The cookie
vmware-api-session-id is HttpOnly, SameSite=Strict, Path=/ (and Secure over HTTPS: test_tls).
A state-changing request (POST, PUT, PATCH, DELETE) authenticated by the cookie alone must
carry Content-Type: application/json, else 401 UNAUTHENTICATED saying so, and nothing changes;
with the vmware-api-session-id header (govc, every SDK) no Content-Type is needed; reads with
the cookie alone are unaffected."""

import http.client
import http.cookies
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import USERS, Client, ServerTestCase, basic_auth  # noqa: E402

R_LOGIN = "/rest/com/vmware/cis/session"
R_SESSION = "/rest/com/vmware/content/library/item/update-session"
A_SESSION = "/api/content/library/item/update-session"
CSRF_ID = "vapi.security.authentication.cookie_needs_json"


class CookieCsrfTest(ServerTestCase):

    def rest_login(self):
        r = Client(self.server.port).post(R_LOGIN, auth=False, headers={
            "Authorization": basic_auth("admin", USERS["admin"][0])})
        self.assertStatus(r, 200, "/rest login")
        raw = r.headers.get_all("Set-Cookie")
        self.assertEqual(len(raw), 1, raw)
        return raw[0], r.json["value"]

    def test_cookie_attributes(self):
        raw, token = self.rest_login()
        jar = http.cookies.SimpleCookie()
        jar.load(raw)
        m = jar["vmware-api-session-id"]
        self.assertEqual(m.value, token)
        attrs = [a.strip().lower() for a in raw.split(";")[1:]]
        self.assertIn("httponly", attrs, raw)
        self.assertIn("samesite=strict", attrs, raw)
        self.assertIn("path=/", attrs, raw)
        self.assertNotIn("secure", attrs, "no Secure over plain HTTP: %s" % raw)

    def send(self, method, path, body, headers):
        """Exactly these headers (harness.Client adds a JSON Content-Type to every body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            raw = r.read()
            r.raw, r.json = raw, (json.loads(raw) if raw else None)
            return r
        finally:
            conn.close()

    def refused(self, r, what):
        self.assertEqual(r.status, 401, "%s: %d %r" % (what, r.status, r.raw[:300]))
        body = r.json.get("value", r.json) if isinstance(r.json, dict) else {}
        msg = body["messages"][0]
        self.assertEqual(msg["id"], CSRF_ID, r.raw[:300])
        self.assertIn("Content-Type: application/json", msg["default_message"])

    def test_cookie_only_needs_json(self):
        _, token = self.rest_login()
        cookie = {"Cookie": "vmware-api-session-id=" + token}
        anon = Client(self.server.port)
        header_client = Client(self.server.port, token=token)
        _, item = header_client.make_library_item()
        sid = header_client.create_session(item).json
        body = b'{"create_spec":{"library_item_id":"%s"}}' % item.encode()

        # Cross-site forms can only send these: refused, and nothing is created or changed.
        for ctype in (None, "text/plain", "application/x-www-form-urlencoded",
                      "multipart/form-data; boundary=x", "application/jsonx"):
            with self.subTest(ctype=ctype):
                h = dict(cookie)
                if ctype:
                    h["Content-Type"] = ctype
                self.refused(self.send("POST", R_SESSION, body, h), "create")
                self.refused(self.send("POST", A_SESSION + "/" + sid + "?action=cancel", None,
                                       h), "cancel")
                self.refused(self.send("PATCH", A_SESSION + "/" + sid,
                                       b'{"client_progress":5}', h), "update")
                self.refused(self.send("DELETE", R_LOGIN, None, h), "logout")
        r = header_client.get(A_SESSION + "/" + sid)
        self.assertEqual((r.json["state"], r.json["client_progress"]), ("ACTIVE", 0), r.json)
        self.assertEqual(header_client.list_sessions(item).json, [sid], "nothing created")

        # Reads with the cookie alone are fine.
        r = anon.get(A_SESSION + "/" + sid, headers=cookie)
        self.assertStatus(r, 200, "GET with the cookie")

        # application/json (any case, with parameters) passes.
        h = dict(cookie, **{"Content-Type": "Application/JSON; charset=utf-8"})
        r = anon.request("PATCH", A_SESSION + "/" + sid, body=b'{"client_progress":5}',
                         headers=h)
        self.assertStatus(r, 204, "update with the cookie and JSON")
        # The header login needs no Content-Type (govc's body-less ?action=cancel).
        r = header_client.request("POST", A_SESSION + "/" + sid + "?action=cancel")
        self.assertStatus(r, 204, "cancel with the header, no Content-Type")
        # Both header and cookie: the header decides, no Content-Type needed.
        r = header_client.request("DELETE", R_LOGIN, headers=cookie)
        self.assertStatus(r, 200, "logout with the header")


if __name__ == "__main__":
    import unittest
    unittest.main()
