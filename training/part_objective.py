"""The Hand and Face subnetworks' training objective (paper sec. 4.1, part-specific training).

A part subnetwork built with ``part_only=True`` predicts, besides its own rotations (hand: the
15 right-hand finger rotations; face: the jaw rotation and the expression), a part-only global
orientation, betas and weak-perspective crop camera. :class:`PartObjective` reads them as
``training.part_eval`` does (so training and ``robosmplx eval`` agree):

- ``global_orient`` is the SMPL-X global orientation that, with the body at rest, orients the
  part in the camera frame: the rest body chain is identity, so it is the world rotation of the
  part's frame joint (:data:`PART_FRAME_JOINT`: the right wrist for the hand, the head for the
  face). Its ground truth is that joint's world rotation in the sample's parameters
  (:func:`world_rotation`: global orientation times the body rotations down the chain);
- the body model on (body at rest, that orientation, the part's rotations, betas, neutral rest
  elsewhere) gives the spec's joints (hand: the right hand's 21; face: neck + 72) and the mesh,
  both moved so that the part's root joint (index 0: right wrist / neck) is at the origin;
- the crop camera places that root: ``transl`` (B, 3) is the root joint in the crop camera
  (``FlaggedObjective.crop_transl``), so ``joints + transl`` is the part in the camera frame.

Terms (``training.objective.FlaggedObjective``, flag-weighted exactly as the body's): L_3D and
L_con on root-aligned joints, L_2D through the crop camera, L_BM on the part's rotations with
the part-only global orientation as its first rotation (where ``global_orient`` and
``body_pose`` are valid) and the finger rotations (``right_hand_pose``) / jaw (``jaw_pose``),
the part-only betas (``betas``), the face's expression (``expression``, weight
``bm_expression``); L_segm on the part maps; L_proj on the soft-rendered faces of the part's
labels (``body_model.parts``; the rest of the body is not rendered: synthetic part labels mark it
background); the volume keypoint term with depth relative to the root (use a part-sized
``objective.volume_depth_m``, e.g. Hand4Whole's 0.3 m).

The face's neck: with the body at rest the neck->head offset turns with the head's rotation,
not the neck's, so a posed neck leaves a constant offset between the neck and the face points
(the evaluation has the same convention).

Glossary: B batch, J joints of the spec, R rotations, V vertices, NB betas, NE expression.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Callable, Optional, Sequence

import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.body_model.joints import SMPLX_JOINT_NAMES
from robosmplx_core.data.datasets.common import PARAM_FIELDS, TrainingBatch, TrainingSample
from robosmplx_core.data.synthetic import SyntheticBatch, SyntheticSample
from robosmplx_core.nets.specs import PART_SPECS
from robosmplx_core.nets.subnet import SubnetOutput
from robosmplx_core.types import SMPLXParams
from training.evaluate import chordal_mean
from training.objective import BodyObjective, BodyPrediction, FlaggedObjective, ObjectiveConfig, ParamTargets
from training.targets import BatchWeights

__all__ = ["PART_FRAME_JOINT", "OBJECTIVES", "PartObjective", "build_objective", "world_rotation",
           "fit_coefficients", "part_mean_rotations"]

PART_FRAME_JOINT: dict[str, str] = {"hand": "right_wrist", "face": "head"}
"""SMPL-X joint whose world rotation the part-only ``global_orient`` stands for."""
_FIELD = {name: i for i, name in enumerate(PARAM_FIELDS)}
_OWN_ROTATIONS: dict[str, str] = {"hand": "right_hand_pose", "face": "jaw_pose"}


def fit_coefficients(values: torch.Tensor, size: int) -> torch.Tensor:
    """(B, N) -> (B, size): truncate, or pad with zeros (betas / expression of another length)."""
    if values.shape[1] >= size:
        return values[:, :size]
    return torch.cat([values, values.new_zeros(values.shape[0], size - values.shape[1])], dim=1)


def world_rotation(params: SMPLXParams, joint: int, parents: Sequence[int]) -> torch.Tensor:
    """(B, 3, 3) world (camera-frame) rotation of body joint ``joint`` (0..21): the global
    orientation times the parent-relative body rotations down the kinematic chain."""
    if not 0 <= joint <= 21:
        raise ValueError(f"world_rotation: joint {joint} is not a body joint (0..21)")
    chain = [joint]
    while parents[chain[-1]] >= 0:
        chain.append(int(parents[chain[-1]]))
    rot = params.global_orient
    for j in reversed(chain[:-1]):  # chain[-1] is the pelvis
        rot = rot @ params.body_pose[:, j - 1]
    return rot


def part_mean_rotations(samples: Sequence[SyntheticSample | TrainingSample], part: str) -> Optional[torch.Tensor]:
    """(R, 3, 3) chordal mean of the part's own rotations (hand: 15 fingers; face: jaw) over the
    samples whose parameters have them, or None when none has (HMR's mean initialisation)."""
    name = _OWN_ROTATIONS[part]
    rows = [getattr(s.params, name).reshape(-1, 3, 3) for s in samples
            if isinstance(s, SyntheticSample) or bool(s.params_valid[_FIELD[name]])]
    return chordal_mean(torch.stack(rows)) if rows else None


class PartObjective(FlaggedObjective):
    """Loss of the Hand or Face subnetwork built with ``part_only=True`` (module docstring).

    Args:
        body_model: a 144-joint body model (``use_face_contour=True``), frozen here.
        part: "hand" | "face".
        config: weights and settings (``ObjectiveConfig``); the face's expression term uses
            ``weights.bm_expression``.
    """

    def __init__(self, *, body_model: BodyModel, part: str, config: ObjectiveConfig | None = None) -> None:
        if part not in PART_FRAME_JOINT:
            raise ValueError(f"PartObjective: part must be one of {sorted(PART_FRAME_JOINT)}, got {part!r} "
                             "(the body uses training.objective.BodyObjective)")
        super().__init__(body_model=body_model, spec=PART_SPECS[part], config=config)
        self.part = part
        self.frame_joint = SMPLX_JOINT_NAMES.index(PART_FRAME_JOINT[part])
        self.parents = [int(p) for p in body_model.parents]

    def params(self, out: SubnetOutput) -> SMPLXParams:
        """SMPL-X parameters (B) at zero translation: body at rest, the part-only orientation and
        betas, the part's rotations (and expression); the rest neutral."""
        if out.global_orient is None or out.betas is None or out.camera is None:
            raise ValueError(f"PartObjective: the {self.part} network has no part-only branches; build it with "
                             f"PartSubnetwork(..., part_only=True) (the trainer does for stage={self.part})")
        m = self.body_model
        rest = SMPLXParams.zeros(out.batch_size, num_betas=m.num_betas, num_expression=m.num_expression,
                                 device=out.rotmats.device)
        params = replace(rest, global_orient=out.global_orient, betas=fit_coefficients(out.betas, m.num_betas))
        if self.part == "hand":
            return replace(params, right_hand_pose=out.rotmats)
        return replace(params, jaw_pose=out.rotmats[:, 0],
                       expression=fit_coefficients(out.expression, m.num_expression))

    def predict(self, out: SubnetOutput, K: torch.Tensor, crop_size: int) -> BodyPrediction:
        """The part in the crop camera: joints (B, J, 3) and vertices (B, V, 3) relative to the
        root joint, ``transl`` (B, 3) the root in the camera; ``params.transl`` places the
        body model's output in the camera frame."""
        params = self.params(out)
        model_out = self.body_model(params)
        joints = model_out.joints[:, self.joint_index]
        root = joints[:, self.root]
        transl = self.crop_transl(out.camera, K, crop_size)
        return BodyPrediction(params=replace(params, transl=transl - root), joints=joints - root[:, None],
                              vertices=model_out.vertices - root[:, None], transl=transl)

    def param_targets(self, out: SubnetOutput, batch: TrainingBatch | SyntheticBatch,
                      bw: BatchWeights) -> ParamTargets:
        """L_BM: [part-only orientation, own rotations], betas, and the face's expression."""
        gt = batch.params
        own = _OWN_ROTATIONS[self.part]
        gt_own = getattr(gt, own).reshape(out.rotmats.shape)
        gt_rot = torch.cat([world_rotation(gt, self.frame_joint, self.parents)[:, None], gt_own], dim=1)
        pred_rot = torch.cat([out.global_orient[:, None], out.rotmats], dim=1)
        nb = out.betas.shape[1]
        targets = ParamTargets(pred_rotations=pred_rot, gt_rotations=gt_rot, has_rotations=None,
                               pred_betas=out.betas, gt_betas=fit_coefficients(gt.betas, nb), has_betas=None)
        if self.part == "face":
            ne = out.expression.shape[1]
            targets = replace(targets, pred_expression=out.expression,
                              gt_expression=fit_coefficients(gt.expression, ne))
        if isinstance(batch, SyntheticBatch):
            return targets
        valid = batch.params_valid.to(out.rotmats.dtype)
        orient = valid[:, _FIELD["global_orient"]] * valid[:, _FIELD["body_pose"]]
        has_rot = torch.cat([orient[:, None], valid[:, _FIELD[own], None].expand(-1, out.rotmats.shape[1])], dim=1)
        targets = replace(targets, has_rotations=has_rot, has_betas=valid[:, _FIELD["betas"]])
        if self.part == "face":
            targets = replace(targets, has_expression=valid[:, _FIELD["expression"]])
        return targets


OBJECTIVES: dict[str, Callable[..., FlaggedObjective]] = {
    "body": BodyObjective,
    "hand": partial(PartObjective, part="hand"),
    "face": partial(PartObjective, part="face"),
}
"""Part -> objective class, called with ``body_model=`` and ``config=``."""


def build_objective(part: str, *, body_model: BodyModel, config: ObjectiveConfig | None = None) -> FlaggedObjective:
    """The objective of the ``part`` subnetwork: :class:`BodyObjective` or :class:`PartObjective`.

    Raises:
        ValueError: unknown ``part`` (the valid ones listed).
    """
    if part not in OBJECTIVES:
        raise ValueError(f"unknown part {part!r}: expected one of {sorted(OBJECTIVES)}")
    return OBJECTIVES[part](body_model=body_model, config=config)
