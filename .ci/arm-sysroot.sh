#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Prepares a Debian 12 amd64 machine (as root) to cross-compile assay for AArch64 and to run its
# tests under qemu-user: the cross compiler, qemu, the arm64 multiarch libraries, HDF5's arm64
# headers (unpacked under build/, see below) and binfmt_misc, so that aarch64 programs started by
# the tests (the CLI, the Fashion-MNIST tool) run as if native. Safe to run again.
# Then: cmake --workflow --preset aarch64
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# ---- packages ----
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
fi
apt-get update
apt-get install -y --no-install-recommends gcc-aarch64-linux-gnu qemu-user-static binfmt-support \
    libopenblas-dev:arm64 libcsv-dev:arm64 libssl-dev:arm64 libjansson-dev:arm64 libyaml-dev:arm64 \
    zlib1g-dev:arm64 libcmocka-dev:arm64 libhdf5-103-1:arm64 libhdf5-hl-100:arm64

# ---- HDF5 headers for arm64 ----
# libhdf5-dev is not Multi-Arch: same, so the arm64 one cannot be installed beside the amd64 one
# (which the native build needs). Its runtime libraries (above) are co-installable; its headers
# (H5pubconf.h differs between the two) and .so links are unpacked into build/aarch64-sysroot,
# whose libraries point at the installed arm64 runtime. The aarch64 configure preset sets HDF5_ROOT
# to it.
sysroot=build/aarch64-sysroot
h5ver=$(dpkg-query -W -f='${Version}' libhdf5-103-1:arm64)
if [ "$(cat "$sysroot/.hdf5-version" 2>/dev/null || true)" != "$h5ver" ]; then
    rm -rf "$sysroot"
    mkdir -p "$sysroot/deb"
    chmod 0777 "$sysroot/deb" # apt downloads as _apt where it can
    (cd "$sysroot/deb" && apt-get download "libhdf5-dev:arm64=$h5ver")
    dpkg -x "$sysroot"/deb/libhdf5-dev_*_arm64.deb "$sysroot"
    rm -rf "$sysroot/deb"
    libdir=$sysroot/usr/lib/aarch64-linux-gnu
    # Shared libraries only (the static archives would link HDF5's own dependencies statically).
    find "$sysroot" -name '*.a' -delete
    for link in "$libdir"/libhdf5_serial*.so; do
        target=$(readlink "$link")
        if [ ! -e "$libdir/$target" ]; then
            [ -e "/usr/lib/aarch64-linux-gnu/$target" ] && ln -sf "/usr/lib/aarch64-linux-gnu/$target" "$libdir/$target"
        fi
    done
    test -e "$libdir/hdf5/serial/libhdf5.so" || {
        echo "arm-sysroot: $libdir/hdf5/serial/libhdf5.so does not resolve" >&2
        exit 1
    }
    echo "$h5ver" > "$sysroot/.hdf5-version"
fi

# ---- binfmt_misc ----
# CTest starts the test programs through qemu (CMAKE_CROSSCOMPILING_EMULATOR), but programs that
# a test starts itself (test_cli runs the assay binary, the CMake scripts run the CLI and the
# dataset tool) are exec'd by the kernel, which needs qemu registered with binfmt_misc. In a
# container the file system may not be mounted yet; mounting it works where we are root in our
# own kernel or user namespace.
bm=/proc/sys/fs/binfmt_misc
if [ ! -e "$bm/register" ]; then
    mount -t binfmt_misc binfmt_misc "$bm" 2>/dev/null || true
fi
if [ -e "$bm/register" ] && [ ! -e "$bm/qemu-aarch64" ]; then
    update-binfmts --enable qemu-aarch64 || true
fi
# The arm64 dynamic loader is itself an aarch64 executable: running it proves the registration.
if ! /lib/ld-linux-aarch64.so.1 --version > /dev/null 2>&1; then
    echo "arm-sysroot: aarch64 programs cannot be executed directly (binfmt_misc is not" >&2
    echo "available here: $(ls "$bm" 2>&1 | tr '\n' ' ')); the tests that start the CLI" >&2
    echo "would fail. Mount binfmt_misc (mount -t binfmt_misc binfmt_misc $bm) and run" >&2
    echo "update-binfmts --enable qemu-aarch64, or run the container with --privileged." >&2
    exit 1
fi
echo "arm-sysroot: ready (HDF5 $h5ver headers in $sysroot; qemu-aarch64 registered with binfmt_misc)"
