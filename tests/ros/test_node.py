"""The robosmplx node for real: a subprocess (`python -m robosmplx_ros.node --ros-args -p ...`)
fed real frames over Fast DDS by this process, which checks every output through real
subscribers, then sends every kind of bad input and checks the node survives and counts them."""

from __future__ import annotations

import math
import time
import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
import rclpy
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image
from visualization_msgs.msg import Marker, MarkerArray

from robosmplx_core.body_model import BodyModel
from robosmplx_core.media import sample_path
from robosmplx_ros.convert import rgb_to_compressed, rgb_to_image
from robosmplx_ros.skeleton import dof_names
from tests.ros.node_probe import CAMERA_FRAME, Probe, camera_info, node_process, video_frames

T0 = 1_700_000_000


def _stamp(i: int) -> Time:
    return Time(sec=T0 + i, nanosec=123_456_789)  # not a round float: stamps must pass through exactly


@pytest.fixture(scope="module")
def ros():
    rclpy.init()
    try:
        yield
    finally:
        rclpy.try_shutdown()


@pytest.fixture(scope="module")
def raw_node(ros, tmp_path_factory):
    log = tmp_path_factory.mktemp("node") / "node.log"
    with node_process(log, "diagnostics_period_s:=0.3", "warn_throttle_s:=0.0",
                      "overrides:=[tracker.min_hits=1]") as proc:
        probe = Probe()
        try:
            probe.wait_for_node(proc)
            yield proc, probe, log
        finally:
            probe.node.destroy_node()


def _feed(probe: Probe, frames: list[np.ndarray], first: int, done, timeout_s: float, period_s: float = 0.12) -> list[Time]:
    """Publish frames (cycling) with camera_info until ``done()`` or timeout; returns the stamps."""
    stamps, i, deadline = [], 0, time.monotonic() + timeout_s
    while time.monotonic() < deadline and not done():
        stamp = _stamp(first + i)
        rgb = frames[i % len(frames)]
        probe.info_pub.publish(camera_info(rgb.shape[1], rgb.shape[0], probe.header(stamp)))
        probe.image_pub.publish(rgb_to_image(rgb, probe.header(stamp), "bgr8" if i % 2 else "rgb8"))
        stamps.append(stamp)
        i += 1
        probe.spin_until(lambda: False, period_s)
    return stamps


def test_node_end_to_end(raw_node) -> None:
    proc, probe, log = raw_node
    frames = video_frames(12)

    def done() -> bool:
        with_persons = [m for m in probe.persons if m.persons]
        return (len(with_persons) >= 3 and probe.joint_states and probe.markers_raw and probe.urdf
                and any(t.child_frame_id.startswith("body_b") for m in probe.tf for t in m.transforms))
    stamps = _feed(probe, frames, 0, done, timeout_s=35.0)
    probe.spin_until(lambda: False, 0.5)
    assert proc.poll() is None, log.read_text()
    assert done(), f"outputs missing after {len(stamps)} frames: {len(probe.persons)} arrays, " \
                   f"{len(probe.joint_states)} bodies, {len(probe.markers_raw)} markers\n{log.read_text()[-3000:]}"

    sent = {(s.sec, s.nanosec) for s in stamps}
    for msg in probe.persons:  # every processed image, empty or not, stamped with its source stamp
        assert (msg.header.stamp.sec, msg.header.stamp.nanosec) in sent
        assert msg.header.frame_id == CAMERA_FRAME
        for p in msg.persons:
            for field in ("global_orient", "body_pose", "left_hand_pose", "right_hand_pose", "betas"):
                assert np.isfinite(np.asarray(getattr(p, field))).all()
            assert len(p.joints3d) == 127 and p.transl.z > 0
    ids = {p.track_id for m in probe.persons for p in m.persons}
    assert set(probe.joint_states) <= ids and probe.tracked

    for tid, states in probe.joint_states.items():
        for js in states:
            assert list(js.name) == dof_names(tid) and len(js.position) == 162
            assert np.isfinite(js.position).all() and (js.header.stamp.sec, js.header.stamp.nanosec) in sent
            assert js.header.frame_id == CAMERA_FRAME

    by_child = {t.child_frame_id: t for m in probe.tf for t in m.transforms}
    for tid in probe.joint_states:
        body = by_child[f"body_b{tid}"]
        assert body.header.frame_id == CAMERA_FRAME and (body.header.stamp.sec, body.header.stamp.nanosec) in sent
        assert by_child[f"pelvis_b{tid}"].header.frame_id == f"body_b{tid}"
        assert by_child[f"left_knee_b{tid}"].header.frame_id == f"left_hip_b{tid}"
        assert by_child[f"right_thumb3_b{tid}"].header.frame_id == f"right_thumb2_b{tid}"

    tid, urdf = next(iter(probe.urdf.items()))
    root = ET.fromstring(urdf)
    revolute = [j.get("name") for j in root.iter("joint") if j.get("type") == "revolute"]
    assert revolute == dof_names(tid)

    faces = BodyModel.load().faces
    markers = deserialize_message(probe.markers_raw[-1], MarkerArray).markers
    meshes = [m for m in markers if m.ns == "mesh" and m.action == Marker.ADD]
    skeletons = [m for m in markers if m.ns == "skeleton" and m.action == Marker.ADD]
    assert meshes and skeletons
    for m in meshes:
        assert m.type == Marker.TRIANGLE_LIST and len(m.points) == 3 * len(faces)
        assert m.header.frame_id == CAMERA_FRAME and all(math.isfinite(m.points[k].z) for k in (0, -1))
    assert all(m.type == Marker.LINE_LIST and len(m.points) == 108 for m in skeletons)


