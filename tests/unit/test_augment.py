"""Augmentations: every label follows the image (flip, rotation, shift/scale, positives)."""

from __future__ import annotations

import pytest
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.parts import BODY_PART_NAMES, mirror_permutation
from robosmplx_core.data import SyntheticConfig, SyntheticDataset
from robosmplx_core.data.augment import (
    AugmentConfig, augment_sample, blur, color_jitter, flip, positive_pair, rotate, swap_background,
    translate_scale, warp_sample,
)
from robosmplx_core.geometry.projection import perspective_projection
from robosmplx_core.nets.specs import part_spec, spec_joint_indices_144

SIZE = 96


@pytest.fixture(scope="module")
def sample(model: BodyModel):
    return SyntheticDataset(config=SyntheticConfig(seed=7, image_size=SIZE, length=4), model=model)[0]


def _model_joints(model: BodyModel, s) -> torch.Tensor:
    with torch.no_grad():
        return model(s.params).joints[0, spec_joint_indices_144(part_spec(s.part))]


def test_flip_twice_is_identity(sample) -> None:
    back = flip(flip(sample))
    assert torch.allclose(back.image, sample.image, atol=1e-5)
    assert torch.equal(back.segmentation, sample.segmentation)
    assert torch.allclose(back.joints2d, sample.joints2d, atol=1e-4)
    assert torch.allclose(back.joints3d, sample.joints3d, atol=1e-5)
    assert torch.allclose(back.params.body_pose, sample.params.body_pose, atol=1e-5)
    assert torch.allclose(back.params.transl, sample.params.transl, atol=1e-5)


def test_flip_swaps_left_and_right(sample) -> None:
    out = flip(sample)
    left, right = BODY_PART_NAMES.index("left_hand") + 1, BODY_PART_NAMES.index("right_hand") + 1
    assert int((out.segmentation == left).sum()) == int((sample.segmentation == right).sum())
    lut = torch.tensor([0] + [k + 1 for k in mirror_permutation(BODY_PART_NAMES)])
    assert torch.equal(out.segmentation, lut[sample.segmentation].flip(-1))
    names = part_spec("body").joint_names
    li, ri = names.index("left_wrist"), names.index("right_wrist")
    assert torch.allclose(out.joints2d[li, 0], SIZE - sample.joints2d[ri, 0], atol=1e-4)
    assert torch.allclose(out.left_hand_box_cxcys[1], sample.right_hand_box_cxcys[1])


@pytest.mark.parametrize("kwargs", [dict(flip=True), dict(angle_deg=25.0), dict(flip=True, angle_deg=-40.0,
                                    translate=(0.1, -0.05), scale=1.3)])
def test_3d_labels_follow_the_warp(sample, model: BodyModel, kwargs: dict) -> None:
    out = warp_sample(sample, **kwargs)
    assert torch.allclose(perspective_projection(out.joints3d[None], out.K)[0], out.joints2d, atol=1e-3)
    # the body model on the new parameters gives the new 3D joints (flip: shape symmetry, mm)
    assert torch.allclose(_model_joints(model, out), out.joints3d, atol=5e-3)
    assert torch.allclose(out.K[0, 1], torch.tensor(0.0)) and out.K[0, 0] > 0


def test_translate_and_scale_move_joints_as_expected(sample) -> None:
    out = translate_scale(sample, translate=(0.1, -0.2))
    shift = torch.tensor([-0.1 * SIZE, 0.2 * SIZE])
    assert torch.allclose(out.joints2d, sample.joints2d + shift, atol=1e-4)
    assert torch.equal(out.joints3d, sample.joints3d)
    zoom = translate_scale(sample, translate=(0.0, 0.0), scale=1.3)
    centre = torch.tensor([SIZE / 2, SIZE / 2])
    assert torch.allclose(zoom.joints2d - centre, (sample.joints2d - centre) / 1.3, atol=1e-4)
    assert torch.allclose(zoom.face_box_cxcys[2], sample.face_box_cxcys[2] / 1.3)
    # an integer pixel shift moves the image exactly
    px = translate_scale(sample, translate=(8 / SIZE, 0.0))
    assert torch.allclose(px.image[:, :, : SIZE - 8], sample.image[:, :, 8:], atol=1e-5)
    assert torch.equal(px.segmentation[:, : SIZE - 8], sample.segmentation[:, 8:])


def test_rotation_by_90_degrees_is_exact(sample) -> None:
    out = rotate(sample, 90.0)
    assert torch.equal(out.segmentation, torch.rot90(sample.segmentation, k=-1, dims=(0, 1)))
    c = SIZE / 2
    expected = torch.stack([c - (sample.joints2d[:, 1] - c), c + (sample.joints2d[:, 0] - c)], dim=-1)
    assert torch.allclose(out.joints2d, expected, atol=1e-4)


def test_positive_pair_keeps_the_3d_pose(sample) -> None:
    gen = torch.Generator().manual_seed(1)
    pos = positive_pair(sample, gen, AugmentConfig())
    assert torch.equal(pos.joints3d, sample.joints3d)
    assert torch.equal(pos.params.body_pose, sample.params.body_pose)
    assert torch.equal(pos.params.global_orient, sample.params.global_orient)
    assert not torch.equal(pos.image, sample.image)


def test_augment_is_deterministic_and_consistent(sample) -> None:
    cfg = AugmentConfig(flip_prob=1.0, rotation_prob=1.0, background_prob=1.0, blur_prob=1.0, occlusion_prob=1.0)
    a = augment_sample(sample, torch.Generator().manual_seed(5), cfg)
    b = augment_sample(sample, torch.Generator().manual_seed(5), cfg)
    c = augment_sample(sample, torch.Generator().manual_seed(6), cfg)
    assert torch.equal(a.image, b.image) and torch.equal(a.joints2d, b.joints2d)
    assert not torch.equal(a.joints2d, c.joints2d)
    assert torch.allclose(perspective_projection(a.joints3d[None], a.K)[0], a.joints2d, atol=1e-3)
    assert 0.0 <= float(a.image.min()) and float(a.image.max()) <= 1.0


def test_image_ops(sample) -> None:
    gen = torch.Generator().manual_seed(0)
    jittered = color_jitter(sample.image, gen, AugmentConfig(brightness=0, contrast=0, saturation=0, hue_deg=0))
    assert torch.allclose(jittered, sample.image, atol=1e-5)
    assert blur(sample.image, 0.0) is sample.image
    swapped = swap_background(sample, torch.zeros_like(sample.image))
    assert torch.equal(swapped.image[:, sample.person_mask], sample.image[:, sample.person_mask])
    assert float(swapped.image[:, ~sample.person_mask].abs().max()) == 0.0


def test_bad_input_raises(model: BodyModel, sample) -> None:
    hand = SyntheticDataset(config=SyntheticConfig(seed=0, image_size=32, part="hand", length=1), model=model)[0]
    with pytest.raises(ValueError, match="left hand"):
        flip(hand)
    with pytest.raises(ValueError, match="scale"):
        translate_scale(sample, translate=(0.0, 0.0), scale=0.0)
    with pytest.raises(ValueError, match="flip_prob"):
        AugmentConfig(flip_prob=1.5)
    with pytest.raises(ValueError, match="background"):
        swap_background(sample, torch.zeros(3, 4, 4))
