# SPDX-License-Identifier: Apache-2.0
# Toolchain file: cross-compile for AArch64 Linux on a Debian 12 amd64 host with Debian's
# gcc-aarch64-linux-gnu and the arm64 multiarch -dev packages (.ci/arm-sysroot.sh installs them).
# The target's libraries live in /usr/lib/aarch64-linux-gnu beside the host's, so the sysroot is /
# and only the library architecture, pkg-config's search path and the emulator change. Programs
# the build runs (tests) go through qemu-aarch64; see docs/kernels.md, "ARM (cross-compiled,
# tested under qemu)".
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)

if(NOT CMAKE_C_COMPILER)
  set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
endif()

# No separate sysroot: with the library architecture set, find_library looks in
# /usr/lib/aarch64-linux-gnu and never in the host's /usr/lib/x86_64-linux-gnu; programs (python3,
# the emulator) are the host's.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)

# pkg-config must see the arm64 .pc files only (never the host's x86_64 ones).
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
unset(ENV{PKG_CONFIG_PATH})

# CTest runs the test programs through the emulator; programs those start (the CLI, the
# Fashion-MNIST tool) need binfmt_misc, which .ci/arm-sysroot.sh sets up. QEMU_CPU (in the test
# presets' environment) picks the CPU model and the SVE vector length.
find_program(ASSAY_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(ASSAY_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${ASSAY_QEMU_AARCH64})
endif()
