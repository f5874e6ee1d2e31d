"""Axis-aligned boxes in pixels, named by format.

Formats (last dimension of size 4, continuous pixel coordinates, see ``projection``):
    - ``xyxy``:   ``(x1, y1, x2, y2)``, top-left and bottom-right corners, ``x2 >= x1``;
    - ``xywh``:   ``(x1, y1, w, h)``, top-left corner and size (COCO ``bbox``);
    - ``cxcywh``: ``(cx, cy, w, h)``, centre and size.

Every function accepts a ``torch.Tensor`` or a ``numpy.ndarray`` and returns the same type
(numpy goes through ``torch.as_tensor`` without a copy where possible). Integer inputs are
promoted to floating point. Leading dimensions ``...`` are allowed except where ``(N, 4)`` is
stated.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from robosmplx_core.checks import check_shape
from robosmplx_core.geometry._checks import check_trailing

__all__ = [
    "box_xyxy_to_xywh",
    "box_xywh_to_xyxy",
    "box_xyxy_to_cxcywh",
    "box_cxcywh_to_xyxy",
    "box_xywh_to_cxcywh",
    "box_cxcywh_to_xywh",
    "box_area",
    "box_iou",
    "expand_box_to_square",
    "clip_boxes",
]

ArrayLike = Any  # torch.Tensor | np.ndarray


def _to_torch(boxes: ArrayLike, *, name: str) -> tuple[torch.Tensor, bool]:
    """Return ``(float tensor, was_numpy)`` after checking the trailing size 4."""
    if isinstance(boxes, np.ndarray):
        t, was_numpy = torch.as_tensor(boxes), True
    elif isinstance(boxes, torch.Tensor):
        t, was_numpy = boxes, False
    else:
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(boxes).__name__}")
    if not t.is_floating_point():
        t = t.to(torch.float32)
    check_trailing(t, "4", name=name)
    return t, was_numpy


def _back(t: torch.Tensor, was_numpy: bool) -> ArrayLike:
    return t.numpy() if was_numpy else t


def _convert(boxes: ArrayLike, name: str, fn: Callable[..., tuple]) -> ArrayLike:
    t, was_numpy = _to_torch(boxes, name=name)
    return _back(torch.stack(fn(*t.unbind(-1)), dim=-1), was_numpy)


def box_xyxy_to_xywh(boxes_xyxy: ArrayLike) -> ArrayLike:
    """``(..., 4)`` xyxy -> ``(..., 4)`` xywh."""
    return _convert(boxes_xyxy, "boxes_xyxy", lambda x1, y1, x2, y2: (x1, y1, x2 - x1, y2 - y1))


def box_xywh_to_xyxy(boxes_xywh: ArrayLike) -> ArrayLike:
    """``(..., 4)`` xywh -> ``(..., 4)`` xyxy."""
    return _convert(boxes_xywh, "boxes_xywh", lambda x, y, w, h: (x, y, x + w, y + h))


def box_xyxy_to_cxcywh(boxes_xyxy: ArrayLike) -> ArrayLike:
    """``(..., 4)`` xyxy -> ``(..., 4)`` cxcywh."""
    return _convert(
        boxes_xyxy,
        "boxes_xyxy",
        lambda x1, y1, x2, y2: ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1),
    )


def box_cxcywh_to_xyxy(boxes_cxcywh: ArrayLike) -> ArrayLike:
    """``(..., 4)`` cxcywh -> ``(..., 4)`` xyxy."""
    return _convert(
        boxes_cxcywh,
        "boxes_cxcywh",
        lambda cx, cy, w, h: (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
    )


def box_xywh_to_cxcywh(boxes_xywh: ArrayLike) -> ArrayLike:
    """``(..., 4)`` xywh -> ``(..., 4)`` cxcywh."""
    return _convert(boxes_xywh, "boxes_xywh", lambda x, y, w, h: (x + w / 2, y + h / 2, w, h))


def box_cxcywh_to_xywh(boxes_cxcywh: ArrayLike) -> ArrayLike:
    """``(..., 4)`` cxcywh -> ``(..., 4)`` xywh."""
    return _convert(boxes_cxcywh, "boxes_cxcywh", lambda cx, cy, w, h: (cx - w / 2, cy - h / 2, w, h))


def box_area(boxes_xyxy: ArrayLike) -> ArrayLike:
    """``(..., 4)`` xyxy -> ``(...)`` areas in square pixels (inverted boxes count as 0)."""
    t, was_numpy = _to_torch(boxes_xyxy, name="boxes_xyxy")
    area = (t[..., 2] - t[..., 0]).clamp(min=0) * (t[..., 3] - t[..., 1]).clamp(min=0)
    return _back(area, was_numpy)


def box_iou(boxes_a_xyxy: ArrayLike, boxes_b_xyxy: ArrayLike) -> ArrayLike:
    """Pairwise intersection over union.

    Args:
        boxes_a_xyxy: ``(N, 4)`` boxes.
        boxes_b_xyxy: ``(M, 4)`` boxes (same array type as ``boxes_a_xyxy``).

    Returns:
        ``(N, M)`` IoU in ``[0, 1]``; 0 where the union is empty (two zero-area boxes).
        Inverted boxes count as empty. numpy in, float64 numpy out, computed in numpy (about
        4x cheaper than a round trip through torch for the tracker's small matrices).
    """
    if isinstance(boxes_a_xyxy, np.ndarray) and isinstance(boxes_b_xyxy, np.ndarray):
        return _box_iou_numpy(boxes_a_xyxy, boxes_b_xyxy)
    a, was_numpy = _to_torch(boxes_a_xyxy, name="boxes_a_xyxy")
    b, _ = _to_torch(boxes_b_xyxy, name="boxes_b_xyxy")
    check_shape(a, "N 4", name="boxes_a_xyxy")
    check_shape(b, "M 4", name="boxes_b_xyxy")
    b = b.to(a.dtype)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=-1)  # (N, M)
    union = box_area(a).clamp(min=0)[:, None] + box_area(b).clamp(min=0)[None, :] - inter
    iou = torch.where(union > 0, inter / union.clamp(min=torch.finfo(a.dtype).tiny), 0.0)
    return _back(iou, was_numpy)


def _box_iou_numpy(boxes_a_xyxy: np.ndarray, boxes_b_xyxy: np.ndarray) -> np.ndarray:
    a = np.asarray(boxes_a_xyxy, dtype=np.float64)
    b = np.asarray(boxes_b_xyxy, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 4 or b.ndim != 2 or b.shape[1] != 4:
        check_shape(a, "N 4", name="boxes_a_xyxy")
        check_shape(b, "M 4", name="boxes_b_xyxy")
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.maximum(bottom_right - top_left, 0.0)
    inter = wh[..., 0] * wh[..., 1]
    size_a, size_b = np.maximum(a[:, 2:] - a[:, :2], 0.0), np.maximum(b[:, 2:] - b[:, :2], 0.0)
    union = (size_a[:, 0] * size_a[:, 1])[:, None] + (size_b[:, 0] * size_b[:, 1])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def expand_box_to_square(boxes_xyxy: ArrayLike, scale: float = 1.0) -> ArrayLike:
    """Square boxes with the same centre, side ``scale * max(w, h)``.

    Args:
        boxes_xyxy: ``(..., 4)`` boxes.
        scale: enlargement factor (e.g. 1.2 adds 10 % context on each side).

    Returns:
        ``(..., 4)`` square xyxy boxes (not clipped to the image; see ``clip_boxes``).
    """
    if scale <= 0:
        raise ValueError(f"scale: expected a positive enlargement factor, got {scale}")
    t, was_numpy = _to_torch(boxes_xyxy, name="boxes_xyxy")
    cx, cy = (t[..., 0] + t[..., 2]) / 2, (t[..., 1] + t[..., 3]) / 2
    half = scale * torch.maximum(t[..., 2] - t[..., 0], t[..., 3] - t[..., 1]) / 2
    return _back(torch.stack([cx - half, cy - half, cx + half, cy + half], dim=-1), was_numpy)


def clip_boxes(boxes_xyxy: ArrayLike, width: float, height: float) -> ArrayLike:
    """Clamp ``(..., 4)`` xyxy boxes to the image ``[0, width] x [0, height]``."""
    t, was_numpy = _to_torch(boxes_xyxy, name="boxes_xyxy")
    x = t[..., 0::2].clamp(min=0, max=width)
    y = t[..., 1::2].clamp(min=0, max=height)
    return _back(torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], dim=-1), was_numpy)
