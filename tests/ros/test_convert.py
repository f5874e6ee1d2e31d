"""Pure conversions (no node): images, camera info, JointState, TF, URDF, markers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker, MarkerArray

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import SMPLX_JOINT_NAMES, SMPLX_PARENTS
from robosmplx_ros import convert as C
from robosmplx_ros.markers import (delete_markers, marker_array_bytes, mesh_marker, mesh_vertices,
                                   skeleton_marker, triangle_points)
from robosmplx_ros.skeleton import body_id, body_poses, dof_names, euler_xyz, joint_positions
from robosmplx_ros.tf import body_transforms
from robosmplx_ros.urdf import body_urdf
from tests.ros.test_msgs_pubsub import _estimate

HEADER = Header(stamp=Time(sec=1_700_000_000, nanosec=987_654_321), frame_id="cam_optical")


@pytest.fixture(scope="module")
def model() -> BodyModel:
    return BodyModel.load()


@pytest.fixture(scope="module")
def persons(model):
    return [_estimate(model, 3, 0), _estimate(model, 12, 1)]


def _rgb(h: int = 4, w: int = 6) -> np.ndarray:
    return np.arange(h * w * 3, dtype=np.uint8).reshape(h, w, 3) * 3


def _raw(arr: np.ndarray, encoding: str, pad: int = 0, bigendian: bool = False) -> Image:
    """An Image from (H, W, C) pixels with ``pad`` bytes of padding per row."""
    h, w = arr.shape[:2]
    a = arr.astype(arr.dtype.newbyteorder(">" if bigendian else "<")).reshape(h, -1).view(np.uint8)
    rows = np.concatenate([a, np.full((h, pad), 0xEE, np.uint8)], axis=1)
    msg = Image(header=HEADER, height=h, width=w, encoding=encoding, is_bigendian=int(bigendian),
                step=rows.shape[1])
    msg.data = rows.tobytes()
    return msg


@pytest.mark.parametrize("pad", [0, 5])
def test_colour_encodings(pad: int) -> None:
    rgb = _rgb()
    alpha = np.full(rgb.shape[:2] + (1,), 7, np.uint8)
    cases = {"rgb8": rgb, "bgr8": rgb[:, :, ::-1], "8UC3": rgb[:, :, ::-1],
             "rgba8": np.concatenate([rgb, alpha], 2), "bgra8": np.concatenate([rgb[:, :, ::-1], alpha], 2)}
    for enc, pixels in cases.items():
        got = C.image_to_rgb(_raw(np.ascontiguousarray(pixels), enc, pad))
        np.testing.assert_array_equal(got, rgb, err_msg=enc)


def test_rgb8_is_a_view_and_frame_keeps_stamp() -> None:
    msg = _raw(_rgb(), "rgb8")
    view = C.image_to_rgb(msg)
    assert not view.flags.owndata  # no copy of msg.data
    frame = C.image_to_frame(msg, K=np.diag([500.0, 500.0, 1.0]))
    assert frame.stamp_s == pytest.approx(1_700_000_000.987654321) and frame.frame_id == "cam_optical"
    assert frame.image.flags.c_contiguous


@pytest.mark.parametrize("bigendian", [False, True])
def test_mono_encodings(bigendian: bool) -> None:
    mono = np.array([[0, 255, 256, 65535], [1000, 32768, 511, 512]], np.uint16)[:, :, None]
    got = C.image_to_rgb(_raw(mono, "mono16", pad=2, bigendian=bigendian))
    np.testing.assert_array_equal(got[:, :, 0], [[0, 0, 1, 255], [3, 128, 1, 2]])  # high byte: v // 256
    assert (got == got[:, :, :1]).all()
    m8 = np.array([[0, 9, 200]], np.uint8)[:, :, None]
    np.testing.assert_array_equal(C.image_to_rgb(_raw(m8, "mono8", pad=1))[0], [[0] * 3, [9] * 3, [200] * 3])


def test_yuv422() -> None:
    uyvy = np.array([[128, 10, 128, 200, 128, 60, 128, 90]], np.uint8).reshape(1, 4, 2)  # grey pixels
    got = C.image_to_rgb(_raw(uyvy, "yuv422"))
    assert got.shape == (1, 4, 3) and (np.abs(got[0, :, 0].astype(int) - [0, 216, 51, 86]) <= 2).all()


def test_bad_images_raise_specific_errors() -> None:
    bad = _raw(_rgb(), "bayer_rggb8")
    with pytest.raises(C.UnsupportedEncodingError, match="not supported"):
        C.image_to_rgb(bad)
    short = _raw(_rgb(), "rgb8")
    short.data = bytes(len(short.data) - 1)
    with pytest.raises(C.ImageSizeError, match="step \\* height"):
        C.image_to_rgb(short)
    narrow = _raw(_rgb(), "rgb8")
    narrow.step = 10
    with pytest.raises(C.ImageSizeError, match="too small"):
        C.image_to_rgb(narrow)
    with pytest.raises(C.EmptyImageError):
        C.image_to_rgb(Image(encoding="rgb8"))
    with pytest.raises(C.CompressedDecodeError, match="does not decode"):
        C.compressed_to_rgb(CompressedImage(format="jpeg", data=b"\xff\xd8garbage"))
    with pytest.raises(C.EmptyImageError):
        C.compressed_to_rgb(CompressedImage(format="jpeg"))
    assert issubclass(C.CameraInfoError, ValueError)
    with pytest.raises(C.CameraInfoError, match="focal"):
        C.camera_info_to_K(CameraInfo())


def test_compressed_round_trip_and_raw_output() -> None:
    rgb = cv2.resize(_rgb(), (64, 48), interpolation=cv2.INTER_LINEAR)
    png = C.rgb_to_compressed(rgb, HEADER, "png")
    np.testing.assert_array_equal(C.compressed_to_rgb(png), rgb)
    jpg = C.rgb_to_compressed(rgb, HEADER, "jpeg", quality=95)
    assert jpg.format == "jpeg" and np.abs(C.compressed_to_rgb(jpg).astype(int) - rgb).mean() < 4
    for enc in ("rgb8", "bgr8"):
        msg = deserialize_message(serialize_message(C.rgb_to_image(rgb, HEADER, enc)), Image)
        np.testing.assert_array_equal(C.image_to_rgb(msg), rgb)


def test_camera_info_K() -> None:
    info = CameraInfo(k=[600.0, 0.0, 320.5, 0.0, 610.0, 240.5, 0.0, 0.0, 1.0])
    np.testing.assert_array_equal(C.camera_info_to_K(info), [[600, 0, 320.5], [0, 610, 240.5], [0, 0, 1]])


def test_persons_header_is_copied_exactly(persons) -> None:
    msg = C.persons_to_msg(persons, header=HEADER)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id) == (1_700_000_000, 987_654_321,
                                                                                       "cam_optical")
    assert msg.header is not HEADER and C.stamp_ns(msg.header.stamp) == 1_700_000_000_987_654_321


def test_joint_state_and_tf_agree_with_the_body_model(model, persons) -> None:
    poses = body_poses(model, persons)
    for person, pose in zip(persons, poses):
        np.testing.assert_allclose(joint_positions(pose), person.joints3d[:55], atol=1e-5)
        js = C.joint_state_msg(pose, HEADER)
        assert list(js.name) == dof_names(person.track_id) and len(set(js.name)) == 162
        assert js.name[:3] == [f"left_hip_{a}_b{person.track_id}" for a in "xyz"]
        angles = np.asarray(js.position).reshape(54, 3)
        rebuilt = Rotation.from_euler("XYZ", angles).as_matrix()
        np.testing.assert_allclose(rebuilt, pose.local_rotmats[1:], atol=1e-6)
        tfs = body_transforms(pose, HEADER, "cam_optical")
        assert len(tfs) == 56 and tfs[0].child_frame_id == f"body_b{person.track_id}"
        assert tfs[0].header.frame_id == "cam_optical" and tfs[0].header.stamp == HEADER.stamp
        parent_of = {t.child_frame_id: t.header.frame_id for t in tfs}
        for j in range(1, 55):
            name = f"{SMPLX_JOINT_NAMES[j]}_{body_id(person.track_id)}"
            assert parent_of[name] == f"{SMPLX_JOINT_NAMES[SMPLX_PARENTS[j]]}_{body_id(person.track_id)}"
        t = tfs[0].transform.translation
        np.testing.assert_allclose([t.x, t.y, t.z], person.joints3d[0], atol=1e-5)
    assert C.tracked_ids_msg([12, 3]).data == "b3,b12"


def test_euler_xyz_known_value() -> None:
    R = Rotation.from_euler("XYZ", [0.1, -0.2, 0.3]).as_matrix()
    np.testing.assert_allclose(euler_xyz(R), [0.1, -0.2, 0.3], atol=1e-12)
    rx = Rotation.from_rotvec([0.5, 0, 0]).as_matrix()
    np.testing.assert_allclose(euler_xyz(rx), [0.5, 0, 0], atol=1e-12)


def test_urdf_tree_matches_joint_states(model, persons) -> None:
    pose = body_poses(model, persons[:1])[0]
    root = ET.fromstring(body_urdf(pose.track_id, pose.rest_joints))
    joints = list(root.iter("joint"))
    assert [j.get("name") for j in joints if j.get("type") == "revolute"] == dof_names(pose.track_id)
    links = {link.get("name") for link in root.iter("link")}
    assert {f"{n}_b3" for n in SMPLX_JOINT_NAMES} <= links and "body_b3" in links
    first = next(j for j in joints if j.get("name") == "left_knee_x_b3")
    offset = np.array(first.find("origin").get("xyz").split(), float)
    np.testing.assert_allclose(offset, pose.rest_joints[4] - pose.rest_joints[1], atol=1e-5)


def test_markers(model, persons) -> None:
    poses = body_poses(model, persons)
    verts = mesh_vertices(model, persons)
    markers, points = [], []
    for pose, v in zip(poses, verts):
        markers += [skeleton_marker(joint_positions(pose), pose.track_id, HEADER), mesh_marker(pose.track_id, HEADER)]
        points += [None, triangle_points(v, model.faces)]
    markers += delete_markers([5], HEADER)
    points += [None, None]
    back = deserialize_message(marker_array_bytes(markers, points), MarkerArray).markers
    assert [(m.ns, m.id, m.action) for m in back] == [(m.ns, m.id, m.action) for m in markers]
    for k in (1, 3):
        assert back[k].type == Marker.TRIANGLE_LIST and len(back[k].points) == 3 * len(model.faces)
        got = np.array([[p.x, p.y, p.z] for p in back[k].points[:50]])
        np.testing.assert_array_equal(got, points[k][:50])
        assert back[k].color == markers[k].color and back[k].header == HEADER
    assert back[0].type == Marker.LINE_LIST and len(back[0].points) == 108
    assert back[0].color != back[2].color  # colour per track
    assert back[4].action == Marker.DELETE and back[4].id == 5
    plain = deserialize_message(marker_array_bytes(markers[:1], [None]), MarkerArray)
    assert len(plain.markers[0].points) == 108
