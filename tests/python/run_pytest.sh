#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# CTest python_pytest: runs tests/python against the package python_install put in VENV, with
# the CLI of the same build.
# Usage: run_pytest.sh SRC VENV ASSAY_BIN
set -euo pipefail
src=$1 venv=$2 cli=$3
cd "$(dirname "$venv")" # not the source folder: the tests import the installed package
ASSAY_BIN=$cli exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$src/tests/python"
