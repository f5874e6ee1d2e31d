"""``robosmplx pseudolabel SOURCES --out DIR``: a training set from a team's own footage.

Runs the ``landmarks`` backend over each source and writes, for every tracked person of every
kept frame, the full frame (JPEG, once per frame) and one annotation line; the folder layout,
the line format and its conventions are documented in
:mod:`robosmplx_core.data.datasets.pseudolabel`, whose ``PseudoLabelDataset`` reads it back.

Sources: a video file, an image or a folder of images (read by ``io.sources.FrameSource``, as
``robosmplx predict`` reads them), or a rosbag2 bag (a folder with ``metadata.yaml``, a
``.mcap`` or a ``.db3`` file), read by ``io.bag_frames.BagFrameSource`` with ``rosbags`` (no ROS
installation needed): the image topic (``Image`` in any encoding of ``io.ros_images`` or
``CompressedImage``) and the latest ``CameraInfo`` before each image, whose ``K`` is then used
instead of the default field of view.

Per kept frame (every ``every``-th input frame; only kept frames go through the pipeline, so
tracking runs on the kept frames): ``Estimator.observe`` (detection, tracking, MediaPipe
Holistic per track), then ``LandmarkSolver.solve`` on that frame's landmarks alone: a label
is a per-frame fit, without the pipeline's temporal smoothing (which lags behind the image).
Persons whose body confidence is below ``min_confidence`` are dropped. Undecodable frames
are skipped; every skip is counted by reason in the summary and in ``dataset.yaml``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator, Optional, Sequence

import cv2
import numpy as np
import yaml
from tqdm import tqdm

from robosmplx_core.body_model.joints import SMPLX_144_NAMES
from robosmplx_core.body_model.keypoint_sets import (
    COCO_WHOLEBODY_NAMES, COCO_WHOLEBODY_TO_SMPLX144, MEDIAPIPE_POSE_NAMES, MEDIAPIPE_POSE_TO_SMPLX_NAMES,
    SMPLX_LEFT_HAND21_NAMES, SMPLX_RIGHT_HAND21_NAMES, WHOLEBODY137_FACE, WHOLEBODY137_LEFT_HAND,
    WHOLEBODY137_RIGHT_HAND,
)
from robosmplx_core.config import RoboSMPLXConfig, config_to_yaml
from robosmplx_core.data.datasets.common import keypoints_to_spec
from robosmplx_core.data.datasets.pseudolabel import (
    ANNOTATIONS_FILE, DATASET_FILE, IMAGES_DIR, LANDMARK_NAMES, PART_BOX_KEYS, PSEUDOLABEL_FORMAT,
    PSEUDOLABEL_VERSION,
)
from robosmplx_core.estimate.landmarks import PersonLandmarks
from robosmplx_core.estimate.solver.keypoints import face_ibug68
from robosmplx_core.io.bag_frames import BagFrameSource, is_bag, ros_image_to_rgb
from robosmplx_core.io.sources import FrameSource
from robosmplx_core.types import ROTATION_FIELDS, Frame, PartConfidence

__all__ = ["PseudoLabelSettings", "PseudoLabelSummary", "BagFrameSource", "wholebody137", "part_boxes",
           "annotation_record", "ros_image_to_rgb", "is_bag", "open_source", "split_sources", "run_pseudolabel"]

IBUG68_SMPLX_NAMES: tuple[str, ...] = tuple(
    SMPLX_144_NAMES[k] if k >= 0 else "" for k, n in zip(COCO_WHOLEBODY_TO_SMPLX144, COCO_WHOLEBODY_NAMES)
    if n.startswith("face-"))
"""SMPL-X name of each iBUG-68 face point (COCO-WholeBody's face layout, ``face_ibug68``'s output)."""
POSE_SMPLX_NAMES = tuple(MEDIAPIPE_POSE_TO_SMPLX_NAMES.get(n, "") for n in MEDIAPIPE_POSE_NAMES)
MIDPOINTS = {"pelvis": ("left_hip", "right_hip"), "neck": ("left_shoulder", "right_shoulder")}
_PART_ROWS = {"left": [LANDMARK_NAMES.index("left_wrist"), *range(len(LANDMARK_NAMES))[WHOLEBODY137_LEFT_HAND]],
              "right": [LANDMARK_NAMES.index("right_wrist"), *range(len(LANDMARK_NAMES))[WHOLEBODY137_RIGHT_HAND]],
              "face": list(range(len(LANDMARK_NAMES))[WHOLEBODY137_FACE])}


@dataclass(frozen=True)
class PseudoLabelSettings:
    """What ``run_pseudolabel`` keeps.

    Fields:
        every: keep input frames whose index is a multiple of this (1 = all).
        min_confidence: drop persons whose body confidence (mean visibility of the 12 limb
            landmarks, ``PartConfidence.body``) is below this.
        max_frames: read at most this many input frames per source (None = all).
        image_topic: bags: the image topic (None = the bag's only image topic).
        jpeg_quality: of the written frames (OpenCV, 0..100).
    """

    every: int = 1
    min_confidence: float = 0.5
    max_frames: Optional[int] = None
    image_topic: Optional[str] = None
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        if self.every < 1 or not 0.0 <= self.min_confidence <= 1.0 or not 0 <= self.jpeg_quality <= 100:
            raise ValueError(f"pseudolabel: expected --every >= 1, --min-confidence in [0, 1] and jpeg_quality in "
                             f"0..100, got {self.every}, {self.min_confidence}, {self.jpeg_quality}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"pseudolabel: --max-frames must be >= 1, got {self.max_frames}")


@dataclass
class PseudoLabelSummary:
    """Counts of one run (mutable accumulator; ``as_dict`` for dataset.yaml)."""

    frames_read: int = 0
    frames_kept: int = 0  # selected by --every and decodable: went through the pipeline
    frames_labelled: int = 0  # with at least one person written (one image each)
    persons: int = 0  # annotation lines
    tracks: set[tuple[int, int]] = field(default_factory=set)  # (source number, track id)
    skipped_frames: Counter = field(default_factory=Counter)
    skipped_persons: Counter = field(default_factory=Counter)
    wall_s: float = 0.0

    def as_dict(self) -> dict:
        return {"frames_read": self.frames_read, "frames_kept": self.frames_kept,
                "frames_labelled": self.frames_labelled, "persons": self.persons, "tracks": len(self.tracks),
                "skipped_frames": dict(self.skipped_frames), "skipped_persons": dict(self.skipped_persons),
                "wall_s": round(self.wall_s, 2)}

    def describe(self, out_dir: Path) -> str:
        """One line for the terminal."""
        def counts(c: Counter) -> str:
            return ", ".join(f"{n} {k}" for k, n in sorted(c.items())) or "none"
        return (f"pseudolabel: {self.frames_read} frames read, {self.frames_kept} kept (frames skipped: "
                f"{counts(self.skipped_frames)}); {self.persons} persons from {len(self.tracks)} tracks on "
                f"{self.frames_labelled} frames (persons skipped: {counts(self.skipped_persons)}) in "
                f"{self.wall_s:.1f} s -> {out_dir}/{ANNOTATIONS_FILE}")


# ---------------------------------------------------------------------------------------------
# Labels of one person

def wholebody137(landmarks: PersonLandmarks, confidence: PartConfidence) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe Holistic landmarks -> (137, 2) float32 pixels and (137,) confidences in
    ``LANDMARK_NAMES`` order. Body points: pose landmarks with their visibility (pelvis / neck
    = hip / shoulder midpoints); hands: hand landmarks with the hand's confidence; face: the
    iBUG-68 points of the face mesh (``face_ibug68``) with the face confidence; face-mesh
    points take precedence over the pose's eye and mouth corners. Absent parts: confidence 0."""
    blocks = []
    if landmarks.face_px is not None:
        blocks.append((face_ibug68(landmarks.face_px)[:, :2], confidence.face, IBUG68_SMPLX_NAMES))
    blocks.append((landmarks.pose_px, landmarks.pose_visibility, POSE_SMPLX_NAMES))
    for hand, conf, names in ((landmarks.left_hand_px, confidence.left_hand, SMPLX_LEFT_HAND21_NAMES),
                              (landmarks.right_hand_px, confidence.right_hand, SMPLX_RIGHT_HAND21_NAMES)):
        if hand is not None and conf > 0:
            blocks.append((hand[:, :2], conf, names))
    points = np.concatenate([b[0] for b in blocks]).astype(np.float64)
    conf = np.concatenate([np.broadcast_to(np.asarray(b[1], np.float64), (len(b[0]),)) for b in blocks])
    names = tuple(n for b in blocks for n in b[2])
    return keypoints_to_spec(points, conf, names, "body", MIDPOINTS)


def part_boxes(joints2d: np.ndarray, conf: np.ndarray, confidence: PartConfidence) -> dict[str, Optional[list]]:
    """Square (cx, cy, side) around each found part's labelled points of (137, 2) / (137,)
    labels, keyed as in ``PART_BOX_KEYS``; None for a part without landmarks."""
    present = {"left": confidence.left_hand, "right": confidence.right_hand, "face": confidence.face}
    out: dict[str, Optional[list]] = {}
    for side, rows in _PART_ROWS.items():
        pts = joints2d[rows][conf[rows] > 0]
        if present[side] <= 0 or len(pts) < 2:
            out[PART_BOX_KEYS[side]] = None
            continue
        lo, hi = pts.min(0), pts.max(0)
        out[PART_BOX_KEYS[side]] = _rounded([*((lo + hi) / 2), max(float((hi - lo).max()), 1.0)], 2)
    return out


def _rounded(a, decimals: int = 5) -> list:
    return np.round(np.asarray(a, np.float64), decimals).tolist()


def annotation_record(*, image: str, source: str, frame: Frame, K: np.ndarray, track_id: int, box_xyxy: np.ndarray,
                      score: float, landmarks: PersonLandmarks, result) -> dict:
    """One ``annotations.jsonl`` object (format: ``data.datasets.pseudolabel``) from a
    ``SolverResult`` ``result`` of ``landmarks`` in ``frame`` solved with intrinsics K (3, 3)."""
    p, c = result.params, result.confidence
    smplx = {name: _rounded(p.axis_angle(name)[0]) for name in ROTATION_FIELDS}
    smplx.update(betas=_rounded(p.betas[0]), expression=_rounded(p.expression[0]), transl=_rounded(p.transl[0]))
    fitted = ["global_orient", "body_pose", "betas", "transl"]
    fitted += [f"{s}_hand_pose" for s in ("left", "right") if getattr(landmarks, f"{s}_hand_px") is not None]
    fitted += ["jaw_pose", "expression"] if landmarks.face_px is not None else []
    j2d, conf = wholebody137(landmarks, c)
    return {"image": image, "source": source, "frame": int(frame.index), "stamp": round(float(frame.stamp_s), 6),
            "image_size": [frame.width, frame.height], "track_id": int(track_id), "box_xyxy": _rounded(box_xyxy, 2),
            "score": round(float(score), 4), "K": _rounded(K, 4), "smplx": smplx, "fitted": fitted,
            "joints2d": _rounded(j2d, 2), "joints2d_conf": _rounded(conf, 4), **part_boxes(j2d, conf, c),
            "confidence": {k: round(float(getattr(c, k)), 4) for k in ("body", "left_hand", "right_hand", "face")},
            "reprojection_px": round(float(result.reprojection_px), 3)}


# ---------------------------------------------------------------------------------------------
# Sources

def open_source(spec: str, settings: PseudoLabelSettings) -> tuple[FrameSource | BagFrameSource, Iterator]:
    """(source, its (SourceItem, K (3, 3) or None) per input frame) for a video, image, folder or bag."""
    if is_bag(Path(spec).expanduser()):
        bag = BagFrameSource(spec, max_frames=settings.max_frames, image_topic=settings.image_topic)
        return bag, iter(bag)
    source = FrameSource(spec, max_frames=settings.max_frames)
    return source, ((item, None) for item in source)


def split_sources(items: Sequence[str]) -> tuple[list[str], list[str]]:
    """(sources, key=value overrides) of the command line's positional arguments: an item with
    a dotted key before ``=`` that is not an existing path is a config override."""
    is_override = [re.fullmatch(r"[A-Za-z_]\w*(\.\w+)+=.*", x) is not None and not Path(x).exists() for x in items]
    return ([x for x, o in zip(items, is_override) if not o], [x for x, o in zip(items, is_override) if o])


# ---------------------------------------------------------------------------------------------
# The run

def _meta(cfg: RoboSMPLXConfig, settings: PseudoLabelSettings, sources: Sequence[str], model,
          summary: Optional[PseudoLabelSummary]) -> dict:
    return {
        "format": PSEUDOLABEL_FORMAT, "version": PSEUDOLABEL_VERSION,
        "created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "annotations": ANNOTATIONS_FILE, "images": IMAGES_DIR, "sources": list(sources),
        "conventions": {
            "rotations": "axis-angle, radians (smplx.SMPLXLayer: hand poses relative to the flat hand)",
            "camera": "full-image camera frame, OpenCV optical (x right, y down, z forward); K per line, pixels",
            "joints2d": "WHOLEBODY137_NAMES order, continuous full-image pixels; joints2d_conf 0 = no landmark",
            "fit": "per-frame LandmarkSolver fit of MediaPipe Holistic landmarks (no temporal smoothing)"},
        "landmark_names": list(LANDMARK_NAMES),
        "body_model": {"file": str(model.model_file), "standin": bool(model.is_standin),
                       "num_betas": int(model.num_betas), "num_expression": int(model.num_expression)},
        "settings": dataclasses.asdict(settings), "config": yaml.safe_load(config_to_yaml(cfg)),
        "summary": None if summary is None else summary.as_dict()}


class _Run:
    """One run's estimator, solver, output files and counts."""

    def __init__(self, cfg: RoboSMPLXConfig, out_dir: Path, settings: PseudoLabelSettings, fh: IO[str]) -> None:
        from robosmplx_core.estimate.solver import LandmarkSolver
        from robosmplx_core.pipeline import Estimator

        self.est = Estimator.from_config(cfg)
        self.solver = LandmarkSolver.from_body_model(self.est.body_model)
        self.out_dir, self.settings, self.fh = out_dir, settings, fh
        self.summary = PseudoLabelSummary()

    def source(self, number: int, spec: str, progress: bool) -> None:
        source, items = open_source(spec, self.settings)
        folder = f"{IMAGES_DIR}/{number:02d}_{re.sub(r'[^A-Za-z0-9_.-]', '_', Path(spec).stem) or 'source'}"
        self.est.reset()
        s = self.summary
        with tqdm(total=len(source) or None, unit="frame", disable=not progress, desc=Path(spec).name) as bar:
            for item, K in items:
                s.frames_read += 1
                bar.update(1)
                if item.index % self.settings.every:
                    continue
                if item.image is None:
                    s.skipped_frames[item.skip_reason.split(": ", 1)[-1]] += 1
                    continue
                s.frames_kept += 1
                self.frame(number, spec, folder, Frame(item.image, stamp_s=item.stamp_s, K=K, index=item.index))
                bar.set_postfix(persons=s.persons, tracks=len(s.tracks))

    def frame(self, number: int, spec: str, folder: str, frame: Frame) -> None:
        s, est = self.summary, self.est
        rejected = est.backend.rejected_landmarks
        obs = est.observe(frame)
        if est.backend.rejected_landmarks > rejected:
            s.skipped_persons["landmarks of another person"] += est.backend.rejected_landmarks - rejected
        image = f"{folder}/{frame.index:06d}.jpg"
        lines = []
        for ob in obs.observations:
            try:
                result = self.solver.solve(ob.evidence, obs.K)
            except (ValueError, FloatingPointError, np.linalg.LinAlgError):
                s.skipped_persons["fit failed"] += 1
                continue
            if result.confidence.body < self.settings.min_confidence:
                s.skipped_persons["low confidence"] += 1
                continue
            lines.append(annotation_record(image=image, source=spec, frame=frame, K=obs.K, track_id=ob.track_id,
                                           box_xyxy=ob.box_xyxy, score=ob.score, landmarks=ob.evidence, result=result))
            s.tracks.add((number, ob.track_id))
        if not lines:
            return
        path = self.out_dir / image
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), np.ascontiguousarray(frame.image[:, :, ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality]):
            raise OSError(f"could not write {path}; check the free space and permissions of {self.out_dir}")
        self.fh.writelines(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        s.frames_labelled += 1
        s.persons += len(lines)


def run_pseudolabel(sources: Sequence[str], out_dir: Path, cfg: RoboSMPLXConfig, *,
                    settings: PseudoLabelSettings = PseudoLabelSettings(), progress: bool = True) -> PseudoLabelSummary:
    """Label every source in turn (track ids restart per source) into ``out_dir``.

    Raises:
        io.sources.SourceError: a source cannot be used at all (checked for every source before any
            work).
        ValueError: ``out_dir`` already holds a pseudo-label run.
    """
    if not sources:
        raise ValueError("pseudolabel: give at least one video, image folder or rosbag2 bag")
    for spec in sources:  # fail before the slow part, not after hours of labelling
        open_source(spec, settings)
    out_dir = Path(out_dir)
    if (out_dir / ANNOTATIONS_FILE).exists():
        raise ValueError(f"{out_dir / ANNOTATIONS_FILE} exists already; choose a new --out folder (a run never "
                         "appends to an earlier one)")
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = dataclasses.replace(cfg, pipeline=dataclasses.replace(cfg.pipeline, backend="landmarks"))
    t0 = time.perf_counter()
    with open(out_dir / ANNOTATIONS_FILE, "w", encoding="utf-8") as fh:
        run = _Run(cfg, out_dir, settings, fh)
        meta_path = out_dir / DATASET_FILE
        meta_path.write_text(yaml.safe_dump(_meta(cfg, settings, sources, run.est.body_model, None), sort_keys=False))
        try:
            for number, spec in enumerate(sources):
                run.source(number, spec, progress)
        finally:
            run.est.close()
            run.summary.wall_s = time.perf_counter() - t0
            meta_path.write_text(yaml.safe_dump(_meta(cfg, settings, sources, run.est.body_model, run.summary),
                                                sort_keys=False))
    return run.summary
