"""TrainingSample, collate, from_synthetic, keypoint mapping and the shared crop transform."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from robosmplx_core.data.datasets.common import (
    PARAM_FIELDS, TrainingSample, collate_training_samples, from_synthetic, keypoints_to_spec,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.data.synthetic import SyntheticSample
from robosmplx_core.nets.specs import part_spec
from robosmplx_core.types import SMPLXParams


def _project(xyz: np.ndarray, K: np.ndarray) -> np.ndarray:
    uvw = xyz @ K.T
    return uvw[:, :2] / uvw[:, 2:]


def test_crop_maps_known_points_box_and_scale() -> None:
    crop = CropTransform.from_box_xywh([100, 50, 40, 80], CropConfig(size=64, scale=1.25))
    assert crop.box_cxcys == (120.0, 90.0, 100.0)
    assert crop.zoom == pytest.approx(0.64)
    np.testing.assert_allclose(crop.points(np.array([[120.0, 90.0], [70.0, 40.0], [170.0, 140.0]])),
                               [[32, 32], [0, 0], [64, 64]])
    flipped = CropTransform(box_cxcys=crop.box_cxcys, size=64, flip=True)
    np.testing.assert_allclose(flipped.points(np.array([[70.0, 40.0], [120.0, 90.0]])), [[64, 0], [32, 32]])
    np.testing.assert_allclose(crop.box(np.array([80.0, 60.0, 10.0])), [6.4, 12.8, 6.4])


def test_crop_image_puts_a_marked_pixel_where_the_points_go() -> None:
    image = np.zeros((120, 200, 3), np.uint8)
    image[70, 150] = (255, 0, 0)  # pixel (r=70, c=150) spans [150, 151] x [70, 71]
    for flip in (False, True):
        crop = CropTransform(box_cxcys=(140.0, 60.0, 32.0), size=32, flip=flip)  # zoom 1
        out = crop.image(image)
        assert out.shape == (3, 32, 32) and out.dtype == torch.float32
        u, v = crop.points(np.array([[150.5, 70.5]]))[0]
        assert out[0, int(v), int(u)] == pytest.approx(1.0)
        assert float(out[0].sum()) == pytest.approx(1.0)


@pytest.mark.parametrize("flip", [False, True])
def test_crop_intrinsics_project_the_crop_frame_points(flip: bool) -> None:
    K = np.array([[1000.0, 0.0, 320.0], [0.0, 1010.0, 240.0], [0.0, 0.0, 1.0]])
    xyz = np.array([[0.1, -0.2, 3.0], [-0.3, 0.4, 2.5], [0.0, 0.0, 4.0]])
    crop = CropTransform(box_cxcys=(300.0, 250.0, 180.0), size=256, flip=flip)
    K_crop = crop.intrinsics(K)
    assert K_crop[0, 0] > 0 and K_crop[1, 1] > 0
    np.testing.assert_allclose(_project(crop.points3d(xyz), K_crop), crop.points(_project(xyz, K)), atol=1e-9)


def test_keypoints_to_spec_orders_and_makes_midpoints() -> None:
    names = ("left_hip", "right_hip", "right_wrist", "")
    pts = np.array([[10.0, 20.0], [30.0, 40.0], [5.0, 6.0], [99.0, 99.0]])
    out, conf = keypoints_to_spec(pts, np.array([1.0, 0.5, 1.0, 1.0]), names, "body",
                                  {"pelvis": ("left_hip", "right_hip")})
    body = part_spec("body").joint_names
    assert out.shape == (137, 2) and conf.shape == (137,)
    np.testing.assert_allclose(out[body.index("pelvis")], [20.0, 30.0])
    assert conf[body.index("pelvis")] == 0.5
    np.testing.assert_allclose(out[body.index("right_wrist")], [5.0, 6.0])
    assert conf.sum() == pytest.approx(3.0)  # pelvis 0.5, hips 1 + 0.5, right wrist 1; "" dropped
    hand, hconf = keypoints_to_spec(pts, np.ones(4), names, "hand")
    assert hconf[0] == 1 and hconf[1:].sum() == 0 and tuple(hand[0]) == (5.0, 6.0)


def _labels(j: int = 137) -> PartLabels:
    xy = np.tile(np.array([[100.0, 100.0]]), (j, 1))
    xy[0] = (1000.0, 1000.0)  # outside the crop
    conf = np.ones(j, np.float32)
    conf[1] = 0.0
    return PartLabels(joints2d=xy, joints2d_conf=conf)


def test_build_sample_fills_missing_labels_with_flags() -> None:
    crop = CropTransform(box_cxcys=(100.0, 100.0, 64.0), size=32)
    s = build_sample(crop=crop, image_rgb=np.zeros((200, 200, 3), np.uint8), labels=_labels(), part="body",
                     source="test", index=3)
    assert not s.has_params and not s.params_valid.any() and not s.has_joints3d and not s.has_intrinsics
    assert not s.joints_visible[0] and not s.joints_visible[1] and s.joints_visible[2:].all()
    np.testing.assert_allclose(s.joints2d[2].numpy(), [16.0, 16.0])
    assert (s.segmentation == 255).all() and not s.boxes_valid.any() and s.joints3d_conf.sum() == 0


def _synthetic(j: int = 21, s: int = 16) -> SyntheticSample:
    z = torch.zeros
    return SyntheticSample(
        image=torch.rand(3, s, s), params=SMPLXParams.zeros(1), joints3d=torch.rand(j, 3), joints2d=torch.rand(j, 2),
        joints_visible=torch.ones(j, dtype=torch.bool), segmentation=z(s, s, dtype=torch.int64),
        person_mask=z(s, s, dtype=torch.bool), left_hand_box_cxcys=torch.ones(3), right_hand_box_cxcys=torch.ones(3),
        face_box_cxcys=torch.ones(3), K=torch.eye(3), pelvis3d=z(3), part="hand", index=7)


def test_from_synthetic_and_collate_with_a_dataset_sample() -> None:
    synth = from_synthetic(_synthetic())
    assert synth.has_params and synth.has_joints3d and synth.has_segmentation and synth.boxes_valid.all()
    crop = CropTransform(box_cxcys=(100.0, 100.0, 64.0), size=16)
    real = build_sample(crop=crop, image_rgb=np.zeros((200, 200, 3), np.uint8), labels=_labels(21), part="hand",
                        source="freihand", index=0)
    batch = collate_training_samples([synth, real])
    assert batch.image.shape == (2, 3, 16, 16) and batch.params.batch_size == 2
    assert batch.params_valid.shape == (2, len(PARAM_FIELDS))
    assert batch.has_joints3d.tolist() == [True, False] and batch.source == ("synthetic", "freihand")
    assert batch.index.tolist() == [7, 0]
    with pytest.raises(ValueError, match="mix parts"):
        body = build_sample(crop=crop, image_rgb=np.zeros((200, 200, 3), np.uint8), labels=_labels(), part="body",
                            source="x", index=0)
        collate_training_samples([synth, body])


def test_training_sample_rejects_wrong_joint_count() -> None:
    s = from_synthetic(_synthetic())
    with pytest.raises(ValueError, match="joints2d"):
        TrainingSample(**{**s.__dict__, "joints2d": torch.zeros(5, 2)})
