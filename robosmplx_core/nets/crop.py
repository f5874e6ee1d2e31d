"""Differentiable crops with ``grid_sample`` and the box maths of the whole-body network.

Conventions: boxes are ``xyxy`` in continuous full-image pixels (pixel ``i`` spans ``[i, i+1)``,
see ``geometry.projection``); crop-normalised coordinates are in ``[-1, 1]`` over the crop with
the ``align_corners=False`` convention (``x_norm = 2 u / S - 1`` for crop pixel ``u``), the same
as the joints of ``nets.localization``. A crop of box ``(x1, y1, x2, y2)`` samples full-image
pixel ``u = cx + x_norm * w / 2`` (``cx`` the box centre, ``w`` its width; ``-x_norm`` when
mirrored), bilinearly, with zeros outside the image -- the mean colour for ImageNet-normalised
input. The sampling grid is built with broadcasting (no ``affine_grid``), so the crops export
to ONNX (GridSample, opset >= 16) with dynamic batch and image size.

Glossary: B batch, J joints, H x W full image, S crop side.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from robosmplx_core.checks import check_shape

__all__ = ["box_center_size", "square_boxes", "crop_boxes", "crop_to_image", "joint_extent_boxes",
           "center_size_to_boxes"]  # fmt: skip


def box_center_size(boxes_xyxy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., 4)`` xyxy -> centre ``(..., 2)`` and size ``(..., 2)`` (w, h)."""
    center = (boxes_xyxy[..., 0:2] + boxes_xyxy[..., 2:4]) * 0.5
    return center, boxes_xyxy[..., 2:4] - boxes_xyxy[..., 0:2]


def center_size_to_boxes(center: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
    """Square boxes: centre ``(..., 2)`` and side ``(...)`` -> ``(..., 4)`` xyxy."""
    half = (side * 0.5).unsqueeze(-1)
    return torch.cat([center - half, center + half], dim=-1)


def square_boxes(boxes_xyxy: torch.Tensor, *, scale: float = 1.0) -> torch.Tensor:
    """Same centre, side ``scale * max(w, h)``: ``(..., 4)`` -> ``(..., 4)`` xyxy (not clipped).

    The export-friendly twin of ``geometry.boxes.expand_box_to_square`` (tensor in, tensor out).
    """
    center, size = box_center_size(boxes_xyxy)
    return center_size_to_boxes(center, scale * size.amax(dim=-1))


def _crop_grid(boxes_xyxy: torch.Tensor, height: torch.Tensor | int, width: torch.Tensor | int,
               out_size: int, mirror: bool) -> torch.Tensor:  # fmt: skip
    """``(B, S, S, 2)`` grid_sample coordinates of the crops of ``boxes_xyxy`` (B, 4)."""
    steps = (2.0 * torch.arange(out_size, dtype=boxes_xyxy.dtype, device=boxes_xyxy.device) + 1.0) / out_size - 1.0
    center, size = box_center_size(boxes_xyxy)  # (B, 2) each, pixels
    sign = -1.0 if mirror else 1.0
    u = center[:, 0:1] + sign * steps[None, :] * size[:, 0:1] * 0.5  # (B, S) full-image pixels
    v = center[:, 1:2] + steps[None, :] * size[:, 1:2] * 0.5
    gx = 2.0 * u / width - 1.0
    gy = 2.0 * v / height - 1.0
    grid_x = gx[:, None, :].expand(-1, out_size, -1)
    grid_y = gy[:, :, None].expand(-1, -1, out_size)
    return torch.stack([grid_x, grid_y], dim=-1)


def crop_boxes(images: torch.Tensor, boxes_xyxy: torch.Tensor, *, out_size: int, mirror: bool = False) -> torch.Tensor:
    """Bilinear crops ``(B, 3, S, S)`` of ``boxes_xyxy`` ``(B, 4)`` from ``images`` ``(B, 3, H, W)``.

    Row ``b`` of the boxes is cut from row ``b`` of the images (for N people in one frame pass
    ``frame.expand(N, -1, -1, -1)``, a view). ``mirror=True`` flips the crop left-right (a left
    hand then looks like a right hand). Differentiable in images and boxes.

    Raises:
        ValueError: mismatching batch sizes or wrong ranks.
    """
    dims = check_shape(images, "B C H W", name="images")
    check_shape(boxes_xyxy, "B 4", name="boxes_xyxy", dims={"B": dims["B"]})
    if out_size < 1:
        raise ValueError(f"out_size: expected a positive crop side, got {out_size}")
    grid = _crop_grid(boxes_xyxy.to(images.dtype), images.shape[2], images.shape[3], out_size, mirror)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def crop_to_image(points_norm: torch.Tensor, boxes_xyxy: torch.Tensor, *, mirror: bool = False) -> torch.Tensor:
    """Crop-normalised points ``(B, J, 2)`` of the crops ``boxes_xyxy`` ``(B, 4)`` -> pixels ``(B, J, 2)``."""
    center, size = box_center_size(boxes_xyxy)
    xy = points_norm * (size[:, None, :] * 0.5)
    if mirror:
        xy = xy * torch.tensor([-1.0, 1.0], dtype=xy.dtype, device=xy.device)
    return center[:, None, :] + xy


def joint_extent_boxes(points: torch.Tensor, *, scale: float, min_side: float = 0.0) -> torch.Tensor:
    """Square boxes around point sets ``(B, K, 2)`` -> ``(B, 4)`` xyxy in the points' units.

    Centre = middle of the min/max extent, side = ``max(scale * max(w, h), min_side)``.
    """
    lo, hi = points.amin(dim=1), points.amax(dim=1)
    side = (scale * (hi - lo).amax(dim=-1)).clamp_min(min_side)
    return center_size_to_boxes((lo + hi) * 0.5, side)
