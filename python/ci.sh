#!/usr/bin/env bash
# CI for the Python package, run from the repository root:  python/ci.sh PATH/TO/steepest
# A fresh virtual environment, `pip install ./python` (CPU backend), the tests (the CLI
# comparisons against the binary given), then the example.  Any failure fails the script,
# "no tests collected" (pytest's exit code 5) included.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: python/ci.sh PATH/TO/steepest   (the CLI the tests compare with)" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
cli=$(realpath "$1")
if [ ! -x "$cli" ]; then
  echo "python/ci.sh: $1 is not an executable steepest CLI" >&2
  exit 2
fi

venv=build-python/venv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet numpy scikit-learn pytest pandas
"$venv/bin/python" -m pip install --quiet ./python -C cmake.define.STEEPEST_ENABLE_CUDA=OFF
"$venv/bin/python" -c 'import steepest; print("steepest", steepest.__version__, steepest.__file__, steepest.build_info())'

# -p no:cacheprovider: nothing written into the source tree.
STEEPEST_CLI="$cli" "$venv/bin/python" -m pytest -p no:cacheprovider -rs -q python/tests
"$venv/bin/python" examples/python_example.py
echo "python/ci.sh: passed"
