#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A full disk under a report folder that is itself a mount point (issue 14): a small tmpfs is
# mounted, scanned into, filled up, scanned into again. The second scan must exit 3 naming
# errno's text ("No space left on device"), leave the previous set byte for byte and the file
# assay did not write (the filler) in place, and leave no temporary; once space is freed a scan
# commits a complete set. Exits 77 (CTest: skipped) with the reason when no tmpfs can be
# mounted (not root, or a container without CAP_SYS_ADMIN).
# usage: atomic_tmpfs.sh ASSAY PYTHON3 WORKDIR
set -u
A=$1 PY=$2 W=$3
fail() { echo "atomic_tmpfs: $*" >&2; exit 1; }
umount "$W/mnt" 2>/dev/null
rm -rf "$W" && mkdir -p "$W/mnt" || fail "cannot create $W"
if ! mount -t tmpfs -o size=4m tmpfs "$W/mnt" 2>"$W/mount.err"; then
    echo "skipped: cannot mount a tmpfs here: $(cat "$W/mount.err")"
    exit 77
fi
trap 'umount "$W/mnt"' EXIT
"$PY" -c "
import numpy as np
g = np.random.default_rng(1)
y = g.integers(0, 4, 600)
np.save('$W/x.npy', (g.normal(0, 1, (600, 16)) + 6 * y[:, None]).astype(np.float32))
np.save('$W/y.npy', y)" || fail "cannot write the data"
OUT=$W/mnt
snap() { (cd "$OUT" && find . -maxdepth 1 -type f ! -name filler | sort | xargs sha256sum); }
"$A" scan "$W/x.npy" --labels-file "$W/y.npy" --out "$OUT" -q
rc=$?
[ $rc -le 1 ] || fail "the first scan exited $rc"
snap > "$W/before.txt"
# fill the file system, then give back 32 KB: far less than a report set
dd if=/dev/zero of="$OUT/filler" bs=64k 2>/dev/null
truncate -s -32K "$OUT/filler" || fail "truncate"
filler=$(sha256sum < "$OUT/filler")
"$A" scan "$W/x.npy" --labels-file "$W/y.npy" --out "$OUT" -q 2>"$W/err.txt"
rc=$?
[ $rc -eq 3 ] || fail "a full disk exited $rc, expected 3: $(cat "$W/err.txt")"
grep -q "No space left on device" "$W/err.txt" || fail "no errno text: $(cat "$W/err.txt")"
snap > "$W/after.txt"
cmp -s "$W/before.txt" "$W/after.txt" || fail "the previous set changed: $(diff "$W/before.txt" "$W/after.txt")"
[ "$(sha256sum < "$OUT/filler")" = "$filler" ] || fail "the filler changed"
left=$(find "$W" -name '*.tmp-*' -o -name '.assay-staging*')
[ -z "$left" ] || fail "temporaries left: $left"
rm "$OUT/filler"
"$A" scan "$W/x.npy" --labels-file "$W/y.npy" --out "$OUT" -q
rc=$?
[ $rc -le 1 ] || fail "the scan after freeing space exited $rc"
grep -q '"report.json"' "$OUT/.assay-commit" || fail "no commit record"
echo "atomic_tmpfs: full disk -> exit 3, previous set intact, no temporaries"
