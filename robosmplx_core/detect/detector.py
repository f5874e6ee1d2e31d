"""Person detectors: ``detector(frame) -> Detections`` (boxes in full-image pixels, best first).

The offline detector is SSDLite-MobileNetV2 trained on COCO (TF Object Detection API), converted
once to ONNX by ``tools/convert_detector.sh`` and run in ONNX Runtime on the CPU. Its graph takes
uint8 RGB NHWC of any size and resizes to 300 x 300 itself; we resize to 300 x 300 first
(plain bilinear resize, aspect not kept, as the model was trained: on the samples this finds more
of the small pedestrians than letterboxing and keeps outstretched limbs in the box), so the
graph's own resize is a no-op and large frames cost little more than small ones. Its outputs are normalised
(y1, x1, y2, x2) boxes, scores and COCO class ids (person = 1), already NMS'd per class.

Pixel convention: continuous coordinates, the image spans [0, W] x [0, H]; boxes are clipped to it.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from robosmplx_core.checks import check_shape
from robosmplx_core.config import DetectorConfig
from robosmplx_core.detect.nms import nms_xyxy
from robosmplx_core.media import cache_dir
from robosmplx_core.types import Detections, Frame

MODEL_FILENAME = "ssdlite_mobilenet_v2_coco.onnx"
INPUT_SIZE = 300  # the network's input side, pixels
PERSON_CLASS = 1  # COCO category id of "person" in the TF Object Detection API label map
_INPUT_NAME = "image_tensor:0"
_OUTPUT_NAMES = ("num_detections:0", "detection_boxes:0", "detection_scores:0", "detection_classes:0")
_SETUP_HINT = "run `make setup` (or `bash tools/convert_detector.sh`) to convert it once (about a minute)"


def default_model_path() -> Path:
    """Where ``tools/convert_detector.sh`` puts the ONNX file: ``cache_dir()/models/<MODEL_FILENAME>``."""
    return cache_dir() / "models" / MODEL_FILENAME


class Detector(abc.ABC):
    """Anything that finds people in a frame."""

    @abc.abstractmethod
    def __call__(self, frame: Frame) -> Detections:
        """Person boxes in ``frame``: (N, 4) xyxy pixels within the image, scores (N,), best first."""


class SSDLitePersonDetector(Detector):
    """SSDLite-MobileNetV2 (COCO) person detector in ONNX Runtime on the CPU; any frame size, 8-20 ms a frame.

    Keeps person boxes scoring at least ``score_threshold`` and at least ``min_box_height_px``
    tall (after mapping to full-image pixels), removes duplicates with class-agnostic NMS at
    ``nms_iou``, and returns at most ``max_persons`` boxes, highest score first.
    """

    def __init__(
        self,
        *,
        model_path: str | Path,
        score_threshold: float = 0.3,
        nms_iou: float = 0.5,
        max_persons: int = 16,
        min_box_height_px: float = 24.0,
        num_threads: Optional[int] = None,
    ) -> None:
        _check_params(score_threshold, nms_iou, max_persons, min_box_height_px, num_threads)
        self.model_path = Path(model_path).expanduser()
        if not self.model_path.is_file():
            hint = _SETUP_HINT if self.model_path == default_model_path() else (
                f"set detector.model_path to an existing ONNX file, or leave it unset and {_SETUP_HINT}")
            raise FileNotFoundError(f"person detector model {self.model_path} is missing; {hint}")
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.max_persons = int(max_persons)
        self.min_box_height_px = float(min_box_height_px)
        self._session = _open_session(self.model_path, num_threads)

    @classmethod
    def from_config(cls, cfg: DetectorConfig, *, num_threads: Optional[int] = None) -> "SSDLitePersonDetector":
        """Build from the ``detector`` config section; ``model_path`` None means :func:`default_model_path`."""
        return cls(
            model_path=cfg.model_path if cfg.model_path is not None else default_model_path(),
            score_threshold=cfg.score_threshold,
            nms_iou=cfg.nms_iou,
            max_persons=cfg.max_persons,
            min_box_height_px=cfg.min_box_height_px,
            num_threads=num_threads,
        )

    def __call__(self, frame: Frame) -> Detections:
        """Detect people in ``frame`` (image (H, W, 3) uint8 RGB, any size >= 1 x 1)."""
        if not isinstance(frame, Frame):
            raise TypeError(f"SSDLitePersonDetector: expected a robosmplx_core.types.Frame, got {type(frame).__name__}")
        h, w = frame.height, frame.width
        net_in = _resize_to_input(frame.image)
        num, boxes_n, scores, classes = self._session.run(list(_OUTPUT_NAMES), {_INPUT_NAME: net_in[None]})
        n = int(num[0])
        return select_persons(boxes_n[0, :n], scores[0, :n], classes[0, :n], width=w, height=h,
                              score_threshold=self.score_threshold, nms_iou=self.nms_iou,
                              max_persons=self.max_persons, min_box_height_px=self.min_box_height_px)

    def __repr__(self) -> str:
        return (f"SSDLitePersonDetector(model_path={str(self.model_path)!r}, score_threshold={self.score_threshold}, "
                f"nms_iou={self.nms_iou}, max_persons={self.max_persons}, min_box_height_px={self.min_box_height_px})")


def select_persons(
    boxes_yxyx_norm: np.ndarray,
    scores: np.ndarray,
    classes: np.ndarray,
    *,
    width: int,
    height: int,
    score_threshold: float,
    nms_iou: float,
    max_persons: int,
    min_box_height_px: float,
) -> Detections:
    """Turn raw SSD outputs for M boxes into person :class:`Detections` in full-image pixels.

    Args:
        boxes_yxyx_norm: (M, 4) normalised (y1, x1, y2, x2), as the TF Object Detection API gives them.
        scores: (M,) in [0, 1].
        classes: (M,) COCO category ids (float or int; person = :data:`PERSON_CLASS`).
        width, height: W and H of the full image in pixels.
        score_threshold, nms_iou, max_persons, min_box_height_px: as in :class:`SSDLitePersonDetector`.

    Returns:
        At most ``max_persons`` boxes (N, 4) xyxy clipped to [0, W] x [0, H], scores best first.
    """
    boxes_yxyx_norm = np.asarray(boxes_yxyx_norm, dtype=np.float32)
    scores = np.asarray(scores, dtype=np.float32)
    classes = np.asarray(classes)
    check_shape(boxes_yxyx_norm, "M 4", name="select_persons: boxes_yxyx_norm")
    dims = check_shape(scores, "M", name="select_persons: scores", dims={"M": boxes_yxyx_norm.shape[0]})
    check_shape(classes, "M", name="select_persons: classes", dims=dims)
    keep = (np.rint(classes) == PERSON_CLASS) & (scores >= score_threshold)
    boxes_xyxy = _to_pixels_xyxy(boxes_yxyx_norm[keep], width, height)
    kept_scores = scores[keep].astype(np.float32)
    ok = (boxes_xyxy[:, 3] - boxes_xyxy[:, 1] >= min_box_height_px) & (boxes_xyxy[:, 2] > boxes_xyxy[:, 0])
    boxes_xyxy, kept_scores = boxes_xyxy[ok], kept_scores[ok]
    if kept_scores.size == 0:
        return Detections.empty()
    idx = nms_xyxy(boxes_xyxy, kept_scores, iou_threshold=nms_iou, max_keep=max_persons)
    return Detections(boxes_xyxy[idx], kept_scores[idx])


def _check_params(score_threshold: float, nms_iou: float, max_persons: int, min_box_height_px: float,
                  num_threads: Optional[int]) -> None:
    if not 0.0 <= score_threshold <= 1.0:
        raise ValueError(f"score_threshold: expected a value in [0, 1], got {score_threshold}")
    if not 0.0 <= nms_iou <= 1.0:
        raise ValueError(f"nms_iou: expected a value in [0, 1], got {nms_iou}")
    if max_persons < 1:
        raise ValueError(f"max_persons: expected >= 1, got {max_persons}")
    if not min_box_height_px >= 0.0:
        raise ValueError(f"min_box_height_px: expected >= 0, got {min_box_height_px}")
    if num_threads is not None and num_threads < 1:
        raise ValueError(f"num_threads: expected None (ONNX Runtime's default) or >= 1, got {num_threads}")


def _open_session(model_path: Path, num_threads: Optional[int]):  # -> onnxruntime.InferenceSession
    import onnxruntime as ort  # imported here so that importing robosmplx_core.detect stays cheap

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # errors only (the converted graph triggers harmless shape warnings)
    if num_threads is not None:
        opts.intra_op_num_threads = num_threads
    # ONNX Runtime's workers spin-wait after each run by default, stealing the core that
    # MediaPipe and the solver need right after detection in the pipeline.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    outputs = {o.name for o in session.get_outputs()}
    if inputs != [_INPUT_NAME] or not set(_OUTPUT_NAMES) <= outputs:
        raise ValueError(f"{model_path} is not the SSDLite detector graph: expected input {_INPUT_NAME} and outputs "
                         f"{', '.join(_OUTPUT_NAMES)}, got inputs {inputs} and outputs {sorted(outputs)}; "
                         f"delete it and {_SETUP_HINT}")
    return session


def _resize_to_input(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (300, 300, 3) uint8 contiguous, bilinear (no anti-aliasing).

    Bilinear is what the network saw in training (TF's resize_bilinear); on vtest.avi it finds
    more of the small pedestrians than area averaging (mean 4.8 vs 4.6 boxes per frame, the extra
    ones checked by eye) and costs under 1 ms even at 3840 x 2160 (area: 47 ms).
    """
    return cv2.resize(np.ascontiguousarray(image), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)


def _to_pixels_xyxy(boxes_yxyx_norm: np.ndarray, width: int, height: int) -> np.ndarray:
    """(N, 4) normalised (y1, x1, y2, x2) -> (N, 4) float32 pixels (x1, y1, x2, y2) clipped to the image."""
    scale = np.array([width, height, width, height], dtype=np.float32)
    boxes = boxes_yxyx_norm[:, [1, 0, 3, 2]].astype(np.float32) * scale
    return np.clip(boxes, 0.0, scale)
