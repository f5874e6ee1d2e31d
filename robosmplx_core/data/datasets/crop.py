"""The crop every adapter applies: a person (or part) box -> a square ``S x S`` crop.

A box ``(x, y, w, h)`` in full-image pixels becomes the square of side ``scale * max(w, h)``
around its centre (``CropConfig.scale``, Hand4Whole's 1.25 extension by default), resampled to
``S x S``. The map of continuous pixels is ``u' = (u - x0) * S / side`` (and ``u' = S - ...``
when mirrored), applied to the image (bilinear, zero outside the image), masks (nearest), every
2D label and box, and the intrinsics (``K' = diag(z, z, 1) @ [[1, 0, -x0], [0, 1, -y0], [0, 0, 1]] @ K``
as ``geometry.camera.crop_intrinsics``). The camera frame is unchanged, so 3D labels and
SMPL-X ``transl`` stay as they are, except in a mirrored crop: there the 3D labels are mirrored
by ``diag(-1, 1, 1)`` and ``K'`` keeps a positive focal, so ``project(mirror(X), K') =
crop(project(X, K))`` holds exactly. Mirroring turns a left hand into a right hand (the Hand
subnetwork's convention).

Conventions: continuous pixel coordinates (pixel ``(r, c)`` spans ``[c, c + 1] x [r, r + 1]``);
boxes ``*_xywh`` = (x, y, width, height), ``*_cxcys`` = square (cx, cy, side).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from robosmplx_core.checks import check_shape
from robosmplx_core.data.datasets.common import (
    IGNORE_LABEL, PARAM_FIELDS, TrainingSample, virtual_intrinsics,
)
from robosmplx_core.types import SMPLXParams

__all__ = ["CropConfig", "CropTransform", "PartLabels", "build_sample"]


@dataclass(frozen=True)
class CropConfig:
    """Crop settings shared by the adapters.

    Fields:
        size: crop side S in pixels.
        scale: crop side / the box's longer side (1.25 = Hand4Whole's person-box extension).
        min_box_px: boxes with a side below this (full-image pixels) are skipped as "tiny_box".
    """

    size: int = 256
    scale: float = 1.25
    min_box_px: float = 4.0

    def __post_init__(self) -> None:
        if self.size < 8 or self.scale <= 0 or self.min_box_px < 0:
            raise ValueError(f"CropConfig: expected size >= 8, scale > 0 and min_box_px >= 0, got "
                             f"{self.size}, {self.scale}, {self.min_box_px}")


@dataclass(frozen=True)
class CropTransform:
    """One square crop: ``box_cxcys`` (full-image pixels) resampled to ``size``, maybe mirrored."""

    box_cxcys: tuple[float, float, float]
    size: int
    flip: bool = False

    @classmethod
    def from_box_xywh(cls, box_xywh: np.ndarray | list[float], config: CropConfig, *,
                      flip: bool = False) -> "CropTransform":
        """The square of side ``config.scale * max(w, h)`` around the box centre."""
        x, y, w, h = (float(v) for v in np.asarray(box_xywh, dtype=np.float64).reshape(4))
        side = config.scale * max(w, h)
        if not np.isfinite([x, y, w, h]).all() or side <= 0:
            raise ValueError(f"box_xywh: expected a finite box with a positive side, got {box_xywh}")
        return cls(box_cxcys=(x + w / 2, y + h / 2, side), size=config.size, flip=flip)

    @property
    def zoom(self) -> float:
        """Crop pixels per full-image pixel."""
        return self.size / self.box_cxcys[2]

    @property
    def affine(self) -> np.ndarray:
        """(2, 3) float64 map of continuous full-image pixels to continuous crop pixels."""
        cx, cy, side = self.box_cxcys
        z = self.zoom
        a = np.array([[z, 0.0, -z * (cx - side / 2)], [0.0, z, -z * (cy - side / 2)]])
        if self.flip:
            a[0] = -a[0]
            a[0, 2] += self.size
        return a

    def points(self, xy: np.ndarray) -> np.ndarray:
        """(N, 2) full-image pixels -> (N, 2) crop pixels."""
        check_shape(xy, "N 2", name="xy")
        a = self.affine
        return np.asarray(xy, dtype=np.float64) @ a[:, :2].T + a[:, 2]

    def points3d(self, xyz: np.ndarray) -> np.ndarray:
        """(N, 3) camera-frame points -> the crop's frame (mirrored in x when ``flip``)."""
        check_shape(xyz, "N 3", name="xyz")
        out = np.asarray(xyz, dtype=np.float64).copy()
        if self.flip:
            out[:, 0] = -out[:, 0]
        return out

    def box(self, box_cxcys: np.ndarray) -> np.ndarray:
        """(3,) full-image square -> (3,) crop square."""
        b = np.asarray(box_cxcys, dtype=np.float64).reshape(3)
        return np.concatenate([self.points(b[None, :2])[0], [b[2] * self.zoom]])

    def intrinsics(self, K: np.ndarray) -> np.ndarray:
        """(3, 3) full-image intrinsics -> crop intrinsics (positive focal; see the module doc)."""
        check_shape(K, "3 3", name="K")
        K = np.asarray(K, dtype=np.float64)
        a = np.vstack([self.affine, [0.0, 0.0, 1.0]])
        if self.flip:  # the mirror is moved into the 3D points: K' = A K diag(-1, 1, 1)
            return a @ K @ np.diag([-1.0, 1.0, 1.0])
        return a @ K

    def _warp(self, array: np.ndarray, *, nearest: bool) -> np.ndarray:
        a = self.affine.copy()
        a[:, 2] += a[:, :2] @ np.array([0.5, 0.5]) - 0.5  # continuous -> integer pixel centres
        flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return cv2.warpAffine(array, a, (self.size, self.size), flags=flags, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=0)

    def image(self, image_rgb: np.ndarray) -> torch.Tensor:
        """(H, W, 3) uint8 RGB -> (3, S, S) float32 in [0, 1] (zeros outside the image)."""
        check_shape(image_rgb, "H W 3", name="image_rgb")
        out = self._warp(np.ascontiguousarray(image_rgb), nearest=False)
        return torch.from_numpy(out).permute(2, 0, 1).float().div_(255.0).contiguous()

    def mask(self, mask: np.ndarray) -> torch.Tensor:
        """(H, W) bool / label map -> (S, S) of the same meaning (nearest)."""
        check_shape(mask, "H W", name="mask")
        return torch.from_numpy(self._warp(np.ascontiguousarray(mask.astype(np.uint8)), nearest=True))


