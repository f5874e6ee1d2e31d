"""Crop camera <-> full-image camera (CLIFF / PyMAF-X convention) and crop intrinsics.

Conventions: camera frame = OpenCV / ROS optical (x right, y down, z forward, metres);
continuous pixel coordinates (see ``projection``); boxes in pixels of the full image.

Derivation of the crop -> full mapping. A network sees a square crop of side ``b`` pixels
centred at ``(cx_b, cy_b)`` and predicts a weak-perspective camera ``[s, tx, ty]``: the body
point ``X`` lands at normalised crop coordinates ``s (X_xy + [tx, ty])``, i.e. at full-image
pixel ``c_b + (b / 2) s (X_xy + [tx, ty])``. The real camera (focal ``f``, principal point
``p``, by default the image centre ``(W / 2, H / 2)``) puts it at ``p + f (X_xy + T_xy) / T_z``
(weak-perspective approximation, depth of the body ~ ``T_z``). Equating scale and offset:

    T_z  = 2 f / (s b)
    T_xy = [tx, ty] + (c_b - p) T_z / f  =  [tx, ty] + 2 (c_b - p) / (s b)

which is CLIFF's ``cam_crop2full`` (Li et al., ECCV 2022), also used by PyMAF-X.
``full_transl_to_crop_cam`` inverts it exactly.

Glossary: B batch.
"""

from __future__ import annotations

import torch

from robosmplx_core.checks import check_shape
from robosmplx_core.geometry._checks import check_tensor

__all__ = ["crop_cam_to_full_transl", "full_transl_to_crop_cam", "crop_intrinsics"]

_MIN_SCALE = 1e-6  # smallest weak-perspective scale s * b used as a divisor


def _per_item(x: float | torch.Tensor, batch: int, like: torch.Tensor, *, name: str) -> torch.Tensor:
    """A float or ``(B,)`` tensor -> ``(B,)`` tensor with the dtype/device of ``like``."""
    t = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t.expand(batch)
    check_shape(t, "B", name=name, dims={"B": batch})
    return t


def _as(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x, dtype=like.dtype, device=like.device)


def _principal_point(
    image_size_wh: torch.Tensor, principal_point_xy: torch.Tensor | None, dims: dict[str, int]
) -> torch.Tensor:
    if principal_point_xy is None:
        return image_size_wh / 2.0
    check_shape(principal_point_xy, "B 2", name="principal_point_xy", dims=dims)
    return _as(principal_point_xy, image_size_wh)


