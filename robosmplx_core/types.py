"""Typed, frozen records passed between pipeline stages (never string-keyed dicts).

Shapes use the package glossary (B batch, N persons, J joints, H x W image). Images are RGB
uint8; 3D quantities are in metres in the camera optical frame (x right, y down, z forward);
rotations in :class:`SMPLXParams` are rotation matrices acting on column vectors, each joint
relative to its parent in the SMPL-X kinematic tree. Every record validates its fields on
construction and raises ``ValueError`` naming the field and the expected shape.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Optional, TypeVar

import numpy as np
import torch

from robosmplx_core.checks import check_finite, check_float, check_shape
from robosmplx_core.geometry.rotations import axis_angle_to_matrix, matrix_to_axis_angle

_T = TypeVar("_T")

NUM_BODY_JOINTS = 21
NUM_HAND_JOINTS = 15

# field -> shape after the batch dimension; rotations are (..., 3, 3) matrices.
_PARAM_SHAPES: dict[str, str] = {
    "global_orient": "3 3",
    "body_pose": f"{NUM_BODY_JOINTS} 3 3",
    "left_hand_pose": f"{NUM_HAND_JOINTS} 3 3",
    "right_hand_pose": f"{NUM_HAND_JOINTS} 3 3",
    "jaw_pose": "3 3",
    "leye_pose": "3 3",
    "reye_pose": "3 3",
    "betas": "NB",
    "expression": "NE",
    "transl": "3",
}
ROTATION_FIELDS = tuple(k for k, v in _PARAM_SHAPES.items() if v.endswith("3 3"))
# trailing shapes for the fast check; None marks the free-sized betas/expression (one dim)
_FIXED_TAILS = tuple(tuple(int(x) for x in v.split()) if v[0].isdigit() else None for v in _PARAM_SHAPES.values())
_FAST_DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class SMPLXParams:
    """SMPL-X parameters for a batch of B people (torch tensors, one dtype and device).

    Fields:
        global_orient: (B, 3, 3) pelvis rotation relative to the camera/world frame.
        body_pose: (B, 21, 3, 3) joints 1..21 (left_hip .. right_wrist), parent-relative.
        left_hand_pose, right_hand_pose: (B, 15, 3, 3) finger joints (index1..3, middle1..3,
            pinky1..3, ring1..3, thumb1..3), parent-relative.
        jaw_pose, leye_pose, reye_pose: (B, 3, 3) relative to the head.
        betas: (B, NB) shape coefficients (usually NB = 10).
        expression: (B, NE) expression coefficients (usually NE = 10).
        transl: (B, 3) metres; added to the posed model (the pelvis is at joints[0], not transl).
    """

    global_orient: torch.Tensor
    body_pose: torch.Tensor
    left_hand_pose: torch.Tensor
    right_hand_pose: torch.Tensor
    jaw_pose: torch.Tensor
    leye_pose: torch.Tensor
    reye_pose: torch.Tensor
    betas: torch.Tensor
    expression: torch.Tensor
    transl: torch.Tensor

    def __post_init__(self) -> None:
        if self._valid_fast():
            return
        dims: dict[str, int] = {}  # detailed checks, only to name what is wrong
        for name, spec in _PARAM_SHAPES.items():
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor):
                raise ValueError(f"SMPLXParams.{name}: expected a torch.Tensor of shape (B {spec}), "
                                 f"got {type(value).__name__}; use SMPLXParams.from_axis_angle for arrays")
            dims = check_shape(value, f"B {spec}", name=f"SMPLXParams.{name}", dims=dims)
            check_float(value, name=f"SMPLXParams.{name}")
            check_finite(value, name=f"SMPLXParams.{name}")

    def _valid_fast(self) -> bool:
        """True when every field is a finite CPU float tensor of the right shape (one numpy
        pass, ~10x cheaper than the detailed checks; stages build these every frame)."""
        values = [getattr(self, name) for name in _PARAM_SHAPES]
        if not all(isinstance(v, torch.Tensor) and v.device.type == "cpu" and v.dtype in _FAST_DTYPES
                   and not v.requires_grad for v in values):
            return False
        b = values[0].shape[0] if values[0].ndim else -1
        for v, tail in zip(values, _FIXED_TAILS):
            if v.shape[0:1] != (b,) or (v.ndim != 2 if tail is None else tuple(v.shape[1:]) != tail):
                return False
        return bool(np.isfinite(np.concatenate([v.numpy().reshape(-1) for v in values])).all())

    @property
    def batch_size(self) -> int:
        """B."""
        return int(self.transl.shape[0])

    @classmethod
    def zeros(
        cls,
        batch_size: int = 1,
        *,
        num_betas: int = 10,
        num_expression: int = 10,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
    ) -> "SMPLXParams":
        """The rest pose (identity rotations), mean shape, neutral face, zero translation."""
        b = batch_size

        def eye(*lead: int) -> torch.Tensor:
            return torch.eye(3, dtype=dtype, device=device).expand(*lead, 3, 3).clone()

        return cls(
            global_orient=eye(b), body_pose=eye(b, NUM_BODY_JOINTS),
            left_hand_pose=eye(b, NUM_HAND_JOINTS), right_hand_pose=eye(b, NUM_HAND_JOINTS),
            jaw_pose=eye(b), leye_pose=eye(b), reye_pose=eye(b),
            betas=torch.zeros(b, num_betas, dtype=dtype, device=device),
            expression=torch.zeros(b, num_expression, dtype=dtype, device=device),
            transl=torch.zeros(b, 3, dtype=dtype, device=device),
        )

    @classmethod
    def from_axis_angle(cls, **fields: object) -> "SMPLXParams":
        """Build from axis-angle rotations (radians) given as arrays or tensors.

        Rotation fields take shape (B, 3) or (B, J*3) / (B, J, 3); the others as in the class
        docstring. Missing fields default to the rest pose / zeros with B taken from the
        given fields.
        """
        unknown = set(fields) - set(_PARAM_SHAPES)
        if unknown:
            raise ValueError(f"SMPLXParams.from_axis_angle: unknown fields {sorted(unknown)}; "
                             f"valid fields: {', '.join(_PARAM_SHAPES)}")
        tensors = {k: torch.as_tensor(v, dtype=torch.float32) if not isinstance(v, torch.Tensor) else v
                   for k, v in fields.items()}
        if not tensors:
            raise ValueError("SMPLXParams.from_axis_angle: give at least one field")
        first = next(iter(tensors.values()))
        base = cls.zeros(int(first.shape[0]), dtype=first.dtype, device=first.device,
                         num_betas=int(tensors["betas"].shape[-1]) if "betas" in tensors else 10,
                         num_expression=int(tensors["expression"].shape[-1]) if "expression" in tensors else 10)
        out = {}
        for name, value in tensors.items():
            if name in ROTATION_FIELDS:
                n_joints = 1 if _PARAM_SHAPES[name] == "3 3" else int(_PARAM_SHAPES[name].split()[0])
                if value.ndim < 2 or value.numel() != value.shape[0] * n_joints * 3:
                    raise ValueError(f"SMPLXParams.{name}: expected axis-angle of shape (B, {n_joints * 3}) "
                                     f"or (B, {n_joints}, 3), got {tuple(value.shape)}")
                check_finite(value, name=f"SMPLXParams.{name}")
                mats = axis_angle_to_matrix(value.reshape(value.shape[0], n_joints, 3))
                out[name] = mats[:, 0] if n_joints == 1 and _PARAM_SHAPES[name] == "3 3" else mats
            else:
                out[name] = value
        return dataclasses.replace(base, **out)

    def axis_angle(self, name: str) -> torch.Tensor:
        """Rotation field ``name`` as axis-angle: (B, 3) or (B, J, 3), radians."""
        if name not in ROTATION_FIELDS:
            raise ValueError(f"{name!r} is not a rotation field; rotation fields: {', '.join(ROTATION_FIELDS)}")
        return matrix_to_axis_angle(getattr(self, name))

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> "SMPLXParams":
        """Copy to another device and/or floating dtype."""
        return dataclasses.replace(self, **{k: getattr(self, k).to(device=device, dtype=dtype) for k in _PARAM_SHAPES})

    def detach(self) -> "SMPLXParams":
        """The same values without autograd history."""
        return dataclasses.replace(self, **{k: getattr(self, k).detach() for k in _PARAM_SHAPES})

    def select(self, index: int | slice | torch.Tensor) -> "SMPLXParams":
        """Rows of the batch, keeping the batch dimension (an int gives B = 1)."""
        idx = slice(index, index + 1) if isinstance(index, int) else index
        return dataclasses.replace(self, **{k: getattr(self, k)[idx] for k in _PARAM_SHAPES})

    @staticmethod
    def cat(items: "list[SMPLXParams]") -> "SMPLXParams":
        """Concatenate along the batch dimension."""
        if not items:
            raise ValueError("SMPLXParams.cat: empty list")
        return SMPLXParams(**{k: torch.cat([getattr(p, k) for p in items]) for k in _PARAM_SHAPES})


def replace_unchecked(record: _T, **changes: object) -> _T:
    """``dataclasses.replace`` without re-running validation (internal, for hot paths).

    Only for stages whose new field values have, by construction, the shapes, dtypes and
    finiteness of the validated record they replace (e.g. the smoother's filtered copies).
    """
    out = copy.copy(record)
    for name, value in changes.items():
        object.__setattr__(out, name, value)
    return out


def _array(value: object, spec: str, name: str, dtype: type) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    check_shape(arr, spec, name=name)
    check_finite(arr, name=name)
    return arr


@dataclass(frozen=True)
class Frame:
    """One camera image.

    Fields:
        image: (H, W, 3) uint8 RGB.
        stamp_s: capture time in seconds (message stamp or video time), monotonic per source.
        K: (3, 3) float64 pinhole intrinsics in pixels, or None when unknown (stages then use
            a documented default field of view).
        frame_id: name of the camera optical frame.
        index: running frame number within the source (0-based).
    """

    image: np.ndarray
    stamp_s: float
    K: Optional[np.ndarray] = None
    frame_id: str = "camera"
    index: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.image, np.ndarray) or self.image.dtype != np.uint8:
            raise ValueError(f"Frame.image: expected a uint8 numpy array (H, W, 3) RGB, got "
                             f"{getattr(self.image, 'dtype', type(self.image).__name__)}; convert 16-bit or "
                             f"float images to 8-bit first")
        check_shape(self.image, "H W 3", name="Frame.image")
        if self.image.shape[0] == 0 or self.image.shape[1] == 0:
            raise ValueError(f"Frame.image: empty image of shape {self.image.shape}")
        if not np.isfinite(self.stamp_s):
            raise ValueError(f"Frame.stamp_s: expected a finite time in seconds, got {self.stamp_s}")
        if self.K is not None:
            K = _array(self.K, "3 3", "Frame.K", np.float64)
            if K[0, 0] <= 0 or K[1, 1] <= 0:
                raise ValueError(f"Frame.K: focal lengths must be positive, got fx={K[0, 0]}, fy={K[1, 1]}")
            object.__setattr__(self, "K", K)

    @property
    def height(self) -> int:
        """H in pixels."""
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        """W in pixels."""
        return int(self.image.shape[1])


@dataclass(frozen=True)
class Detections:
    """Person detections in one frame.

    Fields:
        boxes_xyxy: (N, 4) float32 pixels (x1, y1, x2, y2).
        scores: (N,) float32 confidence in [0, 1].
    """

    boxes_xyxy: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "boxes_xyxy", _array(self.boxes_xyxy, "N 4", "Detections.boxes_xyxy", np.float32))
        n = self.boxes_xyxy.shape[0]
        object.__setattr__(self, "scores", _array(self.scores, str(n), "Detections.scores", np.float32))

    @classmethod
    def empty(cls) -> "Detections":
        """No detections."""
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return int(self.scores.shape[0])


@dataclass(frozen=True)
class Tracks:
    """Tracked persons in one frame.

    Fields:
        track_ids: (N,) int64 ids, stable over time, unique per tracker instance.
        boxes_xyxy: (N, 4) float32 pixels.
        scores: (N,) float32 detection confidence of the matched detection.
        ages: (N,) int64 number of frames since each track was created.
    """

    track_ids: np.ndarray
    boxes_xyxy: np.ndarray
    scores: np.ndarray
    ages: np.ndarray

    def __post_init__(self) -> None:
        ids = np.asarray(self.track_ids, dtype=np.int64)
        check_shape(ids, "N", name="Tracks.track_ids")
        n = ids.shape[0]
        object.__setattr__(self, "track_ids", ids)
        object.__setattr__(self, "boxes_xyxy", _array(self.boxes_xyxy, f"{n} 4", "Tracks.boxes_xyxy", np.float32))
        object.__setattr__(self, "scores", _array(self.scores, str(n), "Tracks.scores", np.float32))
        ages = np.asarray(self.ages, dtype=np.int64)
        check_shape(ages, str(n), name="Tracks.ages")
        object.__setattr__(self, "ages", ages)
        if len(set(ids.tolist())) != n:
            raise ValueError(f"Tracks.track_ids: ids must be unique within a frame, got {ids.tolist()}")

    @classmethod
    def empty(cls) -> "Tracks":
        """No tracks."""
        return cls(np.zeros(0, np.int64), np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return int(self.track_ids.shape[0])


@dataclass(frozen=True)
class PartConfidence:
    """Confidence in [0, 1] per body part; 0 = not observed (parameters are a prior)."""

    body: float = 0.0
    left_hand: float = 0.0
    right_hand: float = 0.0
    face: float = 0.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = float(getattr(self, f.name))
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"PartConfidence.{f.name}: expected a value in [0, 1], got {v}")
            object.__setattr__(self, f.name, v)


@dataclass(frozen=True)
class PersonEstimate:
    """One tracked person's whole-body estimate in one frame.

    Fields:
        track_id: the tracker's id (>= 0).
        box_xyxy: (4,) float32 pixels.
        score: detection confidence in [0, 1].
        params: SMPL-X parameters with batch size 1, camera frame.
        joints3d: (J, 3) float32 SMPL-X joints (usually the 127), metres, camera frame.
        joints2d: (J, 2) float32 the same joints projected, pixels.
        confidence: per-part confidence.
    """

    track_id: int
    box_xyxy: np.ndarray
    score: float
    params: SMPLXParams
    joints3d: np.ndarray
    joints2d: np.ndarray
    confidence: PartConfidence

    def __post_init__(self) -> None:
        if int(self.track_id) < 0:
            raise ValueError(f"PersonEstimate.track_id: expected an id >= 0, got {self.track_id}")
        object.__setattr__(self, "box_xyxy", _array(self.box_xyxy, "4", "PersonEstimate.box_xyxy", np.float32))
        if self.params.batch_size != 1:
            raise ValueError(f"PersonEstimate.params: expected batch size 1, got {self.params.batch_size}")
        j3 = _array(self.joints3d, "J 3", "PersonEstimate.joints3d", np.float32)
        j2 = _array(self.joints2d, f"{j3.shape[0]} 2", "PersonEstimate.joints2d", np.float32)
        object.__setattr__(self, "joints3d", j3)
        object.__setattr__(self, "joints2d", j2)
