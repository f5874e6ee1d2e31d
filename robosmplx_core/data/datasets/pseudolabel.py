"""Pseudo-labels from a team's own footage, as written by ``robosmplx pseudolabel``.

``robosmplx pseudolabel SOURCES --out DIR`` (:mod:`robosmplx_core.data.pseudolabel`) runs the
``landmarks`` backend (MediaPipe Holistic + the SMPL-X solver) over videos, image folders or
rosbag2 bags and writes this layout::

    <root>/
      dataset.yaml              format "robosmplx-pseudolabel", version, settings, summary
      annotations.jsonl         one JSON object per person and kept frame
      images/<source>/<frame>.jpg   the full frames (one file per frame, shared by its persons)

One ``annotations.jsonl`` line (JSON Lines: appended as the run goes, so a big or interrupted
run stays readable line by line)::

    {"image": "images/00_vtest/000012.jpg", "source": "vtest.avi", "frame": 12, "stamp": 1.2,
     "image_size": [W, H], "track_id": 3, "box_xyxy": [x0, y0, x1, y1], "score": 0.87,
     "K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
     "smplx": {"global_orient": [3], "body_pose": [21][3], "left_hand_pose": [15][3],
               "right_hand_pose": [15][3], "jaw_pose": [3], "leye_pose": [3], "reye_pose": [3],
               "betas": [NB], "expression": [NE], "transl": [3]},
     "fitted": ["global_orient", "body_pose", "betas", "transl", ...],
     "joints2d": [137][2], "joints2d_conf": [137],
     "left_hand_box_cxcys": [3] | null, "right_hand_box_cxcys": [3] | null, "face_box_cxcys": [3] | null,
     "confidence": {"body": c, "left_hand": c, "right_hand": c, "face": c}, "reprojection_px": e}

Conventions: rotations are axis-angle in radians (``smplx.SMPLXLayer`` semantics: hand poses
relative to the flat hand, no hand-mean offset); ``transl`` in metres and ``global_orient`` in
the camera frame of the FULL image (OpenCV optical: x right, y down, z forward) whose
intrinsics are ``K`` (pixels), so the fit projects onto the image through ``K``. The fit is
made with the body model named in ``dataset.yaml`` (the procedural stand-in unless real SMPL-X
files were configured): train with the same model. ``fitted`` lists the SMPL-X fields the
solver estimated (hands only where hand landmarks were found, jaw and expression only with a
face, eyes never). ``joints2d`` are the landmarks MediaPipe saw, in the Body subnetwork's
137 order (``WHOLEBODY137_NAMES``), continuous full-image pixels; ``joints2d_conf`` is the pose
landmark visibility for body points and the part confidence for hand / face points, 0 where
there is no landmark. Part boxes are the squares (centre, side) around a part's landmarks.

Samples: ``part="body"`` one crop per line around ``box_xyxy`` (``CropConfig.scale`` times its
longer side); ``part="hand"`` one crop per found hand, left hands MIRRORED into right hands as
in ``coco_wholebody`` (only the finger pose and betas stay valid); ``part="face"`` one crop per
found face. Malformed lines are dropped at construction and counted in ``skipped`` by reason.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import yaml

from robosmplx_core.body_model.keypoint_sets import (
    WHOLEBODY137_FACE, WHOLEBODY137_LEFT_HAND, WHOLEBODY137_NAMES, WHOLEBODY137_RIGHT_HAND,
)
from robosmplx_core.data.datasets.common import (
    PARAM_FIELDS, AdapterDataset, DatasetError, SampleError, TrainingSample, read_image_rgb, require_dir,
    require_file,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.types import ROTATION_FIELDS, SMPLXParams

__all__ = ["PSEUDOLABEL_FORMAT", "PSEUDOLABEL_VERSION", "PSEUDOLABEL_LAYOUT", "ANNOTATIONS_FILE", "DATASET_FILE",
           "IMAGES_DIR", "LANDMARK_NAMES", "PART_BOX_KEYS", "PseudoLabelDataset"]

PSEUDOLABEL_FORMAT = "robosmplx-pseudolabel"
PSEUDOLABEL_VERSION = 1
DATASET_FILE, ANNOTATIONS_FILE, IMAGES_DIR = "dataset.yaml", "annotations.jsonl", "images"
LANDMARK_NAMES: tuple[str, ...] = WHOLEBODY137_NAMES
"""Order of ``joints2d`` / ``joints2d_conf`` (the Body subnetwork's J = 137)."""
PART_BOX_KEYS = {"left": "left_hand_box_cxcys", "right": "right_hand_box_cxcys", "face": "face_box_cxcys"}
PSEUDOLABEL_LAYOUT = f"""<root>/                       (written by `robosmplx pseudolabel SOURCES --out <root>`)
  {DATASET_FILE}                 (format {PSEUDOLABEL_FORMAT}, version {PSEUDOLABEL_VERSION})
  {ANNOTATIONS_FILE}            (one JSON object per person and frame)
  {IMAGES_DIR}/<source>/<frame>.jpg   (full frames)"""

_ROTATION_SHAPES = {name: (21, 3) if name == "body_pose" else (15, 3) if name.endswith("hand_pose") else (3,)
                    for name in ROTATION_FIELDS}  # axis-angle per line
_MIRROR = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))
_NECK = LANDMARK_NAMES.index("neck")
_WRIST = {"left": LANDMARK_NAMES.index("left_wrist"), "right": LANDMARK_NAMES.index("right_wrist")}
_HAND_SLICE = {"left": WHOLEBODY137_LEFT_HAND, "right": WHOLEBODY137_RIGHT_HAND}
_CONF_KEY = {"left": "left_hand", "right": "right_hand", "face": "face"}