def crop_cam_to_full_transl(
    pred_cam: torch.Tensor,
    box_center_xy: torch.Tensor,
    box_size_px: float | torch.Tensor,
    image_size_wh: torch.Tensor,
    focal_px: float | torch.Tensor,
    *,
    principal_point_xy: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weak-perspective crop camera -> translation in the full-image camera frame.

    Args:
        pred_cam: ``(B, 3)`` ``[s, tx, ty]`` predicted on the crop.
        box_center_xy: ``(B, 2)`` crop centre in full-image pixels.
        box_size_px: ``(B,)`` or float, side of the square crop in full-image pixels.
        image_size_wh: ``(B, 2)`` full image ``(W, H)`` in pixels.
        focal_px: ``(B,)`` or float, focal length of the full-image camera in pixels.
        principal_point_xy: optional ``(B, 2)`` principal point; default the image centre.

    Returns:
        ``(B, 3)`` translation ``[Tx, Ty, Tz]`` of the body in the camera frame (metres).
    """
    check_tensor(pred_cam, name="pred_cam")
    dims = check_shape(pred_cam, "B 3", name="pred_cam")
    check_shape(box_center_xy, "B 2", name="box_center_xy", dims=dims)
    check_shape(image_size_wh, "B 2", name="image_size_wh", dims=dims)
    batch = dims["B"]
    size = _per_item(box_size_px, batch, pred_cam, name="box_size_px")
    focal = _per_item(focal_px, batch, pred_cam, name="focal_px")
    center = _as(box_center_xy, pred_cam)
    pp = _principal_point(_as(image_size_wh, pred_cam), principal_point_xy, dims)
    scale_px = (pred_cam[:, 0] * size).clamp(min=_MIN_SCALE)  # s * b
    tz = 2.0 * focal / scale_px
    txy = pred_cam[:, 1:3] + 2.0 * (center - pp) / scale_px[:, None]
    return torch.cat([txy, tz[:, None]], dim=-1)


def full_transl_to_crop_cam(
    transl: torch.Tensor,
    box_center_xy: torch.Tensor,
    box_size_px: float | torch.Tensor,
    image_size_wh: torch.Tensor,
    focal_px: float | torch.Tensor,
    *,
    principal_point_xy: torch.Tensor | None = None,
) -> torch.Tensor:
    """Inverse of ``crop_cam_to_full_transl``: camera-frame translation -> crop ``[s, tx, ty]``.

    Args:
        transl: ``(B, 3)`` ``[Tx, Ty, Tz]`` in metres; ``Tz`` must be positive (clamped to 1e-6).
        box_center_xy, box_size_px, image_size_wh, focal_px, principal_point_xy: as in
            ``crop_cam_to_full_transl``.

    Returns:
        ``(B, 3)`` weak-perspective camera ``[s, tx, ty]`` for the crop.
    """
    check_tensor(transl, name="transl")
    dims = check_shape(transl, "B 3", name="transl")
    check_shape(box_center_xy, "B 2", name="box_center_xy", dims=dims)
    check_shape(image_size_wh, "B 2", name="image_size_wh", dims=dims)
    batch = dims["B"]
    size = _per_item(box_size_px, batch, transl, name="box_size_px")
    focal = _per_item(focal_px, batch, transl, name="focal_px")
    center = _as(box_center_xy, transl)
    pp = _principal_point(_as(image_size_wh, transl), principal_point_xy, dims)
    tz = transl[:, 2].clamp(min=_MIN_SCALE)
    scale = 2.0 * focal / (size * tz)
    txy = transl[:, 0:2] - (center - pp) * (tz / focal)[:, None]
    return torch.cat([scale[:, None], txy], dim=-1)


def crop_intrinsics(
    K: torch.Tensor, box_xyxy: torch.Tensor, out_size: int | tuple[int, int]
) -> torch.Tensor:
    """Intrinsics of the crop ``box_xyxy`` of an image resampled to ``out_size`` pixels.

    A full-image pixel ``u`` maps to ``(u - x1) * out_w / (x2 - x1)`` in the crop (continuous
    coordinates, as ``grid_sample(align_corners=False)`` resampling), so
    ``K_crop = diag(sx, sy, 1) @ [[1, 0, -x1], [0, 1, -y1], [0, 0, 1]] @ K``. For a square box
    and square output ``sx == sy``.

    Args:
        K: ``(B, 3, 3)`` full-image intrinsics, or one ``(3, 3)`` shared by the batch.
        box_xyxy: ``(B, 4)`` crop boxes in full-image pixels (``x2 > x1``, ``y2 > y1``).
        out_size: output side in pixels, or ``(out_w, out_h)``.

    Returns:
        ``(B, 3, 3)`` intrinsics of the resampled crop.
    """
    check_tensor(K, name="K")
    check_tensor(box_xyxy, name="box_xyxy")
    dims = check_shape(box_xyxy, "B 4", name="box_xyxy")
    if K.ndim == 2:
        check_shape(K, "3 3", name="K")
        K = K.expand(dims["B"], 3, 3)
    check_shape(K, "B 3 3", name="K", dims=dims)
    out_w, out_h = (out_size, out_size) if isinstance(out_size, int) else out_size
    box = box_xyxy.to(K.dtype)
    sx = out_w / (box[:, 2] - box[:, 0]).clamp(min=_MIN_SCALE)
    sy = out_h / (box[:, 3] - box[:, 1]).clamp(min=_MIN_SCALE)
    zeros, ones = torch.zeros_like(sx), torch.ones_like(sx)
    affine = torch.stack(
        [
            torch.stack([sx, zeros, -sx * box[:, 0]], dim=-1),
            torch.stack([zeros, sy, -sy * box[:, 1]], dim=-1),
            torch.stack([zeros, zeros, ones], dim=-1),
        ],
        dim=-2,
    )  # (B, 3, 3)
    return affine @ K
