# SPDX-License-Identifier: Apache-2.0
"""The valid data every malformed case starts from, and small writers for raw files.

A case copies the valid input into its own folder, then breaks one file. The data set is small
(60 rows x 8 dims, 3 classes) so a scan takes tens of milliseconds; row 1 duplicates row 0 with
another label so report.json has findings to render."""
import os
import struct

import numpy as np

N, D, C = 60, 8, 3


def arrays():
    rng = np.random.default_rng(14)
    centres = rng.normal(0, 4, (C, D))
    y = np.arange(N) % C
    x = (centres[y] + rng.normal(0, 1, (N, D))).astype(np.float32)
    x[1] = x[0]  # a duplicate with another label: findings for report.json
    ids = np.array(["r%02d" % i for i in range(N)])
    return x, y.astype(np.int64), ids


def probs(y):
    p = np.full((len(y), C), 0.1, dtype=np.float64)
    p[np.arange(len(y)), y] = 0.8
    return p


def npy_header(descr="'<f4'", fortran="False", shape=None, extra=""):
    shape = "(%d, %d)" % (N, D) if shape is None else shape
    return "{'descr': %s, 'fortran_order': %s, 'shape': %s, %s}" % (descr, fortran, shape, extra)


def npy_raw(header, body, version=(1, 0), magic=b"\x93NUMPY", hlen=None, pad=True,
            encoding="latin1"):
    """A .npy file with a literal header text (padded to 64 bytes like NumPy unless pad=False)."""
    h = header.encode(encoding) if isinstance(header, str) else header
    width = 2 if version[0] == 1 else 4
    if pad:
        total = len(magic) + 2 + width + len(h) + 1
        h = h + b" " * ((64 - total % 64) % 64) + b"\n"
    if hlen is None:
        hlen = len(h)
    pack = "<H" if width == 2 else "<I"
    return magic + bytes(version) + struct.pack(pack, hlen & (0xFFFF if width == 2 else
                                                                0xFFFFFFFF)) + h + body


def write(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def write_csv(path, x, y, ids, header=None, sep=",", eol="\n"):
    header = header or ["id", "label"] + ["f%d" % j for j in range(x.shape[1])]
    lines = [sep.join(header)]
    for i in range(len(y)):
        lines.append(sep.join([str(ids[i]), "c%d" % y[i]] + ["%.5f" % v for v in x[i]]))
    write(path, (eol.join(lines) + eol).encode())


def csv_lines():
    """The valid CSV as a list of lines (index 0 = header = physical line 1)."""
    x, y, ids = arrays()
    lines = ["id,label," + ",".join("f%d" % j for j in range(D))]
    for i in range(N):
        lines.append(",".join(["r%02d" % i, "c%d" % y[i]] + ["%.5f" % v for v in x[i]]))
    return lines


def write_h5(path, x=None, y=None, ids=None, **kw):
    import h5py
    x0, y0, ids0 = arrays()
    x = x0 if x is None else x
    y = y0 if y is None else y
    ids = ids0 if ids is None else ids
    with h5py.File(path, "w", libver=kw.pop("libver", "earliest")) as f:
        if x is not False:
            f.create_dataset("embeddings", data=x, **kw)
        if y is not False:
            f.create_dataset("labels", data=y)
        if ids is not False:
            f.create_dataset("ids", data=np.array([str(s) for s in ids], dtype=object),
                             dtype=h5py.string_dtype())


def flip(path, offset, bit=0):
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ (1 << bit)]))


def truncate(path, size):
    with open(path, "r+b") as f:
        f.truncate(size)


def size(path):
    return os.path.getsize(path)
