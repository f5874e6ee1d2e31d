"""COCO-WholeBody (Jin et al., ECCV 2020), optionally joined with NeuralAnnot SMPL-X fits.

Obtain (registration / licence terms apply; nothing here downloads anything):
    - images: COCO 2017 train/val from https://cocodataset.org (``train2017/``, ``val2017/``);
    - annotations: ``coco_wholebody_train_v1.0.json`` / ``coco_wholebody_val_v1.0.json`` from
      https://github.com/jin-s13/COCO-WholeBody;
    - optional SMPL-X pseudo ground truth: NeuralAnnot's ``MSCOCO_train_SMPLX.json``
      (https://github.com/mks0601/NeuralAnnot_RELEASE), see ``smplx_fits``.

Expected layout (file names can be overridden)::

    <root>/
      annotations/coco_wholebody_train_v1.0.json
      annotations/MSCOCO_train_SMPLX.json          (optional)
      train2017/000000000785.jpg ...

The annotation file is COCO json: ``images`` (``id``, ``file_name``, ``width``, ``height``) and
``annotations`` with ``id``, ``image_id``, ``iscrowd``, ``bbox`` (x, y, w, h), ``keypoints``
(17 x 3 COCO body), ``foot_kpts`` (6 x 3), ``face_kpts`` (68 x 3, iBUG-68), ``lefthand_kpts``
and ``righthand_kpts`` (21 x 3 each), ``face_box`` / ``lefthand_box`` / ``righthand_box``
(x, y, w, h) and ``face_valid`` / ``lefthand_valid`` / ``righthand_valid`` / ``foot_valid``.
A keypoint with ``v > 0`` is labelled (confidence 1; occluded labelled points keep their label);
a part whose ``*_valid`` is false gets confidence 0.

Samples: ``part="body"`` one crop per non-crowd person box; ``part="hand"`` one crop per valid
hand box, left hands MIRRORED into right hands (``crop``); ``part="face"`` one crop per valid
face box. The 133 keypoints are mapped to the part spec through
``keypoint_sets.COCO_WHOLEBODY_TO_SMPLX144``; the spec's pelvis and neck, which COCO lacks, are
the hip and shoulder midpoints (Hand4Whole's convention); where body and hand both label a
wrist, body crops use the body's and hand crops the hand annotation's. With NeuralAnnot fits the sample has
SMPL-X parameters and the fit's intrinsics; a mirrored hand keeps only its finger pose (as the
right hand's, conjugated by ``diag(-1, 1, 1)``) and betas.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robosmplx_core.body_model.joints import SMPLX_144_NAMES
from robosmplx_core.body_model.keypoint_sets import COCO_WHOLEBODY_TO_SMPLX144
from robosmplx_core.data.datasets.common import (
    PARAM_FIELDS, AdapterDataset, DatasetError, SampleError, TrainingSample, keypoints_to_spec, read_image_rgb,
    read_json, require_dir, square_cxcys,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.data.datasets.smplx_fits import HandsMean, parse_cam_param, parse_smplx_fit

__all__ = ["COCO_WHOLEBODY_LAYOUT", "COCO_WHOLEBODY_SMPLX_NAMES", "CocoWholeBodyDataset", "parse_wholebody_keypoints",
           "swap_sides"]

COCO_WHOLEBODY_LAYOUT = """<root>/
  annotations/coco_wholebody_train_v1.0.json   (COCO-WholeBody annotations)
  annotations/MSCOCO_train_SMPLX.json          (optional NeuralAnnot SMPL-X fits)
  train2017/<file_name>.jpg                    (COCO 2017 images)"""

COCO_WHOLEBODY_SMPLX_NAMES: tuple[str, ...] = tuple(
    SMPLX_144_NAMES[k] if k >= 0 else "" for k in COCO_WHOLEBODY_TO_SMPLX144)
"""SMPL-X name of each of the 133 keypoints."""

_KEYPOINT_FIELDS = (("keypoints", 17, None), ("foot_kpts", 6, "foot_valid"), ("face_kpts", 68, "face_valid"),
                    ("lefthand_kpts", 21, "lefthand_valid"), ("righthand_kpts", 21, "righthand_valid"))
MIDPOINTS = {"pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder")}
_PART_BOX = {"body": "bbox", "face": "face_box", "left": "lefthand_box", "right": "righthand_box"}
_VALID_KEY = {"face": "face_valid", "left": "lefthand_valid", "right": "righthand_valid"}
_MIRROR = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))


def swap_sides(names: tuple[str, ...]) -> tuple[str, ...]:
    """Names with the subject's left and right exchanged (the labels of a mirrored crop)."""
    def swap(n: str) -> str:
        return ("right" + n[4:]) if n.startswith("left") else ("left" + n[5:]) if n.startswith("right") else n
    return tuple(swap(n) for n in names)


def parse_wholebody_keypoints(ann: dict) -> tuple[np.ndarray, np.ndarray]:
    """(133, 2) full-image pixels and (133,) confidence (1 labelled, 0 not) of one annotation.

    Raises:
        SampleError: ``"malformed_keypoints"`` for a missing field or a wrong length.
    """
    xy, conf = [], []
    for key, n, valid_key in _KEYPOINT_FIELDS:
        try:
            arr = np.asarray(ann[key], dtype=np.float64).reshape(n, 3)
        except (KeyError, TypeError, ValueError) as e:
            raise SampleError("malformed_keypoints", f"{key}: {e}") from e
        ok = (arr[:, 2] > 0) & np.isfinite(arr).all(axis=1)
        if valid_key is not None and not ann.get(valid_key, True):
            ok[:] = False
        xy.append(np.where(ok[:, None], arr[:, :2], 0.0))
        conf.append(ok.astype(np.float32))
    return np.concatenate(xy), np.concatenate(conf)


