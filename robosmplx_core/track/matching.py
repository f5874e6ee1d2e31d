"""Track-to-detection association: IoU cost, gated Hungarian assignment.

Boxes are (N, 4) xyxy pixels. Indices returned are int64 row/column indices into the arrays
that were passed in (callers map them back to their own tracks and detections).
IoU comes from ``robosmplx_core.geometry.boxes.box_iou``, whose numpy path keeps the three
associations per frame well inside the tracker's 1 ms budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from robosmplx_core.checks import check_shape
from robosmplx_core.geometry.boxes import box_iou

__all__ = ["Assignment", "iou_matrix", "associate"]

# Cost of a pair below the IoU gate; far above any real cost (<= 1) or any sum of them.
_FORBIDDEN = 1e6


@dataclass(frozen=True)
class Assignment:
    """Result of one association between T tracks and D detections.

    Fields:
        matches: (M, 2) int64 rows ``(track_index, detection_index)``, sorted by track index.
        unmatched_tracks: (T - M,) int64 track indices, ascending.
        unmatched_detections: (D - M,) int64 detection indices, ascending.
    """

    matches: np.ndarray
    unmatched_tracks: np.ndarray
    unmatched_detections: np.ndarray


def iou_matrix(boxes_a_xyxy: np.ndarray, boxes_b_xyxy: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (A, 4) and (B, 4) xyxy boxes -> (A, B) float64 in [0, 1]
    (:func:`robosmplx_core.geometry.boxes.box_iou` on numpy arrays)."""
    return box_iou(np.asarray(boxes_a_xyxy, np.float64), np.asarray(boxes_b_xyxy, np.float64))


def _empty(num_tracks: int, num_detections: int) -> Assignment:
    return Assignment(np.zeros((0, 2), np.int64), np.arange(num_tracks, dtype=np.int64),
                      np.arange(num_detections, dtype=np.int64))


def associate(iou: np.ndarray, *, min_iou: float) -> Assignment:
    """Minimum-cost one-to-one assignment on ``1 - iou``, pairs below ``min_iou`` forbidden.

    Leaving a track or a detection unmatched costs ``(1 - min_iou) / 2`` each, so one good
    match is preferred over two poor ones (the semantics of ``lap.lapjv(extend_cost=True,
    cost_limit=1 - min_iou)`` used by ByteTrack), solved exactly with
    ``scipy.optimize.linear_sum_assignment`` on the (T + D) x (D + T) extended matrix.

    Args:
        iou: (T, D) IoU between T tracks and D detections.
        min_iou: pairs with IoU below this are never matched.

    Returns:
        The :class:`Assignment`; every track and detection index appears exactly once.
    """
    if not isinstance(iou, np.ndarray) or iou.ndim != 2:
        check_shape(iou, "T D", name="iou")
    if not 0.0 <= min_iou <= 1.0:
        raise ValueError(f"associate: min_iou must be in [0, 1], got {min_iou}")
    t, d = iou.shape
    if t == 0 or d == 0:
        return _empty(t, d)
    feasible = iou >= min_iou
    if not feasible.any():
        return _empty(t, d)
    unmatched_cost = 0.5 * (1.0 - min_iou)
    cost = np.full((t + d, d + t), _FORBIDDEN)
    cost[:t, :d] = np.where(feasible, 1.0 - iou, _FORBIDDEN)
    cost[np.arange(t), d + np.arange(t)] = unmatched_cost  # track k left unmatched
    cost[t + np.arange(d), np.arange(d)] = unmatched_cost  # detection j left unmatched
    cost[t:, d:] = 0.0  # dummy to dummy
    rows, cols = linear_sum_assignment(cost)
    real = (rows < t) & (cols < d)
    real[real] = feasible[rows[real], cols[real]]  # defensive: never return a gated pair
    matches = np.stack([rows[real], cols[real]], axis=1).astype(np.int64)
    unmatched_t = np.ones(t, bool)
    unmatched_t[matches[:, 0]] = False
    unmatched_d = np.ones(d, bool)
    unmatched_d[matches[:, 1]] = False
    return Assignment(matches, np.flatnonzero(unmatched_t), np.flatnonzero(unmatched_d))
