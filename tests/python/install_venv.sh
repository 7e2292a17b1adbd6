#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# CTest python_install (the fixture of the Python tests): installs the package as a user would
# (pip into a venv that sees Debian's numpy, pandas, pytest and snakemake), linking the
# libassay.a this build made instead of building it again.
# Usage: install_venv.sh SRC VENV LIBDIR [PYTHON]
set -euo pipefail
src=$1 venv=$2 libdir=$3 py=${4:-/usr/bin/python3}
rm -rf "$venv"
"$py" -m venv --system-site-packages "$venv"
ASSAY_LIBRARY_DIR=$libdir "$venv/bin/pip" install --quiet --no-build-isolation --no-deps \
  --disable-pip-version-check "$src"
cd / # not the source folder: the installed package must be the one imported
"$venv/bin/python" -c 'import assay, sys; sys.exit(0 if "python-venv" in assay.__file__ else 1)'
