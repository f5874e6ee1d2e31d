"""Estimator: detect -> track -> observe (backend) | fit (backend) -> joints -> smooth.

    estimator = Estimator.from_config(load_config())
    persons = estimator(Frame(image_rgb, stamp_s=t))        # list[PersonEstimate]
    estimator.last_timings.detect_ms, ...                   # per-stage milliseconds
    for frame, persons in estimator.stream(frames): ...     # same results, higher throughput

A frame goes through two halves: ``observe`` (detection, tracking, the backend's image work,
e.g. MediaPipe) and ``finish`` (model fitting, joints, smoothing). The detector runs every
n-th frame, in the background while the backend works (see ``pipeline.detection``). ``stream`` runs ``finish``
of frame t in a worker thread while ``observe`` handles frame t+1 (MediaPipe and ONNX Runtime
release the GIL), which is how the pipeline keeps up with bare MediaPipe on 2 cores. Results
and their order are identical to calling the estimator frame by frame.

State (track ids, per-track landmark models and filters) belongs to the instance; ``reset()``
clears it. Time comes from frame stamps only.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Iterable, Iterator, Optional

import numpy as np
import torch

from robosmplx_core.body_model import BodyModel
from robosmplx_core.config import RoboSMPLXConfig
from robosmplx_core.detect import Detector, SSDLitePersonDetector
from robosmplx_core.estimate.backend import LandmarksBackend, PersonBackend, PersonFit, PersonObservation
from robosmplx_core.geometry.projection import default_intrinsics, perspective_projection
from robosmplx_core.pipeline.detection import DetectionSchedule, Support
from robosmplx_core.smoothing import SmoothingStage
from robosmplx_core.track import ByteTracker
from robosmplx_core.types import Detections, Frame, PersonEstimate, SMPLXParams, Tracks


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


@dataclass(frozen=True)
class FrameObservation:
    """The first half's result for one frame (input of :meth:`Estimator.finish`).

    Fields:
        frame: the input frame; K: (3, 3) intrinsics used; observations: per seen track;
        dead_track_ids: tracks removed at this frame (their smoother state is dropped);
        timings: the first half's stage timings (the rest are filled by ``finish``).
    """

    frame: Frame
    K: np.ndarray
    observations: list[PersonObservation]
    dead_track_ids: tuple[int, ...]
    timings: StageTimings


def _backend_from_config(cfg: RoboSMPLXConfig, model: BodyModel) -> PersonBackend:
    from robosmplx_core.estimate.network_backend import NetworkBackend  # loads the network code only here

    builders = {  # a literal dict, not a registry
        "landmarks": lambda: LandmarksBackend.from_body_model(
            model, max_tracking_instances=cfg.pipeline.max_tracking_instances),
        "robosmplx": lambda: NetworkBackend.from_checkpoint(  # the network runs where the body model does
            cfg.pipeline.checkpoint, device=cfg.body_model.device, num_betas=model.num_betas,
            num_expression=model.num_expression),
    }
    return builders[cfg.pipeline.backend]()


class Estimator:
    """Whole-body SMPL-X for every tracked person in a frame."""

    def __init__(self, *, detector: Detector, tracker: ByteTracker, backend: PersonBackend,
                 smoother: SmoothingStage, body_model: BodyModel, detect_every_n_frames: int = 1,
                 default_fov_deg: float = 60.0) -> None:
        self.detector, self.tracker, self.backend = detector, tracker, backend
        self.smoother, self.body_model = smoother, body_model
        self.default_fov_deg = default_fov_deg
        self.last_timings = StageTimings()
        self._schedule = DetectionSchedule(detector=detector, every_n=detect_every_n_frames)
        self._support: Optional[Support] = None

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
        self._schedule.reset()
        self._support = None

    def close(self) -> None:
        """Stop the background detection thread (the estimator stays usable)."""
        self._schedule.close()

    def __call__(self, frame: Frame) -> list[PersonEstimate]:
        """Estimates for the confirmed tracks of ``frame`` (possibly empty)."""
        return self.finish(self.observe(frame))

    def observe(self, frame: Frame) -> FrameObservation:
        """First half: detect (or follow landmark boxes), track, backend image work."""
        t0 = time.perf_counter()
        K = self.intrinsics(frame)
        # new tracks wait for confirmation by real detections: detect now while there are any
        measured = self._schedule.measure(frame, self._support, force=self.tracker.num_tentative > 0)
        t1 = time.perf_counter()
        tracks = self.tracker.update(measured.detections, frame.stamp_s)
        dead = self.tracker.removed_ids
        if dead:
            self.backend.drop(dead)
        t2 = time.perf_counter()
        observations = self.backend.observe(frame, tracks)
        t3 = time.perf_counter()
        self._support = self._support_detections(tracks, observations)
        timings = StageTimings(detect_ms=measured.detect_ms or measured.background_ms, track_ms=(t2 - t1) * 1e3,
                               landmarks_ms=(t3 - t2) * 1e3, total_ms=(t3 - t0) * 1e3)
        return FrameObservation(frame=frame, K=K, observations=observations, dead_track_ids=tuple(dead),
                                timings=timings)

    def finish(self, obs: FrameObservation) -> list[PersonEstimate]:
        """Second half: fit, joints, smoothing; sets :attr:`last_timings`. Call in frame order."""
        t0 = time.perf_counter()
        if obs.dead_track_ids:
            self.smoother.drop(obs.dead_track_ids)
        fits = self.backend.fit(obs.observations, obs.K)
        t1 = time.perf_counter()
        persons = self._with_joints(fits, obs.K)
        t2 = time.perf_counter()
        persons = self.smoother(persons, obs.frame.stamp_s)
        t3 = time.perf_counter()
        self.last_timings = replace(obs.timings, solve_ms=(t1 - t0) * 1e3, body_model_ms=(t2 - t1) * 1e3,
                                    smooth_ms=(t3 - t2) * 1e3, total_ms=obs.timings.total_ms + (t3 - t0) * 1e3)
        return persons

    def stream(self, frames: Iterable[Frame]) -> Iterator[tuple[Frame, list[PersonEstimate], StageTimings]]:
        """Estimates for a sequence of frames, in order, with ``finish`` in a worker thread.

        Yields (frame, persons, timings) per frame; exceptions of either half are re-raised
        here. The worker holds at most two frames, so memory stays bounded.
        """
        todo: queue.Queue = queue.Queue(maxsize=2)
        done: queue.Queue = queue.Queue(maxsize=2)
        end = object()

        def worker() -> None:
            while (obs := todo.get()) is not end:
                try:
                    done.put((obs.frame, self.finish(obs), self.last_timings))
                except BaseException as exc:  # handed to the caller's thread
                    done.put(exc)
                    return
            done.put(end)

        thread = threading.Thread(target=worker, name="robosmplx-finish", daemon=True)
        thread.start()
        pending = 0
        try:
            for frame in frames:
                todo.put(self.observe(frame))
                pending += 1
                while pending and (pending >= 2 or not done.empty()):
                    yield self._take(done)
                    pending -= 1
            todo.put(end)
            while pending:
                yield self._take(done)
                pending -= 1
        finally:
            if thread.is_alive():  # consumer stopped early: let the worker finish and exit
                try:
                    todo.put_nowait(end)
                except queue.Full:
                    pass

    @staticmethod
    def _take(done: queue.Queue) -> tuple[Frame, list[PersonEstimate], StageTimings]:
        item = done.get()
        if isinstance(item, BaseException):
            raise item
        return item

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
    def _support_detections(tracks: Tracks, observations: list[PersonObservation]) -> Optional[Support]:
        """Boxes that stand in for detections on the next frame without the detector: the
        landmarks' box where the backend saw the person, else the track's own box."""
        by_id = {ob.track_id: ob for ob in observations if ob.support_box_xyxy is not None}
        if len(tracks) == 0:
            return None
        ids = tracks.track_ids.tolist()
        boxes = [by_id[t].support_box_xyxy if t in by_id else tracks.boxes_xyxy[i] for i, t in enumerate(ids)]
        return Support(Detections(np.stack(boxes), tracks.scores), np.array([t in by_id for t in ids], bool))
