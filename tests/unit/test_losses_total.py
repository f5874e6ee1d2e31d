"""The combined objective: weights, skipped terms, breakdown, empty batch, errors."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from robosmplx_core.losses import (
    LossPredictions,
    LossTargets,
    LossWeights,
    TotalLoss,
    compute_losses,
    contrastive_keypoint_loss,
    keypoints_3d_loss,
    perspective_keypoints_2d_loss,
)

TERMS = ("keypoints_3d", "keypoints_2d", "bm_rotations", "bm_betas", "bm_expression", "segmentation",
         "projection", "silhouette", "contrastive", "boxes")  # fmt: skip


def _only(term: str, weight: float = 1.0) -> LossWeights:
    return LossWeights(**{name: (weight if name == term else 0.0) for name in TERMS})


def _batch(b: int = 4, seed: int = 0) -> tuple[LossPredictions, LossTargets]:
    gen = torch.Generator().manual_seed(seed)
    rand = lambda *shape: torch.randn(*shape, generator=gen)  # noqa: E731
    pred = LossPredictions(
        joints=rand(b, 5, 3).requires_grad_(True),
        cam=torch.tensor([[1.0, 0.0, 0.0]]).repeat(b, 1) + 0.1 * rand(b, 3),
        rotations=rand(b, 3, 6).requires_grad_(True),
        betas=rand(b, 10).requires_grad_(True),
        expression=rand(b, 4),
        segm_logits=rand(b, 3, 4, 4).requires_grad_(True),
        rendered_part_probs=torch.softmax(rand(b, 3, 8, 8), dim=1).requires_grad_(True),
        box_centers=rand(b, 3, 2),
        box_scales=rand(b, 3, 1).abs(),
    )
    target = LossTargets(
        joints_3d=rand(b, 5, 3),
        joints_3d_weights=torch.ones(b, 5),
        keypoints_2d_px=64.0 + 20.0 * rand(b, 5, 2),
        keypoints_2d_weights=torch.ones(b, 5),
        image_size_wh=(128, 128),
        intrinsics=torch.tensor([[500.0, 0.0, 64.0], [0.0, 500.0, 64.0], [0.0, 0.0, 1.0]]),
        rotations=rand(b, 3, 6),
        betas=rand(b, 10),
        expression=rand(b, 4),
        part_labels=torch.randint(0, 3, (b, 16, 16), generator=gen),
        box_centers=rand(b, 3, 2),
        box_scales=rand(b, 3, 1).abs(),
        box_valid=torch.ones(b, 3),
        paired_positives=True,
    )
    return pred, target


def test_weights_validation_and_defaults():
    w = LossWeights()
    assert w.keypoints_3d > 0 and w.contrastive > 0 and w.silhouette == 0.0
    with pytest.raises(ValueError, match="LossWeights.contrastive"):
        LossWeights(contrastive=-1.0)
    with pytest.raises(ValueError, match="LossWeights.boxes"):
        LossWeights(boxes=math.nan)
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.boxes = 2.0  # type: ignore[misc]


def test_total_is_weighted_sum_of_breakdown_and_backpropagates():
    pred, target = _batch()
    weights = LossWeights(silhouette=0.5)
    result = compute_losses(pred, target, weights)
    parts = result.breakdown.as_dict()
    expected = sum(getattr(weights, name) * parts[name] for name in TERMS)
    assert result.total.item() == pytest.approx(expected, rel=1e-5)
    assert parts["total"] == pytest.approx(result.total.item())
    assert all(parts[name] > 0 for name in TERMS)
    result.total.backward()
    for tensor in (pred.joints, pred.rotations, pred.betas, pred.segm_logits, pred.rendered_part_probs):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all()


def test_single_terms_match_the_functions():
    pred, target = _batch()
    got = compute_losses(pred, target, _only("keypoints_3d", 2.0), root_index=1)
    expected = keypoints_3d_loss(pred.joints, target.joints_3d, root_index=1)
    assert got.total.item() == pytest.approx(2.0 * expected.item())
    got = compute_losses(pred, target, _only("contrastive"))
    assert got.total.item() == pytest.approx(contrastive_keypoint_loss(pred.joints, target.joints_3d).item())
    unpaired = dataclasses.replace(target, paired_positives=False)
    got = compute_losses(pred, unpaired, _only("contrastive"))
    expected = contrastive_keypoint_loss(pred.joints, target.joints_3d, paired_positives=False)
    assert got.total.item() == pytest.approx(expected.item())


def test_2d_term_uses_perspective_when_transl_is_given():
    pred, target = _batch()
    transl = torch.tensor([[0.0, 0.0, 10.0]]).repeat(4, 1)
    with_transl = dataclasses.replace(pred, transl=transl)
    got = compute_losses(with_transl, target, _only("keypoints_2d")).total
    expected = perspective_keypoints_2d_loss(
        pred.joints + transl[:, None], target.keypoints_2d_px, K=target.intrinsics, image_size_wh=(128, 128)
    )
    assert got.item() == pytest.approx(expected.item())
    weak = compute_losses(pred, target, _only("keypoints_2d")).total
    assert weak.item() != pytest.approx(got.item())
    with pytest.raises(ValueError, match="LossTargets.intrinsics"):
        compute_losses(with_transl, dataclasses.replace(target, intrinsics=None), _only("keypoints_2d"))


def test_zero_weight_skips_term_and_its_missing_inputs():
    pred, target = _batch()
    bare = LossPredictions(joints=pred.joints)
    result = compute_losses(bare, LossTargets(joints_3d=target.joints_3d), _only("keypoints_3d"))
    assert result.breakdown.segmentation == 0.0 and result.breakdown.keypoints_3d > 0
    with pytest.raises(ValueError, match=r"LossPredictions.segm_logits is None.*segmentation=0"):
        compute_losses(bare, target, _only("segmentation"))
    nothing = compute_losses(bare, LossTargets(), _only("keypoints_3d", 0.0))
    assert nothing.total.item() == 0.0
    nothing.total.backward()  # a gradient path even with every term off
    assert torch.equal(pred.joints.grad, torch.zeros_like(pred.joints))


def test_masks_remove_samples_in_the_total():
    pred, target = _batch()
    masked = dataclasses.replace(
        target, has_betas=torch.tensor([1, 1, 0, 0]), has_rotations=torch.zeros(4),
        has_part_labels=torch.zeros(4), box_valid=torch.zeros(4, 3),
    )  # fmt: skip
    result = compute_losses(pred, masked).breakdown
    assert result.bm_rotations == 0.0 and result.segmentation == 0.0 and result.projection == 0.0
    assert result.boxes == 0.0
    half = compute_losses(
        dataclasses.replace(pred, betas=pred.betas[:2]), dataclasses.replace(target, betas=target.betas[:2]),
        _only("bm_betas"),
    )  # fmt: skip
    assert result.bm_betas == pytest.approx(half.breakdown.bm_betas)


def test_empty_batch_gives_zero_with_gradients():
    pred, target = _batch(b=0)
    module = TotalLoss(weights=LossWeights(silhouette=1.0))
    result = module(pred, target)
    assert result.total.item() == 0.0
    assert all(v == 0.0 for v in result.breakdown.as_dict().values())
    result.total.backward()
    assert pred.joints.grad is not None and torch.isfinite(pred.joints.grad).all()


def test_nan_and_shape_errors_name_the_field():
    pred, target = _batch()
    bad = target.keypoints_2d_px.clone()
    bad[1, 2, 0] = math.nan
    with pytest.raises(ValueError, match="gt_keypoints_2d"):
        compute_losses(pred, dataclasses.replace(target, keypoints_2d_px=bad))
    bad_betas = target.betas.clone()
    bad_betas[0, 0] = math.inf
    with pytest.raises(ValueError, match="gt_betas"):
        compute_losses(pred, dataclasses.replace(target, betas=bad_betas))
    with pytest.raises(ValueError, match="gt_joints"):
        compute_losses(pred, dataclasses.replace(target, joints_3d=target.joints_3d[:, :4]))
    with pytest.raises(ValueError, match="2N samples"):
        three_pred = dataclasses.replace(pred, joints=pred.joints[:3])
        three_gt = dataclasses.replace(target, joints_3d=target.joints_3d[:3])
        compute_losses(three_pred, three_gt, _only("contrastive"))
    with pytest.raises(TypeError, match="LossPredictions"):
        compute_losses(pred.joints, target)  # type: ignore[arg-type]
