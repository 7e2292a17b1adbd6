# SPDX-License-Identifier: Apache-2.0
"""The malformed-input corpus: one table row per case, each saying how to build the input, the
command, the exit code the contract expects and where the message must point.

Fields of a case (see README.md next to this file):
  fmt     npy | csv | hdf5 | side | policy | manifest | graph | report
  name    unique within the format
  build   fn(c): writes the case's input files into c.dir (the valid input is written first by
          the format's default builder unless base=False)
  expect  2 (bad input), 3 (genuine resource error), "finding" (legal but odd: exit 0 or 1 and a
          complete new report), or "any" (a bit flip that may or may not hit metadata: exit 0,
          1 or 2, never a signal or a hang; exit 2 must then meet the bad-input contract)
  file    the file the message must name, relative to the case's input folder (default the
          format's input file); the message must give it as the command did (.../in/FILE)
  place   regex (case-insensitive) the message must match: the row/line/column/dataset/key or
          offset, or what was refused
  args    extra command-line arguments (strings; {in} and {out} are replaced)
  part    the part of issue 14 whose fix this case checks, when it is one of the known defects
  within  True: a tiny file declaring huge sizes; refused within 1 s and 100 MB over a valid scan
  check   fn(report_dict) -> error text or None, for "finding" cases
"""
import json
import os
import re

import numpy as np

import base
from base import D, N

CASES = []


class Case:
    def __init__(self, fmt, name, build, expect=2, file=None, place=None, args=(), part=None,
                 within=False, check=None, cmd=None, note=""):
        self.fmt, self.name, self.build, self.expect = fmt, name, build, expect
        self.file, self.place, self.args, self.part = file, place, list(args), part
        self.within, self.check, self.cmd, self.note = within, check, cmd, note


def case(fmt, name, build, expect=2, **kw):
    if any(c.fmt == fmt and c.name == name for c in CASES):
        raise SystemExit("duplicate case %s/%s" % (fmt, name))
    CASES.append(Case(fmt, name, build, expect, **kw))


def has_finding(kind):
    def check(rep):
        n = rep.get("summary", {}).get("findings_by_kind", {}).get(kind, 0)
        return None if n else "expected a '%s' finding in report.json, found none" % kind
    return check


# ---------------------------------------------------------------------------------------------
# npy: the embeddings file emb.npy (labels.npy valid)

X, Y, IDS = base.arrays()
BODY = X.tobytes()
H = base.npy_header


def npy(name, header=None, body=BODY, expect=2, place=None, **kw):
    raw = kw.pop("raw", None)
    npkw = {k: kw.pop(k) for k in ("version", "magic", "hlen", "pad", "encoding") if k in kw}

    labels = kw.pop("labels", None)

    def build(c):
        data = raw if raw is not None else base.npy_raw(header if header is not None else H(),
                                                        body, **npkw)
        base.write(c.p("emb.npy"), data)
        if labels is not None:  # labels agreeing with the header, so only the body is at fault
            np.save(c.p("labels.npy"), Y[:labels])
    case("npy", name, build, expect, place=place, **kw)


MAGIC = r"magic|not a numpy|\.npy file"
HDR = r"header"
OFF = r"|byte \d+"  # an offset in the file is a place too
DESCR = r"descr|dtype" + OFF
npy("empty-file", raw=b"", place=MAGIC + r"|empty|0 bytes|size")
npy("bad-magic", raw=b"junk" * 40, place=MAGIC)
npy("magic-only", raw=b"\x93NUMPY", place=MAGIC + r"|truncated|version|header")
npy("magic-version-only", raw=b"\x93NUMPY\x01\x00", place=r"truncated|header|length|version")
npy("magic-lowercase", raw=base.npy_raw(H(), BODY, magic=b"\x93numpy"), place=MAGIC)
npy("version-0.0", H(), version=(0, 0), place=r"version")
npy("version-4.0", H(), version=(4, 0), place=r"version")
npy("version-1.1", H(), version=(1, 1), place=r"version")
npy("version-255.0", H(), version=(255, 0), place=r"version")
npy("header-len-past-eof", H(), hlen=0xFFFF, place=HDR + r"|length|truncated|size")
npy("header-len-zero", H(), hlen=0, place=HDR)
npy("header-len-short", H(), hlen=20, place=HDR)
npy("header-len-huge-v2", H(), version=(2, 0), hlen=0xFFFFFFF0, place=HDR + r"|length|size",
    within=True)
npy("header-not-dict", "'hello'", place=HDR + r"|dict")
npy("header-garbage-bytes", b"\xff\xfe\x00\x01" * 8, place=HDR)
npy("header-nul-inside", "{'descr': '<f4',\x00 'fortran_order': False, 'shape': (60, 8), }",
    place=HDR)
npy("header-unclosed-dict", "{'descr': '<f4', 'fortran_order': False, 'shape': (60, 8), ",
    place=HDR)
npy("header-python-expression",
    "{'descr': __import__('os').system('touch pwned'), 'fortran_order': False, 'shape': (60, 8)}",
    place=r"descr|header")
npy("missing-descr", "{'fortran_order': False, 'shape': (60, 8), }", place=r"descr")
npy("missing-shape", "{'descr': '<f4', 'fortran_order': False, }", place=r"shape")
npy("missing-fortran-order", "{'descr': '<f4', 'shape': (60, 8), }", place=r"fortran_order")
npy("extra-key", H(extra="'extra': 1,"), place=r"extra|key")
npy("duplicate-descr-key", "{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, "
    "'shape': (60, 8), }", place=r"descr|duplicate")
