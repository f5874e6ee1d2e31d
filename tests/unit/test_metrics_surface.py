"""F-score, 3D RMSE and acceleration metrics with hand-made known values (robosmplx_core.eval)."""

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from robosmplx_core.eval import accel_error_mm, accel_mm, fscore, nearest_distances_mm, rmse_3d_mm


def _line_points():
    """GT: 4 points 100 mm apart on x. Pred: offsets of 3, 10, 50, 0 mm on y, plus a far point."""
    gt = np.zeros((1, 4, 3))
    gt[0, :, 0] = [0.0, 0.1, 0.2, 0.3]
    pred = np.zeros((1, 5, 3))
    pred[0, :4] = gt[0]
    pred[0, :4, 1] = [0.003, 0.010, 0.050, 0.0]
    pred[0, 4] = [1.0, 1.0, 1.0]
    return pred, gt


def test_fscore_known_precision_and_recall():
    pred, gt = _line_points()
    got = fscore(pred, gt, thresholds_mm=(5.0, 15.0), procrustes=False)
    # Precision: pred points within th of GT: 2/5 (3, 0 mm) and 3/5 (+10 mm).
    # Recall: GT points within th of the prediction: 2/4 and 3/4.
    np.testing.assert_allclose(got.precision, [[0.4, 0.6]])
    np.testing.assert_allclose(got.recall, [[0.5, 0.75]])
    np.testing.assert_allclose(got.fscore, [[2 * 0.4 * 0.5 / 0.9, 2 * 0.6 * 0.75 / 1.35]])
    assert got.thresholds_mm == (5.0, 15.0)
    assert sorted(got.as_dict()) == sorted(
        f"{m}_{t}mm" for m in ("fscore", "precision", "recall") for t in (5, 15)
    )


def test_fscore_zero_when_nothing_matches_and_one_after_procrustes():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(2, 30, 3)) * 0.05
    far = fscore(gt + 1.0, gt, procrustes=False)
    np.testing.assert_array_equal(far.fscore, np.zeros((2, 2)))
    moved = np.stack([1.3 * g @ Rotation.random(random_state=rng).as_matrix().T + 0.4 for g in gt])
    aligned = fscore(torch.tensor(moved), torch.tensor(gt))
    assert isinstance(aligned.fscore, torch.Tensor) and aligned.fscore.shape == (2, 2)
    np.testing.assert_allclose(aligned.fscore.numpy(), np.ones((2, 2)))


def test_fscore_bad_inputs():
    pred, gt = _line_points()
    with pytest.raises(ValueError, match="procrustes=True needs corresponding points"):
        fscore(pred, gt)
    with pytest.raises(ValueError, match="thresholds_mm"):
        fscore(pred, gt, thresholds_mm=(0.0,), procrustes=False)
    with pytest.raises(ValueError, match="gt_points: contains NaN"):
        fscore(gt, np.full_like(gt, np.nan))
    assert fscore(np.zeros((0, 4, 3)), np.zeros((0, 4, 3))).fscore.shape == (0, 2)


def test_nearest_distances():
    pred, gt = _line_points()
    np.testing.assert_allclose(nearest_distances_mm(pred[:, :4], gt), [[3.0, 10.0, 50.0, 0.0]], atol=1e-9)


def test_rmse_3d_known_values():
    pred, gt = _line_points()
    pred = pred[:, :4]
    # Distances 3, 10, 50, 0 mm -> sqrt((9 + 100 + 2500 + 0) / 4).
    expected = np.sqrt((9 + 100 + 2500) / 4)
    np.testing.assert_allclose(rmse_3d_mm(pred, gt, procrustes=False, nearest=False), [expected])
    # GT -> nearest prediction gives the same distances on this sparse set.
    np.testing.assert_allclose(rmse_3d_mm(pred, gt, procrustes=False), [expected])
    np.testing.assert_allclose(rmse_3d_mm(gt + [0.0, 0.002, 0.0], gt, procrustes=False), [2.0])
    np.testing.assert_allclose(rmse_3d_mm(3.0 * gt + 0.5, gt), [0.0], atol=1e-9)
    # Different point counts are fine without Procrustes (nearest neighbour).
    assert rmse_3d_mm(np.zeros((1, 7, 3)), gt, procrustes=False).shape == (1,)
    with pytest.raises(ValueError, match="nearest=False needs corresponding points"):
        rmse_3d_mm(np.zeros((1, 7, 3)), gt, procrustes=False, nearest=False)


# ---------------------------------------------------------------------------------------------
# Acceleration
# ---------------------------------------------------------------------------------------------


def _vibe_accel(joints):
    """VIBE's compute_accel, for reference."""
    velocities = joints[1:] - joints[:-1]
    acceleration = velocities[1:] - velocities[:-1]
    return np.mean(np.linalg.norm(acceleration, axis=2), axis=1)


def test_constant_velocity_has_zero_accel():
    t = np.arange(10, dtype=float)[:, None, None]
    x0 = np.random.default_rng(1).normal(size=(1, 4, 3))
    traj = x0 + 0.01 * t * np.array([1.0, -2.0, 0.5])
    np.testing.assert_allclose(accel_mm(traj), np.zeros(8), atol=1e-9)
    np.testing.assert_allclose(accel_error_mm(traj, traj + 0.3), np.zeros(8), atol=1e-9)


def test_parabola_has_known_accel():
    a = np.array([0.001, 0.002, 0.002])  # |a| = 3 mm/frame^2
    t = np.arange(7, dtype=float)[:, None, None]
    gt = np.random.default_rng(2).normal(size=(7, 5, 3)) * 0.1
    parabola = 0.5 * a * t**2 + 0.02 * t  # second difference = a exactly
    np.testing.assert_allclose(accel_mm(np.broadcast_to(parabola, (7, 5, 3)).copy()), np.full(5, 3.0))
    np.testing.assert_allclose(accel_error_mm(gt + parabola, gt), np.full(5, 3.0))
    np.testing.assert_allclose(accel_mm(gt), _vibe_accel(gt) * 1000)


def test_accel_error_frame_validity_and_short_sequences():
    rng = np.random.default_rng(3)
    gt = rng.normal(size=(6, 3, 3))
    pred = gt + 0.01 * rng.normal(size=gt.shape)
    valid = np.array([True, True, False, True, True, True])
    got = accel_error_mm(torch.tensor(pred, dtype=torch.float32), gt, frame_valid=torch.tensor(valid))
    assert isinstance(got, torch.Tensor) and got.shape == (4,)
    assert torch.isnan(got[:3]).all() and not torch.isnan(got[3])  # windows 0-2 hold frame 2
    full = accel_error_mm(pred, gt)
    np.testing.assert_allclose(got[3].item(), full[3], rtol=1e-4)
    assert accel_mm(np.zeros((2, 3, 3))).shape == (0,)
    assert accel_error_mm(np.zeros((0, 3, 3)), np.zeros((0, 3, 3))).shape == (0,)


def test_accel_bad_inputs():
    with pytest.raises(ValueError, match=r"joints: expected shape \(T, J, 3\)"):
        accel_mm(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="frame_valid"):
        accel_error_mm(np.zeros((4, 2, 3)), np.zeros((4, 2, 3)), frame_valid=np.ones(3))
    with pytest.raises(ValueError, match="pred_joints: contains NaN"):
        accel_error_mm(np.full((4, 2, 3), np.nan), np.zeros((4, 2, 3)))
