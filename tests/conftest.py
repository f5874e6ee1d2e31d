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


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def vtest_frames():
    """The first 8 frames of the sample video vtest.avi as ``Frame`` s (10 fps stamps)."""
    import cv2

    from robosmplx_core.media import sample_path
    from robosmplx_core.types import Frame

    cap = cv2.VideoCapture(str(sample_path("vtest.avi")))
    frames = []
    for i in range(8):
        ok, bgr = cap.read()
        assert ok, f"OpenCV could not decode {sample_path('vtest.avi')}"
        frames.append(Frame(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), stamp_s=i / 10.0, index=i))
    cap.release()
    return frames
