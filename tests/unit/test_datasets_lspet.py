"""LSPET adapter on a tiny ``joints.mat`` (14 x 3 x N) and images written in the published layout."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

from robosmplx_core.data.datasets.common import DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.lspet import LSP_JOINT_NAMES, LSPETDataset
from robosmplx_core.nets.specs import part_spec

BODY = part_spec("body").joint_names


def _person() -> np.ndarray:
    """(14, 3) x, y, visible in LSP order."""
    j = np.zeros((14, 3))
    for name, xy in (("right_ankle", (20.0, 74.0)), ("left_ankle", (60.0, 74.0)), ("head_top", (40.0, 10.0)),
                     ("left_wrist", (40.5, 60.5)), ("neck", (40.0, 20.0)), ("left_hip", (45.0, 50.0))):
        j[LSP_JOINT_NAMES.index(name)] = (*xy, 1.0)
    j[LSP_JOINT_NAMES.index("right_wrist")] = (-20.0, 0.0, 0.0)  # not visible: junk outside the image
    return j


def _write(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    image = np.zeros((96, 128, 3), np.uint8)
    image[59:62, 39:42] = (0, 0, 255)  # BGR red block centred on pixel (r=60, c=40): continuous (40.5, 60.5)
    for i in (1, 2, 4):
        cv2.imwrite(str(root / "images" / f"im{i:05d}.jpg"), image)
    (root / "images" / "im00003.jpg").write_bytes(b"\xff\xd8 truncated")
    bad = _person()
    bad[0, :2] = np.nan  # a visible joint without coordinates
    shifted = _person()
    shifted[:, 0] += 10.0 * shifted[:, 2]
    hidden = _person()
    hidden[:, 2] = 0.0  # nothing visible
    joints = np.stack([_person(), bad, shifted, hidden, _person()], axis=2)  # (14, 3, 5); im00005 is missing
    scipy.io.savemat(str(root / "joints.mat"), {"joints": joints})
    return root


def test_joints_land_at_known_crop_pixels(tmp_path: Path) -> None:
    ds = LSPETDataset(_write(tmp_path), crop=CropConfig(size=64, scale=1.0))
    assert ds.entries == [0, 2, 4] and ds.skipped == {"malformed_annotation": 1, "tiny_box": 1}
    s = ds[0]
    # visible joints: x 20..60, y 10..74 -> square side 64 at (40, 42): x0 = 8, y0 = 10, zoom 1
    lw = BODY.index("left_wrist")
    np.testing.assert_allclose(s.joints2d[lw].numpy(), [32.5, 50.5], atol=1e-5)
    np.testing.assert_allclose(s.joints2d[BODY.index("left_hip")].numpy(), [37.0, 40.0], atol=1e-5)
    redness = (s.image[0] - s.image[1]).numpy()
    r, c = np.unravel_index(int(redness.argmax()), redness.shape)
    assert abs(c + 0.5 - 32.5) <= 1 and abs(r + 0.5 - 50.5) <= 1  # the red block lies under the label
    labelled = {BODY[j] for j in np.flatnonzero(s.joints2d_conf.numpy() > 0)}
    assert labelled == {"right_ankle", "left_ankle", "left_wrist", "left_hip"}  # neck / head top dropped
    assert s.joints2d_conf[BODY.index("right_wrist")] == 0 and not s.joints_visible[BODY.index("right_wrist")]
    assert s.joints2d_conf[BODY.index("pelvis")] == 0  # not made from the hips
    assert not s.has_intrinsics and not s.has_joints3d and not s.has_params and s.source == "lspet"


def test_corrupt_and_missing_images_are_skipped_and_counted(tmp_path: Path) -> None:
    ds = LSPETDataset(_write(tmp_path), crop=CropConfig(size=32))
    assert ds[1].index == 0  # im00003 corrupt, im00005 missing -> wraps to im00001
    assert ds.skipped["unreadable_image"] == 1 and ds.skipped["missing_image"] == 1


def test_missing_or_wrong_files_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"images/im%05d.jpg"):
        LSPETDataset(tmp_path / "nowhere")
    (tmp_path / "images").mkdir()
    with pytest.raises(DatasetError, match="joints.mat"):
        LSPETDataset(tmp_path)
    scipy.io.savemat(str(tmp_path / "joints.mat"), {"joints": np.zeros((3, 14, 2))})  # LSP's layout, not LSPET's
    with pytest.raises(DatasetError, match="14 x 3 x N"):
        LSPETDataset(tmp_path)
