#!/usr/bin/env bash
# Build a minimal `tf2_msgs` (only msg/TFMessage.msg) with CMake + rosidl against the ROS 2
# wheels and install it into the venv prefix, so the node can publish /tf without a ROS install.
#
# There is no tf2_msgs wheel; TFMessage is `geometry_msgs/TransformStamped[] transforms`, and a
# package generated from that one line has the official type hash (RIHS01), so it is wire- and
# hash-compatible with real tf2 listeners and rviz2. This script verifies that against the hash
# rosbags computes for its built-in ROS 2 Kilted definition and fails if they differ.
#
#   bash tools/build_tf2_msgs.sh VENV [BUILD_DIR]
#
# Idempotent: re-running rebuilds into the same BUILD_DIR and reinstalls the same files. When a
# tf2_msgs that this script did not build is importable (a real ROS install on the path), it
# does nothing, so it never shadows the real package.
set -euo pipefail
VENV=$(cd "${1:?usage: build_tf2_msgs.sh VENV [BUILD_DIR]}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${2:-$ROOT/build/tf2_msgs}
PY=$VENV/bin/python
MARK=$VENV/share/tf2_msgs/robosmplx_minimal   # marks the copy this script installed

if "$PY" -c "import tf2_msgs.msg" 2>/dev/null && [ ! -f "$MARK" ]; then
  echo "build_tf2_msgs: a tf2_msgs not built by this script is importable; leaving it alone"
  exit 0
fi

SRC=$BUILD/src
mkdir -p "$SRC/msg"
cat >"$SRC/msg/TFMessage.msg" <<'EOF'
geometry_msgs/TransformStamped[] transforms
EOF
cat >"$SRC/package.xml" <<'EOF'
<?xml version="1.0"?>
<package format="3">
  <name>tf2_msgs</name>
  <version>0.0.0</version>
  <description>Minimal tf2_msgs (TFMessage only) built by robosmplx's tools/build_tf2_msgs.sh</description>
  <maintainer email="robosmplx@example.com">robosmplx</maintainer>
  <license>BSD-3-Clause</license>
  <buildtool_depend>ament_cmake</buildtool_depend>
  <buildtool_depend>rosidl_default_generators</buildtool_depend>
  <depend>geometry_msgs</depend>
  <exec_depend>rosidl_default_runtime</exec_depend>
  <member_of_group>rosidl_interface_packages</member_of_group>
  <export><build_type>ament_cmake</build_type></export>
</package>
EOF
cat >"$SRC/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.16)
project(tf2_msgs NONE)
enable_language(C CXX)
find_package(ament_cmake REQUIRED)
find_package(rosidl_default_generators REQUIRED)
find_package(geometry_msgs REQUIRED)
rosidl_generate_interfaces(${PROJECT_NAME} "msg/TFMessage.msg" DEPENDENCIES geometry_msgs)
install(FILES "${CMAKE_CURRENT_SOURCE_DIR}/robosmplx_minimal" DESTINATION share/${PROJECT_NAME})
ament_export_dependencies(rosidl_default_runtime)
ament_package()
EOF
echo "built by robosmplx tools/build_tf2_msgs.sh: only msg/TFMessage.msg" >"$SRC/robosmplx_minimal"

export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV PATH=$VENV/bin:$PATH
LOG=$BUILD/build.log
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S "$SRC" -B "$BUILD/cmake" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$PY" >"$LOG" 2>&1 \
  || { cat "$LOG"; echo "build_tf2_msgs: cmake configure failed (log above)" >&2; exit 1; }
cmake --build "$BUILD/cmake" -j"$(nproc)" >>"$LOG" 2>&1 \
  || { tail -50 "$LOG"; echo "build_tf2_msgs: build failed (full log: $LOG)" >&2; exit 1; }
cmake --install "$BUILD/cmake" >>"$LOG" 2>&1 \
  || { tail -20 "$LOG"; echo "build_tf2_msgs: install failed (full log: $LOG)" >&2; exit 1; }

# The generated type description vs rosbags' official Kilted definition.
"$PY" - "$VENV/share/tf2_msgs/msg/TFMessage.json" <<'EOF'
import json, sys
from rosbags.typesys import Stores, get_typestore
ours = json.load(open(sys.argv[1]))["type_hashes"]
ours = next(h["hash_string"] for h in ours if h["type_name"] == "tf2_msgs/msg/TFMessage")
official = get_typestore(Stores.ROS2_KILTED).hash_rihs01("tf2_msgs/msg/TFMessage")
if ours != official:
    sys.exit(f"build_tf2_msgs: type hash {ours} differs from the official tf2_msgs/msg/TFMessage {official}")
from tf2_msgs.msg import TFMessage  # noqa: F401  (the installed package imports)
EOF