def test_node_survives_bad_input(raw_node) -> None:
    proc, probe, log = raw_node
    rgb = video_frames(1)[0]
    h, w = rgb.shape[:2]
    base = 1000
    good = rgb_to_image(rgb, probe.header(_stamp(base)))
    unknown = rgb_to_image(rgb, probe.header(_stamp(base + 1)))
    unknown.encoding = "bayer_rggb42"
    mismatch = Image(header=probe.header(_stamp(base + 2)), height=h, width=w, encoding="rgb8", step=w * 3)
    mismatch.data = bytes(w * 3 * (h - 1))
    empty = Image(header=probe.header(_stamp(base + 3)), height=0, width=0, encoding="rgb8", step=0)
    older = rgb_to_image(rgb, probe.header(_stamp(base - 500)))
    zero_info = camera_info(w, h, probe.header(_stamp(base)), f=0.0)
    after = rgb_to_image(rgb, probe.header(_stamp(base + 10)))

    n_persons = len(probe.persons)
    want = {"bad_encoding": 1, "bad_size": 1, "empty_image": 1, "bad_camera_info": 1, "stale_image": 1}
    sequence = [(probe.image_pub, m) for m in (good, unknown, mismatch, empty)] + [
        (probe.info_pub, zero_info), (probe.image_pub, older)]
    assert probe.send_until_counted(sequence, want), f"counters: {probe.diag_values()}\n{log.read_text()[-3000:]}"
    processed_after = lambda: any(m.header.stamp == after.header.stamp for m in probe.persons[n_persons:])  # noqa: E731
    deadline = time.monotonic() + 15
    while not processed_after() and time.monotonic() < deadline:
        probe.image_pub.publish(after)
        probe.spin_until(processed_after, 0.5)
    assert processed_after(), "the node stopped processing after bad input"
    assert proc.poll() is None
    for kind in want:  # one warning each (throttle 0 here)
        assert probe.spin_until(lambda: any(f"skipped bad input ({kind})" in m for m in probe.rosout), 5.0), \
            (kind, probe.rosout)
    status = probe.diagnostics[-1].status[0]
    assert status.name.endswith("pipeline") and float(probe.diag_values()["total_ms"]) > 0


def test_compressed_transport_and_bad_compressed(ros, tmp_path) -> None:
    rgb = np.ascontiguousarray(video_frames(1, "vtest.avi")[0])
    messi = cv2.imread(str(sample_path("messi5.jpg")))[:, :, ::-1]
    with node_process(tmp_path / "node.log", "image_transport:=compressed", "publish_mesh:=false",
                      "publish_debug_image:=true", "diagnostics_period_s:=0.3", "warn_throttle_s:=0.0",
                      node_name="mocap_c") as proc:
        probe = Probe("mocap_c")
        debug = []
        probe.node.create_subscription(Image, "/mocap_c/debug_image", debug.append, 5)
        try:
            probe.wait_for_node(proc, compressed=True)
            garbage = CompressedImage(header=probe.header(_stamp(1)), format="jpeg")
            garbage.data = b"\xff\xd8 this is not a jpeg"
            empty = CompressedImage(header=probe.header(_stamp(2)), format="jpeg")
            assert probe.send_until_counted([(probe.compressed_pub, garbage), (probe.compressed_pub, empty)],
                                            {"bad_compressed": 1, "empty_image": 1}), probe.diag_values()
            i = 3
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not (probe.persons and debug):
                img = messi if i % 2 else rgb
                probe.compressed_pub.publish(rgb_to_compressed(np.ascontiguousarray(img), probe.header(_stamp(i)),
                                                               "png" if i % 3 == 0 else "jpeg"))
                i += 1
                probe.spin_until(lambda: False, 0.2)
            assert probe.persons and probe.persons[0].header.stamp.sec >= T0 + 3
            assert debug and debug[0].encoding == "rgb8" and debug[0].header.frame_id == CAMERA_FRAME
            assert debug[0].header.stamp in [m.header.stamp for m in probe.persons]
            assert proc.poll() is None
        finally:
            probe.node.destroy_node()