@dataclass(frozen=True)
class _Record:
    """One validated annotation line (float32 arrays, full-image pixels)."""

    image: str
    box_xywh: np.ndarray  # (4,)
    joints2d: np.ndarray  # (137, 2)
    joints2d_conf: np.ndarray  # (137,)
    smplx: dict[str, np.ndarray]  # axis-angle (J, 3) per rotation field; betas, expression, transl
    valid: np.ndarray  # (10,) bool in PARAM_FIELDS order
    K: np.ndarray  # (3, 3)
    boxes: dict[str, Optional[np.ndarray]]  # "left" / "right" / "face" -> (3,) or None
    confidence: dict[str, float]
    reprojection_px: float


@dataclass(frozen=True)
class _Entry:
    record: _Record
    side: str  # "body" | "left" | "right" | "face": which box is cropped


def _array(value: Any, shape: tuple[int, ...], field: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise SampleError(f"malformed_{field}", str(e)) from e
    if arr.shape != shape or not np.isfinite(arr).all():
        raise SampleError(f"malformed_{field}", f"expected {shape} finite values, got shape {arr.shape}")
    return arr


def _vector(value: Any, field: str) -> np.ndarray:
    """A non-empty flat list of finite numbers (betas, expression: any length)."""
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise SampleError(f"malformed_{field}", str(e)) from e
    if arr.ndim != 1 or arr.size == 0 or not np.isfinite(arr).all():
        raise SampleError(f"malformed_{field}", f"expected a flat list of finite values, got shape {arr.shape}")
    return arr


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise SampleError(f"malformed_{field}", f"expected a finite number, got {value!r}")
    return float(value)


def parse_record(line: dict) -> _Record:
    """Validate one annotation object (see the module doc); raises :class:`SampleError`."""
    if not isinstance(line, dict):
        raise SampleError("malformed_record", f"expected a JSON object, got {type(line).__name__}")
    missing = [k for k in ("image", "box_xyxy", "smplx", "fitted", "joints2d", "joints2d_conf", "K") if k not in line]
    if missing:
        raise SampleError("missing_field", ", ".join(missing))
    x0, y0, x1, y1 = _array(line["box_xyxy"], (4,), "box").astype(np.float64)
    smplx = line["smplx"] if isinstance(line["smplx"], dict) else {}
    params = {name: _array(smplx.get(name), _ROTATION_SHAPES[name], "smplx") for name in ROTATION_FIELDS}
    for name in ("betas", "expression"):
        params[name] = _vector(smplx.get(name), "smplx")
    params["transl"] = _array(smplx.get("transl"), (3,), "smplx")
    fitted = line["fitted"] if isinstance(line["fitted"], list) else []
    if "transl" not in fitted or any(f not in PARAM_FIELDS for f in fitted):
        raise SampleError("malformed_fitted", f"expected SMPL-X field names including transl, got {line['fitted']}")
    conf = line.get("confidence") if isinstance(line.get("confidence"), dict) else {}
    boxes = {side: None if line.get(key) is None else _array(line[key], (3,), "part_box")
             for side, key in PART_BOX_KEYS.items()}
    K = _array(line["K"], (3, 3), "K")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise SampleError("malformed_K", f"focal lengths must be positive, got {K[0, 0]}, {K[1, 1]}")
    image = line["image"]
    if not isinstance(image, str) or not image or Path(image).is_absolute() or ".." in Path(image).parts:
        raise SampleError("malformed_image_path", f"expected a path relative to the root, got {image!r}")
    return _Record(
        image=image, box_xywh=np.array([x0, y0, x1 - x0, y1 - y0], np.float32),
        joints2d=_array(line["joints2d"], (len(LANDMARK_NAMES), 2), "joints2d"),
        joints2d_conf=np.clip(_array(line["joints2d_conf"], (len(LANDMARK_NAMES),), "joints2d_conf"), 0.0, 1.0),
        smplx=params, valid=np.array([name in fitted for name in PARAM_FIELDS]), K=K, boxes=boxes,
        confidence={k: _number(conf.get(k, 0.0), "confidence") for k in ("body", "left_hand", "right_hand", "face")},
        reprojection_px=_number(line.get("reprojection_px", 0.0), "reprojection_px"))


def _params(smplx: dict[str, np.ndarray]) -> SMPLXParams:
    return SMPLXParams.from_axis_angle(**{name: torch.from_numpy(v)[None] for name, v in smplx.items()})


def _box_xywh(box_cxcys: np.ndarray) -> np.ndarray:
    cx, cy, side = (float(v) for v in box_cxcys)
    return np.array([cx - side / 2, cy - side / 2, side, side])


class PseudoLabelDataset(AdapterDataset):
    """Crops of a ``robosmplx pseudolabel`` folder as :class:`TrainingSample` (see the module doc).

    Args:
        root: the folder given to ``robosmplx pseudolabel --out``.
        part: "body" | "hand" | "face".
        crop: crop size and scale (S = ``crop.size``).
        min_body_confidence: lines whose ``confidence.body`` is lower are skipped ("low_confidence").
        max_reprojection_px: lines whose fit is worse are skipped ("poor_fit"); None keeps all.

    Samples carry SMPL-X params (``params_valid`` = the ``fitted`` fields), 2D joints (J, 2) with
    the landmark confidences (J,), the crop's intrinsics (``has_intrinsics``) and, for body
    crops, the hand and face boxes; no 3D joints, segmentation or mask.
    """

    name = "pseudolabel"

    def __init__(self, root: str | Path, *, part: str = "body", crop: CropConfig = CropConfig(),
                 min_body_confidence: float = 0.0, max_reprojection_px: Optional[float] = None) -> None:
        super().__init__(part=part)
        self.root = require_dir(Path(root), PSEUDOLABEL_LAYOUT, "pseudo-label dataset root")
        self.crop_config = crop
        self.min_body_confidence, self.max_reprojection_px = min_body_confidence, max_reprojection_px
        self.meta = self._read_meta()
        require_dir(self.root / IMAGES_DIR, PSEUDOLABEL_LAYOUT, "pseudo-label images")
        path = require_file(self.root / ANNOTATIONS_FILE, PSEUDOLABEL_LAYOUT, "pseudo-label annotations")
        with open(path, encoding="utf-8", errors="replace") as fh:
            for text in fh:
                if text.strip():
                    self._index(text)

    def _read_meta(self) -> dict:
        path = require_file(self.root / DATASET_FILE, PSEUDOLABEL_LAYOUT, "pseudo-label dataset description")
        try:
            meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise DatasetError(f"pseudo-label dataset description: {path} is not valid YAML ({e}); "
                               f"rerun `robosmplx pseudolabel`. Expected layout:\n{PSEUDOLABEL_LAYOUT}") from e
        if not isinstance(meta, dict) or meta.get("format") != PSEUDOLABEL_FORMAT:
            raise DatasetError(f"{path}: not a {PSEUDOLABEL_FORMAT} description (format: "
                               f"{meta.get('format') if isinstance(meta, dict) else None!r}); point root at a folder "
                               f"written by `robosmplx pseudolabel`. Expected layout:\n{PSEUDOLABEL_LAYOUT}")
        if meta.get("version") != PSEUDOLABEL_VERSION:
            raise DatasetError(f"{path}: format version {meta.get('version')!r}, this reader reads version "
                               f"{PSEUDOLABEL_VERSION}; rerun `robosmplx pseudolabel` with this robosmplx")
        return meta

    def _index(self, text: str) -> None:
        try:
            record = parse_record(json.loads(text))
        except json.JSONDecodeError:
            return self.skip("malformed_json")
        except SampleError as e:
            return self.skip(e.reason)
        if record.confidence["body"] < self.min_body_confidence:
            return self.skip("low_confidence")
        if self.max_reprojection_px is not None and record.reprojection_px > self.max_reprojection_px:
            return self.skip("poor_fit")
        sides = {"body": ("body",), "face": ("face",), "hand": ("right", "left")}[self.part]
        found = False
        for side in sides:
            box = record.box_xywh if side == "body" else record.boxes[side]
            present = side == "body" or record.confidence[_CONF_KEY[side]] > 0
            if present and box is not None:
                side_px = min(box[2:]) if side == "body" else box[2]
                if side_px >= self.crop_config.min_box_px:
                    self.entries.append(_Entry(record=record, side=side))
                    found = True
        if not found:
            self.skip("tiny_box" if self.part == "body" else f"no_{self.part}")

    def _joints(self, r: _Record, side: str) -> tuple[np.ndarray, np.ndarray]:
        """(J, 2) full-image points and (J,) confidences in the part spec's order."""
        if self.part == "body":
            return r.joints2d, r.joints2d_conf
        if self.part == "face":  # neck + the 72 face points of the 137 set
            rows = [_NECK, *range(len(LANDMARK_NAMES))[WHOLEBODY137_FACE]]
        else:  # wrist + 20 finger points of that side (a left hand is mirrored into a right one)
            rows = [_WRIST[side], *range(len(LANDMARK_NAMES))[_HAND_SLICE[side]]]
        return r.joints2d[rows], r.joints2d_conf[rows]

    def load(self, entry: _Entry, index: int) -> TrainingSample:
        r, flip = entry.record, entry.side == "left"
        image = read_image_rgb(self.root / r.image)
        joints2d, conf = self._joints(r, entry.side)
        params, valid = _params(r.smplx), r.valid
        if flip:  # only the mirrored finger pose (and shape) stays meaningful for a right-hand crop
            m = _MIRROR.to(params.left_hand_pose)
            params = dataclasses.replace(params, right_hand_pose=m @ params.left_hand_pose @ m)
            keep = {"right_hand_pose": bool(valid[PARAM_FIELDS.index("left_hand_pose")]), "betas": True}
            valid = np.array([keep.get(name, False) for name in PARAM_FIELDS])
        labels = PartLabels(joints2d=joints2d, joints2d_conf=conf, params=params, params_valid=valid, K=r.K,
                            left_hand_box_cxcys=r.boxes["left"], right_hand_box_cxcys=r.boxes["right"],
                            face_box_cxcys=r.boxes["face"])
        box = r.box_xywh if entry.side == "body" else _box_xywh(r.boxes[entry.side])
        crop = CropTransform.from_box_xywh(box, self.crop_config, flip=flip)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part=self.part, source=self.name, index=index)
