"""L_con: the pose- and shape-aware contrastive loss of the Contrastive Feature Extraction Module.

Paper sec. 4.3, equation 2. A batch of N images (anchors) is followed by N augmented copies
(positives, location- and colour-variant augmentations only); anchor ``i``'s positive is
sample ``j = i + N``. Each anchor is contrasted against the 2N - 1 other samples::

    L_con = sum_{i=1..N} ( tau_pos |d(p_i, p_j) - d(z_i, z_j)|
                           + tau_neg sum_{k=1..2N, k != i, j} |d(p_i, p_k) - d(z_i, z_k)| )

Interpretation (the paper leaves these open; choices made here):
    - representation (the best one in the paper's table 9, "keypoint, +ve"): ``z`` = predicted
      3D joints regressed from the body model, ``p`` = GT 3D joints, both **root-aligned** (each
      set minus its own root joint), so per-sample translation and the crop camera play no part;
    - ``d`` = mean per-joint Euclidean distance between two joint sets (MPJPE, metres) by
      default; ``"l1"`` (mean |coordinate difference|) and ``"mse"`` (mean squared coordinate
      difference) are the other keypoint distances of the paper's ablation. Smooth L1 is not
      offered (its threshold is not given in the paper);
    - only the N anchors are rows of the sum (the positives' own rows are not added), exactly
      as in eq. 2; positive-positive pairs therefore never appear;
    - ``tau_pos`` and ``tau_neg`` weight the positive and the negative terms; the paper gives no
      values, so both default to 1 (every term counts the same);
    - normalisation: eq. 2 is a plain sum, which grows as N^2 with the batch, so the default
      ``reduction="mean"`` divides it by the number of terms with non-zero tau (``N (2N - 1)``
      when all GT is valid). This rescales the whole loss by a constant and keeps the ratio of
      positive to negative terms of eq. 2; ``reduction="sum"`` returns eq. 2 literally;
    - missing GT joints (weight 0) are left out of ``d`` for both ``p`` and ``z`` of a pair, so
      the two distances compare the same joints; a pair with no common valid joint is dropped;
    - without augmented positives in the batch (``paired_positives=False``, the "keypoint"
      row of table 9) every sample is an anchor and the other B - 1 samples are its negatives.

Glossary: M = 2N samples, J joints.
"""

from __future__ import annotations

from typing import Callable

import torch

from robosmplx_core.losses._common import (
    WEIGHT_SUM_EPS,
    RootIndex,
    as_weights,
    check_pair,
    root_align,
)

__all__ = ["JOINT_SET_DISTANCES", "joint_set_distances", "contrastive_keypoint_loss"]


def _per_joint_euclidean(diff: torch.Tensor) -> torch.Tensor:
    # vector_norm's gradient at a zero difference is 0 (no NaN), which identical sets produce.
    return torch.linalg.vector_norm(diff, dim=-1)


JOINT_SET_DISTANCES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "mpjpe": _per_joint_euclidean,
    "l1": lambda diff: diff.abs().mean(dim=-1),
    "mse": lambda diff: diff.square().mean(dim=-1),
}
"""Per-joint error of a ``(..., J, 3)`` difference -> ``(..., J)``; ``d`` is its weighted mean."""


def joint_set_distances(
    rows: torch.Tensor, cols: torch.Tensor, pair_weights: torch.Tensor, *, distance: str = "mpjpe"
) -> torch.Tensor:
    """Distances ``d(rows_a, cols_b)`` between every row set and every column set.

    Args:
        rows: ``(N, J, 3)`` joint sets.
        cols: ``(M, J, 3)`` joint sets.
        pair_weights: ``(N, M, J)`` per-joint weights of each pair (0 leaves a joint out).
        distance: a key of ``JOINT_SET_DISTANCES``.

    Returns:
        ``(N, M)`` weighted mean over joints of the per-joint error (0 where no joint counts).
    """
    if distance not in JOINT_SET_DISTANCES:
        raise ValueError(f"distance: expected one of {sorted(JOINT_SET_DISTANCES)}, got {distance!r}")
    per_joint = JOINT_SET_DISTANCES[distance](rows[:, None] - cols[None, :])  # (N, M, J)
    return (per_joint * pair_weights).sum(dim=-1) / pair_weights.sum(dim=-1).clamp(min=WEIGHT_SUM_EPS)


