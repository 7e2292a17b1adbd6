# SPDX-License-Identifier: Apache-2.0
"""Runs the malformed-input corpus (corpus.py) through the real assay binary.

usage: run.py ASSAY WORKDIR [--format F] [--case GLOB] [--list] [--keep] [--timeout S]
              [--budget S] [--json FILE]

For each case: a fresh folder WORKDIR/<format>/cNNN/ (numbered: the message is matched with
that folder's path removed, so no regex can match the case's own name) with in/ (the inputs, built now), out/ (a
copy of a valid previous report) and tmp/ (TMPDIR of the run); the command runs with a timeout,
in its own process group, under an address-space limit (none for sanitizer builds). Then:
  - the exit code is the expected one, and never a signal or a hang;
  - for exit 2: stderr names the file (its basename) and matches the case's place regex, and the
    whole case folder (previous report, inputs, TMPDIR) is byte-identical to before the run;
  - for legal-but-odd inputs ("finding"): exit 0 or 1, the inputs unchanged, a complete new
    report set in out/, and no other new file;
  - "within" cases (tiny files declaring huge sizes): refused within 1 s and 100 MB more than
    a valid scan's peak memory.
Exit status 0 when every selected case passed, 1 otherwise (each failure listed with the
command that reruns it), 2 on bad usage. WORKDIR is removed at the end unless --keep."""
import argparse
import fnmatch
import hashlib
import json
import os
import re
import resource
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import base  # noqa: E402
import corpus  # noqa: E402

DEFAULT_FILE = {"npy": "emb.npy", "csv": "d.csv", "hdf5": "d.h5", "graph": "g.h5"}
TEMP_NAME = re.compile(r"(^\.)|(\.tmp)|(tmp\.)|(~$)|(staging)|(\.new$)|(\.part$)", re.I)


class Ctx:
    """What a case's builder sees: its input folder and the cached valid artefacts."""

    def __init__(self, case_dir, shared):
        self.dir = os.path.join(case_dir, "in")
        self.shared = shared
        self.fifos = []

    def p(self, name):
        return os.path.join(self.dir, name)

    def fifo(self, name):
        path = self.p(name)
        if os.path.lexists(path):
            os.remove(path)
        os.mkfifo(path)
        self.fifos.append(path)

    def prev_text(self, name):
        with open(os.path.join(self.shared["prev"], name), encoding="utf-8") as f:
            return f.read()

    def copy_graph(self, name):
        shutil.copyfile(self.shared["graph"], self.p(name))

    def copy_prev_into_in(self):
        for n in os.listdir(self.shared["prev"]):
            shutil.copyfile(os.path.join(self.shared["prev"], n), self.p(n))


def write_base(fmt, d):
    """The valid companion files of a format (never the file the case breaks)."""
    import numpy as np
    x, y, ids = base.arrays()
    if fmt in ("npy", "side"):
        np.save(os.path.join(d, "labels.npy"), y)
    if fmt == "side":
        np.save(os.path.join(d, "emb.npy"), x)
    if fmt == "policy":
        base.write_csv(os.path.join(d, "d.csv"), x, y, ids)
    if fmt in ("manifest", "graph"):
        base.write_h5(os.path.join(d, "d.h5"))


def command(assay, c):
    a = c.args
    if c.fmt == "npy":
        cmd = ["scan", "{in}/emb.npy", "--labels-file", "{in}/labels.npy"]
    elif c.fmt == "csv":
        cmd = ["scan", "{in}/d.csv"]
    elif c.fmt == "hdf5":
        cmd = ["scan", "{in}/d.h5"]
    elif c.fmt == "side":
        cmd = ["scan", "{in}/emb.npy"]
        if "--labels-file" not in a:
            cmd += ["--labels-file", "{in}/labels.npy"]
    elif c.fmt == "policy":
        cmd = ["scan", "{in}/d.csv"]
    elif c.fmt == "graph":
        cmd = ["scan", "{in}/d.h5", "--graph", "{in}/g.h5", "-k", "10"]
    elif c.fmt == "manifest" and c.cmd == "diff":
        cmd = ["diff", "{in}/old/manifest.json", "{out}/manifest.json", "--out", "{out}", "-q"]
    elif c.fmt == "manifest":
        cmd = ["scan", "{in}/d.h5", "--baseline", "{in}/old/manifest.json"]
    elif c.fmt == "report" and c.cmd == "render-here":
        cmd = ["report", "render", "{in}/report.json", "-q"]
    elif c.fmt == "report":
        cmd = ["report", "render", "{in}/report.json", "--out", "{out}", "-q"]
    else:
        raise SystemExit("no command for %s/%s" % (c.fmt, c.name))
    if cmd[0] == "scan":
        cmd += ["--out", "{out}", "-q", "--threads", "1"]
    return [assay] + cmd + a


