"""Known-value tests of the joint/vertex error metrics and Procrustes (robosmplx_core.eval)."""

import numpy as np
import pytest
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial import procrustes as scipy_procrustes
from scipy.spatial.transform import Rotation

from robosmplx_core.eval import (
    fit_similarity,
    mpjpe_mm,
    pa_mpjpe_mm,
    pa_pve_mm,
    procrustes_align,
    pve_mm,
    root_align,
    root_points,
)


def _random_similarity(rng, points):
    """Apply a random rotation, scale in [0.5, 2] and translation to (B, N, 3) points."""
    out = np.empty_like(points)
    for b in range(len(points)):
        rot = Rotation.random(random_state=rng).as_matrix()
        out[b] = rng.uniform(0.5, 2.0) * points[b] @ rot.T + rng.normal(size=3)
    return out


def _reference_align(pred, gt):
    """Independent similarity fit of one (N, 3) pred onto gt via scipy.linalg.orthogonal_procrustes."""
    pc, gc = pred - pred.mean(0), gt - gt.mean(0)
    rot, sv_sum = orthogonal_procrustes(pc, gc)  # minimises |pc @ rot - gc|
    assert np.linalg.det(rot) > 0, "test data should not need the reflection fix"
    return sv_sum / (pc**2).sum() * pc @ rot + gt.mean(0)


# ---------------------------------------------------------------------------------------------
# MPJPE / PVE with root alignment
# ---------------------------------------------------------------------------------------------


def test_identical_inputs_give_zero():
    gt = np.random.default_rng(0).normal(size=(3, 10, 3))
    np.testing.assert_array_equal(mpjpe_mm(gt, gt, root=0), np.zeros(3))
    np.testing.assert_allclose(pa_mpjpe_mm(gt, gt), np.zeros(3), atol=1e-9)
    np.testing.assert_array_equal(pve_mm(gt, gt), np.zeros(3))
    np.testing.assert_allclose(pa_pve_mm(gt, gt), np.zeros(3), atol=1e-9)


