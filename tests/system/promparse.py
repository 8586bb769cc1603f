"""tests/system/promparse.py: a strict parser of the Prometheus text exposition format 0.0.4,
for the tests of GET /metrics. Stricter than Prometheus itself where the format leaves room for
sloppiness: every family must have exactly one HELP and one TYPE line, before its samples; the
samples of a family are contiguous; no series twice; counters are non-negative and end in
_total; a histogram has, per label set, buckets with strictly increasing "le" ending at "+Inf",
cumulative (non-decreasing) counts, the +Inf count equal to _count, and _sum and _count.

parse(text) -> {family name: Family}; raises ParseError naming the line."""

import math
import re

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


class ParseError(ValueError):
    pass


class Family:
    def __init__(self, name):
        self.name = name
        self.help = None
        self.type = None
        self.samples = []  # (sample name, {label: value}, float)

    def value(self, sample=None, **labels):
        """The value of the one sample with exactly these labels (sample defaults to the
        family name); KeyError when absent."""
        want = sample or self.name
        for n, lab, v in self.samples:
            if n == want and lab == labels:
                return v
        raise KeyError("%s%r" % (want, labels))

    def series(self, sample=None):
        want = sample or self.name
        return [(lab, v) for n, lab, v in self.samples if n == want]


def parse_float(text, where):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*([eE][-+]?\d+)?|\.\d+([eE][-+]?\d+)?)", text):
        raise ParseError("%s: bad number %r" % (where, text))
    return float(text)


def _unescape(text, where, allowed):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text) or text[i + 1] not in allowed:
                raise ParseError("%s: bad escape in %r" % (where, text))
            out.append({"\\": "\\", "n": "\n", '"': '"'}[text[i + 1]])
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _labels(text, where):
    """Parses 'a="x",b="y"' (the inside of the braces)."""
    labels, i = {}, 0
    while i < len(text):
        m = LABEL_RE.match(text, i)
        if not m:
            raise ParseError("%s: bad label name at %r" % (where, text[i:]))
        name = m.group(0)
        if name.startswith("__"):
            raise ParseError("%s: reserved label name %r" % (where, name))
        i = m.end()
        if text[i:i + 2] != '="':
            raise ParseError("%s: want =\" after label %r" % (where, name))
        i += 2
        j = i
        while j < len(text) and text[j] != '"':
            j += 2 if text[j] == "\\" else 1
        if j >= len(text):
            raise ParseError("%s: unterminated label value" % where)
        if name in labels:
            raise ParseError("%s: label %r twice" % (where, name))
        labels[name] = _unescape(text[i:j], where, '\\n"')
        i = j + 1
        if i < len(text):
            if text[i] != ",":
                raise ParseError("%s: want ',' between labels, got %r" % (where, text[i:]))
            i += 1
            if i == len(text):
                break  # a trailing comma is allowed by the format
    return labels


def _family_of(sample, families):
    """The declared family a sample name belongs to (histogram suffixes stripped)."""
    if sample in families:
        return sample
    for suffix in ("_bucket", "_sum", "_count"):
        if sample.endswith(suffix):
            base = sample[:-len(suffix)]
            if base in families and families[base].type in ("histogram", "summary"):
                return base
    return None


def _check_histogram(fam):
    groups = {}
    for name, labels, value in fam.samples:
        if name == fam.name + "_bucket":
            if "le" not in labels:
                raise ParseError("%s: a bucket without le" % fam.name)
            rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
            groups[rest]["buckets"].append((parse_float(labels["le"], fam.name), value,
                                            labels["le"]))
        elif name in (fam.name + "_sum", fam.name + "_count"):
            if "le" in labels:
                raise ParseError("%s: le on %s" % (fam.name, name))
            rest = tuple(sorted(labels.items()))
            groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
            groups[rest]["sum" if name.endswith("_sum") else "count"] = value
        else:
            raise ParseError("%s: sample %s in a histogram" % (fam.name, name))
    for rest, g in groups.items():
        where = "%s%s" % (fam.name, dict(rest))
        b = g["buckets"]
        if not b:
            raise ParseError("%s: no buckets" % where)
        if g["sum"] is None or g["count"] is None:
            raise ParseError("%s: _sum or _count missing" % where)
        les = [x[0] for x in b]
        if any(les[i] >= les[i + 1] for i in range(len(les) - 1)):
            raise ParseError("%s: le not strictly increasing: %r" % (where, [x[2] for x in b]))
        if b[-1][2] != "+Inf":
            raise ParseError("%s: the last bucket is le=%r, not +Inf" % (where, b[-1][2]))
        counts = [x[1] for x in b]
        if any(counts[i] > counts[i + 1] for i in range(len(counts) - 1)):
            raise ParseError("%s: bucket counts not cumulative: %r" % (where, counts))
        if counts[-1] != g["count"]:
            raise ParseError("%s: +Inf bucket %r != _count %r" % (where, counts[-1], g["count"]))
        if g["sum"] < 0 or g["count"] < 0:
            raise ParseError("%s: negative _sum or _count" % where)


