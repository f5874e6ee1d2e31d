"""L_box: L1 distance of the hand and face box centres and scales (whole-body training, sec. 4.1).

Conventions:
    - K boxes per sample, in a fixed order chosen by the caller (e.g. left hand, right hand,
      face);
    - centres ``(B, K, 2)`` and scales ``(B, K, S)`` (``S = 1``: one side length; ``S = 2``:
      width and height) in the units the network regresses them in, the same for prediction and
      GT (e.g. centres in normalised crop coordinates ``[-1, 1]`` and scales as a fraction of
      the body crop side, which keeps the loss independent of the input resolution);
    - ``gt_valid`` ``(B, K)`` is 0 for boxes without GT (part not visible or not annotated);
    - L_box = weighted mean L1 of the centres + weighted mean L1 of the scales (Hand4Whole
      adds its box-centre and box-size terms the same way).

Glossary: B batch, K boxes, S scale entries.
"""

from __future__ import annotations

import torch

from robosmplx_core.losses._common import as_weights, check_pair, weighted_mean

__all__ = ["box_loss"]


def box_loss(
    pred_centers: torch.Tensor,
    pred_scales: torch.Tensor,
    gt_centers: torch.Tensor,
    gt_scales: torch.Tensor,
    gt_valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """L_box: L1 between predicted and GT centre and scale of the part boxes.

    Args:
        pred_centers: ``(B, K, 2)`` predicted box centres.
        pred_scales: ``(B, K, S)`` predicted box scales.
        gt_centers: ``(B, K, 2)`` GT centres (finite).
        gt_scales: ``(B, K, S)`` GT scales (finite).
        gt_valid: ``(B, K)`` 1 (or a weight) for boxes with GT, 0 without; ``None`` = all.

    Returns:
        Scalar ``mean_L1(centres) + mean_L1(scales)`` over the valid boxes.
    """
    dims = check_pair(pred_centers, gt_centers, "B K 2", pred_name="pred_centers", gt_name="gt_centers")
    dims = check_pair(
        pred_scales, gt_scales, "B K S", pred_name="pred_scales", gt_name="gt_scales", dims=dims
    )
    weights = as_weights(gt_valid, "B K", name="gt_valid", dims=dims, like=pred_centers)
    center_term = weighted_mean((pred_centers - gt_centers).abs(), weights)
    scale_term = weighted_mean((pred_scales - gt_scales).abs(), weights)
    return center_term + scale_term
