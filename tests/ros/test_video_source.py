"""robosmplx_ros.video_source: pure message builders, and the CLI run as a real process with a
real rclpy subscriber in this process (Fast DDS on loopback; tests/conftest.py sets the env)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import rclpy
from builtin_interfaces.msg import Time
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from robosmplx_core.geometry.projection import default_intrinsics
from robosmplx_core.media import sample_path
from robosmplx_ros.video_source import camera_info_msg, image_to_msg

REPO = Path(__file__).resolve().parents[2]
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
W, H = 768, 576  # vtest.avi


# ----------------------------------------------------------------------------- pure functions

def test_image_to_msg_layout_and_round_trip() -> None:
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    msg = image_to_msg(image, stamp=Time(sec=12, nanosec=34), frame_id="cam")
    assert (msg.height, msg.width, msg.encoding, msg.is_bigendian) == (5, 7, "rgb8", 0)
    assert msg.step == 3 * 7 and len(msg.data) == 5 * 7 * 3
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (12, 34, "cam")
    back = deserialize_message(serialize_message(msg), Image)
    np.testing.assert_array_equal(np.frombuffer(back.data, np.uint8).reshape(5, 7, 3), image)
    # a non-contiguous view (a crop) is packed row by row
    crop = image[1:4, 2:6]
    crop_msg = image_to_msg(crop, stamp=Time(), frame_id="cam")
    assert crop_msg.step == 12
    np.testing.assert_array_equal(np.frombuffer(crop_msg.data, np.uint8).reshape(3, 4, 3), crop)


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8),
                                 np.zeros((4, 4, 3), np.float32), np.zeros((0, 4, 3), np.uint8)])
def test_image_to_msg_rejects_non_rgb8(bad: np.ndarray) -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        image_to_msg(bad, stamp=Time(), frame_id="cam")


def test_camera_info_msg_row_major() -> None:
    K = np.array([[500.0, 0.0, 320.0], [0.0, 510.0, 240.0], [0.0, 0.0, 1.0]])
    info = camera_info_msg(640, 480, K, stamp=Time(sec=1), frame_id="cam")
    assert (info.width, info.height, info.header.frame_id) == (640, 480, "cam")
    assert list(info.k) == [500, 0, 320, 0, 510, 240, 0, 0, 1]  # fx 0 cx / 0 fy cy / 0 0 1
    assert list(info.p) == [500, 0, 320, 0, 0, 510, 240, 0, 0, 0, 1, 0]  # [K | 0]
    assert list(info.r) == [1, 0, 0, 0, 1, 0, 0, 0, 1]
    assert info.distortion_model == "plumb_bob" and list(info.d) == [0.0] * 5
    # default_intrinsics returns a torch tensor: accepted as is
    t_info = camera_info_msg(W, H, default_intrinsics(W, H, 60.0), stamp=Time(), frame_id="cam")
    assert t_info.k[0] > 0 and t_info.k[2] == W / 2 and t_info.k[5] == H / 2
    assert deserialize_message(serialize_message(t_info), CameraInfo) == t_info


@pytest.mark.parametrize("bad", [np.eye(2), np.diag([0.0, 1.0, 1.0]), torch.full((3, 3), float("nan"))])
def test_camera_info_msg_rejects_bad_K(bad) -> None:
    with pytest.raises(ValueError, match="K: expected"):
        camera_info_msg(640, 480, bad, stamp=Time(), frame_id="cam")


# ----------------------------------------------------------------------------- real processes

def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "robosmplx_ros.video_source", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _spin_until_exit(node: Node, proc: subprocess.Popen, timeout_s: float = 20.0) -> tuple[str, str]:
    """Spin ``node`` while ``proc`` runs (and 0.3 s after); return its (stdout, stderr)."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        rclpy.spin_once(node, timeout_sec=0.05)
    if proc.poll() is None:
        proc.kill()
    return proc.communicate(timeout=10)


def _video_frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(sample_path("vtest.avi")))
    frames = [cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB) for _ in range(n)]
    cap.release()
    return frames


