"""Person detection: ``Detector`` interface, the offline SSDLite-MobileNetV2 ONNX detector, NMS.

    detector = SSDLitePersonDetector.from_config(cfg.detector)   # model from `make setup`
    dets = detector(frame)                                       # Detections, best first

Boxes are ``boxes_xyxy`` (N, 4) in full-image pixels, clipped to [0, W] x [0, H].
"""

from robosmplx_core.detect.detector import (
    INPUT_SIZE,
    MODEL_FILENAME,
    PERSON_CLASS,
    Detector,
    SSDLitePersonDetector,
    default_model_path,
    select_persons,
)
from robosmplx_core.detect.nms import iou_one_to_many, nms_xyxy

__all__ = [
    "INPUT_SIZE",
    "MODEL_FILENAME",
    "PERSON_CLASS",
    "Detector",
    "SSDLitePersonDetector",
    "default_model_path",
    "iou_one_to_many",
    "nms_xyxy",
    "select_persons",
]
