"""InterHand2.6M adapter on tiny fixture files written in the published (v1.0) layout."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from robosmplx_core.data.datasets.common import DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.interhand import INTERHAND_RIGHT_TO_SMPLX_NAMES, InterHandDataset
from robosmplx_core.nets.specs import part_spec

HAND = part_spec("hand").joint_names
A = math.radians(20.0)
CAMROT = np.array([[1.0, 0.0, 0.0], [0.0, math.cos(A), -math.sin(A)], [0.0, math.sin(A), math.cos(A)]])
CAMPOS_MM = np.array([100.0, -50.0, -800.0])
F, C = (1200.0, 1210.0), (160.0, 240.0)
CFG = CropConfig(size=64, scale=1.5)
FILES = [f"Capture0/0000_neutral_relaxed/cam400262/image{i:04d}.jpg" for i in (10, 20, 30)]


def _hand_cam(uv_lo: tuple[float, float], uv_hi: tuple[float, float], wrist_uv: tuple[float, float],
              seed: int) -> np.ndarray:
    """21 joints (InterHand order) in camera metres whose pixels span the box [uv_lo, uv_hi];
    joint 0 (thumb tip) at uv_lo, joint 16 (pinky tip) at uv_hi, joint 20 at ``wrist_uv``."""
    rng = np.random.default_rng(seed)
    uv = rng.uniform(np.add(uv_lo, 5), np.subtract(uv_hi, 5), (21, 2))
    uv[0], uv[16], uv[20] = uv_lo, uv_hi, wrist_uv
    z = rng.uniform(0.45, 0.55, 21)
    return np.stack([(uv[:, 0] - C[0]) * z / F[0], (uv[:, 1] - C[1]) * z / F[1], z], axis=1)


def _world(cam_m: np.ndarray) -> np.ndarray:
    return cam_m * 1000.0 @ CAMROT + CAMPOS_MM  # inverse of camrot @ (X - campos)


RIGHT = _hand_cam((100.0, 200.0), (196.0, 296.0), (148.0, 290.0), seed=1)
LEFT = _hand_cam((120.0, 220.0), (180.0, 280.0), (150.0, 250.0), seed=2)


def _valid(right: bool, left: bool) -> list:
    return [[int(right)]] * 21 + [[int(left)]] * 21


def _write(root: Path, *, corrupt_second: bool = False) -> Path:
    ann_dir, img_dir = root / "annotations" / "train", root / "images" / "train"
    ann_dir.mkdir(parents=True)
    (img_dir / Path(FILES[0]).parent).mkdir(parents=True)
    images = [{"id": i, "file_name": name, "width": 334, "height": 512, "capture": 0, "subject": 0,
               "seq_name": "0000_neutral_relaxed", "camera": "400262", "frame_idx": 10 * (i + 1)}
              for i, name in enumerate(FILES)]
    images.append({"id": 3, "file_name": FILES[0], "capture": 0, "camera": "400262", "frame_idx": 99})
    ring_tip_invalid = _valid(True, False)
    ring_tip_invalid[12] = [0]
    interacting = _valid(True, True)
    interacting[41] = [0]  # left wrist invalid -> the whole left hand is
    anns = [
        {"id": 0, "image_id": 0, "bbox": [90, 190, 120, 120], "joint_valid": ring_tip_invalid, "hand_type": "right",
         "hand_type_valid": 1},
        {"id": 1, "image_id": 1, "bbox": [110, 210, 80, 80], "joint_valid": _valid(False, True), "hand_type": "left",
         "hand_type_valid": 1},
        {"id": 2, "image_id": 2, "bbox": [90, 190, 120, 120], "joint_valid": interacting,
         "hand_type": "interacting", "hand_type_valid": 1},
        {"id": 3, "image_id": 77, "bbox": [0, 0, 1, 1], "joint_valid": _valid(True, True), "hand_type": "right"},
        {"id": 4, "image_id": 0, "bbox": [0, 0, 1, 1], "joint_valid": [[1]] * 5, "hand_type": "right"},
        {"id": 5, "image_id": 3, "bbox": [0, 0, 1, 1], "joint_valid": _valid(True, True), "hand_type": "right"},
    ]
    both = _world(np.concatenate([RIGHT, LEFT])).tolist()
    joints = {"0": {"10": {"world_coord": both, "joint_valid": _valid(True, True), "hand_type": "right"},
                    "20": both,  # the first release's bare 42 x 3 list
                    "30": {"world_coord": both}}}
    cameras = {"0": {"campos": {"400262": CAMPOS_MM.tolist()}, "camrot": {"400262": CAMROT.tolist()},
                     "focal": {"400262": list(F)}, "princpt": {"400262": list(C)}}}
    for kind, obj in (("data", {"images": images, "annotations": anns}), ("camera", cameras), ("joint_3d", joints)):
        (ann_dir / f"InterHand2.6M_train_{kind}.json").write_text(json.dumps(obj))
    image = np.zeros((512, 334, 3), np.uint8)
    image[288:293, 146:151] = (0, 0, 255)  # BGR red around the right wrist's pixel (148, 290)
    for name in FILES:
        cv2.imwrite(str(img_dir / name), image)
    if corrupt_second:
        (img_dir / FILES[1]).write_bytes(b"\xff\xd8 truncated")
    return root


def test_joint_order_maps_tip_first_to_the_hand_spec() -> None:
    assert INTERHAND_RIGHT_TO_SMPLX_NAMES[0] == "right_thumb" and INTERHAND_RIGHT_TO_SMPLX_NAMES[3] == "right_thumb1"
    assert INTERHAND_RIGHT_TO_SMPLX_NAMES[16:] == ("right_pinky", "right_pinky3", "right_pinky2", "right_pinky1",
                                                   "right_wrist")
    assert sorted(INTERHAND_RIGHT_TO_SMPLX_NAMES) == sorted(HAND)


def test_right_hand_joints_land_at_known_crop_pixels(tmp_path: Path) -> None:
    ds = InterHandDataset(_write(tmp_path), crop=CFG)
    assert len(ds) == 3
    assert ds.skipped == {"too_few_valid_joints": 1, "unknown_image_id": 1, "malformed_annotation": 1,
                          "missing_joint_3d": 1}
    s = ds[0]
    assert s.part == "hand" and not s.flipped and s.has_joints3d and s.has_intrinsics and not s.has_params
    # box (100, 200)-(196, 296): side 96 * 1.5 = 144 at (148, 248) -> x0 = 76, y0 = 176, zoom 64 / 144
    z = 64 / 144
    np.testing.assert_allclose(s.joints2d[0].numpy(), [(148 - 76) * z, (290 - 176) * z], atol=1e-3)  # wrist
    np.testing.assert_allclose(s.joints2d[HAND.index("right_thumb")].numpy(), [24 * z, 24 * z], atol=1e-3)
    np.testing.assert_allclose(s.joints3d[0].numpy(), RIGHT[20], atol=1e-5)
    np.testing.assert_allclose(s.joints3d[HAND.index("right_index1")].numpy(), RIGHT[7], atol=1e-5)
    ring = HAND.index("right_ring")  # InterHand joint 12, marked invalid
    assert s.joints2d_conf[ring] == 0 and s.joints3d_conf[ring] == 0 and s.joints2d_conf.sum() == 20
    red = s.image[0].flatten().argmax()
    assert abs(int(red) % 64 - 32) <= 1 and abs(int(red) // 64 - 51) <= 1
    uvw = s.joints3d.numpy() @ s.K.numpy().T
    np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], s.joints2d.numpy(), atol=1e-3)


def test_left_hand_is_mirrored_into_a_right_hand(tmp_path: Path) -> None:
    s = InterHandDataset(_write(tmp_path), crop=CFG)[1]
    assert s.flipped
    # box (120, 220)-(180, 280): side 90 at (150, 250); mirrored u' = 64 - (u - 105) * 64 / 90
    np.testing.assert_allclose(s.joints2d[0].numpy(), [32.0, 32.0], atol=1e-3)
    np.testing.assert_allclose(s.joints3d[0].numpy(), LEFT[20] * [-1.0, 1.0, 1.0], atol=1e-5)
    np.testing.assert_allclose(s.joints3d[HAND.index("right_thumb")].numpy(), LEFT[0] * [-1.0, 1.0, 1.0], atol=1e-5)
    uvw = s.joints3d.numpy() @ s.K.numpy().T
    np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], s.joints2d.numpy(), atol=1e-3)
    assert s.K[0, 0] > 0 and (s.joints2d_conf == 1).all()


def test_corrupt_image_is_skipped_and_counted(tmp_path: Path) -> None:
    ds = InterHandDataset(_write(tmp_path, corrupt_second=True), crop=CFG)
    assert ds[1].index == 2 and ds.skipped["unreadable_image"] == 1


def test_missing_folders_and_files_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"images/<split>/<file_name from the data json>"):
        InterHandDataset(tmp_path / "nowhere")
    _write(tmp_path)
    (tmp_path / "annotations" / "train" / "InterHand2.6M_train_camera.json").unlink()
    with pytest.raises(DatasetError, match=r"InterHand2.6M_<split>_camera.json"):
        InterHandDataset(tmp_path)
    with pytest.raises(DatasetError, match="val images"):
        InterHandDataset(tmp_path, split="val")
