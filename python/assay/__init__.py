# SPDX-License-Identifier: Apache-2.0
"""assay: find poisoned, mislabelled and duplicated training rows in embeddings.

The Python binding of libassay's in-memory API (docs/python.md)::

    import assay
    r = assay.scan(X, y)          # X: [N, d] array, y: [N] labels
    r.issues.head()               # the flagged rows, most suspicious first

A scan runs the same steps as ``assay scan`` on the command line (the policy resolved from the
options, its limits applied, the data loaded, scanned, the policy applied), so its report equals
the CLI's on the same data. Float32 C-contiguous arrays are read in place, never copied; the GIL
is released during the scan and Ctrl-C cancels it.
"""

from __future__ import annotations

import difflib
import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _assay
from ._errors import AssayError, InputError, LimitError, ResourceError

__all__ = [
    "scan",
    "knn",
    "write_shard",
    "load",
    "info",
    "Result",
    "Dataset",
    "AssayError",
    "InputError",
    "LimitError",
    "ResourceError",
    "detectors",
    "options",
    "__version__",
]

__version__: str = _assay.version()

# (value, name, about) in the order a scan runs them; scores.csv orders its columns by value.
_DETECTORS: List[Tuple[int, str, str]] = _assay.detectors()
_DET_BY_VALUE: List[Tuple[int, str]] = sorted((v, n) for v, n, _ in _DETECTORS)
_ALL_DETECTORS_MASK = sum(1 << v for v, _, _ in _DETECTORS)

# The policy option table: name -> (dotted key, takes a value, help, default)
_OPTIONS: Dict[str, Tuple[str, int, str, Optional[str]]] = {
    name: (key, takes, hlp, default)
    for name, key, takes, _arg, hlp, default in _assay.policy_options()
}

PathLike = Union[str, "os.PathLike[str]"]


def detectors() -> List[str]:
    """The detectors' names, in the order a scan runs them."""
    return [n for _, n, _ in _DETECTORS]


def options() -> Dict[str, str]:
    """The options ``scan(**params)`` accepts (``-`` spelled ``_``), with their help lines."""
    return {n.replace("-", "_"): v[2] for n, v in _OPTIONS.items() if n != "policy"}


def info() -> Dict[str, Any]:
    """The library's version, instruction set, CPU features, BLAS and default thread count."""
    return _assay.info()


# ---- argument conversion ----


