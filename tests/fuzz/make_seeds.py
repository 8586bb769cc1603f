#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py: writes the seed corpora tests/fuzz/corpus/<target>/seed-* from the
requests real clients send (govc 0.24.2 as recorded in docs/govc.md and tests/system, curl as in
the README walk-through, the SOAP bodies of tests/unit/test_soap.c). Run it from anywhere after
changing a seed below; it rewrites the seed-* files only (regress-* files are inputs that once
broke an invariant and are kept as they are). The input format of each target is described at
the top of its tests/fuzz/fuzz_<target>.c."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ITEM = "5c1f2a3b-6d7e-4f80-9a1b-2c3d4e5f6071"
SID = ITEM + ":0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
LIB = "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"
TOKEN = "b3c2f0e1d4a5968778695a4b3c2d1e0f"
CLIENT_TOKEN = "3f2b8c1e-1d2e-4f5a-8b9c-0123456789ab"
UPLOAD = "0f9e8d7c6b5a49382716051423324150f9e8d7c6b5a49382716051423324150a"
GOVC = "User-Agent: Go-http-client/1.1\r\n"
CURL = "User-Agent: curl/7.88.1\r\nAccept: */*\r\n"


def req(method, target, headers="", body=b"", host="127.0.0.1:8080"):
    if isinstance(body, str):
        body = body.encode()
    head = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{headers}"
    if body or method in ("POST", "PUT", "PATCH"):
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def chunked(method, target, headers, pieces):
    out = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n{headers}Transfer-Encoding: chunked\r\n\r\n".encode()
    for p in pieces:
        out += f"{len(p):x}\r\n".encode() + p + b"\r\n"
    return out + b"0\r\n\r\n"


ENV_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>'
            '<Envelope xmlns="http://schemas.xmlsoap.org/soap/envelope/"><Body>')
ENV_TAIL = "</Body></Envelope>"
SOAP = {
    "retrieve-service-content": ENV_HEAD + '<RetrieveServiceContent xmlns="urn:vim25"><_this type="ServiceInstance">'
    "ServiceInstance</_this></RetrieveServiceContent>" + ENV_TAIL,
    "login": ENV_HEAD + '<Login xmlns="urn:vim25"><_this type="SessionManager">SessionManager</_this>'
    "<userName>admin</userName><password>s3cret&amp;&lt;pw&gt;</password><locale>en_US</locale></Login>" + ENV_TAIL,
    "logout": '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv='
    '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:v="urn:vim25">\n  <soapenv:Header/>\n  <soapenv:Body>\n'
    '    <v:Logout>\n      <v:_this type="SessionManager">SessionManager</v:_this>\n    </v:Logout>\n'
    "  </soapenv:Body>\n</soapenv:Envelope>\n",
    "current-time": ENV_HEAD + '<CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance'
    "</_this></CurrentTime>" + ENV_TAIL,
    "rp-parents": ENV_HEAD + '<RetrieveProperties xmlns="urn:vim25"><_this type="PropertyCollector">'
    "propertyCollector</_this><specSet><propSet><type>ManagedEntity</type><pathSet>name</pathSet><pathSet>parent"
    "</pathSet></propSet><propSet><type>VirtualMachine</type><pathSet>parentVApp</pathSet></propSet><objectSet>"
    '<obj type="Folder">group-d1</obj><skip>false</skip><selectSet xmlns:XMLSchema-instance='
    '"http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="TraversalSpec"><name>traverseParent'
    "</name><type>ManagedEntity</type><path>parent</path><skip>false</skip><selectSet XMLSchema-instance:type="
    '"SelectionSpec"><name>traverseParent</name></selectSet></selectSet><selectSet xmlns:XMLSchema-instance='
    '"http://www.w3.org/2001/XMLSchema-instance" XMLSchema-instance:type="TraversalSpec"><type>VirtualMachine'
    '</type><path>parentVApp</path><skip>false</skip><selectSet XMLSchema-instance:type="SelectionSpec"><name>'
    "traverseParent</name></selectSet></selectSet></objectSet></specSet></RetrieveProperties>" + ENV_TAIL,
    "rp-children": ENV_HEAD + '<RetrieveProperties xmlns="urn:vim25"><_this type="PropertyCollector">'
    "propertyCollector</_this><specSet><propSet><type>Folder</type><pathSet>name</pathSet><pathSet>childType"
    "</pathSet></propSet><propSet><type>Datacenter</type><pathSet>name</pathSet></propSet><propSet><type>"
    "Datastore</type><pathSet>name</pathSet></propSet><objectSet><obj type=\"Folder\">group-s5</obj><skip>true"
    '</skip><selectSet xmlns:XMLSchema-instance="http://www.w3.org/2001/XMLSchema-instance" '
    'XMLSchema-instance:type="TraversalSpec"><type>Folder</type><path>childEntity</path><skip>false</skip>'
    "</selectSet></objectSet></specSet></RetrieveProperties>" + ENV_TAIL,
    "rp-datacenter": ENV_HEAD + '<RetrieveProperties xmlns="urn:vim25"><_this type="PropertyCollector">'
    "propertyCollector</_this><specSet><propSet><type>Datacenter</type><pathSet>name</pathSet><pathSet>vmFolder"
    "</pathSet><pathSet>hostFolder</pathSet><pathSet>datastoreFolder</pathSet><pathSet>networkFolder</pathSet>"
    '</propSet><objectSet><obj type="Datacenter">datacenter-2</obj><skip>false</skip></objectSet></specSet>'
    "</RetrieveProperties>" + ENV_TAIL,
    "rpex-datastore": ENV_HEAD + '<RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">'
    "propertyCollector</_this><specSet><propSet><type>Datastore</type><pathSet>summary</pathSet><pathSet>info.url"
    "</pathSet><pathSet>bogus</pathSet></propSet><objectSet><obj type=\"Datastore\">datastore-1</obj><skip>false"
    "</skip></objectSet></specSet><options/></RetrievePropertiesEx>" + ENV_TAIL,
    "rp-current-session": ENV_HEAD + '<RetrieveProperties xmlns="urn:vim25"><_this type="PropertyCollector">'
    "propertyCollector</_this><specSet><propSet><type>SessionManager</type><pathSet>currentSession</pathSet>"
    '</propSet><objectSet><obj type="SessionManager">SessionManager</obj><skip>false</skip></objectSet>'
    "</specSet></RetrieveProperties>" + ENV_TAIL,
    "doctype": '<?xml version="1.0"?><!DOCTYPE Envelope [<!ENTITY l0 "lol">]><Envelope><Body><Logout/>'
    "</Body></Envelope>",
}

