# SPDX-License-Identifier: Apache-2.0
"""Ctrl-C: SIGINT during a scan cancels it (assay_ctx_cancel) and raises KeyboardInterrupt
promptly; the process then exits cleanly. Measured against the same scan run to the end."""

import signal
import time

from conftest import run_python

CHILD = r"""
import sys, time
import numpy as np
import assay
rng = np.random.default_rng(0)
X = rng.standard_normal((40000, 64), dtype=np.float32)
y = np.arange(len(X)) % 10
print("ready", flush=True)
t0 = time.monotonic()
try:
    r = assay.scan(X, y)
except KeyboardInterrupt:
    print("interrupted %.3f" % (time.monotonic() - t0), flush=True)
    # the interpreter and the library still work after a cancelled scan
    r = assay.scan(X[:300], y[:300])
    print("again", r.verdict, flush=True)
    sys.exit(0)
print("finished %.3f" % (time.monotonic() - t0), flush=True)
"""


def start():
    p = run_python(CHILD)
    assert p.stdout.readline().strip() == "ready"
    return p


def test_ctrl_c_cancels_promptly():
    # the whole scan, for scale
    p = start()
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    full = float(out.split()[-1])

    p = start()
    time.sleep(0.5)
    t_sig = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=600)
    latency = time.monotonic() - t_sig
    assert p.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("interrupted"), out
    assert lines[1].startswith("again"), out
    # the cancelled scan stopped far sooner than it would have finished (the rest of the latency
    # is the small scan after it and the interpreter's exit)
    assert latency < 0.5 * full + 2.0, (latency, full)
    stopped_at = float(lines[0].split()[1])
    print(f"full scan {full:.2f} s; SIGINT at 0.5 s: KeyboardInterrupt at {stopped_at:.2f} s, "
          f"process gone {latency:.2f} s after the signal")
    assert stopped_at < 0.6 * full, (stopped_at, full)
    assert "Traceback" not in err
