#!/usr/bin/env bash
# Build the robosmplx interfaces (msg/) with CMake + Ninja against the ROS 2 wheels and install
# them into the venv prefix, so `from robosmplx.msg import SMPLXPersonArray` works in the venv
# with no environment variables. Only the interfaces: the Python packages are installed
# editable by pip (see CMakeLists.txt, ROBOSMPLX_INSTALL_PYTHON).
set -euo pipefail
VENV=$(cd "${1:?usage: build_msgs.sh VENV [BUILD_DIR]}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${2:-$SRC/build/msgs}
mkdir -p "$(dirname "$BUILD")"
export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV PATH=$VENV/bin:$PATH
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S "$SRC" -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DROBOSMPLX_INSTALL_PYTHON=OFF -DCMAKE_INSTALL_PREFIX="$VENV" \
  -DPython3_EXECUTABLE="$VENV/bin/python" >"$BUILD.log" 2>&1 \
  || { cat "$BUILD.log"; echo "build_msgs: cmake configure failed (log above)" >&2; exit 1; }
cmake --build "$BUILD" -j"$(nproc)" >>"$BUILD.log" 2>&1 \
  || { tail -50 "$BUILD.log"; echo "build_msgs: build failed (full log: $BUILD.log)" >&2; exit 1; }
cmake --install "$BUILD" >>"$BUILD.log" 2>&1 \
  || { tail -20 "$BUILD.log"; echo "build_msgs: install failed (full log: $BUILD.log)" >&2; exit 1; }