def snapshot(root):
    """relative path -> kind and content digest, for everything under root (links not followed)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                with open(full, "rb") as f:
                    for blk in iter(lambda: f.read(1 << 20), b""):
                        h.update(blk)
                out[rel] = "file " + h.hexdigest()
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = "dir"
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = "link " + os.readlink(full)
            else:
                out[rel] = "special %o" % stat.S_IFMT(st.st_mode)
    return out


def diff_snap(before, after, prefix=""):
    msgs = []
    for k in sorted(set(before) | set(after)):
        if not k.startswith(prefix):
            continue
        if k not in after:
            msgs.append("removed " + k)
        elif k not in before:
            msgs.append("new " + k)
        elif before[k] != after[k]:
            msgs.append("changed " + k)
    return msgs


class FifoWriter(threading.Thread):
    """Feeds zeros into a FIFO for as long as the case runs (an endless input like /dev/zero);
    opens non-blocking so a reader that never opens the FIFO does not block us."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path, self.stop = path, threading.Event()

    def run(self):
        fd = None
        zeros = b"\0" * 65536
        while not self.stop.is_set():
            if fd is None:
                try:
                    fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    time.sleep(0.01)
                    continue
            try:
                os.write(fd, zeros)
            except BlockingIOError:
                time.sleep(0.002)
            except OSError:  # EPIPE: the reader closed it
                break
        if fd is not None:
            os.close(fd)


def run_cmd(cmd, cwd, env, timeout, as_limit):
    def limits():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 30, 1 << 30))
        if as_limit:
            resource.setrlimit(resource.RLIMIT_AS, (as_limit, as_limit))
    with open(os.path.join(cwd, "..", "stdout"), "wb") as so, \
            open(os.path.join(cwd, "..", "stderr"), "wb") as se:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=so,
                             stderr=se, start_new_session=True, preexec_fn=limits)
        hung = False
        try:
            while True:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() - t0 > timeout:
                    hung = True
                    os.killpg(p.pid, signal.SIGKILL)
                    pid, status, ru = os.wait4(p.pid, 0)
                    break
                time.sleep(0.003)
        except BaseException:  # interrupted (SIGINT, CTest's timeout): take the child along
            os.killpg(p.pid, signal.SIGKILL)
            os.wait4(p.pid, 0)
            p.returncode = -9
            raise
        elapsed = time.monotonic() - t0
        p.returncode = 0  # reaped above; keep Popen from waiting again
        try:  # the whole group: a sandbox child left behind must not outlive the case
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    rc = os.waitstatus_to_exitcode(status)
    with open(os.path.join(cwd, "..", "stderr"), "rb") as f:
        err = f.read().decode("utf-8", "replace")
    return rc, hung, elapsed, ru.ru_maxrss / 1024.0, err


def is_sanitized(assay):
    with open(assay, "rb") as f:
        data = f.read()
    return b"__asan_init" in data or b"__tsan_init" in data or b"__msan_init" in data