def test_constant_translation_vanishes_after_root_alignment():
    gt = np.random.default_rng(1).normal(size=(2, 6, 3))
    pred = gt + np.array([0.3, -0.2, 0.6])  # |t| = 0.7 m
    np.testing.assert_allclose(mpjpe_mm(pred, gt, root=0), [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(mpjpe_mm(pred, gt, root=(1, 2)), [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(mpjpe_mm(pred, gt, root=None), [700.0, 700.0])
    np.testing.assert_allclose(pve_mm(pred, gt), [700.0, 700.0])
    roots = {"pred_root": root_points(pred, 0), "gt_root": root_points(gt, 0)}
    np.testing.assert_allclose(pve_mm(pred, gt, **roots), [0.0, 0.0], atol=1e-9)


def test_known_offset_gives_known_mpjpe():
    gt = np.zeros((1, 4, 3))
    gt[0, :, 0] = [0.0, 0.1, 0.2, 0.3]
    pred = gt.copy()
    pred[0, 3] += [0.0, 0.006, 0.008]  # 10 mm on one of 4 joints
    np.testing.assert_allclose(mpjpe_mm(pred, gt, root=0), [2.5])
    np.testing.assert_allclose(mpjpe_mm(pred, gt, root=None), [2.5])
    # Root = joint 3: every *other* joint now moves by 10 mm relative to it.
    np.testing.assert_allclose(mpjpe_mm(pred, gt, root=3), [7.5])
    # Root = mean of joints 2 and 3: shifts 5 mm; joints 0-2 off by 5 mm, joint 3 by 5 mm.
    np.testing.assert_allclose(mpjpe_mm(pred, gt, root=[2, 3]), [5.0])


def test_weights_drop_and_weight_joints():
    gt = np.zeros((3, 3, 3))
    pred = gt.copy()
    pred[:, 1, 0] = 0.002  # 2 mm
    pred[:, 2, 0] = 0.004  # 4 mm
    weights = np.array([[1, 1, 0], [0, 1, 3], [0, 0, 0]], dtype=float)
    got = mpjpe_mm(pred, gt, root=None, weights=weights)
    np.testing.assert_allclose(got[:2], [1.0, (2 + 12) / 4])
    assert np.isnan(got[2]), "a sample without weighted joints has no value (NaN = skipped)"
    bool_w = mpjpe_mm(pred, gt, root=None, weights=torch.tensor([[True, True, False]] * 3))
    np.testing.assert_allclose(bool_w, [1.0, 1.0, 1.0])


def test_root_helpers():
    pts = np.arange(2 * 3 * 3, dtype=float).reshape(2, 3, 3)
    np.testing.assert_allclose(root_points(pts, (0, 2)), pts[:, [0, 2]].mean(1))
    np.testing.assert_allclose(root_align(pts, 1)[:, 1], np.zeros((2, 3)))
    np.testing.assert_array_equal(root_align(pts, None), pts)


# ---------------------------------------------------------------------------------------------
# Procrustes
# ---------------------------------------------------------------------------------------------


def test_procrustes_matches_scipy_references():
    rng = np.random.default_rng(2)
    gt = rng.normal(size=(4, 15, 3))
    pred = _random_similarity(rng, gt + 0.05 * rng.normal(size=gt.shape))
    aligned = procrustes_align(pred, gt)
    for b in range(4):
        np.testing.assert_allclose(aligned[b], _reference_align(pred[b], gt[b]), atol=1e-10)
        _, _, disparity = scipy_procrustes(gt[b], pred[b])
        ours = ((aligned[b] - gt[b]) ** 2).sum() / ((gt[b] - gt[b].mean(0)) ** 2).sum()
        np.testing.assert_allclose(ours, disparity, rtol=1e-9)


def test_fit_recovers_a_known_similarity():
    rng = np.random.default_rng(3)
    src = rng.normal(size=(1, 8, 3))
    rot = Rotation.from_rotvec([0.3, -0.5, 1.1]).as_matrix()
    dst = 1.7 * src @ rot.T + np.array([0.1, 2.0, -0.4])
    tf = fit_similarity(src, dst)
    np.testing.assert_allclose(tf.scale, [1.7])
    np.testing.assert_allclose(tf.rotation[0], rot, atol=1e-12)
    np.testing.assert_allclose(tf.translation[0], [0.1, 2.0, -0.4], atol=1e-12)
    np.testing.assert_allclose(tf.apply(src), dst, atol=1e-12)


def test_pa_mpjpe_invariant_to_similarity_of_prediction():
    rng = np.random.default_rng(4)
    gt = rng.normal(size=(5, 22, 3)) * 0.3
    pred = gt + 0.02 * rng.normal(size=gt.shape)
    base = pa_mpjpe_mm(pred, gt)
    moved = pa_mpjpe_mm(_random_similarity(rng, pred), gt)
    np.testing.assert_allclose(moved, base, rtol=1e-9)
    assert (base > 0).all()
    np.testing.assert_allclose(pa_pve_mm(_random_similarity(rng, pred), gt), base, rtol=1e-9)


def test_reflection_is_not_allowed():
    rng = np.random.default_rng(5)
    gt = rng.normal(size=(1, 12, 3)) * 0.2
    mirrored = gt * np.array([-1.0, 1.0, 1.0])  # a similarity *with* reflection would match exactly
    tf = fit_similarity(mirrored, gt)
    np.testing.assert_allclose(np.linalg.det(tf.rotation), [1.0])
    assert pa_mpjpe_mm(mirrored, gt)[0] > 1.0


def test_procrustes_weights_fit_on_visible_joints_only():
    rng = np.random.default_rng(6)
    gt = rng.normal(size=(1, 10, 3))
    pred = _random_similarity(rng, gt)
    pred[0, -1] += 5.0  # an outlier joint, marked invisible
    w = np.ones((1, 10))
    w[0, -1] = 0
    np.testing.assert_allclose(pa_mpjpe_mm(pred, gt, weights=w), [0.0], atol=1e-8)
    np.testing.assert_allclose(pa_mpjpe_mm(pred[:, :-1], gt[:, :-1]), [0.0], atol=1e-8)
    assert pa_mpjpe_mm(pred, gt)[0] > 100.0


def test_procrustes_degenerate_samples():
    gt = np.random.default_rng(7).normal(size=(2, 5, 3))
    pred = np.zeros_like(gt)  # collapsed to a point: best fit maps every joint to the GT mean
    aligned = procrustes_align(pred, gt)
    np.testing.assert_allclose(aligned, np.broadcast_to(gt.mean(1, keepdims=True), gt.shape))
    w = np.zeros((2, 5))
    w[0] = 1
    got = pa_mpjpe_mm(gt + 0.1, gt, weights=w)
    assert got[0] == pytest.approx(0.0, abs=1e-8) and np.isnan(got[1])


# ---------------------------------------------------------------------------------------------
# Array kinds, empty batches, bad input
# ---------------------------------------------------------------------------------------------


def test_torch_in_torch_out_matches_numpy():
    rng = np.random.default_rng(8)
    gt = rng.normal(size=(3, 7, 3))
    pred = gt + 0.01 * rng.normal(size=gt.shape)
    for fn, kw in ((mpjpe_mm, {"root": 0}), (pa_mpjpe_mm, {}), (pve_mm, {}), (pa_pve_mm, {})):
        ref = fn(pred, gt, **kw)
        assert isinstance(ref, np.ndarray) and ref.dtype == np.float64 and ref.shape == (3,)
        got = fn(torch.tensor(pred, dtype=torch.float32), torch.tensor(gt, dtype=torch.float32), **kw)
        assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == (3,)
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-4, atol=1e-3)
    aligned = procrustes_align(torch.tensor(pred), gt)
    assert isinstance(aligned, torch.Tensor) and aligned.dtype == torch.float64


def test_empty_batch_gives_empty_results():
    empty = np.zeros((0, 5, 3))
    for got in (mpjpe_mm(empty, empty, root=0), pa_mpjpe_mm(empty, empty), pve_mm(empty, empty),
                pa_pve_mm(empty, empty, weights=np.zeros((0, 5)))):  # fmt: skip
        assert got.shape == (0,)
    assert procrustes_align(empty, empty).shape == (0, 5, 3)


@pytest.mark.parametrize(
    "pred, gt, kw, match",
    [
        (np.zeros((2, 5, 3)), np.zeros((2, 5, 2)), {}, r"gt_joints: expected shape \(B, J, 3\)"),
        (np.zeros((2, 5, 3)), np.zeros((2, 4, 3)), {}, "gt_joints: .*J=5"),
        (np.zeros((5, 3)), np.zeros((5, 3)), {}, "pred_joints: expected shape"),
        (np.full((1, 2, 3), np.nan), np.zeros((1, 2, 3)), {}, "pred_joints: contains NaN"),
        (np.zeros((1, 2, 3)), np.full((1, 2, 3), np.inf), {}, "gt_joints: contains NaN or inf"),
        (np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), {"weights": -np.ones((1, 2))}, ">= 0"),
        (np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), {"weights": np.ones(2)}, "one weight per sample"),
        (np.zeros((1, 2, 3), dtype=int), np.zeros((1, 2, 3)), {}, "floating-point"),
    ],
)
def test_bad_inputs_raise_helpful_errors(pred, gt, kw, match):
    with pytest.raises(ValueError, match=match):
        mpjpe_mm(pred, gt, root=0, **kw)


def test_bad_root_and_roots_raise():
    pts = np.zeros((1, 3, 3))
    with pytest.raises(ValueError, match=r"root: indices must lie in \[0, 3\)"):
        mpjpe_mm(pts, pts, root=3)
    with pytest.raises(ValueError, match="root"):
        mpjpe_mm(pts, pts, root=[])
    with pytest.raises(ValueError, match="both pred_root and gt_root"):
        pve_mm(pts, pts, pred_root=np.zeros((1, 3)))
    with pytest.raises(ValueError, match="gt_root"):
        pve_mm(pts, pts, pred_root=np.zeros((1, 3)), gt_root=np.zeros((2, 3)))
    with pytest.raises(TypeError, match="np.asarray"):
        mpjpe_mm([[[0.0, 0.0, 0.0]]], pts[:, :1], root=0)
