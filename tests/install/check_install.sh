#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the build into a fresh prefix and builds a user's program against it four ways:
# pkg-config shared and static, the CMake package shared and static; each must run and find the
# planted copies (tests/install/consumer.c). The static programs must not need libassay.so.
#   check_install.sh BUILD_DIR WORK_DIR CC
set -euo pipefail
build=$1 work=$2 cc=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
pc=$(find "$prefix" -name assay.pc -path '*/pkgconfig/*')
libdir=$(dirname "${pc%%$'\n'*}")/..
export PKG_CONFIG_PATH=$libdir/pkgconfig

check() { # name binary [LD_LIBRARY_PATH]
    local name=$1 bin=$2
    if [ "${3:-}" ]; then
        LD_LIBRARY_PATH=$3 "$bin" "$work" >"$work/$name.out"
    else
        "$bin" "$work" >"$work/$name.out"
    fi
    echo "$name: $(cat "$work/$name.out")"
}
# (ldd's output is read whole first: with pipefail, `ldd | grep -q` fails whenever grep stops
# reading before ldd has written everything)
not_needing_libassay() { # binary
    local deps
    deps=$(ldd "$1")
    if grep -q 'libassay\.so' <<<"$deps"; then
        echo "$1 was linked statically but needs libassay.so" >&2
        exit 1
    fi
}

# pkg-config, shared
# shellcheck disable=SC2046
"$cc" -o "$work/pc_shared" "$here/consumer.c" $(pkg-config --cflags --libs assay)
check pkg-config-shared "$work/pc_shared" "$libdir"
deps=$(ldd "$work/pc_shared")
grep -q 'libassay\.so\.0\.1 ' <<<"$deps" || { echo "pc_shared: no libassay.so.0.1" >&2; exit 1; }

# pkg-config, static: the archive named, then the libraries Libs.private and Requires.private add
static_libs=$(pkg-config --static --libs assay | sed 's/-lassay\b/-l:libassay.a/')
# shellcheck disable=SC2086
"$cc" -o "$work/pc_static" "$here/consumer.c" $(pkg-config --cflags assay) $static_libs
not_needing_libassay "$work/pc_static"
check pkg-config-static "$work/pc_static"

# the CMake package, both targets
cmake -S "$here" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    >"$work/cmake-configure.log"
cmake --build "$work/cmake-build" >"$work/cmake-build.log"
check cmake-shared "$work/cmake-build/consumer_shared" "$libdir"
not_needing_libassay "$work/cmake-build/consumer_static"
check cmake-static "$work/cmake-build/consumer_static"
echo "the installed library links from pkg-config and CMake, shared and static"
