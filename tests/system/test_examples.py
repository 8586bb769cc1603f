"""tests/system/test_examples.py: the shipped examples of scripts/examples/ (issue 11) agree with
systemd, haproxy and the server's own defaults (read from `update-sessiond --help`).

  * update-sessiond.service: every key is one this file knows for its section (a typo such as
    ProtectKernelTunabels would be silently ignored by systemd, dropping a protection); the
    hardening settings are there with their values; TimeoutStopSec covers the default
    --drain-ms plus the 5 s the stop gives requests in flight. With systemd-analyze installed,
    `systemd-analyze verify` must accept the unit without a word (its binary path pointed at
    the built server), and must object to a copy with a misspelt key: proof that it checks.
  * haproxy.cfg: `haproxy -c` accepts it as shipped (defaults, no environment); health checks
    on /readyz via each instance's admin port; only conn-failure is retried; the timeouts sit
    where the comments say: haproxy's keep-alive below the instances' --idle-timeout-ms, its
    server timeout above --redis-timeout-ms, fall x inter + a check's timeout below
    --drain-ms."""

import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import ROOT, USD_BIN

EXAMPLES = os.path.join(ROOT, "scripts", "examples")
UNIT = os.path.join(EXAMPLES, "update-sessiond.service")
HAPROXY_CFG = os.path.join(EXAMPLES, "haproxy.cfg")
HAPROXY = "/usr/sbin/haproxy"
UNIT_BINARY = "/usr/local/bin/update-sessiond"   # where `make install` puts it
STOP_INFLIGHT_S = 5                             # net/main.c DRAIN_MAX_MS

# The keys this unit may use, by section (systemd.unit(5), systemd.service(5), systemd.exec(5),
# systemd.kill(5), systemd.resource-control(5)). A key not listed here is a typo until added.
KNOWN_KEYS = {
    "Unit": {"Description", "Documentation", "After", "Before", "Wants", "Requires",
             "BindsTo", "PartOf", "Conflicts", "ConditionPathExists", "StartLimitIntervalSec",
             "StartLimitBurst"},
    "Service": {
        "Type", "User", "Group", "DynamicUser", "ExecStartPre", "ExecStart", "ExecStartPost",
        "ExecReload", "ExecStop", "KillSignal", "KillMode", "TimeoutStartSec", "TimeoutStopSec",
        "Restart", "RestartSec", "Environment", "EnvironmentFile", "WorkingDirectory",
        "LimitNOFILE", "UMask", "ProtectSystem", "ReadWritePaths", "ReadOnlyPaths",
        "InaccessiblePaths", "StateDirectory", "LogsDirectory", "RuntimeDirectory",
        "ConfigurationDirectory", "ProtectHome", "PrivateTmp", "PrivateDevices",
        "PrivateUsers", "NoNewPrivileges", "CapabilityBoundingSet", "AmbientCapabilities",
        "RestrictSUIDSGID", "ProtectKernelTunables", "ProtectKernelModules",
        "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
        "ProtectProc", "ProcSubset", "RestrictNamespaces", "RestrictRealtime",
        "LockPersonality", "MemoryDenyWriteExecute", "RestrictAddressFamilies",
        "SystemCallArchitectures", "SystemCallFilter", "SystemCallErrorNumber",
        "IPAddressAllow", "IPAddressDeny", "DevicePolicy", "RemoveIPC", "MemoryMax",
        "TasksMax"},
    "Install": {"WantedBy", "RequiredBy", "Alias", "Also"},
}

# Settings the unit must have (the brief of issue 11 and README "Running a fleet").
REQUIRED = {
    "ProtectSystem": "strict",
    "ReadWritePaths": "/srv/update-sessiond",
    "NoNewPrivileges": "yes",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "SystemCallFilter": "@system-service",
    "CapabilityBoundingSet": "",
    "MemoryDenyWriteExecute": "yes",
    "LockPersonality": "yes",
    "KillSignal": "SIGTERM",
    "ExecReload": "/bin/kill -HUP $MAINPID",
    "User": "update-sessiond",
}


def parse_unit(path):
    """[(section, key, value, line number)] of a unit file; raises on a line that is neither a
    section header, a comment, blank, nor KEY=VALUE."""
    out, section = [], None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            m = re.fullmatch(r"\[([A-Za-z]+)\]", line)
            if m:
                section = m.group(1)
                continue
            m = re.fullmatch(r"([A-Za-z0-9]+)=(.*)", line)
            if not m or section is None:
                raise AssertionError("%s:%d: not a unit line: %r" % (path, n, line))
            out.append((section, m.group(1), m.group(2).strip(), n))
    return out


def server_defaults():
    """{option: default} from `update-sessiond --help` ("--drain-ms MS ... (default: 5000)")."""
    out = subprocess.run([USD_BIN, "--help"], capture_output=True, timeout=30)
    text = (out.stdout + out.stderr).decode()
    found = dict(re.findall(r"^\s+--([a-z-]+)\b.*\(default: ([^)]*)\)\s*$", text, re.M))
    if "drain-ms" not in found:
        raise AssertionError("no --drain-ms default in --help:\n" + text)
    return found


