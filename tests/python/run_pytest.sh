#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# CTest python_pytest: installs the package as a user would (pip into a venv that sees Debian's
# numpy, pandas and pytest), linking the libassay.a this build made instead of building it
# again, then runs tests/python against that installation with the CLI of the same build.
# Usage: run_pytest.sh SRC BINDIR LIBDIR ASSAY_BIN [PYTHON]
set -euo pipefail
src=$1 bin=$2 libdir=$3 cli=$4 py=${5:-/usr/bin/python3}
venv=$bin/python-venv
rm -rf "$venv"
"$py" -m venv --system-site-packages "$venv"
ASSAY_LIBRARY_DIR=$libdir "$venv/bin/pip" install --quiet --no-build-isolation --no-deps \
  --disable-pip-version-check "$src"
cd "$bin" # not the source folder: the tests import the installed package
"$venv/bin/python" -c 'import assay, sys; sys.exit(0 if "python-venv" in assay.__file__ else 1)'
ASSAY_BIN=$cli exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$src/tests/python"
