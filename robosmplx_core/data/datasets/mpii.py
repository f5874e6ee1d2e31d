"""MPII Human Pose (Andriluka et al., CVPR 2014): 2D body joints, read from the official MATLAB release.

Obtain from http://human-pose.mpi-inf.mpg.de (licence terms apply; nothing here downloads
anything): the images ``mpii_human_pose_v1.tar.gz`` and the annotations
``mpii_human_pose_v1_u12_2.zip``. Expected layout (the archives', unpacked side by side)::

    <root>/
      images/000001163.jpg ...
      mpii_human_pose_v1_u12_2/mpii_human_pose_v1_u12_1.mat

The ``.mat`` file (MATLAB v5, read with ``scipy.io.loadmat``; scipy is a core dependency) holds
the struct ``RELEASE`` with ``annolist`` (one entry per image) and ``img_train`` (1 = training
image; only training images carry joints). ``annolist(i).image.name`` is the file name under
``images/``; ``annolist(i).annorect(r)`` is one person, whose ``annopoints.point`` lists the
annotated joints, each with ``id`` (0-15, below), ``x``, ``y`` and ``is_visible``. Joints absent
from the list are unannotated (confidence 0). ``is_visible`` is not read: an occluded joint keeps
its label (confidence 1), as in the COCO-WholeBody adapter; the field is also irregular in the
release (absent or empty for some points). MATLAB's quirks are handled: a single person or single
point is stored as a struct instead of a 1-element array, and a person without ``annopoints``
(counted as "no_keypoints") has an empty array there. The JSON conversions of this file (Simple
Baselines / HRNet ``annot/train.json``) are not read: the ``.mat`` file is the published format.

Coordinates are MATLAB pixel coordinates (1-based: the first pixel's centre is at 1, as the
HRNet / Simple Baselines loaders note when they subtract 1); they become this project's
continuous pixels (first pixel spans [0, 1]) by subtracting ``MATLAB_PIXEL_OFFSET`` = 0.5.

Joints (``MPII_JOINT_NAMES``): 0 right ankle, 1 right knee, 2 right hip, 3 left hip, 4 left
knee, 5 left ankle, 6 pelvis, 7 thorax, 8 upper neck, 9 head top, 10 right wrist, 11 right
elbow, 12 right shoulder, 13 left shoulder, 14 left elbow, 15 left wrist; person-centric left
and right (the subject's own). Mapping onto the body spec (``MPII_TO_SMPLX_NAMES``):

    - ankles, knees, hips, wrists, elbows, shoulders -> the SMPL-X joints of the same name;
    - pelvis -> SMPL-X ``pelvis``: MPII's pelvis is annotated between the hips, the SMPL-X
      pelvis joint sits a few cm above the hip line. The other adapters make the same
      approximation (Human3.6M's pelvis, COCO's hip midpoint), so it is kept;
    - thorax (top of the sternum), upper neck (where the neck meets the head) and head top have
      no SMPL-X counterpart: the SMPL-X ``neck`` joint is at the base of the neck, between the
      two, and SMPL-X ``head`` is the head's rotation centre. They are dropped, not faked, and
      every spec joint MPII lacks (neck, face, feet, fingers) gets confidence 0.

Samples: one body crop per annotated person of a training image. The crop box is the tight box
of the person's annotated joints (head top included, so the head stays in the crop; scaled by
``CropConfig.scale``), not the release's rough ``objpos`` / ``scale``. MPII has no intrinsics,
3D joints or SMPL-X parameters: ``has_intrinsics``, ``has_joints3d`` and ``params_valid`` are
False.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from robosmplx_core.data.datasets.common import (
    AdapterDataset, DatasetError, SampleError, TrainingSample, joints_box_xywh, keypoints_to_spec, read_image_rgb,
    read_mat, require_dir,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample

__all__ = ["MPII_LAYOUT", "MPII_JOINT_NAMES", "MPII_TO_SMPLX_NAMES", "MATLAB_PIXEL_OFFSET", "MPIIDataset",
           "parse_mpii_person"]

MPII_LAYOUT = """<root>/
  images/<annolist(i).image.name>                          (mpii_human_pose_v1.tar.gz)
  mpii_human_pose_v1_u12_2/mpii_human_pose_v1_u12_1.mat    (mpii_human_pose_v1_u12_2.zip)"""

MPII_JOINT_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
                    "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
                    "left_shoulder", "left_elbow", "left_wrist")
MPII_TO_SMPLX_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
                       "", "", "", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
                       "left_wrist")
"""SMPL-X name of each MPII joint ("" = none; see the module doc)."""
MATLAB_PIXEL_OFFSET = 0.5
"""MATLAB pixel coordinate - continuous pixel coordinate (MATLAB's first pixel centre is 1, ours 0.5)."""


def _structs(value: Any) -> list[Any]:
    """A MATLAB struct, struct array or empty array (as loaded by ``read_mat``) as a list of structs."""
    items = value.reshape(-1) if isinstance(value, np.ndarray) else [value]
    return [v for v in items if hasattr(v, "_fieldnames")]


def _number(value: Any) -> float:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size != 1 or not np.isfinite(arr[0]):
        raise ValueError(f"expected one finite number, got {value!r}")
    return float(arr[0])


def parse_mpii_person(annorect: Any) -> tuple[np.ndarray, np.ndarray]:
    """(16, 2) continuous full-image pixels and (16,) confidence (1 annotated, 0 not) of one
    ``annorect`` in ``MPII_JOINT_NAMES`` order.

    Raises:
        SampleError: ``"no_keypoints"`` without ``annopoints``; ``"malformed_annotation"`` for a
            point with a missing / non-numeric field or an id outside 0-15.
    """
    points = [p for a in _structs(getattr(annorect, "annopoints", None)) for p in _structs(getattr(a, "point", None))]
    if not points:
        raise SampleError("no_keypoints")
    xy, conf = np.zeros((16, 2)), np.zeros(16, np.float32)
    try:
        for p in points:
            k = int(_number(p.id))
            if not 0 <= k < 16:
                raise ValueError(f"joint id {k} outside 0-15")
            xy[k] = (_number(p.x) - MATLAB_PIXEL_OFFSET, _number(p.y) - MATLAB_PIXEL_OFFSET)
            conf[k] = 1.0
    except (AttributeError, TypeError, ValueError) as e:
        raise SampleError("malformed_annotation", str(e)) from e
    return xy, conf


@dataclass(frozen=True)
class _Entry:
    image_name: str
    xy: np.ndarray  # (16, 2) continuous full-image pixels
    conf: np.ndarray  # (16,)


class MPIIDataset(AdapterDataset):
    """MPII Human Pose training persons as body :class:`TrainingSample` crops (see the module doc)."""

    name = "mpii"

    def __init__(self, root: str | Path, *, crop: CropConfig = CropConfig(),
                 annotation_file: str = "mpii_human_pose_v1_u12_2/mpii_human_pose_v1_u12_1.mat",
                 image_dir: str = "images") -> None:
        super().__init__(part="body")
        self.root = require_dir(Path(root), MPII_LAYOUT, "MPII root")
        self.image_dir = require_dir(self.root / image_dir, MPII_LAYOUT, "MPII images")
        self.crop_config = crop
        release = read_mat(self.root / annotation_file, MPII_LAYOUT, "MPII annotations").get("RELEASE")
        if not hasattr(release, "annolist") or not hasattr(release, "img_train"):
            raise DatasetError(f"MPII annotations: {annotation_file} has no RELEASE struct with 'annolist' and "
                               f"'img_train'; is it mpii_human_pose_v1_u12_1.mat? Expected layout:\n{MPII_LAYOUT}")
        annolist = _structs(release.annolist)
        img_train = np.asarray(release.img_train).reshape(-1)
        if len(annolist) != len(img_train):
            raise DatasetError(f"MPII annotations: {len(annolist)} annolist entries but {len(img_train)} img_train "
                               f"flags; re-extract {annotation_file}. Expected layout:\n{MPII_LAYOUT}")
        for image, train in zip(annolist, img_train):
            if train == 1:
                self._index_image(image)

    def _index_image(self, image: Any) -> None:
        try:
            name = str(image.image.name)
        except AttributeError:
            return self.skip("malformed_annotation")
        for rect in _structs(getattr(image, "annorect", None)):
            try:
                xy, conf = parse_mpii_person(rect)
            except SampleError as e:
                self.skip(e.reason)
                continue
            box = joints_box_xywh(xy, conf)
            if not np.isfinite(box).all() or max(box[2], box[3]) < self.crop_config.min_box_px:
                self.skip("tiny_box")
                continue
            self.entries.append(_Entry(image_name=name, xy=xy.astype(np.float32), conf=conf))

    def load(self, entry: _Entry, index: int) -> TrainingSample:
        image = read_image_rgb(self.image_dir / entry.image_name)
        j2d, c2d = keypoints_to_spec(entry.xy, entry.conf, MPII_TO_SMPLX_NAMES, "body")
        crop = CropTransform.from_box_xywh(joints_box_xywh(entry.xy, entry.conf), self.crop_config)
        return build_sample(crop=crop, image_rgb=image, labels=PartLabels(joints2d=j2d, joints2d_conf=c2d),
                            part="body", source=self.name, index=index)
