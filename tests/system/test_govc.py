"""govc 0.24.2 (Debian's govmomi build, the client most vSphere users have) against a real
update-sessiond: SOAP on /sdk (RetrieveServiceContent, Login, Logout, the PropertyCollector walk
to the datacenter and datastore, SessionManager.currentSession for persisted sessions) and the
/rest library, item, update-session and file calls govc makes.

Commands: library.create, library.ls, library.info (text: the datastore name comes from SOAP;
-json), a second run on the persisted session (no new login), a stale persisted session (logs
in again), GOVC_PERSIST_SESSION=false (logs out), a wrong password, library.rm,
library.session.ls, library.import of a plain file, an .iso, an .ovf + .vmdk + .mf, -pull from
an http URL served by the test, and library.session.rm -f.

SoapWireTest needs no govc: it checks /sdk by hand (faults, the cookie, one token for SOAP and
REST).

govc: $GOVC_BIN (scripts/test.sh builds it in a step of its own), else scripts/govc.sh (builds
it once from Debian's sources into ~/.cache/update-sessiond-govc: about a minute and apt-get the
first time). Without govc the govc tests are skipped with the reason."""

import hashlib
import http.client
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import ROOT, USERS, Client, ServerTestCase, uniq  # noqa: E402

GOVC_TIMEOUT = 120          # seconds per govc command (a -pull import polls every 3 s)
BUILD_TIMEOUT = 1800        # the first build installs Go and the govmomi sources
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

_govc = {"path": None, "why": None, "done": False}


def govc_path():
    """The govc binary, or None (and the reason in _govc["why"])."""
    if _govc["done"]:
        return _govc["path"]
    _govc["done"] = True
    env = os.environ.get("GOVC_BIN")
    if env:
        if os.access(env, os.X_OK):
            _govc["path"] = env
        else:
            _govc["why"] = "GOVC_BIN=%s is not executable" % env
        return _govc["path"]
    script = os.path.join(ROOT, "scripts", "govc.sh")
    try:
        out = subprocess.run(["sh", script], capture_output=True, timeout=BUILD_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        _govc["why"] = "scripts/govc.sh: %s" % e
        return None
    lines = out.stdout.decode("utf-8", "replace").strip().splitlines()
    if out.returncode != 0 or not lines or not os.access(lines[-1], os.X_OK):
        _govc["why"] = "scripts/govc.sh failed (%d): %s" % (
            out.returncode, out.stderr.decode("utf-8", "replace")[-800:])
        return None
    _govc["path"] = lines[-1]
    return _govc["path"]


def sha1_file(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


OVF_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
          xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
    <File ovf:href="{disk}" ovf:id="file1" ovf:size="{size}"/>
  </References>
  <DiskSection><Info>Virtual disks</Info></DiskSection>
  <VirtualSystem ovf:id="{name}"><Info>A virtual machine</Info><Name>{name}</Name></VirtualSystem>
</Envelope>
"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the test's files and records what was asked."""

    seen = None

    def log_message(self, fmt, *args):
        if self.seen is not None:
            self.seen.append((self.command, self.path))


class FileServer:
    """A plain HTTP server on a loopback port for -pull imports."""

    def __init__(self, directory):
        self.seen = []
        handler = type("Handler", (_QuietHandler,), {"seen": self.seen})

        def make(*args, **kw):
            return handler(*args, directory=directory, **kw)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, name):
        return "http://127.0.0.1:%d/%s" % (self.port, name)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


# ---------------------------------------------------------------------------------------------
# /sdk by hand (no govc needed)
# ---------------------------------------------------------------------------------------------

ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><Envelope '
            'xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>%s</Body></Envelope>')
LOGIN = ('<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
         '<userName>%s</userName><password>%s</password><locale>en_US</locale></Login>')
CURRENT_SESSION = (
    '<RetrieveProperties xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector'
    '</_this><specSet><propSet><type>SessionManager</type><pathSet>currentSession</pathSet>'
    '</propSet><objectSet><obj type="SessionManager">SessionManager</obj><skip>false</skip>'
    '</objectSet></specSet></RetrieveProperties>')
LOGOUT = ('<Logout xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
          '</Logout>')


