"""Pseudo-label dataset adapter on hand-written folders, and the writer's labels read back."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
import yaml

from robosmplx_core.body_model.keypoint_sets import MEDIAPIPE_POSE_NAMES
from robosmplx_core.data.datasets.common import PARAM_FIELDS, DatasetError, collate_training_samples
from robosmplx_core.data.datasets.crop import CropConfig
from robosmplx_core.data.datasets.pseudolabel import LANDMARK_NAMES, PseudoLabelDataset
from robosmplx_core.data.pseudolabel import annotation_record, wholebody137
from robosmplx_core.estimate.landmarks import PersonLandmarks
from robosmplx_core.geometry.rotations import axis_angle_to_matrix
from robosmplx_core.nets.specs import part_spec
from robosmplx_core.types import Frame, PartConfidence, SMPLXParams

CFG = CropConfig(size=64, scale=1.0)
LW, RW = LANDMARK_NAMES.index("left_wrist"), LANDMARK_NAMES.index("right_wrist")
FITTED = ["global_orient", "body_pose", "betas", "transl", "left_hand_pose"]


def _record(image: str = "images/00_cam/000000.png", **overrides: object) -> dict:
    joints = np.zeros((137, 2))
    conf = np.zeros(137)
    joints[LW], conf[LW] = (40.0, 60.0), 0.9
    joints[RW], conf[RW] = (80.0, 60.0), 0.7
    left_hand = slice(LANDMARK_NAMES.index("left_thumb1"), LANDMARK_NAMES.index("left_pinky") + 1)
    joints[left_hand] = np.linspace([34.0, 62.0], [46.0, 70.0], 20)
    conf[left_hand] = 0.8
    rec = {
        "image": image, "source": "cam.mp4", "frame": 0, "stamp": 0.0, "image_size": [160, 120], "track_id": 3,
        "box_xyxy": [30.0, 20.0, 90.0, 100.0], "score": 0.9,
        "K": [[500.0, 0.0, 60.0], [0.0, 500.0, 50.0], [0.0, 0.0, 1.0]],
        "smplx": {"global_orient": [0.1, 0.2, 0.3], "body_pose": [[0.0, 0.0, 0.0]] * 21,
                  "left_hand_pose": [[0.0, 0.0, 0.2]] * 15, "right_hand_pose": [[0.0, 0.0, 0.0]] * 15,
                  "jaw_pose": [0.0, 0.0, 0.0], "leye_pose": [0.0, 0.0, 0.0], "reye_pose": [0.0, 0.0, 0.0],
                  "betas": [0.5] * 10, "expression": [0.0] * 10, "transl": [0.1, -0.2, 5.0]},
        "fitted": FITTED, "joints2d": joints.tolist(), "joints2d_conf": conf.tolist(),
        "left_hand_box_cxcys": [40.0, 66.0, 12.0], "right_hand_box_cxcys": None, "face_box_cxcys": None,
        "confidence": {"body": 0.8, "left_hand": 0.9, "right_hand": 0.0, "face": 0.0}, "reprojection_px": 1.5,
    }  # fmt: skip
    rec.update(overrides)
    return rec


def _write(root: Path, lines: list[str], *, version: int = 1) -> Path:
    (root / "images" / "00_cam").mkdir(parents=True)
    image = np.zeros((120, 160, 3), np.uint8)
    image[60, 40] = (0, 0, 255)  # BGR red at the left wrist's pixel (r=60, c=40)
    cv2.imwrite(str(root / "images" / "00_cam" / "000000.png"), image)
    (root / "dataset.yaml").write_text(yaml.safe_dump({"format": "robosmplx-pseudolabel", "version": version}))
    (root / "annotations.jsonl").write_text("".join(line + "\n" for line in lines))
    return root


def _bad_lines() -> list[str]:
    rec = _record()
    nan_joints = np.array(rec["joints2d"])
    nan_joints[5] = np.nan
    return [
        "{not json",
        json.dumps({k: v for k, v in rec.items() if k != "K"}),  # missing field
        json.dumps(_record(smplx={**rec["smplx"], "body_pose": [[0.0, 0.0, 0.0]] * 20})),  # 20 body joints
        json.dumps(_record(joints2d=json.loads(json.dumps(nan_joints.tolist())))),  # NaN pixel
        json.dumps(_record(image="/etc/passwd")),  # outside the dataset
        json.dumps(_record(confidence={"body": 0.1, "left_hand": 0.9})),  # below min_body_confidence
        json.dumps(_record(fitted=["transl", "wings"])),
    ]


def test_known_landmark_lands_at_the_known_crop_pixel(tmp_path: Path) -> None:
    ds = PseudoLabelDataset(_write(tmp_path, [json.dumps(_record())]), crop=CFG)
    assert len(ds) == 1 and not ds.skipped
    s = ds[0]
    # box (30, 20)-(90, 100): square side 80 around (60, 60): x0 = y0 = 20, zoom 64 / 80 = 0.8
    np.testing.assert_allclose(s.joints2d[LW].numpy(), [(40 - 20) * 0.8, (60 - 20) * 0.8], atol=1e-5)
    red = s.image[0]
    assert abs(int(red.flatten().argmax()) % 64 - 16) <= 1 and abs(int(red.flatten().argmax()) // 64 - 32) <= 1
    assert s.joints2d_conf[LW] == pytest.approx(0.9) and s.joints2d_conf[RW] == pytest.approx(0.7)
    assert s.joints_visible[LW] and not s.joints_visible[LANDMARK_NAMES.index("nose")]
    assert [n for n, v in zip(PARAM_FIELDS, s.params_valid.tolist()) if v] == [f for f in PARAM_FIELDS if f in FITTED]
    torch.testing.assert_close(s.params.global_orient[0], axis_angle_to_matrix(torch.tensor([0.1, 0.2, 0.3])))
    torch.testing.assert_close(s.params.transl[0], torch.tensor([0.1, -0.2, 5.0]))
    np.testing.assert_allclose(s.K.numpy(), [[400, 0, 32], [0, 400, 24], [0, 0, 1]], atol=1e-4)
    assert s.has_intrinsics and not s.has_joints3d and s.boxes_valid.tolist() == [True, False, False]
    np.testing.assert_allclose(s.left_hand_box_cxcys.numpy(), [16.0, 36.8, 9.6], atol=1e-5)
    assert collate_training_samples([s, ds[0]]).image.shape == (2, 3, 64, 64)


def test_bad_entries_are_skipped_and_counted(tmp_path: Path) -> None:
    missing = json.dumps(_record(image="images/00_cam/000099.png"))
    root = _write(tmp_path, [json.dumps(_record()), *_bad_lines(), missing])
    ds = PseudoLabelDataset(root, crop=CFG, min_body_confidence=0.5)
    assert len(ds) == 2
    assert ds.skipped == {"malformed_json": 1, "missing_field": 1, "malformed_smplx": 1, "malformed_joints2d": 1,
                          "malformed_image_path": 1, "low_confidence": 1, "malformed_fitted": 1}
    assert ds[1].index == 0 and ds.skipped["missing_image"] == 1  # the missing image -> the next readable entry
    assert len(PseudoLabelDataset(root, crop=CFG, max_reprojection_px=1.0)) == 0


def test_left_hand_is_mirrored_into_a_right_hand(tmp_path: Path) -> None:
    ds = PseudoLabelDataset(_write(tmp_path, [json.dumps(_record())]), part="hand", crop=CFG)
    assert len(ds) == 1 and ds.skipped == {}  # right hand absent (confidence 0): no crop, not an error
    s = ds[0]
    assert s.flipped and s.joints2d.shape == (part_spec("hand").num_joints, 2)
    # hand box (40, 66, 12): x0 = 34, y0 = 60, zoom 64 / 12; mirrored: u' = 64 - (u - 34) * zoom
    z = 64 / 12
    np.testing.assert_allclose(s.joints2d[0].numpy(), [64 - (40 - 34) * z, (60 - 60) * z], atol=1e-4)
    assert s.joints2d_conf[0] == pytest.approx(0.9) and s.joints2d_conf[1] == pytest.approx(0.8)
    assert [n for n, v in zip(PARAM_FIELDS, s.params_valid.tolist()) if v] == ["right_hand_pose", "betas"]
    m = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
    torch.testing.assert_close(s.params.right_hand_pose[0, 0], m @ axis_angle_to_matrix(torch.tensor([0, 0, 0.2])) @ m)
    face = PseudoLabelDataset(tmp_path, part="face", crop=CFG)
    assert len(face) == 0 and face.skipped == {"no_face": 1}


def test_missing_or_foreign_folders_name_the_layout(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="annotations.jsonl"):
        PseudoLabelDataset(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="dataset.yaml"):
        PseudoLabelDataset(tmp_path)
    root = _write(tmp_path / "old", [json.dumps(_record())], version=0)
    with pytest.raises(DatasetError, match="version 0"):
        PseudoLabelDataset(root)


def _landmarks() -> PersonLandmarks:
    pose = np.zeros((33, 2), np.float32)
    named = {"left_hip": (70, 80), "right_hip": (50, 80), "left_shoulder": (72, 40), "right_shoulder": (48, 40),
             "left_wrist": (40, 60), "left_eye_outer": (999, 999)}
    for name, uv in named.items():
        pose[MEDIAPIPE_POSE_NAMES.index(name)] = uv
    vis = np.full(33, 0.6, np.float32)
    vis[MEDIAPIPE_POSE_NAMES.index("left_wrist")] = 0.95
    face = np.tile(np.array([[61.0, 30.0, 0.0]], np.float32), (468, 1))
    face[263] = (66.0, 28.0, 0.0)  # the face mesh's left eye outer corner
    hand = np.tile(np.array([[40.0, 64.0, 0.0]], np.float32), (21, 1))
    return PersonLandmarks(pose_px=pose, pose_visibility=vis, pose_world_m=np.zeros((33, 3), np.float32),
                           left_hand_px=hand, face_px=face)


def test_writer_labels_read_back_through_the_adapter(tmp_path: Path) -> None:
    lms, conf = _landmarks(), PartConfidence(body=0.8, left_hand=0.9, right_hand=0.0, face=0.7)
    j2d, c = wholebody137(lms, conf)
    names = {n: i for i, n in enumerate(LANDMARK_NAMES)}
    np.testing.assert_allclose(j2d[names["pelvis"]], [60, 80])  # hip midpoint
    np.testing.assert_allclose(j2d[names["neck"]], [60, 40])  # shoulder midpoint
    assert c[names["left_wrist"]] == pytest.approx(0.95) and c[names["pelvis"]] == pytest.approx(0.6)
    np.testing.assert_allclose(j2d[names["left_eye1"]], [66, 28])  # the face mesh wins over the pose's corner
    assert c[names["left_eye1"]] == pytest.approx(0.7) and c[names["left_thumb"]] == pytest.approx(0.9)
    assert c[names["right_thumb"]] == 0 and c[names["jaw"]] == 0
    result = SimpleNamespace(params=SMPLXParams.from_axis_angle(global_orient=torch.tensor([[0.0, 0.5, 0.0]]),
                                                                transl=torch.tensor([[0.0, 0.0, 4.0]])),
                             confidence=conf, reprojection_px=2.0)
    K = np.array([[500.0, 0.0, 80.0], [0.0, 500.0, 60.0], [0.0, 0.0, 1.0]])
    frame = Frame(np.zeros((120, 160, 3), np.uint8), stamp_s=0.5, index=7)
    rec = annotation_record(image="images/00_cam/000000.png", source="cam.mp4", frame=frame, K=K, track_id=2,
                            box_xyxy=np.array([30.0, 20.0, 90.0, 100.0]), score=0.9, landmarks=lms, result=result)
    assert rec["fitted"] == ["global_orient", "body_pose", "betas", "transl", "left_hand_pose", "jaw_pose",
                             "expression"]
    assert rec["right_hand_box_cxcys"] is None and rec["face_box_cxcys"] is not None
    np.testing.assert_allclose(rec["smplx"]["global_orient"], [0.0, 0.5, 0.0], atol=1e-5)
    s = PseudoLabelDataset(_write(tmp_path, [json.dumps(rec)]), crop=CFG)[0]
    np.testing.assert_allclose(s.joints2d[names["left_wrist"]].numpy(), [16.0, 32.0], atol=1e-4)
    np.testing.assert_allclose(s.K.numpy(), [[400, 0, 48], [0, 400, 32], [0, 0, 1]], atol=1e-4)
    assert s.params_valid[PARAM_FIELDS.index("jaw_pose")] and not s.params_valid[PARAM_FIELDS.index("leye_pose")]
