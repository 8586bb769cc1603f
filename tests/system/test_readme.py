"""The README's curl walk-through, executed verbatim (issue 11): its commands are taken from
README.md (the first ```sh block under "## A walk-through with curl") and run by bash against a
real server, from a directory holding var/admin-password as `make run` leaves it, so the docs
cannot drift from what the server does."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, USERS, ServerTestCase  # noqa: E402


def walkthrough():
    """The shell commands of the README's curl walk-through."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    section = text.split("## A walk-through with curl", 1)[1]
    m = re.search(r"```sh\n(.*?)```", section, re.S)
    if not m:
        raise AssertionError("README.md: no ```sh block under 'A walk-through with curl'")
    return m.group(1)


class ReadmeWalkthroughTest(ServerTestCase):
    def test_walkthrough_verbatim(self):
        script = walkthrough()
        with tempfile.TemporaryDirectory() as cwd:
            os.makedirs(os.path.join(cwd, "var"))
            with open(os.path.join(cwd, "var", "admin-password"), "w") as f:
                f.write(USERS["admin"][0] + "\n")
            # set -x: every command is echoed to stderr, so a failure shows which one
            out = subprocess.run(["bash", "-euo", "pipefail", "-x", "-c", script], cwd=cwd,
                                 capture_output=True, timeout=60,
                                 env=dict(os.environ, URL=self.server.url))
        stdout, stderr = out.stdout.decode(), out.stderr.decode()
        what = "stdout:\n%s\nstderr:\n%s" % (stdout, stderr[-3000:])
        self.assertEqual(out.returncode, 0, what)
        # get, list (yours), list of the item: the session, ACTIVE
        self.assertIn('"state":"ACTIVE"', stdout, what)
        sid = re.search(r'"id":"([^"]+)"', stdout)
        self.assertTrue(sid, what)
        self.assertGreaterEqual(stdout.count(sid.group(1)), 3, what)
        # the second create on the item: RESOURCE_BUSY naming the caller's own session
        self.assertIn('"error_type":"RESOURCE_BUSY"', stdout, what)
        # no command answered 401/404 along the way (a broken token or id)
        for bad in ("UNAUTHENTICATED", "NOT_FOUND", "INVALID_ARGUMENT"):
            self.assertNotIn(bad, stdout, what)


if __name__ == "__main__":
    unittest.main()