SPEC = {
    "session-create-api": '{"library_item_id":"%s"}' % ITEM,
    "session-create-rest": '{"create_spec":{"library_item_id":"%s","warning_behavior":[{"type":'
    '"SELF_SIGNED_CERTIFICATE","ignored":true},{"type":"EXPIRED_CERTIFICATE","ignored":false}]}}' % ITEM,
    "session-update": '{"update_spec":{"warning_behavior":[{"type":"UNTRUSTED_CERTIFICATE","ignored":true}]}}',
    "item-create-govc": '{"create_spec":{"name":"random-1MiB","description":"","library_id":"%s","type":""}}' % LIB,
    "item-create-api": '{"library_id":"%s","name":"disk","type":"iso","description":"d\\u00e9j\\u00e0 vu"}' % LIB,
    "local-library-govc": '{"create_spec":{"name":"lib1","storage_backings":[{"datastore_id":"datastore-1",'
    '"type":"DATASTORE"}],"type":"LOCAL"}}',
    "local-library-api": '{"name":"lib1","storage_backings":[{"type":"OTHER","storage_uri":"file:///srv/lib1"}]}',
    "subscribed-library": '{"name":"sub","subscription_info":{"subscription_url":"https://vc/lib.json",'
    '"authentication_method":"NONE","automatic_sync_enabled":true,"on_demand":false}}',
    "find-library-govc": '{"spec":{"name":"lib1"}}',
    "find-item-govc": '{"spec":{"library_id":"%s","name":"disk","cached":true,"type":"ovf"}}' % LIB,
    "file-push-govc": '{"file_spec":{"name":"random-1MiB.bin","size":1048576,"source_type":"PUSH"}}',
    "file-push-ovf": '{"file_spec":{"name":"vm.vmdk","size":1024,"source_type":"PUSH","checksum_info":'
    '{"algorithm":"SHA1","checksum":"A9993E364706816ABA3E25717850C26C9CD0D89D"}}}',
    "file-pull-api": '{"name":"disk.iso","source_type":"PULL","size":4096,"checksum_info":{"algorithm":'
    '"SHA256","checksum":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},'
    '"source_endpoint":{"uri":"HTTPS://files.example.com:8443/a/disk.iso?x=1","ssl_certificate_thumbprint":'
    '"AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"}}',
    "message": '{"id":"com.vmware.vdcs.cls-main.file_transfer_failed","default_message":"The transfer '
    'failed.","args":["disk.iso","\\u00e9"]}',
    "hostile": '{"name":"../x","name":"dup","library_id":"a/b","size":-1,"source_type":"PULL",'
    '"source_endpoint":{"uri":"file:///etc/passwd"},"warning_behavior":[{"type":"X"}]}',
}