def _text(value: Any) -> str:
    """An option's value as the text the CLI would take."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return ",".join(f"{k}={_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return ",".join(_text(v) for v in value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _param_options(params: Mapping[str, Any], func: str) -> List[Tuple[str, str]]:
    """**params -> [(option name, text)], unknown names refused with a suggestion."""
    out = []
    names = [n for n in _OPTIONS if n != "policy"]
    for py_name, value in params.items():
        name = py_name.replace("_", "-")
        if name not in _OPTIONS or name == "policy":
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"; did you mean '{close[0].replace('-', '_')}'?" if close else ""
            raise TypeError(f"{func}() got an unexpected keyword argument '{py_name}'{hint}")
        if value is None:
            continue
        if _OPTIONS[name][1] == 0 and value is False:
            continue  # a switch left off
        out.append((name, _text(value)))
    return out


def _flatten(d: Mapping[str, Any], prefix: str = "") -> List[Tuple[str, str]]:
    out: List[Tuple[str, str]] = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v and key not in ("gate.class-budgets",):
            out.extend(_flatten(v, key + "."))
        else:
            out.append((key, _text(v)))
    return out


def _policy_args(policy: Any) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """policy -> ([("policy", path)], [(dotted key, text)])."""
    if policy is None:
        return [], []
    if isinstance(policy, (str, os.PathLike)):
        return [("policy", os.fspath(policy))], []
    if isinstance(policy, Mapping):
        return [], _flatten(policy)
    raise TypeError("policy must be a path to a YAML policy file or a dict of dotted keys")


_FORMATS = set("fdebBhHiIlLqQ?")


def _as_matrix(X: Any) -> Any:
    """An object the extension reads through the buffer protocol, converting only when needed
    (no buffer protocol, big-endian, a broadcast axis, an unsupported element type)."""
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # pandas
        X = X.to_numpy()
    if isinstance(X, np.ndarray):
        if X.dtype.kind not in "fiub" or not X.dtype.isnative or X.dtype.itemsize > 8:
            X = X.astype(np.float32)
        elif 0 in X.strides and X.size > 0:
            X = np.ascontiguousarray(X)
        return X
    try:
        mv = memoryview(X)
    except TypeError:
        return _as_matrix(np.asarray(X))
    fmt = mv.format.lstrip("@=<")
    if fmt not in _FORMATS or 0 in (mv.strides or ()):
        return _as_matrix(np.asarray(X))
    return X


def _as_column(v: Any, what: str) -> Any:
    """Labels or ids: a list of str, or a numeric array the extension reads in place."""
    if v is None:
        return None
    if hasattr(v, "to_numpy") and not isinstance(v, np.ndarray):  # pandas Series, Index
        v = v.to_numpy()
    if isinstance(v, (list, tuple)):
        if any(isinstance(x, (str, bytes)) for x in v):
            return list(v)
        v = np.asarray(v)
    if not isinstance(v, np.ndarray):
        try:
            memoryview(v)
            return v
        except TypeError:
            v = np.asarray(v)
    if v.dtype.kind in "USO":
        return [x.decode("utf-8") if isinstance(x, bytes) else x for x in v.ravel().tolist()]
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if not v.dtype.isnative or v.dtype.kind not in "fiub":
        v = v.astype(np.float64 if v.dtype.kind == "f" else np.int64)
    return v


# ---- Dataset ----


class Dataset:
    """A dataset loaded from a file (:func:`load`) or the one a scan made from arrays.

    ``n`` rows of ``d`` float32 features, ``classes`` (label values as text), ``digest`` (the
    SHA-256 the reports record). ``X`` is a read-only numpy view of the working matrix (the
    caller's own array when it was borrowed; rows with NaN/Inf read as zeros)."""

    def __init__(self, _ds: Any) -> None:
        self._ds = _ds

    @property
    def n(self) -> int:
        return self._ds.n

    @property
    def d(self) -> int:
        return self._ds.d

    @property
    def classes(self) -> List[str]:
        return self._ds.classes

    @property
    def digest(self) -> str:
        return self._ds.digest

    @property
    def format(self) -> str:
        """"hdf5", "csv", "npy" or "memory"."""
        return self._ds.format

    @property
    def borrowed(self) -> bool:
        """True when the dataset reads the caller's array in place (no copy)."""
        return self._ds.borrowed

    @property
    def X(self) -> np.ndarray:
        return np.asarray(self._ds)

    @property
    def labels(self) -> List[str]:
        """Each row's label as text (as scores.csv writes it)."""
        return self._ds.row_labels()

    @property
    def ids(self) -> List[str]:
        """Each row's id as text ("" when the dataset has no ids)."""
        return self._ds.row_ids()

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (f"<assay.Dataset {self.n} rows x {self.d} dims, {len(self.classes)} classes, "
                f"{self.format}{', borrowed' if self.borrowed else ''}, "
                f"sha256 {self.digest[:12]}>")


def load(path: PathLike, *, format: str = "auto", labels_file: Optional[PathLike] = None,
         ids_file: Optional[PathLike] = None, pred_probs_file: Optional[PathLike] = None,
         label_column: Optional[str] = None, id_column: Optional[str] = None,
         feature_columns: Optional[Union[str, Sequence[str]]] = None,
         h5_embeddings: Optional[str] = None, h5_labels: Optional[str] = None,
         h5_ids: Optional[str] = None, h5_pred_probs: Optional[str] = None,
         classes: Optional[Union[str, Sequence[Any]]] = None, threads: int = 0) -> Dataset:
    """Loads a dataset file as ``assay scan`` does: HDF5, CSV or .npy (with ``labels_file``).

    The options are the CLI's (--labels, --ids, --pred-probs, --label-column, --id-column,
    --features, --h5-*, --classes). Errors raise :class:`InputError` with the library's message
    naming the file, column and row."""
    def p(v: Any) -> Optional[str]:
        return None if v is None else os.fspath(v)

    if feature_columns is not None and not isinstance(feature_columns, str):
        feature_columns = ",".join(feature_columns)
    if classes is not None and not isinstance(classes, str):
        classes = ",".join(str(c) for c in classes)
    ds = _assay.load(os.fspath(path), format=format, h5_embeddings=h5_embeddings,
                     h5_labels=h5_labels, h5_ids=h5_ids, h5_pred_probs=h5_pred_probs,
                     label_column=label_column, id_column=id_column,
                     feature_columns=feature_columns, labels_file=p(labels_file),
                     ids_file=p(ids_file), pred_probs_file=p(pred_probs_file), classes=classes,
                     threads=threads)
    return Dataset(ds)


# ---- Result ----


class Result:
    """The outcome of :func:`scan`: the verdict, per-row scores, findings and tests, and every
    report format, all read from the one in-memory result the CLI renders its files from."""

    def __init__(self, _res: Any) -> None:
        self._r = _res
        self._cache: Dict[str, Any] = {}

    # verdict
    @property
    def verdict(self) -> str:
        """"pass", "warn" or "fail"."""
        return self._r.verdict()

    @property
    def passed(self) -> bool:
        """True unless the verdict is "fail" (a warning passes, as exit code 0)."""
        return self.verdict != "fail"

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this verdict (0, or 1 for fail unless gate.exit-zero)."""
        return self._r.exit_code()

    @property
    def reasons(self) -> List[str]:
        """The gate's reasons, one sentence each (report.json "gate.reasons")."""
        return self._r.reasons()

    @property
    def policy(self) -> Optional[Dict[str, Any]]:
        """The policy block of report.json (effective settings with their sources)."""
        return json.loads(self._r.policy_json())

    @property
    def dataset(self) -> Dataset:
        if "dataset" not in self._cache:
            self._cache["dataset"] = Dataset(self._r.dataset)
        return self._cache["dataset"]

    def __len__(self) -> int:
        return self._r.rows()

    # per-row arrays
    def _array(self, what: str, dtype: Any) -> np.ndarray:
        return np.frombuffer(self._r.array(what), dtype=dtype)

    @property
    def flagged(self) -> np.ndarray:
        """Boolean mask of the flagged rows."""
        return self._array("flags", np.uint8).astype(bool)

    @property
    def ranking(self) -> np.ndarray:
        """Indices of the flagged rows, most suspicious first."""
        return self._array("ranking", np.uint64).astype(np.int64)

    def detector_scores(self, detector: str) -> np.ndarray:
        """One detector's per-row scores (NaN where it does not apply or did not run)."""
        for v, n in _DET_BY_VALUE:
            if n == detector:
                return np.frombuffer(self._r.detector_scores(v), dtype=np.float32)
        close = difflib.get_close_matches(detector, [n for _, n in _DET_BY_VALUE], n=1)
        raise ValueError(f"unknown detector '{detector}'"
                         + (f"; did you mean '{close[0]}'?" if close else ""))

    @property
    def scores(self) -> "pandas.DataFrame":  # noqa: F821
        """One row per input row with scores.csv's columns: index, id, label, score, flagged,
        then each detector's score (NaN where it does not apply)."""
        import pandas as pd

        if "scores" not in self._cache:
            ds = self._r.dataset
            cols: Dict[str, Any] = {
                "index": np.arange(len(self), dtype=np.int64),
                "id": ds.row_ids(),
                "label": ds.row_labels(),
                "score": self._array("scores", np.float32),
                "flagged": self._array("flags", np.uint8).astype(np.int64),
            }
            for v, n in _DET_BY_VALUE:
                cols[n] = np.frombuffer(self._r.detector_scores(v), dtype=np.float32)
            self._cache["scores"] = pd.DataFrame(cols)
        return self._cache["scores"].copy()

    @property
    def findings(self) -> List[Dict[str, Any]]:
        """Every finding (one per row and detector whose flag rule fired), in row order."""
        if "findings" not in self._cache:
            out = []
            for (row, det, sev, score, kind, reason, test, why,
                 ev) in self._r.findings():
                out.append({"index": row, "detector": det, "severity": sev,
                            "detector_score": score, "kind": kind, "reason": reason,
                            "test": None if test < 0 else test, "explanation": why,
                            "evidence": json.loads(ev)})
            self._cache["findings"] = out
        return self._cache["findings"]

    @property
    def issues(self) -> "pandas.DataFrame":  # noqa: F821
        """The flagged rows with each detector's evidence, most suspicious first, like
        cleanlab's ``get_issues()``: ONE ROW PER FINDING, so a row two detectors flagged appears
        twice, next to each other, in the order of the ranking. Columns: index, id, label,
        class, score (combined), severity (the finding's), detector, kind, reason,
        detector_score, explanation, suggested_label, evidence (dict)."""
        import pandas as pd

        cols = ["index", "id", "label", "class", "score", "severity", "detector", "kind",
                "reason", "detector_score", "explanation", "suggested_label", "evidence"]
        ds = self._r.dataset
        ids, labels, classes = ds.row_ids(), ds.row_labels(), ds.classes
        row_class = np.frombuffer(ds.row_classes(), dtype=np.int32)
        score = self._array("scores", np.float32)
        sugg = self._array("suggested", np.int32)
        by_row: Dict[int, List[Dict[str, Any]]] = {}
        for f in self.findings:
            by_row.setdefault(f["index"], []).append(f)
        rows = []
        for r in self.ranking.tolist():
            c = int(row_class[r])
            s = int(sugg[r])
            for f in by_row.get(r, []):
                rows.append([r, ids[r], labels[r], classes[c] if c >= 0 else None,
                             float(score[r]), f["severity"], f["detector"], f["kind"],
                             f["reason"], f["detector_score"], f["explanation"],
                             classes[s] if s >= 0 else None, f["evidence"]])
        return pd.DataFrame(rows, columns=cols)

    @property
    def tests(self) -> "pandas.DataFrame":  # noqa: F821
        """The per-class and per-dataset hypothesis tests, report.json's "tests" with its keys:
        detector, class (None: the whole dataset), statistic, value, p_value, q_value (BH),
        significant, severity, gate, null, detail."""
        import pandas as pd

        classes = self._r.dataset.classes
        rows = []
        for det, cls, stat, value, p, q, sig, sev, gate, null, detail in self._r.tests():
            rows.append([det, classes[cls] if cls >= 0 else None, stat, value, p, q, sig, sev,
                         gate, null, detail])
        return pd.DataFrame(rows, columns=["detector", "class", "statistic", "value", "p_value", "q_value",
                                           "significant", "severity", "gate", "null",
                                           "detail"])

    @property
    def neighbours(self) -> Tuple[np.ndarray, np.ndarray]:
        """The exact k-NN graph: (ids int64 [N, k], distances float32 [N, k]), nearest first;
        rows left out of the graph (non-finite) have ids -1."""
        if "graph" not in self._cache:
            bi, bd, k = self._r.neighbours()
            n = len(self)
            ids = np.frombuffer(bi, dtype=np.int64).reshape(n, k)
            dist = np.frombuffer(bd, dtype=np.float32).reshape(n, k)
            self._cache["graph"] = (ids, dist)
        return self._cache["graph"]

    graph = neighbours

    # reports
    def report_text(self, format: str = "json") -> str:
        """One file of the report set as text, byte for byte what :meth:`write` writes
        ("json", "scores", "flagged", "manifest", "jsonl", "sarif", "junit", "cyclonedx",
        "html")."""
        return self._r.report_text(format)

    def report(self) -> Dict[str, Any]:
        """report.json, parsed."""
        return json.loads(self._r.report_text("json"))

    def summary(self, dir: Optional[PathLike] = None) -> str:
        """The human summary ``assay scan`` prints (``dir``: the report folder it names)."""
        return self._r.summary(None if dir is None else os.fspath(dir))

    def write(self, dir: PathLike, formats: Optional[Iterable[str]] = None) -> str:
        """Writes the report set (or only ``formats``, plus report.json) into ``dir``, created
        with its parents when absent, atomically (docs/atomic-output.md). Returns ``dir``."""
        d = os.fspath(dir)
        parent = os.path.dirname(os.path.abspath(d))
        os.makedirs(parent, exist_ok=True)
        self._r.write(d, None if formats is None else list(formats))
        return d

    def __repr__(self) -> str:
        n = len(self)
        nf = int(self._array("flags", np.uint8).sum())
        ds = self.dataset
        return (f"<assay.Result {self.verdict}: {nf} of {n} rows flagged "
                f"({100.0 * nf / n if n else 0:.1f}%), {self._r.finding_count()} findings; "
                f"{ds.d} dims, {len(ds.classes)} classes>")


# ---- scan and knn ----


def scan(X: Any, labels: Any = None, ids: Any = None, pred_probs: Any = None,
         policy: Union[None, PathLike, Mapping[str, Any]] = None, *, threads: int = 0,
         precision: str = "auto", graph_method: str = "exact",
         approx_recall: Optional[float] = None, name: Optional[str] = None, copy: bool = False,
         classes: Optional[Union[str, Sequence[Any]]] = None,
         graph_parts: Optional[Sequence[PathLike]] = None, **params: Any) -> Result:
    """Scans a dataset for poisoned, mislabelled, duplicated and outlying rows.

    X: a 2-D array [N, d] with the buffer protocol (numpy, np.memmap, ``tensor.numpy()``...),
    any float or integer dtype and any strides; float32 rows with unit column stride are read
    in place (no copy) unless ``copy=True``. Or a :class:`Dataset` from :func:`load` (then no
    labels/ids/pred_probs). labels: [N] integers, or strings (a list of str, a numpy ``<U`` or
    object array). ids: likewise, optional. pred_probs: [N, C] floats, optional.

    policy: a YAML policy file, or a dict of dotted keys (``{"gate.fail-on": "critical"}``,
    nested dicts are flattened). params: any option of ``assay scan`` with ``_`` for ``-``
    (``fail_on="critical", k=15, metric="l2", threshold={"knn-label": 0.8}``; see
    :func:`options`); they win over the policy as CLI flags do. Environment variables
    (ASSAY_*) are not read, except ASSAY_ISA and ASSAY_PRECISION, which the library itself
    reads. threads: 0 = every CPU. precision: the neighbour graph's candidate pass ("auto",
    "fp32", "bf16", "int8"; the graph is exact whatever it is). graph_method: "exact", or
    "approx" for millions of rows (an inverted file whose recall@k, aimed at approx_recall,
    default 0.99, is measured on a sample and reported in ``report["graph"]["approx"]``).
    name: the input's name in reports.
    classes: the declared label set. graph_parts: the shard files :func:`write_shard` (or
    ``assay scan --shard I/N``) wrote for this data, one per shard: the graph is merged from
    them instead of built, with the result the scan gives without them (docs/shards.md).

    The GIL is released while the scan runs; Ctrl-C cancels it and raises KeyboardInterrupt.
    Errors raise :class:`InputError` (bad input or options) or :class:`AssayError`."""
    kw = _scan_kw(X, labels, ids, pred_probs, policy, threads, precision, graph_method,
                  approx_recall, name, copy, classes, params)
    if graph_parts is not None:
        kw["graph_parts"] = [os.fspath(p) for p in graph_parts]
    return Result(_assay.scan(**kw))


def write_shard(X: Any, labels: Any = None, ids: Any = None, pred_probs: Any = None,
                policy: Union[None, PathLike, Mapping[str, Any]] = None, *,
                shard: Tuple[int, int], out: PathLike, threads: int = 0,
                precision: str = "auto", name: Optional[str] = None, copy: bool = False,
                classes: Optional[Union[str, Sequence[Any]]] = None, **params: Any) -> str:
    """Writes shard ``(i, n)`` of the neighbour graph :func:`scan` would build with the same
    arguments: the exact lists of rows floor(i N / n) to floor((i + 1) N / n) against every row,
    as the file ``out`` (atomically), like ``assay scan --shard i/n``. One task per shard (Ray,
    Spark, a process pool), then ``scan(..., graph_parts=[...])`` with every file finishes the
    scan with the result it gives alone (docs/shards.md). Give the shards the options that
    shape the graph (k, metric, expected_poison, skip) as you give them to that scan.
    Returns ``out``."""
    kw = _scan_kw(X, labels, ids, pred_probs, policy, threads, precision, "exact", None, name,
                  copy, classes, params)
    i, n = shard
    path = os.fspath(out)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    kw.update(shard=(int(i), int(n)), shard_path=path)
    return _assay.scan(**kw)


def _scan_kw(X: Any, labels: Any, ids: Any, pred_probs: Any,
             policy: Union[None, PathLike, Mapping[str, Any]], threads: int, precision: str,
             graph_method: str, approx_recall: Optional[float], name: Optional[str], copy: bool,
             classes: Optional[Union[str, Sequence[Any]]], params: Dict[str, Any]
             ) -> Dict[str, Any]:
    """_assay.scan's keywords for scan() and write_shard()."""
    opts = _param_options(params, "scan")
    popts, keys = _policy_args(policy)
    if classes is not None and not isinstance(classes, str):
        classes = ",".join(str(c) for c in classes)
    kw: Dict[str, Any] = dict(options=popts + opts, keys=keys, threads=int(threads),
                              precision=str(precision), graph_method=str(graph_method),
                              approx_recall=None if approx_recall is None
                              else float(approx_recall))
    if isinstance(X, Dataset):
        if labels is not None or ids is not None or pred_probs is not None:
            raise TypeError("scan(dataset): labels, ids and pred_probs come from the dataset")
        kw["dataset"] = X._ds
    else:
        if labels is None:
            raise TypeError("scan() missing the labels (or pass a Dataset from assay.load)")
        kw.update(X=_as_matrix(X), labels=_as_column(labels, "labels"),
                  ids=_as_column(ids, "ids"), name=name, copy=bool(copy), classes=classes)
        if pred_probs is not None:
            kw["pred_probs"] = _as_matrix(pred_probs)
    return kw


def knn(X: Any, k: int = 10, metric: str = "cosine", *, threads: int = 0,
        precision: str = "auto", graph_method: str = "exact",
        approx_recall: Optional[float] = None) -> Tuple[np.ndarray, np.ndarray]:
    """The k-nearest-neighbour graph a scan builds: (ids int64 [N, k], distances float32
    [N, k]), nearest first, each row's own index excluded. metric: "cosine" (1 - cos) or "l2"
    (squared Euclidean). precision, graph_method, approx_recall: as for :func:`scan` (exact by
    default). It is a scan with every detector skipped."""
    kw: Dict[str, Any] = dict(options=[("k", str(int(k))), ("metric", str(metric))], keys=[],
                              threads=int(threads), skip=_ALL_DETECTORS_MASK,
                              precision=str(precision), graph_method=str(graph_method),
                              approx_recall=None if approx_recall is None
                              else float(approx_recall))
    if isinstance(X, Dataset):
        kw["dataset"] = X._ds
    else:
        Xm = _as_matrix(X)
        n = memoryview(Xm).shape[0] if not isinstance(Xm, np.ndarray) else Xm.shape[0]
        kw.update(X=Xm, labels=np.zeros(n, dtype=np.int8))
    return Result(_assay.scan(**kw)).neighbours
