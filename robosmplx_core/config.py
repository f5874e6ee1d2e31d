"""The one config system: typed frozen dataclasses + YAML files + ``key=value`` overrides.

    cfg = load_config("my.yaml", ["body_model.num_betas=16"])   # -> RoboSMPLXConfig
    save_config(cfg, run_dir / "config.yaml")                     # saved beside checkpoints

Values are validated by type (OmegaConf structured configs) and by each dataclass's
``__post_init__``. Unknown keys are errors that list the valid keys. Components take their
section with ``Component.from_config(cfg.section)``; nothing reads config deep inside layers.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence, TypeVar

from omegaconf import OmegaConf
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException

GENDERS = ("neutral", "male", "female")
BACKENDS = ("landmarks", "robosmplx")


@dataclass(frozen=True)
class BodyModelConfig:
    """SMPL-X body model.

    model_dir: folder holding ``smplx/SMPLX_<GENDER>.npz`` (or the ``smplx`` folder itself, or
        the npz file). None: ``$ROBOSMPLX_MODEL_DIR``, then the procedural stand-in.
    gender: neutral | male | female.
    num_betas: shape coefficients used (1..300; 10 is standard).
    num_expression: expression coefficients used (1..100; 10 is standard).
    use_face_contour: also output the 17 face-contour landmarks (144 joints instead of 127).
    device: torch device for the model, e.g. "cpu" or "cuda:0".
    """

    model_dir: Optional[str] = None
    gender: str = "neutral"
    num_betas: int = 10
    num_expression: int = 10
    use_face_contour: bool = False
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.gender not in GENDERS:
            raise ValueError(f"body_model.gender: expected one of {GENDERS}, got {self.gender!r}")
        if not 1 <= self.num_betas <= 300:
            raise ValueError(f"body_model.num_betas: expected 1..300, got {self.num_betas}")
        if not 1 <= self.num_expression <= 100:
            raise ValueError(f"body_model.num_expression: expected 1..100, got {self.num_expression}")


@dataclass(frozen=True)
class DetectorConfig:
    """Person detector (SSDLite-MobileNetV2 COCO through ONNX Runtime).

    model_path: ONNX file; None: the one converted at set-up into the cache.
    score_threshold: keep person boxes scoring at least this (0..1).
    nms_iou: boxes overlapping a better one by more than this IoU are dropped.
    max_persons: keep at most this many boxes per frame (highest scores).
    min_box_height_px: drop boxes shorter than this.
    """

    model_path: Optional[str] = None
    score_threshold: float = 0.3
    nms_iou: float = 0.5
    max_persons: int = 16
    min_box_height_px: float = 24.0

    def __post_init__(self) -> None:
        _check_unit("detector.score_threshold", self.score_threshold)
        _check_unit("detector.nms_iou", self.nms_iou)
        if self.max_persons < 1:
            raise ValueError(f"detector.max_persons: expected >= 1, got {self.max_persons}")


@dataclass(frozen=True)
class TrackerConfig:
    """ByteTrack-style tracker; times in seconds from frame stamps.

    high_score: detections at or above this are matched first and may start tracks.
    low_score: detections between low_score and high_score only extend existing tracks.
    match_iou: minimum IoU for the first (high-score) association.
    low_match_iou: minimum IoU for the second (low-score) association.
    new_track_score: a track is created only from an unmatched detection scoring this much.
    lost_timeout_s: a lost track is kept (and may be re-found) for this long.
    min_hits: frames a new track must be matched before it is reported.
    """

    high_score: float = 0.5
    low_score: float = 0.1
    match_iou: float = 0.2
    low_match_iou: float = 0.5
    new_track_score: float = 0.6
    lost_timeout_s: float = 1.0
    min_hits: int = 2

    def __post_init__(self) -> None:
        for name in ("high_score", "low_score", "match_iou", "low_match_iou", "new_track_score"):
            _check_unit(f"tracker.{name}", getattr(self, name))
        if self.low_score > self.high_score:
            raise ValueError(f"tracker.low_score ({self.low_score}) must not exceed tracker.high_score ({self.high_score})")
        if self.lost_timeout_s < 0 or self.min_hits < 1:
            raise ValueError("tracker.lost_timeout_s must be >= 0 and tracker.min_hits >= 1")


@dataclass(frozen=True)
class OneEuroConfig:
    """One Euro filter parameters (Casiez et al. 2012).

    min_cutoff_hz: cutoff at rest; lower = smoother, more lag when slow.
    beta: speed coefficient; higher = less lag when fast.
    d_cutoff_hz: cutoff of the derivative estimate.
    """

    min_cutoff_hz: float = 1.0
    beta: float = 0.5
    d_cutoff_hz: float = 1.0

    def __post_init__(self) -> None:
        if self.min_cutoff_hz <= 0 or self.d_cutoff_hz <= 0 or self.beta < 0:
            raise ValueError("One Euro parameters: min_cutoff_hz and d_cutoff_hz must be > 0, beta >= 0; "
                             f"got {self.min_cutoff_hz}, {self.d_cutoff_hz}, {self.beta}")


@dataclass(frozen=True)
class SmoothingConfig:
    """Per-track temporal smoothing; rotations are filtered on SO(3).

    enabled: false passes estimates through unchanged.
    rotation / translation / betas / expression: filter parameters per quantity.
    """

    enabled: bool = True
    rotation: OneEuroConfig = field(default_factory=lambda: OneEuroConfig(min_cutoff_hz=1.0, beta=2.0))
    translation: OneEuroConfig = field(default_factory=lambda: OneEuroConfig(min_cutoff_hz=1.0, beta=0.7))
    betas: OneEuroConfig = field(default_factory=lambda: OneEuroConfig(min_cutoff_hz=0.1, beta=0.0))
    expression: OneEuroConfig = field(default_factory=lambda: OneEuroConfig(min_cutoff_hz=2.0, beta=0.5))


@dataclass(frozen=True)
class PipelineConfig:
    """The real-time pipeline (detect -> track -> estimate -> smooth).

    backend: person estimator: "landmarks" (MediaPipe Holistic + SMPL-X solver; no trained
        checkpoint needed) or "robosmplx" (the RoboSMPLX whole-body network; needs ``checkpoint``).
    checkpoint: robosmplx backend: folder of a whole-body network checkpoint (weights.safetensors,
        network.yaml, meta.json; see ``nets.checkpoint``). Required when backend is "robosmplx".
    detect_every_n_frames: run the person detector on every n-th frame; in between, the
        boxes of each track's landmarks feed the tracker (1 = detect on every frame; the
        detector also runs on every frame while a new track waits for confirmation). 5 keeps
        the streaming pipeline at >= 0.8x bare MediaPipe throughput on 2 cores (3: 0.78x);
        new people are picked up within 5 frames (0.17 s at 30 fps).
    default_fov_deg: horizontal field of view assumed when a frame has no intrinsics K.
    max_tracking_instances: landmarks backend: MediaPipe Holistic instances in tracking mode,
        one per track (~200 MB each); tracks beyond this share one single-image instance
        (slower per person, no temporal state) until one is free. Bounds memory at this + 1
        instances.
    """

    backend: str = "landmarks"
    detect_every_n_frames: int = 5
    default_fov_deg: float = 60.0
    max_tracking_instances: int = 4
    checkpoint: Optional[str] = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"pipeline.backend: expected one of {BACKENDS}, got {self.backend!r}")
        if self.backend == "robosmplx" and not self.checkpoint:
            raise ValueError("pipeline.checkpoint: required when pipeline.backend=robosmplx; set "
                             "pipeline.checkpoint=<folder with weights.safetensors, network.yaml, meta.json> "
                             "(written by robosmplx_core.nets.checkpoint.save_checkpoint; no pretrained RoboSMPLX "
                             "weights exist anywhere, so train your own), or use pipeline.backend=landmarks")
        if self.detect_every_n_frames < 1:
            raise ValueError(f"pipeline.detect_every_n_frames: expected >= 1, got {self.detect_every_n_frames}")
        if not 1.0 <= self.default_fov_deg <= 170.0:
            raise ValueError(f"pipeline.default_fov_deg: expected 1..170 degrees, got {self.default_fov_deg}")
        if self.max_tracking_instances < 1:
            raise ValueError("pipeline.max_tracking_instances: expected >= 1 (MediaPipe instances in "
                             f"tracking mode), got {self.max_tracking_instances}")


def _check_unit(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: expected a value in [0, 1], got {value}")


@dataclass(frozen=True)
class RoboSMPLXConfig:
    """Top-level configuration; one section per component."""

    body_model: BodyModelConfig = field(default_factory=BodyModelConfig)
    pipeline: PipelineConfig = field(default_factory=PipelineConfig)
    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)


T = TypeVar("T")


def _valid_keys(schema: type, dotted: str) -> list[str]:
    """Valid keys at the level of ``dotted`` (a full key such as 'body_model.nope')."""
    cls = schema
    for part in dotted.split(".")[:-1]:
        sub = typing.get_type_hints(cls).get(part)
        if not (isinstance(sub, type) and dataclasses.is_dataclass(sub)):
            break
        cls = sub
    return [f.name for f in dataclasses.fields(cls)]


def load_config(
    path: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    schema: type[T] = RoboSMPLXConfig,  # type: ignore[assignment]
) -> T:
    """Defaults of ``schema``, then the YAML file at ``path``, then ``key=value`` overrides.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: unknown key (the message lists the valid keys), a value of the wrong type,
            a malformed override, or a value rejected by a dataclass's checks.
    """
    base = OmegaConf.structured(schema)
    OmegaConf.set_readonly(base, False)
    layers = []
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"config file {p} does not exist")
        try:
            layers.append((str(p), OmegaConf.load(p)))
        except Exception as exc:  # yaml errors come in several types
            raise ValueError(f"config file {p} is not valid YAML: {exc}") from exc
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise ValueError(f"override {item!r}: expected key=value, e.g. body_model.num_betas=16")
    if overrides:
        layers.append(("overrides", OmegaConf.from_dotlist(list(overrides))))
    merged = base
    for origin, layer in layers:
        try:
            merged = OmegaConf.merge(merged, layer)
        except ConfigKeyError as exc:
            key = str(exc.full_key)
            raise ValueError(f"{origin}: unknown config key {key!r}; valid keys here: "
                             f"{', '.join(_valid_keys(schema, key))}") from None
        except OmegaConfBaseException as exc:
            raise ValueError(f"{origin}: bad value for {exc.full_key!r}: {str(exc.msg).splitlines()[0]}") from None
    try:
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, ValueError) else None
        raise ValueError(str(cause) if cause else f"invalid config: {exc.msg}") from None


def config_to_yaml(cfg: Any) -> str:
    """The resolved config as YAML text (loadable by :func:`load_config`)."""
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML (e.g. beside a checkpoint); returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(config_to_yaml(cfg))
    return p
