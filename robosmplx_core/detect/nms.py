"""Class-agnostic non-maximum suppression on boxes in pixels (numpy, vectorised per kept box).

Boxes are ``boxes_xyxy``: (N, 4) x1, y1, x2, y2 in pixels with x2 >= x1 and y2 >= y1; a box
with zero width or height has zero area and overlaps nothing.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from robosmplx_core.checks import check_shape
from robosmplx_core.geometry.boxes import box_iou


def iou_one_to_many(box_xyxy: np.ndarray, boxes_xyxy: np.ndarray) -> np.ndarray:
    """IoU of one box (4,) with each of N boxes (N, 4); returns (N,) float64 in [0, 1]."""
    return box_iou(np.asarray(box_xyxy, np.float64)[None], np.asarray(boxes_xyxy, np.float64))[0]


def nms_xyxy(
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    *,
    iou_threshold: float,
    max_keep: Optional[int] = None,
) -> np.ndarray:
    """Greedy NMS: keep the best box, drop the others overlapping it by IoU > iou_threshold, repeat.

    Args:
        boxes_xyxy: (N, 4) pixels.
        scores: (N,) higher is better.
        iou_threshold: in [0, 1]; boxes overlapping a kept, better box by more than this are dropped.
        max_keep: stop after this many kept boxes (None: no limit).

    Returns:
        (K,) int64 indices into the inputs, best score first (ties keep input order).
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    check_shape(boxes, "N 4", name="nms_xyxy: boxes_xyxy")
    scores = np.asarray(scores, dtype=np.float64)
    check_shape(scores, str(boxes.shape[0]), name="nms_xyxy: scores")
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f"nms_xyxy: iou_threshold must be in [0, 1], got {iou_threshold}")
    order = np.argsort(-scores, kind="stable")
    limit = boxes.shape[0] if max_keep is None else max_keep
    keep: list[int] = []
    while order.size > 0 and len(keep) < limit:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        order = rest[iou_one_to_many(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