class SoapWireTest(ServerTestCase):

    def soap(self, inner, cookie=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            headers = {"Content-Type": 'text/xml; charset="utf-8"', "SOAPAction": "urn:vim25/7.0"}
            if cookie:
                headers["Cookie"] = cookie
            conn.request("POST", "/sdk", body=(ENVELOPE % inner).encode(), headers=headers)
            r = conn.getresponse()
            return r.status, r.read().decode("utf-8", "replace"), r.headers
        finally:
            conn.close()

    def test_service_content(self):
        status, body, headers = self.soap('<RetrieveServiceContent xmlns="urn:vim25"><_this '
                                          'type="ServiceInstance">ServiceInstance</_this>'
                                          '</RetrieveServiceContent>')
        self.assertEqual(status, 200, body)
        self.assertTrue(headers.get("Content-Type", "").startswith("text/xml"))
        for want in ('<rootFolder type="Folder">group-d1</rootFolder>',
                     '<sessionManager type="SessionManager">SessionManager</sessionManager>',
                     "<apiType>VirtualCenter</apiType>", "<apiVersion>7.0.3.0</apiVersion>"):
            self.assertIn(want, body)
        c = Client(self.server.port)
        r = c.get("/sdk/vimServiceVersions.xml")
        self.assertEqual(r.status, 200)
        self.assertIn(b"<name>urn:vim25</name>", r.raw)

    def test_faults(self):
        self.addCleanup(self.server.await_login, "admin")  # ends the login backoff
        status, body, _ = self.soap('<PowerOnVM_Task xmlns="urn:vim25"><_this type='
                                    '"VirtualMachine">vm-1</_this></PowerOnVM_Task>')
        self.assertEqual(status, 500)
        self.assertIn("<faultcode>ServerFaultCode</faultcode>", body)
        self.assertIn('xsi:type="NotImplemented"', body)
        status, body, _ = self.soap(LOGIN % ("admin", "wrong"))
        self.assertEqual(status, 500)
        self.assertIn('xsi:type="InvalidLogin"', body)
        status, body, _ = self.soap("<Login>")
        self.assertEqual(status, 500)
        self.assertIn('xsi:type="InvalidRequest"', body)
        # entity expansion is refused at the DOCTYPE
        lol = ('<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaaaaaaaa">'
               + "".join('<!ENTITY %s "%s">' % (chr(98 + i), ("&%s;" % chr(97 + i)) * 10)
                         for i in range(8))
               + ']><Envelope><Body><Login><userName>&i;</userName><password>x</password>'
               '</Login></Body></Envelope>')
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        conn.request("POST", "/sdk", body=lol.encode(), headers={"Content-Type": "text/xml"})
        r = conn.getresponse()
        body = r.read().decode()
        conn.close()
        self.assertEqual(r.status, 500)
        self.assertIn("document type declaration", body)
        # inventory without a login
        status, body, _ = self.soap(
            '<RetrieveProperties xmlns="urn:vim25"><_this type="PropertyCollector">'
            'propertyCollector</_this><specSet><propSet><type>Folder</type><pathSet>name'
            '</pathSet></propSet><objectSet><obj type="Folder">group-d1</obj></objectSet>'
            '</specSet></RetrieveProperties>')
        self.assertEqual(status, 500)
        self.assertIn('xsi:type="NotAuthenticated"', body)

    def test_login_cookie_shared_token_logout(self):
        status, body, headers = self.soap(LOGIN % ("reader", USERS["reader"][0]))
        self.assertEqual(status, 200, body)
        self.assertIn("<userName>reader</userName>", body)
        m = re.match(r'vmware_soap_session="([0-9a-f]+)"; Path=/; HttpOnly$',
                     headers.get("Set-Cookie", ""))
        self.assertIsNotNone(m, headers.get("Set-Cookie"))
        token = m.group(1)
        self.assertNotIn(token, body)
        cookie = "vmware_soap_session=%s" % token
        status, body, _ = self.soap(CURRENT_SESSION, cookie=cookie)
        self.assertEqual(status, 200, body)
        self.assertIn('<val xsi:type="UserSession">', body)
        self.assertIn("<userName>reader</userName>", body)
        # the same login token works on /api and /rest
        api = Client(self.server.port, token=token)
        r = api.get("/api/session")
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json.get("user"), "reader")
        # logout ends it everywhere; currentSession is then empty (not a fault)
        status, body, _ = self.soap(LOGOUT, cookie=cookie)
        self.assertEqual(status, 200, body)
        self.assertEqual(api.get("/api/session").status, 401)
        status, body, _ = self.soap(CURRENT_SESSION, cookie=cookie)
        self.assertEqual(status, 200, body)
        self.assertNotIn("currentSession", body)
        status, body, _ = self.soap(LOGOUT, cookie=cookie)
        self.assertEqual(status, 500)
        self.assertIn("NotAuthenticated", body)