def parse(text):
    if text and not text.endswith("\n"):
        raise ParseError("the exposition does not end with a newline")
    families = {}
    seen_series = set()
    done = set()       # families whose samples ended (another family's sample came)
    current = None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        where = "line %d" % lineno
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not NAME_RE.fullmatch(name):
                    raise ParseError("%s: bad metric name %r" % (where, name))
                fam = families.setdefault(name, Family(name))
                if name in done or (fam.samples and current != name):
                    raise ParseError("%s: %s of %s after its samples" % (where, parts[1], name))
                if parts[1] == "HELP":
                    if fam.help is not None:
                        raise ParseError("%s: second HELP for %s" % (where, name))
                    fam.help = _unescape(parts[3] if len(parts) > 3 else "", where, "\\n")
                else:
                    if fam.type is not None:
                        raise ParseError("%s: second TYPE for %s" % (where, name))
                    if len(parts) != 4 or parts[3] not in TYPES:
                        raise ParseError("%s: bad TYPE line %r" % (where, line))
                    if fam.samples:
                        raise ParseError("%s: TYPE of %s after its samples" % (where, name))
                    fam.type = parts[3]
                if current is not None and current != name:
                    done.add(current)
                current = name
            continue  # any other comment
        m = NAME_RE.match(line)
        if not m:
            raise ParseError("%s: bad sample line %r" % (where, line))
        sample = m.group(0)
        rest = line[m.end():]
        labels = {}
        if rest.startswith("{"):
            close = -1
            i, inq = 1, False
            while i < len(rest):
                c = rest[i]
                if inq and c == "\\":
                    i += 2
                    continue
                if c == '"':
                    inq = not inq
                elif c == "}" and not inq:
                    close = i
                    break
                i += 1
            if close < 0:
                raise ParseError("%s: unterminated label set" % where)
            labels = _labels(rest[1:close], where)
            rest = rest[close + 1:]
        if not rest.startswith(" "):
            raise ParseError("%s: want a space before the value in %r" % (where, line))
        fields = rest.strip(" ").split(" ")
        if len(fields) not in (1, 2):
            raise ParseError("%s: want value [timestamp], got %r" % (where, rest))
        value = parse_float(fields[0], where)
        if len(fields) == 2 and not re.fullmatch(r"-?\d+", fields[1]):
            raise ParseError("%s: bad timestamp %r" % (where, fields[1]))
        fname = _family_of(sample, families)
        if fname is None or families[fname].type is None or families[fname].help is None:
            raise ParseError("%s: sample %s without HELP and TYPE before it" % (where, sample))
        if fname in done:
            raise ParseError("%s: samples of %s are not contiguous" % (where, fname))
        if current is not None and current != fname:
            done.add(current)
        current = fname
        key = (sample, tuple(sorted(labels.items())))
        if key in seen_series:
            raise ParseError("%s: series %s%r twice" % (where, sample, labels))
        seen_series.add(key)
        fam = families[fname]
        if fam.type == "counter":
            if not fname.endswith("_total"):
                raise ParseError("%s: counter %s does not end in _total" % (where, fname))
            if not value >= 0:
                raise ParseError("%s: counter %s is %r" % (where, fname, value))
        fam.samples.append((sample, labels, value))
    for fam in families.values():
        if fam.help is None or fam.type is None:
            raise ParseError("family %s lacks HELP or TYPE" % fam.name)
        if fam.type == "histogram":
            _check_histogram(fam)
    return families
