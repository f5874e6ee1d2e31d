"""COCO-WholeBody adapter on tiny fixture files written in the published layout."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from robosmplx_core.data.datasets.coco_wholebody import CocoWholeBodyDataset
from robosmplx_core.data.datasets.common import PARAM_FIELDS, DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.geometry.rotations import axis_angle_to_matrix
from robosmplx_core.nets.specs import part_spec

BODY = part_spec("body").joint_names
HAND = part_spec("hand").joint_names
CFG = CropConfig(size=64, scale=1.0)


def _annotation(ann_id: int, image_id: int, **overrides: object) -> dict:
    body = np.zeros((17, 3))
    body[9] = (40.0, 60.0, 2)  # left wrist, visible
    body[10] = (80.0, 60.0, 1)  # right wrist, labelled but occluded
    body[11], body[12] = (50.0, 70.0, 2), (70.0, 70.0, 2)  # hips
    body[0] = (999.0, 999.0, 0)  # nose unlabelled
    left = np.zeros((21, 3))
    left[0] = (41.0, 61.0, 2)
    left[4] = (36.0, 64.0, 2)  # thumb tip
    right = np.zeros((21, 3))
    right[0] = (79.0, 61.0, 2)
    ann = {
        "id": ann_id, "image_id": image_id, "iscrowd": 0, "category_id": 1, "bbox": [30.0, 20.0, 60.0, 80.0],
        "keypoints": body.reshape(-1).tolist(), "foot_kpts": [0.0] * 18, "face_kpts": [0.0] * 204,
        "lefthand_kpts": left.reshape(-1).tolist(), "righthand_kpts": right.reshape(-1).tolist(),
        "face_box": [55.0, 20.0, 10.0, 12.0], "lefthand_box": [32.0, 56.0, 12.0, 10.0],
        "righthand_box": [74.0, 56.0, 12.0, 10.0], "face_valid": True, "lefthand_valid": True,
        "righthand_valid": False, "foot_valid": False, "num_keypoints": 4,
    }  # fmt: skip
    ann.update(overrides)
    return ann


def _fit() -> dict:
    return {"smplx_param": {"root_pose": [0.1, 0.2, 0.3], "body_pose": [0.0] * 63, "lhand_pose": [0.05] * 45,
                            "rhand_pose": [0.0] * 45, "jaw_pose": [0.0] * 3, "shape": [0.5] * 10, "expr": [0.0] * 10,
                            "trans": [0.1, -0.2, 5.0]},
            "cam_param": {"focal": [500.0, 500.0], "princpt": [60.0, 50.0]}}


def _write(root: Path, *, corrupt_second: bool = False) -> Path:
    (root / "annotations").mkdir(parents=True)
    (root / "train2017").mkdir()
    image = np.zeros((120, 160, 3), np.uint8)
    image[60, 40] = (0, 0, 255)  # BGR red at the left wrist's pixel (r=60, c=40)
    cv2.imwrite(str(root / "train2017" / "a.png"), image)
    if corrupt_second:
        (root / "train2017" / "b.png").write_bytes(b"not an image")
    else:
        cv2.imwrite(str(root / "train2017" / "b.png"), image)
    anns = [
        _annotation(1, 10),
        _annotation(2, 11),
        _annotation(3, 10, iscrowd=1),
        _annotation(4, 99),  # unknown image
        _annotation(5, 10, face_kpts=[1.0, 2.0]),  # malformed
    ]
    data = {"images": [{"id": 10, "file_name": "a.png", "width": 160, "height": 120},
                       {"id": 11, "file_name": "b.png", "width": 160, "height": 120}], "annotations": anns}
    (root / "annotations" / "coco_wholebody_train_v1.0.json").write_text(json.dumps(data))
    (root / "annotations" / "MSCOCO_train_SMPLX.json").write_text(json.dumps({"1": _fit(), "2": _fit()}))
    return root


def test_body_keypoints_land_at_known_pixels_and_flags_map(tmp_path: Path) -> None:
    ds = CocoWholeBodyDataset(_write(tmp_path), crop=CFG)
    assert len(ds) == 2 and ds.skipped == {"crowd": 1, "unknown_image_id": 1, "malformed_keypoints": 1}
    s = ds[0]
    # bbox (30, 20, 60, 80) -> square side 80 at (60, 60): x0 = 20, y0 = 20, zoom 64 / 80
    lw = BODY.index("left_wrist")
    np.testing.assert_allclose(s.joints2d[lw].numpy(), [(40 - 20) * 0.8, (60 - 20) * 0.8], atol=1e-5)
    red = s.image[0]
    assert red.max() > 0 and abs(int(red.flatten().argmax()) % 64 - 16) <= 1  # the red pixel sits near u = 16
    assert s.joints2d_conf[lw] == 1 and s.joints2d_conf[BODY.index("right_wrist")] == 1  # occluded but labelled
    assert s.joints2d_conf[BODY.index("nose")] == 0 and not s.joints_visible[BODY.index("nose")]
    np.testing.assert_allclose(s.joints2d[BODY.index("pelvis")].numpy(), [32.0, 40.0], atol=1e-5)  # hip midpoint
    assert s.joints2d_conf[BODY.index("left_thumb")] == 1
    assert s.joints2d_conf[BODY.index("right_thumb")] == 0  # righthand_valid false
    assert s.joints2d_conf[BODY.index("left_big_toe")] == 0  # foot_valid false
    assert s.boxes_valid.tolist() == [True, False, True]
    np.testing.assert_allclose(s.left_hand_box_cxcys.numpy(), [(38 - 20) * 0.8, (61 - 20) * 0.8, 9.6], atol=1e-5)
    assert not s.has_params and not s.has_intrinsics


def test_neuralannot_fit_gives_params_and_crop_intrinsics(tmp_path: Path) -> None:
    root = _write(tmp_path)
    ds = CocoWholeBodyDataset(root, crop=CFG, smplx_file="annotations/MSCOCO_train_SMPLX.json")
    s = ds[0]
    valid = dict(zip(PARAM_FIELDS, s.params_valid.tolist()))
    assert valid["global_orient"] and valid["betas"] and valid["transl"] and valid["expression"]
    assert not valid["left_hand_pose"] and not valid["leye_pose"]  # no hand mean given -> not trusted
    torch.testing.assert_close(s.params.global_orient[0], axis_angle_to_matrix(torch.tensor([0.1, 0.2, 0.3])))
    torch.testing.assert_close(s.params.transl[0], torch.tensor([0.1, -0.2, 5.0]))
    # K: focal 500 * 0.8, principal point (60 - 20, 50 - 20) * 0.8
    np.testing.assert_allclose(s.K.numpy(), [[400, 0, 32], [0, 400, 24], [0, 0, 1]], atol=1e-4)
    mean = (np.full(45, 0.1), np.zeros(45))
    s2 = CocoWholeBodyDataset(root, crop=CFG, smplx_file="annotations/MSCOCO_train_SMPLX.json",
                              hands_mean_axis_angle=mean)[0]
    assert s2.params_valid[PARAM_FIELDS.index("left_hand_pose")]
    torch.testing.assert_close(s2.params.left_hand_pose[0, 0], axis_angle_to_matrix(torch.full((3,), 0.15)))


def test_hand_part_mirrors_left_hands_into_right_hands(tmp_path: Path) -> None:
    ds = CocoWholeBodyDataset(_write(tmp_path), part="hand", crop=CFG, smplx_file="annotations/MSCOCO_train_SMPLX.json")
    assert len(ds) == 2 and ds.skipped["no_valid_hand"] == 0  # both images: left hand only (right invalid)
    s = ds[0]
    assert s.flipped and s.joints2d.shape == (21, 2)
    # lefthand_box (32, 56, 12, 10) -> square side 12 at (38, 61); mirrored: u' = 64 - (u - 32) * 64 / 12
    z = 64 / 12
    np.testing.assert_allclose(s.joints2d[0].numpy(), [64 - (41 - 32) * z, (61 - 55) * z], atol=1e-4)
    assert HAND[4] == "right_thumb" and s.joints2d_conf[4] == 1 and s.joints2d_conf[1] == 0
    keep = [n for n, v in zip(PARAM_FIELDS, s.params_valid.tolist()) if v]
    assert keep == ["betas"]  # hand pose needs the hand mean; global pose is not mirrored
    assert s.K[0, 0] > 0


def test_corrupt_image_is_skipped_and_counted(tmp_path: Path) -> None:
    ds = CocoWholeBodyDataset(_write(tmp_path, corrupt_second=True), crop=CFG)
    s = ds[1]  # b.png is corrupt -> the next readable entry (wraps to 0)
    assert s.index == 0 and ds.skipped["unreadable_image"] == 1


def test_missing_folder_names_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="coco_wholebody_train_v1.0.json"):
        CocoWholeBodyDataset(tmp_path / "nowhere")
    (tmp_path / "train2017").mkdir()
    with pytest.raises(DatasetError, match="annotations/coco_wholebody_train_v1.0.json"):
        CocoWholeBodyDataset(tmp_path)
