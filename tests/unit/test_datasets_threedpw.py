"""3DPW adapter on tiny sequence pickles and images written in the published layout."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from robosmplx_core.data.datasets.common import PARAM_FIELDS, DatasetError
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.threedpw import ThreeDPWDataset
from robosmplx_core.geometry.rotations import axis_angle_to_matrix
from robosmplx_core.nets.specs import part_spec

BODY = part_spec("body").joint_names
R_CAM = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # 90 degrees about y
T_CAM = np.array([0.1, -0.2, 4.0])
K = np.array([[1000.0, 0.0, 500.0], [0.0, 1000.0, 400.0], [0.0, 0.0, 1.0]])
CFG = CropConfig(size=64, scale=1.0)


def _joints_cam() -> np.ndarray:
    """24 SMPL joints in the camera: projections span u in [300, 700], v in [200, 600]."""
    rng = np.random.default_rng(0)
    z = rng.uniform(3.5, 4.5, 24)
    cam = np.stack([rng.uniform(-0.15, 0.15, 24) * z, rng.uniform(-0.15, 0.15, 24) * z, z], axis=1)
    cam[3] = (-0.8, -0.8, 4.0)  # spine1 -> pixel (300, 200)
    cam[9] = (0.8, 0.8, 4.0)  # spine3 -> pixel (700, 600)
    cam[20] = (0.5, 0.25, 5.0)  # left wrist -> pixel (600, 450)
    return cam


class _Exploit:
    def __reduce__(self):  # would run a shell command if unpickled unsafely
        return (os.system, ("echo pwned",))


def _sequence(n: int = 3) -> dict:
    world = (_joints_cam() - T_CAM) @ R_CAM  # R^T (X_cam - t), row vectors
    poses = np.zeros((n, 72))
    poses[:, :3] = (0.0, 0.0, 0.3)  # global orient (world frame)
    poses[:, 3:6] = (0.1, 0.0, 0.0)  # left hip
    poses[:, 66:69] = (1.0, 1.0, 1.0)  # SMPL joint 22 (left hand): not an SMPL-X body joint
    poses2d = np.zeros((n, 3, 18))
    poses2d[:, :, 0] = (520.0, 230.0, 0.8)  # nose detected
    poses2d[:, :, 17] = (0.0, 0.0, 0.0)  # left ear not detected: must not widen the box
    cam_poses = np.tile(np.eye(4), (n, 1, 1))
    cam_poses[:, :3, :3], cam_poses[:, :3, 3] = R_CAM, T_CAM
    return {"sequence": "courtyard_test_00", "cam_intrinsics": K, "cam_poses": cam_poses, "poses": [poses],
            "betas": [np.full(10, 0.5)], "trans": [np.zeros((n, 3))],
            "jointPositions": [np.tile(world.reshape(72), (n, 1))],
            "poses2d": [poses2d], "campose_valid": [np.array([True, False, True])], "genders": ["f"],
            "img_frame_ids": np.arange(n) * 2}


def _write(root: Path, *, corrupt_frame2: bool = False) -> Path:
    seq_dir, img_dir = root / "sequenceFiles" / "test", root / "imageFiles" / "courtyard_test_00"
    seq_dir.mkdir(parents=True)
    img_dir.mkdir(parents=True)
    (seq_dir / "courtyard_test_00.pkl").write_bytes(pickle.dumps(_sequence(), protocol=2))
    bad = _sequence()
    bad["poses"] = [np.zeros((3, 10))]
    (seq_dir / "courtyard_bad_00.pkl").write_bytes(pickle.dumps(bad, protocol=2))
    (seq_dir / "courtyard_evil_00.pkl").write_bytes(pickle.dumps({"poses": _Exploit()}))
    image = np.zeros((800, 1000, 3), np.uint8)
    image[446:455, 596:605] = (0, 0, 255)  # BGR red around the left wrist's pixel (600, 450)
    for i in range(3):
        cv2.imwrite(str(img_dir / f"image_{i:05d}.jpg"), image)
    if corrupt_frame2:
        (img_dir / "image_00002.jpg").write_bytes(b"\xff\xd8 truncated")
    return root


def test_joints_land_at_known_crop_pixels_in_the_camera_frame(tmp_path: Path) -> None:
    ds = ThreeDPWDataset(_write(tmp_path), split="test", crop=CFG)
    assert len(ds) == 2 and ds.skipped == {"invalid_campose": 1, "malformed_sequence": 1, "unsafe_pickle": 1}
    s = ds[0]
    lw, nose = BODY.index("left_wrist"), BODY.index("nose")
    # box of the projections (300, 200)-(700, 600): side 400, x0 = 300, y0 = 200, zoom 64 / 400
    np.testing.assert_allclose(s.joints2d[lw].numpy(), [48.0, 40.0], atol=1e-4)
    np.testing.assert_allclose(s.joints3d[lw].numpy(), [0.5, 0.25, 5.0], atol=1e-5)
    np.testing.assert_allclose(s.joints3d[BODY.index("pelvis")].numpy(), _joints_cam()[0], atol=1e-5)
    np.testing.assert_allclose(s.joints2d[nose].numpy(), [220 * 0.16, 30 * 0.16], atol=1e-4)
    assert s.joints2d_conf[nose] == pytest.approx(0.8) and s.joints3d_conf[nose] == 0
    assert s.joints2d_conf[BODY.index("left_ear")] == 0 and s.joints2d_conf[BODY.index("left_thumb")] == 0
    red = s.image[0]
    assert abs(int(red.flatten().argmax()) % 64 - 48) <= 1 and abs(int(red.flatten().argmax()) // 64 - 40) <= 1
    labelled = s.joints3d_conf.numpy() > 0
    assert labelled.sum() == 15  # pelvis, neck, head + hips, knees, ankles, shoulders, elbows, wrists
    uvw = s.joints3d.numpy()[labelled] @ s.K.numpy().T
    np.testing.assert_allclose(uvw[:, :2] / uvw[:, 2:], s.joints2d.numpy()[labelled], atol=1e-3)
    assert s.has_joints3d and s.has_intrinsics and not s.has_pelvis3d


def test_smpl_pose_moves_into_the_camera_and_betas_are_invalid(tmp_path: Path) -> None:
    s = ThreeDPWDataset(_write(tmp_path), split="test", crop=CFG)[0]
    valid = {n for n, v in zip(PARAM_FIELDS, s.params_valid.tolist()) if v}
    assert valid == {"global_orient", "body_pose"}  # SMPL betas / trans are not SMPL-X's
    expected = torch.as_tensor(R_CAM, dtype=torch.float32) @ axis_angle_to_matrix(torch.tensor([0.0, 0.0, 0.3]))
    torch.testing.assert_close(s.params.global_orient[0], expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(s.params.body_pose[0, 0], axis_angle_to_matrix(torch.tensor([0.1, 0.0, 0.0])))
    assert s.params.body_pose.shape == (1, 21, 3, 3)
    torch.testing.assert_close(s.params.body_pose[0, 1:], torch.eye(3).expand(20, 3, 3))


def test_corrupt_image_is_skipped_and_counted(tmp_path: Path) -> None:
    ds = ThreeDPWDataset(_write(tmp_path, corrupt_frame2=True), split="test", crop=CFG)
    assert ds[1].index == 0 and ds.skipped["unreadable_image"] == 1


def test_missing_folders_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"sequenceFiles/<split>/<sequence>.pkl"):
        ThreeDPWDataset(tmp_path / "nowhere")
    (tmp_path / "imageFiles").mkdir()
    with pytest.raises(DatasetError, match=r"(?s)3DPW validation sequences.*imageFiles/<sequence>/image_%05d.jpg"):
        ThreeDPWDataset(tmp_path, split="validation")
    (tmp_path / "sequenceFiles" / "validation").mkdir(parents=True)
    with pytest.raises(DatasetError, match="no .pkl files"):
        ThreeDPWDataset(tmp_path, split="validation")