def _term_weights(
    num_samples: int, num_anchors: int, paired: bool, tau_pos: float, tau_neg: float, like: torch.Tensor
) -> torch.Tensor:
    """``(N, M)`` tau of each (anchor, sample) term: 0 on self, tau_pos on the positive."""
    weights = torch.full((num_anchors, num_samples), float(tau_neg), dtype=like.dtype, device=like.device)
    anchors = torch.arange(num_anchors, device=like.device)
    weights[anchors, anchors] = 0.0
    if paired:
        weights[anchors, anchors + num_anchors] = float(tau_pos)
    return weights


def _check_options(paired: bool, num_samples: int, tau_pos: float, tau_neg: float, reduction: str) -> None:
    if paired and num_samples % 2:
        raise ValueError(
            f"pred_joints: paired_positives=True expects 2N samples (N anchors then their N "
            f"positives), got an odd batch of {num_samples}; build the batch as "
            "torch.cat([anchors, positives]) or pass paired_positives=False"
        )
    for name, tau in (("tau_pos", tau_pos), ("tau_neg", tau_neg)):
        if not (tau >= 0.0 and tau < float("inf")):
            raise ValueError(f"{name}: expected a finite weight >= 0, got {tau}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction: expected 'mean' or 'sum', got {reduction!r}")


def contrastive_keypoint_loss(
    pred_joints: torch.Tensor,
    gt_joints: torch.Tensor,
    gt_weights: torch.Tensor | None = None,
    *,
    root_index: RootIndex = 0,
    paired_positives: bool = True,
    tau_pos: float = 1.0,
    tau_neg: float = 1.0,
    distance: str = "mpjpe",
    reduction: str = "mean",
) -> torch.Tensor:
    """L_con, eq. 2 of the paper (see the module docstring for every interpretation).

    It is 0 exactly when, for every anchor, the predicted distances to the other samples equal
    the GT distances (e.g. ``pred == gt``, or ``pred`` = ``gt`` moved by any per-sample
    translation, or by one rotation shared by the batch with ``"mpjpe"``).

    Args:
        pred_joints: ``(2N, J, 3)`` predicted joints (metres): anchors ``0..N-1`` then their
            positives ``N..2N-1`` in the same order (``(M, J, 3)`` of any M when not paired).
        gt_joints: ``(2N, J, 3)`` GT joints in the same order (finite).
        gt_weights: ``(2N, J)`` per-joint GT validity/confidence; ``None`` = all 1. A sample
            whose root joint has weight 0 is left out entirely.
        root_index: root joint(s) for the alignment (``None``: joints used as given).
        paired_positives: the batch holds anchors then positives (eq. 2); ``False``: no
            positives, every sample is an anchor with all others as negatives.
        tau_pos, tau_neg: weights of the positive and negative terms (>= 0).
        distance: ``"mpjpe"`` (default), ``"l1"`` or ``"mse"``; see ``JOINT_SET_DISTANCES``.
        reduction: ``"mean"`` (eq. 2 / number of terms) or ``"sum"`` (eq. 2 as printed).

    Returns:
        Scalar loss in the units of ``d`` (metres for ``"mpjpe"``); 0 for fewer than 2 samples.
    """
    dims = check_pair(pred_joints, gt_joints, "M J 3", pred_name="pred_joints", gt_name="gt_joints")
    num_samples = dims["M"]
    _check_options(paired_positives, num_samples, tau_pos, tau_neg, reduction)
    weights = as_weights(gt_weights, "M J", name="gt_weights", dims=dims, like=pred_joints)
    gt_aligned, weights = root_align(gt_joints.to(pred_joints.dtype), root_index, weights, name="root_index")
    pred_aligned, _ = root_align(pred_joints, root_index, name="root_index")
    num_anchors = num_samples // 2 if paired_positives else num_samples
    pair_weights = weights[:num_anchors, None, :] * weights[None, :, :]  # (N, M, J)
    d_gt = joint_set_distances(gt_aligned[:num_anchors], gt_aligned, pair_weights, distance=distance)
    d_pred = joint_set_distances(pred_aligned[:num_anchors], pred_aligned, pair_weights, distance=distance)
    taus = _term_weights(num_samples, num_anchors, paired_positives, tau_pos, tau_neg, pred_joints)
    taus = taus * (pair_weights.sum(dim=-1) > 0).to(taus.dtype)
    total = (taus * (d_gt - d_pred).abs()).sum()
    if reduction == "sum":
        return total
    return total / (taus > 0).sum().clamp(min=1).to(total.dtype)
