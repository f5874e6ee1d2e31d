"""Detection scheduling of the pipeline (``pipeline.detection``) with the real SSDLite detector
on real vtest.avi frames (needs ``make setup``'s media and detector)."""

from __future__ import annotations

import numpy as np
import pytest

from robosmplx_core.config import DetectorConfig
from robosmplx_core.detect import SSDLitePersonDetector
from robosmplx_core.pipeline.detection import DetectionSchedule, Support
from robosmplx_core.types import Detections, Frame


@pytest.fixture(scope="module")
def detector() -> SSDLitePersonDetector:
    return SSDLitePersonDetector.from_config(DetectorConfig())


@pytest.fixture(scope="module")
def frames(vtest_frames) -> list[Frame]:
    return vtest_frames


def _support(boxes: np.ndarray, seen: bool) -> Support:
    return Support(Detections(boxes, np.full(len(boxes), 0.9, np.float32)), np.full(len(boxes), seen))


def test_schedule_sync_first_then_background_merged_on_the_next_frame(detector, frames) -> None:
    schedule = DetectionSchedule(detector=detector, every_n=3)
    try:
        first = schedule.measure(frames[0], None, force=False)  # nobody tracked: detect now
        assert first.detect_ms > 0 and len(first.detections) >= 2
        one = _support(first.detections.boxes_xyxy[:1], seen=True)
        for i in (1, 2):  # not due: the support boxes as they are
            m = schedule.measure(frames[i], one, force=False)
            assert m.detect_ms == 0 and m.background_ms == 0 and len(m.detections) == 1
        started = schedule.measure(frames[3], one, force=False)  # due: starts in the background
        assert started.detect_ms == 0 and len(started.detections) == 1
        merged = schedule.measure(frames[4], one, force=False)  # frame 3's boxes join frame 4's
        fresh = detector(frames[3])
        assert merged.background_ms > 0 and merged.detect_ms == 0
        # the landmark box stays; every detection except the one that is the same person joins it
        assert len(merged.detections) == len(fresh)
        np.testing.assert_array_equal(merged.detections.boxes_xyxy[0], one.detections.boxes_xyxy[0])
        forced = schedule.measure(frames[5], one, force=True)  # tentative tracks: detect now
        assert forced.detect_ms > 0 and len(forced.detections) == len(detector(frames[5]))
    finally:
        schedule.close()


def test_track_boxes_without_landmarks_are_not_carried_past_a_detection(detector, frames) -> None:
    schedule = DetectionSchedule(detector=detector, every_n=1 + 1)
    ghost = _support(np.array([[0, 0, 30, 60]], np.float32), seen=False)  # nobody there
    try:
        schedule.measure(frames[0], ghost, force=False)  # frame 0 is due: background start
        m = schedule.measure(frames[1], ghost, force=False)
        assert len(m.detections) == len(detector(frames[0]))
        assert not np.any(np.all(m.detections.boxes_xyxy == ghost.detections.boxes_xyxy[0], axis=1))
    finally:
        schedule.close()


def test_measurements_do_not_depend_on_thread_timing(detector, frames) -> None:
    runs = []
    for _ in range(2):
        schedule = DetectionSchedule(detector=detector, every_n=2)
        support, boxes = None, []
        for frame in frames:
            m = schedule.measure(frame, support, force=False)
            boxes.append(m.detections.boxes_xyxy)
            support = _support(m.detections.boxes_xyxy[:2], seen=True)
        schedule.close()
        runs.append(boxes)
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_reset_and_bad_period(detector, frames) -> None:
    schedule = DetectionSchedule(detector=detector, every_n=2)
    one = _support(np.array([[100, 100, 150, 250]], np.float32), seen=True)
    schedule.measure(frames[0], one, force=False)  # background start
    schedule.reset()  # the pending result is dropped
    m = schedule.measure(frames[1], one, force=False)
    assert m.background_ms == 0 and len(m.detections) == 1
    schedule.close()
    with pytest.raises(ValueError, match="detect_every_n_frames"):
        DetectionSchedule(detector=detector, every_n=0)