# ---------------------------------------------------------------------------------------------
# govc
# ---------------------------------------------------------------------------------------------

class GovcCase(ServerTestCase):
    """A server, govc, and a private GOVMOMI_HOME per test."""

    @classmethod
    def setUpClass(cls):
        cls.govc_bin = govc_path()
        if cls.govc_bin is None:
            if os.environ.get("USD_REQUIRE_GOVC") == "1":  # make test: a missing govc fails
                raise RuntimeError("govc unavailable: %s" % _govc["why"])
            raise unittest.SkipTest("govc unavailable: %s" % _govc["why"])
        super().setUpClass()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="usd-govc-")
        self.home = os.path.join(self.tmp, "govmomi")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def import_pulled(self, lib, data):
        """govc library.import -pull of data, served as pulled.bin by a loopback http server,
        into item "pulled" of lib; the server must have been asked for it."""
        served = os.path.join(self.tmp, "www")
        os.makedirs(served)
        with open(os.path.join(served, "pulled.bin"), "wb") as f:
            f.write(data)
        fs = FileServer(served)
        try:
            self.govc("library.import", "-pull", "-n", "pulled", lib, fs.url("pulled.bin"))
        finally:
            fs.close()
        self.assertIn(("GET", "/pulled.bin"), fs.seen)

    def env(self, user="admin", password=None, persist=True, home=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("GOVC_") and not k.startswith("GOVMOMI_")}
        password = USERS[user][0] if password is None else password
        scheme = "https" if self.server.tls_context else "http"
        env.update({
            "GOVC_URL": "%s://%s:%s@127.0.0.1:%d/sdk" % (scheme, user, password,
                                                         self.server.port),
            "GOVC_INSECURE": "1",
            "GOVMOMI_HOME": home or self.home,
        })
        if not persist:
            env["GOVC_PERSIST_SESSION"] = "false"
        return env

    def govc(self, *args, check=True, **env_kw):
        out = subprocess.run([self.govc_bin] + list(args), capture_output=True,
                             timeout=GOVC_TIMEOUT, env=self.env(**env_kw), cwd=self.tmp)
        res = (out.returncode, out.stdout.decode("utf-8", "replace"),
               out.stderr.decode("utf-8", "replace"))
        if check and out.returncode != 0:
            self.fail("govc %s: exit %d\nstdout: %s\nstderr: %s\nserver log:\n%s" % (
                " ".join(args), res[0], res[1][-2000:], res[2][-2000:],
                self.server.log()[-3000:]))
        return res

    def govc_json(self, *args):
        return json.loads(self.govc(*args)[1])

    def login_keys(self):
        return {k for k in self.server.keys() if k.startswith(self.server.prefix + "login:")}

    def make_library(self, name=None):
        name = name or uniq("glib")
        out = self.govc("library.create", name)[1].strip()
        self.assertRegex(out, UUID_RE)
        return name, out

    def write(self, name, data):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def item_files(self, lib, item):
        return {f["name"]: f for f in self.govc_json("library.info", "-json",
                                                     "%s/%s/*" % (lib, item))}


