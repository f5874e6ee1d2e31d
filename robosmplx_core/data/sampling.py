"""Random SMPL-X parameters within joint limits, cameras and person placements.

Conventions:
    - joint ranges are per-axis limits (degrees) on the axis-angle vector of each joint in its
      parent's frame; SMPL-X's rest pose is a T-pose whose joint frames are all aligned with the
      model frame (+x = subject's left, y up, +z front), so e.g. a left-hip flexion (leg
      forward) is a negative x rotation and a knee flexion a positive one. Ranges are written
      for the LEFT side; the right side mirrors them (``(x, y, z) -> (x, -y, -z)``);
    - global orientation maps the model frame to the camera optical frame (x right, y down,
      z forward): a half turn about x (upright, facing the camera), then yaw about the body's
      vertical axis, pitch and roll;
    - every sampler takes a ``torch.Generator`` and draws in a fixed order (deterministic).

Glossary: B batch (the samplers draw B = 1 unless stated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from robosmplx_core.geometry.projection import intrinsics_from_fov
from robosmplx_core.geometry.rotations import axis_angle_to_matrix
from robosmplx_core.types import SMPLXParams

__all__ = [
    "PoseSamplingConfig", "CameraSamplingConfig", "CameraSample",
    "BODY_JOINT_RANGES_DEG", "RELAXED_BODY_POSE_DEG", "POSE_DISTRIBUTIONS", "sample_smplx_params", "sample_camera",
]  # fmt: skip

Range3 = tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
_Z: tuple[float, float] = (0.0, 0.0)
POSE_DISTRIBUTIONS = ("uniform", "relaxed")

BODY_JOINT_RANGES_DEG: dict[str, Range3] = {
    # (x, y, z) axis-angle limits in degrees, left side (right side mirrored)
    "hip": ((-80.0, 20.0), (-30.0, 30.0), (-10.0, 35.0)),
    "spine1": ((-10.0, 25.0), (-15.0, 15.0), (-10.0, 10.0)),
    "knee": ((0.0, 110.0), (-5.0, 5.0), (-5.0, 5.0)),
    "spine2": ((-10.0, 20.0), (-15.0, 15.0), (-8.0, 8.0)),
    "ankle": ((-20.0, 30.0), (-10.0, 10.0), (-15.0, 15.0)),
    "spine3": ((-10.0, 15.0), (-15.0, 15.0), (-8.0, 8.0)),
    "foot": ((-10.0, 25.0), _Z, _Z),
    "neck": ((-20.0, 25.0), (-30.0, 30.0), (-15.0, 15.0)),
    "collar": ((-5.0, 5.0), (-10.0, 10.0), (-10.0, 15.0)),
    "head": ((-20.0, 25.0), (-35.0, 35.0), (-15.0, 15.0)),
    "shoulder": ((-60.0, 60.0), (-90.0, 40.0), (-80.0, 45.0)),
    "elbow": ((-30.0, 30.0), (-140.0, 0.0), (-5.0, 5.0)),
    "wrist": ((-40.0, 40.0), (-30.0, 30.0), (-60.0, 60.0)),
}
"""Per-joint limits of the 21 body joints, by joint name without side."""

RELAXED_BODY_POSE_DEG: dict[str, tuple[float, float, float]] = {
    # the centre of the "relaxed" distribution, left side: arms down by the sides with the
    # elbows slightly bent, knees and hips slightly flexed; other joints at rest (0)
    "hip": (-10.0, 0.0, 5.0), "knee": (15.0, 0.0, 0.0), "shoulder": (0.0, -10.0, -60.0), "elbow": (0.0, -25.0, 0.0),
}  # fmt: skip
"""Where ``pose_distribution="relaxed"`` centres each joint (degrees, clamped into the limits)."""

_BODY_ORDER = (  # SMPL-X body joints 1..21 -> (range key, side or None)
    ("hip", "left"), ("hip", "right"), ("spine1", None), ("knee", "left"), ("knee", "right"),
    ("spine2", None), ("ankle", "left"), ("ankle", "right"), ("spine3", None), ("foot", "left"),
    ("foot", "right"), ("neck", None), ("collar", "left"), ("collar", "right"), ("head", None),
    ("shoulder", "left"), ("shoulder", "right"), ("elbow", "left"), ("elbow", "right"),
    ("wrist", "left"), ("wrist", "right"),
)  # fmt: skip

# left-hand fingers point +x with the palm down (-y): a curl towards the palm is a negative z
# rotation, a spread a y rotation; the thumb (pointing forward-left) curls mostly about y.
_FINGER_MCP: Range3 = ((-10.0, 10.0), (-12.0, 12.0), (-80.0, 10.0))
_FINGER_PIP: Range3 = ((-3.0, 3.0), (-3.0, 3.0), (-100.0, 5.0))
_THUMB: Range3 = ((-25.0, 35.0), (-40.0, 20.0), (-35.0, 10.0))
_EYE: Range3 = ((-15.0, 15.0), (-20.0, 20.0), _Z)


@dataclass(frozen=True)
class PoseSamplingConfig:
    """Ranges of the parameter sampler.

    Fields:
        yaw_deg: body yaw about its vertical axis (0 = facing the camera).
        pitch_deg, roll_deg: lean forward/back and sideways of the whole body.
        pose_scale: multiplies every joint range (0 = rest pose, 1 = full ranges).
        pose_distribution: "uniform" draws each body joint angle uniformly within its limits;
            "relaxed" draws it from a normal around ``RELAXED_BODY_POSE_DEG`` with standard
            deviation ``pose_spread`` x the range, truncated to the limits -- everyday poses
            (standing, walking, gesturing) are far more common in real data than the extremes.
        pose_spread: see ``pose_distribution``.
        finger_curl: multiplies the finger ranges (0 = flat hands).
        jaw_open_deg: jaw opening (x rotation) range.
        betas_std, betas_clip: shape ~ N(0, std^2), clipped to +-clip.
        expression_std, expression_clip: expression ~ N(0, std^2), clipped to +-clip.
    """

    yaw_deg: tuple[float, float] = (-180.0, 180.0)
    pitch_deg: tuple[float, float] = (-15.0, 20.0)
    roll_deg: tuple[float, float] = (-10.0, 10.0)
    pose_scale: float = 1.0
    pose_distribution: str = "uniform"
    pose_spread: float = 0.25
    finger_curl: float = 1.0
    jaw_open_deg: tuple[float, float] = (0.0, 25.0)
    betas_std: float = 1.0
    betas_clip: float = 3.0
    expression_std: float = 0.7
    expression_clip: float = 2.5

    def __post_init__(self) -> None:
        for name in ("yaw_deg", "pitch_deg", "roll_deg", "jaw_open_deg"):
            lo, hi = getattr(self, name)
            if lo > hi:
                raise ValueError(f"PoseSamplingConfig.{name}: expected (low, high) with low <= high, got {(lo, hi)}")
        if self.pose_distribution not in POSE_DISTRIBUTIONS:
            raise ValueError(f"PoseSamplingConfig.pose_distribution: expected one of {POSE_DISTRIBUTIONS}, "
                             f"got {self.pose_distribution!r}")
        if self.pose_spread <= 0:
            raise ValueError(f"PoseSamplingConfig.pose_spread: expected > 0, got {self.pose_spread}")
        for name in ("pose_scale", "finger_curl", "betas_std", "expression_std", "betas_clip", "expression_clip"):
            if getattr(self, name) < 0:
                raise ValueError(f"PoseSamplingConfig.{name}: expected >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class CameraSamplingConfig:
    """Ranges of the camera/placement sampler.

    Fields:
        image_size_wh: nominal full-image size in pixels (the crop is cut from this camera).
        fov_deg: horizontal field of view range, degrees.
        distance_m: depth of the pelvis in front of the camera, metres.
        offset_frac: the pelvis projects within ``+-offset_frac`` of the half image size from
            the image centre (0 = on the optical axis).
    """

    image_size_wh: tuple[int, int] = (1280, 960)
    fov_deg: tuple[float, float] = (40.0, 80.0)
    distance_m: tuple[float, float] = (2.0, 7.0)
    offset_frac: float = 0.6

    def __post_init__(self) -> None:
        if min(self.image_size_wh) <= 0:
            raise ValueError(f"CameraSamplingConfig.image_size_wh: expected positive sizes, got {self.image_size_wh}")
        if not 0.0 < self.fov_deg[0] <= self.fov_deg[1] < 180.0:
            raise ValueError(f"CameraSamplingConfig.fov_deg: expected 0 < low <= high < 180, got {self.fov_deg}")
        if not 0.0 < self.distance_m[0] <= self.distance_m[1]:
            raise ValueError(f"CameraSamplingConfig.distance_m: expected 0 < low <= high, got {self.distance_m}")
        if not 0.0 <= self.offset_frac <= 1.0:
            raise ValueError(f"CameraSamplingConfig.offset_frac: expected a value in [0, 1], got {self.offset_frac}")


@dataclass(frozen=True)
class CameraSample:
    """A full-image camera and where the person stands in it.

    Fields:
        K: (3, 3) intrinsics of the full image (continuous pixels, principal point at the centre).
        image_size_wh: (W, H) of the full image in pixels.
        pelvis_m: (3,) pelvis position in the camera frame, metres.
    """

    K: torch.Tensor
    image_size_wh: tuple[int, int]
    pelvis_m: torch.Tensor


def _uniform(gen: torch.Generator, lo: torch.Tensor | float, hi: torch.Tensor | float, shape=()) -> torch.Tensor:
    lo_t, hi_t = torch.as_tensor(lo, dtype=torch.float64), torch.as_tensor(hi, dtype=torch.float64)
    return lo_t + (hi_t - lo_t) * torch.rand(shape if shape else lo_t.shape, generator=gen, dtype=torch.float64)


def _sample_ranges(gen: torch.Generator, ranges: list[Range3], scale: float) -> torch.Tensor:
    """(N, 3) axis-angle (radians) uniform within ``scale`` x the given degree ranges."""
    lims = torch.tensor(ranges, dtype=torch.float64) * (scale * math.pi / 180.0)  # (N, 3, 2)
    return _uniform(gen, lims[..., 0], lims[..., 1])


def _sample_relaxed(gen: torch.Generator, ranges: list[Range3], centres: list[tuple[float, float, float]],
                    scale: float, spread: float) -> torch.Tensor:
    """(N, 3) axis-angle (radians): truncated normal within ``scale`` x the ranges, centred on
    ``centres`` (degrees, clamped into the ranges), std ``spread`` x the range width."""
    lims = torch.tensor(ranges, dtype=torch.float64) * scale  # (N, 3, 2) degrees
    lo, hi = lims[..., 0], lims[..., 1]
    centre = torch.minimum(torch.maximum(torch.tensor(centres, dtype=torch.float64) * scale, lo), hi)
    std = ((hi - lo) * spread).clamp(min=1e-6)
    normal = torch.distributions.Normal(torch.zeros((), dtype=torch.float64), torch.ones((), dtype=torch.float64))
    a, b = normal.cdf((lo - centre) / std), normal.cdf((hi - centre) / std)
    u = _uniform(gen, a, b).clamp(1e-12, 1 - 1e-12)
    value = torch.where(hi > lo, centre + std * torch.special.ndtri(u), lo)
    return torch.minimum(torch.maximum(value, lo), hi) * (math.pi / 180.0)


def _relaxed_centres() -> list[tuple[float, float, float]]:
    def centre(key: str, side: str | None) -> tuple[float, float, float]:
        x, y, z = RELAXED_BODY_POSE_DEG.get(key, (0.0, 0.0, 0.0))
        return (x, -y, -z) if side == "right" else (x, y, z)
    return [centre(k, side) for k, side in _BODY_ORDER]


def _mirror(ranges: Range3) -> Range3:
    (x, (ylo, yhi), (zlo, zhi)) = ranges
    return (x, (-yhi, -ylo), (-zhi, -zlo))


def _body_ranges() -> list[Range3]:
    return [_mirror(BODY_JOINT_RANGES_DEG[k]) if side == "right" else BODY_JOINT_RANGES_DEG[k]
            for k, side in _BODY_ORDER]


def _hand_ranges(side: str) -> list[Range3]:
    """15 finger joints in SMPL-X order (index, middle, pinky, ring, thumb; 1..3)."""
    fingers = [_FINGER_MCP, _FINGER_PIP, _FINGER_PIP] * 4 + [_THUMB] * 3
    return [_mirror(r) for r in fingers] if side == "right" else fingers


def _global_orient(gen: torch.Generator, cfg: PoseSamplingConfig) -> torch.Tensor:
    yaw, pitch, roll = (_uniform(gen, *getattr(cfg, n)) * math.pi / 180.0 for n in ("yaw_deg", "pitch_deg", "roll_deg"))
    zero = torch.zeros((), dtype=torch.float64)
    flip = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0], dtype=torch.float64))
    r_yaw = axis_angle_to_matrix(torch.stack([zero, yaw, zero]))
    r_pitch = axis_angle_to_matrix(torch.stack([pitch, zero, zero]))
    r_roll = axis_angle_to_matrix(torch.stack([zero, zero, roll]))
    return flip @ r_yaw @ r_pitch @ r_roll


def sample_smplx_params(
    gen: torch.Generator, cfg: PoseSamplingConfig, *, num_betas: int = 10, num_expression: int = 10,
) -> SMPLXParams:
    """One random person (B = 1) with zero translation (see the module doc for conventions).

    Args:
        gen: the random generator (CPU); the draws are in a fixed order.
        cfg: ranges.
        num_betas, num_expression: NB and NE of the body model.

    Returns:
        float32 :class:`SMPLXParams` with B = 1 and ``transl`` = 0 (place it with
        :func:`sample_camera`).
    """
    if cfg.pose_distribution == "relaxed":
        body = _sample_relaxed(gen, _body_ranges(), _relaxed_centres(), cfg.pose_scale, cfg.pose_spread)
    else:
        body = _sample_ranges(gen, _body_ranges(), cfg.pose_scale)  # (21, 3)
    left = _sample_ranges(gen, _hand_ranges("left"), cfg.finger_curl)
    right = _sample_ranges(gen, _hand_ranges("right"), cfg.finger_curl)
    eyes = _sample_ranges(gen, [_EYE], 1.0).expand(2, 3)  # both eyes look the same way
    jaw = torch.zeros(3, dtype=torch.float64)
    jaw[0] = _uniform(gen, *cfg.jaw_open_deg) * math.pi / 180.0
    betas = (torch.randn(num_betas, generator=gen, dtype=torch.float64) * cfg.betas_std).clamp(-cfg.betas_clip, cfg.betas_clip)
    expr = (torch.randn(num_expression, generator=gen, dtype=torch.float64) * cfg.expression_std).clamp(
        -cfg.expression_clip, cfg.expression_clip)
    rot = axis_angle_to_matrix(torch.cat([body, left, right, eyes, jaw[None]]))  # (54, 3, 3)
    f32 = torch.float32
    return SMPLXParams(
        global_orient=_global_orient(gen, cfg)[None].to(f32), body_pose=rot[None, :21].to(f32),
        left_hand_pose=rot[None, 21:36].to(f32), right_hand_pose=rot[None, 36:51].to(f32),
        leye_pose=rot[None, 51].to(f32), reye_pose=rot[None, 52].to(f32), jaw_pose=rot[None, 53].to(f32),
        betas=betas[None].to(f32), expression=expr[None].to(f32), transl=torch.zeros(1, 3, dtype=f32),
    )


def sample_camera(gen: torch.Generator, cfg: CameraSamplingConfig) -> CameraSample:
    """A full-image camera (FOV from ``cfg.fov_deg``) and a pelvis position that projects
    within ``cfg.offset_frac`` of the image centre at a depth in ``cfg.distance_m``."""
    width, height = cfg.image_size_wh
    fov = float(_uniform(gen, *cfg.fov_deg))
    K = intrinsics_from_fov(width, height, fov, fov_axis="horizontal", dtype=torch.float32)
    depth = _uniform(gen, *cfg.distance_m)
    offset_px = _uniform(gen, -cfg.offset_frac, cfg.offset_frac, (2,)) * torch.tensor([width / 2, height / 2],
                                                                                       dtype=torch.float64)
    xy = offset_px * depth / float(K[0, 0])
    pelvis = torch.cat([xy, depth[None]]).to(torch.float32)
    return CameraSample(K=K, image_size_wh=(int(width), int(height)), pelvis_m=pelvis)