class Runner:
    def __init__(self, args):
        self.a = args
        self.assay = os.path.abspath(args.assay)
        self.work = os.path.abspath(args.workdir)
        self.san = is_sanitized(self.assay)
        self.slow = 4.0 if self.san else 1.0
        self.as_limit = 0 if self.san else 3 << 30
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
        self.env["NO_COLOR"] = "1"
        self.shared = {}

    def prepare(self):
        """The valid previous report (and graph), built once for all cases."""
        sh = os.path.join(self.work, "_shared")
        os.makedirs(sh)
        base.write_h5(os.path.join(sh, "d.h5"))
        prev = os.path.join(sh, "prev")
        rc, hung, el, rss, err = run_cmd([self.assay, "scan", os.path.join(sh, "d.h5"), "--out",
                                          prev, "-q", "--threads", "1"], sh, self.env, 60,
                                         self.as_limit)
        if rc not in (0, 1) or not os.path.exists(os.path.join(prev, "report.json")):
            raise SystemExit("the valid previous scan failed (%d): %s" % (rc, err))
        self.base_rss = rss
        g = os.path.join(sh, "g.h5")
        rc, hung, el, rss, err = run_cmd([self.assay, "knn", os.path.join(sh, "d.h5"), "--out",
                                          g, "-k", "10", "-q"], sh, self.env, 60, self.as_limit)
        if rc != 0:
            raise SystemExit("assay knn failed (%d): %s" % (rc, err))
        self.shared = {"prev": prev, "graph": g}
        self.report_files = sorted(os.listdir(prev))

    def rerun(self, c):
        return "%s %s %s %s --format %s --case '%s'" % (
            sys.executable, os.path.join(HERE, "run.py"), self.assay, self.work, c.fmt, c.name)

    def case_dir(self, c):
        # numbered, not named: a place regex must never match the case's own name in a path
        return os.path.join(self.work, c.fmt, "c%03d" % corpus.cases(c.fmt).index(c))

    def run_case(self, c):
        cdir = self.case_dir(c)
        os.makedirs(os.path.join(cdir, "in"))
        os.makedirs(os.path.join(cdir, "tmp"))
        shutil.copytree(self.shared["prev"], os.path.join(cdir, "out"))
        write_base(c.fmt, os.path.join(cdir, "in"))
        ctx = Ctx(cdir, self.shared)
        c.build(ctx)
        cmd = [x.replace("{in}", ctx.dir).replace("{out}", os.path.join(cdir, "out"))
               for x in command(self.assay, c)]
        before = snapshot(cdir)
        env = dict(self.env, TMPDIR=os.path.join(cdir, "tmp"))
        writers = [FifoWriter(p) for p in ctx.fifos]
        for w in writers:
            w.start()
        try:
            rc, hung, elapsed, rss, err = run_cmd(cmd, ctx.dir, env, self.a.timeout * self.slow,
                                                  self.as_limit)
        finally:
            for w in writers:
                w.stop.set()
            for w in writers:
                w.join(2)
        after = snapshot(cdir)
        err = err.replace(cdir + "/", "").replace(cdir, ".")
        problems = self.judge(c, rc, hung, elapsed, rss, err, before, after, cdir)
        return problems, rc, err, cmd, elapsed, rss

    def judge(self, c, rc, hung, elapsed, rss, err, before, after, cdir):
        p = []
        if hung or rc < 0:  # and what it left behind
            left = diff_snap(before, after, "out") + diff_snap(before, after, "in") + \
                diff_snap(before, after, "tmp")
            return ["hang: no exit within %.0f s (killed)" % (self.a.timeout * self.slow) if hung
                    else "killed by signal %d (%s)" % (-rc, signal.Signals(-rc).name)] + [
                        "left behind: " + m for m in left]
        expect = c.expect
        if expect == "any":
            expect = 2 if rc == 2 else "finding"
            if rc not in (0, 1, 2):
                p.append("exit %d, expected 0, 1 or 2" % rc)
                return p
        if expect == "finding":
            if rc not in (0, 1):
                p.append("exit %d, expected 0 or 1 (a legal input: findings, not an error)"
                         % rc)
            p += ["input " + m for m in diff_snap(before, after, "in")]
            p += ["TMPDIR " + m for m in diff_snap(before, after, "tmp")]
            out = os.path.join(cdir, "out")
            names = sorted(os.listdir(out))
            missing = [n for n in self.report_files if n not in names]
            extra = [n for n in names if n not in self.report_files]
            if missing:
                p.append("incomplete report set, missing: " + ", ".join(missing))
            if extra:
                p.append("unexpected files in the report folder: " + ", ".join(extra))
            top = sorted(set(os.listdir(cdir)) - {"in", "out", "tmp", "stdout", "stderr"})
            if top:
                p.append("new files beside the report folder: " + ", ".join(top))
            if not missing and rc in (0, 1):
                try:
                    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
                        r = json.load(f)
                    if c.check:
                        m = c.check(r)
                        if m:
                            p.append(m)
                except ValueError as e:
                    p.append("report.json does not parse: %s" % e)
        else:
            if rc != expect:
                p.append("exit %d, expected %d" % (rc, expect))
            if len(err) > 16384:
                p.append("message of %d bytes (at most 16 KB: it must not echo the input)"
                         % len(err))
            fname = c.file or DEFAULT_FILE.get(c.fmt)
            # the path as the command gave it (the case folder is cut from the message), so a
            # phrase such as "a report.json from another version" does not count
            if fname and ("in/" + fname) not in err:
                p.append("message does not name the file 'in/%s' (the path it was given)"
                         % fname)
            where = err.replace("in/" + fname, "FILE") if fname else err  # not the file's name
            if c.place and not re.search(c.place, where, re.I | re.S):
                p.append("message does not give the place /%s/" % c.place)
            changed = diff_snap(before, after, "out")
            if len(changed) > 3:
                changed = ["replaced or changed: %d entries (%s, ...)" % (len(changed),
                                                                        changed[0])]
            p += ["previous report " + m for m in changed]
            p += ["input " + m for m in diff_snap(before, after, "in")]
            p += ["TMPDIR " + m for m in diff_snap(before, after, "tmp")]
            top = sorted(set(os.listdir(cdir)) - {"in", "out", "tmp", "stdout", "stderr"})
            if top:
                p.append("new files beside the report folder: " + ", ".join(top))
        for k, v in after.items():
            if k not in before and TEMP_NAME.search(os.path.basename(k)):
                p.append("temporary file left: " + k)
        if c.within:
            if elapsed > 1.0 * self.slow:
                p.append("took %.2f s to refuse a tiny file declaring huge sizes (limit 1 s)"
                         % elapsed)
            if not self.san and rss > self.base_rss + 100:
                p.append("peak memory %.0f MB, a valid scan's %.0f MB + 100 MB at most"
                         % (rss, self.base_rss))
        return sorted(set(p), key=p.index)

    def main(self):
        sel = [c for c in corpus.cases(self.a.format)
               if self.a.case is None or fnmatch.fnmatchcase(c.name, self.a.case)]
        if not sel:
            print("no case matches", file=sys.stderr)
            return 2
        if os.path.exists(self.work):
            shutil.rmtree(self.work)
        os.makedirs(self.work)
        results = []
        t_start = time.monotonic()
        try:
            self.prepare()
            for c in sel:
                if time.monotonic() - t_start > self.a.budget:
                    results.append((c, ["not run: the run's budget of %.0f s was used up"
                                        % self.a.budget], None, "", [], 0, 0))
                    continue
                try:
                    problems, rc, err, cmd, el, rss = self.run_case(c)
                except Exception as e:  # a builder failing is the corpus's bug: say so
                    problems, rc, err, cmd, el, rss = (["could not build the case: %r" % e],
                                                       None, "", [], 0, 0)
                results.append((c, problems, rc, err, cmd, el, rss))
                if not self.a.keep:
                    shutil.rmtree(self.case_dir(c), ignore_errors=True)
        finally:
            if not self.a.keep:
                shutil.rmtree(self.work, ignore_errors=True)
        failed = [r for r in results if r[1]]
        for c, problems, rc, err, cmd, el, rss in results:
            tag = "FAIL" if problems else "ok  "
            if problems or self.a.verbose:
                print("%s %s/%s (exit %s, %.2f s, %.0f MB)%s" % (
                    tag, c.fmt, c.name, rc, el, rss, " [issue 14 part %s]" % c.part
                    if c.part and problems else ""))
            if problems:
                for m in problems:
                    print("       - " + m)
                first = err.strip().splitlines()[:2]
                for line in first:
                    print("       stderr: " + line[:300])
                print("       rerun: " + self.rerun(c) + (
                    "   (kept in %s)" % self.case_dir(c) if self.a.keep else ""))
        print("malformed %s: %d cases, %d passed, %d failed, %.1f s" % (
            self.a.format or "all", len(results), len(results) - len(failed), len(failed),
            time.monotonic() - t_start))
        if self.a.json:
            with open(self.a.json, "w") as f:
                json.dump([{"format": c.fmt, "case": c.name, "exit": rc, "expect": c.expect,
                            "part": c.part, "problems": problems, "stderr": err[:2000],
                            "seconds": round(el, 3), "max_rss_mb": round(rss)}
                           for c, problems, rc, err, cmd, el, rss in results], f, indent=1)
        return 1 if failed else 0


