"""MediaPipe Holistic on each tracked person's crop, one Holistic instance per live track.

One instance per track keeps MediaPipe's internal tracking per person, so hands and faces
never jump between people (a single instance put both hands on the wrong person on a
two-person photo). Each instance costs ~200 MB, so at most ``max_tracking_instances`` exist;
tracks beyond that share one single-image (``static_image_mode``) instance, which keeps no
state between calls (so nothing can carry over from one person to the next) but runs
MediaPipe's person detector on every call. A track gets a tracking instance as soon as one
is free. Memory is therefore bounded by ``max_tracking_instances + 1`` instances. Landmarks are mapped back to full-image pixels and rejected when they do
not belong to the track's box (a crop holding two people can yield the other person).
Models: MediaPipe 0.10.21's bundled ones, ``model_complexity=1`` (the only one that works
offline: 0 and 2 download their models at first use).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
from dataclasses import dataclass
from typing import Iterator, Optional

import cv2
import numpy as np

from robosmplx_core.estimate.landmarks import PersonLandmarks
from robosmplx_core.geometry.boxes import box_iou

CROP_EXPAND = 1.3       # crop = square around the track box, its longer side times this
CROP_SIZE_PX = 384      # every crop is resampled to this square size: small people are enlarged
                        # (MediaPipe finds no pose below ~100 px), large ones shrunk (frames wider
                        # than ~1000 px gave no pose), and MediaPipe always sees one input size
                        # (varying sizes made each instance's buffer pools grow without bound)
MIN_BOX_IOU = 0.3       # landmarks' box vs the track box: below this, they belong to someone else
VISIBLE = 0.5


@dataclass(frozen=True)
class CropWindow:
    """A square window of the full image (may extend past its borders, padded black).

    Fields: x0, y0 top-left corner and side, full-image pixels; scale = crop pixels per
    full-image pixel (CROP_SIZE_PX / side).
    """

    x0: float
    y0: float
    side: float
    scale: float


def crop_window(box_xyxy: np.ndarray) -> CropWindow:
    """The square window around a (4,) xyxy box, CROP_EXPAND times its longer side."""
    cx, cy = (box_xyxy[0] + box_xyxy[2]) / 2, (box_xyxy[1] + box_xyxy[3]) / 2
    side = max(box_xyxy[2] - box_xyxy[0], box_xyxy[3] - box_xyxy[1], 1.0) * CROP_EXPAND
    return CropWindow(float(cx - side / 2), float(cy - side / 2), float(side), CROP_SIZE_PX / float(side))


def extract_crop(image: np.ndarray, win: CropWindow) -> np.ndarray:
    """(CROP_SIZE_PX, CROP_SIZE_PX, 3) uint8 resampling of ``win`` from ``image`` (H, W, 3)."""
    m = np.array([[win.scale, 0.0, -win.x0 * win.scale], [0.0, win.scale, -win.y0 * win.scale]])
    interp = cv2.INTER_AREA if win.scale < 1.0 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, m, (CROP_SIZE_PX, CROP_SIZE_PX), flags=interp,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def _release_free_memory() -> None:
    """Give freed native memory back to the OS (glibc keeps MediaPipe's released buffers in its
    arenas otherwise; measured: 30 instance create/close cycles 121 -> 548 MB RSS, back to
    140 MB after malloc_trim). A no-op where glibc is not the allocator."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


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
    """Holistic instances keyed by track id, at most ``max_tracking_instances`` of them.

    Args:
        max_tracking_instances: tracking-mode instances (>= 1; ~200 MB each); tracks beyond
            this share one single-image instance until one is free.
        min_detection_confidence, min_tracking_confidence: MediaPipe's thresholds.
    """

    def __init__(self, *, max_tracking_instances: int = 4, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        import mediapipe as mp  # heavy import, only when the landmarks backend is used

        if max_tracking_instances < 1:
            raise ValueError(f"HolisticPool: max_tracking_instances must be >= 1, got {max_tracking_instances}")
        self._holistic_cls = mp.solutions.holistic.Holistic
        self._det_conf = min_detection_confidence
        self._trk_conf = min_tracking_confidence
        self.max_tracking_instances = int(max_tracking_instances)
        self._instances: dict[int, object] = {}
        self._spare: list = []  # reset instances of dead tracks, reused before creating new ones
        self._created = 0  # tracking instances ever created (live + spare)
        self._shared: Optional[object] = None  # single-image instance for tracks over the cap
        self.rejected = 0  # landmarks refused because they did not fit the track's box
        self.shared_calls = 0  # crops processed by the shared instance (tracks over the cap)

    def _new(self, *, static: bool):
        with quiet_native_stderr():
            return self._holistic_cls(
                static_image_mode=static, model_complexity=1, refine_face_landmarks=False,
                min_detection_confidence=self._det_conf, min_tracking_confidence=self._trk_conf)

    def _instance(self, track_id: int):
        inst = self._instances.get(track_id)
        if inst is not None:
            return inst
        if self._spare:  # reuse a dead track's instance
            inst = self._spare.pop()
        elif self._created < self.max_tracking_instances:
            inst = self._new(static=False)
            self._created += 1
        else:  # over the cap: the shared single-image instance, until a tracking one is free
            if self._shared is None:
                self._shared = self._new(static=True)
            self.shared_calls += 1
            return self._shared
        self._instances[track_id] = inst
        return inst

    @property
    def num_instances(self) -> int:
        """MediaPipe instances that exist now (tracking ones, live or spare, plus the shared one)."""
        return self._created + (self._shared is not None)

    def process(self, image: np.ndarray, track_id: int, box_xyxy: np.ndarray) -> Optional[PersonLandmarks]:
        """Landmarks of the person in ``box_xyxy`` (4,) of ``image`` (H, W, 3) RGB, or None."""
        win = crop_window(np.asarray(box_xyxy, np.float64))
        crop = extract_crop(image, win)
        holistic = self._instance(track_id)
        with quiet_native_stderr():  # sub-models load lazily and log when a hand/face first appears
            res = holistic.process(crop)
        if res.pose_landmarks is None or res.pose_world_landmarks is None:
            return None
        offset = np.array([win.x0, win.y0, 0.0], np.float32)

        def to_full(lms, count: int) -> Optional[np.ndarray]:
            return None if lms is None else _points(lms, count, win.side, win.side) + offset

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
        """Release the instances of these track ids; they are reset and kept for new tracks
        (closing one does not give all of its memory back to the OS)."""
        for tid in list(track_ids):
            inst = self._instances.pop(int(tid), None)
            if inst is not None:
                with quiet_native_stderr():
                    inst.reset()
                self._spare.append(inst)
        _release_free_memory()

    def reset(self) -> None:
        """Release every instance (kept for reuse)."""
        self.drop(list(self._instances))

    def close(self) -> None:
        """Close every instance, live, spare or shared."""
        self.reset()
        for inst in self._spare + ([self._shared] if self._shared is not None else []):
            inst.close()
        self._spare.clear()
        self._shared = None
        self._created = 0

    def __len__(self) -> int:
        """Tracks that hold a tracking instance now."""
        return len(self._instances)