npy("descr-trailing-nul", H("'<f4\\x00'"), place=DESCR, part="2/4 (npy descr)")
npy("descr-literal-nul", H("'<f4\x00'"), place=DESCR, part="2/4 (npy descr)")
npy("descr-trailing-space", H("'<f4 '"), place=DESCR)
npy("descr-empty", H("''"), place=DESCR)
npy("descr-big-endian", H("'>f4'"), place=r"descr|big-endian|byte order")
npy("descr-object", H("'|O'"), body=b"\x80\x04" + b"\x00" * 100, place=r"descr|object|pickle")
npy("descr-complex", H("'<c8'"), body=X.astype(np.complex64).tobytes(), place=r"descr|complex")
npy("descr-unicode", H("'<U4'"), body=b"\x00" * (N * D * 16), place=DESCR)
npy("descr-structured", H("[('a', '<f4'), ('b', '<f4')]", shape="(60, 4)"), place=DESCR)
npy("descr-f16", H("'<f16'"), body=b"\x00" * (N * D * 16), place=DESCR)
npy("descr-not-string", H("4"), place=DESCR)
npy("fortran-order-true", H(fortran="True"), place=r"fortran")
npy("fortran-order-string", H(fortran="'no'"), place=r"fortran" + OFF)
npy("shape-scalar", H(shape="()"), body=BODY[:4], place=r"shape")
npy("shape-1d", H(shape="(480,)"), place=r"shape|2-d|dimension")
npy("shape-3d", H(shape="(60, 8, 1)"), place=r"shape|2-d|dimension")
npy("shape-negative", H(shape="(-60, 8)"), place=r"shape" + OFF)
npy("shape-float", H(shape="(60.5, 8)"), place=r"shape" + OFF)
npy("shape-string", H(shape="('60', 8)"), place=r"shape" + OFF)
npy("shape-zero-dims", H(shape="(60, 0)"), body=b"", place=r"shape|dim|column|feature")
npy("shape-zero-rows", H(shape="(0, 8)"), body=b"", place=r"shape|rows|k = ")
npy("shape-more-than-file", H(shape="(60, 9)"), place=r"size|bytes|truncated|shape")
# Bytes after the declared data are accepted, as np.load accepts them (docs/limits.md); the
# file's SHA-256 in report.json covers them.
npy("trailing-bytes", H(shape="(50, 8)"), labels=50, expect="finding")
npy("truncated-body", H(), body=BODY[: len(BODY) // 2], place=r"size|bytes|truncated|shape")
npy("truncated-mid-header", raw=base.npy_raw(H(), BODY)[:40], place=HDR + r"|truncated")
npy("huge-rows-tiny-file", H(shape="(1000000000000, 8)"), body=BODY[:64],
    place=r"size|bytes|truncated|shape|rows", within=True)
npy("huge-dims-tiny-file", H(shape="(60, 4000000000)"), body=BODY[:64],
    place=r"size|bytes|truncated|shape|dim", within=True)
npy("shape-product-overflow", H(shape="(4611686018427387904, 4611686018427387904)"),
    body=BODY[:64], place=r"shape|size|overflow|bytes", within=True)
npy("v3-header-bad-utf8", H().encode("latin1").replace(b"'descr'", b"'d\xffscr'"),
    version=(3, 0), place=HDR + r"|utf-8|descr")
npy("nan-row-is-finding", H(), body=np.where(np.arange(N)[:, None] == 7, np.nan, X)
    .astype(np.float32).tobytes(), expect="finding", check=has_finding("integrity"))
npy("inf-row-is-finding", H(), body=np.where(np.arange(N)[:, None] == 9, np.inf, X)
    .astype(np.float32).tobytes(), expect="finding", check=has_finding("integrity"))
npy("version-2-is-legal", H(), version=(2, 0), expect="finding")
npy("version-3-is-legal", H(), version=(3, 0), expect="finding")
npy("float64-is-legal", H("'<f8'"), body=X.astype("<f8").tobytes(), expect="finding")
npy("int8-u1-is-legal", H("'|u1'"), body=(np.abs(X) * 10).astype("u1").tobytes(),
    expect="finding")
npy("unpadded-header-is-legal", H() + "\n", pad=False, expect="finding")


def npy_special(name, make, place, **kw):
    case("npy", name, make, place=place, **kw)


npy_special("directory", lambda c: os.mkdir(c.p("emb.npy")), r"directory|regular|is a dir")
npy_special("missing-file", lambda c: None, r"no such file|not found|cannot open|missing")
npy_special("fifo", lambda c: c.fifo("emb.npy"), r"regular|fifo|pipe", part="2 (non-regular)")
npy_special("dev-zero-symlink", lambda c: os.symlink("/dev/zero", c.p("emb.npy")),
            r"regular|device", part="2 (non-regular)")

# Text labels and ids (np.save of a str or bytes array) are read; pickles and bad code points not.


def with_emb(write_other):
    def build(c):
        base.write(c.p("emb.npy"), base.npy_raw(H(), BODY))
        write_other(c)
    return build


LAB = lambda arr: with_emb(lambda c: np.save(c.p("labels.npy"), arr))  # noqa: E731
npy_special("labels-unicode-is-legal", LAB(np.array(["c%d" % v for v in Y])), None,
            expect="finding")
npy_special("labels-unicode-bigendian-is-legal", LAB(np.array(["c%d" % v for v in Y], dtype=">U3")),
            None, expect="finding")
npy_special("labels-bytes-is-legal", LAB(np.array([b"c%d" % v for v in Y])), None,
            expect="finding")
npy_special("ids-unicode-is-legal", with_emb(lambda c: np.save(c.p("ids.npy"), IDS)), None,
            expect="finding", args=["--ids-file", "{in}/ids.npy"])
npy_special("labels-object", with_emb(lambda c: np.save(c.p("labels.npy"), np.array(
    ["c%d" % v for v in Y], dtype=object), allow_pickle=True)), r"object|pickle",
    file="labels.npy")
npy_special("labels-unicode-surrogate", with_emb(lambda c: base.write(c.p("labels.npy"), base.npy_raw(
    H("'<U1'", shape="(%d,)" % N), np.array([97] * 7 + [0xDC00] + [97] * (N - 8), "<u4")
    .tobytes()))), r"row 7", file="labels.npy")
npy_special("labels-unicode-over-label-limit", LAB(np.array(["L" * 2000] * N)),
            r"row 0|max-label-bytes", file="labels.npy", args=["--max-label-bytes", "1000"])

# ---------------------------------------------------------------------------------------------
# csv: d.csv with columns id,label,f0..f7; physical line 1 is the header, row i is line i + 2.


def csv(name, mutate=None, raw=None, expect=2, place=None, **kw):
    def build(c):
        if raw is not None:
            data = raw() if callable(raw) else raw
        else:
            lines = base.csv_lines()
            out = mutate(lines)
            data = out if isinstance(out, bytes) else ("\n".join(lines) + "\n").encode()
        base.write(c.p("d.csv"), data)
    case("csv", name, build, expect, place=place, **kw)


def setl(i, text):
    def m(lines):
        lines[i] = text(lines[i]) if callable(text) else text
    return m


def cell(line, col, value):
    f = line.split(",")
    f[col] = value
    return ",".join(f)


def to_bytes(fn):
    def m(lines):
        return fn(("\n".join(lines) + "\n").encode())
    return m


LINE = lambda n: r"(line |:)%d\b" % n  # noqa: E731
csv("empty-file", raw=b"", place=r"empty|header|line 1|:1\b")
csv("header-only", lambda L: L.__delitem__(slice(1, None)), place=r"rows|no data|k = |empty")
csv("ragged-short", setl(4, lambda s: s.rsplit(",", 1)[0]), place=LINE(5))
csv("ragged-long", setl(6, lambda s: s + ",1.0"), place=LINE(7))
csv("nul-in-label", setl(3, lambda s: cell(s, 1, "c\x001")), place=LINE(4), part="2/4 (CSV NUL)")
csv("nul-in-feature", setl(3, lambda s: cell(s, 4, "1.\x005")), place=LINE(4),
    part="2/4 (CSV NUL)")
csv("nul-in-header", setl(0, lambda s: s.replace("f3", "f\x003")), place=LINE(1),
    part="2/4 (CSV NUL)")
csv("unterminated-quote", setl(9, lambda s: cell(s, 1, '"c1')), place=LINE(10) + r"|quote")
csv("quote-inside-bare-field", setl(5, lambda s: cell(s, 3, '1"2')), place=LINE(6))
csv("non-numeric-feature", setl(6, lambda s: cell(s, 5, "abc")), place=LINE(7) + r".*f3|f3.*"
    + LINE(7))
csv("numeric-trailing-garbage", setl(8, lambda s: cell(s, 2, "1.5x")), place=LINE(9))
csv("numeric-hex-words", setl(8, lambda s: cell(s, 2, "0xZZ")), place=LINE(9))
# An empty feature cell is a missing value (pandas writes NaN so): an integrity finding.
csv("empty-feature-cell-is-finding", setl(10, lambda s: cell(s, 6, "")), expect="finding",
    check=has_finding("integrity"))
csv("empty-label-cell", setl(12, lambda s: cell(s, 1, "")), place=LINE(13))
csv("missing-label-column", lambda L: [L.__setitem__(i, cell(L[i], 1, "x" if i else "lbl"))
                                       for i in range(len(L))], place=r"label")
csv("missing-label-column-option", lambda L: None, args=["--label-column", "klass"],
    place=r"klass")
csv("missing-id-column-option", lambda L: None, args=["--id-column", "rowid"], place=r"rowid")
csv("missing-feature-column", lambda L: None, args=["--feature-columns", "f0,f1,nope"],
    place=r"nope")
csv("duplicate-feature-names", setl(0, lambda s: s.replace("f3", "f2")), place=r"f2|duplicate")
csv("duplicate-label-column", setl(0, lambda s: s.replace("f3", "label")),
    place=r"label|duplicate")
csv("empty-header-name", setl(0, lambda s: s.replace("f3", "")), place=LINE(1) + r"|column 6"
    + r"|empty")
csv("trailing-comma-header", setl(0, lambda s: s + ","), place=LINE(1) + r"|empty|field")
csv("huge-field", setl(3, lambda s: cell(s, 1, "a" * (2 << 20))), place=LINE(4) + r"|field",
    part="2 (field limit)")
csv("huge-label-over-label-limit", setl(3, lambda s: cell(s, 1, "L" * 5000)),
    place=LINE(4) + r"|label", part="2 (label limit)")
csv("huge-line-many-columns", setl(3, lambda s: s + ",0" * 1100000), place=LINE(4),
    part="2 (line/dims limit)")
csv("huge-single-line-no-newline", raw=lambda: b"a" * (3 << 20), place=r"field|limit|long|bytes",
    part="2 (field limit)")
csv("crlf-is-legal", to_bytes(lambda b: b.replace(b"\n", b"\r\n")), expect="finding")
csv("mixed-eol-is-legal", to_bytes(lambda b: b.replace(b"\n", b"\r\n", 20)), expect="finding")
csv("utf8-bom-is-legal", to_bytes(lambda b: b"\xef\xbb\xbf" + b), expect="finding")
csv("quoted-fields-are-legal", lambda L: [L.__setitem__(i, ",".join('"%s"' % f for f in
                                                                      L[i].split(",")))
                                          for i in range(len(L))], expect="finding")
csv("quoted-newline-in-label-is-legal", setl(5, lambda s: cell(s, 1, '"c\n1"')),
    expect="finding")
csv("error-after-quoted-newline-names-physical-line",
    lambda L: [setl(5, lambda s: cell(s, 1, '"c\n1"'))(L),
               setl(9, lambda s: cell(s, 4, "zz"))(L)], place=LINE(11))
csv("nan-cell-is-finding", setl(7, lambda s: cell(s, 3, "nan")), expect="finding",
    check=has_finding("integrity"))
csv("inf-cell-is-finding", setl(7, lambda s: cell(s, 3, "inf")), expect="finding",
    check=has_finding("integrity"))
csv("utf16-bom", to_bytes(lambda b: b"\xff\xfe" + b.decode().encode("utf-16-le")),
    place=LINE(1) + r"|utf|encoding|binary|label")
csv("cr-only-line-ends-are-legal", to_bytes(lambda b: b.replace(b"\n", b"\r")),
    expect="finding")
csv("semicolon-separated", to_bytes(lambda b: b.replace(b",", b";")), place=r"label")
csv("binary-garbage", raw=lambda: bytes(np.random.default_rng(1).integers(0, 256, 4096,
                                                                          dtype=np.uint8)),
    place=r"line|header|label|binary|:\d+:\d+", args=["--format", "csv"])
csv("gzip-bytes", raw=lambda: b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4,
    place=r"line|header|label|binary|gzip", args=["--format", "csv"])
# Refused: two different invalid labels would both become U+FFFD in the UTF-8 reports.
csv("invalid-utf8-label-is-legal", None, place=r"UTF-8")
csv("too-few-rows-for-k", lambda L: L.__delitem__(slice(6, None)), place=r"k = |rows")
csv("blank-line-in-middle-is-legal", lambda L: L.insert(8, ""), expect="finding")
csv("only-header-and-blank", raw=b"id,label,f0\n\n\n", place=r"rows|k = |line|empty")
csv("directory", raw=None, mutate=None, place=r"directory|regular")
csv("dev-zero-symlink", raw=None, mutate=None, place=r"regular|device", part="2 (non-regular)")
csv("fifo-endless-zeros", raw=None, mutate=None, place=r"regular|fifo|pipe",
    part="2 (non-regular)")


def _fix_specials():
    # a few CSV cases need a file system object instead of bytes, and one needs raw latin-1
    for c in CASES:
        if c.fmt != "csv":
            continue
        if c.name == "directory":
            c.build = lambda cc: os.mkdir(cc.p("d.csv"))
        elif c.name == "dev-zero-symlink":
            c.build = lambda cc: os.symlink("/dev/zero", cc.p("d.csv"))
        elif c.name == "fifo-endless-zeros":
            c.build = lambda cc: cc.fifo("d.csv")
        elif c.name == "invalid-utf8-label-is-legal":
            def b(cc):
                lines = base.csv_lines()
                data = ("\n".join(lines) + "\n").encode()
                data = data.replace(b"r03,c0,", b"r03,c\xff\xfe,", 1)
                base.write(cc.p("d.csv"), data)
            c.build = b


_fix_specials()

# ---------------------------------------------------------------------------------------------
# hdf5: d.h5 with /embeddings [60, 8] float32, /labels int64, /ids strings


def h5(name, build, expect=2, place=None, **kw):
    case("hdf5", name, build, expect, place=place, **kw)


def h5w(**kw):
    return lambda c: base.write_h5(c.p("d.h5"), **kw)


def h5edit(fn):
    def build(c):
        import h5py
        base.write_h5(c.p("d.h5"))
        with h5py.File(c.p("d.h5"), "r+") as f:
            fn(f)
    return build


def h5trunc(frac=None, nbytes=None):
    def build(c):
        base.write_h5(c.p("d.h5"))
        base.truncate(c.p("d.h5"), nbytes if nbytes is not None else
                      int(base.size(c.p("d.h5")) * frac))
    return build


def replace_ds(name, data, **kw):
    def fn(f):
        del f[name]
        f.create_dataset(name, data=data, **kw)
    return fn


HUGE = r"storage|bytes|file size|damaged|hostile|declare|holds"
DS = lambda n: r"/?%s" % n  # noqa: E731
DAMAGE = r"damaged|hostile|corrupt|truncated|not an hdf5|signature|cannot open|eof|size"
h5("empty-file", lambda c: base.write(c.p("d.h5"), b""), place=DAMAGE + r"|empty|format",
   args=["--format", "hdf5"])
h5("text-file", lambda c: base.write(c.p("d.h5"), b"hello\n" * 100), place=DAMAGE + r"|format",
   args=["--format", "hdf5"])
h5("signature-only", lambda c: base.write(c.p("d.h5"), b"\x89HDF\r\n\x1a\n"), place=DAMAGE)
for frac in (0.9, 0.5, 0.25):
    h5("truncated-%d%%" % int(frac * 100), h5trunc(frac), place=DAMAGE)
h5("truncated-to-1k", h5trunc(nbytes=1024), place=DAMAGE)
h5("truncated-to-100b", h5trunc(nbytes=100), place=DAMAGE)
h5("missing-embeddings", h5w(x=False), place=DS("embeddings"))
h5("missing-labels", h5w(y=False), place=DS("labels"))
h5("embeddings-is-group", h5edit(lambda f: (f.__delitem__("embeddings"),
                                            f.create_group("embeddings"))),
   place=DS("embeddings"))
h5("embeddings-1d", h5edit(replace_ds("embeddings", X.ravel())), place=DS("embeddings"))
h5("embeddings-3d", h5edit(replace_ds("embeddings", X.reshape(N, 2, 4))),
   place=DS("embeddings"))
h5("embeddings-scalar", h5edit(replace_ds("embeddings", np.float32(1))), place=DS("embeddings"))
h5("embeddings-strings", h5edit(replace_ds("embeddings", np.array([[b"x"] * D] * N))),
   place=DS("embeddings"))
h5("embeddings-compound", h5edit(replace_ds(
    "embeddings", np.zeros((N, D), dtype=[("a", "<f4"), ("b", "<f4")]))), place=DS("embeddings"))
h5("embeddings-complex", h5edit(replace_ds("embeddings", X.astype(np.complex64))),
   place=DS("embeddings"))
h5("embeddings-zero-rows", h5edit(replace_ds("embeddings", np.zeros((0, D), "f4"))),
   place=DS("embeddings") + r"|rows")
h5("embeddings-zero-dims", h5edit(replace_ds("embeddings", np.zeros((N, 0), "f4"))),
   place=DS("embeddings") + r"|dim")
h5("embeddings-null-dataspace", h5edit(lambda f: (f.__delitem__("embeddings"),
                                                  f.create_dataset("embeddings",
                                                                   data=__import__("h5py")
                                                                   .Empty("f4")))),
   place=DS("embeddings"))
h5("labels-float", h5edit(replace_ds("labels", Y.astype("f8") + 0.5)), place=DS("labels"))
h5("labels-2d-wide", h5edit(replace_ds("labels", np.stack([Y, Y], 1))), place=DS("labels"))
h5("labels-short", h5edit(replace_ds("labels", Y[:-1])), place=DS("labels") + r"|59|60")
h5("labels-long", h5edit(replace_ds("labels", np.concatenate([Y, Y[:1]]))),
   place=DS("labels") + r"|61|60")
h5("labels-compound", h5edit(replace_ds("labels", np.zeros(N, [("a", "i4")]))),
   place=DS("labels"))
h5("labels-vlen-int-sequences", lambda c: _vlen_labels(c), place=DS("labels"))
h5("labels-string-too-long", h5edit(replace_ds("labels", np.array(
    ["L" * 5000 if i == 3 else "c%d" % Y[i] for i in range(N)], dtype=object),
    dtype=__import__("h5py").string_dtype())), place=DS("labels") + r".*(row|label)|row 3",
   part="2 (label limit)")
h5("ids-short", h5edit(replace_ds("ids", np.array(["r"] * (N - 1), dtype=object),
                                  dtype=__import__("h5py").string_dtype())), place=DS("ids"))
h5("ids-float", h5edit(replace_ds("ids", np.arange(N) + 0.5)), place=DS("ids"))
h5("ids-2d", h5edit(replace_ds("ids", np.zeros((N, 2), "i8"))), place=DS("ids"))
h5("pred-probs-wrong-columns", h5edit(lambda f: f.create_dataset("pred_probs",
                                                                 data=base.probs(Y)[:, :2])),
   place=DS("pred_probs"))
h5("pred-probs-negative", h5edit(lambda f: f.create_dataset(
    "pred_probs", data=base.probs(Y) * np.where(np.arange(N)[:, None] == 4, -1, 1))),
   place=DS("pred_probs") + r".*row|row.*pred_probs")
h5("pred-probs-nan", h5edit(lambda f: f.create_dataset(
    "pred_probs", data=np.where(np.arange(N)[:, None] == 4, np.nan, base.probs(Y)))),
   place=DS("pred_probs"))
h5("class-names-wrong-type", h5edit(lambda f: f["labels"].attrs.create("class_names",
                                                                       np.arange(3))),
   place=r"class_names")
h5("class-names-too-few-is-legal", h5edit(lambda f: f["labels"].attrs.create(
    "class_names", np.array(["a"], dtype=object), dtype=__import__("h5py").string_dtype())),
   expect="finding")  # labels 1 and 2 are then undeclared: integrity findings
h5("huge-chunked-no-data-2M", lambda c: _huge_h5(c, 2_000_000), place=HUGE, part="1 (declared sizes vs file)", within=True)
h5("huge-chunked-no-data-20M", lambda c: _huge_h5(c, 20_000_000),
   place=HUGE, part="1 (declared sizes vs file)", within=True)
h5("huge-contiguous-no-data", lambda c: _huge_h5(c, 50_000_000, chunks=None),
   place=HUGE, part="1 (declared sizes vs file)", within=True)
h5("unknown-filter", lambda c: _lzf(c), place=DS("embeddings") + r"|filter")
h5("external-storage-missing", lambda c: _external(c), place=DS("embeddings") + r"|external")
h5("soft-link-dangling", h5edit(lambda f: (f.__delitem__("embeddings"),
                                           f.__setitem__("embeddings",
                                                         __import__("h5py").SoftLink("/nope")))),
   place=DS("embeddings"))
h5("external-link-missing-file", h5edit(lambda f: (
    f.__delitem__("embeddings"),
    f.__setitem__("embeddings", __import__("h5py").ExternalLink("gone.h5", "/x")))),
   place=DS("embeddings") + r"|external|gone")
h5("gzip-chunked-is-legal", h5w(chunks=(16, D), compression="gzip", shuffle=True),
   expect="finding")
h5("big-endian-is-legal", h5edit(replace_ds("embeddings", X.astype(">f4"))), expect="finding")
h5("nan-row-is-finding", h5w(x=np.where(np.arange(N)[:, None] == 3, np.nan, X)
                              .astype("f4")), expect="finding", check=has_finding("integrity"))
h5("directory", lambda c: os.mkdir(c.p("d.h5")), place=r"directory|regular")
h5("fifo", lambda c: c.fifo("d.h5"), place=r"regular|fifo|pipe", args=["--format", "hdf5"],
   part="2 (non-regular)")


def _vlen_labels(c):
    import h5py
    base.write_h5(c.p("d.h5"), y=False)
    with h5py.File(c.p("d.h5"), "r+") as f:
        dt = h5py.vlen_dtype(np.dtype("i4"))
        ds = f.create_dataset("labels", (N,), dtype=dt)
        for i in range(N):
            ds[i] = np.arange(i % 3 + 1, dtype="i4")


def _huge_h5(c, rows, chunks=True):
    import h5py
    with h5py.File(c.p("d.h5"), "w") as f:
        f.create_dataset("embeddings", shape=(rows, D), dtype="f4",
                         chunks=(1000, D) if chunks else None)
        f.create_dataset("labels", shape=(rows,), dtype="i8", chunks=(1000,) if chunks else None)


def _lzf(c):
    base.write_h5(c.p("d.h5"), chunks=(16, D), compression="lzf")


def _external(c):
    import h5py
    with h5py.File(c.p("d.h5"), "w") as f:
        f.create_dataset("embeddings", shape=(N, D), dtype="f4",
                         external=[("missing-raw.bin", 0, N * D * 4)])
        f.create_dataset("labels", data=Y)


def _h5_flip(offset_fn, label, bit=None):
    def build(c):
        base.write_h5(c.p("d.h5"))
        data = open(c.p("d.h5"), "rb").read()
        off = offset_fn(data)
        base.flip(c.p("d.h5"), off % len(data), bit=off % 8 if bit is None else bit)
    h5("bitflip-" + label, build, expect="any", place=None,
       part="1 (sandbox)")


def _sig(sig, delta):
    return lambda data: data.find(sig) + delta if data.find(sig) >= 0 else delta


for sig, deltas in ((b"\x89HDF", (8, 13, 40)), (b"TREE", (6, 12)), (b"HEAP", (8, 16)),
                    (b"SNOD", (8, 12, 20)), (b"GCOL", (8, 16, 24, 40))):
    for d in deltas:
        _h5_flip(_sig(sig, d), "%s+%d" % (sig.decode("latin1").strip("\x89"), d))
# the length of /ids' first global-heap object (GCOL + 16 + 8): a high bit makes it megabytes
for d, b in ((26, 7), (27, 0), (29, 3)):
    _h5_flip(_sig(b"GCOL", d), "GCOL+%d-bit%d" % (d, b), bit=b)
for off in np.random.default_rng(1414).integers(0, 9000, 8):
    _h5_flip(lambda data, o=int(off): o, "seeded-%d" % off)

# ---------------------------------------------------------------------------------------------
# side: labels / ids / pred_probs / truth / trusted-ids files next to valid .npy embeddings


def side(name, fname, writer, extra, expect=2, place=None, **kw):
    def build(c):
        if os.path.lexists(c.p(fname)):  # the valid labels.npy of the base, when replaced
            os.remove(c.p(fname))
        writer(c.p(fname))
    case("side", name, build, expect, file=fname, place=place, args=extra, **kw)


def npsave(arr):
    return lambda p: np.save(p, arr) if not p.endswith(".csv") else None


def text(s):
    return lambda p: base.write(p, s.encode() if isinstance(s, str) else s)


LAB = ["--labels-file", "{in}/labels.npy"]  # replaced in the default command
PP = lambda f="probs.npy": ["--pred-probs-file", "{in}/" + f]  # noqa: E731
IDF = lambda f="ids.npy": ["--ids-file", "{in}/" + f]  # noqa: E731
P0 = base.probs(Y)


def lab(name, writer, fname="labels.npy", expect=2, place=None, **kw):
    side(name, fname, writer, ["--labels-file", "{in}/" + fname], expect, place, **kw)


lab("labels-short", npsave(Y[:-1]), place=r"59|60|rows|length")
lab("labels-long", npsave(np.concatenate([Y, Y])), place=r"120|60|rows|length")
lab("labels-2d-wide", npsave(np.stack([Y, Y], 1)), place=r"shape")
lab("labels-float", npsave(Y + 0.5), place=r"descr|dtype|integer|float|type")
lab("labels-complex", npsave(Y.astype(np.complex64)), place=r"descr|dtype|type")
lab("labels-object-pickle", npsave(np.array([{"a": 1}] * N, dtype=object)),
    place=r"descr|object|pickle")
lab("labels-bad-magic", text(b"not npy at all"), place=MAGIC)
lab("labels-truncated", lambda p: base.write(p, base.npy_raw(H("'<i8'", shape="(60,)"),
                                                             Y.tobytes()[:100])),
    place=r"size|bytes|truncated")
lab("labels-huge-declared", lambda p: base.write(p, base.npy_raw(
    H("'<i8'", shape="(100000000000,)"), Y.tobytes())), place=r"size|bytes|truncated|shape",
    within=True)
lab("labels-empty-file", text(b""), place=MAGIC + r"|empty")
lab("labels-csv-missing-column", text("klass,w\n" + "\n".join("c%d,1" % v for v in Y) + "\n"),
    fname="labels.csv", place=r"label")
lab("labels-csv-short", text("label\n" + "\n".join("c%d" % v for v in Y[:-3]) + "\n"),
    fname="labels.csv", place=r"57|60|rows|length")
lab("labels-csv-nul", text("label\n" + "\n".join("c%d" % v if i != 5 else "c\x001"
                                                  for i, v in enumerate(Y)) + "\n"),
    fname="labels.csv", place=LINE(7), part="2/4 (CSV NUL)")
lab("labels-csv-unterminated-quote", text("label\n" + "\n".join(
    '"c%d' % v if i == 8 else "c%d" % v for i, v in enumerate(Y)) + "\n"), fname="labels.csv",
    place=LINE(10) + r"|quote")
lab("labels-csv-ragged", text("label,x\n" + "\n".join("c%d,1" % v if i != 8 else "c0,1,2"
                                                      for i, v in enumerate(Y)) + "\n"),
    fname="labels.csv", place=LINE(10))
lab("labels-csv-huge-label", text("label\n" + "\n".join("L" * 5000 if i == 2 else "c%d" % v
                                                        for i, v in enumerate(Y)) + "\n"),
    fname="labels.csv", place=LINE(4) + r"|label", part="2 (label limit)")
lab("labels-directory", lambda p: os.mkdir(p), place=r"directory|regular")
lab("labels-missing-file", lambda p: None, place=r"no such file|not found|cannot open")
lab("labels-hdf5-refused", lambda p: base.write_h5(p), fname="labels.h5",
    place=r"npy|csv|hdf5")
lab("labels-dev-zero", lambda p: os.symlink("/dev/zero", p), fname="labels.csv",
    place=r"regular|device", part="2 (non-regular)")


def ids(name, writer, fname="ids.npy", expect=2, place=None, **kw):
    side(name, fname, writer, IDF(fname), expect, place, **kw)


ids("ids-short", npsave(np.arange(N - 1)), place=r"59|60|rows|length")
ids("ids-float", npsave(np.arange(N) + 0.5), place=r"descr|dtype|integer|float|type")
ids("ids-2d", npsave(np.zeros((N, 2), "i8")), place=r"shape")
ids("ids-bad-magic", text(b"garbage!" * 10), place=MAGIC)
ids("ids-csv-missing-column", text("x,w\n" + "\n".join("%d,1" % i for i in range(N)) + "\n"),
    fname="ids.csv", place=r"\bid\b|column")
ids("ids-csv-short", text("id\n" + "\n".join(str(i) for i in range(N - 2)) + "\n"),
    fname="ids.csv", place=r"58|60|rows|length")
ids("ids-csv-nul", text("id\n" + "\n".join("r%d" % i if i != 3 else "r\x003"
                                            for i in range(N)) + "\n"),
    fname="ids.csv", place=LINE(5), part="2/4 (CSV NUL)")
ids("ids-duplicate-is-finding", npsave(np.arange(N) % 30), expect="finding")


def pp(name, arr_or_writer, expect=2, place=r"row|column|shape|class", **kw):
    writer = arr_or_writer if callable(arr_or_writer) else npsave(arr_or_writer)
    side(name, "probs.npy", writer, PP(), expect, place, **kw)


def rowset(arr, row, value):
    a = arr.copy()
    a[row] = value
    return a


pp("probs-short", P0[:-1], place=r"59|60|rows|shape")
pp("probs-wrong-columns", P0[:, :2], place=r"column|class|shape")
pp("probs-1d", P0[:, 0], place=r"shape")
pp("probs-negative", rowset(P0, 4, [-0.1, 0.6, 0.5]), place=r"row 4|row 5|\b4\b|\b5\b")
pp("probs-over-one", rowset(P0, 6, [1.5, -0.25, -0.25]), place=r"row 6|row 7|\b6\b|\b7\b")
pp("probs-not-summing-to-1", rowset(P0, 8, [0.5, 0.1, 0.1]), place=r"row 8|row 9|\b8\b|sum")
pp("probs-nan", rowset(P0, 10, [np.nan, 0.5, 0.5]), place=r"row 10|row 11|\b10\b|nan")
pp("probs-inf", rowset(P0, 11, [np.inf, 0, 0]), place=r"row 11|row 12|\b11\b|inf")
pp("probs-logits", np.log(P0) * 3, place=r"softmax|row|sum")
pp("probs-int", (P0 * 10).astype("i8"), place=r"row|dtype|descr|sum")
pp("probs-bad-magic", text(b"\x93NUMPZ" + b"\x00" * 100), place=MAGIC)
pp("probs-huge-declared", lambda p: base.write(p, base.npy_raw(
    H("'<f8'", shape="(60, 100000000000)"), P0.tobytes())), place=r"size|bytes|shape",
    within=True)
pp("probs-fortran", lambda p: base.write(p, base.npy_raw(
    H("'<f8'", fortran="True", shape="(60, 3)"), P0.T.copy().tobytes())), place=r"fortran")


def truth(name, content, place, expect=2, **kw):
    side(name, "truth.csv", text(content), ["--truth", "{in}/truth.csv"], expect, place, **kw)


truth("truth-missing-header", "".join("%d,0\n" % i for i in range(N)), r"header|index|line 1")
truth("truth-index-out-of-range", "index,is_poison,attack\n" + "".join(
    "%d,0,-\n" % (i if i != 5 else 999) for i in range(N)), LINE(7) + r"|999")
truth("truth-non-numeric", "index,is_poison,attack\n" + "".join(
    "%d,%s,-\n" % (i, "yes" if i == 2 else "0") for i in range(N)), LINE(4))
truth("truth-nul", "index,is_poison,attack\n" + "".join(
    "%d,%s,-\n" % (i, "0\x00" if i == 2 else "0") for i in range(N)), LINE(4), part="2/4 (NUL)")
truth("truth-ragged", "index,is_poison,attack\n" + "".join(
    "%d,0%s\n" % (i, "" if i == 6 else ",-") for i in range(N)), LINE(8))


def tids(name, content, place, expect=2, **kw):
    side(name, "trusted.txt", text(content), ["--trusted-ids", "{in}/trusted.txt"], expect,
         place, **kw)


tids("trusted-ids-none-match", "\n".join("zz%d" % i for i in range(5)) + "\n",
     r"none|match|id")
tids("trusted-ids-huge-line", "x" * (2 << 20) + "\n", LINE(1) + r"|line|long",
     part="2 (line limit)")

# ---------------------------------------------------------------------------------------------
# policy: p.yml / p.json given to `scan --policy` (and allowlist.yml to `--allowlist`)


def pol(name, content, place, expect=2, fname="p.yml", **kw):
    def build(c):
        data = content() if callable(content) else content
        base.write(c.p(fname), data.encode() if isinstance(data, str) else data)
    flag = "--allowlist" if fname.startswith("allow") else "--policy"
    case("policy", name, build, expect, file=fname, place=place,
         args=[flag, "{in}/" + fname], **kw)


V = "version: 1\n"
KEYLC = lambda key, line=None: (r"%s" % key) if line is None else (  # noqa: E731
    r":%d:\d+.*%s|%s.*(line )?%d" % (line, key, key, line))
pol("unknown-top-key", V + "gates:\n  fail-on: high\n", KEYLC("gates", 2))
pol("unknown-nested-key", V + "gate:\n  fail_on: high\n", KEYLC(r"gate\.fail_on", 3))
pol("unknown-scan-key", V + "scan:\n  kk: 10\n", KEYLC(r"scan\.kk", 3))
pol("k-string", V + "scan:\n  k: ten\n", KEYLC(r"scan\.k", 3))
pol("k-negative", V + "scan:\n  k: -1\n", KEYLC(r"scan\.k", 3))
pol("k-zero", V + "scan:\n  k: 0\n", KEYLC(r"scan\.k", 3))
pol("k-huge", V + "scan:\n  k: 1000000000000\n", KEYLC(r"scan\.k", 3))
pol("k-float", V + "scan:\n  k: 10.5\n", KEYLC(r"scan\.k", 3))
pol("k-list", V + "scan:\n  k: [10]\n", KEYLC(r"scan\.k", 3))
pol("fdr-out-of-range", V + "scan:\n  fdr: 2\n", KEYLC(r"scan\.fdr", 3))
pol("fdr-nan", V + "scan:\n  fdr: .nan\n", KEYLC(r"scan\.fdr", 3))
pol("metric-unknown", V + "scan:\n  metric: manhattan\n", KEYLC(r"scan\.metric", 3))
pol("fail-on-typo", V + "gate:\n  fail-on: hgh\n", KEYLC(r"gate\.fail-on", 3))
pol("max-flagged-fraction-2", V + "gate:\n  max-flagged-fraction: 2\n",
    KEYLC(r"max-flagged-fraction", 3))
pol("class-budget-negative", V + "gate:\n  class-budgets: {c0: -0.5}\n", KEYLC(r"class-budgets",
                                                                                3))
pol("exit-zero-string", V + "gate:\n  exit-zero: maybe\n", KEYLC(r"exit-zero", 3))
pol("detector-unknown", V + "detectors:\n  knn-lable: {enabled: true}\n", KEYLC(r"knn-lable", 3))
pol("threshold-below-half", V + "detectors:\n  knn-label: {threshold: 0.3}\n",
    KEYLC(r"threshold", 3))
pol("severity-unknown", V + "detectors:\n  knn-label: {severity: urgent}\n",
    KEYLC(r"severity", 3))
pol("skip-unknown-detector", V + "scan:\n  skip: [nothing]\n", KEYLC(r"skip", 3))
pol("version-2", "version: 2\n", KEYLC(r"version", 1))
pol("version-missing", "gate:\n  fail-on: high\n", r"version")
pol("version-string", "version: '1'\n", KEYLC(r"version", 1))
pol("top-level-list", "- 1\n- 2\n", r"line 1|:1:|mapping|top")
pol("top-level-scalar", "hello\n", r"line 1|:1:|mapping|top")
pol("empty-file", "", r"empty|version|mapping")
pol("tab-indentation", V + "gate:\n\tfail-on: high\n", r":3:|line 3|tab")
pol("duplicate-key", V + "gate:\n  fail-on: high\n  fail-on: low\n", KEYLC(r"fail-on", 4)
    + r"|duplicate")
pol("unterminated-flow", V + "gate: {fail-on: high\n", r":\d+:|line|flow")
pol("unterminated-quote", V + "gate:\n  fail-on: 'high\n", r":\d+:|line|quote")
pol("second-document", V + "---\nversion: 1\ngate:\n  fail-on: none\n", r":2:|line 2|document",
    part="4 (YAML second document)")
pol("second-document-end-marker", V + "...\n---\ngate: {}\n", r":\d:|line|document",
    part="4 (YAML second document)")
pol("python-object-tag", V + "scan:\n  k: !!python/object/apply:os.system ['true']\n",
    KEYLC(r"scan\.k", 3) + r"|tag|python", part="4 (YAML tags)")
pol("python-name-tag-top", "!!python/object:__main__.X\nversion: 1\n", r"tag|python|:1:",
    part="4 (YAML tags)")
pol("custom-tag", V + "gate:\n  fail-on: !danger high\n", r"tag|:3:", part="4 (YAML tags)")
pol("binary-tag", V + "gate:\n  fail-on: !!binary aGlnaA==\n", r"tag|binary|:3:",
    part="4 (YAML tags)")
def _alias_bomb():
    levels = ["&l0 [x,x,x,x,x,x,x,x,x,x]"] + [
        "&l%d [%s]" % (i, ",".join(["*l%d" % (i - 1)] * 10)) for i in range(1, 10)]
    return V + "scan:\n  skip: [" + ", ".join(levels) + "]\n"


pol("anchor-alias-bomb", _alias_bomb, r"alias|anchor|expan|skip", part="2 (bounds)",
    within=True)
pol("deep-nesting-100", lambda: V + "scan: " + "[" * 100 + "]" * 100 + "\n",
    r"depth|nest", part="2 (depth limit)")
pol("deep-nesting-100k-flow", lambda: V + "scan: " + "[" * 100000 + "]" * 100000 + "\n",
    r"depth|nest", part="2 (depth limit)", within=True)
pol("deep-nesting-block-maps", lambda: V + "".join("  " * i + "a%d:\n" % i for i in range(200)),
    r"depth|nest", part="2 (depth limit)")
pol("invalid-utf8", (V + "gate:\n  fail-on: h\xffgh\n").encode("latin1"),
    r"utf|:3:|line 3|encoding")
pol("utf16-bom-is-legal", "\ufeffversion: 1\n".encode("utf-16"), None, expect="finding")  # YAML
pol("nul-byte", V + "gate:\n  fail-on: hi\x00gh\n", r"nul|:3:|line 3|fail-on")
pol("huge-scalar", lambda: V + "gate:\n  fail-on: " + "h" * (2 << 20) + "\n",
    r"fail-on|long|:3:|field")
pol("over-size-cap", lambda: V + "#" + "x" * (33 << 20) + "\n", r"size|bytes|large|MB|limit",
    part="2 (file size)")
pol("directory", "", r"directory|regular", fname="q.yml")
pol("fifo", "", r"regular|fifo|pipe", fname="q.yml", part="2 (non-regular)")
# JSON policies (the YAML reader reads JSON; the messages must still point at line:column)
J = "p.json"
pol("json-trailing-comma-is-legal-yaml", '{"version": 1, "gate": {"fail-on": "high",}}\n',
    None, fname=J, expect="finding")
pol("json-unterminated-string", '{"version": 1, "gate": {"fail-on": "high}}\n', r":1:|line",
    fname=J)
pol("json-wrong-type", '{"version": 1,\n "scan": {"k": "10"}}\n', KEYLC(r"scan\.k", 2), fname=J)
pol("json-bool-k", '{"version": 1,\n "scan": {"k": true}}\n', KEYLC(r"scan\.k", 2), fname=J)
pol("json-unknown-key", '{"version": 1,\n "gate": {"failon": "high"}}\n',
    KEYLC(r"gate\.failon", 2), fname=J)
pol("json-deep-nesting", lambda: '{"version": 1, "scan": ' + "[" * 50000 + "]" * 50000 + "}\n",
    r"depth|nest", fname=J, part="2 (depth limit)", within=True)
pol("json-duplicate-key", '{"version": 1,\n "gate": {"fail-on": "high", "fail-on": "low"}}\n',
    r"duplicate|fail-on", fname=J)
pol("json-second-document", '{"version": 1}\n---\n{"version": 1}\n', r"document|:2:|line 2",
    fname=J, part="4 (YAML second document)")
pol("json-huge-number", '{"version": 1,\n "scan": {"fdr": 1e999}}\n', KEYLC(r"scan\.fdr", 2),
    fname=J)
pol("json-not-json", "\x00\x01\x02binary", r"nul|:1:|line 1|utf|mapping", fname=J)
A = "allowlist.yml"
pol("allowlist-not-list", "id: r01\n", r"list|:1:|line 1", fname=A)
pol("allowlist-missing-reason", "- id: r01\n  owner: me\n  expires: 2099-01-01\n",
    r"reason|\[0\]", fname=A)
pol("allowlist-bad-date", "- id: r01\n  reason: x\n  owner: me\n  expires: 2099-02-30\n",
    KEYLC(r"expires", 4), fname=A)
pol("allowlist-bad-sha", "- row-sha256: abc\n  reason: x\n  owner: me\n  expires: 2099-01-01\n",
    KEYLC(r"row-sha256", 1), fname=A)
pol("allowlist-unknown-key", "- idd: r01\n  reason: x\n  owner: me\n  expires: 2099-01-01\n",
    KEYLC(r"idd", 1), fname=A)
pol("allowlist-deep", lambda: "- " * 2000 + "x\n", r"depth|nest", fname=A,
    part="2 (depth limit)")


def _policy_specials():
    for c in CASES:
        if c.fmt == "policy" and c.name == "directory":
            c.build = lambda cc: os.mkdir(cc.p("q.yml"))
        if c.fmt == "policy" and c.name == "fifo":
            c.build = lambda cc: cc.fifo("q.yml")


_policy_specials()

# ---------------------------------------------------------------------------------------------
# manifest: in/old/manifest.json given to `scan --baseline` and to `assay diff OLD NEW --out`.
# Each malformed manifest is run through both commands (cases NAME@baseline and NAME@diff).


def man(name, mutate=None, raw=None, place=None, expect=2, **kw):
    def build(c):
        os.mkdir(c.p("old"))
        if raw is not None:
            data = raw(c.prev_text("manifest.json")) if callable(raw) else raw
            # a mutation that matched nothing would test the valid file: refuse it
            assert data != c.prev_text("manifest.json"), name + ": the raw mutation changed nothing"
        else:
            m = json.loads(c.prev_text("manifest.json"))
            mutate(m)  # in place (a return value, such as list.pop()'s, is ignored)
            data = json.dumps(m, allow_nan=True)
        base.write(c.p("old/manifest.json"), data.encode() if isinstance(data, str) else data)
    if mutate is not None:  # a well-formed JSON manifest with one wrong value
        kw.setdefault("part", "4 (manifest reader: silent acceptance)")
    for cmd in ("baseline", "diff"):
        case("manifest", "%s@%s" % (name, cmd), build, expect, file="old/manifest.json",
             place=place, cmd=cmd, **kw)


def put(path, value):
    def m(d):
        keys = path.split(".")
        obj = d
        for k in keys[:-1]:
            obj = obj[int(k)] if isinstance(obj, list) else obj[k]
        last = keys[-1]
        if value is DEL:
            if isinstance(obj, list):
                del obj[int(last)]
            else:
                del obj[last]
        elif isinstance(obj, list):
            obj[int(last)] = value
        else:
            obj[last] = value
    return m


DEL = object()

man("empty-file", raw=b"", place=r"line 1|:1|empty|json")
man("not-json", raw=b"hello world\n", place=r"line 1|:1|json")
man("truncated-half", raw=lambda t: t[: len(t) // 2], place=r"line|:\d|json|truncated|end")
man("top-level-array", raw=b"[1, 2, 3]\n", place=r"object|schema|top")
man("schema-wrong", put("schema", "assay-report/1"), place=r"schema")
man("schema-missing", put("schema", DEL), place=r"schema")
man("schema-number", put("schema", 1), place=r"schema")
man("rows-count-mismatch-short", lambda m: m["rows"].pop(), place=r"rows",
    part="4 (manifest count)")
man("rows-count-mismatch-long", lambda m: m["rows"].append(list(m["rows"][-1])), place=r"rows",
    part="4 (manifest count)")
man("input-rows-string", put("input.rows", "60"), place=r"input\.rows")
man("input-rows-negative", put("input.rows", -5), place=r"input\.rows")
man("input-rows-huge", put("input.rows", 1e30), place=r"input\.rows", within=True)
man("input-dims-string", put("input.dims", "8"), place=r"input\.dims")
man("rows-not-list", put("rows", {"0": 1}), place=r"\brows\b")
man("row-not-list", put("rows.3", "r03"), place=r"rows\[3\]|rows\.3|row 3")
man("row-wrong-arity", lambda m: m["rows"][4].pop(), place=r"rows\[4\]|rows\.4|row 4")
man("row-index-string", lambda m: m["rows"][5].__setitem__(0, "5"), place=r"rows\[5\]|row 5")
man("row-index-out-of-range", lambda m: m["rows"][5].__setitem__(0, 100000),
    place=r"rows\[5\]|row 5|index")
man("row-index-negative", lambda m: m["rows"][5].__setitem__(0, -1),
    place=r"rows\[5\]|row 5|index")
man("row-index-duplicate", lambda m: m["rows"][6].__setitem__(0, 5),
    place=r"rows\[6\]|row 6|duplicate|index")
man("row-sha-short", lambda m: m["rows"][7].__setitem__(3, "abc"), place=r"rows\[7\]|row 7|sha")
man("row-sha-not-hex", lambda m: m["rows"][7].__setitem__(3, "z" * 64),
    place=r"rows\[7\]|row 7|sha")
man("row-sha-number", lambda m: m["rows"][7].__setitem__(3, 12), place=r"rows\[7\]|row 7|sha")
man("row-id-number-when-ids-strings", lambda m: m["rows"][8].__setitem__(1, 8),
    place=r"rows\[8\]|row 8|\bid\b")
man("row-label-object", lambda m: m["rows"][9].__setitem__(2, {"x": 1}),
    place=r"rows\[9\]|row 9|label")
man("row-columns-missing", put("row_columns", DEL), place=r"row_columns")
man("row-columns-wrong", put("row_columns", ["a", "b", "c", "d"]), place=r"row_columns")
man("hash-missing", put("hash", DEL), place=r"hash")
man("dataset-sha-number", put("hash.dataset_sha256", 5), place=r"hash\.dataset_sha256")
man("dataset-sha-disagrees-with-rows", put("hash.dataset_sha256", "0" * 64),
    place=r"dataset_sha256", part="4 (manifest consistency)")
man("labels-classes-not-list", put("labels.classes", "c0"), place=r"labels\.classes")
man("class-count-negative", put("labels.classes.0.count", -3), place=r"labels\.classes|count")
man("class-counts-disagree", put("labels.classes.0.count", 999), place=r"count|classes",
    part="4 (manifest consistency)")
man("ids-present-string", put("ids.present", "yes"), place=r"ids\.present")
man("centroid-wrong-length", lambda m: m["class_statistics"]["classes"][0]["centroid"].pop(),
    place=r"centroid")
man("centroid-string", lambda m: m["class_statistics"]["classes"][0]["centroid"]
    .__setitem__(0, "x"), place=r"centroid")
man("quantiles-wrong", put("class_statistics.quantiles", "p50"), place=r"quantiles")
man("deep-nesting", raw=lambda t: t.rstrip()[:-1] + ', "x": ' + "[" * 100000 + "]" * 100000 + "}",
    place=r"depth|nest", part="2 (depth limit)", within=True)
man("invalid-utf8", raw=lambda t: t.replace('"r03"', '"r\xff3"').encode("latin1"),
    place=r"utf|line|:\d")
man("nul-in-string", raw=lambda t: t.replace('"r03"', '"r\\u00003"'), place=r"nul|rows|row 3|id")
man("bom", raw=lambda t: b"\xef\xbb\xbf" + t.encode(), place=r"bom|line 1|:1|json")
man("duplicate-key", raw=lambda t: t.replace('{"schema":', '{"rows": [], "schema":', 1),
    place=r"duplicate|rows")
man("nan-literal", raw=lambda t: t.replace('"dims":8', '"dims":NaN', 1),
    place=r"line|:\d|json|dims")
man("trailing-garbage", raw=lambda t: t + "\n}{garbage", place=r"line|:\d|json|trailing")
man("two-documents", raw=lambda t: t + "\n" + t, place=r"line|:\d|json|trailing")
man("huge-string", raw=lambda t: t.replace('"source":null', '"source":"' + "s" * (3 << 20)
                                           + '"', 1), place=r"source|long|limit",
    part="2 (string limit)")
man("directory", raw=None, mutate=None, place=r"directory|regular")


def _man_specials():
    for c in CASES:
        if c.fmt == "manifest" and c.name.startswith("directory@"):
            def b(cc):
                os.makedirs(cc.p("old/manifest.json"))
            c.build = b


_man_specials()

# ---------------------------------------------------------------------------------------------
# graph: g.h5 written by `assay knn` for the valid d.h5, given to `scan d.h5 --graph g.h5 -k 10`


def gr(name, fn=None, expect=2, place=None, **kw):
    def build(c):
        c.copy_graph("g.h5")
        if fn is not None:
            fn(c)
    case("graph", name, build, expect, file="g.h5", place=place, **kw)


def gedit(fn):
    def w(c):
        import h5py
        with h5py.File(c.p("g.h5"), "r+") as f:
            fn(f)
    return w


def gset(name, transform):
    def fn(f):
        a = transform(f[name][()])
        attrs = dict(f[name].attrs)
        del f[name]
        f.create_dataset(name, data=a)
        for k, v in attrs.items():
            f[name].attrs[k] = v
    return gedit(fn)


def gattr(key, value):
    def fn(f):
        if value is DEL:
            del f.attrs[key]
        else:
            f.attrs[key] = value
    return gedit(fn)


def arr_set(r, c, v):
    def t(a):
        a = a.copy()
        a[r, c] = v
        return a
    return t


GD = r"damaged|hostile|corrupt|truncated|signature|cannot open|eof|size|neighbors|distances"
gr("empty-file", lambda c: base.write(c.p("g.h5"), b""), place=GD + r"|empty|format")
gr("not-hdf5", lambda c: base.write(c.p("g.h5"), b"neighbors\n" * 50), place=GD + r"|format")
gr("truncated-half", lambda c: base.truncate(c.p("g.h5"), base.size(c.p("g.h5")) // 2),
   place=GD)
gr("truncated-1k", lambda c: base.truncate(c.p("g.h5"), 1024), place=GD)
gr("missing-neighbors", gedit(lambda f: f.__delitem__("neighbors")), place=r"neighbors")
gr("missing-distances", gedit(lambda f: f.__delitem__("distances")), place=r"distances")
gr("neighbors-fewer-rows", gset("neighbors", lambda a: a[:-1]), place=r"neighbors|rows|59|60")
gr("neighbors-more-rows", gset("neighbors", lambda a: np.vstack([a, a[:1]])),
   place=r"neighbors|rows|61|60")
gr("neighbors-smaller-k", gset("neighbors", lambda a: a[:, :5]), place=r"neighbors|\bk\b|5")
gr("distances-shape-mismatch", gset("distances", lambda a: a[:, :9]),
   place=r"distances|shape|\bk\b")
gr("neighbors-float", gset("neighbors", lambda a: a.astype("f8")), place=r"neighbors|type")
gr("neighbors-1d", gset("neighbors", lambda a: a.ravel()), place=r"neighbors|rank|shape|2-d")
gr("neighbors-strings", gset("neighbors", lambda a: a.astype("S4")), place=r"neighbors|type")
gr("neighbor-out-of-range", gset("neighbors", arr_set(3, 2, N)),
   place=r"neighbors.*(row 3|\[3)|row 3.*neighbors|\b60\b")
gr("neighbor-huge", gset("neighbors", arr_set(3, 2, 2**62)), place=r"neighbors|row 3|range")
gr("neighbor-negative-2", gset("neighbors", arr_set(4, 0, -2)), place=r"neighbors|row 4|-2")
gr("neighbor-self", gset("neighbors", arr_set(5, 0, 5)), place=r"neighbors|row 5|self")
gr("neighbor-duplicate-in-row", gset("neighbors", lambda a: (lambda b: (b.__setitem__(
    (6, 1), b[6, 0]), b)[1])(a.copy())), place=r"neighbors|row 6|duplicate")
gr("distances-nan", gset("distances", arr_set(7, 0, np.nan)), place=r"distances|row 7|nan")
gr("distances-negative", gset("distances", arr_set(7, 0, -1.0)), place=r"distances|row 7")
gr("distances-wrong-values", gset("distances", lambda a: a * 0.5),
   place=r"distance|re-measured|mismatch|row")
gr("distances-unsorted", gset("distances", lambda a: a[:, ::-1].copy()),
   place=r"distance|order|sorted|row")
gr("neighbors-reversed", gset("neighbors", lambda a: a[:, ::-1].copy()),
   place=r"distance|order|sorted|row|neighbors")
gr("row-marked-left-out", gset("neighbors", arr_set(8, slice(None), -1)),
   place=r"row 8|left out|neighbors|rows_in_graph")
gr("dataset-sha-wrong", gattr("dataset_sha256", "0" * 64), place=r"dataset_sha256|digest|sha")
gr("dataset-sha-missing", gattr("dataset_sha256", DEL), place=r"dataset_sha256")
gr("dataset-sha-int", gattr("dataset_sha256", 5), place=r"dataset_sha256")
gr("dataset-sha-array", gattr("dataset_sha256", np.array(["a", "b"], dtype="S1")),
   place=r"dataset_sha256")
gr("k-attr-mismatch", gattr("k", 7), place=r"\bk\b")
gr("k-attr-string", gattr("k", "10"), place=r"\bk\b")
gr("metric-attr-l2", gattr("metric", "l2"), place=r"metric")
gr("metric-attr-missing", gattr("metric", DEL), place=r"metric")
gr("distance-attr-mismatch", gattr("distance", "euclidean"), place=r"distance")
gr("format-attr-wrong", gattr("assay_format", "assay-graph/99"), place=r"assay_format|format")
gr("n-rows-attr-mismatch", gattr("n_rows", 61), place=r"n_rows|rows")
# rows_in_graph is informational (written for people, never read back): the lists are checked.
gr("rows-in-graph-mismatch", gattr("rows_in_graph", 3), expect="finding")
gr("huge-attr-string", gattr("metric", "c" * (1 << 20)), place=r"metric|long|limit")
gr("k-larger-than-scan", None, args=["-k", "5"], place=r"\bk\b")
gr("metric-differs-from-scan", None, args=["--metric", "l2"], place=r"metric")
gr("huge-chunked-no-data", lambda c: _huge_graph(c), place=HUGE + r"|shape",
   part="1 (declared sizes vs file)", within=True)
gr("directory", lambda c: (os.remove(c.p("g.h5")), os.mkdir(c.p("g.h5"))),
   place=r"directory|regular")
gr("fifo", lambda c: (os.remove(c.p("g.h5")), c.fifo("g.h5")), place=r"regular|fifo|pipe",
   part="2 (non-regular)")


def _huge_graph(c):
    import h5py
    with h5py.File(c.p("g.h5"), "r") as f:
        attrs = dict(f.attrs)
    with h5py.File(c.p("g.h5"), "w") as f:
        f.create_dataset("neighbors", shape=(5_000_000, 10), dtype="i8", chunks=(1000, 10))
        f.create_dataset("distances", shape=(5_000_000, 10), dtype="f4", chunks=(1000, 10))
        for k, v in attrs.items():
            f.attrs[k] = v


def _g_flip(offset_fn, label, bit=None):
    def fn(c):
        data = open(c.p("g.h5"), "rb").read()
        off = offset_fn(data)
        base.flip(c.p("g.h5"), off % len(data), bit=off % 8 if bit is None else bit)
    gr("bitflip-" + label, fn, expect="any", place=None,
       part="1 (sandbox)")


for sig, deltas in ((b"\x89HDF", (8, 13, 40)), (b"TREE", (6, 12)), (b"HEAP", (8, 16)),
                    (b"SNOD", (8, 12)), (b"GCOL", (8, 16, 24))):
    for d in deltas:
        _g_flip(_sig(sig, d), "%s+%d" % (sig.decode("latin1").strip("\x89"), d))
for d, b in ((26, 7), (27, 0)):  # attribute strings live in the global heap
    _g_flip(_sig(b"GCOL", d), "GCOL+%d-bit%d" % (d, b), bit=b)
for off in np.random.default_rng(1415).integers(0, 4000, 6):
    _g_flip(lambda data, o=int(off): o, "seeded-%d" % off)

# ---------------------------------------------------------------------------------------------
# report: in/report.json given to `assay report render REPORT --out DIR` (DIR = a previous scan)


def rep(name, mutate=None, raw=None, place=None, expect=2, here=False, **kw):
    def build(c):
        if here:  # render next to the report: the input folder is itself a report folder
            c.copy_prev_into_in()
        if raw is not None:
            data = raw(c.prev_text("report.json")) if callable(raw) else raw
            # a mutation that matched nothing would test the valid file: refuse it
            assert data != c.prev_text("report.json"), name + ": the raw mutation changed nothing"
        else:
            r = json.loads(c.prev_text("report.json"))
            mutate(r)  # in place
            data = json.dumps(r)
        base.write(c.p("report.json"), data.encode() if isinstance(data, str) else data)
    if mutate is not None:  # well-formed JSON with one wrong value: the renderers' readers
        kw.setdefault("part", "3/4 (render readers)")
    case("report", name, build, expect, file="report.json", place=place,
         cmd="render-here" if here else None, **kw)


def first(list_key, key, value):
    def m(r):
        item = r[list_key][0]
        if value is DEL:
            del item[key]
        else:
            item[key] = value
    return m


def etsi_id_number(r):
    r["etsi"]["provisions"][0]["id"] = 5210 if "provisions" in r["etsi"] else None


rep("empty-file", raw=b"", place=r"line 1|:1|empty|json")
rep("not-json", raw=b"<html>\n", place=r"line 1|:1|json")
rep("truncated-half", raw=lambda t: t[: len(t) // 2], place=r"line|:\d|json|end")
rep("top-level-array", raw=b"[]\n", place=r"schema|object")
rep("schema-wrong", put("schema", "assay-manifest/1"), place=r"schema")
rep("schema-number", put("schema", 1), place=r"schema")
rep("schema-missing", put("schema", DEL), place=r"schema")
rep("etsi-provision-id-number", lambda r: _etsi_num(r), place=r"etsi.*id|id.*etsi",
    part="3/4 (render crash)")
rep("etsi-provision-id-number-here", lambda r: _etsi_num(r), place=r"etsi.*id|id.*etsi",
    part="3/4 (render crash)", here=True)
rep("etsi-missing", put("etsi", DEL), place=r"etsi")
rep("etsi-not-object", put("etsi", [1, 2]), place=r"etsi")
rep("findings-missing", put("findings", DEL), place=r"findings")
rep("findings-not-list", put("findings", {"a": 1}), place=r"findings")
rep("finding-is-number", lambda r: r["findings"].__setitem__(0, 7),
    place=r"findings\[0\]|findings\.0|findings/0|finding 0|finding 1")
rep("finding-severity-number", first("findings", "severity", 3),
    place=r"findings\[0\]|severity")
rep("finding-severity-unknown", first("findings", "severity", "urgent"),
    place=r"findings\[0\]|severity")
rep("finding-detector-number", first("findings", "detector", 1), place=r"findings\[0\]|detector")
rep("finding-kind-missing", first("findings", "kind", DEL), place=r"findings\[0\]|kind")
rep("finding-index-string", first("findings", "index", "0"), place=r"findings\[0\]|index")
rep("finding-etsi-number", first("findings", "etsi", [5]), place=r"findings\[0\]|etsi")
rep("finding-id-object", first("findings", "id", {"x": 1}), place=r"findings\[0\]|\bid\b")
rep("gate-missing", put("gate", DEL), place=r"gate")
rep("gate-verdict-number", put("gate.verdict", 1), place=r"gate\.verdict|verdict")
rep("gate-verdict-unknown", put("gate.verdict", "maybe"), place=r"verdict")
rep("gate-reasons-numbers", put("gate.reasons", [1, 2]), place=r"gate\.reasons|reasons")
rep("summary-missing", put("summary", DEL), place=r"summary")
rep("summary-rows-string", put("summary.rows", "60"), place=r"summary\.rows|rows")
rep("tool-version-number", put("tool.version", 1), place=r"tool\.version|version")
rep("tool-missing", put("tool", DEL), place=r"tool")
rep("input-path-number", put("input.path", 5), place=r"input\.path|path")
rep("detectors-not-list", put("detectors", "all"), place=r"detectors")
rep("detector-name-number", lambda r: r["detectors"][0].__setitem__("name", 3),
    place=r"detectors\[0\]|name")
rep("tests-entry-number", lambda r: r["tests"].__setitem__(0, 1), place=r"tests\[0\]|tests")
rep("plots-wrong-type", put("plots", 1), place=r"plots")
rep("outputs-wrong-type", put("outputs", [1]), place=r"outputs")
rep("parameters-number", put("parameters", 2), place=r"parameters")
rep("command-not-list", put("command", 1), place=r"command")
rep("started-number", put("started", 0), place=r"started")
rep("deep-nesting", raw=lambda t: t.rstrip()[:-1] + ', "x": ' + "[" * 100000 + "]" * 100000 + "}",
    place=r"depth|nest", part="2 (depth limit)", within=True)
rep("invalid-utf8", raw=lambda t: t.replace('"assay-report/1"', '"assay-report/1", "x": "\xff"',
                                            1).encode("latin1"), place=r"utf|line|:\d")
rep("nul-in-string", put("input.path", "d\x00.h5"), place=r"nul|input\.path|path")
rep("bom", raw=lambda t: b"\xef\xbb\xbf" + t.encode(), place=r"bom|line 1|:1|json")
rep("duplicate-key", raw=lambda t: re.sub(r'^\{\s*"schema":', '{"findings": 1, "schema":', t, count=1),
    place=r"duplicate|findings")
rep("nan-literal", raw=lambda t: t.replace('"rows":', '"rows":NaN, "x":', 1),
    place=r"line|:\d|json")
rep("trailing-garbage", raw=lambda t: t + "\n}}}", place=r"line|:\d|json|trailing")
rep("huge-number", put("summary.rows", 1e300), place=r"summary\.rows|rows")
rep("huge-string", put("tool.version", "v" * (3 << 20)), place=r"version|long|limit",
    part="2 (string limit)")
rep("directory", raw=None, mutate=None, place=r"directory|regular")


def _etsi_num(r):
    # the first provision id under report.json "etsi" (the table the renderers walk), as a number
    def walk(v):
        if isinstance(v, dict):
            if isinstance(v.get("id"), str):
                v["id"] = 5214
                return True
            return any(walk(x) for x in v.values())
        if isinstance(v, list):
            return any(walk(x) for x in v)
        return False
    if not walk(r.get("etsi")):
        raise SystemExit("report.json has no etsi provision id to break")


def _rep_specials():
    for c in CASES:
        if c.fmt == "report" and c.name == "directory":
            c.build = lambda cc: os.mkdir(cc.p("report.json"))


_rep_specials()

FORMATS = ["npy", "csv", "hdf5", "side", "policy", "manifest", "graph", "report"]


def cases(fmt=None):
    return [c for c in CASES if fmt is None or c.fmt == fmt]
