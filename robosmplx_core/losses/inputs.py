"""What the combined loss reads: the predictions and the targets of one training batch.

Every field documents its shape; ``None`` means "not available", and a term whose weight is
non-zero raises a ``ValueError`` naming the missing field. Units: metres for 3D, pixels of the
network's input crop for GT 2D keypoints, normalised crop coordinates for everything the
weak-perspective camera produces (see ``losses.keypoints``).

Glossary: B batch (2N when ``paired_positives``), J joints, R rotations, P parts, K part boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["LossPredictions", "LossTargets"]


@dataclass(frozen=True)
class LossPredictions:
    """Network outputs the losses compare with the targets.

    joints: ``(B, J, 3)`` joints regressed from the predicted body model, body frame (metres);
        L_3D and L_con root-align them, L_2D projects them.
    cam: ``(B, 3)`` weak-perspective crop camera ``[s, tx, ty]``; used by L_2D when
        ``transl`` is ``None``.
    transl: ``(B, 3)`` translation of the body in the crop camera frame (metres, e.g.
        ``geometry.projection.weak_perspective_to_translation(cam, ...)``); when given, L_2D
        projects ``joints + transl`` with ``LossTargets.intrinsics`` (perspective, as the paper).
    rotations: ``(B, R, 3, 3)`` or ``(B, R, 6)`` predicted rotations (L_BM).
    betas: ``(B, C_beta)`` shape coefficients (L_BM).
    expression: ``(B, C_expr)`` expression coefficients (L_BM, face / whole body).
    segm_logits: ``(B, P + 1, h, w)`` part-segmentation logits of the Localization Module.
    rendered_part_probs: ``(B, P + 1, H, W)`` soft-rendered part probabilities of the
        predicted mesh (channel 0 = background), for L_proj.
    rendered_silhouette: ``(B, H, W)`` soft-rendered coverage for the silhouette variant;
        ``None`` uses ``1 - rendered_part_probs[:, 0]``.
    box_centers: ``(B, K, 2)`` hand/face box centres (L_box).
    box_scales: ``(B, K, S)`` hand/face box scales (L_box).
    """

    joints: torch.Tensor
    cam: torch.Tensor | None = None
    transl: torch.Tensor | None = None
    rotations: torch.Tensor | None = None
    betas: torch.Tensor | None = None
    expression: torch.Tensor | None = None
    segm_logits: torch.Tensor | None = None
    rendered_part_probs: torch.Tensor | None = None
    rendered_silhouette: torch.Tensor | None = None
    box_centers: torch.Tensor | None = None
    box_scales: torch.Tensor | None = None


@dataclass(frozen=True)
class LossTargets:
    """Ground truth of a batch; every tensor must be finite (fill what is missing with 0 and
    give it weight 0).

    joints_3d: ``(B, J, 3)`` GT 3D joints (metres; only their root-aligned form is used).
    joints_3d_weights: ``(B, J)`` per-joint confidence / visibility (0 = missing); ``None`` = 1.
    keypoints_2d_px: ``(B, J, 2)`` GT 2D keypoints in pixels of the input crop.
    keypoints_2d_weights: ``(B, J)`` per-joint confidence / visibility; ``None`` = 1.
    image_size_wh: ``(W, H)`` of the input crop in pixels (normalises 2D coordinates).
    intrinsics: ``(B, 3, 3)`` (or ``(3, 3)``) crop intrinsics for perspective L_2D.
    rotations: ``(B, R, 3, 3)`` or ``(B, R, 6)`` GT rotations.
    has_rotations: ``(B,)`` or ``(B, R)`` 1 where the rotation GT exists; ``None`` = all.
    betas: ``(B, C_beta)``; has_betas: ``(B,)``.
    expression: ``(B, C_expr)``; has_expression: ``(B,)``.
    part_labels: ``(B, H', W')`` int64 part labels, 0 background, 1..P parts, 255 unlabelled
        (``losses.segmentation.IGNORE_LABEL``); any resolution (nearest-resized per loss).
    has_part_labels: ``(B,)`` 1 for samples with segmentation GT; ``None`` = all.
    box_centers: ``(B, K, 2)``; box_scales: ``(B, K, S)``; box_valid: ``(B, K)``.
    paired_positives: the batch is N anchors followed by their N augmented positives (the
        contrastive module's layout, eq. 2); ``False``: no positives in the batch.
    """

    joints_3d: torch.Tensor | None = None
    joints_3d_weights: torch.Tensor | None = None
    keypoints_2d_px: torch.Tensor | None = None
    keypoints_2d_weights: torch.Tensor | None = None
    image_size_wh: tuple[int, int] | None = None
    intrinsics: torch.Tensor | None = None
    rotations: torch.Tensor | None = None
    has_rotations: torch.Tensor | None = None
    betas: torch.Tensor | None = None
    has_betas: torch.Tensor | None = None
    expression: torch.Tensor | None = None
    has_expression: torch.Tensor | None = None
    part_labels: torch.Tensor | None = None
    has_part_labels: torch.Tensor | None = None
    box_centers: torch.Tensor | None = None
    box_scales: torch.Tensor | None = None
    box_valid: torch.Tensor | None = None
    paired_positives: bool = False
