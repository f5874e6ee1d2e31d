"""Alignment before comparison: root alignment and Procrustes (similarity) alignment.

Conventions: points are rows, ``(B, N, 3)``; a similarity transform maps a point ``x`` to
``scale * R @ x + t`` (R acts on column vectors, a proper rotation, det R = +1). Lengths are
whatever the inputs use (metres across robosmplx); results come back as the input kind
(tensor in, tensor out; see ``robosmplx_core.eval``).

Procrustes (Umeyama 1991, weighted): per sample, with weights ``w_i`` (0 drops a point),
    mu_p, mu_g = weighted means of pred and gt
    K = sum_i w_i (g_i - mu_g)(p_i - mu_p)^T / sum_i w_i     (3 x 3)
    K = U S V^T (SVD);  D = diag(1, 1, sign(det(U V^T)))     (reflection fix)
    R = U D V^T;  scale = trace(S D) / var_p;  t = mu_g - scale R mu_p
where ``var_p = sum_i w_i |p_i - mu_p|^2 / sum_i w_i``. This is the least-squares similarity
fit of pred onto gt. Degenerate samples: a prediction collapsed to one point (``var_p = 0``) gets
scale 0 (every point maps to ``mu_g``, the least-squares answer); a sample with no weight at all
gets the identity transform (its metrics are NaN, i.e. skipped, anyway).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robosmplx_core.eval._arrays import (
    ArrayLike,
    RootIndex,
    as_weights,
    check_pair,
    check_points,
    like,
    root_indices,
)

__all__ = ["SimilarityTransform", "fit_similarity", "procrustes_align", "root_points", "root_align"]

_VAR_EPS = 1e-24
"""Variance (squared input units) under which a prediction counts as collapsed to a point."""


def root_points(points: ArrayLike, root: int | tuple[int, ...] | list[int]) -> ArrayLike:
    """The root position of each sample: one joint, or the mean of several (e.g. both hips).

    Args:
        points: (B, J, 3) joints.
        root: a joint index (e.g. the pelvis) or a sequence of indices whose mean is the root.

    Returns:
        (B, 3) root positions, the input kind.
    """
    arr, bound = check_points(points, "B J 3", name="points")
    idx = root_indices(root, bound["J"])
    return like(arr[:, idx].mean(axis=1), points)


def root_align(points: ArrayLike, root: RootIndex) -> ArrayLike:
    """Subtract each sample's root (see ``root_points``) from all its points.

    Args:
        points: (B, J, 3) joints.
        root: joint index, sequence of indices (mean), or ``None`` (returned unchanged).

    Returns:
        (B, J, 3) root-relative points, the input kind.
    """
    arr, bound = check_points(points, "B J 3", name="points")
    if root is None:
        return like(arr, points)
    idx = root_indices(root, bound["J"])
    return like(arr - arr[:, idx].mean(axis=1, keepdims=True), points)


@dataclass(frozen=True)
class SimilarityTransform:
    """A batch of similarity transforms ``x -> scale * R @ x + t`` (float64 numpy).

    Fields:
        scale: (B,) uniform scale factors (>= 0).
        rotation: (B, 3, 3) proper rotations (det +1), acting on column vectors.
        translation: (B, 3) translations.
    """

    scale: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Transform (B, N, 3) points; returns (B, N, 3) float64."""
        rotated = np.einsum("bij,bnj->bni", self.rotation, np.asarray(points, dtype=np.float64))
        return self.scale[:, None, None] * rotated + self.translation[:, None, :]


def fit_similarity(
    pred_points: ArrayLike, gt_points: ArrayLike, *, weights: ArrayLike | None = None
) -> SimilarityTransform:
    """Least-squares similarity transform taking ``pred_points`` onto ``gt_points`` per sample.

    See the module docstring for the exact formula (weighted Umeyama with reflection fix).

    Args:
        pred_points: (B, N, 3) points to move.
        gt_points: (B, N, 3) corresponding target points.
        weights: (B, N) per-point weights (bool/int/float, >= 0; 0 drops a point), or None.

    Returns:
        ``SimilarityTransform`` with (B,) scale, (B, 3, 3) rotation, (B, 3) translation.

    Raises:
        ValueError: shapes differ or are not (B, N, 3); NaN/inf inputs; bad weights.
    """
    p, g, bound = check_pair(pred_points, gt_points, "B N 3", pred_name="pred_points", gt_name="gt_points")
    w = as_weights(weights, (bound["B"], bound["N"]), name="weights")
    return fit_similarity_f64(p, g, w)


def fit_similarity_f64(p: np.ndarray, g: np.ndarray, w: np.ndarray) -> SimilarityTransform:
    """``fit_similarity`` on checked float64 arrays (B, N, 3), (B, N, 3), (B, N); no checks."""
    total = w.sum(axis=1)
    has_weight = total > 0
    wn = w / np.where(has_weight, total, 1.0)[:, None]  # (B, N), each row sums to 1 (or 0)
    mu_p = np.einsum("bn,bnk->bk", wn, p)
    mu_g = np.einsum("bn,bnk->bk", wn, g)
    pc, gc = p - mu_p[:, None], g - mu_g[:, None]
    cov = np.einsum("bn,bni,bnj->bij", wn, gc, pc)  # (B, 3, 3): gt x pred
    u, s, vt = np.linalg.svd(cov)
    sign = np.sign(np.linalg.det(u @ vt))
    sign = np.where(sign == 0, 1.0, sign)
    d = np.ones_like(s)
    d[:, 2] = sign
    rot = u @ (d[:, :, None] * vt)
    var_p = np.einsum("bn,bnk->b", wn, pc**2)
    collapsed = var_p <= _VAR_EPS
    scale = np.where(collapsed, 0.0, (s * d).sum(axis=1) / np.where(collapsed, 1.0, var_p))
    rot = np.where(has_weight[:, None, None], rot, np.eye(3))
    scale = np.where(has_weight, scale, 1.0)
    trans = mu_g - scale[:, None] * np.einsum("bij,bj->bi", rot, mu_p)
    trans = np.where(has_weight[:, None], trans, 0.0)
    return SimilarityTransform(scale=scale, rotation=rot, translation=trans)


def procrustes_align(
    pred_points: ArrayLike, gt_points: ArrayLike, *, weights: ArrayLike | None = None
) -> ArrayLike:
    """Move ``pred_points`` onto ``gt_points`` by the best similarity transform (per sample).

    Args:
        pred_points: (B, N, 3) predicted points.
        gt_points: (B, N, 3) ground-truth points in correspondence.
        weights: (B, N) per-point weights used in the fit (0 drops a point), or None.

    Returns:
        (B, N, 3) aligned prediction (all points are moved, including zero-weight ones), the
        kind of ``pred_points``.
    """
    p, g, bound = check_pair(pred_points, gt_points, "B N 3", pred_name="pred_points", gt_name="gt_points")
    w = as_weights(weights, (bound["B"], bound["N"]), name="weights")
    return like(fit_similarity_f64(p, g, w).apply(p), pred_points)
