"""The record every dataset adapter returns, and what the adapters share.

:class:`TrainingSample` is what the trainer reads from ANY source: the fields of
:class:`~robosmplx_core.data.synthetic.SyntheticSample` plus a validity flag or weight for
everything a real dataset may lack (SMPL-X parameters field by field, 3D joints, per-joint 2D
labels, segmentation, part boxes, intrinsics). Missing values are filled with finite
placeholders (zeros / identity rotations / ``IGNORE_LABEL``) so that batches stack; a loss
must weight them by the flags (``losses.inputs.LossTargets`` takes exactly such weights).

Conventions (as in ``data.synthetic``):
    - 2D points and boxes in continuous crop pixels (pixel ``(r, c)`` spans
      ``[c, c + 1] x [r, r + 1]``); boxes are squares ``(cx, cy, side)`` (``*_cxcys``);
    - 3D in metres in the camera frame (OpenCV optical: x right, y down, z forward); the crop
      is an axis-aligned square resampled to ``S x S`` so the camera frame is unchanged and
      only ``K`` changes (``geometry.camera.crop_intrinsics``); a mirrored crop (left hands
      made right, see ``crop``) also mirrors the 3D labels by ``diag(-1, 1, 1)``;
    - joints are in the part spec's order (``nets.specs``: body = ``WHOLEBODY137_NAMES``,
      hand = the right hand's 21, face = neck + 72 face points).

Adapters index their annotations once at construction; malformed entries are dropped there
and every dropped or unreadable entry is counted in ``dataset.skipped`` (a ``Counter`` keyed
by reason). ``dataset[i]`` whose image cannot be read returns the next readable entry (counted)
instead of crashing the epoch. With ``DataLoader(num_workers > 0)`` each worker counts in its
own copy of the dataset.

Glossary: S crop side, J joints of the part spec.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import scipy.io
import torch

from robosmplx_core.body_model.joints import SMPLX_144_NAMES, index_map
from robosmplx_core.data.synthetic import SyntheticSample
from robosmplx_core.nets.specs import PART_NAMES, part_spec, spec_joint_indices_144
from robosmplx_core.types import SMPLXParams

__all__ = [
    "PARAM_FIELDS", "BOX_NAMES", "IGNORE_LABEL", "DatasetError", "SampleError", "TrainingSample",
    "TrainingBatch", "collate_training_samples", "from_synthetic", "AdapterDataset", "read_json",
    "read_image_rgb", "require_dir", "require_file", "keypoints_to_spec", "virtual_intrinsics", "read_mat",
    "joints_box_xywh", "square_cxcys",
]  # fmt: skip

PARAM_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(SMPLXParams))
"""Order of ``TrainingSample.params_valid``: the :class:`SMPLXParams` fields."""
BOX_NAMES: tuple[str, ...] = ("left_hand", "right_hand", "face")
"""Order of ``TrainingSample.boxes_valid``."""
IGNORE_LABEL = 255
"""Segmentation label of pixels without ground truth (``losses.segmentation.IGNORE_LABEL``)."""
VIRTUAL_FOCAL_PER_PX = 5000.0 / 256.0
"""Focal (pixels) per crop pixel of the placeholder camera when a dataset has no intrinsics
(Hand4Whole's virtual focal 5000 at a 256-pixel input)."""


class DatasetError(ValueError):
    """A dataset folder or file is missing or unusable; the message names the expected layout."""


class SampleError(Exception):
    """One entry cannot be loaded; ``reason`` is the key counted in ``dataset.skipped``."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class TrainingSample:
    """One crop with all the ground truth its source has.

    Fields:
        image: (3, S, S) float32 RGB in [0, 1].
        params: :class:`SMPLXParams`, B = 1, ``transl`` in the camera frame; rest pose where
            missing.
        params_valid: (10,) bool, one flag per field of ``PARAM_FIELDS``.
        joints2d: (J, 2) float32 crop pixels; joints2d_conf: (J,) float32 in [0, 1], 0 = no label.
        joints_visible: (J,) bool, labelled (conf > 0) and inside the crop.
        joints3d: (J, 3) float32 camera frame, metres; joints3d_conf: (J,) float32, 0 = missing.
        has_joints3d: any 3D joint present.
        segmentation: (S, S) int64, 0 background, ``k + 1`` part ``k`` of the spec,
            ``IGNORE_LABEL`` unknown; has_segmentation: part labels present.
        person_mask: (S, S) bool; has_person_mask: the mask is ground truth.
        left_hand_box_cxcys, right_hand_box_cxcys, face_box_cxcys: (3,) float32 crop pixels.
        boxes_valid: (3,) bool in ``BOX_NAMES`` order.
        K: (3, 3) float32 crop intrinsics; has_intrinsics: False = ``virtual_intrinsics(S)``.
        pelvis3d: (3,) float32 SMPL-X pelvis in the camera frame, metres; has_pelvis3d.
        part: "body" | "hand" | "face"; source: dataset name; index: entry index in the source.
        flipped: the crop was mirrored (a left hand made right); 3D labels are mirrored too.
    """

    image: torch.Tensor
    params: SMPLXParams
    params_valid: torch.Tensor
    joints2d: torch.Tensor
    joints2d_conf: torch.Tensor
    joints_visible: torch.Tensor
    joints3d: torch.Tensor
    joints3d_conf: torch.Tensor
    has_joints3d: bool
    segmentation: torch.Tensor
    has_segmentation: bool
    person_mask: torch.Tensor
    has_person_mask: bool
    left_hand_box_cxcys: torch.Tensor
    right_hand_box_cxcys: torch.Tensor
    face_box_cxcys: torch.Tensor
    boxes_valid: torch.Tensor
    K: torch.Tensor
    has_intrinsics: bool
    pelvis3d: torch.Tensor
    has_pelvis3d: bool
    part: str
    source: str
    index: int
    flipped: bool = False

    def __post_init__(self) -> None:
        s = self.image.shape[-1]
        j = part_spec(self.part).num_joints
        for name, shape in (("image", (3, s, s)), ("params_valid", (len(PARAM_FIELDS),)), ("joints2d", (j, 2)),
                            ("joints2d_conf", (j,)), ("joints_visible", (j,)), ("joints3d", (j, 3)),
                            ("joints3d_conf", (j,)), ("segmentation", (s, s)), ("person_mask", (s, s)),
                            ("boxes_valid", (3,)), ("K", (3, 3)), ("pelvis3d", (3,))):
            got = tuple(getattr(self, name).shape)
            if got != shape:
                raise ValueError(f"TrainingSample.{name}: expected shape {shape} for part {self.part!r} "
                                 f"and S={s}, got {got}; build samples with the adapters' helpers")

    @property
    def image_size(self) -> int:
        """S."""
        return int(self.image.shape[-1])

    @property
    def has_params(self) -> bool:
        """Every SMPL-X field is ground truth."""
        return bool(self.params_valid.all())


@dataclass(frozen=True)
class TrainingBatch:
    """B samples stacked: tensor fields with a leading B, bool flags as (B,) bool tensors,
    ``params`` concatenated, ``part`` shared, ``source`` a tuple of B names, ``index`` (B,)."""

    image: torch.Tensor
    params: SMPLXParams
    params_valid: torch.Tensor
    joints2d: torch.Tensor
    joints2d_conf: torch.Tensor
    joints_visible: torch.Tensor
    joints3d: torch.Tensor
    joints3d_conf: torch.Tensor
    has_joints3d: torch.Tensor
    segmentation: torch.Tensor
    has_segmentation: torch.Tensor
    person_mask: torch.Tensor
    has_person_mask: torch.Tensor
    left_hand_box_cxcys: torch.Tensor
    right_hand_box_cxcys: torch.Tensor
    face_box_cxcys: torch.Tensor
    boxes_valid: torch.Tensor
    K: torch.Tensor
    has_intrinsics: torch.Tensor
    pelvis3d: torch.Tensor
    has_pelvis3d: torch.Tensor
    part: str
    source: tuple[str, ...]
    index: torch.Tensor
    flipped: torch.Tensor


_STACKED = ("image", "params_valid", "joints2d", "joints2d_conf", "joints_visible", "joints3d", "joints3d_conf",
            "segmentation", "person_mask", "left_hand_box_cxcys", "right_hand_box_cxcys", "face_box_cxcys",
            "boxes_valid", "K", "pelvis3d")
_FLAGS = ("has_joints3d", "has_segmentation", "has_person_mask", "has_intrinsics", "has_pelvis3d", "flipped")


def collate_training_samples(samples: Sequence[TrainingSample]) -> TrainingBatch:
    """Stack samples of one part and size, from any mix of sources (a ``collate_fn``).

    Raises:
        ValueError: empty list, mixed parts or sizes, or params with different betas /
            expression sizes.
    """
    if not samples:
        raise ValueError("collate_training_samples: got no samples; use a DataLoader with batch_size >= 1")
    parts, sizes = {s.part for s in samples}, {s.image_size for s in samples}
    if len(parts) != 1 or len(sizes) != 1:
        raise ValueError(f"collate_training_samples: samples mix parts {sorted(parts)} or sizes {sorted(sizes)}; "
                         "give every adapter of one loader the same part and crop size")
    stacked = {n: torch.stack([getattr(s, n) for s in samples]) for n in _STACKED}
    flags = {n: torch.tensor([bool(getattr(s, n)) for s in samples]) for n in _FLAGS}
    return TrainingBatch(**stacked, **flags, params=SMPLXParams.cat([s.params for s in samples]),
                         part=samples[0].part, source=tuple(s.source for s in samples),
                         index=torch.tensor([s.index for s in samples], dtype=torch.int64))


def from_synthetic(sample: SyntheticSample, *, source: str = "synthetic") -> TrainingSample:
    """A rendered sample as a :class:`TrainingSample`: every label present, weights 1."""
    j = sample.joints2d.shape[0]
    ones = torch.ones(j, dtype=torch.float32)
    return TrainingSample(
        image=sample.image, params=sample.params, params_valid=torch.ones(len(PARAM_FIELDS), dtype=torch.bool),
        joints2d=sample.joints2d.float(), joints2d_conf=ones, joints_visible=sample.joints_visible,
        joints3d=sample.joints3d.float(), joints3d_conf=ones.clone(), has_joints3d=True,
        segmentation=sample.segmentation, has_segmentation=True, person_mask=sample.person_mask,
        has_person_mask=True, left_hand_box_cxcys=sample.left_hand_box_cxcys,
        right_hand_box_cxcys=sample.right_hand_box_cxcys, face_box_cxcys=sample.face_box_cxcys,
        boxes_valid=torch.ones(3, dtype=torch.bool), K=sample.K.float(), has_intrinsics=True,
        pelvis3d=sample.pelvis3d.float(), has_pelvis3d=True, part=sample.part, source=source, index=sample.index,
    )


def virtual_intrinsics(size: int) -> torch.Tensor:
    """(3, 3) float32 placeholder crop intrinsics: focal ``VIRTUAL_FOCAL_PER_PX * S``, centre."""
    f = VIRTUAL_FOCAL_PER_PX * size
    return torch.tensor([[f, 0.0, size / 2], [0.0, f, size / 2], [0.0, 0.0, 1.0]], dtype=torch.float32)


def keypoints_to_spec(points: np.ndarray, conf: np.ndarray, smplx_names: Sequence[str], part: str,
                      midpoints: dict[str, tuple[str, str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reorder a dataset's keypoints into the part spec's J joints.

    Args:
        points: (K, D) keypoints of the dataset (D = 2 or 3).
        conf: (K,) confidence / validity, 0 = missing.
        smplx_names: (K,) the SMPL-X 144-set name of each keypoint, "" where it has none.
        part: "body" | "hand" | "face".
        midpoints: spec joints the dataset lacks, made as the midpoint of two of its keypoints
            (e.g. ``{"pelvis": ("left_hip", "right_hip")}``); confidence = the smaller one.

    Returns:
        (J, D) float32 points (0 where missing) and (J,) float32 confidences.
    """
    if points.ndim != 2 or len(points) != len(smplx_names) or conf.shape != (len(points),):
        raise ValueError(f"keypoints_to_spec: expected points (K, D), conf (K,) and K names, got "
                         f"{points.shape}, {conf.shape}, {len(smplx_names)} names")
    src144 = index_map(SMPLX_144_NAMES, smplx_names)
    first = {int(k): i for i, k in reversed(list(enumerate(src144))) if k >= 0}
    pts, cf = points.astype(np.float64), conf.astype(np.float64)
    for name, (a, b) in (midpoints or {}).items():
        ia, ib = (smplx_names.index(a) if a in smplx_names else -1), (smplx_names.index(b) if b in smplx_names else -1)
        k = SMPLX_144_NAMES.index(name)
        if k in first or ia < 0 or ib < 0:
            continue
        pts = np.concatenate([pts, ((pts[ia] + pts[ib]) / 2)[None]])
        cf = np.append(cf, min(cf[ia], cf[ib]))
        first[k] = len(pts) - 1
    dst = spec_joint_indices_144(part_spec(part))
    out = np.zeros((len(dst), points.shape[1]), dtype=np.float32)
    out_conf = np.zeros(len(dst), dtype=np.float32)
    for j, k in enumerate(dst):
        if k in first:
            out[j], out_conf[j] = pts[first[k]], cf[first[k]]
    return out, np.clip(out_conf, 0.0, 1.0)


def require_dir(path: Path, layout: str, what: str) -> Path:
    """``path`` if it is a folder; otherwise :class:`DatasetError` naming the ``layout``."""
    if not Path(path).is_dir():
        raise DatasetError(f"{what}: folder {path} not found. Expected layout:\n{layout}")
    return Path(path)


def require_file(path: Path, layout: str, what: str) -> Path:
    """``path`` if it is a file; otherwise :class:`DatasetError` naming the ``layout``."""
    if not Path(path).is_file():
        raise DatasetError(f"{what}: file {path} not found. Expected layout:\n{layout}")
    return Path(path)


def read_json(path: Path, layout: str, what: str) -> Any:
    """Parse a JSON annotation file; a missing or malformed file raises :class:`DatasetError`."""
    require_file(path, layout, what)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DatasetError(f"{what}: {path} is not valid JSON ({e}); re-extract it from the "
                           f"dataset archive. Expected layout:\n{layout}") from e


def read_image_rgb(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB; raises :class:`SampleError` ("missing_image" / "unreadable_image")."""
    if not Path(path).is_file():
        raise SampleError("missing_image", str(path))
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise SampleError("unreadable_image", str(path))
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class AdapterDataset(torch.utils.data.Dataset):
    """Base of the adapters: ``entries`` indexed once, ``skipped`` counts, retrying ``__getitem__``.

    Subclasses set ``name``, fill ``self.entries`` in ``__init__`` (counting what they drop
    with :meth:`skip`) and implement ``load(entry, index) -> TrainingSample`` raising
    :class:`SampleError` for an unusable entry.
    """

    name = "dataset"
    max_consecutive_failures = 16

    def __init__(self, *, part: str) -> None:
        if part not in PART_NAMES:
            raise ValueError(f"{type(self).__name__}: part must be one of {PART_NAMES}, got {part!r}")
        self.part = part
        self.entries: list[Any] = []
        self.skipped: Counter[str] = Counter()

    def skip(self, reason: str) -> None:
        """Count one dropped entry under ``reason``."""
        self.skipped[reason] += 1

    def __len__(self) -> int:
        return len(self.entries)

    def load(self, entry: Any, index: int) -> TrainingSample:  # pragma: no cover - abstract
        raise NotImplementedError

    def __getitem__(self, index: int) -> TrainingSample:
        n = len(self.entries)
        if not 0 <= int(index) < n:
            raise IndexError(f"{type(self).__name__}: index {index} out of range [0, {n})")
        for attempt in range(min(n, self.max_consecutive_failures)):
            i = (int(index) + attempt) % n
            try:
                return self.load(self.entries[i], i)
            except SampleError as e:
                self.skip(e.reason)
        raise DatasetError(f"{type(self).__name__}: {min(n, self.max_consecutive_failures)} consecutive entries "
                           f"from {index} could not be loaded ({dict(self.skipped)}); check that the images "
                           "were extracted completely")


def read_mat(path: Path, layout: str, what: str, *, squeeze: bool = True) -> dict[str, Any]:
    """Load a MATLAB v5 ``.mat`` file (structs as attribute objects); :class:`DatasetError` if
    it is missing or unreadable (``layout`` names the expected folder layout)."""
    require_file(path, layout, what)
    try:
        return scipy.io.loadmat(str(path), squeeze_me=squeeze, struct_as_record=False)
    except NotImplementedError as e:  # scipy's answer to MATLAB v7.3 (HDF5) files
        raise DatasetError(f"{what}: {path} is a MATLAB v7.3 file, which scipy cannot read; use the "
                           f"dataset's original v5 file. Expected layout:\n{layout}") from e
    except Exception as e:  # noqa: BLE001 - scipy raises many types (MatReadError, IndexError, zlib.error ...)
        raise DatasetError(f"{what}: {path} is not a readable .mat file ({e}); re-extract it from the "
                           f"dataset archive. Expected layout:\n{layout}") from e


def joints_box_xywh(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """(4,) float64 tight box (x, y, w, h) of the (K, 2) points with (K,) ``conf > 0``; NaNs if none."""
    pts = np.asarray(xy, dtype=np.float64)[np.asarray(conf) > 0]
    if len(pts) == 0:
        return np.full(4, np.nan)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    return np.array([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]])


def square_cxcys(box_xywh: Any) -> np.ndarray | None:
    """(3,) square ``(cx, cy, side)`` around a box ``(x, y, w, h)`` (side = the longer edge);
    ``None`` stays ``None``."""
    if box_xywh is None:
        return None
    x, y, w, h = np.asarray(box_xywh, dtype=np.float64).reshape(4)
    return np.array([x + w / 2, y + h / 2, max(w, h)])
