"""FreiHAND (Zimmermann et al., ICCV 2019): right-hand crops with 3D joints, as published.

Obtain ``FreiHAND_pub_v2.zip`` from https://lmb.informatik.uni-freiburg.de/projects/freihand/
(research-only licence; nothing here downloads anything). Expected layout (the archive's)::

    <root>/
      training_K.json      [N][3][3]   intrinsics of each sample (pixels of the 224 x 224 image)
      training_xyz.json    [N][21][3]  3D joints, camera frame, metres
      training_mano.json   [N][1][61]  MANO fits (not read, see below)
      training/rgb/00000000.jpg ...    4 N images: image i shows sample i mod N
      training/mask/00000000.jpg ...   N hand masks (optional; sample i's mask serves all 4 versions)

N = 32560 for the training set; the four versions of a sample differ in background and colour
only (same camera and hand). Joints are in FreiHAND's order, which is the Hand spec's:
wrist, then thumb, index, middle, ring, pinky, each from the knuckle to the tip; every hand is a
RIGHT hand, so nothing is mirrored. 2D labels are the projections of ``xyz`` through ``K``; the
crop box is the tight box of those projections (scaled by ``CropConfig.scale``). The mask gives
``person_mask`` (the hand) and a segmentation of background (0) vs unlabelled hand pixels
(``IGNORE_LABEL``); ``has_segmentation`` stays False.

The MANO fits are not turned into SMPL-X parameters: MANO's finger pose convention (axis-angle
vs PCA coefficients, offset from the mean hand) must first be checked against a MANO layer, and
MANO betas are not SMPL-X betas. ``params_valid`` is all False.
"""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np

from robosmplx_core.data.datasets.common import (
    AdapterDataset, DatasetError, SampleError, TrainingSample, read_image_rgb, read_json, require_dir,
)
from robosmplx_core.data.datasets.crop import CropConfig, CropTransform, PartLabels, build_sample

__all__ = ["FREIHAND_LAYOUT", "FreiHandDataset", "project_points"]

FREIHAND_LAYOUT = """<root>/
  training_K.json, training_xyz.json     ([N][3][3], [N][21][3] metres)
  training/rgb/%08d.jpg                  (4 N images; image i shows sample i mod N)
  training/mask/%08d.jpg                 (optional, N masks)"""

_IMAGE_NAME = re.compile(r"^(\d{8})\.jpg$")


def project_points(xyz: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 3) camera-frame points -> (N, 2) pixels through (3, 3) ``K`` (FreiHAND's projectPoints)."""
    uvw = np.asarray(xyz, dtype=np.float64) @ np.asarray(K, dtype=np.float64).T
    return uvw[:, :2] / uvw[:, 2:]


class FreiHandDataset(AdapterDataset):
    """FreiHAND training images as hand :class:`TrainingSample` crops (see the module doc)."""

    name = "freihand"

    def __init__(self, root: str | Path, *, crop: CropConfig = CropConfig(scale=1.5), split: str = "training",
                 versions: int = 4) -> None:
        super().__init__(part="hand")
        self.root = require_dir(Path(root), FREIHAND_LAYOUT, "FreiHAND root")
        self.crop_config = crop
        self.rgb_dir = require_dir(self.root / split / "rgb", FREIHAND_LAYOUT, "FreiHAND images")
        self.mask_dir = self.root / split / "mask"
        self.K = read_json(self.root / f"{split}_K.json", FREIHAND_LAYOUT, "FreiHAND intrinsics")
        self.xyz = read_json(self.root / f"{split}_xyz.json", FREIHAND_LAYOUT, "FreiHAND 3D joints")
        if not isinstance(self.K, list) or not isinstance(self.xyz, list) or len(self.K) != len(self.xyz):
            raise DatasetError(f"FreiHAND: {split}_K.json and {split}_xyz.json must be lists of equal length "
                               f"(one entry per sample); re-extract the archive. Expected layout:\n{FREIHAND_LAYOUT}")
        n = len(self.xyz)
        for name in sorted(p.name for p in self.rgb_dir.iterdir()):
            m = _IMAGE_NAME.match(name)
            if m is None:
                continue
            image_id = int(m.group(1))
            if image_id >= n * versions:
                self.skip("no_annotation")
            elif self._valid(image_id % n):
                self.entries.append(image_id)

    def _valid(self, sample_id: int) -> bool:
        try:
            xyz = np.asarray(self.xyz[sample_id], dtype=np.float64).reshape(21, 3)
            K = np.asarray(self.K[sample_id], dtype=np.float64).reshape(3, 3)
        except (TypeError, ValueError):
            self.skip("malformed_annotation")
            return False
        if not (np.isfinite(xyz).all() and np.isfinite(K).all() and (xyz[:, 2] > 0).all()):
            self.skip("malformed_annotation")
            return False
        return True

    def _mask(self, sample_id: int) -> np.ndarray | None:
        path = self.mask_dir / f"{sample_id:08d}.jpg"
        if not path.is_file():
            return None
        mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if mask is None:
            self.skip("unreadable_mask")  # counted; the sample is still used without a mask
            return None
        return mask > 127

    def load(self, entry: int, index: int) -> TrainingSample:
        n = len(self.xyz)
        sample_id = entry % n
        image = read_image_rgb(self.rgb_dir / f"{entry:08d}.jpg")
        xyz = np.asarray(self.xyz[sample_id], dtype=np.float64).reshape(21, 3)
        K = np.asarray(self.K[sample_id], dtype=np.float64).reshape(3, 3)
        uv = project_points(xyz, K)
        lo, hi = uv.min(axis=0), uv.max(axis=0)
        if (hi - lo).max() < self.crop_config.min_box_px:
            raise SampleError("tiny_box", f"sample {sample_id}")
        mask = self._mask(sample_id)
        if mask is not None and mask.shape != image.shape[:2]:
            mask = None
        labels = PartLabels(joints2d=uv, joints2d_conf=np.ones(21, np.float32), joints3d=xyz, K=K, person_mask=mask)
        crop = CropTransform.from_box_xywh([lo[0], lo[1], hi[0] - lo[0], hi[1] - lo[1]], self.crop_config)
        return build_sample(crop=crop, image_rgb=image, labels=labels, part="hand", source=self.name, index=index)
