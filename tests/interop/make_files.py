# SPDX-License-Identifier: Apache-2.0
"""Writes the files assay must read (and refuse) the way users make them: NumPy's np.save and
h5py. One small dataset, saved in many layouts; run_interop.cmake scans each one."""
import sys, os
import numpy as np
import h5py

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(11)
n, d, c = 240, 12, 3
centres = rng.normal(0, 6, size=(c, d))
labels = np.repeat(np.arange(c), n // c)
rng.shuffle(labels)
emb = (centres[labels] + rng.normal(0, 1, size=(n, d))).astype(np.float32)
labels[5] = (labels[5] + 1) % c          # one flipped label
emb[7] = emb[3]                          # one conflicting duplicate
labels[7] = (labels[3] + 1) % c
ids = np.arange(1000, 1000 + n, dtype=np.int64)
names = np.array(["cat", "dog", "eel"])

def p(name):
    return os.path.join(out, name)

# .npy in every version NumPy writes, and the dtypes assay converts
np.save(p("emb_v1.npy"), emb)
for ver in [(2, 0), (3, 0)]:
    with open(p("emb_v%d.npy" % ver[0]), "wb") as f:
        np.lib.format.write_array(f, emb, version=ver)
np.save(p("emb_f8.npy"), emb.astype(np.float64))
np.save(p("emb_f2.npy"), emb.astype(np.float16))
np.save(p("labels.npy"), labels.astype(np.int64))
np.save(p("labels_i4.npy"), labels.astype(np.int32))
np.save(p("labels_u1.npy"), labels.astype(np.uint8))
np.save(p("ids.npy"), ids)
probs = rng.dirichlet(np.ones(c), size=n).astype(np.float32)
np.save(p("probs.npy"), probs)
# refused, each with a clear message
np.save(p("emb_fortran.npy"), np.asfortranarray(emb))
np.save(p("emb_big_endian.npy"), emb.astype(">f4"))
np.save(p("emb_object.npy"), np.array([object()] * 4, dtype=object), allow_pickle=True)
np.save(p("labels_short.npy"), labels[:-1].astype(np.int64))

# CSV with string labels, as pandas' to_csv(index=False) or the csv module writes it
with open(p("table.csv"), "w") as f:
    f.write("id,label," + ",".join("f%d" % j for j in range(d)) + "\n")
    for i in range(n):
        f.write("%d,%s,%s\n" % (ids[i], names[labels[i]], ",".join(repr(float(v)) for v in emb[i])))
with open(p("labels.csv"), "w") as f:
    f.write("label\n" + "".join("%d\n" % v for v in labels))

# HDF5 as h5py users write it: chunked + gzip float64, vlen string labels and ids
with h5py.File(p("data.h5"), "w") as h:
    h.create_dataset("embeddings", data=emb.astype(np.float64), chunks=(64, 5), compression="gzip")
    h.create_dataset("labels", data=labels.astype(np.int16))
    h["labels"].attrs["class_names"] = np.array([s.encode() for s in names], dtype=h5py.string_dtype())
    h.create_dataset("ids", data=ids)
    h.create_dataset("pred_probs", data=probs)
with h5py.File(p("strings.h5"), "w") as h:
    h.create_dataset("train", data=emb)
    h.create_dataset("y", data=np.array([names[v] for v in labels], dtype=h5py.string_dtype()))
    h.create_dataset("ids", data=np.array(["row-%d" % v for v in ids], dtype=h5py.string_dtype()))
# An ann-benchmarks file (their layout and attributes, none of assay's): a scan must refuse it
# as a --graph, since nothing ties it to the dataset.
with h5py.File(p("ann_graph.h5"), "w") as h:
    h.attrs["type"] = "dense"
    h.attrs["distance"] = "angular"
    h.attrs["dimension"] = d
    h.attrs["point_type"] = "float"
    h.create_dataset("train", data=emb)
    h.create_dataset("test", data=emb[:10])
    h.create_dataset("neighbors", data=np.zeros((n, 5), dtype=np.int32))
    h.create_dataset("distances", data=np.zeros((n, 5), dtype=np.float32))
print("wrote interop files to", out)
