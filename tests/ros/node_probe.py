"""Test helpers: start the robosmplx node as a subprocess, and a probe node (in the test
process) that publishes camera topics and records everything the node publishes.

Starting and stopping the node is ``robosmplx_ros.testing`` (shared with
``benchmarks/node_latency.py``); the ROS environment (discovery on this host, logs in the repo)
is set by ``tests/conftest.py`` before rclpy is imported, and forced again for the node
subprocess by ``robosmplx_ros.testing.node_env``."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Callable, ContextManager

import cv2
import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from rcl_interfaces.msg import Log
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState
from std_msgs.msg import Header, String

from diagnostic_msgs.msg import DiagnosticArray
from robosmplx.msg import SMPLXPersonArray
from robosmplx_core.media import sample_path
from robosmplx_ros import testing
from tf2_msgs.msg import TFMessage
from visualization_msgs.msg import MarkerArray

REPO = Path(__file__).resolve().parents[2]
CAMERA_FRAME = "test_camera_optical"
MAX_IDS = 12  # per-body topics subscribed up front for ids 0..MAX_IDS-1


def node_process(log_path: Path, *params: str, node_name: str = "robosmplx") -> ContextManager[subprocess.Popen]:
    """``python -m robosmplx_ros.node --ros-args -p ...`` with output to ``log_path``; always
    stopped (SIGINT, then SIGKILL) on exit (``robosmplx_ros.testing.node_process`` in this repo)."""
    return testing.node_process(log_path, *params, node_name=node_name, repo=REPO)


def video_frames(n: int, name: str = "vtest.avi") -> list[np.ndarray]:
    """The first ``n`` frames of a sample video as RGB uint8."""
    cap = cv2.VideoCapture(str(sample_path(name)))
    frames = []
    while len(frames) < n:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def camera_info(width: int, height: int, header: Header, f: float = 600.0) -> CameraInfo:
    return CameraInfo(header=header, width=width, height=height, distortion_model="plumb_bob",
                      k=[f, 0.0, width / 2, 0.0, f, height / 2, 0.0, 0.0, 1.0], d=[0.0] * 5,
                      r=[1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0],
                      p=[f, 0.0, width / 2, 0.0, 0.0, f, height / 2, 0.0, 0.0, 0.0, 1.0, 0.0])


class Probe:
    """Publishes ``image`` / ``image/compressed`` / ``camera_info``; records the node's outputs."""

    def __init__(self, node_name: str = "robosmplx") -> None:
        self.node = Node(f"robosmplx_test_probe_{node_name}")
        n = self.node
        self.image_pub = n.create_publisher(Image, "image", qos_profile_sensor_data)
        self.compressed_pub = n.create_publisher(CompressedImage, "image/compressed", qos_profile_sensor_data)
        self.info_pub = n.create_publisher(CameraInfo, "camera_info", qos_profile_sensor_data)
        self.persons: list[SMPLXPersonArray] = []
        self.tracked: list[str] = []
        self.tf: list[TFMessage] = []
        self.markers_raw: list[bytes] = []  # the newest few MarkerArrays that hold a mesh (CDR bytes)
        self.diagnostics: list[DiagnosticArray] = []
        self.joint_states: dict[int, list[JointState]] = {}
        self.urdf: dict[int, str] = {}
        self.rosout: list[str] = []  # the node's log lines (its console output to a file may lag)
        n.create_subscription(SMPLXPersonArray, f"/{node_name}/persons", self.persons.append, 50)
        n.create_subscription(String, "/humans/bodies/tracked", lambda m: self.tracked.append(m.data), 50)
        n.create_subscription(TFMessage, "/tf", self.tf.append, 100)
        n.create_subscription(MarkerArray, f"/{node_name}/markers", self._on_markers, 5, raw=True)
        n.create_subscription(DiagnosticArray, "/diagnostics", self.diagnostics.append, 10)
        n.create_subscription(Log, "/rosout", lambda m: self.rosout.append(m.msg) if m.name == node_name else None, 100)
        latched = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                             reliability=ReliabilityPolicy.RELIABLE)
        for i in range(MAX_IDS):
            n.create_subscription(JointState, f"/humans/bodies/b{i}/joint_states",
                                  lambda m, i=i: self.joint_states.setdefault(i, []).append(m), 50)
            n.create_subscription(String, f"/humans/bodies/b{i}/urdf",
                                  lambda m, i=i: self.urdf.__setitem__(i, m.data), latched)

    def _on_markers(self, raw: bytes) -> None:
        if len(raw) > 500_000:  # a mesh is ~1.5 MB; deserialising costs ~0.2 s each: keep a few
            self.markers_raw = (self.markers_raw + [raw])[-3:]

    def spin_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if done():
                return True
        return False

    def wait_for_node(self, proc: subprocess.Popen, timeout_s: float = 30.0, compressed: bool = False) -> None:
        pub = self.compressed_pub if compressed else self.image_pub

        def ready() -> bool:
            assert proc.poll() is None, "the node exited during start-up"
            return pub.get_subscription_count() > 0 and self.info_pub.get_subscription_count() > 0
        assert self.spin_until(ready, timeout_s), "the node did not subscribe in time"

    def send_until_counted(self, messages: list, want: dict[str, int], timeout_s: float = 15.0) -> bool:
        """Publish ``messages`` ((publisher, msg) pairs, in order) again and again until the
        node's /diagnostics counters reach ``want`` (best-effort delivery may lose the first)."""
        def counted() -> bool:
            v = self.diag_values()
            return bool(v) and all(int(v[k]) >= n for k, n in want.items())
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for pub, msg in messages:
                pub.publish(msg)
                if self.spin_until(counted, 0.1):
                    return True
            if self.spin_until(counted, 0.3):
                return True
        return False

    def diag_values(self) -> dict[str, str]:
        """KeyValues of the newest /diagnostics status (empty dict if none yet)."""
        if not self.diagnostics:
            return {}
        return {kv.key: kv.value for kv in self.diagnostics[-1].status[0].values}

    @staticmethod
    def header(stamp: Time) -> Header:
        return Header(stamp=stamp, frame_id=CAMERA_FRAME)
