"""Demo without a camera: a video file played as one, the robosmplx node on it, and rviz2.

    ros2 launch robosmplx video_demo.launch.py                       # the sample vtest.avi, looped
    ros2 launch robosmplx video_demo.launch.py video:=walk.mp4 rate:=15 loop:=false rviz:=false

The video source (``python -m robosmplx_ros.video_source``, run with this launch's Python)
publishes <camera>/image/compressed (JPEG; or <camera>/image with image_transport:=raw) and
<camera>/camera_info; the node subscribes them and publishes ~/persons, /humans/bodies/...,
/tf, ~/markers, ~/debug_image and /diagnostics (README, "ROS 2"); rviz2 shows
launch/robosmplx.rviz with its fixed frame set to the video's frame id.

JPEG is the default transport because the node subscribes with sensor-data (best-effort) QoS:
with Fast DDS's default transports, best-effort raw images larger than its 0.5 MB shared-memory
segment are mostly lost (768x576 rgb8 is 1.3 MB); a JPEG frame of vtest.avi is ~95 kB. For raw
images, export FASTDDS_DEFAULT_PROFILES_FILE=<share>/robosmplx/config/fastdds_local.xml
(FASTRTPS_DEFAULT_PROFILES_FILE before Kilted) before launching.
Needs a real ROS 2 install (launch, launch_ros, rviz2).
"""

import os
import sys

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from robosmplx_core.media import media_dir

TRUE = ("true", "1", "yes", "on")


def _video_source(context):
    """The video source's command line from the launch arguments' values."""
    def value(name: str) -> str:
        return LaunchConfiguration(name).perform(context)

    cmd = [sys.executable, "-m", "robosmplx_ros.video_source", value("video"), "--frame-id", value("frame_id")]
    if float(value("rate")) > 0:
        cmd += ["--rate", value("rate")]
    if value("loop").lower() in TRUE:
        cmd.append("--loop")
    if value("image_transport") == "compressed":
        cmd.append("--compressed")
    cmd += ["--ros-args", "-r", f"__ns:={value('camera')}"]
    return [ExecuteProcess(cmd=cmd, name="video_source", output="screen")]


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("robosmplx")
    camera = LaunchConfiguration("camera")
    args = [
        DeclareLaunchArgument("video", default_value=str(media_dir() / "vtest.avi"),
                              description="video file, image or image folder to play as the camera"),
        DeclareLaunchArgument("rate", default_value="0",
                              description="publish rate in Hz; 0 = the video's own frame rate"),
        DeclareLaunchArgument("loop", default_value="true", description="start the video again at its end"),
        DeclareLaunchArgument("image_transport", default_value="compressed", choices=["raw", "compressed"],
                              description="JPEG (image/compressed) or raw rgb8 (image) frames"),
        DeclareLaunchArgument("camera", default_value="/camera",
                              description="namespace of the video source's image and camera_info"),
        DeclareLaunchArgument("frame_id", default_value="camera_color_optical_frame",
                              description="the video's optical frame (header.frame_id; rviz2's fixed frame)"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "robosmplx.yaml"),
                              description="ROS parameters file of the node"),
        DeclareLaunchArgument("debug_image", default_value="true",
                              description="the node also publishes ~/debug_image (the overlay rviz2 shows)"),
        DeclareLaunchArgument("rviz", default_value="true", description="start rviz2 with robosmplx.rviz"),
    ]
    node = Node(
        package="robosmplx",
        executable="robosmplx_node",
        name="robosmplx",  # robosmplx.rviz shows /robosmplx/markers and /robosmplx/debug_image
        output="screen",
        parameters=[LaunchConfiguration("params_file"),
                    {"image_transport": LaunchConfiguration("image_transport"),
                     "publish_debug_image": LaunchConfiguration("debug_image")}],
        remappings=[
            ("image", [camera, "/image"]),  # a list of substitutions is concatenated
            ("image/compressed", [camera, "/image/compressed"]),
            ("camera_info", [camera, "/camera_info"]),
        ],
    )
    rviz = Node(package="rviz2", executable="rviz2", name="rviz2", output="screen",
                arguments=["-d", os.path.join(share, "launch", "robosmplx.rviz"),
                           "-f", LaunchConfiguration("frame_id")],
                condition=IfCondition(LaunchConfiguration("rviz")))
    return LaunchDescription(args + [OpaqueFunction(function=_video_source), node, rviz])
