"""FreiHAND adapter on tiny fixture files written in the published layout."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from robosmplx_core.data.datasets.common import DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.freihand import FreiHandDataset, project_points

K0 = np.array([[400.0, 0.0, 112.0], [0.0, 400.0, 112.0], [0.0, 0.0, 1.0]])


def _hand(shift: float) -> np.ndarray:
    xyz = np.zeros((21, 3))
    xyz[:, 0] = np.linspace(-0.04, 0.04, 21) + shift
    xyz[:, 1] = np.linspace(0.03, -0.03, 21)
    xyz[:, 2] = 0.5
    return xyz


def _write(root: Path, *, corrupt: bool = False) -> Path:
    (root / "training" / "rgb").mkdir(parents=True)
    (root / "training" / "mask").mkdir(parents=True)
    xyz = [_hand(0.0).tolist(), _hand(0.01).tolist(), [[0.0, 0.0]]]  # sample 2 is malformed
    (root / "training_xyz.json").write_text(json.dumps(xyz))
    (root / "training_K.json").write_text(json.dumps([K0.tolist()] * 3))
    (root / "training_mano.json").write_text(json.dumps([[[0.0] * 61]] * 3))
    image = np.zeros((224, 224, 3), np.uint8)
    wrist = project_points(_hand(0.0)[:1], K0)[0]
    image[int(wrist[1]), int(wrist[0])] = (0, 255, 0)
    for i in (0, 1, 2, 3, 12):  # 3 = sample 0 in the second version; 12 >= 3 * 4 has no annotation
        cv2.imwrite(str(root / "training" / "rgb" / f"{i:08d}.jpg"), image)
    if corrupt:
        (root / "training" / "rgb" / "00000001.jpg").write_bytes(b"\xff\xd8 broken")
    mask = np.zeros((224, 224), np.uint8)
    mask[100:130, 90:140] = 255
    cv2.imwrite(str(root / "training" / "mask" / "00000000.jpg"), mask)
    return root


def test_joints_project_consistently_through_the_crop(tmp_path: Path) -> None:
    ds = FreiHandDataset(_write(tmp_path), crop=CropConfig(size=64, scale=1.5))
    assert len(ds) == 3 and ds.skipped == {"malformed_annotation": 1, "no_annotation": 1}
    s = ds[0]
    assert s.part == "hand" and not s.flipped and s.has_joints3d and s.has_intrinsics and s.has_person_mask
    np.testing.assert_allclose(s.joints3d.numpy(), _hand(0.0), atol=1e-6)
    np.testing.assert_allclose(project_points(s.joints3d.numpy(), s.K.numpy()), s.joints2d.numpy(), atol=1e-3)
    # tight box of the projections: x in 112 +- 32, y in 112 -+ 24 -> side 64 * 1.5 = 96, centre (112, 112)
    np.testing.assert_allclose(s.joints2d[0].numpy(), [(80 - 64) * 64 / 96, (136 - 64) * 64 / 96], atol=1e-3)
    assert s.joints_visible.all() and (s.joints2d_conf == 1).all()
    assert set(s.segmentation.unique().tolist()) == {0, 255} and s.person_mask.any()
    s3 = ds[2]  # image 3 -> sample 0 again (second version), mask of sample 0
    np.testing.assert_allclose(s3.joints2d.numpy(), s.joints2d.numpy())
    assert s3.has_person_mask and not ds[1].has_person_mask and not s.has_params


def test_corrupt_image_is_skipped(tmp_path: Path) -> None:
    ds = FreiHandDataset(_write(tmp_path, corrupt=True), crop=CropConfig(size=32))
    assert ds[1].index == 2 and ds.skipped["unreadable_image"] == 1


def test_missing_files_name_the_layout(tmp_path: Path) -> None:
    (tmp_path / "training" / "rgb").mkdir(parents=True)
    with pytest.raises(DatasetError, match="training_K.json"):
        FreiHandDataset(tmp_path)
    with pytest.raises(DatasetError, match=r"training/rgb/%08d.jpg"):
        FreiHandDataset(tmp_path / "missing")
