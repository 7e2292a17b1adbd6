# SPDX-License-Identifier: Apache-2.0
"""Builds assay._assay: first libassay's static library with CMake (its objects are
position-independent), then the extension linked against it, so the package needs no installed
libassay. Set ASSAY_LIBRARY_DIR to a build folder holding libassay.a (a CMake build tree's
src/ folder or the folder itself) to link that one instead of building it again."""

import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))

# The system libraries libassay calls (src/CMakeLists.txt, ASSAY_DEPS): OpenBLAS, HDF5 (serial),
# libcsv, jansson, libyaml, OpenSSL's libcrypto, pthread and libm. hdf5-serial, not hdf5: with
# libhdf5-openmpi-dev installed Debian points hdf5.pc at the MPI build, which does not match the
# serial headers libassay.a was compiled with and pulls in libmpi.
PKG_MODULES = ["openblas", "hdf5-serial", "jansson", "yaml-0.1", "libcrypto"]
FALLBACK_LIBS = ["openblas", "hdf5_serial", "jansson", "yaml", "crypto"]


def pkg_config_libs():
    """Library folders and names from pkg-config, with Debian's names as the fallback."""
    dirs, libs = [], []
    for mod in PKG_MODULES:
        try:
            out = subprocess.run(["pkg-config", "--libs", mod], check=True,
                                 capture_output=True, text=True).stdout.split()
        except (OSError, subprocess.CalledProcessError):
            return ["/usr/lib/x86_64-linux-gnu/openblas-pthread"], FALLBACK_LIBS + ["csv", "pthread", "m"]
        for tok in out:
            if tok.startswith("-L") and tok[2:] not in dirs:
                dirs.append(tok[2:])
            elif tok.startswith("-l") and tok[2:] not in libs:
                libs.append(tok[2:])
    return dirs, libs + ["csv", "pthread", "m"]


def find_static(folder):
    for cand in (os.path.join(folder, "libassay.a"), os.path.join(folder, "src", "libassay.a")):
        if os.path.isfile(cand):
            return cand
    return None


class BuildWithCMake(build_ext):
    def run(self):
        lib = None
        given = os.environ.get("ASSAY_LIBRARY_DIR")
        if given:
            lib = find_static(given)
            if lib is None:
                sys.exit(f"ASSAY_LIBRARY_DIR={given}: no libassay.a there (or in its src/)")
        else:
            build = os.path.join(ROOT, "build", "python")
            cmake = shutil.which("cmake") or "cmake"
            subprocess.run([cmake, "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
                            "-DASSAY_BUILD_TESTS=OFF", "-DASSAY_BUILD_BENCH=OFF",
                            "-DASSAY_BUILD_DATASETS=OFF"], check=True)
            subprocess.run([cmake, "--build", build, "--target", "assay_static", "-j2"],
                           check=True)
            lib = find_static(build)
            if lib is None:
                sys.exit(f"{build}: the CMake build made no libassay.a")
        # always relink: the archive may be another build's with an older timestamp
        self.force = True
        dirs, libs = pkg_config_libs()
        for ext in self.extensions:
            # the archive before the system libraries it needs (link order)
            ext.extra_objects = [lib]
            ext.library_dirs = dirs
            ext.libraries = libs
            ext.depends = [lib]
        super().run()


setup(
    ext_modules=[
        Extension(
            "assay._assay",
            sources=["python/assay/_assay.c"],
            include_dirs=[os.path.join(ROOT, "include")],
            extra_compile_args=["-std=gnu11", "-O2", "-Wall", "-Wextra",
                                "-Wno-missing-field-initializers",
                                "-Wno-cast-function-type"],
        )
    ],
    cmdclass={"build_ext": BuildWithCMake},
)
