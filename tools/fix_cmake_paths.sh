#!/usr/bin/env bash
# The ros-kilted-* wheels' exported CMake files carry the include paths of the manylinux
# container they were built in (/opt/python/cpXY-cpXY/...). Rewrite them to this venv's Python
# and numpy include directories so that rosidl builds against the wheels. Idempotent.
set -euo pipefail
VENV=${1:?usage: fix_cmake_paths.sh VENV}
PY=$VENV/bin/python
PYINC=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
NPINC=$("$PY" -c "import numpy; print(numpy.get_include())")
{ grep -rlE "/opt/python/cp3[0-9]+-cp3[0-9]+" "$VENV/share" --include='*.cmake' || true; } | xargs -r sed -i -E \
  -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/include/python3\.[0-9]+#$PYINC#g" \
  -e "s#/opt/python/cp3[0-9]+-cp3[0-9]+/lib/python3\.[0-9]+/site-packages/numpy/(_core|core)/include#$NPINC#g"