def haproxy_ms(value):
    """A haproxy time ("10s", "200ms", "2m", "500") in milliseconds."""
    m = re.fullmatch(r"(\d+)(us|ms|s|m|h|d)?", value)
    if not m:
        raise ValueError("not a haproxy time: %r" % value)
    scale = {"us": 0.001, "ms": 1, None: 1, "s": 1000, "m": 60000, "h": 3600000,
             "d": 86400000}[m.group(2)]
    return int(m.group(1)) * scale


class SystemdUnitTest(unittest.TestCase):

    def setUp(self):
        self.lines = parse_unit(UNIT)
        self.settings = {key: value for _, key, value, _ in self.lines}

    def test_every_key_known(self):
        unknown = ["%d: [%s] %s" % (n, sec, key) for sec, key, _, n in self.lines
                   if key not in KNOWN_KEYS.get(sec, ())]
        self.assertEqual(unknown, [], "keys this test does not know (a typo?)")
        self.assertEqual({sec for sec, _, _, _ in self.lines}, {"Unit", "Service", "Install"})

    def test_hardening(self):
        for key, want in REQUIRED.items():
            self.assertIn(key, self.settings, "the unit lacks %s=" % key)
            self.assertEqual(self.settings[key], want, key)
        cmd = "%s --config /etc/update-sessiond/config" % UNIT_BINARY
        self.assertEqual(self.settings["ExecStart"], cmd)
        self.assertEqual(self.settings["ExecStartPre"], cmd + " --check-config")

    def test_stop_timeout_covers_the_drain(self):
        drain_s = int(server_defaults()["drain-ms"]) / 1000.0
        stop_s = int(self.settings["TimeoutStopSec"])
        self.assertGreater(stop_s, drain_s + STOP_INFLIGHT_S,
                           "systemd would SIGKILL a draining instance")

    @unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze is not installed")
    def test_systemd_analyze_verify(self):
        if not os.access(USD_BIN, os.X_OK):
            self.fail("%s is missing (build it first)" % USD_BIN)
        with open(UNIT) as f:
            text = f.read().replace(UNIT_BINARY, USD_BIN)
        with tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "update-sessiond.service")
            with open(good, "w") as f:
                f.write(text)
            out = subprocess.run(["systemd-analyze", "verify", good], capture_output=True,
                                 timeout=60)
            said = (out.stdout + out.stderr).decode()
            self.assertEqual((out.returncode, said), (0, ""), "systemd-analyze verify")
            # The check can fail: a misspelt key is reported (with exit code 0, hence the
            # test on the output above).
            bad = os.path.join(d, "typo.service")
            with open(bad, "w") as f:
                f.write(text.replace("ProtectKernelTunables=", "ProtectKernelTunabels="))
            out = subprocess.run(["systemd-analyze", "verify", bad], capture_output=True,
                                 timeout=60)
            self.assertIn("ProtectKernelTunabels", (out.stdout + out.stderr).decode())


class HaproxyConfigTest(unittest.TestCase):

    def setUp(self):
        with open(HAPROXY_CFG) as f:
            self.lines = [ln.split("#", 1)[0].strip() for ln in f]
        self.lines = [ln for ln in self.lines if ln]
        self.defaults = server_defaults()

    def directive(self, *words):
        """The arguments of every line starting with words."""
        n = len(words)
        return [ln.split()[n:] for ln in self.lines if ln.split()[:n] == list(words)]

    def only(self, *words):
        found = self.directive(*words)
        self.assertEqual(len(found), 1, "want one '%s' line, got %r" % (" ".join(words), found))
        return found[0]

    @unittest.skipUnless(os.access(HAPROXY, os.X_OK), "haproxy is not installed")
    def test_haproxy_accepts_it_as_shipped(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("USD_")}
        out = subprocess.run([HAPROXY, "-c", "-f", HAPROXY_CFG], env=env, capture_output=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, (out.stdout + out.stderr).decode())

    def test_checks_and_retries(self):
        self.assertEqual(self.only("option", "httpchk"), ["GET", "/readyz"])
        self.assertEqual(self.only("http-check", "expect"), ["status", "200"])
        self.assertEqual(self.only("http-reuse"), ["safe"])
        # a create is not idempotent without client_token: retry only what was never sent
        self.assertEqual(self.only("retry-on"), ["conn-failure"])
        servers = self.directive("server")
        self.assertEqual(len(servers), 3)
        for args in servers:
            self.assertIn("check", args)
            self.assertIn("port", args, "the check goes to the admin listener")

    def test_timeouts_fit_the_server(self):
        keep_alive = haproxy_ms(self.only("timeout", "http-keep-alive")[0])
        self.assertLess(keep_alive, int(self.defaults["idle-timeout-ms"]))
        server = haproxy_ms(self.only("timeout", "server")[0])
        self.assertGreater(server, int(self.defaults["redis-timeout-ms"]))
        args = self.only("default-server")
        inter = re.fullmatch(r'"\$\{USD_CHECK_INTER-([^}]+)\}"', args[args.index("inter") + 1])
        self.assertTrue(inter, args)
        fall = int(args[args.index("fall") + 1])
        check = haproxy_ms(self.only("timeout", "check")[0])
        self.assertLess(fall * haproxy_ms(inter.group(1)) + check, int(self.defaults["drain-ms"]),
                        "an instance would stop before haproxy takes it out")


if __name__ == "__main__":
    unittest.main()
