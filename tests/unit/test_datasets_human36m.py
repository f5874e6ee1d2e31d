"""Human3.6M adapter on tiny fixture files in the I2L-MeshNet / Hand4Whole json layout."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from robosmplx_core.data.datasets.common import DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.human36m import Human36MDataset
from robosmplx_core.nets.specs import part_spec

BODY = part_spec("body").joint_names
A = math.radians(30.0)
R = np.array([[math.cos(A), 0.0, math.sin(A)], [0.0, 1.0, 0.0], [-math.sin(A), 0.0, math.cos(A)]])
T_MM = np.array([100.0, -50.0, 4000.0])
F, C = (1145.0, 1144.0), (512.0, 515.0)


def _joints_world(frame: int) -> np.ndarray:
    rng = np.random.default_rng(frame)
    return rng.uniform(-400.0, 400.0, (17, 3))


def _write(root: Path) -> Path:
    (root / "annotations").mkdir(parents=True)
    seq = "s_01_act_02_subact_01_ca_01"
    (root / "images" / seq).mkdir(parents=True)
    images, anns = [], []
    for frame in (0, 1, 5, 10):
        name = f"{seq}/{seq}_{frame + 1:06d}.jpg"
        cv2.imwrite(str(root / "images" / name), np.full((1002, 1000, 3), 40, np.uint8))
        images.append({"id": frame, "file_name": name, "width": 1000, "height": 1002, "subject": 1, "action_idx": 2,
                       "subaction_idx": 1, "cam_idx": 1, "frame_idx": frame})
        anns.append({"id": frame, "image_id": frame, "bbox": [300.0, 200.0, 400.0, 600.0]})
    data = {"images": images, "annotations": anns}
    joints = {"2": {"1": {str(f): _joints_world(f).tolist() for f in (0, 1, 5)}}}  # frame 10 has no 3D
    cams = {"1": {"R": R.tolist(), "t": T_MM.tolist(), "f": list(F), "c": list(C)}}
    for kind, obj in (("data", data), ("camera", cams), ("joint_3d", joints)):
        (root / "annotations" / f"Human36M_subject1_{kind}.json").write_text(json.dumps(obj))
    return root


def test_joints_in_camera_metres_and_crop_pixels(tmp_path: Path) -> None:
    ds = Human36MDataset(_write(tmp_path), subjects=(1,), frame_stride=5, crop=CropConfig(size=64, scale=1.0))
    assert len(ds) == 2 and ds.skipped == {"missing_joint_3d": 1}  # frames 0 and 5; frame 1 not on the stride
    s = ds[1]
    cam = (_joints_world(5) @ R.T + T_MM) / 1000.0
    pelvis, lw = BODY.index("pelvis"), BODY.index("left_wrist")
    np.testing.assert_allclose(s.joints3d[pelvis].numpy(), cam[0], atol=1e-5)
    np.testing.assert_allclose(s.joints3d[lw].numpy(), cam[13], atol=1e-5)
    u = F[0] * cam[13, 0] / cam[13, 2] + C[0]
    v = F[1] * cam[13, 1] / cam[13, 2] + C[1]
    # bbox (300, 200, 400, 600) -> square side 600 at (500, 500): x0 = 200, y0 = 200, zoom 64 / 600
    np.testing.assert_allclose(s.joints2d[lw].numpy(), [(u - 200) * 64 / 600, (v - 200) * 64 / 600], atol=1e-3)
    labelled = s.joints3d_conf.numpy() > 0
    uvw = s.joints3d.numpy()[labelled] @ s.K.numpy().T
    np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], s.joints2d.numpy()[labelled], atol=1e-3)
    assert labelled.sum() == 15 and s.joints2d_conf[BODY.index("nose")] == 1  # Torso and Head top dropped
    assert s.joints2d_conf[BODY.index("left_thumb")] == 0 and s.has_intrinsics and not s.has_params


def test_missing_subject_file_names_the_layout(tmp_path: Path) -> None:
    _write(tmp_path)
    with pytest.raises(DatasetError, match=r"Human36M_subject<S>_joint_3d.json"):
        Human36MDataset(tmp_path, subjects=(1, 5))
    with pytest.raises(DatasetError, match="images/"):
        Human36MDataset(tmp_path / "missing")
