"""`robosmplx pseudolabel` end to end with real MediaPipe models: the sample video and a rosbag2
bag in, a dataset out that ``PseudoLabelDataset`` (what the trainer reads) accepts."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.keypoint_sets import WHOLEBODY137_TO_SMPLX127
from robosmplx_core.cli import main
from robosmplx_core.data.datasets.common import PARAM_FIELDS, collate_training_samples
from robosmplx_core.data.datasets.pseudolabel import PseudoLabelDataset
from robosmplx_core.geometry.projection import perspective_projection
from robosmplx_core.media import media_dir

VTEST = media_dir() / "vtest.avi"
pytestmark = pytest.mark.skipif(not VTEST.is_file(), reason=f"sample media {VTEST} absent: run `make setup`")
BAG_K = np.array([[700.0, 0.0, 380.0], [0.0, 700.0, 290.0], [0.0, 0.0, 1.0]])


def _lines(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / "annotations.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def vtest_run(tmp_path_factory) -> tuple[Path, str]:
    """The first 8 frames of vtest.avi labelled: (output folder, what the command printed)."""
    out = tmp_path_factory.mktemp("pl") / "vtest"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["pseudolabel", str(VTEST), "--out", str(out), "--max-frames", "8", "--quiet"]) == 0
    return out, printed.getvalue()


def test_video_gives_images_fits_and_landmarks(vtest_run) -> None:
    out, printed = vtest_run
    lines = _lines(out)
    meta = yaml.safe_load((out / "dataset.yaml").read_text())
    assert meta["format"] == "robosmplx-pseudolabel" and meta["version"] == 1 and meta["settings"]["every"] == 1
    summary = meta["summary"]
    assert summary["frames_read"] == 8 and summary["frames_kept"] == 8 and summary["persons"] == len(lines) >= 8
    assert summary["tracks"] >= 2 and f"{len(lines)} persons from {summary['tracks']} tracks" in printed
    assert {ln["frame"] for ln in lines} <= set(range(8))
    assert len({ln["image"] for ln in lines}) == summary["frames_labelled"]
    for ln in lines:
        assert (out / ln["image"]).is_file() and ln["image_size"] == [768, 576]
        assert ln["confidence"]["body"] >= 0.5 and ln["reprojection_px"] < 10
        assert len(ln["smplx"]["body_pose"]) == 21 and ln["smplx"]["transl"][2] > 0
        x0, y0, x1, y1 = ln["box_xyxy"]
        body = np.array(ln["joints2d"])[:25][np.array(ln["joints2d_conf"])[:25] > 0.5]
        assert len(body) >= 10 and ((body > [x0 - 20, y0 - 20]) & (body < [x1 + 20, y1 + 20])).all()
    np.testing.assert_allclose(lines[0]["K"], [[665.1075, 0, 384], [0, 665.1075, 288], [0, 0, 1]], atol=1e-3)


def test_the_adapter_reads_it_and_the_fits_project_onto_the_landmarks(vtest_run) -> None:
    out, _ = vtest_run
    ds = PseudoLabelDataset(out)
    assert len(ds) == len(_lines(out)) and not ds.skipped
    batch = collate_training_samples([ds[i] for i in range(len(ds))])
    assert batch.image.shape == (len(ds), 3, 256, 256) and torch.isfinite(batch.image).all()
    valid = dict(zip(PARAM_FIELDS, batch.params_valid.T))
    assert valid["transl"].all() and valid["body_pose"].all() and not valid["leye_pose"].any()
    # the fit, projected with the crop's K, lands on the crop's landmarks (params in the full-image camera frame)
    model = BodyModel.load()
    with torch.inference_mode():
        joints = model.joints(batch.params)[:, torch.from_numpy(WHOLEBODY137_TO_SMPLX127[:25].copy())]
        uv = perspective_projection(joints, batch.K)
    conf = batch.joints2d_conf[:, :25]
    err = (uv - batch.joints2d[:, :25]).norm(dim=-1)[conf > 0.5]
    assert float(err.median()) < 8.0, f"median crop-pixel error {float(err.median()):.1f} (4.2 when written)"


def _write_bag(path: Path, frames: list[np.ndarray]) -> None:
    from rosbags.rosbag2 import Writer
    from rosbags.rosbag2.enums import StoragePlugin
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    T = store.types
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        img_conn = writer.add_connection("/cam/image_raw", "sensor_msgs/msg/Image", typestore=store)
        info_conn = writer.add_connection("/cam/camera_info", "sensor_msgs/msg/CameraInfo", typestore=store)
        for i, rgb in enumerate(frames):
            t_ns = 1_000_000_000 + i * 100_000_000
            header = T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=1, nanosec=i * 100_000_000),
                                              frame_id="cam")
            roi = T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
            info = T["sensor_msgs/msg/CameraInfo"](
                header=header, height=576, width=768, distortion_model="plumb_bob", d=np.zeros(5), k=BAG_K.reshape(-1),
                r=np.eye(3).reshape(-1), p=np.zeros(12), binning_x=0, binning_y=0, roi=roi)
            bgr = np.ascontiguousarray(rgb[:, :, ::-1])
            data = bgr.reshape(-1) if i != 1 else bgr.reshape(-1)[:-7]  # frame 1: truncated data
            image = T["sensor_msgs/msg/Image"](header=header, height=576, width=768, encoding="bgr8", is_bigendian=0,
                                               step=768 * 3, data=data)
            writer.write(info_conn, t_ns, store.serialize_cdr(info, "sensor_msgs/msg/CameraInfo"))
            writer.write(img_conn, t_ns, store.serialize_cdr(image, "sensor_msgs/msg/Image"))


def test_bag_frames_use_its_camera_info_and_bad_images_are_counted(tmp_path: Path, vtest_frames, capsys) -> None:
    _write_bag(tmp_path / "bag", [f.image for f in vtest_frames[:4]])
    out = tmp_path / "out"
    assert main(["pseudolabel", str(tmp_path / "bag"), "--out", str(out), "--quiet", "--every", "1"]) == 0
    summary = yaml.safe_load((out / "dataset.yaml").read_text())["summary"]
    assert summary["frames_read"] == 4 and summary["frames_kept"] == 3
    assert list(summary["skipped_frames"]) == ["inconsistent image size (768x576, step 2304, 1327097 bytes)"]
    lines = _lines(out)
    assert lines and {ln["frame"] for ln in lines} <= {0, 2, 3}
    np.testing.assert_allclose(lines[0]["K"], BAG_K)
    assert lines[-1]["stamp"] == pytest.approx(1.0 + 0.1 * lines[-1]["frame"])
    assert "1 inconsistent image size" in capsys.readouterr().out


def test_unusable_input_exits_2_and_a_run_is_never_overwritten(tmp_path: Path, vtest_run, capsys) -> None:
    assert main(["pseudolabel", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "o")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    out, _ = vtest_run
    assert main(["pseudolabel", str(VTEST), "--out", str(out), "--max-frames", "1"]) == 2
    assert "exists already" in capsys.readouterr().err
    bogus, out_o = "pipeline.bogus=1", ["--out", str(tmp_path / "o")]
    for argv in ([bogus, *out_o], [*out_o, bogus]):
        assert main(["pseudolabel", str(VTEST), *argv]) == 2  # key=value among the sources or after the options
        assert "unknown config key 'pipeline.bogus'" in capsys.readouterr().err
