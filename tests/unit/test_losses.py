"""Known values, masks, empty batches and input checks of L_3D, L_2D, L_BM and L_box."""

from __future__ import annotations

import math

import pytest
import torch

from robosmplx_core.geometry.rotations import axis_angle_to_matrix, matrix_to_rot6d
from robosmplx_core.losses import (
    body_model_param_loss,
    box_loss,
    coefficient_loss,
    keypoints_2d_loss,
    keypoints_3d_loss,
    perspective_keypoints_2d_loss,
    pixels_to_normalized,
    rotation_loss,
    weak_perspective_keypoints_2d_loss,
    weak_perspective_projection,
)

D = torch.float64


def _grad_is_finite_zero_batch(fn, *shapes):
    preds = [torch.zeros(s, dtype=D, requires_grad=True) for s in shapes]
    loss = fn(*preds)
    loss.backward()
    assert loss.item() == 0.0
    for p in preds:
        assert p.grad is not None and torch.isfinite(p.grad).all()


# --- L_3D -------------------------------------------------------------------------------------


def test_keypoints_3d_known_value_and_root_alignment():
    gt = torch.zeros(1, 2, 3, dtype=D)
    pred = torch.tensor([[[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]], dtype=D)
    assert keypoints_3d_loss(pred, gt).item() == pytest.approx(6.0 / 6.0)
    shifted = pred + torch.tensor([5.0, -2.0, 7.0], dtype=D)  # root alignment removes it
    assert keypoints_3d_loss(shifted, gt).item() == pytest.approx(1.0)
    weights = torch.tensor([[1.0, 0.5]], dtype=D)
    assert keypoints_3d_loss(pred, gt, weights).item() == pytest.approx(0.5 * 6.0 / (3 * 1.5))
    assert keypoints_3d_loss(shifted, gt, root_index=None).item() > 1.0


def test_keypoints_3d_multi_joint_root_and_missing_root():
    gt = torch.zeros(1, 3, 3, dtype=D)
    pred = torch.tensor([[[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]], dtype=D)
    assert keypoints_3d_loss(pred, gt, root_index=(0, 1)).item() == pytest.approx(2.0 / 9.0)
    no_root = torch.tensor([[0.0, 1.0, 1.0]], dtype=D)  # GT root missing: sample dropped
    assert keypoints_3d_loss(pred, gt, no_root, root_index=0).item() == 0.0
    with pytest.raises(ValueError, match="root index"):
        keypoints_3d_loss(pred, gt, root_index=5)


def test_keypoints_3d_zero_weight_removes_sample_and_joint():
    torch.manual_seed(0)
    pred, gt = torch.randn(2, 4, 3, dtype=D), torch.randn(2, 4, 3, dtype=D)
    alone = keypoints_3d_loss(pred[:1], gt[:1])
    bad = pred.clone()
    bad[1] += 1e3
    weights = torch.tensor([[1.0] * 4, [0.0] * 4], dtype=D)
    assert keypoints_3d_loss(bad, gt, weights).item() == pytest.approx(alone.item())
    bool_weights = torch.tensor([[True, True, True, False]] * 2)
    bad[:, 3] += 1e3
    expected = keypoints_3d_loss(pred[:, :3], gt[:, :3])
    assert keypoints_3d_loss(bad, gt, bool_weights).item() == pytest.approx(expected.item())


def test_keypoints_3d_empty_batch_and_checks():
    gt = torch.zeros(0, 5, 3, dtype=D)
    _grad_is_finite_zero_batch(lambda p: keypoints_3d_loss(p, gt), (0, 5, 3))
    nan_gt = torch.zeros(1, 5, 3, dtype=D)
    nan_gt[0, 2, 1] = math.nan
    with pytest.raises(ValueError, match="gt_joints"):
        keypoints_3d_loss(torch.zeros(1, 5, 3, dtype=D), nan_gt)
    with pytest.raises(ValueError, match="gt_joints"):
        keypoints_3d_loss(torch.zeros(1, 5, 3, dtype=D), torch.zeros(1, 4, 3, dtype=D))
    with pytest.raises(ValueError, match="gt_weights"):
        keypoints_3d_loss(torch.zeros(1, 5, 3, dtype=D), torch.zeros(1, 5, 3, dtype=D), torch.zeros(1, 4))
    with pytest.raises(ValueError, match=">= 0"):
        keypoints_3d_loss(torch.zeros(1, 5, 3), torch.zeros(1, 5, 3), -torch.ones(1, 5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        keypoints_3d_loss([[0.0]], torch.zeros(1, 5, 3))


# --- L_2D -------------------------------------------------------------------------------------


def test_pixels_to_normalized():
    px = torch.tensor([[[0.0, 0.0], [200.0, 100.0], [100.0, 50.0]]], dtype=D)
    out = pixels_to_normalized(px, (200, 100))
    assert torch.allclose(out, torch.tensor([[[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]]], dtype=D))
    per_item = pixels_to_normalized(px, torch.tensor([[200.0, 100.0]], dtype=D))
    assert torch.equal(out, per_item)
    with pytest.raises(ValueError, match="image_size_wh"):
        pixels_to_normalized(px, (0, 100))


def test_perspective_2d_known_value_and_behind_camera():
    K = torch.tensor([[100.0, 0.0, 50.0], [0.0, 100.0, 50.0], [0.0, 0.0, 1.0]], dtype=D)
    pred = torch.tensor([[[0.0, 0.0, 2.0], [0.0, 0.0, -1.0]]], dtype=D, requires_grad=True)
    gt = torch.tensor([[[60.0, 50.0], [0.0, 0.0]]], dtype=D)
    weights = torch.tensor([[1.0, 1.0]], dtype=D)
    loss = perspective_keypoints_2d_loss(pred, gt, weights, K=K, image_size_wh=(100, 100))
    assert loss.item() == pytest.approx(0.2 / 2.0)  # the joint behind the camera is left out
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[0, 1].abs().sum() == 0


def test_weak_perspective_2d_known_value():
    points = torch.tensor([[[0.5, 0.25, 9.0]]], dtype=D)
    cam = torch.tensor([[2.0, 0.1, -0.25]], dtype=D)
    assert torch.allclose(weak_perspective_projection(points, cam), torch.tensor([[[1.2, 0.0]]], dtype=D))
    gt = torch.tensor([[[1.0, 0.5]]], dtype=D)
    assert weak_perspective_keypoints_2d_loss(points, cam, gt).item() == pytest.approx(0.35)
    assert weak_perspective_keypoints_2d_loss(points, cam, gt, torch.zeros(1, 1)).item() == 0.0


def test_2d_empty_batch_and_checks():
    gt = torch.zeros(0, 3, 2, dtype=D)
    _grad_is_finite_zero_batch(lambda p: keypoints_2d_loss(p, gt), (0, 3, 2))
    _grad_is_finite_zero_batch(
        lambda p, c: weak_perspective_keypoints_2d_loss(p, c, gt), (0, 3, 3), (0, 3)
    )
    K = torch.eye(3, dtype=D)
    _grad_is_finite_zero_batch(
        lambda p: perspective_keypoints_2d_loss(p, gt, K=K, image_size_wh=(10, 10)), (0, 3, 3)
    )
    nan_gt = torch.zeros(1, 3, 2)
    nan_gt[0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="gt_keypoints_2d_px"):
        perspective_keypoints_2d_loss(torch.ones(1, 3, 3), nan_gt, K=torch.eye(3), image_size_wh=(10, 10))
    with pytest.raises(ValueError, match="cam"):
        weak_perspective_projection(torch.zeros(2, 3, 3), torch.zeros(2, 2))


# --- L_BM -------------------------------------------------------------------------------------


def _rot_z90() -> torch.Tensor:
    return axis_angle_to_matrix(torch.tensor([0.0, 0.0, math.pi / 2], dtype=D))


def test_rotation_loss_known_value_matrix_and_6d():
    pred = torch.eye(3, dtype=D).expand(1, 1, 3, 3)
    gt = _rot_z90().expand(1, 1, 3, 3)
    assert rotation_loss(pred, gt).item() == pytest.approx(4.0 / 9.0)
    assert rotation_loss(matrix_to_rot6d(pred), gt).item() == pytest.approx(4.0 / 9.0)
    assert rotation_loss(2.0 * matrix_to_rot6d(pred), matrix_to_rot6d(gt)).item() == pytest.approx(4.0 / 9.0)
    with pytest.raises(ValueError, match="rotation matrices"):
        rotation_loss(torch.zeros(1, 1, 3), gt)


def test_rotation_loss_masks():
    pred = torch.eye(3, dtype=D).expand(2, 2, 3, 3)
    gt = torch.stack([torch.eye(3, dtype=D).expand(2, 3, 3), _rot_z90().expand(2, 3, 3)])
    assert rotation_loss(pred, gt, torch.tensor([1.0, 0.0])).item() == 0.0
    per_rotation = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    assert rotation_loss(pred, gt, per_rotation).item() == pytest.approx(4.0 / 9.0 / 3.0)
    with pytest.raises(ValueError, match="mask"):
        rotation_loss(pred, gt, torch.ones(3))


def test_body_model_param_loss_combines_groups():
    pred_rot = torch.eye(3, dtype=D).expand(2, 1, 3, 3)
    gt_rot = _rot_z90().expand(2, 1, 3, 3)
    betas_pred, betas_gt = torch.zeros(2, 10, dtype=D), torch.ones(2, 10, dtype=D)
    expr_pred, expr_gt = torch.zeros(2, 4, dtype=D), torch.full((2, 4), 3.0, dtype=D)
    loss = body_model_param_loss(
        pred_rotations=pred_rot, gt_rotations=gt_rot, pred_betas=betas_pred, gt_betas=betas_gt,
        pred_expression=expr_pred, gt_expression=expr_gt, betas_weight=0.5, expression_weight=2.0,
    )  # fmt: skip
    assert loss.item() == pytest.approx(4.0 / 9.0 + 0.5 * 1.0 + 2.0 * 3.0)
    masked = body_model_param_loss(
        pred_rotations=pred_rot, gt_rotations=gt_rot, pred_betas=betas_pred, gt_betas=betas_gt,
        gt_mask=torch.zeros(2),
    )  # fmt: skip
    assert masked.item() == 0.0
    with pytest.raises(ValueError, match="gt_betas"):
        body_model_param_loss(pred_rotations=pred_rot, gt_rotations=gt_rot, pred_betas=betas_pred)


def test_params_empty_batch_nan_and_shapes():
    gt_rot = torch.zeros(0, 3, 3, 3, dtype=D)
    _grad_is_finite_zero_batch(lambda p: rotation_loss(p, gt_rot), (0, 3, 6))
    _grad_is_finite_zero_batch(lambda p: coefficient_loss(p, torch.zeros(0, 10, dtype=D)), (0, 10))
    nan_betas = torch.zeros(1, 10)
    nan_betas[0, 3] = math.nan
    with pytest.raises(ValueError, match="gt_betas"):
        coefficient_loss(torch.zeros(1, 10), nan_betas, names=("pred_betas", "gt_betas"))
    with pytest.raises(ValueError, match="gt_coeffs"):
        coefficient_loss(torch.zeros(1, 10), torch.zeros(1, 11))


# --- L_box ------------------------------------------------------------------------------------


def test_box_loss_known_value_and_mask():
    pred_c, gt_c = torch.zeros(1, 3, 2, dtype=D), torch.zeros(1, 3, 2, dtype=D)
    gt_c[0, 0] = 1.0
    pred_s, gt_s = torch.ones(1, 3, 1, dtype=D), torch.full((1, 3, 1), 0.5, dtype=D)
    assert box_loss(pred_c, pred_s, gt_c, gt_s).item() == pytest.approx(2.0 / 6.0 + 0.5)
    valid = torch.tensor([[0.0, 1.0, 1.0]], dtype=D)
    assert box_loss(pred_c, pred_s, gt_c, gt_s, valid).item() == pytest.approx(0.5)


def test_box_loss_empty_batch_and_checks():
    gt_c, gt_s = torch.zeros(0, 3, 2, dtype=D), torch.zeros(0, 3, 2, dtype=D)
    _grad_is_finite_zero_batch(lambda c, s: box_loss(c, s, gt_c, gt_s), (0, 3, 2), (0, 3, 2))
    with pytest.raises(ValueError, match="gt_scales"):
        box_loss(torch.zeros(1, 3, 2), torch.zeros(1, 3, 2), torch.zeros(1, 3, 2), torch.zeros(1, 3, 1))
    nan_c = torch.zeros(1, 3, 2)
    nan_c[0, 1, 0] = math.inf
    with pytest.raises(ValueError, match="gt_centers"):
        box_loss(torch.zeros(1, 3, 2), torch.zeros(1, 3, 1), nan_c, torch.zeros(1, 3, 1))
