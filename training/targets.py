"""Per-term weights of a training batch: which ground truth each loss term may use.

A :class:`~robosmplx_core.data.datasets.common.TrainingBatch` flags what each sample has;
:func:`batch_weights` turns the flags into the weights ``BodyObjective`` hands to the losses
(``losses.inputs.LossTargets``): a weight 0 removes an element, and a term whose weights are
all 0 is exactly 0 (``losses._common.weighted_mean``). A
:class:`~robosmplx_core.data.synthetic.SyntheticBatch` has every label: its weights are the
visibility for the 2D joints and ``None`` (= all 1) elsewhere, as before the flags existed.

Glossary: B batch, J joints of the part spec (137 for the body), s part-map side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from robosmplx_core.data.datasets.common import IGNORE_LABEL, PARAM_FIELDS, TrainingBatch
from robosmplx_core.data.synthetic import SyntheticBatch, resize_segmentation

__all__ = ["PELVIS", "BatchWeights", "batch_weights"]

PELVIS = 0
"""Index of the pelvis in the 137 whole-body joints (the root of L_3D, L_con and the volume depth)."""
_GLOBAL_ORIENT, _BODY_POSE, _BETAS = (PARAM_FIELDS.index(n) for n in ("global_orient", "body_pose", "betas"))


@dataclass(frozen=True)
class BatchWeights:
    """What each term of the body objective may use (``None`` = every element, weight 1).

    joints2d: (B, J) float, ``joints_visible`` x ``joints2d_conf`` (L_2D, volume x / y).
    joints3d: (B, J) float or None, ``joints3d_conf`` x ``has_joints3d`` (L_3D, L_con).
    volume_depth: (B, J) float, 3D weight x visibility x (root has 3D): the volume term's z.
    rotations: (B, 22) float or None, ``params_valid`` of global_orient (column 0) and body_pose
        (the body's rotations; the part objectives read ``params_valid`` themselves).
    betas: (B,) float or None, ``params_valid`` of betas.
    segmentation: (B,) float or None, ``has_segmentation`` (L_segm).
    person_mask: (B, S, S) bool or None: the batch's masks where a sample has a mask but no
        segmentation (then L_proj uses them), None when there is no such sample.
    rendered_mask: (B,) float or None, ``has_segmentation`` or ``has_person_mask`` (L_proj).
    segmentation_labels: (B, S, S) int64 or None, the batch's part labels, kept with
        ``person_mask`` (to merge both into the L_proj targets).
    """

    joints2d: torch.Tensor
    joints3d: Optional[torch.Tensor]
    volume_depth: torch.Tensor
    rotations: Optional[torch.Tensor]
    betas: Optional[torch.Tensor]
    segmentation: Optional[torch.Tensor]
    person_mask: Optional[torch.Tensor]
    rendered_mask: Optional[torch.Tensor]
    segmentation_labels: Optional[torch.Tensor]

    def volume(self, dtype: torch.dtype) -> torch.Tensor:
        """(B, J, 3) weights of the volume keypoint term: x, y from 2D, z from 3D."""
        w2 = self.joints2d.to(dtype)[..., None]
        return torch.cat([w2, w2, self.volume_depth.to(dtype)[..., None]], dim=-1)

    def mask_only_labels(self, size: int) -> Optional[torch.Tensor]:
        """(B, size, size) int64 targets of L_proj when some sample has a person mask but no
        segmentation: its background (0) outside the mask and ``IGNORE_LABEL`` inside (which
        part is unknown); the segmentation elsewhere. None when every target is a segmentation."""
        if self.person_mask is None or self.segmentation_labels is None or self.segmentation is None:
            return None
        seg = resize_segmentation(self.segmentation_labels, size)
        mask = resize_segmentation(self.person_mask.to(torch.uint8), size) > 0
        from_mask = torch.where(mask, torch.full_like(seg, IGNORE_LABEL), torch.zeros_like(seg))
        has_seg = self.segmentation.bool()[:, None, None]
        return torch.where(has_seg, seg, from_mask)


def batch_weights(batch: TrainingBatch | SyntheticBatch, *, root: int = PELVIS) -> BatchWeights:
    """The :class:`BatchWeights` of ``batch`` (module docstring); ``root``: index of the root
    joint in the batch's J joints (the volume depth is relative to it; 0 in every part spec:
    pelvis, right wrist, neck)."""
    vis = batch.joints_visible.to(batch.joints2d.dtype)
    if isinstance(batch, SyntheticBatch):
        return BatchWeights(joints2d=vis, joints3d=None, volume_depth=vis, rotations=None, betas=None,
                            segmentation=None, person_mask=None, rendered_mask=None, segmentation_labels=None)
    if not isinstance(batch, TrainingBatch):
        raise TypeError(f"batch_weights: expected a TrainingBatch or SyntheticBatch, got {type(batch).__name__}; "
                        "collate samples with collate_training_samples")
    dtype = batch.joints2d.dtype
    w3 = batch.joints3d_conf.to(dtype) * batch.has_joints3d.to(dtype)[:, None]
    root_ok = (w3[:, root] > 0).to(dtype)[:, None]
    valid = batch.params_valid.to(dtype)
    rotations = torch.cat([valid[:, _GLOBAL_ORIENT:_GLOBAL_ORIENT + 1], valid[:, _BODY_POSE:_BODY_POSE + 1]
                           .expand(-1, 21)], dim=1)
    has_seg, has_mask = batch.has_segmentation, batch.has_person_mask
    mask_only = bool((has_mask & ~has_seg).any())
    return BatchWeights(
        joints2d=vis * batch.joints2d_conf.to(dtype), joints3d=w3, volume_depth=vis * w3 * root_ok,
        rotations=rotations, betas=valid[:, _BETAS], segmentation=has_seg.to(dtype),
        person_mask=batch.person_mask if mask_only else None, rendered_mask=(has_seg | has_mask).to(dtype),
        segmentation_labels=batch.segmentation if mask_only else None,
    )