VALIDATE = {
    "session-id": SID,
    "item-id-with-colons": "urn:vapi:item:1:" + CLIENT_TOKEN,
    "uuid": CLIENT_TOKEN,
    "file-name": "random-1MiB.bin",
    "file-name-dots": "..",
    "name-utf8": "d\u00e9j\u00e0 vu \u540d\u524d \U0001F600",
    "time": "2026-11-27T05:50:36.123Z",
    "time-nanos": "1999-12-31T23:59:59.999999999Z",
    "bad-utf8": b"\xc3(\xed\xa0\x80\xf4\x90\x80\x80",
}


def http_seeds():
    login = req("POST", "/rest/com/vmware/cis/session",
                GOVC + "Authorization: Basic YWRtaW46c2VjcmV0\r\nVmware-Use-Header-Authn: true\r\n"
                "Accept-Encoding: gzip\r\n")
    find = req("POST", "/rest/com/vmware/content/library?~action=find",
               GOVC + f"Vmware-Api-Session-Id: {TOKEN}\r\nContent-Type: application/json\r\n",
               '{"spec":{"name":"lib1"}}')
    gets = (req("GET", f"/api/content/library/item/update-session/{SID}", CURL + f"vmware-api-session-id: {TOKEN}\r\n")
            + req("GET", f"/api/content/library/item/update-session?library_item_id={ITEM}&x=%41%2b+b",
                  CURL + f"vmware-api-session-id: {TOKEN}\r\n"))
    create = req("POST", f"/api/content/library/item/update-session?client_token={CLIENT_TOKEN}&action=valid%61te",
                 CURL + f"vmware-api-session-id: {TOKEN}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n",
                 '{"library_item_id":"%s"}' % ITEM)
    upload = req("PUT", f"/cls/data/{UPLOAD}/random-1MiB.bin",
                 GOVC + "Content-Type: application/octet-stream\r\n"
                 f"Vmware-Api-Session-Id: {TOKEN}\r\nAccept-Encoding: gzip\r\n", b"0123456789abcdef" * 4)
    return {
        # flags byte (bit 0 small limits, bit 1 streaming), split byte, then the bytes
        "govc-login-find": b"\x00\x00" + login + find,
        "curl-pipelined-gets": b"\x00\x01" + gets,
        "curl-create-expect": b"\x00\x02" + create,
        "chunked-post": b"\x00\x03" + chunked("POST", "/api/content/library/item?action=find", CURL,
                                              [b'{"name":', b'"disk"}']),
        "govc-upload": b"\x02\x00" + upload + req("GET", "/hold/after-upload", GOVC),
        "upload-modes": b"\x02\x06" + req("PUT", "/cls/data/s1/a", "", b"x" * 20)
        + req("PUT", "/cls/data/p1/b", "Expect: 100-continue\r\n", b"y" * 300)
        + chunked("POST", "/cls/data/h1/c", "", [b"abc", b"defgh"]),
        "upload-refused": b"\x02\x02" + req("PUT", "/cls/data/r1/a", "", b"x" * 10)
        + req("PUT", "/cls/data/a1/b", "", b"z" * 10),
        "resume-probe": b"\x02\x07" + req("HEAD", f"/cls/data/{UPLOAD}/disk.iso", CURL)
        + req("PATCH", f"/cls/data/{UPLOAD}/disk.iso", "Upload-Offset: 4\r\nUpload-Complete: ?1\r\n"
              "Content-Type: application/partial-upload\r\n", b"efgh"),
        "keepalive-close": b"\x00\x0b" + b"GET /hold HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        + req("GET", "/big", "") + req("HEAD", "/x?a=1", "Connection: close\r\n") + req("GET", "/after", ""),
        "small-limits": b"\x01\x0a" + req("GET", "/" + "a" * 600, "") ,
        "small-body": b"\x01\x00" + req("POST", "/b", "", b"q" * 300),
        "malformed": b"\x00\x00" + b"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
        "two-lengths": b"\x00\x00" + b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        "http2": b"\x00\x00" + b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
        "absolute-form": b"\x00\x00" + b"GET http://h:8080/api/session?x=1#frag HTTP/1.1\r\nHost: h\r\n\r\n"
        + b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
        "connect": b"\x00\x00" + b"CONNECT 127.0.0.1:6379 HTTP/1.1\r\nHost: 127.0.0.1:6379\r\n\r\n",
        "soap": b"\x00\x02" + req("POST", "/sdk", GOVC + 'SOAPAction: "urn:vim25/6.7"\r\nContent-Type: text/xml\r\n',
                                  SOAP["login"]),
    }


