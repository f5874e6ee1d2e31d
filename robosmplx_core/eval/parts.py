"""Part errors: hands aligned at their wrist, the face at the neck (Hand4Whole / OSX protocol).

A ``PartSpec`` names a part's joints, its root joint(s) and, optionally, its mesh vertices, all
as indices into the full joint set (J) and vertex set (V) the caller evaluates. Per part:
    - part MPJPE: pred and GT each subtract their own root joint (e.g. the wrist), then the
      mean error over the part's joints (the root joint need not be one of them).
    - part PA-MPJPE: Procrustes fitted and evaluated on the part's joints alone.
    - part PVE: the part's vertices minus the root *joint* (as Hand4Whole: the regressed wrist or
      neck), then the mean vertex error.
    - part PA-PVE: Procrustes fitted and evaluated on the part's vertices alone.
Hands are evaluated left and right separately and averaged per sample by ``mean_of_hands``
(a hand whose weights are all 0 is left out of the average; both missing gives NaN).

Units, weights, NaN and batch rules as in ``robosmplx_core.eval.errors``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from robosmplx_core.eval._arrays import (
    ArrayLike,
    as_indices,
    as_weights,
    check_pair,
    like,
    to_f64,
)
from robosmplx_core.eval.align import fit_similarity_f64
from robosmplx_core.eval.errors import point_errors_mm

__all__ = [
    "PartSpec", "part_mpjpe_mm", "part_pa_mpjpe_mm", "part_pve_mm", "part_pa_pve_mm", "mean_of_hands",
]  # fmt: skip


def _int_tuple(values: int | Sequence[int] | np.ndarray, *, name: str) -> tuple[int, ...]:
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        values = [values]
    out = tuple(int(v) for v in np.asarray(values).reshape(-1))
    if not out or min(out) < 0:
        raise ValueError(f"PartSpec.{name}: expected a non-empty set of non-negative indices, got {values!r}")
    return out


@dataclass(frozen=True)
class PartSpec:
    """Index sets of one body part (indices into the evaluated joint / vertex sets).

    Fields:
        joints: (K,) joint indices of the part (e.g. the 20 finger joints of one hand).
        root: (R,) joint index/indices whose mean is subtracted before comparison (the wrist for
            a hand, the neck for the face, the pelvis or both hips for the body). An int is
            accepted and stored as a 1-tuple.
        vertices: (Vp,) mesh vertex indices of the part (e.g. SMPL-X's MANO hand vertices), or
            None when vertex metrics are not needed.
    """

    joints: tuple[int, ...]
    root: tuple[int, ...]
    vertices: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "joints", _int_tuple(self.joints, name="joints"))
        object.__setattr__(self, "root", _int_tuple(self.root, name="root"))
        if self.vertices is not None:
            object.__setattr__(self, "vertices", _int_tuple(self.vertices, name="vertices"))


def _root_of(points: np.ndarray, part: PartSpec) -> np.ndarray:
    idx = as_indices(part.root, points.shape[1], name="part.root")
    return points[:, idx].mean(axis=1, keepdims=True)  # (B, 1, 3)


def _part_vertices(part: PartSpec, num_vertices: int) -> np.ndarray:
    if part.vertices is None:
        raise ValueError("part.vertices is None: give the part's mesh vertex indices for vertex metrics")
    return as_indices(part.vertices, num_vertices, name="part.vertices")


def part_mpjpe_mm(
    pred_joints: ArrayLike, gt_joints: ArrayLike, *, part: PartSpec, weights: ArrayLike | None = None
) -> ArrayLike:
    """MPJPE of one part's joints after aligning each side at the part's root, in mm.

    Args:
        pred_joints: (B, J, 3) predicted joints (the full set), metres.
        gt_joints: (B, J, 3) ground-truth joints, metres.
        part: the part's joint indices and root into J.
        weights: (B, J) per-joint weights over the full set (0 drops a joint), or None.

    Returns:
        (B,) errors in mm (NaN where no joint of the part is weighted), the kind of ``pred_joints``.
    """
    p, g, bound = check_pair(pred_joints, gt_joints, "B J 3", pred_name="pred_joints", gt_name="gt_joints")
    w = as_weights(weights, (bound["B"], bound["J"]), name="weights")
    idx = as_indices(part.joints, bound["J"], name="part.joints")
    pa, ga = p[:, idx] - _root_of(p, part), g[:, idx] - _root_of(g, part)
    return like(point_errors_mm(pa, ga, w[:, idx]), pred_joints)


def part_pa_mpjpe_mm(
    pred_joints: ArrayLike, gt_joints: ArrayLike, *, part: PartSpec, weights: ArrayLike | None = None
) -> ArrayLike:
    """PA-MPJPE of one part: Procrustes fitted and evaluated on the part's joints, in mm.

    Args:
        pred_joints: (B, J, 3) predicted joints (the full set), metres.
        gt_joints: (B, J, 3) ground-truth joints, metres.
        part: the part's joint indices into J (its root is not used: Procrustes translates).
        weights: (B, J) per-joint weights over the full set, or None.

    Returns:
        (B,) errors in mm, the kind of ``pred_joints``.
    """
    p, g, bound = check_pair(pred_joints, gt_joints, "B J 3", pred_name="pred_joints", gt_name="gt_joints")
    w = as_weights(weights, (bound["B"], bound["J"]), name="weights")
    idx = as_indices(part.joints, bound["J"], name="part.joints")
    ps, gs, ws = p[:, idx], g[:, idx], w[:, idx]
    return like(point_errors_mm(fit_similarity_f64(ps, gs, ws).apply(ps), gs, ws), pred_joints)


def part_pve_mm(
    pred_vertices: ArrayLike,
    gt_vertices: ArrayLike,
    *,
    pred_joints: ArrayLike,
    gt_joints: ArrayLike,
    part: PartSpec,
    weights: ArrayLike | None = None,
) -> ArrayLike:
    """PVE of one part's vertices after subtracting the part's root joint, in mm.

    Args:
        pred_vertices: (B, V, 3) predicted mesh (all vertices), metres.
        gt_vertices: (B, V, 3) ground-truth mesh in correspondence, metres.
        pred_joints: (B, J, 3) predicted joints, the source of the predicted root.
        gt_joints: (B, J, 3) ground-truth joints, the source of the GT root.
        part: the part's vertex indices into V and root joint(s) into J.
        weights: (B, V) per-vertex weights over the full mesh, or None.

    Returns:
        (B,) errors in mm, the kind of ``pred_vertices``.
    """
    p, g, bound = check_pair(
        pred_vertices, gt_vertices, "B V 3", pred_name="pred_vertices", gt_name="gt_vertices"
    )
    pj, gj, _ = check_pair(pred_joints, gt_joints, "B J 3", pred_name="pred_joints", gt_name="gt_joints")
    if pj.shape[0] != bound["B"]:
        raise ValueError(
            f"pred_joints: expected batch size {bound['B']} like the vertices, got {pj.shape[0]}"
        )
    w = as_weights(weights, (bound["B"], bound["V"]), name="weights")
    idx = _part_vertices(part, bound["V"])
    pa, ga = p[:, idx] - _root_of(pj, part), g[:, idx] - _root_of(gj, part)
    return like(point_errors_mm(pa, ga, w[:, idx]), pred_vertices)


def part_pa_pve_mm(
    pred_vertices: ArrayLike, gt_vertices: ArrayLike, *, part: PartSpec, weights: ArrayLike | None = None
) -> ArrayLike:
    """PA-PVE of one part: Procrustes fitted and evaluated on the part's vertices, in mm.

    Args:
        pred_vertices: (B, V, 3) predicted mesh (all vertices), metres.
        gt_vertices: (B, V, 3) ground-truth mesh in correspondence, metres.
        part: the part's vertex indices into V.
        weights: (B, V) per-vertex weights over the full mesh, or None.

    Returns:
        (B,) errors in mm, the kind of ``pred_vertices``.
    """
    p, g, bound = check_pair(
        pred_vertices, gt_vertices, "B V 3", pred_name="pred_vertices", gt_name="gt_vertices"
    )
    w = as_weights(weights, (bound["B"], bound["V"]), name="weights")
    idx = _part_vertices(part, bound["V"])
    ps, gs, ws = p[:, idx], g[:, idx], w[:, idx]
    return like(point_errors_mm(fit_similarity_f64(ps, gs, ws).apply(ps), gs, ws), pred_vertices)


def mean_of_hands(left: ArrayLike, right: ArrayLike) -> ArrayLike:
    """Per-sample mean of the left- and right-hand values, leaving out a NaN (missing) hand.

    Args:
        left: (B,) left-hand values.
        right: (B,) right-hand values.

    Returns:
        (B,) ``(left + right) / 2``; the present one where one is NaN; NaN where both are.
    """
    lv, rv = to_f64(left, name="left"), to_f64(right, name="right")
    if lv.ndim != 1 or lv.shape != rv.shape:
        raise ValueError(f"mean_of_hands: expected two (B,) arrays, got {lv.shape} and {rv.shape}")
    both = np.stack([lv, rv])
    count = (~np.isnan(both)).sum(axis=0)
    total = np.nansum(both, axis=0)
    return like(np.where(count > 0, total / np.maximum(count, 1), np.nan), left)
