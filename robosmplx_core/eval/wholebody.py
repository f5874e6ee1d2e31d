"""Whole-body evaluation in one call: all / body / hands / face, joints and (optionally) mesh.

``wholebody_errors_mm`` returns a ``WholeBodyErrors`` of per-sample (B,) errors in mm, whose
``as_dict()`` feeds ``MetricAccumulator.update``. Groups:
    - all: every joint (vertex), aligned at ``parts.body.root`` (MPJPE/PVE) or by Procrustes.
    - body: ``parts.body.joints``, aligned at ``parts.body.root``.
    - hands: each hand aligned at its wrist (``parts.left_hand`` / ``parts.right_hand``),
      left and right averaged per sample (``parts.mean_of_hands``).
    - face: aligned at the neck (``parts.face``).
PA-* fit a separate similarity transform per group (per hand). Vertex errors need both meshes;
a group whose ``PartSpec.vertices`` is None gets no vertex errors (field None).

``WHOLEBODY137_PARTS`` gives the groups for the 137 Hand4Whole/OSX keypoints
(``body_model.keypoint_sets.WHOLEBODY137_*``): body = the 25 body keypoints (root pelvis),
hands = the 20 finger keypoints each (root = that wrist, a body keypoint), face = the 72 face
keypoints (root neck). It has no vertex sets: set them with ``dataclasses.replace``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from robosmplx_core.body_model.keypoint_sets import (
    WHOLEBODY137_BODY,
    WHOLEBODY137_FACE,
    WHOLEBODY137_LEFT_HAND,
    WHOLEBODY137_NAMES,
    WHOLEBODY137_RIGHT_HAND,
)
from robosmplx_core.eval._arrays import ArrayLike
from robosmplx_core.eval.align import root_points
from robosmplx_core.eval.errors import mpjpe_mm, pa_mpjpe_mm, pa_pve_mm, pve_mm
from robosmplx_core.eval.parts import (
    PartSpec,
    mean_of_hands,
    part_mpjpe_mm,
    part_pa_mpjpe_mm,
    part_pa_pve_mm,
    part_pve_mm,
)

__all__ = ["WholeBodyParts", "WholeBodyErrors", "wholebody_errors_mm", "WHOLEBODY137_PARTS"]


@dataclass(frozen=True)
class WholeBodyParts:
    """The part index sets of a whole-body joint (and vertex) set.

    Fields:
        body: body joints; its ``root`` (pelvis, or both hips) also aligns the "all" group.
        left_hand: left-hand joints (and vertices), root = left wrist.
        right_hand: right-hand joints (and vertices), root = right wrist.
        face: face joints (and vertices), root = neck.
    """

    body: PartSpec
    left_hand: PartSpec
    right_hand: PartSpec
    face: PartSpec


def _range(s: slice) -> tuple[int, ...]:
    return tuple(range(s.start, s.stop))


WHOLEBODY137_PARTS = WholeBodyParts(
    body=PartSpec(joints=_range(WHOLEBODY137_BODY), root=WHOLEBODY137_NAMES.index("pelvis")),
    left_hand=PartSpec(joints=_range(WHOLEBODY137_LEFT_HAND), root=WHOLEBODY137_NAMES.index("left_wrist")),
    right_hand=PartSpec(joints=_range(WHOLEBODY137_RIGHT_HAND), root=WHOLEBODY137_NAMES.index("right_wrist")),
    face=PartSpec(joints=_range(WHOLEBODY137_FACE), root=WHOLEBODY137_NAMES.index("neck")),
)


@dataclass(frozen=True)
class WholeBodyErrors:
    """Per-sample whole-body errors, each (B,) in mm (kind of ``pred_joints``) or None.

    ``mpjpe_*`` / ``pa_mpjpe_*`` are joint errors, ``pve_*`` / ``pa_pve_*`` vertex errors (None
    without meshes or without the group's vertex set). NaN marks a sample with nothing to
    compare in that group (skipped by ``MetricAccumulator``).
    """

    mpjpe_all_mm: ArrayLike
    pa_mpjpe_all_mm: ArrayLike
    mpjpe_body_mm: ArrayLike
    pa_mpjpe_body_mm: ArrayLike
    mpjpe_hands_mm: ArrayLike
    pa_mpjpe_hands_mm: ArrayLike
    mpjpe_face_mm: ArrayLike
    pa_mpjpe_face_mm: ArrayLike
    pve_all_mm: ArrayLike | None = None
    pa_pve_all_mm: ArrayLike | None = None
    pve_hands_mm: ArrayLike | None = None
    pa_pve_hands_mm: ArrayLike | None = None
    pve_face_mm: ArrayLike | None = None
    pa_pve_face_mm: ArrayLike | None = None

    def as_dict(self) -> dict[str, ArrayLike]:
        """The fields that are set, by name (for ``MetricAccumulator.update``)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


def _joint_errors(pred, gt, parts: WholeBodyParts, weights) -> dict[str, ArrayLike]:
    kw = {"weights": weights}
    left, right = parts.left_hand, parts.right_hand
    hands = {
        name: mean_of_hands(fn(pred, gt, part=left, **kw), fn(pred, gt, part=right, **kw))
        for name, fn in (("mpjpe_hands_mm", part_mpjpe_mm), ("pa_mpjpe_hands_mm", part_pa_mpjpe_mm))
    }
    return {
        "mpjpe_all_mm": mpjpe_mm(pred, gt, root=parts.body.root, **kw),
        "pa_mpjpe_all_mm": pa_mpjpe_mm(pred, gt, **kw),
        "mpjpe_body_mm": part_mpjpe_mm(pred, gt, part=parts.body, **kw),
        "pa_mpjpe_body_mm": part_pa_mpjpe_mm(pred, gt, part=parts.body, **kw),
        **hands,
        "mpjpe_face_mm": part_mpjpe_mm(pred, gt, part=parts.face, **kw),
        "pa_mpjpe_face_mm": part_pa_mpjpe_mm(pred, gt, part=parts.face, **kw),
    }


def _vertex_errors(pv, gv, pj, gj, parts: WholeBodyParts, weights) -> dict[str, ArrayLike]:
    kw = {"weights": weights}
    out = {
        "pve_all_mm": pve_mm(
            pv, gv, pred_root=root_points(pj, parts.body.root), gt_root=root_points(gj, parts.body.root), **kw
        ),
        "pa_pve_all_mm": pa_pve_mm(pv, gv, **kw),
    }
    joints = {"pred_joints": pj, "gt_joints": gj}
    if parts.left_hand.vertices is not None and parts.right_hand.vertices is not None:
        left, right = parts.left_hand, parts.right_hand
        out["pve_hands_mm"] = mean_of_hands(
            part_pve_mm(pv, gv, part=left, **joints, **kw), part_pve_mm(pv, gv, part=right, **joints, **kw)
        )
        out["pa_pve_hands_mm"] = mean_of_hands(
            part_pa_pve_mm(pv, gv, part=left, **kw), part_pa_pve_mm(pv, gv, part=right, **kw)
        )
    if parts.face.vertices is not None:
        out["pve_face_mm"] = part_pve_mm(pv, gv, part=parts.face, **joints, **kw)
        out["pa_pve_face_mm"] = part_pa_pve_mm(pv, gv, part=parts.face, **kw)
    return out


def wholebody_errors_mm(
    pred_joints: ArrayLike,
    gt_joints: ArrayLike,
    *,
    parts: WholeBodyParts,
    weights: ArrayLike | None = None,
    pred_vertices: ArrayLike | None = None,
    gt_vertices: ArrayLike | None = None,
    vertex_weights: ArrayLike | None = None,
) -> WholeBodyErrors:
    """All joint (and mesh) errors of the whole body and its parts, per sample, in mm.

    Args:
        pred_joints: (B, J, 3) predicted joints, metres.
        gt_joints: (B, J, 3) ground-truth joints, metres.
        parts: the index sets (e.g. ``WHOLEBODY137_PARTS``).
        weights: (B, J) per-joint visibility/validity weights, or None.
        pred_vertices: (B, V, 3) predicted mesh, or None for joint errors only.
        gt_vertices: (B, V, 3) ground-truth mesh; give both meshes or neither.
        vertex_weights: (B, V) per-vertex weights, or None.

    Returns:
        ``WholeBodyErrors`` of (B,) values (see the module docstring for the groups).
    """
    if (pred_vertices is None) != (gt_vertices is None):
        raise ValueError("wholebody_errors_mm: give both pred_vertices and gt_vertices, or neither")
    values = _joint_errors(pred_joints, gt_joints, parts, weights)
    if pred_vertices is not None:
        vertex = _vertex_errors(pred_vertices, gt_vertices, pred_joints, gt_joints, parts, vertex_weights)
        values.update(vertex)
    return WholeBodyErrors(**values)
