"""The capped MediaPipe Holistic pool on real models and a real street scene (the third frame
of vtest.avi: three pedestrians found by the real detector, each of whom Holistic finds;
needs ``make setup``'s media and detector). Each tracking instance costs ~200 MB, so the pool holds at most
``max_tracking_instances`` of them and serves further tracks with one shared single-image
instance until a tracking one is free.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from robosmplx_core.config import DetectorConfig, PipelineConfig
from robosmplx_core.detect import SSDLitePersonDetector
from robosmplx_core.estimate.holistic import HolisticPool
from robosmplx_core.media import sample_path
from robosmplx_core.types import Frame


@pytest.fixture(scope="module")
def two_walkers() -> tuple[np.ndarray, np.ndarray]:
    cap = cv2.VideoCapture(str(sample_path("vtest.avi")))
    frames = [cap.read() for _ in range(3)]
    cap.release()
    ok, bgr = frames[-1]
    assert ok, f"OpenCV could not decode {sample_path('vtest.avi')}"
    image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    boxes = SSDLitePersonDetector.from_config(DetectorConfig())(Frame(image, stamp_s=0.0)).boxes_xyxy
    assert len(boxes) >= 2, f"expected at least two pedestrians, the detector found {len(boxes)}"
    return image, boxes[:2]


def test_tracks_over_the_cap_share_one_single_image_instance(two_walkers) -> None:
    image, boxes = two_walkers
    pool = HolisticPool(max_tracking_instances=1)
    try:
        first = pool.process(image, 1, boxes[0])
        second = pool.process(image, 2, boxes[1])  # over the cap: the shared instance
        assert len(pool) == 1 and pool.num_instances == 2 and pool.shared_calls == 1
        found = [lms for lms in (first, second) if lms is not None]
        assert len(found) == 2, "both pedestrians should get landmarks, tracking or shared instance"
        for lms, box in zip(found, boxes):  # each result lies on its own player
            centre = lms.pose_px[lms.pose_visibility > 0.5].mean(0)
            assert box[0] <= centre[0] <= box[2] and box[1] <= centre[1] <= box[3]

        for _ in range(3):  # more frames: still 2 instances, never a third
            pool.process(image, 1, boxes[0])
            pool.process(image, 2, boxes[1])
        assert pool.num_instances == 2 and pool.shared_calls == 4

        pool.drop([1])  # track 1 dies: track 2 takes over its (reset) tracking instance
        assert pool.process(image, 2, boxes[1]) is not None
        assert len(pool) == 1 and pool.num_instances == 2 and pool.shared_calls == 4
    finally:
        pool.close()
    assert pool.num_instances == 0


def test_cap_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_tracking_instances must be >= 1"):
        HolisticPool(max_tracking_instances=0)
    with pytest.raises(ValueError, match="pipeline.max_tracking_instances"):
        PipelineConfig(max_tracking_instances=0)
