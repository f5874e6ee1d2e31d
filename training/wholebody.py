"""The whole-body stage (paper sec. 4.1): the assembled network trained on full images.

A training image here is a body sample at full resolution (``data.train.image_size``, e.g.
512 px for COCO-WholeBody): the network is given the image, a person box and the image's
intrinsics, crops the body itself (``network.input_size``), derives the hand and face boxes from
the body's joints plus its box head, crops those from the full-resolution image and merges
everything into one SMPL-X in the image's camera (``nets.wholebody``).

- Person box (:func:`person_boxes`): what a detector would give, the extent of the person
  mask, else of the labelled joints inside the image (the whole image when neither gives a
  usable box).
- Objective (:class:`WholeBodyObjective`, on the flag-weighted base of the part objectives):
  L_3D on the 137 joints (pelvis-aligned), L_2D through the image's K, L_BM on all 53 rotations
  (global, body, both hands, jaw), betas and expression, L_proj on the whole mesh at
  ``render_size``, the body's volume term in its crop's coordinates (and the heatmap term of
  its 2D keypoint stage when it has one, in the same coordinates), and L_box: the corrected
  part boxes (``part_box_center_scale``, body-crop normalised) against the ground-truth boxes
  enlarged by the network's ``hand_box_scale`` / ``face_box_scale`` (so they aim at the crops
  the part subnetworks saw), weighted by ``boxes_valid``.
- Start (:func:`build_wholebody_network`): ``wholebody.init_parts`` loads the three part
  stages' checkpoints into the subnetworks (part-only branches dropped).

Glossary: B batch, S full image side, J = 137 joints, R = 53 rotations.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.data.datasets.common import PARAM_FIELDS, TrainingBatch
from robosmplx_core.data.synthetic import SyntheticBatch
from robosmplx_core.nets.checkpoint import load_checkpoint
from robosmplx_core.nets.crop import box_center_size
from robosmplx_core.nets.specs import BODY_SPEC
from robosmplx_core.nets.wholebody import WholeBodyNetwork, WholeBodyOutput
from training.config import PartInits, TrainConfig
from training.objective import BodyPrediction, FlaggedObjective, ObjectiveConfig, ParamTargets
from training.part_eval import to_body_model
from training.part_objective import fit_coefficients
from training.targets import BatchWeights

__all__ = ["ROTATION_GROUPS", "BOX_FIELDS", "MIN_BOX_FRACTION", "person_boxes", "shifted_boxes", "enlarged_part_boxes",
           "wholebody_inputs", "WholeBodyObjective", "build_wholebody_network", "load_part_inits", "objective_for"]

ROTATION_GROUPS: tuple[tuple[str, int], ...] = (("global_orient", 1), ("body_pose", 21), ("left_hand_pose", 15),
                                                ("right_hand_pose", 15), ("jaw_pose", 1))
"""(SMPLXParams field, rotations) in the order of the R = 53 rotations L_BM compares."""
BOX_FIELDS = ("left_hand_box_cxcys", "right_hand_box_cxcys", "face_box_cxcys")
"""Sample fields of the ground-truth part boxes, in ``nets.wholebody.PART_BOX_NAMES`` order."""


MIN_BOX_FRACTION = 0.1
"""A person box whose longer side is below this fraction of the image side is degenerate
(coincident labels): the whole image is used instead."""


def _extent(points: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """(B, 4) xyxy extent of ``points`` (B, N, 2) where ``keep`` (B, N) (inf where none)."""
    big = torch.finfo(points.dtype).max
    lo = torch.where(keep[..., None], points, torch.full_like(points, big)).amin(dim=1)
    hi = torch.where(keep[..., None], points, torch.full_like(points, -big)).amax(dim=1)
    return torch.cat([lo, hi], dim=1)


def person_boxes(batch: TrainingBatch | SyntheticBatch) -> torch.Tensor:
    """(B, 4) xyxy person boxes in image pixels, as a detector would give them: the extent of
    the person mask where the sample has one (``has_person_mask``; every synthetic sample),
    else of the labelled joints inside the image (``joints_visible`` and ``joints2d_conf`` > 0).
    The whole image for a sample with neither (fewer than two labelled joints) or whose box
    is degenerate (longer side < ``MIN_BOX_FRACTION`` of the image)."""
    size = float(batch.image.shape[-1])
    labelled = batch.joints_visible.clone()
    has_mask = torch.ones_like(labelled[:, 0]) if isinstance(batch, SyntheticBatch) else batch.has_person_mask.clone()
    if isinstance(batch, TrainingBatch):
        labelled &= batch.joints2d_conf > 0
    boxes = _extent(batch.joints2d, labelled)
    cols, rows = batch.person_mask.any(dim=1), batch.person_mask.any(dim=2)  # (B, S) each
    has_mask &= cols.any(dim=1)
    if bool(has_mask.any()):
        def first_last(occupied: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            first = occupied.to(torch.uint8).argmax(dim=1)
            last = occupied.shape[1] - 1 - occupied.flip(1).to(torch.uint8).argmax(dim=1)
            return first, last
        (x0, x1), (y0, y1) = first_last(cols), first_last(rows)
        # pixel (r, c) spans [c, c + 1] x [r, r + 1]
        from_mask = torch.stack([x0, y0, x1 + 1, y1 + 1], dim=1).to(boxes.dtype)
        boxes = torch.where(has_mask[:, None], from_mask, boxes)
    side = (boxes[:, 2:] - boxes[:, :2]).amax(dim=1)
    ok = has_mask | (labelled.sum(dim=1) >= 2)
    ok &= torch.isfinite(side) & (side >= MIN_BOX_FRACTION * size)
    whole = torch.tensor([0.0, 0.0, size, size], dtype=boxes.dtype, device=boxes.device).expand_as(boxes)
    return torch.where(ok[:, None], boxes, whole)


def shifted_boxes(boxes_xyxy: torch.Tensor, *, translate: tuple[float, float] = (0.0, 0.0),
                  scale: float = 1.0) -> torch.Tensor:
    """Person boxes (B, 4) moved by ``translate`` box widths / heights and scaled about their
    centre by ``scale``: the robustness protocol's imprecise detector box."""
    center = 0.5 * (boxes_xyxy[:, :2] + boxes_xyxy[:, 2:])
    size = boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]
    center = center + torch.tensor(translate, dtype=boxes_xyxy.dtype, device=boxes_xyxy.device) * size
    return torch.cat([center - 0.5 * scale * size, center + 0.5 * scale * size], dim=1)


