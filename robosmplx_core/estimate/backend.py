"""Person estimator backends: one interface, chosen by config (``pipeline.backend``).

A backend turns the tracked persons of one frame into SMPL-X fits in the camera frame.
The pipeline then runs the body model once for all persons (joints) and smooths over time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np

from robosmplx_core.types import Frame, PartConfidence, SMPLXParams, Tracks


@dataclass(frozen=True)
class PersonObservation:
    """What the first half of a backend saw of one tracked person (e.g. its landmarks).

    Fields:
        track_id, box_xyxy (4,) pixels, score: from the tracker.
        evidence: backend-specific input of :meth:`PersonBackend.fit` (PersonLandmarks for
            the landmarks backend).
        support_box_xyxy: (4,) float32 box around the person's landmarks (pixels), used to
            follow the person on frames without detection; None if unavailable.
    """

    track_id: int
    box_xyxy: np.ndarray
    score: float
    evidence: object
    support_box_xyxy: Optional[np.ndarray] = None


@dataclass(frozen=True)
class PersonFit:
    """One tracked person's SMPL-X fit before joints are computed.

    Fields:
        track_id: the tracker's id.
        box_xyxy: (4,) float32 track box, pixels.
        score: detection confidence.
        params: batch of 1, camera frame.
        confidence: per-part confidence.
    """

    track_id: int
    box_xyxy: np.ndarray
    score: float
    params: SMPLXParams
    confidence: PartConfidence


class PersonBackend(ABC):
    """Interface of an estimator backend, in two halves so a streaming pipeline can overlap
    them: ``observe`` (image work, per-track state, in frame order) and ``fit`` (model
    fitting, stateless). Per-track state is dropped with the track."""

    @abstractmethod
    def observe(self, frame: Frame, tracks: Tracks) -> list[PersonObservation]:
        """Observations of the tracks that could be seen in ``frame``."""

    @abstractmethod
    def fit(self, observations: list[PersonObservation], K: np.ndarray) -> list[PersonFit]:
        """SMPL-X fits in the camera frame (K: (3, 3) intrinsics)."""

    def __call__(self, frame: Frame, tracks: Tracks, K: np.ndarray) -> list[PersonFit]:
        """``fit(observe(frame, tracks), K)``."""
        return self.fit(self.observe(frame, tracks), K)

    def drop(self, track_ids: Iterable[int]) -> None:
        """Forget per-track state of dead tracks."""

    def reset(self) -> None:
        """Forget all state."""


# Landmarks of a person span joints, not the silhouette: grow their box by this to match a
# detector's person box (measured on the samples; boxes of landmarks are ~15% smaller).
SUPPORT_BOX_GROW = 1.15


def landmark_box(pose_px: np.ndarray, visibility: np.ndarray, *, min_visibility: float = 0.5) -> Optional[np.ndarray]:
    """(4,) box around visible pose landmarks (33, 2), grown by SUPPORT_BOX_GROW; None if < 4 visible."""
    pts = pose_px[visibility >= min_visibility]
    if len(pts) < 4:
        return None
    lo, hi = pts.min(0), pts.max(0)
    centre, half = (lo + hi) / 2, (hi - lo) / 2 * SUPPORT_BOX_GROW
    return np.concatenate([centre - half, centre + half]).astype(np.float32)


class LandmarksBackend(PersonBackend):
    """MediaPipe Holistic per tracked person + the landmark -> SMPL-X solver."""

    def __init__(self, *, pool, solver) -> None:
        self._pool = pool
        self._solver = solver

    @classmethod
    def from_body_model(cls, model, *, max_tracking_instances: int = 4) -> "LandmarksBackend":
        """Build with a fresh Holistic pool (see ``HolisticPool``) and a solver for ``model``
        (a BodyModel)."""
        from robosmplx_core.estimate.holistic import HolisticPool
        from robosmplx_core.estimate.solver import LandmarkSolver

        return cls(pool=HolisticPool(max_tracking_instances=max_tracking_instances),
                   solver=LandmarkSolver.from_body_model(model))

    @property
    def rejected_landmarks(self) -> int:
        """Landmark results refused because they belonged to another person's box."""
        return self._pool.rejected

    def observe(self, frame: Frame, tracks: Tracks) -> list[PersonObservation]:
        seen = []
        for i, tid in enumerate(tracks.track_ids.tolist()):
            lms = self._pool.process(frame.image, tid, tracks.boxes_xyxy[i])
            if lms is not None:
                seen.append(PersonObservation(track_id=tid, box_xyxy=tracks.boxes_xyxy[i],
                                              score=float(tracks.scores[i]), evidence=lms,
                                              support_box_xyxy=landmark_box(lms.pose_px, lms.pose_visibility)))
        return seen

    def fit(self, observations: list[PersonObservation], K: np.ndarray) -> list[PersonFit]:
        fits = []
        for ob in observations:
            result = self._solver.solve(ob.evidence, K)
            fits.append(PersonFit(track_id=ob.track_id, box_xyxy=ob.box_xyxy, score=ob.score,
                                  params=result.params, confidence=result.confidence))
        return fits

    def drop(self, track_ids: Iterable[int]) -> None:
        self._pool.drop(track_ids)

    def reset(self) -> None:
        self._pool.reset()
