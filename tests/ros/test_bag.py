"""robosmplx-bag for real: input bags written with rosbags (MCAP raw images, sqlite3 compressed
images), processed by the CLI, read back; the bag's SMPLXPersonArrays compared field by field
with what the live node (a subprocess, fed the same frames one at a time) publishes; unusable
inputs exit 2 with a message naming what was found."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import rclpy
from builtin_interfaces.msg import Time
from geometry_msgs.msg import TransformStamped
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.rosbag2 import Reader, Writer
from rosbags.rosbag2.enums import StoragePlugin
from sensor_msgs.msg import CompressedImage, Image, JointState
from std_msgs.msg import Header, String
from visualization_msgs.msg import Marker, MarkerArray

from robosmplx.msg import SMPLXPersonArray
from robosmplx_ros import bag as bagmod
from robosmplx_ros.bag_io import make_typestore, msgtype_name, robosmplx_msg_dir
from robosmplx_ros.convert import rgb_to_compressed, rgb_to_image, stamp_ns
from robosmplx_ros.skeleton import dof_names
from tests.ros.node_probe import REPO, Probe, camera_info, node_process, video_frames
from tf2_msgs.msg import TFMessage

N_FRAMES = 6
T0 = 1_700_000_000
CAMERA_FRAME = "test_camera_optical"  # node_probe.Probe's frame id
BAG_OPTIONS = ["tracker.min_hits=1", "publish_mesh=false"]
NODE_PARAMS = ["overrides:=[tracker.min_hits=1]", "publish_mesh:=false"]
IMAGE_TOPIC = {"mcap": "/camera/image_raw", "sqlite3": "/camera/image_raw/compressed"}
ATOL = 1e-4


def _stamp(i: int) -> Time:
    return Time(sec=T0 + i // 10, nanosec=(i % 10) * 100_000_000 + 123_457)  # 10 fps, not round


def _header(i: int) -> Header:
    return Header(stamp=_stamp(i), frame_id=CAMERA_FRAME)


def _image(rgb: np.ndarray, i: int, compressed: bool) -> Image | CompressedImage:
    if compressed:
        return rgb_to_compressed(rgb, _header(i), "jpeg")
    return rgb_to_image(rgb, _header(i), "bgr8" if i % 2 else "rgb8")


def write_bag(path: Path, storage: str, topics: dict[str, list[tuple[int, object]]]) -> None:
    """A rosbag2 bag of rclpy messages: {topic: [(bag time ns, message), ...]}."""
    store = make_typestore()
    with Writer(path, version=9, storage_plugin=StoragePlugin[storage.upper()]) as w:
        for topic, msgs in topics.items():
            conn = w.add_connection(topic, msgtype_name(type(msgs[0][1])), typestore=store)
            for t_ns, msg in msgs:
                w.write(conn, t_ns, serialize_message(msg))


def read_bag(path: Path) -> tuple[dict[str, list[tuple[int, bytes]]], dict[str, object]]:
    """({topic: [(bag time ns, CDR bytes), ...]} in bag order, {topic: connection})."""
    out: dict[str, list[tuple[int, bytes]]] = defaultdict(list)
    with Reader(path) as r:
        for conn, t_ns, raw in r.messages():
            out[conn.topic].append((t_ns, bytes(raw)))
        return dict(out), {c.topic: c for c in r.connections}


def input_topics(frames: list[np.ndarray], storage: str) -> dict[str, list[tuple[int, object]]]:
    """camera_info 1 ms before each image, the image 2 ms after its stamp, an unrelated String;
    the sqlite3 bag has compressed images, a second camera_info topic (not the image's) and a
    robot's /tf."""
    compressed = storage == "sqlite3"
    topics: dict[str, list] = defaultdict(list)
    for i, rgb in enumerate(frames):
        t = stamp_ns(_stamp(i)) + 2_000_000
        topics["/camera/camera_info"].append((t - 1_000_000, camera_info(rgb.shape[1], rgb.shape[0], _header(i))))
        topics[IMAGE_TOPIC[storage]].append((t, _image(rgb, i, compressed)))
        topics["/chatter"].append((t + 500, String(data=f"unrelated {i}")))
        if compressed:
            topics["/depth/camera_info"].append((t, camera_info(320, 240, _header(i), f=100.0)))
            robot = TransformStamped(header=Header(stamp=_stamp(i), frame_id="map"), child_frame_id="odom")
            robot.transform.rotation.w = 1.0
            topics["/tf"].append((t + 200, TFMessage(transforms=[robot])))  # the outputs join this topic
    return dict(topics)


def run_cli(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "robosmplx_ros.bag", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return video_frames(N_FRAMES)


_RUNS: dict[str, tuple] = {}


def _processed(storage: str, frames: list[np.ndarray], tmp_path_factory) -> tuple:
    """(storage, input messages, IN and OUT read back, OUT connections, CLI result); once per
    storage per test session."""
    if storage not in _RUNS:
        folder = tmp_path_factory.mktemp(f"bag_{storage}")
        topics = input_topics(frames, storage)
        write_bag(folder / "in", storage, topics)
        t0 = time.monotonic()
        result = run_cli(str(folder / "in"), str(folder / "out"), "--quiet", *BAG_OPTIONS)
        assert result.returncode == 0, result.stdout + result.stderr
        print(f"{storage}: {time.monotonic() - t0:.1f} s, {result.stdout.strip()}")
        out, conns = read_bag(folder / "out")
        written, _ = read_bag(folder / "in")
        _RUNS[storage] = (storage, topics, written, out, conns, result)
    return _RUNS[storage]


@pytest.fixture(params=["mcap", "sqlite3"])
def processed(request, frames, tmp_path_factory) -> tuple:
    return _processed(request.param, frames, tmp_path_factory)


@pytest.fixture
def processed_mcap(frames, tmp_path_factory) -> tuple:
    return _processed("mcap", frames, tmp_path_factory)


def _rclpy_hash(msgtype: str) -> str | None:
    """The RIHS01 hash rclpy uses, from ``share/<pkg>/msg/<Type>.json`` beside robosmplx's."""
    pkg, _, name = msgtype.split("/")
    path = robosmplx_msg_dir().parents[1] / pkg / "msg" / f"{name}.json"
    if not path.is_file():
        return None
    hashes = json.loads(path.read_text())["type_hashes"]
    return next(h["hash_string"] for h in hashes if h["type_name"] == msgtype)


def test_bag_copies_inputs_and_adds_outputs(processed) -> None:
    storage, topics, written, out, conns, result = processed
    assert "6/6 images" in result.stdout
    for topic, msgs in topics.items():  # every input message, byte for byte, same bag times
        copied = [x for x in out[topic] if x in written[topic]]
        assert copied == written[topic] and (topic == "/tf" or out[topic] == copied), topic
        cls = type(msgs[0][1])  # (compare bytes read back: rclpy leaves CDR padding bytes uninitialised)
        assert [(t, deserialize_message(raw, cls)) for t, raw in copied] == msgs, topic
        assert conns[topic].msgtype == msgtype_name(cls)
    images = [m for _, m in topics[IMAGE_TOPIC[storage]]]
    stamps = [stamp_ns(m.header.stamp) for m in images]

    persons = out["/robosmplx/persons"]
    assert len(persons) == len(images)
    arrays = [deserialize_message(raw, SMPLXPersonArray) for _, raw in persons]
    for (t, _), arr, stamp in zip(persons, arrays, stamps):
        assert t == stamp == stamp_ns(arr.header.stamp) and arr.header.frame_id == CAMERA_FRAME
        for p in arr.persons:
            for name in ("global_orient", "body_pose", "left_hand_pose", "right_hand_pose", "jaw_pose", "betas",
                         "expression", "joints2d"):
                assert np.isfinite(np.asarray(getattr(p, name))).all(), name
            assert math.isfinite(p.transl.z) and p.transl.z > 0 and len(p.joints3d) == 127
    ids = {p.track_id for a in arrays for p in a.persons}
    assert ids and sum(bool(a.persons) for a in arrays) >= N_FRAMES - 1

    tracked = [deserialize_message(raw, String).data for _, raw in out["/humans/bodies/tracked"]]
    assert tracked == [",".join(f"b{i}" for i in sorted(p.track_id for p in a.persons)) for a in arrays]
    for arr in arrays:  # each person's joint_states at its image's stamp
        for p in arr.persons:
            topic = f"/humans/bodies/b{p.track_id}/joint_states"
            assert stamp_ns(arr.header.stamp) in [t for t, _ in out[topic]]
    js_topics = [t for t in out if t.endswith("/joint_states")]
    assert {int(t.split("/")[3][1:]) for t in js_topics} == ids
    for topic in js_topics:
        tid = int(topic.split("/")[3][1:])
        assert len(out[topic.replace("joint_states", "urdf")]) == 1
        for t, raw in out[topic]:
            js = deserialize_message(raw, JointState)
            assert list(js.name) == dof_names(tid) and len(js.position) == 162 and np.isfinite(js.position).all()
            assert stamp_ns(js.header.stamp) == t and t in stamps

    tf = [(t, deserialize_message(raw, TFMessage)) for t, raw in out["/tf"] if (t, raw) not in written.get("/tf", [])]
    assert tf and all(stamp_ns(tr.header.stamp) == t and t in stamps for t, m in tf for tr in m.transforms)
    assert {f"body_b{i}" for i in ids} <= {tr.child_frame_id for _, m in tf for tr in m.transforms}
    markers = [deserialize_message(raw, MarkerArray) for _, raw in out["/robosmplx/markers"]]
    assert any(m.ns == "skeleton" and m.action == Marker.ADD for a in markers for m in a.markers)
    assert not any(m.ns == "mesh" and m.action == Marker.ADD for a in markers for m in a.markers)  # publish_mesh=false

    for topic, conn in conns.items():  # output connections carry the hash rclpy publishers report
        assert conn.digest.startswith("RIHS01_") and conn.msgdef.data, topic
        want = _rclpy_hash(conn.msgtype)
        assert want is None or conn.digest == want, (topic, conn.msgtype)
    assert _rclpy_hash("robosmplx/msg/SMPLXPersonArray") == conns["/robosmplx/persons"].digest
    urdf_qos = conns[next(t for t in out if t.endswith("/urdf"))].ext.offered_qos_profiles
    assert urdf_qos[0].durability.name == "TRANSIENT_LOCAL"  # latched, as the node publishes it


def _assert_same(a: object, b: object, where: str) -> None:
    """Field-by-field equality of two rclpy messages; floats within ATOL."""
    if hasattr(a, "get_fields_and_field_types"):
        for name in a.get_fields_and_field_types():
            _assert_same(getattr(a, name), getattr(b, name), f"{where}.{name}")
    elif isinstance(a, (list, tuple)) and a and hasattr(a[0], "get_fields_and_field_types"):
        assert len(a) == len(b), f"{where}: {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, (str, bytes, bool, int)) and not isinstance(a, float):
        assert a == b, f"{where}: {a!r} != {b!r}"
    else:
        x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
        assert x.shape == y.shape and np.allclose(x, y, atol=ATOL, rtol=0), f"{where}: {x} != {y}"


@pytest.fixture(scope="module")
def ros():
    rclpy.init()
    try:
        yield
    finally:
        rclpy.try_shutdown()


def test_bag_equals_live_node(processed_mcap, ros, tmp_path) -> None:
    storage, topics, _, out, _, _ = processed_mcap
    images = [m for _, m in topics[IMAGE_TOPIC[storage]]]
    infos = [m for _, m in topics["/camera/camera_info"]]
    bag_arrays = [deserialize_message(raw, SMPLXPersonArray) for _, raw in out["/robosmplx/persons"]]
    with node_process(tmp_path / "node.log", *NODE_PARAMS) as proc:
        probe = Probe()
        try:
            probe.wait_for_node(proc)
            for _ in range(3):  # K known before the first image, as in the bag
                probe.info_pub.publish(infos[0])
                probe.spin_until(lambda: False, 0.1)
            for info, image in zip(infos, images):  # one at a time: the node drops none
                probe.info_pub.publish(info)
                probe.spin_until(lambda: False, 0.02)
                probe.image_pub.publish(image)
                got = lambda: any(m.header.stamp == image.header.stamp for m in probe.persons)  # noqa: E731
                assert probe.spin_until(got, 30.0), \
                    f"no result for image {image.header.stamp}\n{(tmp_path / 'node.log').read_text()[-3000:]}"
            live = list(probe.persons)
        finally:
            probe.node.destroy_node()
    assert [m.header.stamp for m in live] == [m.header.stamp for m in bag_arrays]
    assert sum(len(m.persons) for m in live) > 0
    for i, (a, b) in enumerate(zip(bag_arrays, live)):
        _assert_same(a, b, f"image {i}")


# ---------------------------------------------------------------------------------------------
# Unusable input: exit 2, nothing written, the message names what was found

def _main(capsys, *args: str) -> tuple[int, str]:
    rc = bagmod.main(list(args))
    return rc, capsys.readouterr().err


def test_no_image_topic_lists_the_topics(tmp_path, capsys) -> None:
    write_bag(tmp_path / "in", "mcap", {"/chatter": [(1, String(data="x"))],
                                         "/camera/camera_info": [(2, camera_info(64, 48, _header(0)))]})
    rc, err = _main(capsys, str(tmp_path / "in"), str(tmp_path / "out"))
    assert rc == 2 and "no image topic" in err and "/chatter (std_msgs/msg/String, 1 msgs)" in err, err
    assert "/camera/camera_info (sensor_msgs/msg/CameraInfo" in err and not (tmp_path / "out").exists()


def test_several_image_topics_need_image_topic(tmp_path, capsys) -> None:
    rgb = np.zeros((48, 64, 3), np.uint8)
    write_bag(tmp_path / "in", "sqlite3", {"/a/image": [(1, rgb_to_image(rgb, _header(0)))],
                                            "/b/image/compressed": [(1, rgb_to_compressed(rgb, _header(0)))]})
    rc, err = _main(capsys, str(tmp_path / "in"), str(tmp_path / "out"))
    assert rc == 2 and "/a/image (sensor_msgs/msg/Image)" in err and "--image-topic" in err, err
    rc, err = _main(capsys, str(tmp_path / "in"), str(tmp_path / "out"), "--image-topic", "/c")
    assert rc == 2 and "/c is not in the bag" in err and "/b/image/compressed" in err, err
    assert not (tmp_path / "out").exists()


def test_unknown_storage_and_missing_input(tmp_path, capsys) -> None:
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "metadata.yaml").write_text("rosbag2_bagfile_information:\n  version: 9\n  storage_identifier: zipbag\n")
    rc, err = _main(capsys, str(odd), str(tmp_path / "out"))
    assert rc == 2 and "'zipbag' is not supported" in err and "mcap or sqlite3" in err, err
    ros1 = tmp_path / "old.bag"
    ros1.write_bytes(b"#ROSBAG V2.0\n")
    rc, err = _main(capsys, str(ros1), str(tmp_path / "out"))
    assert rc == 2 and "'.bag' is not a rosbag2 bag" in err and "rosbags-convert" in err, err
    rc, err = _main(capsys, str(tmp_path / "nothing_here"), str(tmp_path / "out"))
    assert rc == 2 and "nothing_here does not exist" in err, err
    with pytest.raises(SystemExit) as exc:  # an unknown output storage: argparse says which exist
        bagmod.main([str(odd), str(tmp_path / "out"), "--storage", "zipbag"])
    assert exc.value.code == 2 and "invalid choice: 'zipbag'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_bad_options_and_existing_output(tmp_path, capsys) -> None:
    write_bag(tmp_path / "in", "mcap", {"/image": [(1, rgb_to_image(np.zeros((48, 64, 3), np.uint8), _header(0)))]})
    rc, err = _main(capsys, str(tmp_path / "in"), str(tmp_path / "out"), "publish_meshes=false")
    assert rc == 2 and "unknown option 'publish_meshes'" in err and "publish_mesh" in err, err
    rc, err = _main(capsys, str(tmp_path / "in"), str(tmp_path / "out"), "publish_mesh=maybe")
    assert rc == 2 and "expected true or false" in err, err
    (tmp_path / "out").mkdir()
    rc, err = _main(capsys, str(tmp_path / "in"), str(tmp_path / "out"))
    assert rc == 2 and "exists already" in err, err
    rc, err = _main(capsys, str(tmp_path / "in"), str(tmp_path / "out2"), "tracker.min_hitz=1")
    assert rc == 2 and "unknown config key 'tracker.min_hitz'" in err and "min_hits" in err, err
    params = bagmod.node_params(None, ["publish_mesh=false", "max_persons=2", "tracker.min_hits=1"])
    assert params.publish_mesh is False and params.max_persons == 2 and params.overrides == ("tracker.min_hits=1",)


def test_bad_images_are_skipped_and_counted(frames, tmp_path) -> None:
    """As the node: an unknown encoding and an image older than the last are skipped, counted
    with the node's counter names, and the rest is processed (in-process API, no progress bar)."""
    good = [rgb_to_image(frames[i], _header(i)) for i in (1, 3)]
    bad = rgb_to_image(frames[2], _header(2))
    bad.encoding = "bayer_rggb42"
    stale = rgb_to_image(frames[0], _header(0))  # older than the image before it
    seq = [good[0], bad, stale, good[1]]
    write_bag(tmp_path / "in", "mcap", {"/cam/image": [(stamp_ns(_stamp(0)) + k, m) for k, m in enumerate(seq)]})
    lines: list[str] = []
    params = bagmod.node_params(None, BAG_OPTIONS + ["publish_markers=false", "camera_frame=cam_override"])
    s = bagmod.process_bag(tmp_path / "in", tmp_path / "out", params, storage="sqlite3", progress=False,
                           log=lines.append)
    assert (s.images, s.processed, s.skipped, s.storage) == (4, 2, {"bad_encoding": 1, "stale_image": 1}, "sqlite3")
    assert any("skipped bad input (bad_encoding)" in line for line in lines), lines
    out, _ = read_bag(tmp_path / "out")
    arrays = [deserialize_message(raw, SMPLXPersonArray) for _, raw in out["/robosmplx/persons"]]
    assert [a.header.stamp for a in arrays] == [m.header.stamp for m in good]
    assert {a.header.frame_id for a in arrays} == {"cam_override"} and "/robosmplx/markers" not in out
    assert (tmp_path / "out" / "out.db3").is_file() and len(out["/cam/image"]) == 4