def enlarged_part_boxes(batch: TrainingBatch | SyntheticBatch, scales: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) ground-truth left hand, right hand and face boxes ``(cx, cy, side)`` in image
    pixels, their sides times ``scales`` (3,): what the whole-body network's part crops aim at
    (the L_box targets)."""
    gt = torch.stack([getattr(batch, f) for f in BOX_FIELDS], dim=1)
    return torch.cat([gt[..., :2], gt[..., 2:] * scales.to(gt)[None, :, None]], dim=-1)


def wholebody_inputs(batch: TrainingBatch | SyntheticBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(person boxes (B, 4), intrinsics (B, 3, 3)): the whole-body network's inputs besides
    the normalised images."""
    return person_boxes(batch), batch.K


def _params_valid(batch: TrainingBatch | SyntheticBatch, name: str) -> Optional[torch.Tensor]:
    """(B,) float flag of one SMPL-X field (None = every sample has it: synthetic)."""
    if isinstance(batch, SyntheticBatch):
        return None
    return batch.params_valid[:, PARAM_FIELDS.index(name)].to(batch.joints2d.dtype)


class WholeBodyObjective(FlaggedObjective):
    """Loss of the whole-body network (module docstring); ``out`` is a :class:`WholeBodyOutput`.

    Args:
        body_model: SMPL-X with ``use_face_contour=True``.
        config: weights (``segmentation`` and ``contrastive`` must be 0) and the volume settings.
        part_box_scales: enlargement of the ground-truth left hand, right hand and face boxes
            for L_box (the network's ``hand_box_scale``, ``hand_box_scale``, ``face_box_scale``).
    """

    def __init__(self, *, body_model: BodyModel, config: ObjectiveConfig | None = None,
                 part_box_scales: tuple[float, float, float] = (1.6, 1.6, 1.4)) -> None:
        super().__init__(body_model=body_model, spec=BODY_SPEC, config=config)
        w = self.config.weights
        if w.segmentation or w.contrastive:
            raise ValueError("WholeBodyObjective: weights.segmentation and weights.contrastive must be 0 (no "
                             "crop-aligned part maps, no positive pairs in the whole-body stage)")
        self.register_buffer("box_scales", torch.tensor(part_box_scales, dtype=torch.float32), persistent=False)

    def predict(self, out: WholeBodyOutput, K: torch.Tensor, crop_size: int) -> BodyPrediction:
        """The body model on the merged parameters; translation already in the image's camera."""
        params = to_body_model(self.body_model, out.params)  # betas / expression fitted to the model
        model_out = self.body_model(replace(params, transl=torch.zeros_like(params.transl)))
        return BodyPrediction(params=params, joints=model_out.joints[:, self.joint_index],
                              vertices=model_out.vertices, transl=params.transl)

    def param_targets(self, out: WholeBodyOutput, batch: TrainingBatch | SyntheticBatch,
                      bw: BatchWeights) -> ParamTargets:
        """L_BM on the 53 rotations, betas and expression, each where its field is valid."""
        def rotations(params) -> torch.Tensor:
            return torch.cat([getattr(params, n).reshape(params.betas.shape[0], k, 3, 3) for n, k in ROTATION_GROUPS],
                             dim=1)
        flags = [_params_valid(batch, n) for n, _ in ROTATION_GROUPS]
        has_rot = None if flags[0] is None else torch.cat([f[:, None].expand(-1, k) for f, (_, k)
                                                           in zip(flags, ROTATION_GROUPS)], dim=1)
        pred, gt = out.params, batch.params
        nb, ne = pred.betas.shape[1], pred.expression.shape[1]  # compared at the network's sizes
        return ParamTargets(pred_rotations=rotations(pred), gt_rotations=rotations(gt), has_rotations=has_rot,
                            pred_betas=pred.betas, gt_betas=fit_coefficients(gt.betas, nb),
                            has_betas=_params_valid(batch, "betas"), pred_expression=pred.expression,
                            gt_expression=fit_coefficients(gt.expression, ne),
                            has_expression=_params_valid(batch, "expression"))

    def segm_logits(self, out: WholeBodyOutput) -> None:
        return None  # the body's part maps are in its crop; L_segm belongs to the body stage

    def volume_joints(self, out: WholeBodyOutput) -> Optional[torch.Tensor]:
        return out.body.joints

    def keypoint_heatmaps(self, out: WholeBodyOutput) -> Optional[torch.Tensor]:
        return getattr(out.body, "heatmaps", None)  # the body subnetwork's 2D keypoint stage, in its crop

    def facing_logits(self, out: WholeBodyOutput) -> Optional[torch.Tensor]:
        return getattr(out.body, "facing", None)  # the body subnetwork's facing branch

    def volume_xy(self, out: WholeBodyOutput, batch: TrainingBatch | SyntheticBatch, crop: int) -> torch.Tensor:
        """The ground-truth joints in the body crop's normalised coordinates (B, J, 2): the
        targets of the body's volume term and of its 2D keypoint stage's heatmap term."""
        center, size = box_center_size(out.body_boxes_xyxy.detach())
        return (batch.joints2d - center[:, None]) / (0.5 * size[:, None, 0:1])

    def box_terms(self, out: WholeBodyOutput, batch: TrainingBatch | SyntheticBatch) -> tuple[dict, dict]:
        """L_box: predicted and ground-truth (cx, cy) and side in body-crop normalised units."""
        gt = enlarged_part_boxes(batch, self.box_scales)  # (B, 3, 3) image pixels
        center, size = box_center_size(out.body_boxes_xyxy.detach())
        half = 0.5 * size[:, 0, None, None]
        pred = out.part_box_center_scale
        valid = batch.boxes_valid.to(gt.dtype) if isinstance(batch, TrainingBatch) else None
        return ({"box_centers": pred[..., :2], "box_scales": pred[..., 2:]},
                {"box_centers": (gt[..., :2] - center[:, None]) / half, "box_scales": gt[..., 2:] / half,
                 "box_valid": valid})


