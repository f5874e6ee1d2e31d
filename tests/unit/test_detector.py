"""The offline person detector on real sample media, its edge cases, NMS and its error messages.

Needs the ONNX model converted by `make setup` (tools/convert_detector.sh) and the sample media;
when either is missing the tests fail with a message that says how to get it.
Expected positions were read off the images by eye (pictures with the boxes drawn were checked).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from robosmplx_core.config import DetectorConfig
from robosmplx_core.detect import (
    Detector,
    SSDLitePersonDetector,
    default_model_path,
    iou_one_to_many,
    nms_xyxy,
    select_persons,
)
from robosmplx_core.media import sample_path
from robosmplx_core.types import Detections, Frame

# vtest.avi frame with 7 pedestrians in view, all 7 found (scores 0.58-0.93) in a checked picture.
VTEST_CROWDED_FRAME = 188


@pytest.fixture(scope="module")
def detector() -> SSDLitePersonDetector:
    return SSDLitePersonDetector.from_config(DetectorConfig())


def _image(name: str) -> np.ndarray:
    bgr = cv2.imread(str(sample_path(name)), cv2.IMREAD_COLOR)
    assert bgr is not None, f"OpenCV could not read {sample_path(name)}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _video_frame(name: str, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(sample_path(name)))
    try:
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, bgr = cap.read()
    finally:
        cap.release()
    assert ok, f"could not read frame {index} of {name}"
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _centres(boxes_xyxy: np.ndarray) -> np.ndarray:
    return np.stack([(boxes_xyxy[:, 0] + boxes_xyxy[:, 2]) / 2, (boxes_xyxy[:, 1] + boxes_xyxy[:, 3]) / 2], axis=1)


def _assert_within_image(dets: Detections, height: int, width: int) -> None:
    b = dets.boxes_xyxy
    assert b.dtype == np.float32 and dets.scores.dtype == np.float32
    assert np.all(b[:, 0] >= 0) and np.all(b[:, 1] >= 0), b
    assert np.all(b[:, 2] <= width) and np.all(b[:, 3] <= height), b
    assert np.all(b[:, 2] > b[:, 0]) and np.all(b[:, 3] > b[:, 1]), b
    assert np.all(np.diff(dets.scores) <= 0), "scores must be sorted best first"


def test_is_a_detector(detector: SSDLitePersonDetector) -> None:
    assert isinstance(detector, Detector)


def test_basketball_finds_both_people(detector: SSDLitePersonDetector) -> None:
    image = _image("basketball1.png")  # grayscale content, 640 x 480
    dets = detector(Frame(image, 0.0))
    assert len(dets) == 2, (dets.scores, dets.boxes_xyxy)
    assert np.all(dets.scores > 0.8), dets.scores
    # Left man (head ~y85, feet ~y470, x 35..160) and right man (x 440..640, y 22..480).
    want = np.array([[97.0, 278.0], [540.0, 250.0]])
    got = _centres(dets.boxes_xyxy)
    got = got[np.argsort(got[:, 0])]
    np.testing.assert_allclose(got, want, atol=40.0)
    _assert_within_image(dets, *image.shape[:2])


def test_crowded_vtest_frame_has_at_least_four_people(detector: SSDLitePersonDetector) -> None:
    image = _video_frame("vtest.avi", VTEST_CROWDED_FRAME)
    dets = detector(Frame(image, 0.0, index=VTEST_CROWDED_FRAME))
    assert len(dets) >= 4, (dets.scores, dets.boxes_xyxy)
    # distinct people, not one person boxed several times
    for i in range(len(dets)):
        assert np.all(iou_one_to_many(dets.boxes_xyxy[i], np.delete(dets.boxes_xyxy, i, axis=0)) < 0.3)
    _assert_within_image(dets, *image.shape[:2])


def test_messi_player_found(detector: SSDLitePersonDetector) -> None:
    image = _image("messi5.jpg")  # 548 x 342; the player spans x ~70..455, y ~65..330
    dets = detector(Frame(image, 0.0))
    assert len(dets) >= 1
    x1, y1, x2, y2 = dets.boxes_xyxy[0]
    assert dets.scores[0] > 0.9, dets.scores
    assert x1 < 250 < x2 and y1 < 150 < y2, "the best box must contain the player's torso (250, 150)"
    assert y2 - y1 > 0.6 * image.shape[0] and x2 - x1 > 250
    _assert_within_image(dets, *image.shape[:2])


def test_uniform_grey_frame_has_no_people(detector: SSDLitePersonDetector) -> None:
    assert len(detector(Frame(np.full((480, 640, 3), 128, np.uint8), 0.0))) == 0


@pytest.mark.parametrize("height, width", [(8, 8), (4320, 7680), (1, 300), (300, 1)])
def test_extreme_frame_sizes_do_not_crash(detector: SSDLitePersonDetector, height: int, width: int) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    dets = detector(Frame(image, 0.0))
    assert isinstance(dets, Detections)
    _assert_within_image(dets, height, width)


def test_boxes_map_back_to_full_image_pixels(detector: SSDLitePersonDetector) -> None:
    """The same picture at twice the size gives boxes at twice the coordinates."""
    image = _image("basketball1.png")
    small = detector(Frame(image, 0.0))
    big = detector(Frame(cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR), 0.0))
    assert len(small) == len(big) == 2
    np.testing.assert_allclose(big.boxes_xyxy, 2 * small.boxes_xyxy, atol=12.0)


def test_filters_apply(detector: SSDLitePersonDetector) -> None:
    frame = Frame(_video_frame("vtest.avi", VTEST_CROWDED_FRAME), 0.0)
    path = detector.model_path
    assert len(SSDLitePersonDetector(model_path=path, max_persons=2)(frame)) == 2
    strict = SSDLitePersonDetector(model_path=path, score_threshold=0.75)(frame)
    assert 1 <= len(strict) < len(detector(frame)) and np.all(strict.scores >= 0.75)
    tall = SSDLitePersonDetector(model_path=path, min_box_height_px=80.0)(frame)
    assert 1 <= len(tall) < len(detector(frame))
    assert np.all(tall.boxes_xyxy[:, 3] - tall.boxes_xyxy[:, 1] >= 80.0)


def test_nms_removes_duplicates() -> None:
    boxes = np.array([
        [10, 10, 110, 210],   # person A, best
        [14, 12, 112, 214],   # A again (IoU ~0.9) -> dropped
        [200, 10, 300, 210],  # person B, no overlap
        [60, 10, 160, 210],   # overlaps A by IoU 1/3 -> kept at 0.5
        [0, 0, 0, 50],        # zero width: overlaps nothing
    ], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.95, 0.1], dtype=np.float32)
    assert nms_xyxy(boxes, scores, iou_threshold=0.5).tolist() == [3, 0, 2, 4]
    assert nms_xyxy(boxes, scores, iou_threshold=0.3).tolist() == [3, 2, 4]  # 1/3 > 0.3: A goes too
    assert nms_xyxy(boxes, scores, iou_threshold=0.5, max_keep=2).tolist() == [3, 0]
    assert nms_xyxy(np.zeros((0, 4)), np.zeros(0), iou_threshold=0.5).tolist() == []
    np.testing.assert_allclose(iou_one_to_many(boxes[0], boxes[[0, 3, 2]]), [1.0, 1 / 3, 0.0], atol=1e-6)
    with pytest.raises(ValueError, match="iou_threshold"):
        nms_xyxy(boxes, scores, iou_threshold=1.5)
    with pytest.raises(ValueError, match="scores"):
        nms_xyxy(boxes, scores[:3], iou_threshold=0.5)


def test_select_persons_filters_maps_clips_and_suppresses() -> None:
    """Post-processing on hand-made raw outputs (normalised y1, x1, y2, x2) for a 200 x 100 image."""
    boxes = np.array([
        [0.10, 0.10, 0.90, 0.40],  # 0 person 0.9 -> x 20..80, y 10..90
        [0.12, 0.11, 0.91, 0.41],  # 1 person 0.8, duplicate of 0 (IoU ~0.9) -> suppressed
        [0.10, 0.60, 0.90, 0.90],  # 2 dog (class 18) -> dropped
        [-0.1, 0.80, 1.20, 1.05],  # 3 person 0.7, outside the image -> clipped to x 160..200, y 0..100
        [0.10, 0.45, 0.25, 0.55],  # 4 person 0.95 but 15 px tall -> dropped by min height
        [0.10, 0.45, 0.90, 0.55],  # 5 person 0.2 -> below the score threshold
    ], dtype=np.float32)
    scores = np.array([0.9, 0.8, 0.99, 0.7, 0.95, 0.2], dtype=np.float32)
    classes = np.array([1, 1, 18, 1, 1, 1], dtype=np.float32)
    kw = dict(width=200, height=100, score_threshold=0.3, nms_iou=0.5, min_box_height_px=20.0)
    dets = select_persons(boxes, scores, classes, max_persons=16, **kw)
    np.testing.assert_allclose(dets.scores, [0.9, 0.7])
    np.testing.assert_allclose(dets.boxes_xyxy, [[20, 10, 80, 90], [160, 0, 200, 100]], atol=1e-4)
    assert len(select_persons(boxes, scores, classes, max_persons=1, **kw)) == 1
    assert len(select_persons(boxes[:0], scores[:0], classes[:0], max_persons=16, **kw)) == 0
    with pytest.raises(ValueError, match="scores"):
        select_persons(boxes, scores[:2], classes, max_persons=16, **kw)


def test_missing_default_model_says_how_to_make_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROBOSMPLX_CACHE", str(tmp_path))
    want = tmp_path / "models" / "ssdlite_mobilenet_v2_coco.onnx"
    assert default_model_path() == want
    with pytest.raises(FileNotFoundError) as err:
        SSDLitePersonDetector.from_config(DetectorConfig())
    msg = str(err.value)
    assert str(want) in msg and "make setup" in msg and "tools/convert_detector.sh" in msg


def test_missing_explicit_model_names_path_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(FileNotFoundError) as err:
        SSDLitePersonDetector.from_config(DetectorConfig(model_path=str(missing)))
    msg = str(err.value)
    assert str(missing) in msg and "detector.model_path" in msg and "make setup" in msg


def test_wrong_model_file_is_rejected(tmp_path: Path) -> None:
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    with pytest.raises(ValueError, match="not the SSDLite detector graph"):
        SSDLitePersonDetector(model_path=path)


@pytest.mark.parametrize("kwargs, match", [
    ({"score_threshold": 1.5}, "score_threshold"),
    ({"nms_iou": -0.1}, "nms_iou"),
    ({"max_persons": 0}, "max_persons"),
    ({"min_box_height_px": -1.0}, "min_box_height_px"),
    ({"num_threads": 0}, "num_threads"),
])
def test_bad_parameters_are_rejected(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SSDLitePersonDetector(model_path=default_model_path(), **kwargs)
