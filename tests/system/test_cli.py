"""The command-line contract: --help, bad options, the ready line on stderr, SIGINT/SIGTERM
stop with exit code 0."""

import signal
import socket
import subprocess
import time
import unittest

from harness import STOP_TIMEOUT, USD_BIN, ApiTestCase, Server


class CliTest(ApiTestCase):

    def run_bin(self, *args):
        return subprocess.run([USD_BIN] + list(args), capture_output=True, timeout=30,
                              stdin=subprocess.DEVNULL)

    def test_help(self):
        out = self.run_bin("--help")
        self.assertEqual(out.returncode, 0, out.stderr[-2000:])
        text = (out.stdout + out.stderr).decode("utf-8", "replace")
        for flag in ("--listen", "--redis", "--storage-dir", "--users-file", "--key-prefix",
                     "--redis-timeout-ms", "--max-body-bytes", "--json-max-depth"):
            self.assertIn(flag, text)

    def test_unknown_option_fails(self):
        out = self.run_bin("--no-such-option")
        self.assertNotEqual(out.returncode, 0)
        self.assertTrue(out.stderr, "an error message on stderr is expected")

    def test_ready_line_and_sigint(self):
        srv = Server()
        try:
            deadline = time.monotonic() + 5
            want = "update-sessiond listening on http://127.0.0.1:%d" % srv.port
            while want not in srv.log() and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIn(want, srv.log())
            srv.proc.send_signal(signal.SIGINT)
            rc = srv.proc.wait(STOP_TIMEOUT)
            self.assertEqual(rc, 0, srv.log())
            srv.cleanup()
        finally:
            srv.kill9()

    def test_sigterm_with_open_idle_connection(self):
        """An idle keep-alive client must not keep the server from stopping."""
        srv = Server()
        try:
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            try:
                srv.stop()
            finally:
                s.close()
        finally:
            srv.kill9()


if __name__ == "__main__":
    unittest.main()
