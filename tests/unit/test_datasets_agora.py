"""AGORA adapter on tiny fixture files in the COCO-style export of the AGORA dataframes."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from robosmplx_core.body_model.joints import SMPLX_127_NAMES
from robosmplx_core.data.datasets.agora import AgoraDataset, agora_intrinsics
from robosmplx_core.data.datasets.common import PARAM_FIELDS, DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.geometry.rotations import axis_angle_to_matrix
from robosmplx_core.nets.specs import part_spec

BODY = part_spec("body").joint_names
IMG = "ag_validationset_renderpeople_bfh_archviz_5_10_cam02_00001.png"  # a "cam02" image: 18 mm lens
K4K = np.array([[1920.0, 0.0, 1920.0], [0.0, 1920.0, 1080.0], [0.0, 0.0, 1.0]])  # 18 / 36 * 3840, 18 / 20.25 * 2160
LW = SMPLX_127_NAMES.index("left_wrist")
CFG = dict(resolution="1280x720")


def _joints3d(seed: int) -> np.ndarray:
    """127 camera-frame joints projecting into x 1500..2400, y 600..1800 of the 4K image;
    the left wrist projects to (2100, 1500)."""
    rng = np.random.default_rng(seed)
    uv = rng.uniform((1550.0, 650.0), (2350.0, 1750.0), (127, 2))
    uv[LW] = (2100.0, 1500.0)
    z = rng.uniform(4.0, 6.0, 127)
    return np.stack([(uv[:, 0] - 1920.0) * z / 1920.0, (uv[:, 1] - 1080.0) * z / 1920.0, z], axis=1)


def _project(xyz: np.ndarray) -> np.ndarray:
    uvw = xyz @ K4K.T
    return uvw[:, :2] / uvw[:, 2:]


def _fit(betas: int) -> dict:
    body = np.zeros((1, 63))
    body[0, :3] = (0.2, 0.0, 0.0)
    return {"global_orient": np.array([[0.0, 3.0, 0.0]]), "body_pose": body, "betas": np.full((1, betas), 0.5),
            "left_hand_pose": np.full((1, 45), 0.05), "right_hand_pose": np.zeros((1, 45)),
            "jaw_pose": np.array([[0.1, 0.0, 0.0]]), "leye_pose": np.zeros((1, 3)), "reye_pose": np.zeros((1, 3)),
            "expression": np.full((1, 10), 0.3), "transl": np.array([[1.0, 0.2, -3.0]]), "gender": "female"}


class _Exploit:
    def __reduce__(self):  # would run a shell command if unpickled unsafely
        return (os.system, ("echo pwned",))


def _ann(ann_id: int, image_id: int, **overrides: object) -> dict:
    ann = {"id": ann_id, "image_id": image_id, "smplx_joints_2d_path": f"gt_joints_2d/smplx/{ann_id}.json",
           "smplx_joints_3d_path": f"gt_joints_3d/smplx/{ann_id}.json", "smplx_param_path": f"smplx_gt/p{ann_id}.pkl",
           "gender": "female", "kid": False, "occlusion": 10.0, "is_valid": True,
           "bbox": [1500.0, 600.0, 900.0, 1200.0], "lhand_bbox": [2040.0, 1440.0, 120.0, 150.0],
           "rhand_bbox": [1560.0, 1440.0, 120.0, 150.0], "face_bbox": [1900.0, 650.0, 150.0, 180.0]}
    ann.update(overrides)
    return ann


def _write(root: Path, *, corrupt_second: bool = False) -> Path:
    for folder in ("gt_joints_2d/smplx", "gt_joints_3d/smplx", "smplx_gt", "1280x720/validation"):
        (root / folder).mkdir(parents=True)
    anns = [_ann(0, 0), _ann(1, 0, kid=True), _ann(2, 1), _ann(3, 0, is_valid=False), _ann(4, 9),
            _ann(5, 0, smplx_joints_2d_path=None)]
    for ann in anns[:3]:
        xyz = _joints3d(ann["id"])
        (root / ann["smplx_joints_3d_path"]).write_text(json.dumps(xyz.tolist()))
        (root / ann["smplx_joints_2d_path"]).write_text(json.dumps(_project(xyz).tolist()))
    (root / "smplx_gt/p0.pkl").write_bytes(pickle.dumps(_fit(10), protocol=2))
    (root / "smplx_gt/p1.pkl").write_bytes(pickle.dumps(_fit(11)))  # kid: 11 betas
    (root / "smplx_gt/p2.pkl").write_bytes(pickle.dumps({"body_pose": _Exploit()}))
    names = [IMG, IMG.replace("00001", "00002")]
    images = [{"id": i, "file_name_3840x2160": f"3840x2160/validation/{n}",
               "file_name_1280x720": f"1280x720/validation/{n[:-4]}_1280x720.png"} for i, n in enumerate(names)]
    (root / "AGORA_validation.json").write_text(json.dumps({"images": images, "annotations": anns}))
    image = np.zeros((720, 1280, 3), np.uint8)
    image[496:505, 696:705] = (0, 0, 255)  # BGR red around the left wrist's 720p pixel (700, 500)
    for img in images:
        cv2.imwrite(str(root / img["file_name_1280x720"]), image)
    if corrupt_second:
        (root / images[1]["file_name_1280x720"]).write_bytes(b"\x89PNG broken")
    return root


def test_intrinsics_follow_the_published_lens_table() -> None:
    np.testing.assert_allclose(agora_intrinsics(IMG, 3840, 2160), K4K)
    np.testing.assert_allclose(agora_intrinsics("x_hdri_50mm_00001.png", 1280, 720)[:2, :2],
                               np.diag([50 / 36 * 1280, 50 / 20.25 * 720]))
    assert agora_intrinsics("ag_trainset_3dpeople_bfh_flowers_0_5_00001.png", 1280, 720)[0, 0] == pytest.approx(
        28 / 36 * 1280)


def test_body_joints_land_at_known_crop_pixels(tmp_path: Path) -> None:
    ds = AgoraDataset(_write(tmp_path), crop=CropConfig(size=64, scale=1.0), **CFG)
    assert len(ds) == 3 and ds.skipped == {"invalid_person": 1, "unknown_image_id": 1, "malformed_annotation": 1}
    s = ds[0]
    lw = BODY.index("left_wrist")
    # bbox (1500, 600, 900, 1200) / 3 = (500, 200, 300, 400): side 400 at (650, 400), x0 = 450, y0 = 200
    np.testing.assert_allclose(s.joints2d[lw].numpy(), [40.0, 48.0], atol=1e-3)
    np.testing.assert_allclose(s.joints3d[lw].numpy(), _joints3d(0)[LW], atol=1e-5)
    np.testing.assert_allclose(s.pelvis3d.numpy(), _joints3d(0)[0], atol=1e-5)
    assert s.has_pelvis3d and s.has_intrinsics and s.joints2d_conf.sum() == 120  # 137 minus 17 contour points
    uvw = s.joints3d.numpy()[s.joints3d_conf.numpy() > 0] @ s.K.numpy().T
    np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], s.joints2d.numpy()[s.joints3d_conf.numpy() > 0], atol=1e-3)
    np.testing.assert_allclose(s.left_hand_box_cxcys.numpy(), [(700 - 450) * 0.16, (505 - 200) * 0.16, 8.0],
                               atol=1e-4)
    assert s.boxes_valid.all()
    red = int(s.image[0].flatten().argmax())
    assert abs(red % 64 - 40) <= 1 and abs(red // 64 - 48) <= 1


def test_fit_params_are_read_safely_with_honest_validity(tmp_path: Path) -> None:
    root = _write(tmp_path)
    ds = AgoraDataset(root, **CFG)
    adult, kid, refused = ds[0], ds[1], ds[2]
    valid = {n for n, v in zip(PARAM_FIELDS, adult.params_valid.tolist()) if v}
    assert valid == {"body_pose", "jaw_pose", "leye_pose", "reye_pose", "expression", "betas"}
    torch.testing.assert_close(adult.params.body_pose[0, 0], axis_angle_to_matrix(torch.tensor([0.2, 0.0, 0.0])))
    torch.testing.assert_close(adult.params.betas[0], torch.full((10,), 0.5))
    assert not kid.params_valid[PARAM_FIELDS.index("betas")] and kid.params_valid[PARAM_FIELDS.index("body_pose")]
    assert not refused.params_valid.any() and ds.skipped["unsafe_smplx_fit"] == 1
    mean = (np.full(45, 0.1), np.zeros(45))
    s = AgoraDataset(root, hands_mean_axis_angle=mean, **CFG)[0]
    assert s.params_valid[PARAM_FIELDS.index("left_hand_pose")]
    torch.testing.assert_close(s.params.left_hand_pose[0, 0], axis_angle_to_matrix(torch.full((3,), 0.15)))


def test_hand_part_mirrors_left_hands(tmp_path: Path) -> None:
    ds = AgoraDataset(_write(tmp_path), part="hand", crop=CropConfig(size=64, scale=1.0),
                      hands_mean_axis_angle=(np.zeros(45), np.zeros(45)), **CFG)
    assert len(ds) == 6  # right and left hand of the 3 valid people
    s = ds[1]
    assert s.flipped and s.joints2d.shape == (21, 2)
    # lhand_bbox / 3 = (680, 480, 40, 50): side 50 at (700, 505), x0 = 675, y0 = 480, zoom 64 / 50, mirrored
    np.testing.assert_allclose(s.joints2d[0].numpy(), [64 - 25 * 1.28, 20 * 1.28], atol=1e-3)
    np.testing.assert_allclose(s.joints3d[0].numpy(), _joints3d(0)[LW] * [-1.0, 1.0, 1.0], atol=1e-5)
    assert [n for n, v in zip(PARAM_FIELDS, s.params_valid.tolist()) if v] == ["right_hand_pose", "betas"]
    m = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    torch.testing.assert_close(s.params.right_hand_pose[0, 0], m @ axis_angle_to_matrix(torch.full((3,), 0.05)) @ m)
    assert not ds[0].flipped and not ds[0].params_valid[PARAM_FIELDS.index("global_orient")]


def test_corrupt_image_and_missing_joint_files_are_skipped(tmp_path: Path) -> None:
    root = _write(tmp_path, corrupt_second=True)
    ds = AgoraDataset(root, **CFG)
    assert ds[2].index == 0 and ds.skipped["unreadable_image"] == 1
    (root / "gt_joints_3d/smplx/1.json").unlink()
    assert ds[1].index == 0 and ds.skipped["missing_joints"] == 1


def test_missing_files_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"gt_joints_3d/smplx/<ann_id>.json"):
        AgoraDataset(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"AGORA_validation.json not found"):
        AgoraDataset(tmp_path)
    (tmp_path / "AGORA_validation.json").write_text(json.dumps({"images": {}}))
    with pytest.raises(DatasetError, match="agora2coco"):
        AgoraDataset(tmp_path)