def _box_ok(box: Any, min_px: float) -> bool:
    try:
        b = np.asarray(box, dtype=np.float64).reshape(4)
    except (TypeError, ValueError):
        return False
    return bool(np.isfinite(b).all() and b[2] >= min_px and b[3] >= min_px)


@dataclass(frozen=True)
class _Entry:
    ann: dict
    image: dict
    side: str  # "body" | "face" | "left" | "right": which box is cropped


class CocoWholeBodyDataset(AdapterDataset):
    """COCO-WholeBody crops as :class:`TrainingSample` (see the module doc)."""

    name = "coco_wholebody"

    def __init__(self, root: str | Path, *, part: str = "body", crop: CropConfig = CropConfig(),
                 annotation_file: str = "annotations/coco_wholebody_train_v1.0.json", image_dir: str = "train2017",
                 smplx_file: str | None = None, hands_mean_axis_angle: HandsMean | None = None) -> None:
        super().__init__(part=part)
        self.root = require_dir(Path(root), COCO_WHOLEBODY_LAYOUT, "COCO-WholeBody root")
        self.image_dir = require_dir(self.root / image_dir, COCO_WHOLEBODY_LAYOUT, "COCO-WholeBody images")
        self.crop_config = crop
        self.hands_mean = hands_mean_axis_angle
        data = read_json(self.root / annotation_file, COCO_WHOLEBODY_LAYOUT, "COCO-WholeBody annotations")
        if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
                or not isinstance(data.get("annotations"), list):
            raise DatasetError(
                f"COCO-WholeBody annotations: {annotation_file} has no 'images' / 'annotations' lists; "
                f"is it a COCO-WholeBody json? Expected layout:\n{COCO_WHOLEBODY_LAYOUT}")
        self.fits: dict = {}
        if smplx_file is not None:
            self.fits = read_json(self.root / smplx_file, COCO_WHOLEBODY_LAYOUT, "NeuralAnnot SMPL-X fits")
        images = {img.get("id"): img for img in data["images"] if isinstance(img, dict) and "file_name" in img}
        for ann in data["annotations"]:
            self._index(ann, images)

    def _index(self, ann: Any, images: dict) -> None:
        if not isinstance(ann, dict) or ann.get("image_id") not in images:
            return self.skip("unknown_image_id")
        if ann.get("iscrowd", 0):
            return self.skip("crowd")
        try:
            _, conf = parse_wholebody_keypoints(ann)
        except SampleError as e:
            return self.skip(e.reason)
        if self.part == "body" and not conf.any():
            return self.skip("no_keypoints")
        sides = {"body": ("body",), "face": ("face",), "hand": ("right", "left")}[self.part]
        found = False
        for side in sides:
            valid = side == "body" or bool(ann.get(_VALID_KEY[side], False))
            if valid and _box_ok(ann.get(_PART_BOX[side]), self.crop_config.min_box_px):
                self.entries.append(_Entry(ann=ann, image=images[ann["image_id"]], side=side))
                found = True
        if not found:
            self.skip("tiny_box" if self.part == "body" else f"no_valid_{self.part}")

    def load(self, entry: _Entry, index: int) -> TrainingSample:
        ann, flip = entry.ann, entry.side == "left"
        image = read_image_rgb(self.image_dir / entry.image["file_name"])
        xy, conf = parse_wholebody_keypoints(ann)
        names = swap_sides(COCO_WHOLEBODY_SMPLX_NAMES) if flip else COCO_WHOLEBODY_SMPLX_NAMES
        if self.part == "hand":  # the hand annotation's own wrist, not the body's
            names = ("",) * 23 + names[23:]
        j2d, c2d = keypoints_to_spec(xy, conf, names, self.part, MIDPOINTS)
        boxes = {side: square_cxcys(ann[_PART_BOX[side]])
                 if ann.get(_VALID_KEY[side]) and _box_ok(ann.get(_PART_BOX[side]), 1.0) else None
                 for side in ("left", "right", "face")}
        params, valid, K = self._fit(ann, flip)
        labels = PartLabels(joints2d=j2d, joints2d_conf=c2d, params=params, params_valid=valid, K=K,
                            left_hand_box_cxcys=boxes["left"], right_hand_box_cxcys=boxes["right"],
                            face_box_cxcys=boxes["face"])
        crop = CropTransform.from_box_xywh(ann[_PART_BOX[entry.side]], self.crop_config, flip=flip)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part=self.part, source=self.name, index=index)

    def _fit(self, ann: dict, flip: bool) -> tuple[Any, np.ndarray | None, np.ndarray | None]:
        """(params, validity, full-image K) of the annotation's NeuralAnnot fit, or Nones."""
        fit = self.fits.get(str(ann.get("id")))
        if fit is None:
            return None, None, None
        if not isinstance(fit, dict):
            raise SampleError("malformed_smplx_fit", f"annotation {ann.get('id')}")
        params, valid = parse_smplx_fit(fit.get("smplx_param"), hands_mean_axis_angle=self.hands_mean)
        K = parse_cam_param(fit.get("cam_param"))
        if flip:  # only the mirrored finger pose (and shape) stays meaningful for a right-hand crop
            m = _MIRROR.to(params.left_hand_pose)
            params = dataclasses.replace(params, right_hand_pose=m @ params.left_hand_pose @ m)
            keep = {"right_hand_pose": bool(valid[PARAM_FIELDS.index("left_hand_pose")]), "betas": True}
            valid = np.array([keep.get(name, False) for name in PARAM_FIELDS])
        return params, valid, K
