"""SMPL-X joint names, kinematic tree and index-map helpers (pure data, no smplx import).

Joint sets output by ``smplx`` 0.1.28 (``SMPLX`` / ``SMPLXLayer`` forward, ``joints``):
    - 55 skeleton joints (``SMPLX_JOINT_NAMES``, the order of ``full_pose`` and of the model's
      ``kintree_table``), parents in ``SMPLX_PARENTS``;
    - + 21 vertex joints picked by ``VertexJointSelector`` (nose, eyes, ears, 6 foot points,
      10 fingertips; the fingertips are named ``left_thumb`` ... ``right_pinky``) = 76;
    - + 51 face landmarks (barycentric points on the mesh; iBUG-68 points 17..67: brows, nose,
      eyes, mouth, lips) = ``SMPLX_127_NAMES``;
    - + 17 face-contour landmarks (iBUG-68 points 0..16) when the model is built with
      ``use_face_contour=True`` = ``SMPLX_144_NAMES``.
The lists equal ``smplx.joint_names.JOINT_NAMES[:127]`` / ``[:144]`` (checked by
``tests/unit/test_joints.py``). "left"/"right" are the subject's left and right.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

__all__ = [
    "NUM_SMPLX_JOINTS",
    "SMPLX_JOINT_NAMES",
    "SMPLX_PARENTS",
    "SMPLX_VERTEX_JOINT_NAMES",
    "SMPLX_FACE_LANDMARK_NAMES",
    "SMPLX_FACE_CONTOUR_NAMES",
    "SMPLX_127_NAMES",
    "SMPLX_144_NAMES",
    "index_map",
    "drop_face_contour",
    "gather_joints",
]

NUM_SMPLX_JOINTS = 55

SMPLX_JOINT_NAMES: tuple[str, ...] = (
    # body (22, SMPL order)
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar",
    "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
    "right_wrist",
    # face joints (3)
    "jaw", "left_eye_smplhf", "right_eye_smplhf",
    # left hand (15): index, middle, pinky, ring, thumb; 1 = proximal
    "left_index1", "left_index2", "left_index3", "left_middle1", "left_middle2", "left_middle3",
    "left_pinky1", "left_pinky2", "left_pinky3", "left_ring1", "left_ring2", "left_ring3",
    "left_thumb1", "left_thumb2", "left_thumb3",
    # right hand (15)
    "right_index1", "right_index2", "right_index3", "right_middle1", "right_middle2",
    "right_middle3", "right_pinky1", "right_pinky2", "right_pinky3", "right_ring1", "right_ring2",
    "right_ring3", "right_thumb1", "right_thumb2", "right_thumb3",
)  # fmt: skip

SMPLX_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19,  # body
    15, 15, 15,  # jaw and eyes hang from the head
    20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,  # left fingers from left wrist
    21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53,  # right fingers from right wrist
)  # fmt: skip
"""Parent index of each of the 55 joints (-1 for the root), i.e. ``kintree_table[0]`` of the
SMPL-X model files; every parent precedes its child."""

SMPLX_VERTEX_JOINT_NAMES: tuple[str, ...] = (
    "nose", "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe", "left_small_toe",
    "left_heel", "right_big_toe", "right_small_toe", "right_heel", "left_thumb", "left_index",
    "left_middle", "left_ring", "left_pinky", "right_thumb", "right_index", "right_middle",
    "right_ring", "right_pinky",
)  # fmt: skip
"""The 21 mesh-vertex joints (indices 55..75): face points, foot points, fingertips."""

SMPLX_FACE_LANDMARK_NAMES: tuple[str, ...] = (
    "right_eye_brow1", "right_eye_brow2", "right_eye_brow3", "right_eye_brow4", "right_eye_brow5",
    "left_eye_brow5", "left_eye_brow4", "left_eye_brow3", "left_eye_brow2", "left_eye_brow1",
    "nose1", "nose2", "nose3", "nose4", "right_nose_2", "right_nose_1", "nose_middle",
    "left_nose_1", "left_nose_2", "right_eye1", "right_eye2", "right_eye3", "right_eye4",
    "right_eye5", "right_eye6", "left_eye4", "left_eye3", "left_eye2", "left_eye1", "left_eye6",
    "left_eye5", "right_mouth_1", "right_mouth_2", "right_mouth_3", "mouth_top", "left_mouth_3",
    "left_mouth_2", "left_mouth_1", "left_mouth_5", "left_mouth_4", "mouth_bottom",
    "right_mouth_4", "right_mouth_5", "right_lip_1", "right_lip_2", "lip_top", "left_lip_2",
    "left_lip_1", "left_lip_3", "lip_bottom", "right_lip_3",
)  # fmt: skip
"""The 51 static face landmarks (indices 76..126) = iBUG-68 points 17..67 in order (so
iBUG point k is joint 59 + k). Eye corners: ``right_eye1`` / ``left_eye1`` outer,
``right_eye4`` / ``left_eye4`` inner; mouth corners ``right_mouth_1`` / ``left_mouth_1``;
``nose4`` is the nose tip; ``lip_top`` / ``lip_bottom`` are the inner-lip midpoints."""

SMPLX_FACE_CONTOUR_NAMES: tuple[str, ...] = (
    "right_contour_1", "right_contour_2", "right_contour_3", "right_contour_4", "right_contour_5",
    "right_contour_6", "right_contour_7", "right_contour_8", "contour_middle", "left_contour_8",
    "left_contour_7", "left_contour_6", "left_contour_5", "left_contour_4", "left_contour_3",
    "left_contour_2", "left_contour_1",
)  # fmt: skip
"""The 17 dynamic face-contour landmarks (indices 127..143, only with ``use_face_contour``) =
iBUG-68 points 0..16 (jaw line from the subject's right ear to the left; 8 = chin)."""

SMPLX_127_NAMES: tuple[str, ...] = (
    SMPLX_JOINT_NAMES + SMPLX_VERTEX_JOINT_NAMES + SMPLX_FACE_LANDMARK_NAMES
)
SMPLX_144_NAMES: tuple[str, ...] = SMPLX_127_NAMES + SMPLX_FACE_CONTOUR_NAMES


def index_map(src_names: Sequence[str], dst_names: Sequence[str]) -> np.ndarray:
    """Gather indices turning a ``src``-ordered joint array into ``dst`` order.

    ``out[i]`` is the position of ``dst_names[i]`` in ``src_names``, or -1 when ``src`` has no
    such name; use with ``gather_joints(joints_src, out)``.

    Args:
        src_names: the J_src names of the array you have.
        dst_names: the J_dst names of the array you want.

    Returns:
        ``(J_dst,)`` int64 indices into ``src``.

    Raises:
        ValueError: ``src_names`` repeats a name (the map would be ambiguous).
    """
    position = {name: i for i, name in enumerate(src_names)}
    if len(position) != len(src_names):
        repeated = sorted({n for n in src_names if list(src_names).count(n) > 1})
        raise ValueError(f"src_names: names must be unique, repeated: {repeated}")
    return np.array([position.get(name, -1) for name in dst_names], dtype=np.int64)


def drop_face_contour(indices_into_144: Sequence[int] | np.ndarray) -> np.ndarray:
    """Indices into the 144-joint output -> indices into the 127-joint output (contour -> -1)."""
    idx = np.asarray(indices_into_144, dtype=np.int64)
    return np.where(idx >= len(SMPLX_127_NAMES), -1, idx)


def gather_joints(joints: Any, indices: Sequence[int] | np.ndarray) -> tuple[Any, Any]:
    """Select joints by an index map, with a validity mask for the -1 entries.

    Args:
        joints: ``(..., J, D)`` torch tensor or numpy array (D = 2, 3 or more).
        indices: ``(K,)`` indices into J, -1 where the target joint has no source.

    Returns:
        ``(values, valid)``: ``(..., K, D)`` of the same type as ``joints`` (zeros where
        invalid) and a ``(K,)`` boolean mask of the same type.
    """
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and int(idx.max()) >= joints.shape[-2]:
        raise ValueError(
            f"indices: refer to joint {int(idx.max())} but joints has {joints.shape[-2]} "
            "(did you build the body model without use_face_contour?)"
        )
    valid_np = idx >= 0
    safe = np.where(valid_np, idx, 0)
    if isinstance(joints, torch.Tensor):
        valid = torch.as_tensor(valid_np, device=joints.device)
        values = joints[..., torch.as_tensor(safe, device=joints.device), :]
        return torch.where(valid[:, None], values, torch.zeros_like(values)), valid
    values = np.asarray(joints)[..., safe, :]
    return np.where(valid_np[:, None], values, np.zeros_like(values)), valid_np
