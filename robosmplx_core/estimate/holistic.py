"""MediaPipe Holistic on each tracked person's crop, one Holistic instance per live track.

One instance per track keeps MediaPipe's internal tracking per person, so hands and faces
never jump between people (a single instance put both hands on the wrong person on a
two-person photo). Landmarks are mapped back to full-image pixels and rejected when they do
not belong to the track's box (a crop holding two people can yield the other person).
Models: MediaPipe 0.10.21's bundled ones, ``model_complexity=1`` (the only one that works
offline: 0 and 2 download their models at first use).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Iterator, Optional

import cv2
import numpy as np

from robosmplx_core.estimate.landmarks import PersonLandmarks
from robosmplx_core.geometry.boxes import box_iou

CROP_EXPAND = 1.3       # crop = track box scaled by this about its centre (context for the models)
CROP_MIN_SIDE_PX = 256  # small people are enlarged to this (MediaPipe finds no pose below ~100 px)
CROP_MAX_SIDE_PX = 640  # large crops are shrunk (frames wider than ~1000 px gave no pose at all)
MIN_BOX_IOU = 0.3       # landmarks' box vs the track box: below this, they belong to someone else
VISIBLE = 0.5


@dataclass(frozen=True)
class CropWindow:
    """Where a crop came from: full-image pixel window and the scale to the resized crop."""

    x0: int
    y0: int
    x1: int
    y1: int
    scale: float  # resized crop pixels per full-image pixel


def crop_window(box_xyxy: np.ndarray, width: int, height: int) -> CropWindow:
    """The expanded, clipped window around a (4,) box and its resize factor."""
    cx, cy = (box_xyxy[0] + box_xyxy[2]) / 2, (box_xyxy[1] + box_xyxy[3]) / 2
    half_w = max(box_xyxy[2] - box_xyxy[0], 1.0) * CROP_EXPAND / 2
    half_h = max(box_xyxy[3] - box_xyxy[1], 1.0) * CROP_EXPAND / 2
    x0, y0 = int(max(0, np.floor(cx - half_w))), int(max(0, np.floor(cy - half_h)))
    x1, y1 = int(min(width, np.ceil(cx + half_w))), int(min(height, np.ceil(cy + half_h)))
    side = max(x1 - x0, y1 - y0, 1)
    scale = float(np.clip(side, CROP_MIN_SIDE_PX, CROP_MAX_SIDE_PX)) / side
    return CropWindow(x0, y0, max(x1, x0 + 1), max(y1, y0 + 1), scale)


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence C++ log lines written to fd 2 (MediaPipe prints ~10 harmless absl/TFLite lines
    per instance as its models load, which no environment variable turns off). Python errors
    are unaffected: they surface after fd 2 is restored. Costs two dup2 calls."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _points(landmark_list, count: int, w: float, h: float) -> np.ndarray:
    pts = np.array([[p.x, p.y, p.z] for p in landmark_list.landmark[:count]], np.float32)
    return pts * np.array([w, h, w], np.float32)


class HolisticPool:
    """Holistic instances keyed by track id; ``drop`` closes those of dead tracks."""

    def __init__(self, *, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5) -> None:
        import mediapipe as mp  # heavy import, only when the landmarks backend is used

        self._holistic_cls = mp.solutions.holistic.Holistic
        self._det_conf = min_detection_confidence
        self._trk_conf = min_tracking_confidence
        self._instances: dict[int, object] = {}
        self.rejected = 0  # landmarks refused because they did not fit the track's box

    def _instance(self, track_id: int):
        if track_id not in self._instances:
            with quiet_native_stderr():
                self._instances[track_id] = self._holistic_cls(
                    static_image_mode=False, model_complexity=1, refine_face_landmarks=False,
                    min_detection_confidence=self._det_conf, min_tracking_confidence=self._trk_conf)
        return self._instances[track_id]

    def process(self, image: np.ndarray, track_id: int, box_xyxy: np.ndarray) -> Optional[PersonLandmarks]:
        """Landmarks of the person in ``box_xyxy`` (4,) of ``image`` (H, W, 3) RGB, or None."""
        h, w = image.shape[:2]
        win = crop_window(np.asarray(box_xyxy, np.float64), w, h)
        crop = image[win.y0:win.y1, win.x0:win.x1]
        size = (max(1, round(crop.shape[1] * win.scale)), max(1, round(crop.shape[0] * win.scale)))
        crop = np.ascontiguousarray(cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR))
        holistic = self._instance(track_id)
        with quiet_native_stderr():  # sub-models load lazily and log when a hand/face first appears
            res = holistic.process(crop)
        if res.pose_landmarks is None or res.pose_world_landmarks is None:
            return None
        cw, ch = crop.shape[1] / win.scale, crop.shape[0] / win.scale  # crop size in full-image px
        offset = np.array([win.x0, win.y0, 0.0], np.float32)

        def to_full(lms, count: int) -> Optional[np.ndarray]:
            return None if lms is None else _points(lms, count, cw, ch) + offset

        pose = to_full(res.pose_landmarks, 33)
        vis = np.array([p.visibility for p in res.pose_landmarks.landmark], np.float32)
        world = np.array([[p.x, p.y, p.z] for p in res.pose_world_landmarks.landmark], np.float32)
        if not self._belongs_to(pose[:, :2], vis, np.asarray(box_xyxy, np.float32)):
            self.rejected += 1
            return None
        return PersonLandmarks(pose_px=pose[:, :2], pose_visibility=np.clip(vis, 0, 1), pose_world_m=world,
                               left_hand_px=to_full(res.left_hand_landmarks, 21),
                               right_hand_px=to_full(res.right_hand_landmarks, 21),
                               face_px=to_full(res.face_landmarks, 468))

    @staticmethod
    def _belongs_to(pose_px: np.ndarray, vis: np.ndarray, box_xyxy: np.ndarray) -> bool:
        pts = pose_px[vis > VISIBLE]
        if len(pts) < 4:
            return False
        lm_box = np.array([[*pts.min(0), *pts.max(0)]], np.float32)
        return float(box_iou(lm_box, box_xyxy[None])[0, 0]) >= MIN_BOX_IOU

    def drop(self, track_ids) -> None:
        """Close and forget the instances of these track ids."""
        for tid in list(track_ids):
            inst = self._instances.pop(int(tid), None)
            if inst is not None:
                inst.close()

    def reset(self) -> None:
        """Close every instance."""
        self.drop(list(self._instances))

    def __len__(self) -> int:
        return len(self._instances)
