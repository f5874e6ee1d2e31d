"""Which boxes feed the tracker on each frame, with the detector off the critical path.

The person detector costs about a third of a MediaPipe call, so it does not run on every frame:
between detections, the boxes of each track's landmarks (``support``) stand in for it. Rules:

- no support yet (first frame, nobody tracked) or ``force`` (new tracks wait for confirming
  detections): the detector runs on this frame and its boxes are the measurements;
- every ``every_n``-th frame otherwise: the detector STARTS on this frame in a background thread
  (ONNX Runtime releases the GIL, so it uses the core MediaPipe leaves free) and this frame is
  measured by the support boxes; the next frame waits for that result and is measured by the
  landmark boxes (newer than the detections) plus every detection that overlaps none of them
  (people who just appeared). Track boxes without landmarks are not carried on that frame: a
  track must be re-detected or seen by the backend to stay alive, as with synchronous detection;
- all other frames: the support boxes.

Waiting for the background result on the next frame (it is normally finished by then) makes the
measurements independent of thread timing: the live ROS node and offline bag processing agree.
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Optional

import numpy as np

from robosmplx_core.detect import Detector
from robosmplx_core.geometry.boxes import box_iou
from robosmplx_core.types import Detections, Frame

NEW_PERSON_MAX_IOU = 0.3  # a detection overlapping a landmark box more than this is that person


@dataclass(frozen=True)
class Support:
    """Boxes standing in for detections: ``detections`` (N boxes and scores) and ``seen`` (N,)
    bool, True where the box came from the person's landmarks (else the track's own box)."""

    detections: Detections
    seen: np.ndarray


@dataclass(frozen=True)
class Measurement:
    """The tracker's input for one frame and the detector time spent on the critical path
    (``detect_ms``; 0 when only support boxes were used) or in the background (``background_ms``)."""

    detections: Detections
    detect_ms: float
    background_ms: float


class DetectionSchedule:
    """Decides, per frame, detector vs support boxes (module docstring); owns one worker thread.

    Args:
        detector: the person detector.
        every_n: detect on every n-th frame (1 = every frame, synchronously).
    """

    def __init__(self, *, detector: Detector, every_n: int) -> None:
        if every_n < 1:
            raise ValueError(f"detect_every_n_frames: expected >= 1, got {every_n}")
        self.detector, self.every_n = detector, every_n
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pending: Optional[Future] = None
        self._frames = 0

    def measure(self, frame: Frame, support: Optional[Support], *, force: bool) -> Measurement:
        """Measurements for ``frame``; ``force``: run the detector on it now."""
        fresh, background_ms = self._collect()
        due = self._frames % self.every_n == 0
        self._frames += 1
        if support is None or force or self.every_n == 1:
            t0 = time.perf_counter()
            return Measurement(self.detector(frame), (time.perf_counter() - t0) * 1e3, background_ms)
        if due:
            self._start(frame)
        boxes = support.detections if fresh is None else _merge(support, fresh)
        return Measurement(boxes, 0.0, background_ms)

    def _start(self, frame: Frame) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="robosmplx-detect")

        def run() -> tuple[Detections, float]:
            t0 = time.perf_counter()
            return self.detector(frame), (time.perf_counter() - t0) * 1e3

        self._pending = self._pool.submit(run)

    def _collect(self) -> tuple[Optional[Detections], float]:
        """The background result of the previous frame (waits for it), or (None, 0)."""
        if self._pending is None:
            return None, 0.0
        pending, self._pending = self._pending, None
        return pending.result()  # re-raises the detector's exception here

    def reset(self) -> None:
        """Forget the frame count and any background result."""
        if self._pending is not None:
            self._pending.cancel()
            try:
                self._pending.result()
            except Exception:  # noqa: BLE001 - a stale frame's failure does not matter after reset
                pass
        self._pending, self._frames = None, 0

    def close(self) -> None:
        """Stop the worker thread (a later frame starts a new one)."""
        self.reset()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def _merge(support: Support, fresh: Detections) -> Detections:
    """Landmark boxes plus the fresh detections that overlap none of them."""
    seen_boxes = support.detections.boxes_xyxy[support.seen]
    seen_scores = support.detections.scores[support.seen]
    if len(seen_boxes) and len(fresh.boxes_xyxy):
        new = box_iou(fresh.boxes_xyxy, seen_boxes).max(axis=1) <= NEW_PERSON_MAX_IOU
    else:
        new = np.ones(len(fresh.boxes_xyxy), bool)
    boxes = np.concatenate([seen_boxes, fresh.boxes_xyxy[new]]).reshape(-1, 4)
    return Detections(boxes.astype(np.float32), np.concatenate([seen_scores, fresh.scores[new]]).astype(np.float32))