def routes_seeds():
    # byte 0: bits 0-2 method (GET POST PUT PATCH DELETE OPTIONS POST GET), bit 3 cookie,
    # bit 4 no token, bit 5 no Content-Type; byte 1: store outcome (0 success, n - 1 for the
    # store_status_t n); then TARGET\nTOKEN\nBODY
    GET, POST, PATCH, DELETE = 0, 1, 3, 4
    UNAUTHENTICATED, NOT_FOUND, ALREADY_EXISTS, BUSY, WRONG_TYPE = 1, 3, 4, 5, 6
    STATE_CHANGED, PROGRESS_LOWER, NO_FILE = 8, 9, 10
    R = "/rest/com/vmware/content/library"
    A = "/api/content/library"

    def s(method, outcome, target, body="", token=TOKEN, flags=0):
        return bytes([method | flags, outcome]) + f"{target}\n{token}\n{body}".encode()

    return {
        "login-rest": s(POST, 0, "/rest/com/vmware/cis/session", flags=16),
        "find-library": s(POST, 0, R + "?~action=find", SPEC["find-library-govc"]),
        "get-library": s(GET, 0, R + f"/id:{LIB}"),
        "create-item": s(POST, ALREADY_EXISTS, R + "/item", SPEC["item-create-govc"]),
        "create-session-rest": s(POST, BUSY, R + "/item/update-session", SPEC["session-create-rest"]),
        "file-add-rest": s(POST, 0, R + f"/item/updatesession/file/id:{SID}?~action=add", SPEC["file-push-govc"]),
        "complete-rest": s(POST, STATE_CHANGED, R + f"/item/update-session/id:{SID}?~action=complete", flags=8),
        "file-get-rest": s(POST, NO_FILE, R + f"/item/updatesession/file/id:{SID}?~action=get", '{"file_name":"disk.iso"}'),
        "file-list-rest": s(GET, 0, R + f"/item/updatesession/file?update_session_id={SID}"),
        "create-session-api": s(POST, 0, A + f"/item/update-session?client_token={CLIENT_TOKEN}", SPEC["session-create-api"]),
        "get-file-api": s(GET, NOT_FOUND, A + f"/item/update-session/{SID}/file/random%2D1MiB.bin"),
        "update-api": s(PATCH, 0, A + f"/item/update-session/{SID}/", '{"warning_behavior":[]}'),
        "fail-api": s(POST, 0, A + f"/item/update-session/{SID}?action=fail", '{"client_error_message":"disk full"}'),
        "keep-alive-api": s(POST, PROGRESS_LOWER, A + f"/item/update-session/{SID}?action=keep-alive", '{"client_progress":50}'),
        "validate-bad-escape": s(POST, 0, A + f"/item/update-session/{SID}/file?action=validate%zz"),
        "file-add-pull-api": s(POST, 0, A + f"/item/update-session/{SID}/file", SPEC["file-pull-api"]),
        "local-library-api": s(POST, 0, "/api/content/local-library", SPEC["local-library-api"], flags=32),
        "subscribed-library-rest": s(POST, WRONG_TYPE, "/rest/com/vmware/content/subscribed-library?~action=create",
                                     '{"create_spec":' + SPEC["subscribed-library"] + "}"),
        "item-list": s(GET, 0, A + f"/item?library_id={LIB}"),
        "item-files": s(GET, 0, A + f"/item/{ITEM}/file?name=disk.iso"),
        "item-file-get-rest": s(POST, 0, R + f"/item/file/id:{ITEM}?~action=get", '{"name":"disk.iso"}'),
        "session-list": s(GET, 0, A + f"/item/update-session?library_item_id={ITEM}", flags=8),
        "logout": s(DELETE, UNAUTHENTICATED, "/api/session"),
        "download-sessions": s(GET, 0, R + "/item/download-session"),
        "unknown": s(5, 0, "/api/nope/../etc?action=%41"),
    }


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.remove(os.path.join(d, f))
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, "seed-" + name), "wb") as fh:
            fh.write(data)
    print(f"{target}: {len(seeds)} seeds", file=sys.stderr)


def main():
    write("http", http_seeds())
    write("routes", routes_seeds())
    write("spec", SPEC)
    write("soap", SOAP)
    write("validate", VALIDATE)


if __name__ == "__main__":
    main()
