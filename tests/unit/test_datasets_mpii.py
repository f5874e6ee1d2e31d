"""MPII adapter on a tiny ``mpii_human_pose_v1_u12_1.mat`` written in the published MATLAB layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from robosmplx_core.data.datasets.common import DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.mpii import MPII_LAYOUT, MPIIDataset
from robosmplx_core.nets.specs import part_spec

BODY = part_spec("body").joint_names
MAT = "mpii_human_pose_v1_u12_2/mpii_human_pose_v1_u12_1.mat"
EMPTY = np.zeros((0, 0))
# MATLAB (1-based) coordinates of one person: joint id -> (x, y)
PERSON = {0: (20.5, 74.5), 5: (60.5, 74.5), 6: (40.5, 50.5), 7: (40.5, 25.5), 8: (40.5, 18.5), 9: (40.5, 10.5),
          15: (41.0, 61.0)}


def _struct_array(rows: list[dict]) -> np.ndarray:
    """A 1 x N MATLAB struct array (what ``savemat`` writes for a record array of objects)."""
    out = np.empty((1, len(rows)), dtype=[(k, "O") for k in rows[0]])
    for i, row in enumerate(rows):
        for k, v in row.items():
            out[0, i][k] = v
    return out


def _points(person: dict[int, tuple[float, float]], visible: list) -> np.ndarray:
    return _struct_array([{"x": x, "y": y, "id": k, "is_visible": v}
                          for (k, (x, y)), v in zip(person.items(), visible)])


def _rect(annopoints: object) -> dict:
    return {"x1": 30.0, "y1": 5.0, "x2": 50.0, "y2": 20.0, "annopoints": annopoints, "scale": 0.4,
            "objpos": {"x": 40.0, "y": 45.0}}


def _write(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / MAT).parent.mkdir(parents=True)
    image = np.zeros((96, 128, 3), np.uint8)
    image[59:62, 39:42] = (0, 0, 255)  # BGR red block centred on pixel (r=60, c=40) = MATLAB (41, 61)
    for name in ("a.jpg", "b.jpg", "c.jpg"):
        cv2.imwrite(str(root / "images" / name), image)
    (root / "images" / "d.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    vis = [1, "0", EMPTY, 1, 1, 1, 1]  # the release mixes numbers, strings and empty arrays
    bad = dict(PERSON)
    bad[16] = (1.0, 2.0)  # joint id outside 0-15
    one_point = _struct_array([{"x": 5.0, "y": 5.0, "id": 0, "is_visible": 1}])
    annolist = _struct_array([
        {"image": {"name": "a.jpg"}, "annorect": _struct_array([_rect({"point": _points(PERSON, vis)}),
                                                                _rect(EMPTY)]), "frame_sec": 1.0, "vidx": 1},
        {"image": {"name": "b.jpg"}, "annorect": _struct_array([_rect({"point": _points(bad, vis + [1])}),
                                                                _rect({"point": one_point})]),
         "frame_sec": 1.0, "vidx": 1},
        {"image": {"name": "c.jpg"}, "annorect": _struct_array([_rect({"point": _points(PERSON, vis)})]),
         "frame_sec": 1.0, "vidx": 1},  # a test image (img_train 0): no joints are used
        {"image": {"name": "d.jpg"}, "annorect": _struct_array([_rect({"point": _points(PERSON, vis)})]),
         "frame_sec": 1.0, "vidx": 1},
    ])  # fmt: skip
    release = {"annolist": annolist, "img_train": np.array([[1, 1, 0, 1]]), "version": "12",
               "single_person": np.ones((4, 1)), "act": EMPTY, "video_list": EMPTY}
    scipy.io.savemat(str(root / MAT), {"RELEASE": release})
    return root


def test_joints_land_at_known_crop_pixels(tmp_path: Path) -> None:
    ds = MPIIDataset(_write(tmp_path), crop=CropConfig(size=64, scale=1.0))
    # a.jpg person 1; d.jpg (unreadable, found at load); b.jpg: bad id, and a 1-point person
    assert len(ds) == 2 and ds.skipped == {"no_keypoints": 1, "malformed_annotation": 1, "tiny_box": 1}
    s = ds[0]
    # continuous = MATLAB - 0.5: box x 20..60, y 10..74 -> square side 64 at (40, 42): x0 = 8, y0 = 10, zoom 1
    lw = BODY.index("left_wrist")
    np.testing.assert_allclose(s.joints2d[lw].numpy(), [40.5 - 8, 60.5 - 10], atol=1e-5)
    np.testing.assert_allclose(s.joints2d[BODY.index("pelvis")].numpy(), [32.0, 40.0], atol=1e-5)
    np.testing.assert_allclose(s.joints2d[BODY.index("right_ankle")].numpy(), [12.0, 64.0], atol=1e-5)
    redness = (s.image[0] - s.image[1]).numpy()
    r, c = np.unravel_index(int(redness.argmax()), redness.shape)
    assert abs(c + 0.5 - 32.5) <= 1 and abs(r + 0.5 - 50.5) <= 1  # the red block lies under the label
    labelled = {BODY[j] for j in np.flatnonzero(s.joints2d_conf.numpy() > 0)}
    assert labelled == {"right_ankle", "left_ankle", "pelvis", "left_wrist"}  # thorax, neck, head top dropped
    assert s.joints2d_conf[BODY.index("right_knee")] == 0 and s.joints2d_conf[BODY.index("neck")] == 0
    assert s.joints_visible[lw] and not s.has_intrinsics and not s.has_joints3d and not s.has_params


def test_corrupt_image_is_skipped_and_counted(tmp_path: Path) -> None:
    ds = MPIIDataset(_write(tmp_path), crop=CropConfig(size=32))
    assert ds[1].index == 0 and ds.skipped["unreadable_image"] == 1  # d.jpg -> wraps to a.jpg


def test_missing_or_wrong_files_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="mpii_human_pose_v1_u12_1.mat"):
        MPIIDataset(tmp_path / "nowhere")
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError, match=r"mpii_human_pose_v1_u12_2/mpii_human_pose_v1_u12_1\.mat"):
        MPIIDataset(tmp_path)
    (tmp_path / MAT).parent.mkdir()
    (tmp_path / MAT).write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    with pytest.raises(DatasetError, match="not a readable .mat file"):
        MPIIDataset(tmp_path)
    scipy.io.savemat(str(tmp_path / MAT), {"something_else": np.zeros(3)})
    with pytest.raises(DatasetError, match="RELEASE") as err:
        MPIIDataset(tmp_path)
    assert MPII_LAYOUT in str(err.value)
