"""MPI-INF-3DHP adapter on a tiny ``annot.mat`` + ``camera.calibration`` + extracted frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from robosmplx_core.data.datasets.common import DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.mpi_inf_3dhp import MPI_INF_3DHP_JOINT_NAMES, MpiInf3dhpDataset, parse_calibration
from robosmplx_core.nets.specs import part_spec

BODY = part_spec("body").joint_names
NAMES = MPI_INF_3DHP_JOINT_NAMES
K0 = np.array([[200.0, 0.0, 128.0], [0.0, 200.0, 128.0], [0.0, 0.0, 1.0]])


def _pose_m() -> np.ndarray:
    """(28, 3) camera-frame metres: every joint at (0, 0, 2) except a few, for a box known by hand."""
    xyz = np.tile([0.0, 0.0, 2.0], (28, 1))
    for name, p in (("head_top", (0.0, -0.5, 2.0)), ("left_ankle", (0.2, 0.5, 2.0)), ("right_ankle", (-0.2, 0.5, 2.0)),
                    ("left_wrist", (0.3, 0.0, 2.0)), ("right_wrist", (-0.3, 0.0, 2.0))):
        xyz[NAMES.index(name)] = p
    return xyz


def _calibration(cameras: range) -> str:
    blocks = ["Skeletool Camera Calibration File V1.0"]
    for c in cameras:
        blocks += [f"name          {c}", "  sensor      10 10", "  size        256 256", "  animated    0",
                   "  intrinsic   200 0 128 0 0 200 128 0 0 0 1 0 0 0 0 1 ",
                   "  extrinsic   1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1 ", "  radial      0"]
    return "\n".join(blocks) + "\n"


def _write(root: Path, *, calibrated: range = range(14)) -> Path:
    seq = root / "S1" / "Seq1"
    frames = [_pose_m() + [0.0, 0.01 * f, 0.0] for f in range(5)]
    frames[2][3] = np.nan  # malformed row
    frames[4] = _pose_m() + [3.0, 0.0, 0.0]  # projects outside the 256 x 256 image
    xyz_mm = np.stack(frames) * 1000.0
    uvw = np.stack(frames) @ K0.T
    uv = uvw[..., :2] / uvw[..., 2:]
    cells2, cells3 = np.empty((14, 1), dtype=object), np.empty((14, 1), dtype=object)
    for c in range(14):
        cells2[c, 0], cells3[c, 0] = uv.reshape(5, 56), xyz_mm.reshape(5, 84)
    seq.mkdir(parents=True)
    scipy.io.savemat(str(seq / "annot.mat"),
                     {"annot2": cells2, "annot3": cells3, "univ_annot3": cells3, "cameras": np.arange(14)[None],
                      "frames": np.arange(5)[:, None]})
    (seq / "camera.calibration").write_text(_calibration(calibrated))
    for cam in (0, 1):
        (seq / "imageFrames" / f"video_{cam}").mkdir(parents=True)
        for f in range(1, 6):
            cv2.imwrite(str(seq / "imageFrames" / f"video_{cam}" / f"frame_{f:06d}.jpg"), np.zeros((256, 256, 3)))
    (seq / "imageFrames" / "video_1" / "frame_000001.jpg").write_bytes(b"\xff\xd8 broken")
    return root


def test_joints_in_metres_and_known_crop_pixels(tmp_path: Path) -> None:
    ds = MpiInf3dhpDataset(_write(tmp_path), subjects=(1,), sequences=(1,), cameras=(0, 1), frame_stride=2,
                           crop=CropConfig(size=50, scale=1.0))
    # rows 0, 2, 4 of each camera: row 2 has a NaN, row 4 leaves the image
    assert len(ds) == 2 and ds.skipped == {"malformed_annotation": 2, "joints_outside_image": 2}
    s = ds[0]
    lw = BODY.index("left_wrist")
    np.testing.assert_allclose(s.joints3d[lw].numpy(), [0.3, 0.0, 2.0], atol=1e-6)
    # pixels u = 100 x + 128, v = 100 y + 128: box x 98..158, y 78..178 -> side 100 at (128, 128),
    # x0 = y0 = 78, zoom 50 / 100
    np.testing.assert_allclose(s.joints2d[lw].numpy(), [(158 - 78) / 2, (128 - 78) / 2], atol=1e-4)
    np.testing.assert_allclose(s.joints2d[BODY.index("right_ankle")].numpy(), [15.0, 50.0], atol=1e-4)
    labelled = s.joints3d_conf.numpy() > 0
    uvw = s.joints3d.numpy()[labelled] @ s.K.numpy().T
    np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], s.joints2d.numpy()[labelled], atol=1e-3)
    assert {BODY[j] for j in np.flatnonzero(labelled)} == {
        "pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist"}  # neck, head, feet dropped
    assert s.joints2d_conf[BODY.index("neck")] == 0 and s.has_joints3d and s.has_intrinsics
    assert not s.has_pelvis3d and not s.has_params and s.source == "mpi_inf_3dhp"
    keep_all = MpiInf3dhpDataset(tmp_path, subjects=(1,), sequences=(1,), cameras=(0,), frame_stride=2,
                                 require_inside=False)
    assert len(keep_all) == 2 and keep_all.entries[1].image_path.name == "frame_000005.jpg"


def test_corrupt_frame_and_missing_camera_are_skipped_and_counted(tmp_path: Path) -> None:
    ds = MpiInf3dhpDataset(_write(tmp_path), subjects=(1,), sequences=(1,), cameras=(0, 1), frame_stride=2,
                           crop=CropConfig(size=32))
    assert ds[1].index == 0 and ds.skipped["unreadable_image"] == 1  # camera 1's frame 1 is corrupt
    partial = MpiInf3dhpDataset(_write(tmp_path / "partial", calibrated=range(1)), subjects=(1,), sequences=(1,),
                                cameras=(0, 1), frame_stride=2)
    assert len(partial) == 1 and partial.skipped["missing_camera"] == 1


def test_calibration_parse_and_missing_files_name_the_layout(tmp_path: Path) -> None:
    root = _write(tmp_path)
    cams = parse_calibration(root / "S1" / "Seq1" / "camera.calibration")
    assert sorted(cams) == list(range(14)) and cams[3][1] == (256, 256)
    np.testing.assert_allclose(cams[3][0], K0)
    with pytest.raises(DatasetError, match=r"imageFrames/video_<c>/frame_%06d.jpg"):
        MpiInf3dhpDataset(root, subjects=(1,), sequences=(1,), cameras=(0, 2))  # camera 2 not extracted
    with pytest.raises(DatasetError, match=r"S<s>/Seq<q>/annot.mat"):
        MpiInf3dhpDataset(root, subjects=(1, 2), sequences=(1,), cameras=(0,))
    (root / "S1" / "Seq1" / "camera.calibration").unlink()
    with pytest.raises(DatasetError, match="camera.calibration"):
        MpiInf3dhpDataset(root, subjects=(1,), sequences=(1,), cameras=(0,))
    with pytest.raises(DatasetError, match="annot.mat"):
        MpiInf3dhpDataset(tmp_path / "nowhere")