def list_cases(fmt):
    for c in corpus.cases(fmt):
        exp = c.expect if isinstance(c.expect, str) else "exit %d" % c.expect
        print("%-9s %-48s %-8s %-14s %s%s" % (c.fmt, c.name, exp, c.file or
                                              DEFAULT_FILE.get(c.fmt, "-"), c.place or "-",
                                              "  [part %s]" % c.part if c.part else ""))
    counts = {}
    for c in corpus.cases(fmt):
        counts[c.fmt] = counts.get(c.fmt, 0) + 1
    print("cases per format: " + ", ".join("%s %d" % kv for kv in counts.items()))


def main():
    # SIGTERM (CTest's timeout, a CI cancel) unwinds like Ctrl-C: the child is killed and the
    # scratch folder removed by the finally blocks
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("assay", nargs="?")
    ap.add_argument("workdir", nargs="?")
    ap.add_argument("--format", choices=corpus.FORMATS)
    ap.add_argument("--case", help="case name or glob")
    ap.add_argument("--list", action="store_true", help="print the table and exit")
    ap.add_argument("--keep", action="store_true", help="keep WORKDIR for inspection")
    ap.add_argument("--verbose", "-v", action="store_true", help="print passing cases too")
    ap.add_argument("--timeout", type=float, default=20, help="seconds per case (default 20)")
    ap.add_argument("--budget", type=float, default=150,
                    help="seconds for the whole run; later cases are failed as not run")
    ap.add_argument("--json", help="write the results to this file")
    a = ap.parse_args()
    if a.list:
        list_cases(a.format)
        return 0
    if not a.assay or not a.workdir:
        ap.error("ASSAY and WORKDIR are required (or --list)")
    return Runner(a).main()


if __name__ == "__main__":
    sys.exit(main())
