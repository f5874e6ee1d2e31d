"""The ``estimates.npz`` file of ``robosmplx predict``: per-frame SMPL-X parameters per track.

    writer = EstimatesWriter()
    writer.add(frame.index, frame.stamp_s, persons)     # once per processed frame
    writer.save(out_dir / "estimates.npz")
    tracks = load_estimates(out_dir / "estimates.npz")  # {track_id: TrackSequence}
    track = load_track(out_dir / "estimates.npz", 3)    # one track; unknown id -> ValueError

Layout (``np.savez_compressed``; numeric arrays only, so ``np.load(path, allow_pickle=False)``
reads it; n = the number of frames in which track k was seen, T = the number of tracks):

    format_version           () int64, :data:`FORMAT_VERSION`
    track_ids                (T,) int64, ascending
    track{k}/frame           (n,) int64 frame indices, strictly increasing (gaps possible)
    track{k}/stamp           (n,) float64 seconds
    track{k}/box_xyxy        (n, 4) float32 pixels
    track{k}/score           (n,) float32 detection confidence
    track{k}/global_orient   (n, 3) float32 axis-angle, pelvis relative to the camera frame
    track{k}/body_pose       (n, 21, 3) float32 axis-angle, parent-relative
    track{k}/left_hand_pose  (n, 15, 3) float32, track{k}/right_hand_pose (n, 15, 3) float32
    track{k}/jaw_pose, leye_pose, reye_pose   (n, 3) float32 axis-angle
    track{k}/betas           (n, NB) float32
    track{k}/expression      (n, NE) float32
    track{k}/transl          (n, 3) float32 metres, camera frame
    track{k}/joints3d        (n, J, 3) float32 metres, camera frame
    track{k}/joints2d        (n, J, 2) float32 pixels
    track{k}/confidence      (n, 4) float32 per part: body, left_hand, right_hand, face

Angles are radians; the camera frame is the OpenCV/ROS optical frame (x right, y down,
z forward). Axis-angle is what :meth:`SMPLXParams.axis_angle` gives (angle in [0, pi]).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from robosmplx_core.checks import check_shape
from robosmplx_core.geometry.rotations import matrix_to_axis_angle
from robosmplx_core.types import ROTATION_FIELDS, PersonEstimate, SMPLXParams

__all__ = ["FORMAT_VERSION", "EstimatesWriter", "TrackSequence", "load_estimates", "load_track", "track_key"]

FORMAT_VERSION = 1

# TrackSequence array field -> (shape, dtype); N = frames of the track.
_FIELDS: dict[str, tuple[str, type]] = {
    "frame": ("N", np.int64),
    "stamp": ("N", np.float64),
    "box_xyxy": ("N 4", np.float32),
    "score": ("N", np.float32),
    "global_orient": ("N 3", np.float32),
    "body_pose": ("N 21 3", np.float32),
    "left_hand_pose": ("N 15 3", np.float32),
    "right_hand_pose": ("N 15 3", np.float32),
    "jaw_pose": ("N 3", np.float32),
    "leye_pose": ("N 3", np.float32),
    "reye_pose": ("N 3", np.float32),
    "betas": ("N NB", np.float32),
    "expression": ("N NE", np.float32),
    "transl": ("N 3", np.float32),
    "joints3d": ("N J 3", np.float32),
    "joints2d": ("N J 2", np.float32),
    "confidence": ("N 4", np.float32),
}
_PARAM_FIELDS = (*ROTATION_FIELDS, "betas", "expression", "transl")  # the SMPLXParams fields
_HOW_TO_WRITE = "estimates.npz files are written by `robosmplx predict` into its output folder"


def track_key(track_id: int, field: str) -> str:
    """The npz key of one field of one track, e.g. ``track_key(3, "betas") == "track3/betas"``."""
    return f"track{int(track_id)}/{field}"


@dataclass(frozen=True)
class TrackSequence:
    """All frames of one tracked person (numpy arrays, n = frames in which it was seen).

    Fields: ``track_id`` and the arrays of the module docstring's ``track{k}/...`` layout,
    with the same names, shapes and dtypes (inputs are converted to those dtypes).
    """

    track_id: int
    frame: np.ndarray
    stamp: np.ndarray
    box_xyxy: np.ndarray
    score: np.ndarray
    global_orient: np.ndarray
    body_pose: np.ndarray
    left_hand_pose: np.ndarray
    right_hand_pose: np.ndarray
    jaw_pose: np.ndarray
    leye_pose: np.ndarray
    reye_pose: np.ndarray
    betas: np.ndarray
    expression: np.ndarray
    transl: np.ndarray
    joints3d: np.ndarray
    joints2d: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "track_id", int(self.track_id))
        dims: dict[str, int] = {}
        for name, (spec, dtype) in _FIELDS.items():
            value = np.asarray(getattr(self, name), dtype=dtype)
            dims = check_shape(value, spec, name=f"TrackSequence.{name}", dims=dims)
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                raise ValueError(f"TrackSequence.{name}: contains NaN or inf values (track {self.track_id})")
            object.__setattr__(self, name, value)
        if np.any(np.diff(self.frame) <= 0):
            raise ValueError(f"TrackSequence.frame: frame indices must be strictly increasing, got "
                             f"{self.frame.tolist()[:20]} (track {self.track_id})")

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    def to_params(self, rows: slice | np.ndarray | None = None) -> SMPLXParams:
        """SMPL-X parameters of the frames ``rows`` (all if None) as a float32 batch (B = rows)."""
        sel = slice(None) if rows is None else rows
        return SMPLXParams.from_axis_angle(**{
            name: torch.from_numpy(np.ascontiguousarray(getattr(self, name)[sel])) for name in _PARAM_FIELDS
        })


class EstimatesWriter:
    """Accumulates per-frame :class:`PersonEstimate` lists and saves ``estimates.npz``.

    Frames must be added in strictly increasing ``frame_index`` order; a frame with no
    persons may be added (it only advances the order check). Rotation matrices are kept as
    given and converted to axis-angle once, in :meth:`save`.
    """

    def __init__(self) -> None:
        self._rows: dict[int, dict[str, list[np.ndarray]]] = {}
        self._last_frame: int | None = None

    @property
    def track_ids(self) -> list[int]:
        """Ids of the tracks seen so far, ascending."""
        return sorted(self._rows)

    def add(self, frame_index: int, stamp_s: float, persons: Sequence[PersonEstimate]) -> None:
        """Record the estimates of one frame.

        Raises:
            ValueError: ``frame_index`` not after the previous one, a non-finite stamp, a track
                id twice in ``persons``, or a person whose sizes (NB, NE, J) differ from the
                earlier frames of its track.
        """
        frame_index = int(frame_index)
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise ValueError(f"EstimatesWriter.add: frame_index must increase, got {frame_index} after "
                             f"{self._last_frame}; add each frame once, in order")
        if not np.isfinite(stamp_s):
            raise ValueError(f"EstimatesWriter.add: stamp_s must be finite, got {stamp_s}")
        ids = [int(p.track_id) for p in persons]
        if len(set(ids)) != len(ids):
            raise ValueError(f"EstimatesWriter.add: track ids must be unique within a frame, got {ids}")
        for person in persons:
            self._add_person(frame_index, float(stamp_s), person)
        self._last_frame = frame_index

    def _add_person(self, frame_index: int, stamp_s: float, person: PersonEstimate) -> None:
        p = person.params.detach().to(device="cpu", dtype=torch.float32)
        row = {
            "frame": np.int64(frame_index), "stamp": np.float64(stamp_s),
            "box_xyxy": person.box_xyxy, "score": np.float32(person.score),
            "joints3d": person.joints3d, "joints2d": person.joints2d,
            "confidence": np.array([person.confidence.body, person.confidence.left_hand,
                                    person.confidence.right_hand, person.confidence.face], np.float32),
            **{name: getattr(p, name)[0].numpy().copy() for name in _PARAM_FIELDS},
        }
        track = self._rows.setdefault(int(person.track_id), {name: [] for name in row})
        for name, value in row.items():
            if track[name] and np.shape(track[name][0]) != np.shape(value):
                raise ValueError(f"EstimatesWriter.add: track {person.track_id} field {name} has shape "
                                 f"{np.shape(value)} at frame {frame_index}, but {np.shape(track[name][0])} before; "
                                 "keep the body model sizes fixed within a run")
            track[name].append(value)

    def arrays(self) -> dict[str, np.ndarray]:
        """The npz content (key -> array) in the module docstring's layout."""
        out: dict[str, np.ndarray] = {
            "format_version": np.array(FORMAT_VERSION, np.int64),
            "track_ids": np.array(self.track_ids, np.int64),
        }
        for track_id in self.track_ids:
            rows = self._rows[track_id]
            for name, (_, dtype) in _FIELDS.items():
                stacked = np.stack(rows[name])
                if name in ROTATION_FIELDS:  # (n, [J,] 3, 3) matrices -> axis-angle
                    stacked = matrix_to_axis_angle(torch.from_numpy(stacked)).numpy()
                out[track_key(track_id, name)] = stacked.astype(dtype, copy=False)
        return out

    def save(self, path: str | Path) -> Path:
        """Write the file (parent folders are created; written to a temporary file, then renamed)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial")
        try:
            with open(tmp, "wb") as f:  # a file object: numpy appends no ".npz" to the name
                np.savez_compressed(f, **self.arrays())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path


def _open(path: str | Path) -> tuple[Path, np.lib.npyio.NpzFile]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"estimates file not found: {path}; {_HOW_TO_WRITE}")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ValueError(f"{path}: not a readable .npz file ({err}); {_HOW_TO_WRITE}") from err
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: holds a single array, expected an estimates .npz archive; {_HOW_TO_WRITE}")
    version = int(npz["format_version"]) if "format_version" in npz.files else FORMAT_VERSION
    if version > FORMAT_VERSION:
        npz.close()
        raise ValueError(f"{path}: format_version {version} is newer than this reader ({FORMAT_VERSION}); "
                         "update robosmplx")
    return path, npz


def _get(npz: np.lib.npyio.NpzFile, key: str, path: Path) -> np.ndarray:
    if key not in npz.files:
        raise ValueError(f"{path}: missing array {key!r}; not a complete robosmplx estimates file "
                         f"(found keys: {', '.join(npz.files[:8])}{' ...' if len(npz.files) > 8 else ''}); "
                         f"{_HOW_TO_WRITE}")
    return npz[key]


def _track_ids(npz: np.lib.npyio.NpzFile, path: Path) -> list[int]:
    ids = _get(npz, "track_ids", path)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"{path}: track_ids must be a 1-D integer array, got {ids.dtype} {ids.shape}")
    return [int(i) for i in ids]


def _read_track(npz: np.lib.npyio.NpzFile, track_id: int, path: Path) -> TrackSequence:
    fields = {name: _get(npz, track_key(track_id, name), path) for name in _FIELDS}
    try:
        return TrackSequence(track_id=track_id, **fields)
    except ValueError as err:
        raise ValueError(f"{path}: track {track_id}: {err}") from err


def load_estimates(path: str | Path) -> dict[int, TrackSequence]:
    """Read every track of an ``estimates.npz`` file: ``{track_id: TrackSequence}``, ids ascending.

    Raises:
        FileNotFoundError: no file at ``path`` (names it).
        ValueError: not an npz archive, a missing array (names the key) or a wrong shape.
    """
    path, npz = _open(path)
    with npz:
        return {k: _read_track(npz, k, path) for k in _track_ids(npz, path)}


def load_track(path: str | Path, track_id: int) -> TrackSequence:
    """Read one track of an ``estimates.npz`` file (only its arrays are decompressed).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: ``track_id`` is not in the file (lists the ids it holds), or a bad file.
    """
    path, npz = _open(path)
    with npz:
        ids = _track_ids(npz, path)
        if int(track_id) not in ids:
            raise ValueError(f"{path}: no track with id {track_id}; available track ids: "
                             f"{', '.join(map(str, ids)) or 'none (no person was tracked)'}")
        return _read_track(npz, int(track_id), path)