class GovcLibraryTest(GovcCase):

    def test_create_ls_info(self):
        name, lib_id = self.make_library()
        self.assertIn("/" + name, self.govc("library.ls")[1].splitlines())
        # text: the datastore name comes from the SOAP inventory
        text = self.govc("library.info", name)[1]
        self.assertRegex(text, r"Name:\s+%s\n" % re.escape(name))
        self.assertRegex(text, r"ID:\s+%s\n" % lib_id)
        self.assertRegex(text, r"DatastoreID:\s+storage\n")
        self.assertRegex(text, r"Type:\s+DATASTORE\n")
        info = self.govc_json("library.info", "-json", name)
        self.assertEqual(len(info), 1)
        self.assertEqual(info[0]["id"], lib_id)
        self.assertEqual(info[0]["name"], name)
        self.assertEqual(info[0]["type"], "LOCAL")
        self.assertIn("creation_time", info[0])
        # what library.create sent: the datastore moref from the SOAP walk
        r = self.admin.get("/api/content/library/" + lib_id)
        self.assertEqual(r.status, 200, r.raw)
        self.assertEqual(r.json["storage_backings"],
                         [{"type": "DATASTORE", "datastore_id": "datastore-1"}])

    def test_persisted_session_reused(self):
        before = self.login_keys()
        name, _ = self.make_library()
        first = self.login_keys() - before
        self.assertEqual(len(first), 2, "first run: one SOAP and one REST login")
        self.assertTrue(os.listdir(os.path.join(self.home, "sessions")))
        # later runs validate the cached sessions (currentSession, ?~action=get): no new login
        self.assertIn("DatastoreID:    storage", self.govc("library.info", name)[1])
        self.govc("library.ls")
        self.assertEqual(self.login_keys() - before, first)

    def test_stale_persisted_session(self):
        name, _ = self.make_library()
        old = self.login_keys()
        for key in old:
            self.server.redis.command("DEL", key)
        text = self.govc("library.info", name)[1]
        self.assertIn("DatastoreID:    storage", text)
        self.assertTrue(self.login_keys(), "govc should have logged in again")

    def test_not_persisted_logs_out(self):
        before = self.login_keys()
        name = uniq("glib")
        self.govc("library.create", name, persist=False)
        self.govc("library.info", name, persist=False)
        self.assertEqual(self.login_keys(), before, "SOAP Logout and REST DELETE session")

    def test_wrong_password(self):
        self.addCleanup(self.server.await_login, "admin")  # ends the login backoff
        rc, _, err = self.govc("library.create", uniq("glib"), check=False, password="nope")
        self.assertNotEqual(rc, 0)
        self.assertIn("incorrect user name or password", err)
        rc, _, err = self.govc("library.ls", check=False, password="nope")
        self.assertNotEqual(rc, 0)
        self.assertIn("401", err)

    def test_rm(self):
        name, lib_id = self.make_library()
        self.govc("library.rm", name)
        self.assertNotIn("/" + name, self.govc("library.ls")[1].splitlines())
        self.assertEqual(self.admin.get("/api/content/library/" + lib_id).status, 404)

    def test_session_ls(self):
        name, _ = self.make_library()
        path = self.write("ls.bin", os.urandom(1000))
        self.govc("library.import", name, path)
        out = self.govc("library.session.ls")[1]
        self.assertIn("/%s/ls" % name, out)
        self.assertRegex(out, r"Update\s+\S+\s+\d+\s+DONE")
        sessions = self.govc_json("library.session.ls", "-json")
        self.assertIsInstance(sessions, (list, dict))


