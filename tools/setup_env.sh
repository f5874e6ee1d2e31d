#!/usr/bin/env bash
# `make setup`: create .venv with the pinned set (requirements.txt), the ROS 2 Kilted wheels,
# build msg/ into the venv, install robosmplx editable, fetch the sample media and convert the
# person detector to ONNX (tools/convert_detector.sh).
# Idempotent: each step leaves a stamp keyed by the hash of its inputs and is skipped when the
# stamp matches, so a second run with everything present takes a second or two.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
STAMPS=$VENV/.robosmplx-stamps
quiet_pip() { "$VENV/bin/pip" "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; return "${PIPESTATUS[0]}"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }
stamp_ok() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_set() { mkdir -p "$STAMPS"; echo "$2" >"$STAMPS/$1"; }

"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)' || {
  echo "setup: robosmplx needs Python >= 3.10 (the ROS 2 Kilted wheels exist for 3.10-3.14); set PYTHON=python3.X" >&2; exit 1; }

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi

H=$(hash_of "$ROOT/requirements.txt")
if ! stamp_ok pip "$H"; then
  echo "setup: installing pinned packages (requirements.txt; about 2 minutes on a fresh venv)"
  quiet_pip install -q -r "$ROOT/requirements.txt"
  stamp_set pip "$H"
fi

H=$(hash_of "$ROOT/setup.py" "$ROOT/requirements.txt")
if ! stamp_ok editable "$H"; then
  echo "setup: installing robosmplx (editable)"
  quiet_pip install -q --no-deps --no-build-isolation -e "$ROOT"
  stamp_set editable "$H"
fi

H=$(hash_of "$ROOT"/msg/*.msg "$ROOT/CMakeLists.txt" "$ROOT/package.xml" "$ROOT/requirements.txt")
if ! stamp_ok msgs "$H" || ! "$VENV/bin/python" -c "import robosmplx.msg" 2>/dev/null; then
  echo "setup: building msg/ into the venv (CMake + Ninja, ~10 s)"
  bash "$ROOT/tools/fix_cmake_paths.sh" "$VENV"
  bash "$ROOT/tools/build_msgs.sh" "$VENV" "$ROOT/build/msgs"
  "$VENV/bin/python" -c "from robosmplx.msg import SMPLXPersonArray" || {
    echo "setup: msg/ built but 'from robosmplx.msg import SMPLXPersonArray' fails (see above)" >&2; exit 1; }
  stamp_set msgs "$H"
fi

# tf2_msgs has no wheel: a one-message local build with the official type hash (for /tf).
H=$(hash_of "$ROOT/tools/build_tf2_msgs.sh" "$ROOT/requirements.txt")
if ! stamp_ok tf2_msgs "$H" || ! "$VENV/bin/python" -c "import tf2_msgs.msg" 2>/dev/null; then
  echo "setup: building a minimal tf2_msgs (TFMessage) into the venv (~10 s)"
  bash "$ROOT/tools/fix_cmake_paths.sh" "$VENV"
  bash "$ROOT/tools/build_tf2_msgs.sh" "$VENV" "$ROOT/build/tf2_msgs"
  stamp_set tf2_msgs "$H"
fi

PIP="$VENV/bin/pip" bash "$ROOT/tools/fetch_media.sh" >/dev/null
# Person detector: converted once to ONNX into the cache (about a minute, in a throwaway venv);
# when the file is present and matches its .sha256 this returns at once and prints nothing.
MAIN_PYTHON="$VENV/bin/python" bash "$ROOT/tools/convert_detector.sh" | { grep -v "^convert_detector: present:" || true; }
echo "setup: ready ($VENV; sample media in $("$VENV/bin/python" -c 'from robosmplx_core.media import media_dir; print(media_dir())'))"
