"""AGORA (Patel et al., CVPR 2021): synthetic whole-body images with SMPL-X ground truth.

What is published (https://agora.is.tue.mpg.de, registration and licence required; nothing here
downloads anything): the images (3840 x 2160 and 1280 x 720 PNGs), per-person SMPL-X fits (one
pickle of numpy arrays per scan and pose) and, as the ground truth used for evaluation, the
"Camera dataframes" ``validation_SMPLX/SMPLX/validation_<k>_withjv.pkl`` (also ``train_<k>``):
pickled pandas DataFrames, one row per image with per-person lists ``imgPath``, ``X/Y/Z/Yaw``
(placement), ``camX/Y/Z/camYaw``, ``gender``, ``kid``, ``occlusion``, ``isValid``,
``gt_path_smplx``, ``gt_joints_2d`` (127 x 2 pixels of the 3840 x 2160 image), ``gt_joints_3d``
(127 x 3, camera frame, metres) and ``gt_verts`` (github.com/pixelite1201/agora_evaluation,
``docs/gt_dataframe.md``).

A pickled DataFrame can only be rebuilt by letting the unpickler call pandas' own constructors,
which our restricted unpickler refuses by design (and pandas is not a dependency). This adapter
therefore reads the COCO-style JSON export that Hand4Whole, OSX and SMPLer-X train and evaluate
on, written from those dataframes by Hand4Whole's converter. To make it, once, in a SEPARATE
environment that has pandas, numpy, torch, smplx, opencv and tqdm, on files you downloaded
yourself (the converter unpickles them)::

    git clone https://github.com/mks0601/Hand4Whole_RELEASE
    # <root> holds {train,validation}_SMPLX/SMPLX/*_withjv.pkl and {train,validation}_SMPL/SMPL/*.pkl
    python Hand4Whole_RELEASE/tool/AGORA/agora2coco.py --dataset_path <root>

It writes ``AGORA_{train,validation}.json`` and the per-person ``gt_joints_2d/``,
``gt_joints_3d/`` (and ``gt_verts/``) json files into ``<root>``. Expected layout::

    <root>/
      AGORA_validation.json                            COCO-style export, see below
      gt_joints_2d/smplx/<ann_id>.json                 [127][2] pixels of the 3840 x 2160 image
      gt_joints_3d/smplx/<ann_id>.json                 [127][3] camera frame, metres
      3840x2160/validation/<imgPath>                   resolution="3840x2160"
      1280x720/validation/<imgPath stem>_1280x720.png  resolution="1280x720"
      <smplx_param_path>                               optional SMPL-X fit pickles (the AGORA fits)

The export's ``images`` hold ``id``, ``file_name_3840x2160`` and ``file_name_1280x720`` (paths
relative to ``<root>``); its ``annotations`` hold ``id``, ``image_id``, ``smplx_joints_2d_path``,
``smplx_joints_3d_path``, ``smplx_param_path``, ``gender``, ``kid``, ``occlusion``, ``is_valid``
(occlusion below 90 %) and ``bbox`` / ``lhand_bbox`` / ``rhand_bbox`` / ``face_bbox`` (x, y, w, h
of the 3840 x 2160 image: the tight box of the part's joints enlarged 1.2x). 1280 x 720 labels
are the 4K ones divided by 3.

Camera (agora_evaluation ``projection.py``): focal ``f_mm / 36 * W`` and ``f_mm / 20.25 * H``
pixels (a 36 x 20.25 mm sensor), principal point at the image centre, ``f_mm`` by image name:
50 for "hdri", 18 for "cam00" .. "cam03", 28 otherwise (:func:`agora_intrinsics`).

Samples: ``part="body"`` one crop per valid person (``bbox``); ``part="hand"`` one per hand box,
left hands MIRRORED into right hands; ``part="face"`` one per ``face_bbox``. The 127 joints are
SMPL-X's own (``SMPLX_127_NAMES``), mapped to the spec by name (the 17 face-contour points are
missing); ``pelvis3d`` is the SMPL-X pelvis. SMPL-X parameters come from the fit pickle
(read with the restricted unpickler; a fit that is missing, refused or malformed is counted in
``skipped`` and the sample kept without parameters). The fits are in the scan's own frame, BEFORE
AGORA's placement (``Yaw``, ``X/Y/Z``) and camera, which the export does not keep, so
``global_orient`` and ``transl`` are invalid. The fits were made with ``smplx.create(...,
use_pca=False)`` whose ``flat_hand_mean=False`` adds the model's mean hand pose, so hand poses are
valid only with ``hands_mean_axis_angle`` (as in ``smplx_fits``). Kids use an 11th shape
coefficient (the kid template), so their betas are invalid.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from robosmplx_core.body_model.joints import SMPLX_144_NAMES
from robosmplx_core.data.datasets.coco_wholebody import swap_sides
from robosmplx_core.data.datasets.common import (
    PARAM_FIELDS, AdapterDataset, DatasetError, SampleError, TrainingSample, keypoints_to_spec, read_image_rgb,
    read_json, require_dir, square_cxcys,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.data.datasets.safe_pickle import UnsafePickleError, load_restricted_pickle
from robosmplx_core.data.datasets.smplx_fits import HandsMean
from robosmplx_core.types import SMPLXParams

__all__ = ["AGORA_LAYOUT", "AGORA_FIT_SIZES", "AgoraDataset", "agora_intrinsics", "parse_agora_fit"]

AGORA_LAYOUT = """<root>/
  AGORA_<split>.json                   (COCO-style export of the AGORA dataframes, see the module doc)
  gt_joints_2d/smplx/<ann_id>.json     ([127][2] pixels of the 3840 x 2160 image)
  gt_joints_3d/smplx/<ann_id>.json     ([127][3] camera frame, metres)
  3840x2160/<split>/<imgPath> or 1280x720/<split>/<imgPath stem>_1280x720.png
  <smplx_param_path>                   (optional SMPL-X fit pickles)"""

AGORA_FIT_SIZES: dict[str, int] = {
    "global_orient": 3, "body_pose": 63, "left_hand_pose": 45, "right_hand_pose": 45, "jaw_pose": 3,
    "leye_pose": 3, "reye_pose": 3, "expression": 10, "transl": 3,
}  # fmt: skip
"""Values of each axis-angle / vector entry of an AGORA SMPL-X fit (``betas``: 10, 11 for kids)."""

_RESOLUTIONS = {"3840x2160": (3840, 2160), "1280x720": (1280, 720)}
_SENSOR_MM = (36.0, 20.25)
_BOX_KEY = {"body": "bbox", "face": "face_bbox", "left": "lhand_bbox", "right": "rhand_bbox"}
_MIRROR = torch.diag(torch.tensor([-1.0, 1.0, 1.0]))


def agora_intrinsics(image_name: str, width: int, height: int) -> np.ndarray:
    """(3, 3) intrinsics of an AGORA image of ``width x height`` pixels (see the module doc)."""
    name = Path(image_name).name
    focal_mm = 50.0 if "hdri" in name else 18.0 if any(f"cam0{i}" in name for i in range(4)) else 28.0
    fx, fy = focal_mm / _SENSOR_MM[0] * width, focal_mm / _SENSOR_MM[1] * height
    return np.array([[fx, 0.0, width / 2], [0.0, fy, height / 2], [0.0, 0.0, 1.0]])


def _vector(fit: dict, key: str, sizes: tuple[int, ...]) -> np.ndarray:
    try:
        v = np.asarray(fit[key], dtype=np.float64).reshape(-1)
    except (KeyError, TypeError, ValueError) as e:
        raise SampleError("malformed_smplx_fit", f"{key}: {e}") from e
    if len(v) not in sizes or not np.isfinite(v).all():
        raise SampleError("malformed_smplx_fit", f"{key}: expected {' or '.join(map(str, sizes))} finite values, "
                                                 f"got shape {v.shape}")
    return v


def parse_agora_fit(fit: Any, *, kid: bool, hands_mean_axis_angle: HandsMean | None = None
                    ) -> tuple[SMPLXParams, np.ndarray]:
    """One AGORA SMPL-X fit (a dict of arrays) -> (SMPLXParams B = 1, (10,) bool validity).

    Raises:
        SampleError: ``"malformed_smplx_fit"`` for a missing key or a wrong length.
    """
    if not isinstance(fit, dict):
        raise SampleError("malformed_smplx_fit", f"expected a dict, got {type(fit).__name__}")
    v = {k: _vector(fit, k, (n,)) for k, n in AGORA_FIT_SIZES.items()}
    betas = _vector(fit, "betas", (10, 11))
    if hands_mean_axis_angle is not None:
        v["left_hand_pose"] = v["left_hand_pose"] + np.asarray(hands_mean_axis_angle[0], np.float64).reshape(45)
        v["right_hand_pose"] = v["right_hand_pose"] + np.asarray(hands_mean_axis_angle[1], np.float64).reshape(45)
    params = SMPLXParams.from_axis_angle(**{k: a[None] for k, a in v.items()}, betas=betas[None, :10])
    hands = hands_mean_axis_angle is not None
    valid = {"global_orient": False, "transl": False, "betas": not kid and len(betas) == 10,
             "left_hand_pose": hands, "right_hand_pose": hands}
    return params, np.array([valid.get(name, True) for name in PARAM_FIELDS])


def _box(value: Any, scale: float) -> np.ndarray | None:
    """(4,) x, y, w, h scaled to the chosen resolution, or None when malformed."""
    try:
        b = np.asarray(value, dtype=np.float64).reshape(4) * scale
    except (TypeError, ValueError):
        return None
    return b if np.isfinite(b).all() and b[2] > 0 and b[3] > 0 else None


@dataclass(frozen=True)
class _Entry:
    ann: dict
    file_name: str
    side: str  # "body" | "face" | "left" | "right": which box is cropped


class AgoraDataset(AdapterDataset):
    """AGORA crops with SMPL-X joints, camera and (partial) parameters (see the module doc)."""

    name = "agora"

    def __init__(self, root: str | Path, *, split: str = "validation", part: str = "body",
                 resolution: str = "3840x2160", crop: CropConfig = CropConfig(), read_fits: bool = True,
                 hands_mean_axis_angle: HandsMean | None = None) -> None:
        super().__init__(part=part)
        if resolution not in _RESOLUTIONS or split not in ("train", "validation"):
            raise ValueError(f"AgoraDataset: expected resolution in {sorted(_RESOLUTIONS)} and split in (train, "
                             f"validation), got {resolution!r}, {split!r}")
        self.root = require_dir(Path(root), AGORA_LAYOUT, "AGORA root")
        self.size_wh = _RESOLUTIONS[resolution]
        self.scale = self.size_wh[0] / 3840.0  # labels are published in 3840 x 2160 pixels
        self.crop_config = crop
        self.read_fits = read_fits
        self.hands_mean = hands_mean_axis_angle
        data = read_json(self.root / f"AGORA_{split}.json", AGORA_LAYOUT, f"AGORA {split} annotations")
        if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
                or not isinstance(data.get("annotations"), list):
            raise DatasetError(f"AGORA {split} annotations: AGORA_{split}.json has no 'images' / 'annotations' "
                               f"lists; write it with agora2coco.py (see the module doc). "
                               f"Expected layout:\n{AGORA_LAYOUT}")
        key = f"file_name_{resolution}"
        images = {img.get("id"): str(img[key]) for img in data["images"] if isinstance(img, dict) and key in img}
        for ann in data["annotations"]:
            self._index(ann, images)

    def _index(self, ann: Any, images: dict) -> None:
        if not isinstance(ann, dict) or ann.get("image_id") not in images:
            return self.skip("unknown_image_id")
        if not ann.get("is_valid", False):
            return self.skip("invalid_person")  # more than 90 % occluded
        if not isinstance(ann.get("smplx_joints_2d_path"), str) or not isinstance(ann.get("smplx_joints_3d_path"), str):
            return self.skip("malformed_annotation")
        sides = {"body": ("body",), "face": ("face",), "hand": ("right", "left")}[self.part]
        for side in sides:
            box = _box(ann.get(_BOX_KEY[side]), self.scale)
            if box is None:
                self.skip("malformed_annotation")
            elif min(box[2], box[3]) < self.crop_config.min_box_px:
                self.skip("tiny_box")
            else:
                self.entries.append(_Entry(ann=ann, file_name=images[ann["image_id"]], side=side))

    def _joints(self, ann: dict) -> tuple[np.ndarray, np.ndarray]:
        """((J, 2) pixels at the chosen resolution, (J, 3) camera metres), J = 127 or 144."""
        try:
            with open(self.root / ann["smplx_joints_2d_path"], encoding="utf-8") as f:
                j2d = np.asarray(json.load(f), dtype=np.float64)
            with open(self.root / ann["smplx_joints_3d_path"], encoding="utf-8") as f:
                j3d = np.asarray(json.load(f), dtype=np.float64)
        except FileNotFoundError as e:
            raise SampleError("missing_joints", str(e)) from e
        except (OSError, ValueError, TypeError) as e:
            raise SampleError("malformed_joints", str(e)) from e
        n = len(j2d)
        if n not in (127, 144) or j2d.shape != (n, 2) or j3d.shape != (n, 3) or not np.isfinite(j2d).all() \
                or not np.isfinite(j3d).all() or not (j3d[:, 2] > 0).all():
            raise SampleError("malformed_joints", f"{ann.get('id')}: shapes {j2d.shape}, {j3d.shape}")
        return j2d * self.scale, j3d

    def load(self, entry: _Entry, index: int) -> TrainingSample:
        ann, flip = entry.ann, entry.side == "left"
        image = read_image_rgb(self.root / entry.file_name)
        uv, xyz = self._joints(ann)
        names = SMPLX_144_NAMES[:len(uv)]
        names = swap_sides(names) if flip else names
        ones = np.ones(len(uv), np.float32)
        j2d, c2d = keypoints_to_spec(uv, ones, names, self.part)
        j3d, c3d = keypoints_to_spec(xyz, ones, names, self.part)
        boxes = {side: square_cxcys(_box(ann.get(_BOX_KEY[side]), self.scale)) for side in ("left", "right", "face")}
        params, valid = self._fit(ann, flip)
        labels = PartLabels(
            joints2d=j2d, joints2d_conf=c2d, joints3d=j3d, joints3d_conf=c3d, params=params, params_valid=valid,
            K=agora_intrinsics(entry.file_name, *self.size_wh), left_hand_box_cxcys=boxes["left"],
            right_hand_box_cxcys=boxes["right"], face_box_cxcys=boxes["face"], pelvis3d=xyz[0],
        )
        crop = CropTransform.from_box_xywh(_box(ann[_BOX_KEY[entry.side]], self.scale), self.crop_config, flip=flip)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part=self.part, source=self.name, index=index)

    def _fit(self, ann: dict, flip: bool) -> tuple[SMPLXParams | None, np.ndarray | None]:
        """The person's fit, or (None, None) when not read / unusable (counted)."""
        path = ann.get("smplx_param_path")
        if not self.read_fits or not isinstance(path, str):
            return None, None
        try:
            fit = load_restricted_pickle(self.root / path)
            params, valid = parse_agora_fit(fit, kid=bool(ann.get("kid", False)),
                                            hands_mean_axis_angle=self.hands_mean)
        except FileNotFoundError:
            self.skip("missing_smplx_fit")
            return None, None
        except UnsafePickleError:
            self.skip("unsafe_smplx_fit")
            return None, None
        except SampleError as e:
            self.skip(e.reason)
            return None, None
        except (pickle.UnpicklingError, EOFError, OSError, ValueError, TypeError, AttributeError, IndexError):
            self.skip("unreadable_smplx_fit")
            return None, None
        if flip:  # only the mirrored finger pose (and shape) stays meaningful for a right-hand crop
            m = _MIRROR.to(params.left_hand_pose)
            params = dataclasses.replace(params, right_hand_pose=m @ params.left_hand_pose @ m)
            keep = {"right_hand_pose": bool(valid[PARAM_FIELDS.index("left_hand_pose")]),
                    "betas": bool(valid[PARAM_FIELDS.index("betas")])}
            valid = np.array([keep.get(name, False) for name in PARAM_FIELDS])
        return params, valid
