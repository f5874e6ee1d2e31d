"""LSP Extended (LSPET; Johnson & Everingham, CVPR 2011): 10,000 sports images, 14 body joints.

Obtain ``lspet_dataset.zip`` from https://sam.johnson.io/research/lspet.html (research use;
nothing here downloads anything). Expected layout (the archive's)::

    <root>/
      joints.mat                 'joints': 14 x 3 x N double, N = 10000
      images/im00001.jpg ...     image i (1-based, 5 digits) is column i of 'joints'

The high-resolution re-release (``hr-lspet``, used by SPIN) has the same ``joints.mat`` next to
``im00001.png ...``: pass ``image_dir="."`` and ``image_ext=".png"``.

``joints[k, :, i]`` is (x, y, visible) of joint ``k`` in image ``i``: the README's "x and y
locations and a binary value indicating the visibility of each joint". A joint with visible = 0
gets confidence 0: unlike MPII or COCO, LSPET gives no separate "labelled but occluded" state,
and the coordinates of such joints are not reliable (some lie outside the image). Coordinates
are used as published (the dataset does not state a 1-based convention, unlike MPII).

Joints (``LSP_JOINT_NAMES``): right ankle, right knee, right hip, left hip, left knee, left
ankle, right wrist, right elbow, right shoulder, left shoulder, left elbow, left wrist, neck,
head top (person-centric left / right). Mapping onto the body spec (``LSP_TO_SMPLX_NAMES``):
the twelve limb joints go to the SMPL-X joints of the same name; LSP's "neck" (the top of the
neck, the same point as MPII's upper neck) and "head top" have no SMPL-X counterpart (SMPL-X's
``neck`` is the base of the neck) and are dropped, not faked. Every spec joint LSPET lacks
(pelvis, neck, face, feet, fingers) gets confidence 0; the pelvis is NOT made from the hips.

Samples: one body crop per image (one person each); the crop box is the tight box of the
visible joints (head top included; scaled by ``CropConfig.scale``). No intrinsics, 3D or SMPL-X
parameters.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robosmplx_core.data.datasets.common import (
    AdapterDataset, DatasetError, TrainingSample, keypoints_to_spec, read_image_rgb, require_dir,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample
from robosmplx_core.data.datasets.common import joints_box_xywh, read_mat

__all__ = ["LSPET_LAYOUT", "LSP_JOINT_NAMES", "LSP_TO_SMPLX_NAMES", "LSPETDataset", "parse_lspet_joints"]

LSPET_LAYOUT = """<root>/
  joints.mat               ('joints': 14 x 3 x N, x / y / visible)
  images/im%05d.jpg        (image i = column i of 'joints', 1-based)"""

LSP_JOINT_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
                   "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck", "head_top")
LSP_TO_SMPLX_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
                      "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "", "")
"""SMPL-X name of each LSP joint ("" = none; see the module doc)."""


def parse_lspet_joints(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split the ``joints.mat`` array into per-image labels.

    Args:
        joints: (14, 3, N) as published (a (14, 3) array is taken as N = 1).

    Returns:
        (N, 14, 2) float64 pixels (0 where not visible), (N, 14) float32 confidence (1 visible),
        and (N,) bool: the image's labels are well formed (visible points finite, flags 0 / 1).

    Raises:
        ValueError: the array is not 14 x 3 x N.
    """
    arr = np.asarray(joints, dtype=np.float64)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[:2] != (14, 3):
        raise ValueError(f"expected 'joints' of shape 14 x 3 x N, got {arr.shape}")
    arr = arr.transpose(2, 0, 1)  # (N, 14, 3)
    flags = arr[..., 2]
    visible = flags == 1
    finite = np.isfinite(arr[..., :2]).all(axis=2) | ~visible
    ok = np.isin(flags, (0.0, 1.0)).all(axis=1) & finite.all(axis=1)
    xy = np.where(visible[..., None], np.nan_to_num(arr[..., :2]), 0.0)
    return xy, (visible & ok[:, None]).astype(np.float32), ok


class LSPETDataset(AdapterDataset):
    """LSP Extended images as body :class:`TrainingSample` crops (see the module doc)."""

    name = "lspet"

    def __init__(self, root: str | Path, *, crop: CropConfig = CropConfig(), image_dir: str = "images",
                 image_ext: str = ".jpg") -> None:
        super().__init__(part="body")
        self.root = require_dir(Path(root), LSPET_LAYOUT, "LSPET root")
        self.image_dir = require_dir(self.root / image_dir, LSPET_LAYOUT, "LSPET images")
        self.image_ext = image_ext
        self.crop_config = crop
        mat = read_mat(self.root / "joints.mat", LSPET_LAYOUT, "LSPET joints", squeeze=False)
        if "joints" not in mat:
            raise DatasetError(f"LSPET joints: joints.mat has no 'joints' array (found {sorted(mat)}); "
                               f"re-extract lspet_dataset.zip. Expected layout:\n{LSPET_LAYOUT}")
        try:
            self.xy, self.conf, ok = parse_lspet_joints(mat["joints"])
        except (TypeError, ValueError) as e:
            raise DatasetError(f"LSPET joints: {e}; is this the LSPET joints.mat (LSP's own is 3 x 14 x 2000)? "
                               f"Expected layout:\n{LSPET_LAYOUT}") from e
        for i in range(len(ok)):
            box = joints_box_xywh(self.xy[i], self.conf[i])
            if not ok[i]:
                self.skip("malformed_annotation")
            elif not np.isfinite(box).all() or max(box[2], box[3]) < self.crop_config.min_box_px:
                self.skip("tiny_box")
            else:
                self.entries.append(i)

    def image_path(self, entry: int) -> Path:
        """Image of column ``entry`` (0-based) of ``joints``."""
        return self.image_dir / f"im{entry + 1:05d}{self.image_ext}"

    def load(self, entry: int, index: int) -> TrainingSample:
        image = read_image_rgb(self.image_path(entry))
        j2d, c2d = keypoints_to_spec(self.xy[entry], self.conf[entry], LSP_TO_SMPLX_NAMES, "body")
        crop = CropTransform.from_box_xywh(joints_box_xywh(self.xy[entry], self.conf[entry]), self.crop_config)
        return build_sample(crop=crop, image_rgb=image, labels=PartLabels(joints2d=j2d, joints2d_conf=c2d),
                            part="body", source=self.name, index=index)
