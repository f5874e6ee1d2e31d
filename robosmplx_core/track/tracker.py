"""ByteTrack-style multi-person tracker (Zhang et al. 2022), instance-scoped and time-explicit.

Per frame, :meth:`ByteTracker.update` takes :class:`Detections` and the frame stamp in seconds:

1. every track's box is predicted to this stamp (constant-velocity Kalman filter, ``kalman.py``;
   lost tracks keep their centre velocity but stop growing/shrinking, as in ByteTrack);
2. high-score detections (``score >= high_score``) are matched to confirmed tracks, active and
   lost, by IoU (``>= match_iou``);
3. low-score detections (``low_score <= score < high_score``) are matched to the confirmed
   tracks that were active in the previous frame and are still unmatched (``>= low_match_iou``);
   they extend tracks but never create, confirm or re-find one;
4. high-score detections still unmatched are matched to tentative tracks (``>= match_iou``);
5. tentative tracks that missed this frame are dropped; active tracks that missed it become lost;
6. unmatched high-score detections scoring ``>= new_track_score`` start tentative tracks
   (so the effective creation threshold is ``max(high_score, new_track_score)``);
7. a tentative track matched in ``min_hits`` consecutive frames (counting its first) is
   confirmed and gets the next id of *this* tracker (0, 1, 2, ...; tentative tracks that die
   never use an id);
8. lost tracks unmatched for longer than ``lost_timeout_s`` (by stamps) are removed; their ids
   are listed in :attr:`ByteTracker.removed_ids` until the next update.

Time: the tracker keeps its own clock that advances by ``max(stamp - previous stamp, 0)``. A
repeated or backwards stamp (bag loop, clock reset, out-of-order message) is a zero-time step:
nothing is predicted, lost-track timers do not advance, the event is counted in
:attr:`ByteTracker.stats`, and later stamps are measured from the new one. A live tracker must
survive such stamps, so they are not errors; a NaN or infinite stamp is (``ValueError``).

Reported boxes are the Kalman posterior (filtered) boxes, as in ByteTrack; scores are those of the
matched detections.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from robosmplx_core.config import TrackerConfig
from robosmplx_core.track.kalman import BoxKalmanFilter, boxes_xyxy_to_measurements, states_to_boxes_xyxy
from robosmplx_core.track.matching import associate, iou_matrix
from robosmplx_core.types import Detections, Tracks

__all__ = ["ByteTracker", "TrackerStats"]

_TENTATIVE, _ACTIVE, _LOST = 0, 1, 2
_INT = np.zeros(0, np.int64)


@dataclass(frozen=True)
class TrackerStats:
    """Counters since construction or the last :meth:`ByteTracker.reset`.

    Fields:
        frames: calls to ``update``.
        repeated_stamps: updates whose stamp equalled the previous one (treated as dt = 0).
        backwards_stamps: updates whose stamp was earlier than the previous one (dt = 0).
        tracks_confirmed: ids handed out (the next id is this number).
        tracks_removed: confirmed tracks removed after ``lost_timeout_s``.
    """

    frames: int = 0
    repeated_stamps: int = 0
    backwards_stamps: int = 0
    tracks_confirmed: int = 0
    tracks_removed: int = 0


@dataclass
class _TrackTable:
    """Mutable struct-of-arrays over T tracks (private; never leaves the tracker).

    x (T, 8) Kalman states, P (T, 4, 2, 2) covariance blocks (see ``kalman``), ids (T,) int64 (-1 while tentative),
    status (T,) int8, hits (T,) matched frames (consecutive while tentative: a tentative track
    that misses a frame is dropped), born_frame (T,) frame index at
    creation, last_seen_s (T,) tracker clock at the last match, scores (T,) last matched
    detection score, matched (T,) bool matched in the current frame.
    """

    x: np.ndarray
    P: np.ndarray
    ids: np.ndarray
    status: np.ndarray
    hits: np.ndarray
    born_frame: np.ndarray
    last_seen_s: np.ndarray
    scores: np.ndarray
    matched: np.ndarray

    @classmethod
    def empty(cls) -> "_TrackTable":
        return cls(np.zeros((0, 8)), np.zeros((0, 4, 2, 2)), _INT.copy(), np.zeros(0, np.int8),
                   _INT.copy(), _INT.copy(), np.zeros(0), np.zeros(0, np.float32), np.zeros(0, bool))

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def keep(self, mask: np.ndarray) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name)[mask])

    def extend(self, other: "_TrackTable") -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, np.concatenate([getattr(self, f.name), getattr(other, f.name)]))


class ByteTracker:
    """Two-stage (high/low score) IoU tracker with a Kalman motion model; see the module docstring.

    Args:
        high_score: detections scoring at least this are matched first and may start tracks.
        low_score: detections in ``[low_score, high_score)`` only extend active tracks; lower
            scores are ignored.
        match_iou: minimum IoU for high-score detections (first and tentative association).
        low_match_iou: minimum IoU for low-score detections.
        new_track_score: an unmatched high-score detection starts a track only at this score.
        lost_timeout_s: a lost track is kept (and may be re-found) for this many seconds.
        min_hits: consecutive matched frames before a new track is confirmed and reported.
        kalman: the motion model; ByteTrack's noise at 30 Hz by default.
    """

    def __init__(
        self,
        *,
        high_score: float,
        low_score: float,
        match_iou: float,
        low_match_iou: float,
        new_track_score: float,
        lost_timeout_s: float,
        min_hits: int,
        kalman: BoxKalmanFilter | None = None,
    ) -> None:
        for name, value in (("high_score", high_score), ("low_score", low_score), ("match_iou", match_iou),
                            ("low_match_iou", low_match_iou), ("new_track_score", new_track_score)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"ByteTracker.{name}: expected a value in [0, 1], got {value}")
        if low_score > high_score:
            raise ValueError(f"ByteTracker: low_score ({low_score}) must not exceed high_score ({high_score}); "
                             "lower low_score or raise high_score")
        if not (math.isfinite(lost_timeout_s) and lost_timeout_s >= 0):
            raise ValueError(f"ByteTracker.lost_timeout_s: expected a finite time >= 0 s, got {lost_timeout_s}")
        if int(min_hits) != min_hits or min_hits < 1:
            raise ValueError(f"ByteTracker.min_hits: expected an integer >= 1, got {min_hits}")
        self.high_score = float(high_score)
        self.low_score = float(low_score)
        self.match_iou = float(match_iou)
        self.low_match_iou = float(low_match_iou)
        self.new_track_score = float(new_track_score)
        self.lost_timeout_s = float(lost_timeout_s)
        self.min_hits = int(min_hits)
        self._kf = kalman if kalman is not None else BoxKalmanFilter()
        self.reset()

    @classmethod
    def from_config(cls, cfg: TrackerConfig) -> "ByteTracker":
        """Build from the ``tracker`` section of the config."""
        return cls(high_score=cfg.high_score, low_score=cfg.low_score, match_iou=cfg.match_iou,
                   low_match_iou=cfg.low_match_iou, new_track_score=cfg.new_track_score,
                   lost_timeout_s=cfg.lost_timeout_s, min_hits=cfg.min_hits)

    def reset(self) -> None:
        """Forget every track, restart ids at 0, the clock and the stats.

        ``removed_ids`` is emptied too: callers drop all their per-track state on reset.
        """
        self._tracks = _TrackTable.empty()
        self._next_id = 0
        self._frame = -1
        self._clock_s = 0.0
        self._last_stamp_s: float | None = None
        self._removed_ids: tuple[int, ...] = ()
        self._repeated_stamps = 0
        self._backwards_stamps = 0
        self._tracks_removed = 0

    @property
    def removed_ids(self) -> tuple[int, ...]:
        """Ids of confirmed tracks removed by the latest ``update`` (ascending); never reused."""
        return self._removed_ids

    @property
    def stats(self) -> TrackerStats:
        """Counters since construction or the last reset (see :class:`TrackerStats`)."""
        return TrackerStats(frames=self._frame + 1, repeated_stamps=self._repeated_stamps,
                            backwards_stamps=self._backwards_stamps, tracks_confirmed=self._next_id,
                            tracks_removed=self._tracks_removed)

    @property
    def num_tentative(self) -> int:
        """Tracks started but not yet confirmed (they need detections on the next frames)."""
        return int(np.count_nonzero(self._tracks.status == _TENTATIVE))

    @property
    def lost_ids(self) -> tuple[int, ...]:
        """Ids of confirmed tracks currently lost (not reported, but may still be re-found)."""
        t = self._tracks
        return tuple(int(i) for i in np.sort(t.ids[t.status == _LOST]))

    def update(self, detections: Detections, stamp_s: float) -> Tracks:
        """Advance to ``stamp_s`` and associate this frame's detections.

        Args:
            detections: N person boxes (xyxy pixels) and scores of this frame.
            stamp_s: the frame's capture time in seconds (see the module docstring on time).

        Returns:
            The confirmed tracks matched in this frame, sorted by id: ``Tracks`` with (N', 4)
            filtered boxes, (N',) matched detection scores and (N',) ages in frames since
            creation (0 in the creation frame).

        Raises:
            TypeError: ``detections`` is not a :class:`Detections`.
            ValueError: ``stamp_s`` is NaN or infinite.
        """
        if not isinstance(detections, Detections):
            raise TypeError(f"ByteTracker.update: expected Detections, got {type(detections).__name__}; "
                            "wrap boxes and scores with robosmplx_core.types.Detections(boxes_xyxy, scores)")
        dt_s = self._advance_clock(stamp_s)
        self._frame += 1
        self._removed_ids = ()
        self._predict(dt_s)
        scores = detections.scores
        high = np.flatnonzero(scores >= self.high_score)
        low = np.flatnonzero((scores >= self.low_score) & (scores < self.high_score))
        track_rows, det_rows, unmatched_high = self._associate(detections.boxes_xyxy, high, low)
        self._apply_matches(track_rows, det_rows, detections)
        self._drop_or_lose_unmatched()
        self._start_tracks(unmatched_high, detections)
        self._remove_expired()
        return self._report()

    def _advance_clock(self, stamp_s: float) -> float:
        stamp = float(stamp_s)
        if not math.isfinite(stamp):
            raise ValueError(f"ByteTracker.update: stamp_s must be a finite time in seconds, got {stamp_s}; "
                             "pass the frame's message or video timestamp")
        dt_s = 0.0
        if self._last_stamp_s is not None:
            dt_s = stamp - self._last_stamp_s
            self._repeated_stamps += int(dt_s == 0.0)
            self._backwards_stamps += int(dt_s < 0.0)
            dt_s = max(dt_s, 0.0)
        self._last_stamp_s = stamp
        self._clock_s += dt_s
        return dt_s

    def _predict(self, dt_s: float) -> None:
        t = self._tracks
        t.matched[:] = False
        if len(t) == 0:
            return
        t.x[t.status == _LOST, 6:8] = 0.0  # lost boxes keep their size
        t.x, t.P = self._kf.predict(t.x, t.P, dt_s)

    def _match(
        self, rows: np.ndarray, det_rows: np.ndarray, boxes_xyxy: np.ndarray, min_iou: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Associate tracks ``rows`` with detections ``det_rows``; returns matched pairs and leftovers."""
        if rows.size == 0 or det_rows.size == 0:
            return _INT, _INT, rows, det_rows
        iou = iou_matrix(states_to_boxes_xyxy(self._tracks.x[rows]), boxes_xyxy[det_rows])
        a = associate(iou, min_iou=min_iou)
        return (rows[a.matches[:, 0]], det_rows[a.matches[:, 1]],
                rows[a.unmatched_tracks], det_rows[a.unmatched_detections])

    def _associate(
        self, boxes_xyxy: np.ndarray, high: np.ndarray, low: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The three association stages; returns (track rows, detection rows, unmatched high)."""
        status = self._tracks.status
        confirmed = np.flatnonzero(status != _TENTATIVE)
        t1, d1, left, high_left = self._match(confirmed, high, boxes_xyxy, self.match_iou)
        t2, d2, _, _ = self._match(left[status[left] == _ACTIVE], low, boxes_xyxy, self.low_match_iou)
        tentative = np.flatnonzero(status == _TENTATIVE)
        t3, d3, _, high_left = self._match(tentative, high_left, boxes_xyxy, self.match_iou)
        return np.concatenate([t1, t2, t3]), np.concatenate([d1, d2, d3]), high_left

    def _apply_matches(self, rows: np.ndarray, det_rows: np.ndarray, detections: Detections) -> None:
        if rows.size == 0:
            return
        t = self._tracks
        z = boxes_xyxy_to_measurements(detections.boxes_xyxy[det_rows])
        t.x[rows], t.P[rows] = self._kf.update(t.x[rows], t.P[rows], z)
        t.scores[rows] = detections.scores[det_rows]
        t.last_seen_s[rows] = self._clock_s
        t.matched[rows] = True
        t.hits[rows] += 1
        t.status[rows[t.status[rows] == _LOST]] = _ACTIVE
        self._confirm_ready()

    def _confirm_ready(self) -> None:
        """Give ids to tentative tracks with enough consecutive hits (in row order)."""
        t = self._tracks
        ready = np.flatnonzero((t.status == _TENTATIVE) & (t.hits >= self.min_hits))
        if ready.size == 0:
            return
        t.ids[ready] = self._next_id + np.arange(ready.size)
        t.status[ready] = _ACTIVE
        self._next_id += int(ready.size)

    def _drop_or_lose_unmatched(self) -> None:
        t = self._tracks
        missed = ~t.matched
        t.status[missed & (t.status == _ACTIVE)] = _LOST
        if np.any(missed & (t.status == _TENTATIVE)):
            t.keep(~(missed & (t.status == _TENTATIVE)))

    def _start_tracks(self, det_rows: np.ndarray, detections: Detections) -> None:
        det_rows = det_rows[detections.scores[det_rows] >= self.new_track_score]
        k = int(det_rows.size)
        if k == 0:
            return
        x, P = self._kf.initiate(boxes_xyxy_to_measurements(detections.boxes_xyxy[det_rows]))
        self._tracks.extend(_TrackTable(
            x=x, P=P, ids=np.full(k, -1, np.int64), status=np.full(k, _TENTATIVE, np.int8),
            # As in ByteTrack, tracks born in the first frame are confirmed at once (a single
            # image, or the first frame of a stream, reports its people immediately).
            hits=np.full(k, self.min_hits if self._frame == 0 else 1, np.int64), born_frame=np.full(k, self._frame, np.int64),
            last_seen_s=np.full(k, self._clock_s), scores=detections.scores[det_rows].astype(np.float32),
            matched=np.ones(k, bool)))
        self._confirm_ready()

    def _remove_expired(self) -> None:
        t = self._tracks
        expired = (t.status == _LOST) & (self._clock_s - t.last_seen_s > self.lost_timeout_s)
        if not expired.any():
            return
        self._removed_ids = tuple(int(i) for i in np.sort(t.ids[expired]))
        self._tracks_removed += int(expired.sum())
        t.keep(~expired)

    def _report(self) -> Tracks:
        t = self._tracks
        rows = np.flatnonzero(t.matched & (t.ids >= 0))
        rows = rows[np.argsort(t.ids[rows], kind="stable")]
        boxes = states_to_boxes_xyxy(t.x[rows]).astype(np.float32)
        return Tracks(track_ids=t.ids[rows].copy(), boxes_xyxy=boxes, scores=t.scores[rows].copy(),
                      ages=self._frame - t.born_frame[rows])
