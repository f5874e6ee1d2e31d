"""Live whole-body SMPL-X mocap on a camera: the robosmplx node (+ rviz2 if asked).

    ros2 launch robosmplx mocap.launch.py camera:=/camera image_transport:=compressed rviz:=true

The node subscribes <camera>/image_raw (or <camera>/image_raw/compressed) and
<camera>/camera_info, and publishes ~/persons, /humans/bodies/..., /tf, ~/markers and
/diagnostics (see README, "ROS 2"). Needs a real ROS 2 install (launch, launch_ros, rviz2).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description() -> LaunchDescription:
    share = get_package_share_directory("robosmplx")
    camera = LaunchConfiguration("camera")
    args = [
        DeclareLaunchArgument("camera", default_value="/camera",
                              description="camera namespace holding image_raw and camera_info"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "robosmplx.yaml"),
                              description="ROS parameters file of the node"),
        DeclareLaunchArgument("image_transport", default_value="raw", choices=["raw", "compressed"],
                              description="subscribe raw images or their compressed (JPEG/PNG) topic"),
        DeclareLaunchArgument("node_name", default_value="robosmplx", description="name of the node"),
        DeclareLaunchArgument("rviz", default_value="false", description="also start rviz2 with robosmplx.rviz"),
    ]
    node = Node(
        package="robosmplx",
        executable="robosmplx_node",
        name=LaunchConfiguration("node_name"),
        output="screen",
        parameters=[LaunchConfiguration("params_file"),
                    {"image_transport": LaunchConfiguration("image_transport")}],
        remappings=[
            ("image", [camera, "/image_raw"]),  # a list of substitutions is concatenated
            ("image/compressed", [camera, "/image_raw/compressed"]),
            ("camera_info", [camera, "/camera_info"]),
        ],
    )
    rviz = Node(package="rviz2", executable="rviz2", name="rviz2", output="screen",
                arguments=["-d", os.path.join(share, "launch", "robosmplx.rviz")],
                condition=IfCondition(LaunchConfiguration("rviz")))
    return LaunchDescription(args + [node, rviz])
