"""Temporal smoothness: acceleration and acceleration error (HMMR, Kanazawa et al. 2019; VIBE).

Inputs are joint trajectories ``(T, J, 3)`` in metres at a constant frame rate; results are in
mm/frame^2 (multiply by fps^2 / 1000 for m/s^2). Frame ``t`` of a result (``0 <= t < T - 2``)
belongs to the window of frames ``t, t+1, t+2`` (centred on ``t + 1``):
    a_t = x_t - 2 x_{t+1} + x_{t+2}                          (second difference, per joint)
    accel_mm[t]       = mean_j |a_t(pred)_j|               * 1000
    accel_error_mm[t] = mean_j |a_t(pred)_j - a_t(gt)_j|   * 1000
as VIBE's ``compute_accel`` / ``compute_error_accel``. VIBE (and HMMR) compute them on
pelvis-aligned joints: pass ``align.root_align(joints, 0)`` for the same protocol; the mean over
frames (e.g. via ``MetricAccumulator``) is the reported number.

``frame_valid`` (VIBE's ``vis``): a window with any invalid frame has no defined error, its value
is NaN (skipped by ``MetricAccumulator``). Fewer than 3 frames give an empty (0,) result.
Results are the kind of ``pred_joints`` / ``joints``.
"""

from __future__ import annotations

import numpy as np

from robosmplx_core.eval._arrays import M_TO_MM, ArrayLike, as_weights, check_pair, check_points, like

__all__ = ["accel_mm", "accel_error_mm"]


def _second_difference(x: np.ndarray) -> np.ndarray:
    return x[:-2] - 2.0 * x[1:-1] + x[2:]


def accel_mm(joints: ArrayLike) -> ArrayLike:
    """Mean joint acceleration per frame window, in mm/frame^2 (0 for constant velocity).

    Args:
        joints: (T, J, 3) joint trajectory, metres.

    Returns:
        (max(T - 2, 0),) accelerations in mm/frame^2, the kind of ``joints``.

    Raises:
        ValueError: not (T, J, 3) with J >= 1; NaN/inf values.
    """
    x, bound = check_points(joints, "T J 3", name="joints")
    if bound["J"] == 0:
        raise ValueError("joints: need at least one joint (J >= 1)")
    acc = np.linalg.norm(_second_difference(x), axis=-1).mean(axis=-1)
    return like(acc * M_TO_MM, joints)


def accel_error_mm(
    pred_joints: ArrayLike, gt_joints: ArrayLike, *, frame_valid: ArrayLike | None = None
) -> ArrayLike:
    """Mean joint acceleration error per frame window, in mm/frame^2.

    Args:
        pred_joints: (T, J, 3) predicted trajectory, metres.
        gt_joints: (T, J, 3) ground-truth trajectory, metres.
        frame_valid: (T,) bool/0-1 per-frame validity (e.g. GT visible), or None (all valid).

    Returns:
        (max(T - 2, 0),) errors in mm/frame^2; NaN for windows holding an invalid frame; the
        kind of ``pred_joints``.

    Raises:
        ValueError: shapes differ or are not (T, J, 3); NaN/inf; ``frame_valid`` not (T,).
    """
    p, g, bound = check_pair(pred_joints, gt_joints, "T J 3", pred_name="pred_joints", gt_name="gt_joints")
    valid = as_weights(frame_valid, (bound["T"],), name="frame_valid") > 0
    if bound["J"] == 0:
        raise ValueError("pred_joints: need at least one joint (J >= 1)")
    err = np.linalg.norm(_second_difference(p) - _second_difference(g), axis=-1).mean(axis=-1) * M_TO_MM
    window_ok = valid[:-2] & valid[1:-1] & valid[2:]  # empty when T < 3
    return like(np.where(window_ok, err, np.nan), pred_joints)