class GovcImportTest(GovcCase):

    server_args = ("--pull-allow", "127.0.0.1/32")  # -pull fetches from a loopback server

    def test_import_plain_file(self):
        lib, _ = self.make_library()
        data = os.urandom(300 * 1024 + 7)
        path = self.write("random-data.bin", data)
        _, out, err = self.govc("library.import", lib, path)
        self.assertIn("Uploading random-data.bin", out + err)
        self.assertIn("/%s/random-data" % lib, self.govc("library.ls", lib + "/*")[1].splitlines())
        item = self.govc_json("library.info", "-json", lib + "/random-data")[0]
        self.assertEqual(item.get("type", ""), "")  # govc omits an empty type
        files = self.item_files(lib, "random-data")
        self.assertEqual(set(files), {"random-data.bin"})
        f = files["random-data.bin"]
        self.assertEqual(f["size"], len(data))
        self.assertTrue(f["cached"])
        if "checksum_info" in f:
            self.assertEqual(f["checksum_info"]["checksum"].lower(),
                             hashlib.sha1(data).hexdigest())
        # importing the same name again: 400 already exists
        rc, _, err = self.govc("library.import", lib, path, check=False)
        self.assertNotEqual(rc, 0)
        self.assertIn("400 Bad Request", err)

    def test_import_iso(self):
        lib, _ = self.make_library()
        path = self.write("disk.iso", os.urandom(64 * 1024))
        self.govc("library.import", lib, path)
        item = self.govc_json("library.info", "-json", lib + "/disk")[0]
        self.assertEqual(item["type"], "iso")
        self.assertEqual(set(self.item_files(lib, "disk")), {"disk.iso"})

    def test_import_ovf_with_manifest(self):
        lib, _ = self.make_library()
        disk = os.urandom(128 * 1024)
        disk_path = self.write("ovf/vm1-disk1.vmdk", disk)
        ovf = OVF_TEMPLATE.format(disk="vm1-disk1.vmdk", size=len(disk), name="vm1").encode()
        ovf_path = self.write("ovf/vm1.ovf", ovf)
        self.write("ovf/vm1.mf", ("SHA1(vm1.ovf)= %s\nSHA1(vm1-disk1.vmdk)= %s\n" % (
            sha1_file(ovf_path), sha1_file(disk_path))).encode())
        _, out, err = self.govc("library.import", lib, ovf_path)
        self.assertIn("Uploading vm1.ovf", out + err)
        self.assertIn("Uploading vm1-disk1.vmdk", out + err)
        item = self.govc_json("library.info", "-json", lib + "/vm1")[0]
        self.assertEqual(item["type"], "ovf")
        files = self.item_files(lib, "vm1")
        self.assertEqual(set(files), {"vm1.ovf", "vm1-disk1.vmdk"})  # the .mf is not uploaded
        self.assertEqual(files["vm1.ovf"]["size"], len(ovf))
        self.assertEqual(files["vm1-disk1.vmdk"]["size"], len(disk))
        self.assertEqual(files["vm1-disk1.vmdk"]["checksum_info"]["checksum"].lower(),
                         hashlib.sha1(disk).hexdigest())
        self.assertEqual(files["vm1.ovf"]["checksum_info"]["checksum"].lower(),
                         hashlib.sha1(ovf).hexdigest())

    def test_import_pull(self):
        lib, _ = self.make_library()
        data = os.urandom(200 * 1024)
        self.import_pulled(lib, data)
        files = self.item_files(lib, "pulled")
        self.assertEqual(set(files), {"pulled.bin"})
        self.assertEqual(files["pulled.bin"]["size"], len(data))
        self.assertTrue(files["pulled.bin"]["cached"])

    def test_session_rm_force(self):
        lib, lib_id = self.make_library()
        item = self.admin.make_item(lib_id, "held")
        r = self.admin.create_session(item)
        self.assertEqual(r.status, 201, r.raw)
        session_id = r.json
        self.govc("library.session.rm", "-f", session_id)
        r = self.admin.get("/api/content/library/item/update-session/" + session_id)
        self.assertEqual(r.status, 404, r.raw)
        # the item is free again: a new import into it works
        path = self.write("held.bin", os.urandom(2048))
        self.govc("library.import", lib + "/held", path)
        self.assertEqual(set(self.item_files(lib, "held")), {"held.bin"})


class GovcTlsTest(GovcCase):
    """govc against the server over HTTPS (--tls-cert/--tls-key, a self-signed certificate;
    GOVC_INSECURE=1 as set for every govc run): SOAP login, library.create, library.import of
    a file (its upload URI is https:// by default), library.ls, and -pull from an http source."""

    tls = True
    server_args = ("--pull-allow", "127.0.0.1/32")

    def test_import_ls_pull_over_tls(self):
        self.assertIsNotNone(self.server.tls_context)
        self.assertTrue(self.env()["GOVC_URL"].startswith("https://"))
        lib, _ = self.make_library()
        self.assertIn("/" + lib, self.govc("library.ls")[1].splitlines())
        data = os.urandom(256 * 1024 + 3)
        path = self.write("tls-data.bin", data)
        _, out, err = self.govc("library.import", lib, path)
        self.assertIn("Uploading tls-data.bin", out + err)
        self.assertIn("/%s/tls-data" % lib, self.govc("library.ls", lib + "/*")[1].splitlines())
        files = self.item_files(lib, "tls-data")
        self.assertEqual(files["tls-data.bin"]["size"], len(data))
        if "checksum_info" in files["tls-data.bin"]:
            self.assertEqual(files["tls-data.bin"]["checksum_info"]["checksum"].lower(),
                             hashlib.sha1(data).hexdigest())
        pulled = os.urandom(100 * 1024)
        self.import_pulled(lib, pulled)
        self.assertEqual(self.item_files(lib, "pulled")["pulled.bin"]["size"], len(pulled))
        self.assertIn("/%s/pulled" % lib, self.govc("library.ls", lib + "/*")[1].splitlines())


if __name__ == "__main__":
    unittest.main()
