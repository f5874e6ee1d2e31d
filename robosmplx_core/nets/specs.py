"""Part specs: what the Body, Hand and Face subnetworks differ in (paper sec. 4.1, appendix B).

One subnetwork design is parameterised by a ``PartSpec``; nothing else distinguishes the three.

- body: 24 parts (the SMPL part segmentation: 22 body joints + the two hands), J = 137
  whole-body keypoints (Hand4Whole order, ``WHOLEBODY137_NAMES``), 22 rotations (global
  orientation + 21 body joints), betas (10), weak-perspective camera (3).
- hand: 16 parts (wrist/palm + 15 finger joints, the MANO segmentation), J = 21 hand keypoints
  (``SMPLX_RIGHT_HAND21_NAMES``; left hands are mirrored to right before the network), 15 finger
  rotations. Part-only training adds global orientation, betas and camera branches.
- face: 15 parts (head regions, see ``body_model.parts``), J = 73 (neck + the 72 face keypoints of
  the 137 set: jaw, head, eyeballs, 51 landmarks, 17 contour), jaw rotation (1) and expression
  (10). Part-only training adds global orientation, betas and camera branches.

Counts are in joints/rotations, never flattened sizes; rotations are regressed as 6D (two
columns of the rotation matrix, see ``geometry.rotations``).
"""

from __future__ import annotations

from dataclasses import dataclass

from robosmplx_core.body_model.joints import SMPLX_144_NAMES
from robosmplx_core.body_model.keypoint_sets import (
    SMPLX_RIGHT_HAND21_NAMES,
    WHOLEBODY137_FACE,
    WHOLEBODY137_NAMES,
    WHOLEBODY137_TO_SMPLX144,
)

PART_NAMES = ("body", "hand", "face")


@dataclass(frozen=True)
class PartSpec:
    """What one subnetwork predicts.

    name: "body" | "hand" | "face".
    num_parts: P, segmentation classes without background (the head outputs P + 1 channels).
    joint_names: the J keypoints K (J, 3) the Localization Module predicts, in order.
    num_rotations: rotations always regressed (body: global + 21 body; hand: 15 fingers;
        face: jaw).
    num_betas: shape coefficients always regressed (body only; 0 otherwise).
    num_expression: expression coefficients (face only; 0 otherwise).
    has_camera: camera (s, tx, ty) always regressed (body only).
    part_only_branches: global orientation (1 rotation), betas (``part_num_betas``) and camera
        branches that exist for part-only datasets and are dropped in whole-body use.
    part_num_betas: size of the part-only shape branch.
    input_size: square crop side in pixels the subnetwork takes.
    """

    name: str
    num_parts: int
    joint_names: tuple[str, ...]
    num_rotations: int
    num_betas: int
    num_expression: int
    has_camera: bool
    part_only_branches: bool
    part_num_betas: int
    input_size: int

    def __post_init__(self) -> None:
        if self.name not in PART_NAMES:
            raise ValueError(f"PartSpec.name: expected one of {PART_NAMES}, got {self.name!r}")
        if self.num_parts < 1 or self.num_rotations < 1 or not self.joint_names:
            raise ValueError(f"PartSpec {self.name!r}: parts, rotations and joints must be >= 1")

    @property
    def num_joints(self) -> int:
        """J, the number of keypoints."""
        return len(self.joint_names)


FACE73_NAMES: tuple[str, ...] = ("neck",) + WHOLEBODY137_NAMES[WHOLEBODY137_FACE]

BODY_SPEC = PartSpec(
    name="body", num_parts=24, joint_names=WHOLEBODY137_NAMES, num_rotations=22, num_betas=10,
    num_expression=0, has_camera=True, part_only_branches=False, part_num_betas=0, input_size=256,
)  # fmt: skip
HAND_SPEC = PartSpec(
    name="hand", num_parts=16, joint_names=SMPLX_RIGHT_HAND21_NAMES, num_rotations=15, num_betas=0,
    num_expression=0, has_camera=False, part_only_branches=True, part_num_betas=10, input_size=256,
)  # fmt: skip
FACE_SPEC = PartSpec(
    name="face", num_parts=15, joint_names=FACE73_NAMES, num_rotations=1, num_betas=0,
    num_expression=10, has_camera=False, part_only_branches=True, part_num_betas=10, input_size=256,
)  # fmt: skip

PART_SPECS: dict[str, PartSpec] = {"body": BODY_SPEC, "hand": HAND_SPEC, "face": FACE_SPEC}


def part_spec(name: str) -> PartSpec:
    """The spec called ``name`` ("body" | "hand" | "face")."""
    if name not in PART_SPECS:
        raise ValueError(f"unknown part {name!r}: expected one of {sorted(PART_SPECS)}")
    return PART_SPECS[name]


def spec_joint_indices_144(spec: PartSpec) -> list[int]:
    """Index of each of ``spec``'s J joints in the SMPL-X 144 set (``use_face_contour=True``).

    Use it to gather ground-truth keypoints from ``BodyModel.joints`` of a contour-enabled model;
    hand indices are the right hand's (mirror left hands first).
    """
    if spec.name == "body":
        return [int(i) for i in WHOLEBODY137_TO_SMPLX144]
    if spec.name == "hand":
        index = {name: i for i, name in enumerate(SMPLX_144_NAMES)}
        return [index[name] for name in SMPLX_RIGHT_HAND21_NAMES]
    neck = SMPLX_144_NAMES.index("neck")
    return [neck] + [int(i) for i in WHOLEBODY137_TO_SMPLX144[WHOLEBODY137_FACE]]
