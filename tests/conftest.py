"""Test-wide settings: DDS discovery stays on this host, ROS logs stay in the repo.

Set before any test imports rclpy; subprocesses inherit them. Each pytest run gets its own
ROS_DOMAIN_ID (unless one is set) so concurrent runs on one machine do not see each other.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_LOG_DIR", str(REPO / ".ros_log"))
os.environ.setdefault("FASTDDS_DEFAULT_PROFILES_FILE", str(REPO / "config" / "fastdds_local.xml"))
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))