def _stamp(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def _check_images(images: list[Image], infos: dict[int, CameraInfo], frames: list[np.ndarray], kind: str) -> None:
    assert len(images) >= 8, f"{kind}: only {len(images)} of 10 images arrived"
    order = []
    for msg in images:
        assert (msg.width, msg.height, msg.encoding, msg.step) == (W, H, "rgb8", 3 * W)
        pixels = np.frombuffer(msg.data, np.uint8).reshape(H, W, 3)
        order.append(next(i for i, f in enumerate(frames) if np.array_equal(f, pixels)))  # StopIteration: no match
        info = infos[_stamp(msg)]  # KeyError: no camera_info with this image's stamp
        assert info.header.frame_id == msg.header.frame_id == "camera_optical"
        assert (info.width, info.height) == (W, H) and info.k[0] > 0 and info.k[2] == W / 2
    assert order == sorted(set(order)), f"frames out of order or repeated: {order}"
    span_s = (_stamp(images[-1]) - _stamp(images[0])) * 1e-9
    gaps = order[-1] - order[0]
    assert 0.6 * gaps / 20 <= span_s <= 3.0 * gaps / 20, f"{gaps} frame gaps at 20 Hz took {span_s:.3f} s"


def test_video_file_published_to_reliable_and_best_effort_subscribers() -> None:
    frames = _video_frames(10)
    got: dict[str, list[Image]] = {"best_effort": [], "reliable": []}
    infos: dict[int, CameraInfo] = {}
    rclpy.init()
    try:
        node = Node("video_source_probe")
        node.create_subscription(Image, "image", got["best_effort"].append, qos_profile_sensor_data)
        node.create_subscription(Image, "image", got["reliable"].append, RELIABLE)
        for qos in (qos_profile_sensor_data, RELIABLE):
            node.create_subscription(CameraInfo, "camera_info", lambda m: infos.setdefault(_stamp(m), m), qos)
        proc = _start(str(sample_path("vtest.avi")), "--max-frames", "10", "--rate", "20",
                      "--wait-subscribers", "2")
        _, err = _spin_until_exit(node, proc)
    finally:
        rclpy.try_shutdown()
    assert proc.returncode == 0, err
    assert "published 10 frames, skipped 0" in err
    for kind, images in got.items():
        _check_images(images, infos, frames, kind)


def test_compressed_jpeg_decodes_to_the_right_size() -> None:
    frames = _video_frames(3)
    got: list[CompressedImage] = []
    infos: dict[int, CameraInfo] = {}
    rclpy.init()
    try:
        node = Node("video_source_probe_jpeg")
        node.create_subscription(CompressedImage, "cam/image/compressed", got.append, qos_profile_sensor_data)
        node.create_subscription(CameraInfo, "cam/camera_info", lambda m: infos.setdefault(_stamp(m), m),
                                 qos_profile_sensor_data)
        proc = _start(str(sample_path("vtest.avi")), "--max-frames", "3", "--rate", "20", "--compressed",
                      "--wait-subscribers", "1", "--ros-args", "-r", "__ns:=/cam")
        _, err = _spin_until_exit(node, proc)
    finally:
        rclpy.try_shutdown()
    assert proc.returncode == 0, err
    assert len(got) >= 2, f"only {len(got)} of 3 compressed images arrived"
    for msg in got:
        assert "jpeg" in msg.format
        decoded = cv2.imdecode(np.frombuffer(msg.data, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (H, W, 3)
        errors = [np.abs(cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB).astype(int) - f).mean() for f in frames]
        assert min(errors) < 4.0, f"JPEG far from every source frame: mean abs errors {errors}"
        assert _stamp(msg) in infos


def test_unusable_source_exits_2_with_a_message(tmp_path: Path) -> None:
    garbage = tmp_path / "broken.avi"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    procs = {tmp_path / "missing.mp4": "no such file", garbage: "cannot be read as a video"}
    running = {path: _start(str(path)) for path in procs}
    for path, proc in running.items():
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 2, err
        assert procs[path] in err and str(path) in err
