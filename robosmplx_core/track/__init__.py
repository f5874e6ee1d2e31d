"""Multi-person tracking: ByteTrack-style association with a time-explicit Kalman filter.

    tracker = ByteTracker.from_config(cfg.tracker)
    tracks = tracker.update(detections, frame.stamp_s)   # Detections -> Tracks
    for track_id in tracker.removed_ids: ...             # drop per-track state downstream

Modules: ``kalman`` (box motion model), ``matching`` (IoU + gated Hungarian), ``tracker``.
"""

from robosmplx_core.track.kalman import BoxKalmanFilter
from robosmplx_core.track.matching import Assignment, associate, iou_matrix
from robosmplx_core.track.tracker import ByteTracker, TrackerStats

__all__ = ["Assignment", "BoxKalmanFilter", "ByteTracker", "TrackerStats", "associate", "iou_matrix"]
