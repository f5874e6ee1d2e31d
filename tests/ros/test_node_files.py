"""What can be checked of the launch/rviz/params files without `launch` (no wheel): they parse,
and every executable, parameter and topic they name exists in the node."""

from __future__ import annotations

import ast
import os
import py_compile
import re
from pathlib import Path

import rclpy
import yaml
from rclpy.context import Context
from rclpy.node import Node

from robosmplx_ros.params import PARAMETER_NAMES, declare_parameters

REPO = Path(__file__).resolve().parents[2]


def test_params_file_matches_declared_parameters() -> None:
    path = REPO / "config" / "robosmplx.yaml"
    params = yaml.safe_load(path.read_text())["/**"]["ros__parameters"]
    assert set(params) <= set(PARAMETER_NAMES), set(params) - set(PARAMETER_NAMES)
    assert set(PARAMETER_NAMES) - set(params) == {"overrides"}  # an empty list has no ROS type: commented
    ctx = Context()  # rclpy applies the file exactly as --params-file does for the node
    rclpy.init(context=ctx, args=["--ros-args", "--params-file", str(path), "-p", "overrides:=[a=1]"])
    try:
        node = Node("robosmplx", context=ctx)
        values = declare_parameters(node)  # raises on a type mismatch between file and declaration
        assert values.image_transport == "raw" and values.publish_mesh and values.overrides == ("a=1",)
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=ctx)


def test_launch_file_references_exist() -> None:
    path = REPO / "launch" / "mocap.launch.py"
    py_compile.compile(str(path), doraise=True)
    tree = ast.parse(path.read_text())
    nodes = [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == "Node"]
    kw = {k.arg: k.value for k in nodes[0].keywords}
    assert ast.literal_eval(kw["package"]) == "robosmplx"
    exe = ast.literal_eval(kw["executable"])
    assert os.access(REPO / "scripts" / exe, os.X_OK)
    assert re.search(rf"install\(PROGRAMS [^)]*scripts/{exe}\b", (REPO / "CMakeLists.txt").read_text())
    keys = [ast.literal_eval(k) for d in ast.walk(kw["parameters"]) if isinstance(d, ast.Dict) for k in d.keys]
    assert keys and set(keys) <= set(PARAMETER_NAMES)
    remapped = [ast.literal_eval(t.elts[0]) for t in kw["remappings"].elts]
    assert sorted(remapped) == ["camera_info", "image", "image/compressed"]  # the node's relative inputs
    assert "robosmplx-node = robosmplx_ros.node:main" in (REPO / "setup.py").read_text()


def test_rviz_config_topics() -> None:
    text = (REPO / "launch" / "robosmplx.rviz").read_text()
    cfg = yaml.safe_load(text)
    topics = {d["Topic"]["Value"] for d in cfg["Visualization Manager"]["Displays"] if "Topic" in d}
    assert topics == {"/robosmplx/markers", "/robosmplx/debug_image"}  # default node name "robosmplx"


def test_video_demo_launch_file_references_exist() -> None:
    """video_demo.launch.py: the node, rviz2 and its config, the video source module and each
    of its CLI options, and every launch argument it reads is declared."""
    from robosmplx_ros.params import IMAGE_TRANSPORTS
    from robosmplx_ros.video_source import build_parser

    path = REPO / "launch" / "video_demo.launch.py"
    py_compile.compile(str(path), doraise=True)
    tree = ast.parse(path.read_text())
    calls = [c for c in ast.walk(tree) if isinstance(c, ast.Call)]

    def named(name: str) -> list[ast.Call]:
        return [c for c in calls if getattr(c.func, "id", "") == name]

    declared = {ast.literal_eval(c.args[0]): {k.arg: k.value for k in c.keywords}
                for c in named("DeclareLaunchArgument")}
    read = {c.args[0].value for c in named("LaunchConfiguration") + named("value")  # value(): in _video_source
            if c.args and isinstance(c.args[0], ast.Constant)}
    assert {"video", "rate", "loop"} <= set(declared) and read == set(declared), (read, set(declared))
    assert ast.literal_eval(declared["image_transport"]["choices"]) == list(IMAGE_TRANSPORTS)

    nodes = {ast.literal_eval({k.arg: k.value for k in c.keywords}["package"]): {k.arg: k.value for k in c.keywords}
             for c in named("Node")}
    assert set(nodes) == {"robosmplx", "rviz2"}
    kw = nodes["robosmplx"]
    exe = ast.literal_eval(kw["executable"])
    assert os.access(REPO / "scripts" / exe, os.X_OK)
    assert re.search(rf"install\(PROGRAMS [^)]*scripts/{exe}\b", (REPO / "CMakeLists.txt").read_text())
    keys = [ast.literal_eval(k) for d in ast.walk(kw["parameters"]) if isinstance(d, ast.Dict) for k in d.keys]
    assert keys and set(keys) <= set(PARAMETER_NAMES)
    remapped = [ast.literal_eval(t.elts[0]) for t in kw["remappings"].elts]
    assert sorted(remapped) == ["camera_info", "image", "image/compressed"]
    rviz_args = [a.value for a in nodes["rviz2"]["arguments"].elts if isinstance(a, ast.Constant)]
    assert "-d" in rviz_args and (REPO / "launch" / "robosmplx.rviz").is_file()
    assert "robosmplx.rviz" in [c.value for c in ast.walk(nodes["rviz2"]["arguments"]) if isinstance(c, ast.Constant)]

    strings = [c.value for c in ast.walk(tree) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
    assert "robosmplx_ros.video_source" in strings and named("ExecuteProcess")
    options = set(build_parser()._option_string_actions)  # every option the video source accepts
    used = {s for s in strings if s.startswith("--") and s != "--ros-args"}
    assert used and used <= options, used - options
