"""tests/bench/benchlib.py: what tests/bench/expiry.py and tests/bench/upload.py share (Python 3,
stdlib only): the failure type, the status check of an API answer, the result table and the
main wrapper."""

import json
import sys

HOST = "127.0.0.1"
SESSION_PATH = "/api/content/library/item/update-session"


class Fail(Exception):
    pass


def expect(what, got, *codes):
    """got = (status, parsed body); returns the body, raises Fail unless status is in codes."""
    status, body = got
    if status not in codes:
        raise Fail("%s: HTTP %d %s" % (what, status, json.dumps(body)[:300]))
    return body


class Table:
    """The result table: rows (metric, measured, goal, ok/MISS), goal misses collected."""

    def __init__(self):
        self.rows = []
        self.misses = []

    def row(self, metric, value, goal="", ok=None):
        mark = "" if ok is None else ("ok" if ok else "MISS")
        if ok is False:
            self.misses.append(metric)
        self.rows.append((metric, value, goal, mark))

    def write(self, title, notes, errors, tag, result, summary):
        """Prints title, the table, the notes lines, the goals missed, the errors and the line
        `TAG key=value ...` of result; the same text to the file summary (if any)."""
        head = ("metric", "measured", "goal", "")
        w = [max(len(x[i]) for x in self.rows + [head]) for i in range(3)]
        lines = ["", title, ""]
        fmt = "%%-%ds | %%-%ds | %%-%ds | %%s" % tuple(w)
        lines.append((fmt % head).rstrip())
        lines.append("-" * (sum(w) + 12))
        for x in self.rows:
            lines.append((fmt % x).rstrip())
        lines.append("")
        lines.extend(notes)
        if self.misses:
            lines.append("GOALS MISSED: " + "; ".join(m.strip() for m in self.misses))
        for e in errors:
            lines.append("ERROR: " + e)
        lines.append(tag + " " + " ".join(
            "%s=%s" % (k, ("%.3f" % v) if isinstance(v, float) else v) for k, v in sorted(result.items())))
        text = "\n".join(lines) + "\n"
        sys.stdout.write(text)
        if summary:
            with open(summary, "w") as fh:
                fh.write(text)


def run(main, name, *errors):
    """Exits with main()'s status; Fail, OSError and the other errors given end it with
    `name: message` and status 1."""
    try:
        sys.exit(main())
    except (Fail, OSError) + errors as e:
        print("%s: %s" % (name, e), file=sys.stderr)
        sys.exit(1)
