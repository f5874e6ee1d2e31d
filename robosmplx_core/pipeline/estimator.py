"""Estimator: detect -> track -> estimate (backend) -> joints (body model) -> smooth.

    estimator = Estimator.from_config(load_config())
    persons = estimator(Frame(image_rgb, stamp_s=t))        # list[PersonEstimate]
    estimator.last_timings.detect_ms, ...                   # per-stage milliseconds

State (track ids, per-track landmark models and filters) belongs to the instance; ``reset()``
clears it. Time comes from frame stamps only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.config import RoboSMPLXConfig
from robosmplx_core.detect import Detector, SSDLitePersonDetector
from robosmplx_core.estimate.backend import LandmarksBackend, PersonBackend, PersonFit
from robosmplx_core.geometry.projection import default_intrinsics, perspective_projection
from robosmplx_core.smoothing import SmoothingStage
from robosmplx_core.track import ByteTracker
from robosmplx_core.types import Detections, Frame, PersonEstimate, SMPLXParams


@dataclass(frozen=True)
class StageTimings:
    """Milliseconds per stage for one frame (all persons together)."""

    detect_ms: float = 0.0
    track_ms: float = 0.0
    landmarks_ms: float = 0.0
    solve_ms: float = 0.0
    body_model_ms: float = 0.0
    smooth_ms: float = 0.0
    total_ms: float = 0.0


def _backend_from_config(cfg: RoboSMPLXConfig, model: BodyModel) -> PersonBackend:
    builders = {"landmarks": LandmarksBackend.from_body_model}  # a literal dict, not a registry
    return builders[cfg.pipeline.backend](model)


class Estimator:
    """Whole-body SMPL-X for every tracked person in a frame."""

    def __init__(self, *, detector: Detector, tracker: ByteTracker, backend: PersonBackend,
                 smoother: SmoothingStage, body_model: BodyModel, detect_every_n_frames: int = 1,
                 default_fov_deg: float = 60.0) -> None:
        if detect_every_n_frames < 1:
            raise ValueError(f"detect_every_n_frames: expected >= 1, got {detect_every_n_frames}")
        self.detector, self.tracker, self.backend = detector, tracker, backend
        self.smoother, self.body_model = smoother, body_model
        self.detect_every_n_frames = detect_every_n_frames
        self.default_fov_deg = default_fov_deg
        self.last_timings = StageTimings()
        self._frames = 0
        self._support: Optional[Detections] = None

    @classmethod
    def from_config(cls, cfg: RoboSMPLXConfig) -> "Estimator":
        """Build every stage from its config section."""
        model = BodyModel.from_config(cfg.body_model)
        return cls(detector=SSDLitePersonDetector.from_config(cfg.detector),
                   tracker=ByteTracker.from_config(cfg.tracker), backend=_backend_from_config(cfg, model),
                   smoother=SmoothingStage.from_config(cfg.smoothing), body_model=model,
                   detect_every_n_frames=cfg.pipeline.detect_every_n_frames,
                   default_fov_deg=cfg.pipeline.default_fov_deg)

    def intrinsics(self, frame: Frame) -> np.ndarray:
        """(3, 3) K of the frame, or the default field of view's when the frame has none."""
        if frame.K is not None:
            return frame.K
        return np.asarray(default_intrinsics(frame.width, frame.height, fov_deg=self.default_fov_deg), np.float64)

    def reset(self) -> None:
        """Forget all tracks and per-track state (ids restart at 0)."""
        self.tracker.reset()
        self.backend.reset()
        self.smoother.reset()
        self._frames, self._support = 0, None

    def __call__(self, frame: Frame) -> list[PersonEstimate]:
        """Estimates for the confirmed tracks of ``frame`` (possibly empty)."""
        t0 = time.perf_counter()
        K = self.intrinsics(frame)
        use_detector = self._frames % self.detect_every_n_frames == 0 or self._support is None
        detections = self.detector(frame) if use_detector else self._support
        t1 = time.perf_counter()
        tracks = self.tracker.update(detections, frame.stamp_s)
        dead = self.tracker.removed_ids
        if dead:
            self.backend.drop(dead)
            self.smoother.drop(dead)
        t2 = time.perf_counter()
        fits = self.backend(frame, tracks, K)
        t3 = time.perf_counter()
        persons = self._with_joints(fits, K)
        t4 = time.perf_counter()
        persons = self.smoother(persons, frame.stamp_s)
        t5 = time.perf_counter()
        self._support = self._support_detections(fits)
        self._frames += 1
        bt = self.backend.timings
        self.last_timings = StageTimings(
            detect_ms=(t1 - t0) * 1e3 if use_detector else 0.0, track_ms=(t2 - t1) * 1e3,
            landmarks_ms=bt.landmarks_ms, solve_ms=bt.solve_ms, body_model_ms=(t4 - t3) * 1e3,
            smooth_ms=(t5 - t4) * 1e3, total_ms=(t5 - t0) * 1e3)
        return persons

    def _with_joints(self, fits: list[PersonFit], K: np.ndarray) -> list[PersonEstimate]:
        if not fits:
            return []
        params = SMPLXParams.cat([f.params for f in fits])
        with torch.inference_mode():
            joints = self.body_model.joints(params).float()
            uv = perspective_projection(joints, torch.as_tensor(K, dtype=joints.dtype))
        j3, j2 = joints.numpy(), uv.numpy()
        return [PersonEstimate(track_id=f.track_id, box_xyxy=f.box_xyxy, score=f.score, params=f.params,
                               joints3d=j3[i], joints2d=j2[i], confidence=f.confidence)
                for i, f in enumerate(fits)]

    @staticmethod
    def _support_detections(fits: list[PersonFit]) -> Optional[Detections]:
        boxes = [f.support_box_xyxy for f in fits if f.support_box_xyxy is not None]
        if not boxes:
            return None
        scores = [f.score for f in fits if f.support_box_xyxy is not None]
        return Detections(np.stack(boxes), np.asarray(scores, np.float32))
