"""Every documented error of update-session create (and the routing / authentication errors
around it) with its exact HTTP status, vAPI error_type and a message naming the field."""

import uuid

from harness import (AUTH_REQUIRED_MSG_ID, CLS_MSG_PREFIX, UPDATE_SESSION_PATH, USERS,
                     ServerTestCase, basic_auth)


class CreateSessionErrorsTest(ServerTestCase):

    def assertNothingCreated(self, item):
        """No session exists for item and the item is not locked."""
        self.assertEqual(self.admin.list_sessions(item).json, [])
        r = self.admin.create_session(item)
        self.assertStatus(r, 201, "create after the failed attempts")

    def test_missing_library_item_id(self):
        _, item = self.admin.make_library_item()
        for body in ({}, {"library_item_id": None}, {"warning_behavior": []}):
            with self.subTest(body=body):
                r = self.admin.post(UPDATE_SESSION_PATH, body)
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["library_item_id"],
                                    id_prefix=CLS_MSG_PREFIX)
        self.assertNothingCreated(item)

    def test_library_item_id_wrong_type(self):
        _, item = self.admin.make_library_item()
        for value in (42, True, [item], {"id": item}):
            with self.subTest(value=value):
                r = self.admin.post(UPDATE_SESSION_PATH, {"library_item_id": value})
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["library_item_id"],
                                    id_prefix=CLS_MSG_PREFIX)
        self.assertNothingCreated(item)

    def test_malformed_json(self):
        _, item = self.admin.make_library_item()
        bodies = [
            b'{"library_item_id": ',
            b"not json at all",
            b'{"library_item_id": "%s"' % item.encode(),
            b'{"library_item_id": "%s"} trailing' % item.encode(),
            b"{'library_item_id': 'x'}",
            b"[]",
            b'"%s"' % item.encode(),
            b"",
        ]
        for body in bodies:
            with self.subTest(body=body[:40]):
                r = self.admin.post(UPDATE_SESSION_PATH, body)
                self.assertApiError(r, 400, "INVALID_ARGUMENT", id_prefix=CLS_MSG_PREFIX)
        self.assertNothingCreated(item)

    def test_deep_nesting_with_default_limit(self):
        _, item = self.admin.make_library_item()
        depth = 5000
        body = ('{"library_item_id": "%s", "warning_behavior": %s%s}'
                % (item, "[" * depth, "]" * depth)).encode()
        r = self.admin.post(UPDATE_SESSION_PATH, body)
        self.assertApiError(r, 400, "INVALID_ARGUMENT")
        self.assertNothingCreated(item)

    def test_bad_warning_behavior(self):
        _, item = self.admin.make_library_item()
        bad = [
            "yes",
            {"type": "SELF_SIGNED_CERTIFICATE", "ignored": True},
            [{"type": "NO_SUCH_WARNING", "ignored": True}],
            [{"type": "SELF_SIGNED_CERTIFICATE"}],
            [{"ignored": True}],
            [{"type": "SELF_SIGNED_CERTIFICATE", "ignored": "yes"}],
            [{"type": 7, "ignored": False}],
            ["SELF_SIGNED_CERTIFICATE"],
        ]
        for wb in bad:
            with self.subTest(warning_behavior=wb):
                r = self.admin.create_session(item, {"warning_behavior": wb})
                self.assertApiError(r, 400, "INVALID_ARGUMENT", mentions=["warning_behavior"],
                                    id_prefix=CLS_MSG_PREFIX)
        self.assertNothingCreated(item)

    def test_unknown_item_is_not_found(self):
        unknown = str(uuid.uuid4())
        r = self.admin.create_session(unknown)
        self.assertApiError(r, 404, "NOT_FOUND", mentions=[unknown], id_prefix=CLS_MSG_PREFIX)

    def test_deleted_item_is_not_found(self):
        _, item = self.admin.make_library_item()
        self.assertStatus(self.admin.delete("/api/content/library/item/" + item), 204,
                          "delete item")
        r = self.admin.create_session(item)
        self.assertApiError(r, 404, "NOT_FOUND", mentions=[item], id_prefix=CLS_MSG_PREFIX)

    def test_subscribed_item_is_invalid_element_type(self):
        _, item = self.server.seed_subscribed_item()
        g = self.admin.get("/api/content/library/item/" + item)
        self.assertStatus(g, 200, "seeded item is visible")
        r = self.admin.create_session(item)
        self.assertApiError(r, 400, "INVALID_ELEMENT_TYPE", id_prefix=CLS_MSG_PREFIX)
        self.assertEqual(self.admin.list_sessions(item).json, [])

    def test_no_token_is_unauthenticated(self):
        _, item = self.admin.make_library_item()
        r = self.admin.request("POST", UPDATE_SESSION_PATH, {"library_item_id": item},
                               auth=False)
        self.assertApiError(r, 401, "UNAUTHENTICATED", id_prefix=AUTH_REQUIRED_MSG_ID)
        r = self.admin.request("GET", UPDATE_SESSION_PATH, auth=False)
        self.assertApiError(r, 401, "UNAUTHENTICATED", id_prefix=AUTH_REQUIRED_MSG_ID)
        self.assertNothingCreated(item)

    def test_bad_token_is_unauthenticated(self):
        _, item = self.admin.make_library_item()
        for token in ("deadbeef", str(uuid.uuid4()), self.admin.token + "x", ""):
            with self.subTest(token=token):
                r = self.admin.request("POST", UPDATE_SESSION_PATH, {"library_item_id": item},
                                       auth=False, headers={"vmware-api-session-id": token})
                self.assertApiError(r, 401, "UNAUTHENTICATED", id_prefix=AUTH_REQUIRED_MSG_ID)
        self.assertNothingCreated(item)

    def test_basic_auth_is_not_a_session(self):
        """Only POST /api/session takes a password; other calls need the session token."""
        _, item = self.admin.make_library_item()
        r = self.admin.request("POST", UPDATE_SESSION_PATH, {"library_item_id": item},
                               auth=False,
                               headers={"Authorization": basic_auth("admin", USERS["admin"][0])})
        self.assertApiError(r, 401, "UNAUTHENTICATED")
        self.assertNothingCreated(item)

    def test_user_without_update_session_privilege_is_unauthorized(self):
        _, item = self.admin.make_library_item()
        for user in ("reader", "editor"):
            with self.subTest(user=user):
                c = self.server.client(user)
                r = c.create_session(item)
                self.assertApiError(r, 403, "UNAUTHORIZED", id_prefix=CLS_MSG_PREFIX)
                r = c.list_sessions()
                self.assertApiError(r, 403, "UNAUTHORIZED", id_prefix=CLS_MSG_PREFIX)
        # A user who has the privilege may.
        up = self.server.client("uploader")
        r = up.create_session(item)
        self.assertStatus(r, 201, "uploader creates")
        self.assertEqual(up.list_sessions(item).json, [r.json])

    def test_unknown_route_is_not_found(self):
        for path in ("/api/no/such/thing", "/api/content/library/item/update-sessionx",
                     "/api/content/library/item/update-session/x/y/z/w", "/nothing"):
            with self.subTest(path=path):
                r = self.admin.get(path)
                self.assertApiError(r, 404, ("OPERATION_NOT_FOUND", "NOT_FOUND"))

    def test_wrong_method_on_known_path(self):
        for method, path in (("PUT", UPDATE_SESSION_PATH),
                             ("DELETE", UPDATE_SESSION_PATH),
                             ("PATCH", "/api/session"),
                             ("PUT", "/api/content/library/item"),
                             ("DELETE", "/api/content/library/item/download-session")):
            with self.subTest(method=method, path=path):
                r = self.admin.request(method, path, {})
                self.assertTrue(400 <= r.status < 500, "%s %s: %d %r" % (
                    method, path, r.status, r.raw[:300]))
                self.assertIsInstance(r.json, dict, r.raw[:300])
                self.assertIsInstance(r.json.get("error_type"), str, r.raw[:300])
                self.assertIsInstance(r.json.get("messages"), list, r.raw[:300])
                # the path exists: the method is what is wrong (DELETE .../item/update-session
                # is not a delete of an item named "update-session")
                self.assertIn("is not supported on", r.raw.decode(), r.raw[:300])


if __name__ == "__main__":
    import unittest
    unittest.main()