def load_part_inits(net: WholeBodyNetwork, inits: PartInits) -> list[str]:
    """Load ``inits.body/hand/face`` checkpoint folders into the subnetworks; returns notes.

    Raises:
        ValueError: a checkpoint of another part, or of another architecture (named).
    """
    notes = []
    for role in ("body", "hand", "face"):
        folder = getattr(inits, role)
        if not folder:
            continue
        ckpt = load_checkpoint(folder)
        if ckpt.meta.kind != f"subnet:{role}":
            raise ValueError(f"wholebody.init_parts.{role}={folder}: holds a {ckpt.meta.kind!r} network, not the "
                             f"{role} subnetwork; point it at a checkpoint of the {role} stage")
        section = "network.*" if role == "body" else f"wholebody.{role}.*"
        getattr(net, role).load_shared_weights(ckpt.network.state_dict(),
                                               source=f"wholebody.init_parts.{role}={folder} (settings: {section})")
        dropped = " (part-only branches dropped)" if ckpt.meta.part_only else ""
        notes.append(f"{role} subnetwork from {folder}{dropped}")
    return notes


def build_wholebody_network(cfg: TrainConfig) -> WholeBodyNetwork:
    """The whole-body network of ``cfg`` (``network`` + ``wholebody``), randomly initialised."""
    return WholeBodyNetwork.from_config(cfg.network_config)  # type: ignore[arg-type]


def objective_for(cfg: TrainConfig, body_model: BodyModel) -> WholeBodyObjective:
    """The :class:`WholeBodyObjective` of ``cfg`` (its box scales from ``cfg.wholebody``)."""
    w = cfg.wholebody
    return WholeBodyObjective(body_model=body_model, config=cfg.objective,
                              part_box_scales=(w.hand_box_scale, w.hand_box_scale, w.face_box_scale))
