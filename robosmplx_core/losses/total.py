"""The training objective, eq. 1 of the paper plus L_box for whole-body training:

    L = l_3D L_3D + l_2D L_2D + l_BM L_BM + l_proj L_proj + l_segm L_segm + l_con L_con (+ l_box L_box)

L_BM is split into its rotation, betas and expression parts, each with its own weight (the
authors' configs weight pose and betas differently), and the silhouette-only variant of L_proj
has its own weight (0 by default). A weight of 0 disables a term: it is not computed and its
inputs may be ``None``.

Glossary: see ``losses.inputs``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Callable, Mapping

import torch
from torch import nn

from robosmplx_core.checks import check_shape
from robosmplx_core.losses._common import RootIndex
from robosmplx_core.losses.boxes import box_loss
from robosmplx_core.losses.contrastive import contrastive_keypoint_loss
from robosmplx_core.losses.inputs import LossPredictions, LossTargets
from robosmplx_core.losses.keypoints import (
    keypoints_3d_loss,
    perspective_keypoints_2d_loss,
    pixels_to_normalized,
    weak_perspective_keypoints_2d_loss,
)
from robosmplx_core.losses.params import coefficient_loss, rotation_loss
from robosmplx_core.losses.segmentation import (
    part_segmentation_loss,
    projected_segmentation_loss,
    silhouette_loss,
)

__all__ = ["LossWeights", "LossBreakdown", "LossResult", "compute_losses", "TotalLoss"]


@dataclass(frozen=True)
class LossWeights:
    """Weight of each term (>= 0; 0 disables and skips it).

    Defaults follow the authors' body configuration (RoboSMPLX ``robosmplx_body.py``:
    keypoints3d 100, keypoints2d 10, pose 3, betas 0.02, projected mask 10, contrastive 2),
    with this package's units: metres for 3D, normalised crop coordinates ``[-1, 1]`` for 2D,
    rotation-matrix entries for rotations. Terms without an authors' value use Hand4Whole's
    weight 1 (expression, part segmentation, boxes). The silhouette variant of L_proj is off.

    keypoints_3d: L_3D. keypoints_2d: L_2D. bm_rotations, bm_betas, bm_expression: the three
    parts of L_BM. segmentation: L_segm. projection: L_proj (part maps). silhouette: L_proj's
    silhouette-only variant. contrastive: L_con. boxes: L_box (whole-body training only; set 0
    for part subnetworks). contrastive_tau_pos, contrastive_tau_neg: tau_pos and tau_neg of
    eq. 2 (weights inside L_con, not terms).
    """

    keypoints_3d: float = 100.0
    keypoints_2d: float = 10.0
    bm_rotations: float = 3.0
    bm_betas: float = 0.02
    bm_expression: float = 1.0
    segmentation: float = 1.0
    projection: float = 10.0
    silhouette: float = 0.0
    contrastive: float = 2.0
    boxes: float = 1.0
    contrastive_tau_pos: float = 1.0
    contrastive_tau_neg: float = 1.0

    def __post_init__(self) -> None:
        for weight in fields(self):
            value = getattr(self, weight.name)
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not is_number or not math.isfinite(value) or value < 0:
                raise ValueError(f"LossWeights.{weight.name}: expected a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class LossBreakdown:
    """Values for logging only (Python floats, detached): the weighted total and each term
    *unweighted*; a disabled term reads 0.0."""

    total: float
    keypoints_3d: float = 0.0
    keypoints_2d: float = 0.0
    bm_rotations: float = 0.0
    bm_betas: float = 0.0
    bm_expression: float = 0.0
    segmentation: float = 0.0
    projection: float = 0.0
    silhouette: float = 0.0
    contrastive: float = 0.0
    boxes: float = 0.0

    def as_dict(self) -> dict[str, float]:
        """``{"total": ..., "keypoints_3d": ..., ...}`` for a logger."""
        return asdict(self)


@dataclass(frozen=True)
class LossResult:
    """total: scalar tensor to back-propagate; breakdown: floats for logging; extra: the
    weighted values of terms an objective adds beyond the paper's (e.g. ``volume_keypoints``,
    ``heatmap_keypoints`` of ``training.objective``), floats for logging, already in ``total``."""

    total: torch.Tensor
    breakdown: LossBreakdown
    extra: Mapping[str, float] = field(default_factory=dict)


def _need(value: object, field: str, term: str) -> object:
    if value is None:
        raise ValueError(
            f"{field} is None but LossWeights.{term} > 0; provide it or set LossWeights.{term}=0"
        )
    return value


TermFn = Callable[[LossPredictions, LossTargets, LossWeights, RootIndex], torch.Tensor]


def _keypoints_3d(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    gt_joints = _need(gt.joints_3d, "LossTargets.joints_3d", "keypoints_3d")
    return keypoints_3d_loss(pred.joints, gt_joints, gt.joints_3d_weights, root_index=root)


def _keypoints_2d(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    gt_px = _need(gt.keypoints_2d_px, "LossTargets.keypoints_2d_px", "keypoints_2d")
    size = _need(gt.image_size_wh, "LossTargets.image_size_wh", "keypoints_2d")
    if pred.transl is not None:
        K = _need(gt.intrinsics, "LossTargets.intrinsics (used with LossPredictions.transl)", "keypoints_2d")
        dims = check_shape(pred.joints, "B J 3", name="LossPredictions.joints")
        check_shape(pred.transl, "B 3", name="LossPredictions.transl", dims=dims)
        joints_cam = pred.joints + pred.transl[:, None, :]
        return perspective_keypoints_2d_loss(
            joints_cam, gt_px, gt.keypoints_2d_weights, K=K, image_size_wh=size
        )
    cam = _need(pred.cam, "LossPredictions.cam (or .transl)", "keypoints_2d")
    gt_n = pixels_to_normalized(gt_px, size)
    return weak_perspective_keypoints_2d_loss(pred.joints, cam, gt_n, gt.keypoints_2d_weights)


def _bm_rotations(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    pred_rot = _need(pred.rotations, "LossPredictions.rotations", "bm_rotations")
    gt_rot = _need(gt.rotations, "LossTargets.rotations", "bm_rotations")
    return rotation_loss(pred_rot, gt_rot, gt.has_rotations, names=("pred_rotations", "gt_rotations"))


def _bm_betas(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    pred_betas = _need(pred.betas, "LossPredictions.betas", "bm_betas")
    gt_betas = _need(gt.betas, "LossTargets.betas", "bm_betas")
    return coefficient_loss(pred_betas, gt_betas, gt.has_betas, names=("pred_betas", "gt_betas"))


def _bm_expression(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    pred_expr = _need(pred.expression, "LossPredictions.expression", "bm_expression")
    gt_expr = _need(gt.expression, "LossTargets.expression", "bm_expression")
    return coefficient_loss(pred_expr, gt_expr, gt.has_expression, names=("pred_expression", "gt_expression"))


def _segmentation(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    logits = _need(pred.segm_logits, "LossPredictions.segm_logits", "segmentation")
    labels = _need(gt.part_labels, "LossTargets.part_labels", "segmentation")
    return part_segmentation_loss(logits, labels, gt_mask=gt.has_part_labels)


def _projection(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    probs = _need(pred.rendered_part_probs, "LossPredictions.rendered_part_probs", "projection")
    labels = _need(gt.part_labels, "LossTargets.part_labels", "projection")
    return projected_segmentation_loss(probs, labels, gt_mask=gt.has_part_labels)


def _silhouette(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    sil = pred.rendered_silhouette
    if sil is None:
        probs = _need(pred.rendered_part_probs, "LossPredictions.rendered_silhouette", "silhouette")
        check_shape(probs, "B C H W", name="LossPredictions.rendered_part_probs")
        sil = 1.0 - probs[:, 0]
    labels = _need(gt.part_labels, "LossTargets.part_labels", "silhouette")
    return silhouette_loss(sil, labels, gt_mask=gt.has_part_labels)


def _contrastive(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    gt_joints = _need(gt.joints_3d, "LossTargets.joints_3d", "contrastive")
    return contrastive_keypoint_loss(
        pred.joints, gt_joints, gt.joints_3d_weights, root_index=root,
        paired_positives=gt.paired_positives, tau_pos=w.contrastive_tau_pos, tau_neg=w.contrastive_tau_neg,
    )  # fmt: skip


def _boxes(pred: LossPredictions, gt: LossTargets, w: LossWeights, root: RootIndex) -> torch.Tensor:
    pred_c = _need(pred.box_centers, "LossPredictions.box_centers", "boxes")
    pred_s = _need(pred.box_scales, "LossPredictions.box_scales", "boxes")
    gt_c = _need(gt.box_centers, "LossTargets.box_centers", "boxes")
    gt_s = _need(gt.box_scales, "LossTargets.box_scales", "boxes")
    return box_loss(pred_c, pred_s, gt_c, gt_s, gt.box_valid)


_TERMS: dict[str, TermFn] = {
    "keypoints_3d": _keypoints_3d,
    "keypoints_2d": _keypoints_2d,
    "bm_rotations": _bm_rotations,
    "bm_betas": _bm_betas,
    "bm_expression": _bm_expression,
    "segmentation": _segmentation,
    "projection": _projection,
    "silhouette": _silhouette,
    "contrastive": _contrastive,
    "boxes": _boxes,
}


def compute_losses(
    pred: LossPredictions,
    target: LossTargets,
    weights: LossWeights | None = None,
    *,
    root_index: RootIndex = 0,
) -> LossResult:
    """Weighted sum of the enabled terms and a per-term breakdown for logging.

    Args:
        pred: predictions; ``pred.joints`` ``(B, J, 3)`` is always required.
        target: ground truth of the same batch.
        weights: term weights; ``None`` = ``LossWeights()``.
        root_index: root joint(s) of ``pred.joints`` for L_3D and L_con (pelvis for the body,
            wrist for the hand, neck for the face).

    Returns:
        ``LossResult``; ``total`` is a scalar with a gradient path to ``pred.joints`` even when
        every term is disabled or the batch is empty.

    Raises:
        ValueError: an enabled term misses an input (the message names the field and the
            weight to zero), NaN/inf in a target, or mismatching shapes.
    """
    if not isinstance(pred, LossPredictions) or not isinstance(target, LossTargets):
        raise TypeError("compute_losses: expected LossPredictions and LossTargets instances")
    weights = LossWeights() if weights is None else weights
    total = pred.joints[:0].sum()  # 0 with a gradient path, never NaN
    names: list[str] = []
    values: list[torch.Tensor] = []
    for name, term in _TERMS.items():
        weight = getattr(weights, name)
        if weight == 0.0:
            continue
        value = term(pred, target, weights, root_index)
        total = total + weight * value
        names.append(name)
        values.append(value.detach())
    logged = torch.stack([total.detach(), *values]).tolist()  # one host sync for all terms
    breakdown = LossBreakdown(total=logged[0], **dict(zip(names, logged[1:])))
    return LossResult(total=total, breakdown=breakdown)


class TotalLoss(nn.Module):
    """Thin holder of ``LossWeights`` and the root joint; ``forward`` = ``compute_losses``."""

    def __init__(self, *, weights: LossWeights | None = None, root_index: RootIndex = 0) -> None:
        super().__init__()
        self.weights = LossWeights() if weights is None else weights
        self.root_index = root_index

    def forward(self, pred: LossPredictions, target: LossTargets) -> LossResult:
        """See ``compute_losses``."""
        return compute_losses(pred, target, self.weights, root_index=self.root_index)
