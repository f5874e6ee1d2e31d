"""L_con (paper eq. 2): a loop-by-loop reference, zero cases, a descent step, masks, checks."""

from __future__ import annotations

import math

import pytest
import torch

from robosmplx_core.geometry.rotations import axis_angle_to_matrix
from robosmplx_core.losses import contrastive_keypoint_loss, joint_set_distances

D = torch.float64


def _d(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean per-joint Euclidean distance of two (J, 3) sets."""
    return sum(float(torch.linalg.vector_norm(a[j] - b[j])) for j in range(a.shape[0])) / a.shape[0]


def _eq2_reference(z: torch.Tensor, p: torch.Tensor, tau_pos: float, tau_neg: float) -> float:
    """Eq. 2 as printed: sum over anchors i, positive j = i + N, negatives k != i, j."""
    n = z.shape[0] // 2
    total = 0.0
    for i in range(n):
        j = i + n
        total += tau_pos * abs(_d(p[i], p[j]) - _d(z[i], z[j]))
        for k in range(2 * n):
            if k not in (i, j):
                total += tau_neg * abs(_d(p[i], p[k]) - _d(z[i], z[k]))
    return total


def _batch(n: int, num_joints: int = 5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(2N, J, 3) GT whose positives share the anchor's root-aligned joints, and a prediction."""
    gen = torch.Generator().manual_seed(seed)
    anchors = torch.randn(n, num_joints, 3, generator=gen, dtype=D)
    gt = torch.cat([anchors, anchors + torch.randn(n, 1, 3, generator=gen, dtype=D)])  # moved copy
    pred = gt + 0.3 * torch.randn(2 * n, num_joints, 3, generator=gen, dtype=D)
    return pred, gt


def test_matches_loop_reference_of_eq2_sum_and_mean():
    pred, gt = _batch(3)
    root = lambda x: x - x[:, :1]  # noqa: E731 - root alignment on joint 0
    expected = _eq2_reference(root(pred), root(gt), tau_pos=2.0, tau_neg=0.5)
    got = contrastive_keypoint_loss(pred, gt, tau_pos=2.0, tau_neg=0.5, reduction="sum")
    assert got.item() == pytest.approx(expected, rel=1e-10)
    mean = contrastive_keypoint_loss(pred, gt, tau_pos=2.0, tau_neg=0.5)
    assert mean.item() == pytest.approx(expected / (3 * (2 * 3 - 1)), rel=1e-10)


def test_known_value_single_pair():
    gt = torch.zeros(2, 1, 3, dtype=D)  # the positive has the anchor's pose: d(p_i, p_j) = 0
    pred = torch.tensor([[[0.0, 0.0, 0.0]], [[3.0, 4.0, 0.0]]], dtype=D)
    assert contrastive_keypoint_loss(pred, gt, root_index=None).item() == pytest.approx(5.0)
    assert contrastive_keypoint_loss(pred, gt, root_index=None, tau_pos=0.5, reduction="sum").item() == 2.5
    assert contrastive_keypoint_loss(pred, gt, root_index=0).item() == 0.0  # one joint: aligned away


def test_zero_when_predicted_distances_equal_gt():
    _, gt = _batch(4)
    assert contrastive_keypoint_loss(gt.clone(), gt).item() == 0.0
    moved = gt + torch.randn(8, 1, 3, dtype=D)  # per-sample translation, removed by root alignment
    assert contrastive_keypoint_loss(moved, gt).item() == pytest.approx(0.0, abs=1e-12)
    rot = axis_angle_to_matrix(torch.tensor([0.3, -1.2, 0.7], dtype=D))
    rotated = gt @ rot.T  # one rotation for the whole batch keeps every pairwise distance
    assert contrastive_keypoint_loss(rotated, gt).item() == pytest.approx(0.0, abs=1e-12)
    gt_zero = gt.clone().requires_grad_(True)
    contrastive_keypoint_loss(gt_zero, gt.detach()).backward()  # identical pairs: no NaN
    assert torch.isfinite(gt_zero.grad).all()


def test_gradient_step_moves_distances_toward_gt():
    pred, gt = _batch(4, seed=1)
    pred = pred.float().requires_grad_(True)
    gt = gt.float()
    loss = contrastive_keypoint_loss(pred, gt)
    loss.backward()
    with torch.no_grad():
        stepped = pred - 0.05 * pred.grad / pred.grad.norm()
    assert contrastive_keypoint_loss(stepped, gt).item() < loss.item()
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(6, 4, 3, generator=gen, requires_grad=True)
    p = torch.randn(6, 4, 3, generator=gen)
    optimiser = torch.optim.Adam([z], lr=0.05)
    first = contrastive_keypoint_loss(z, p).item()
    for _ in range(40):
        optimiser.zero_grad()
        contrastive_keypoint_loss(z, p).backward()
        optimiser.step()
    assert contrastive_keypoint_loss(z, p).item() < 0.2 * first  # distances match the GT ones


def test_unpaired_batch_contrasts_every_sample():
    pred, gt = _batch(2)
    root = lambda x: x - x[:, :1]  # noqa: E731
    z, p = root(pred), root(gt)
    expected = sum(abs(_d(p[i], p[k]) - _d(z[i], z[k])) for i in range(4) for k in range(4) if k != i)
    got = contrastive_keypoint_loss(pred, gt, paired_positives=False, reduction="sum")
    assert got.item() == pytest.approx(expected, rel=1e-10)


def test_zero_weight_joint_and_sample_are_removed():
    pred, gt = _batch(3)
    weights = torch.ones(6, 5, dtype=D)
    weights[:, 4] = 0.0
    noisy = pred.clone()
    noisy[:, 4] += 100.0
    expected = contrastive_keypoint_loss(pred[:, :4], gt[:, :4], reduction="sum")
    got = contrastive_keypoint_loss(noisy, gt, weights, reduction="sum")
    assert got.item() == pytest.approx(expected.item())
    weights = torch.ones(6, 5, dtype=D)
    weights[5, 0] = 0.0  # root of sample 5 missing: every pair with it is dropped
    noisy = pred.clone()
    noisy[5] += torch.randn(5, 3, dtype=D)
    a = contrastive_keypoint_loss(noisy, gt, weights, reduction="sum")
    b = contrastive_keypoint_loss(pred, gt, weights, reduction="sum")
    assert a.item() == pytest.approx(b.item())
    assert joint_set_distances(gt[:1], gt[1:2], torch.zeros(1, 1, 5, dtype=D)).item() == 0.0


def test_distance_options():
    pred, gt = _batch(2)
    for distance in ("mpjpe", "l1", "mse"):
        assert contrastive_keypoint_loss(gt, gt, distance=distance).item() == 0.0
        assert contrastive_keypoint_loss(pred, gt, distance=distance).item() > 0.0
    a = torch.zeros(1, 1, 3, dtype=D)
    b = torch.tensor([[[3.0, 4.0, 0.0]]], dtype=D)
    w = torch.ones(1, 1, 1, dtype=D)
    assert joint_set_distances(a, b, w, distance="l1").item() == pytest.approx(7.0 / 3.0)
    assert joint_set_distances(a, b, w, distance="mse").item() == pytest.approx(25.0 / 3.0)
    with pytest.raises(ValueError, match="mpjpe"):
        contrastive_keypoint_loss(pred, gt, distance="smooth_l2")


def test_empty_batch_nan_and_shape_checks():
    empty = torch.zeros(0, 5, 3, dtype=D, requires_grad=True)
    loss = contrastive_keypoint_loss(empty, torch.zeros(0, 5, 3, dtype=D))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(empty.grad).all()
    pred, gt = _batch(2)
    gt[3, 1, 2] = math.nan
    with pytest.raises(ValueError, match="gt_joints"):
        contrastive_keypoint_loss(pred, gt)
    with pytest.raises(ValueError, match="2N samples"):
        contrastive_keypoint_loss(pred[:3], pred[:3])
    with pytest.raises(ValueError, match="gt_joints"):
        contrastive_keypoint_loss(pred, pred[:, :4])
    with pytest.raises(ValueError, match="tau_neg"):
        contrastive_keypoint_loss(pred, pred, tau_neg=-1.0)
    with pytest.raises(ValueError, match="reduction"):
        contrastive_keypoint_loss(pred, pred, reduction="max")
