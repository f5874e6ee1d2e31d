"""Per-sample position errors in millimetres: MPJPE, PA-MPJPE, PVE (a.k.a. MPVPE), PA-PVE.

Definitions (inputs in metres, results in millimetres; per sample ``b``):
    error_b = sum_j w_bj * |a(pred)_bj - a(gt)_bj| / sum_j w_bj * 1000
where ``|.|`` is the Euclidean norm, ``w`` the optional (B, J) weights (1 everywhere when
omitted; 0 drops a joint, e.g. an invisible or unlabelled one) and ``a`` the alignment:
    - MPJPE / PVE: root alignment. Pred and GT each subtract their *own* root (a joint, or the
      mean of several joints such as both hips); the root is read from the arrays as given,
      whatever its weight. ``root=None`` compares positions as they are.
    - PA-*: Procrustes. The prediction is moved onto the GT by the least-squares similarity
      transform (rotation, uniform scale, translation; reflection excluded), fitted per sample
      on the weighted points (``robosmplx_core.eval.align``).
A sample whose weights are all 0 has no defined error: its value is NaN, and
``MetricAccumulator`` counts it as skipped. These are the only NaNs the metrics produce; NaN or
inf *inputs* raise ``ValueError``. An empty batch (B = 0) gives an empty (0,) result.

Results are the kind of ``pred`` (tensor in, tensor out; see ``robosmplx_core.eval``).
"""

from __future__ import annotations

import numpy as np

from robosmplx_core.eval._arrays import (
    M_TO_MM,
    ArrayLike,
    RootIndex,
    as_weights,
    check_pair,
    check_points,
    like,
    root_indices,
    weighted_row_mean,
)
from robosmplx_core.eval.align import fit_similarity_f64

__all__ = ["mpjpe_mm", "pa_mpjpe_mm", "pve_mm", "pa_pve_mm", "point_errors_mm"]


def point_errors_mm(pred: np.ndarray, gt: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean Euclidean distance in mm of aligned float64 (B, N, 3) arrays -> (B,)."""
    dist = np.linalg.norm(pred - gt, axis=-1) * M_TO_MM
    return weighted_row_mean(dist, weights)


def _subtract_root(points: np.ndarray, root: RootIndex) -> np.ndarray:
    if root is None:
        return points
    idx = root_indices(root, points.shape[1])
    return points - points[:, idx].mean(axis=1, keepdims=True)


def mpjpe_mm(
    pred_joints: ArrayLike, gt_joints: ArrayLike, *, root: RootIndex, weights: ArrayLike | None = None
) -> ArrayLike:
    """Mean per-joint position error after root alignment, in mm.

    Args:
        pred_joints: (B, J, 3) predicted joints, metres.
        gt_joints: (B, J, 3) ground-truth joints, metres.
        root: root joint index (e.g. ``0``, the pelvis), a sequence of indices whose mean is the
            root (e.g. the two hips), or ``None`` for no alignment. Required, so the choice shows.
        weights: (B, J) per-joint visibility/validity weights (0 drops a joint), or None.

    Returns:
        (B,) errors in mm (NaN for a sample with no weighted joint), the kind of ``pred_joints``.

    Raises:
        ValueError: shapes differ or are not (B, J, 3); NaN/inf inputs; bad weights or root.
    """
    p, g, bound = check_pair(pred_joints, gt_joints, "B J 3", pred_name="pred_joints", gt_name="gt_joints")
    w = as_weights(weights, (bound["B"], bound["J"]), name="weights")
    err = point_errors_mm(_subtract_root(p, root), _subtract_root(g, root), w)
    return like(err, pred_joints)


def pa_mpjpe_mm(
    pred_joints: ArrayLike, gt_joints: ArrayLike, *, weights: ArrayLike | None = None
) -> ArrayLike:
    """Mean per-joint position error after Procrustes (similarity) alignment, in mm.

    The transform is fitted on the weighted joints only; the error is their weighted mean.

    Args:
        pred_joints: (B, J, 3) predicted joints, metres.
        gt_joints: (B, J, 3) ground-truth joints, metres.
        weights: (B, J) per-joint weights (0 drops a joint from fit and error), or None.

    Returns:
        (B,) errors in mm (NaN for a sample with no weighted joint), the kind of ``pred_joints``.
    """
    p, g, bound = check_pair(pred_joints, gt_joints, "B J 3", pred_name="pred_joints", gt_name="gt_joints")
    w = as_weights(weights, (bound["B"], bound["J"]), name="weights")
    return like(point_errors_mm(fit_similarity_f64(p, g, w).apply(p), g, w), pred_joints)


def pve_mm(
    pred_vertices: ArrayLike,
    gt_vertices: ArrayLike,
    *,
    pred_root: ArrayLike | None = None,
    gt_root: ArrayLike | None = None,
    weights: ArrayLike | None = None,
) -> ArrayLike:
    """Mean per-vertex position error (PVE / MPVPE) after root alignment, in mm.

    Mesh roots usually come from the joints (Hand4Whole subtracts the regressed pelvis), so the
    roots are given as points: e.g. ``pred_root=root_points(pred_joints, 0)``.

    Args:
        pred_vertices: (B, V, 3) predicted mesh vertices, metres.
        gt_vertices: (B, V, 3) ground-truth vertices in correspondence, metres.
        pred_root: (B, 3) point subtracted from every predicted vertex, or None (no alignment).
        gt_root: (B, 3) point subtracted from every GT vertex; give both roots or neither.
        weights: (B, V) per-vertex weights (0 drops a vertex), or None.

    Returns:
        (B,) errors in mm, the kind of ``pred_vertices``.
    """
    p, g, bound = check_pair(
        pred_vertices, gt_vertices, "B V 3", pred_name="pred_vertices", gt_name="gt_vertices"
    )
    if (pred_root is None) != (gt_root is None):
        raise ValueError(
            "pve_mm: give both pred_root and gt_root (e.g. root_points(pred_joints, 0) and "
            "root_points(gt_joints, 0)) or neither"
        )
    if pred_root is not None:
        pr, _ = check_points(pred_root, "B 3", name="pred_root", dims={"B": bound["B"]})
        gr, _ = check_points(gt_root, "B 3", name="gt_root", dims={"B": bound["B"]})
        p, g = p - pr[:, None], g - gr[:, None]
    w = as_weights(weights, (bound["B"], bound["V"]), name="weights")
    return like(point_errors_mm(p, g, w), pred_vertices)


def pa_pve_mm(
    pred_vertices: ArrayLike, gt_vertices: ArrayLike, *, weights: ArrayLike | None = None
) -> ArrayLike:
    """Mean per-vertex position error after Procrustes (similarity) alignment, in mm.

    Args:
        pred_vertices: (B, V, 3) predicted mesh vertices, metres.
        gt_vertices: (B, V, 3) ground-truth vertices in correspondence, metres.
        weights: (B, V) per-vertex weights (0 drops a vertex from fit and error), or None.

    Returns:
        (B,) errors in mm, the kind of ``pred_vertices``.
    """
    p, g, bound = check_pair(
        pred_vertices, gt_vertices, "B V 3", pred_name="pred_vertices", gt_name="gt_vertices"
    )
    w = as_weights(weights, (bound["B"], bound["V"]), name="weights")
    return like(point_errors_mm(fit_similarity_f64(p, g, w).apply(p), g, w), pred_vertices)