@dataclass(frozen=True)
class PartLabels:
    """Full-image labels of one sample, in the part spec's joint order (see :func:`build_sample`).

    Fields:
        joints2d: (J, 2) full-image pixels; joints2d_conf: (J,) 0 = no label.
        joints3d: (J, 3) camera frame metres or None; joints3d_conf: (J,) or None (= 1).
        params: B = 1 or None; params_valid: (10,) bool or None (= all when params given).
        K: (3, 3) full-image intrinsics or None.
        left_hand_box_cxcys, right_hand_box_cxcys, face_box_cxcys: (3,) full-image or None.
        person_mask: (H, W) bool or None.
        pelvis3d: (3,) camera frame metres or None.
    """

    joints2d: np.ndarray
    joints2d_conf: np.ndarray
    joints3d: np.ndarray | None = None
    joints3d_conf: np.ndarray | None = None
    params: SMPLXParams | None = None
    params_valid: np.ndarray | None = None
    K: np.ndarray | None = None
    left_hand_box_cxcys: np.ndarray | None = None
    right_hand_box_cxcys: np.ndarray | None = None
    face_box_cxcys: np.ndarray | None = None
    person_mask: np.ndarray | None = None
    pelvis3d: np.ndarray | None = None


def _f32(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _boxes(crop: CropTransform, labels: PartLabels) -> tuple[list[torch.Tensor], torch.Tensor]:
    raw = [labels.left_hand_box_cxcys, labels.right_hand_box_cxcys, labels.face_box_cxcys]
    if crop.flip:  # a mirrored crop swaps the subject's sides
        raw = [raw[1], raw[0], raw[2]]
    boxes = [_f32(crop.box(b)) if b is not None else torch.zeros(3) for b in raw]
    return boxes, torch.tensor([b is not None for b in raw])


def build_sample(*, crop: CropTransform, image_rgb: np.ndarray, labels: PartLabels, part: str, source: str,
                 index: int) -> TrainingSample:
    """Crop ``image_rgb`` (H, W, 3) uint8 and move every label of ``labels`` with it."""
    s = crop.size
    j = check_shape(labels.joints2d, "J 2", name="joints2d")["J"]
    uv = crop.points(labels.joints2d)
    conf = np.asarray(labels.joints2d_conf, dtype=np.float32).reshape(j)
    inside = ((uv >= 0) & (uv < s)).all(axis=1) & (conf > 0)
    if labels.joints3d is not None:
        j3 = crop.points3d(labels.joints3d)
        c3 = np.ones(j, np.float32) if labels.joints3d_conf is None else np.asarray(labels.joints3d_conf, np.float32)
    else:
        j3, c3 = np.zeros((j, 3)), np.zeros(j, np.float32)
    params = labels.params if labels.params is not None else SMPLXParams.zeros(1)
    valid = (np.zeros(len(PARAM_FIELDS), bool) if labels.params is None else
             np.ones(len(PARAM_FIELDS), bool) if labels.params_valid is None else np.asarray(labels.params_valid, bool))
    boxes, boxes_valid = _boxes(crop, labels)
    if labels.person_mask is not None:
        mask = crop.mask(labels.person_mask) > 0
        seg = torch.where(mask, torch.tensor(IGNORE_LABEL), torch.tensor(0)).long()
    else:
        mask, seg = torch.zeros(s, s, dtype=torch.bool), torch.full((s, s), IGNORE_LABEL, dtype=torch.int64)
    K = _f32(crop.intrinsics(labels.K)) if labels.K is not None else virtual_intrinsics(s)
    pelvis = crop.points3d(np.asarray(labels.pelvis3d).reshape(1, 3))[0] if labels.pelvis3d is not None else np.zeros(3)
    return TrainingSample(
        image=crop.image(image_rgb), params=params, params_valid=torch.from_numpy(valid),
        joints2d=_f32(uv), joints2d_conf=_f32(conf), joints_visible=torch.from_numpy(inside),
        joints3d=_f32(j3), joints3d_conf=_f32(c3 * (labels.joints3d is not None)),
        has_joints3d=labels.joints3d is not None and bool((c3 > 0).any()), segmentation=seg,
        has_segmentation=False, person_mask=mask, has_person_mask=labels.person_mask is not None,
        left_hand_box_cxcys=boxes[0], right_hand_box_cxcys=boxes[1], face_box_cxcys=boxes[2],
        boxes_valid=boxes_valid, K=K, has_intrinsics=labels.K is not None, pelvis3d=_f32(pelvis),
        has_pelvis3d=labels.pelvis3d is not None, part=part, source=source, index=index, flipped=crop.flip,
    )
