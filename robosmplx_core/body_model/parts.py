"""Per-vertex and per-face part labels of SMPL-X for the three part specs (segmentation GT).

Schemes (labels are ``-1`` where a vertex belongs to no part of the spec):
    - body, 24 parts (``BODY_PART_NAMES``, the SMPL segmentation): the argmax of the SMPL-X
      skinning weights ``lbs_weights`` over the 55 joints, folded onto SMPL's 24 joints: the 22
      body joints keep their index, the jaw and eyes fold into ``head``, the 15 fingers of each
      hand into ``left_hand`` / ``right_hand`` (so a ``*_wrist`` part is the palm). Every
      vertex is labelled.
    - hand, 16 parts (``HAND_PART_NAMES``, the MANO segmentation): right-hand vertices only,
      ``wrist`` (palm, skinned to ``right_wrist``) + the 15 finger joints in SMPL-X/MANO order
      (index, middle, pinky, ring, thumb; 1 = proximal).
    - face, 15 parts (``FACE_PART_NAMES``): head vertices only (skinned to head, jaw or eyes).
      Eyeball vertices (skinned to an eye joint) go to that side's ``*_eye`` region; every other
      head vertex goes to the nearest of 15 anchor points placed in the rest pose from the
      model's own face landmarks and vertex joints: forehead, brows, eyes, nose, cheeks, upper
      and lower lip, chin, ears, scalp (top) and back of the head (see ``_face_anchors``).
Per-face labels take the majority of the three vertex labels, else the first vertex's.

Labels depend only on the model file, are deterministic, and are cached per model file.
"Left"/"right" are the subject's; the model frame has +x on the subject's left, y up, +z front.

Glossary: V vertices, F faces, P parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from robosmplx_core.body_model.joints import SMPLX_127_NAMES, SMPLX_JOINT_NAMES
from robosmplx_core.body_model.model import BodyModel
from robosmplx_core.types import SMPLXParams

__all__ = [
    "BODY_PART_NAMES", "HAND_PART_NAMES", "FACE_PART_NAMES", "PART_NAMES_BY_SPEC",
    "PartLabels", "part_labels", "mirror_permutation", "face_labels_from_vertices",
]  # fmt: skip

BODY_PART_NAMES: tuple[str, ...] = SMPLX_JOINT_NAMES[:22] + ("left_hand", "right_hand")
HAND_PART_NAMES: tuple[str, ...] = ("wrist",) + tuple(n[len("right_"):] for n in SMPLX_JOINT_NAMES[40:55])
FACE_PART_NAMES: tuple[str, ...] = (
    "forehead", "right_brow", "left_brow", "right_eye", "left_eye", "nose", "right_cheek",
    "left_cheek", "upper_lip", "lower_lip", "chin", "right_ear", "left_ear", "scalp", "back_of_head",
)  # fmt: skip
PART_NAMES_BY_SPEC: dict[str, tuple[str, ...]] = {
    "body": BODY_PART_NAMES, "hand": HAND_PART_NAMES, "face": FACE_PART_NAMES,
}

_HEAD, _JAW, _LEYE, _REYE, _RWRIST = 15, 22, 23, 24, 21
_LEFT_FINGERS, _RIGHT_FINGERS = range(25, 40), range(40, 55)


@dataclass(frozen=True)
class PartLabels:
    """Part labels of one spec on one body model.

    Fields:
        part: "body" | "hand" | "face".
        names: (P,) part names; label ``k`` is ``names[k]``.
        vertex_labels: (V,) int64 in ``[-1, P)``, ``-1`` = not in any part of this spec.
        face_labels: (F,) int64 in ``[-1, P)`` (majority of the face's vertices).
        flip_permutation: (P,) label ``k`` becomes ``flip_permutation[k]`` in a mirrored image
            (left/right parts swapped).
    """

    part: str
    names: tuple[str, ...]
    vertex_labels: torch.Tensor
    face_labels: torch.Tensor
    flip_permutation: tuple[int, ...]

    @property
    def num_parts(self) -> int:
        """P."""
        return len(self.names)


def mirror_permutation(names: tuple[str, ...] | list[str]) -> list[int]:
    """Index map of a horizontal mirror: ``out[i]`` = index of the left/right twin of
    ``names[i]`` (itself for central names). Works for joint and part names alike.

    Raises:
        ValueError: ``names`` repeats a name.
    """
    position = {n: i for i, n in enumerate(names)}
    if len(position) != len(names):
        raise ValueError("names: expected unique names to build a mirror permutation")

    def twin(name: str) -> str:
        swapped = name.replace("left", "\0").replace("right", "left").replace("\0", "right")
        return swapped if swapped in position else name

    return [position[twin(n)] for n in names]


def face_labels_from_vertices(vertex_labels: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(F,) label of each face: the majority of its three vertex labels, else the first's.

    Args:
        vertex_labels: (V,) int64.
        faces: (F, 3) int64 vertex indices.
    """
    lab = vertex_labels[faces]  # (F, 3)
    a, b, c = lab[:, 0], lab[:, 1], lab[:, 2]
    return torch.where((a == b) | (a == c), a, torch.where(b == c, b, a))


_CACHE: dict[tuple[str, int, int], dict[str, PartLabels]] = {}


def part_labels(model: BodyModel, part: str) -> PartLabels:
    """Part labels of spec ``part`` ("body" | "hand" | "face") on ``model`` (cached).

    Raises:
        ValueError: unknown ``part``.
    """
    if part not in PART_NAMES_BY_SPEC:
        raise ValueError(f"part: expected one of {sorted(PART_NAMES_BY_SPEC)}, got {part!r}")
    faces = torch.as_tensor(model.faces, dtype=torch.int64)
    num_verts = int(model.layer.lbs_weights.shape[0])
    key = (str(model.model_file), num_verts, int(faces.shape[0]))
    if key not in _CACHE:
        _CACHE[key] = _compute_all(model, faces)
    return _CACHE[key][part]


def _compute_all(model: BodyModel, faces: torch.Tensor) -> dict[str, PartLabels]:
    dominant = model.layer.lbs_weights.detach().cpu().argmax(dim=1)  # (V,) in [0, 55)
    out = {}
    for part, labels in (("body", _body_labels(dominant)), ("hand", _hand_labels(dominant)),
                         ("face", _face_labels(model, dominant))):
        names = PART_NAMES_BY_SPEC[part]
        out[part] = PartLabels(
            part=part, names=names, vertex_labels=labels,
            face_labels=face_labels_from_vertices(labels, faces),
            flip_permutation=tuple(mirror_permutation(names)) if part != "hand" else tuple(range(len(names))),
        )
    return out


def _body_labels(dominant: torch.Tensor) -> torch.Tensor:
    fold = torch.arange(55, dtype=torch.int64)
    fold[[_JAW, _LEYE, _REYE]] = _HEAD
    fold[list(_LEFT_FINGERS)] = BODY_PART_NAMES.index("left_hand")
    fold[list(_RIGHT_FINGERS)] = BODY_PART_NAMES.index("right_hand")
    return fold[dominant]


def _hand_labels(dominant: torch.Tensor) -> torch.Tensor:
    fold = torch.full((55,), -1, dtype=torch.int64)
    fold[_RWRIST] = 0
    fold[list(_RIGHT_FINGERS)] = torch.arange(1, 16)
    return fold[dominant]


def _face_labels(model: BodyModel, dominant: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        rest = model(SMPLXParams.zeros(1, num_betas=model.num_betas, num_expression=model.num_expression))
    verts = rest.vertices[0].double().cpu().numpy()
    joints = rest.joints[0, : len(SMPLX_127_NAMES)].double().cpu().numpy()
    in_head = np.isin(dominant.numpy(), [_HEAD, _JAW, _LEYE, _REYE])
    anchors = _face_anchors(joints, verts[in_head])
    d2 = ((verts[:, None, :] - anchors[None]) ** 2).sum(-1)  # (V, 15); V x 15 is small
    labels = torch.as_tensor(d2.argmin(axis=1), dtype=torch.int64)
    labels[torch.as_tensor(dominant == _LEYE)] = FACE_PART_NAMES.index("left_eye")
    labels[torch.as_tensor(dominant == _REYE)] = FACE_PART_NAMES.index("right_eye")
    labels[~torch.as_tensor(in_head)] = -1
    return labels


def _face_anchors(joints: np.ndarray, head_verts: np.ndarray) -> np.ndarray:
    """(15, 3) anchor points, one per ``FACE_PART_NAMES`` entry, in the rest pose (model frame).

    Built from named 127-set joints so they follow the face of any SMPL-X-compatible model;
    ``r`` (eye-to-mouth height) scales the offsets of regions without a landmark of their own.
    """
    idx = {n: i for i, n in enumerate(SMPLX_127_NAMES)}

    def mean(*names: str) -> np.ndarray:
        return joints[[idx[n] for n in names]].mean(axis=0)

    up = np.array([0.0, 1.0, 0.0])
    brows = {s: mean(*(f"{s}_eye_brow{k}" for k in range(1, 6))) for s in ("right", "left")}
    eyes = {s: mean(*(f"{s}_eye{k}" for k in range(1, 7))) for s in ("right", "left")}
    mouth = mean("mouth_top", "mouth_bottom")
    r = float(np.linalg.norm(0.5 * (eyes["right"] + eyes["left"]) - mouth))
    lo, hi = head_verts.min(axis=0), head_verts.max(axis=0)
    centre = 0.5 * (lo + hi)
    cheek = {s: 0.5 * (eyes[s] + mean(f"{s}_mouth_1")) + (eyes[s] - mouth) * np.array([0.4, 0.0, 0.0])
             for s in ("right", "left")}
    anchors = {
        "forehead": 0.5 * (brows["right"] + brows["left"]) + 0.6 * r * up,
        "right_brow": brows["right"], "left_brow": brows["left"],
        "right_eye": eyes["right"], "left_eye": eyes["left"],
        "nose": mean("nose1", "nose2", "nose3", "nose4", "right_nose_2", "nose_middle", "left_nose_2"),
        "right_cheek": cheek["right"], "left_cheek": cheek["left"],
        "upper_lip": mean("mouth_top", "lip_top", "right_mouth_2", "left_mouth_2"),
        "lower_lip": mean("mouth_bottom", "lip_bottom", "right_mouth_4", "left_mouth_4"),
        "chin": mean("mouth_bottom") - 0.55 * r * up,
        "right_ear": joints[idx["right_ear"]], "left_ear": joints[idx["left_ear"]],
        "scalp": np.array([centre[0], hi[1], centre[2]]),
        "back_of_head": np.array([centre[0], centre[1], lo[2]]),
    }
    return np.stack([anchors[n] for n in FACE_PART_NAMES])
